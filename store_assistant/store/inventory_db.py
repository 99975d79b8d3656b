"""The inventory's SQLite tables, and a product's row, record and audit lines in them.

`Inventory` (store/inventory.py) holds the connections and transactions; this module holds the SQL
it runs: the schema, reading products with their stock, saving a record, and the audit log's
append-only lines. A record is the CSV's canonical text (store/inventory_csv.py), the form
imports are compared and audited in.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime, timezone

from store_assistant.store.inventory_csv import STOCK_PREFIX, Record, cents, cents_text
from store_assistant.store.products import Product, Promotion

SCHEMA = """
CREATE TABLE IF NOT EXISTS stores (id TEXT PRIMARY KEY, position INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS products (
    sku TEXT PRIMARY KEY, name TEXT NOT NULL, brand TEXT NOT NULL, category TEXT NOT NULL,
    model TEXT NOT NULL, price_cents INTEGER NOT NULL CHECK (price_cents > 0),
    promo_price_cents INTEGER, promo_start TEXT, promo_end TEXT, promo_text TEXT,
    aisle TEXT NOT NULL, manual TEXT NOT NULL, aliases TEXT NOT NULL,
    version INTEGER NOT NULL,
    CHECK (promo_price_cents IS NULL OR promo_price_cents < price_cents));
CREATE TABLE IF NOT EXISTS stock (
    sku TEXT NOT NULL REFERENCES products(sku), store TEXT NOT NULL REFERENCES stores(id),
    qty INTEGER NOT NULL CHECK (qty >= 0), PRIMARY KEY (sku, store));
CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, actor TEXT NOT NULL,
    sku TEXT NOT NULL, field TEXT NOT NULL, old TEXT, new TEXT);
CREATE INDEX IF NOT EXISTS audit_by_sku ON audit_log (sku, id);
-- Append-only, enforced by the database, not by convention.
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
COLUMNS = ("sku, name, brand, category, model, price_cents, promo_price_cents, promo_start, "
            "promo_end, promo_text, aisle, manual, aliases, version")


def stores_of(db: sqlite3.Connection) -> list[str]:
    return [row[0] for row in db.execute("SELECT id FROM stores ORDER BY position")]


def product_count(db: sqlite3.Connection) -> int:
    return db.execute("SELECT count(*) FROM products").fetchone()[0]


def products_where(db: sqlite3.Connection, where: str = "", params: tuple = (),
              order: str = "ORDER BY rowid") -> list[Product]:
    rows = db.execute(f"SELECT {COLUMNS} FROM products {where} {order}", params).fetchall()
    stores = stores_of(db)
    stock: dict[str, dict[str, int]] = {row["sku"]: {} for row in rows}
    wanted = json.dumps(list(stock))
    for sku, store, qty in db.execute("SELECT sku, store, qty FROM stock "
                                      "WHERE sku IN (SELECT value FROM json_each(?))", (wanted,)):
        stock[sku][store] = qty
    return [product_of(row, {store: stock[row["sku"]][store] for store in stores}) for row in rows]


def product_of(row: sqlite3.Row, stock: dict[str, int]) -> Product:
    promotion = None
    if row["promo_price_cents"] is not None:
        promotion = Promotion(row["promo_price_cents"] / 100,
                              date.fromisoformat(row["promo_start"]),
                              date.fromisoformat(row["promo_end"]), row["promo_text"])
    return Product(row["sku"], row["name"], row["brand"], row["category"], row["model"],
                   row["price_cents"] / 100, promotion, stock, row["aisle"], row["manual"],
                   tuple(a for a in row["aliases"].split(";") if a), row["version"])


def record_of(product: Product) -> Record:
    """A product as the CSV's canonical text, the form imports are compared and audited in."""
    promotion = product.promotion
    record = {"sku": product.sku, "name": product.name, "brand": product.brand,
              "category": product.category, "model": product.model,
              "price": cents_text(round(product.price * 100)),
              "promo_price": cents_text(round(promotion.price * 100)) if promotion else "",
              "promo_start": promotion.start.isoformat() if promotion else "",
              "promo_end": promotion.end.isoformat() if promotion else "",
              "promo_text": promotion.text if promotion else ""}
    record.update({STOCK_PREFIX + store: str(qty) for store, qty in product.stock.items()})
    record.update(aisle=product.aisle, manual=product.manual, aliases=";".join(product.aliases))
    return record


def save(db: sqlite3.Connection, record: Record, stores: list[str], version: int) -> None:
    promo = record["promo_price"]
    values = (record["sku"], record["name"], record["brand"], record["category"], record["model"],
              cents(record["price"]), cents(promo) if promo else None,
              record["promo_start"] or None, record["promo_end"] or None,
              record["promo_text"] or None, record["aisle"], record["manual"], record["aliases"],
              version)
    updates = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS.split(", ")[1:])
    db.execute(f"INSERT INTO products ({COLUMNS}) VALUES ({', '.join('?' * len(values))}) "
               f"ON CONFLICT (sku) DO UPDATE SET {updates}", values)
    db.executemany("INSERT INTO stock (sku, store, qty) VALUES (?, ?, ?) "
                   "ON CONFLICT (sku, store) DO UPDATE SET qty = excluded.qty",
                   [(record["sku"], store, int(record[STOCK_PREFIX + store])) for store in stores])


def diff(old: Record, new: Record) -> list[tuple[str, str | None, str]]:
    return [(column, old.get(column), value) for column, value in new.items()
            if old.get(column) != value]


def log_changes(db: sqlite3.Connection, at: str, actor: str, sku: str,
         changes: list[tuple[str, str | None, str]]) -> None:
    db.executemany("INSERT INTO audit_log (at, actor, sku, field, old, new) "
                   "VALUES (?, ?, ?, ?, ?, ?)",
                   [(at, actor, sku, column, old, new) for column, old, new in changes])


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
