"""The generated sales history: deterministic, consistent with the inventory, written whole."""

from __future__ import annotations

import csv
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from store_assistant.analytics.sales import (FIRST_DAY, LAST_DAY, SEED, content_hash, ensure,
                                             generate, sales_path, stamp)
from store_assistant.config import load_settings
from store_assistant.errors import DataError
from tests.analytics.conftest import INVENTORY_CSV


def rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def test_the_same_seed_gives_the_same_data_and_another_seed_other_data(sales_db, tmp_path):
    again = generate(INVENTORY_CSV, tmp_path / "again.db")
    other = generate(INVENTORY_CSV, tmp_path / "other.db", seed=SEED + 1)
    assert content_hash(again) == content_hash(sales_db)
    assert content_hash(other) != content_hash(sales_db)


def test_every_sku_and_store_has_a_row_for_every_day_of_twelve_months(sales_db):
    with open(INVENTORY_CSV, newline="", encoding="utf-8") as handle:
        products = list(csv.DictReader(handle))
    days = (LAST_DAY - FIRST_DAY).days + 1
    assert days >= 365
    (count, first, last), = rows(sales_db, "SELECT COUNT(*), MIN(day), MAX(day) FROM daily_sales")
    assert count == len(products) * 3 * days
    assert (first, last) == (FIRST_DAY.isoformat(), LAST_DAY.isoformat())
    stock = {(p["sku"], s): int(p[f"stock_{s}"]) for p in products
             for s in ("downtown", "westside", "northgate")}
    assert dict(((sku, store), n) for sku, store, n in
                rows(sales_db, "SELECT sku, store, on_hand FROM stock")) == stock


def test_revenue_is_the_list_price_or_the_promotion_price_of_that_day(sales_db):
    wrong = rows(sales_db, """
        SELECT s.day, s.sku FROM daily_sales s JOIN products p USING (sku)
        LEFT JOIN promotions m ON m.id = s.promotion_id
        WHERE s.revenue_cents != s.units * COALESCE(m.promo_price_cents, p.list_price_cents)
           OR (m.id IS NOT NULL AND (s.day < m.start_day OR s.day > m.end_day OR m.sku != s.sku))""")
    assert wrong == []
    list_prices = {sku: round(float(price) * 100) for sku, price in
                   ((r["sku"], r["price"]) for r in csv.DictReader(open(INVENTORY_CSV)))}
    assert dict(rows(sales_db, "SELECT sku, list_price_cents FROM products")) == list_prices


def test_the_inventory_promotions_in_the_history_are_there_with_their_prices(sales_db):
    with open(INVENTORY_CSV, newline="", encoding="utf-8") as handle:
        promoted = [p for p in csv.DictReader(handle)
                    if p["promo_start"] and p["promo_start"] <= LAST_DAY.isoformat()]
    assert promoted, "the inventory has promotions inside the history"
    found = {(sku, price) for sku, price in
             rows(sales_db, "SELECT sku, promo_price_cents FROM promotions")}
    for product in promoted:
        assert (product["sku"], round(float(product["promo_price"]) * 100)) in found


def test_a_promotion_visibly_lifts_units(sales_db):
    (on, off), = rows(sales_db, """
        SELECT AVG(CASE WHEN promotion_id IS NOT NULL THEN units END),
               AVG(CASE WHEN promotion_id IS NULL THEN units END) FROM daily_sales""")
    assert on > 1.5 * off


def test_returns_follow_sales_and_are_a_small_share_of_them(sales_db):
    (sold,), = rows(sales_db, "SELECT SUM(units) FROM daily_sales")
    (returned,), = rows(sales_db, "SELECT SUM(units) FROM returns")
    assert 0.02 * sold < returned < 0.12 * sold
    early = rows(sales_db, f"SELECT COUNT(*) FROM returns WHERE day < '{FIRST_DAY}'")
    assert early == [(0,)]


def test_a_bad_inventory_file_changes_nothing(sales_db, tmp_path):
    target = tmp_path / "sales.db"
    generate(INVENTORY_CSV, target)
    before = target.read_bytes()
    bad = tmp_path / "bad.csv"
    bad.write_text(INVENTORY_CSV.read_text().replace("1299.99", "lots", 1))
    with pytest.raises(DataError, match="lots"):
        generate(bad, target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_ensure_generates_once_and_again_when_the_inventory_file_changes(tmp_path):
    inventory = tmp_path / "inventory.csv"
    inventory.write_bytes(INVENTORY_CSV.read_bytes())
    settings = load_settings({"data_dir": str(tmp_path / "data"), "inventory_csv": str(inventory)})
    path = ensure(settings)
    assert path == sales_path(settings) and stamp(path) is not None
    made = path.stat().st_mtime_ns
    assert ensure(settings).stat().st_mtime_ns == made  # unchanged inputs: not regenerated
    inventory.write_text(inventory.read_text().replace("1299.99", "1199.99", 1))
    ensure(settings)
    assert rows(path, "SELECT list_price_cents FROM products WHERE sku = '5721723'") == [(119999,)]
