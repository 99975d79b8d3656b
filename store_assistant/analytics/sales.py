"""Twelve months of sales, returns and promotions for every SKU x store, generated from a seed.

The store has no sales history, so managers' questions are answered over data made here from the
inventory's own products, prices, stock and promotions: the same seed and inventory file give the
same database, byte for byte (`content_hash` checks it). Units are Poisson draws whose rate
depends on the category, the store, the weekday, the season and whether the SKU is on promotion
that day (a promotion visibly lifts units). Trade-off: a row per SKU, store and day even when
nothing sold (about 180,000 rows), so "average per day" and promotion lift need no calendar table.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from store_assistant.files import atomic_path
from store_assistant.store.inventory_csv import STOCK_PREFIX, read_records, read_source

if TYPE_CHECKING:
    from store_assistant.config import Settings

# Bump when the generator's output changes: an older database is rebuilt by `make run`.
GENERATOR_VERSION = 1
SEED = 20261201
# The history ends the day before the evaluation's as-of date, so "last month" is November 2026
# for every case, whenever they are run.
FIRST_DAY = date(2025, 12, 1)
LAST_DAY = date(2026, 11, 30)
AS_OF = LAST_DAY + timedelta(days=1)

# Units per store per day at a typical price, by category (a laptop sells less often than a cable).
_BASE_RATE = {"laptops": 0.35, "tvs": 0.25, "headphones": 0.7, "phones-tablets": 0.5,
              "cameras": 0.2, "smart-home": 0.6, "accessories": 1.2}
_STORE_FACTOR = {"downtown": 1.3, "westside": 1.0, "northgate": 0.75}
# Share of sold units brought back, by category: earbuds come back more often than cables.
_RETURN_SHARE = {"laptops": 0.06, "tvs": 0.05, "headphones": 0.09, "phones-tablets": 0.05,
                 "cameras": 0.04, "smart-home": 0.07, "accessories": 0.03}
_PROMO_LIFT = 1.8  # a promotion day sells this many times a normal day, before noise
# Store-wide events: (name, first day, last day, share of SKUs taking part, discount).
_EVENTS = (("Holiday Deals 2025", date(2025, 12, 1), date(2025, 12, 24), 0.25, 0.15),
           ("Presidents' Day Sale", date(2026, 2, 13), date(2026, 2, 16), 0.15, 0.10),
           ("Spring Sale", date(2026, 4, 10), date(2026, 4, 26), 0.20, 0.12),
           ("Memorial Day Sale", date(2026, 5, 22), date(2026, 5, 25), 0.15, 0.10),
           ("Summer Savings", date(2026, 7, 8), date(2026, 7, 14), 0.20, 0.15),
           ("Black Friday 2026", date(2026, 11, 27), date(2026, 11, 30), 0.30, 0.20))

SCHEMA = """
CREATE TABLE stores (store TEXT PRIMARY KEY);
CREATE TABLE products (sku TEXT PRIMARY KEY, name TEXT NOT NULL, brand TEXT NOT NULL,
    category TEXT NOT NULL, model TEXT NOT NULL, aliases TEXT NOT NULL,
    list_price_cents INTEGER NOT NULL);
CREATE TABLE promotions (id INTEGER PRIMARY KEY, sku TEXT NOT NULL REFERENCES products(sku),
    name TEXT NOT NULL, start_day TEXT NOT NULL, end_day TEXT NOT NULL,
    promo_price_cents INTEGER NOT NULL);
CREATE TABLE daily_sales (day TEXT NOT NULL, store TEXT NOT NULL REFERENCES stores(store),
    sku TEXT NOT NULL REFERENCES products(sku), units INTEGER NOT NULL,
    revenue_cents INTEGER NOT NULL, promotion_id INTEGER REFERENCES promotions(id),
    PRIMARY KEY (day, store, sku));
CREATE TABLE returns (day TEXT NOT NULL, store TEXT NOT NULL, sku TEXT NOT NULL,
    units INTEGER NOT NULL, refund_cents INTEGER NOT NULL, PRIMARY KEY (day, store, sku));
CREATE TABLE stock (sku TEXT NOT NULL, store TEXT NOT NULL, on_hand INTEGER NOT NULL,
    PRIMARY KEY (sku, store));
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE INDEX sales_by_sku ON daily_sales (sku, day);
"""


def sales_path(settings: "Settings") -> Path:
    return settings.data_dir / "sales.db"


@dataclass(frozen=True)
class Promotion:
    id: int
    sku: str
    name: str
    start: date
    end: date
    price_cents: int


def generate(inventory_csv: Path | str, path: Path | str, seed: int = SEED) -> Path:
    """Write the sales database to `path` (replacing it whole, or not at all) and return it."""
    data, source = read_source(inventory_csv)
    stores, records = read_records(data, source, [])
    rng = np.random.default_rng(seed)
    promotions = _promotions(records, rng)
    days = [FIRST_DAY + timedelta(days=i) for i in range((LAST_DAY - FIRST_DAY).days + 1)]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        db = sqlite3.connect(tmp)
        try:
            db.executescript(SCHEMA)
            db.executemany("INSERT INTO stores VALUES (?)", [(s,) for s in stores])
            db.executemany("INSERT INTO products VALUES (?, ?, ?, ?, ?, ?, ?)",
                           [(r["sku"], r["name"], r["brand"], r["category"], r["model"],
                             r["aliases"], _cents(r["price"])) for r in records])
            db.executemany("INSERT INTO promotions VALUES (?, ?, ?, ?, ?, ?)",
                           [(p.id, p.sku, p.name, p.start.isoformat(), p.end.isoformat(),
                             p.price_cents) for p in promotions])
            db.executemany("INSERT INTO stock VALUES (?, ?, ?)",
                           [(r["sku"], s, int(r[STOCK_PREFIX + s])) for r in records
                            for s in stores])
            sales, returns = _sales(records, stores, days, promotions, rng)
            db.executemany("INSERT INTO daily_sales VALUES (?, ?, ?, ?, ?, ?)", sales)
            db.executemany("INSERT INTO returns VALUES (?, ?, ?, ?, ?)", returns)
            db.executemany("INSERT INTO meta VALUES (?, ?)",
                           [("generator_version", str(GENERATOR_VERSION)), ("seed", str(seed)),
                            ("first_day", FIRST_DAY.isoformat()),
                            ("last_day", LAST_DAY.isoformat()), ("as_of", AS_OF.isoformat()),
                            ("inventory_sha256", hashlib.sha256(
                                data if isinstance(data, bytes) else data.encode()).hexdigest())])
            db.commit()
        finally:
            db.close()
    return path


def ensure(settings: "Settings") -> Path:
    """The sales database, generated when it is missing or from an older generator or inventory
    file (what `make run` calls)."""
    path = sales_path(settings)
    if stamp(path) != _expected(settings.inventory_csv):
        generate(settings.inventory_csv, path)
    return path


def stamp(path: Path) -> tuple[str, str] | None:
    if not path.exists():
        return None
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.DatabaseError:
        return None
    finally:
        db.close()
    return meta.get("generator_version", ""), meta.get("inventory_sha256", "")


def _expected(inventory_csv: Path) -> tuple[str, str]:
    return str(GENERATOR_VERSION), hashlib.sha256(Path(inventory_csv).read_bytes()).hexdigest()


def content_hash(path: Path | str) -> str:
    """A hash of every row of every table, in key order: equal for equal data."""
    digest = hashlib.sha256()
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                   "ORDER BY name"):
            rows = db.execute(f'SELECT * FROM "{table}"').fetchall()
            digest.update(repr((table, sorted(rows, key=repr))).encode())
    finally:
        db.close()
    return digest.hexdigest()


# --- the parts --------------------------------------------------------------------------------

def _cents(price: str) -> int:
    return round(float(price) * 100)


def _promotions(records: list[dict], rng: np.random.Generator) -> list[Promotion]:
    """The inventory's own promotions that fall in the history, then the store-wide events, each
    on a seeded share of the SKUs that are not already on promotion then."""
    found: list[Promotion] = []
    for r in records:
        if r["promo_price"] and r["promo_start"] and r["promo_start"] <= LAST_DAY.isoformat():
            start = max(date.fromisoformat(r["promo_start"]), FIRST_DAY)
            end = min(date.fromisoformat(r["promo_end"]), LAST_DAY)
            if start <= end:
                name = (r["promo_text"].split(":")[0].strip() or "Promotion").capitalize()
                found.append(Promotion(0, r["sku"], name, start, end, _cents(r["promo_price"])))
    for name, start, end, share, discount in _EVENTS:
        for r in records:
            busy = any(p.sku == r["sku"] and p.start <= end and start <= p.end for p in found)
            if not busy and rng.random() < share:
                price = round(_cents(r["price"]) * (1 - discount) / 100) * 100 - 1
                found.append(Promotion(0, r["sku"], name, start, end, price))
    found.sort(key=lambda p: (p.start, p.sku))
    return [Promotion(i + 1, p.sku, p.name, p.start, p.end, p.price_cents)
            for i, p in enumerate(found)]


def _sales(records: list[dict], stores: list[str], days: list[date],
           promotions: list[Promotion], rng: np.random.Generator) -> tuple[list, list]:
    by_sku: dict[str, list[Promotion]] = {}
    for p in promotions:
        by_sku.setdefault(p.sku, []).append(p)
    weekday = np.array([1.35 if d.weekday() >= 5 else 0.9 for d in days])
    season = np.array([{11: 1.3, 12: 1.6, 1: 0.8, 2: 0.85}.get(d.month, 1.0) for d in days])
    sales, returns = [], []
    for r in records:
        price = _cents(r["price"])
        category = r["category"]
        # Cheaper things sell more: a $30 plug about 3x as often as a $300 one.
        popularity = _BASE_RATE.get(category, 0.5) * (30000 / max(price, 1000)) ** 0.35
        popularity *= float(rng.lognormal(0.0, 0.35))  # some models are simply more popular
        on_promo = [None] * len(days)
        for p in by_sku.get(r["sku"], []):
            for i in range((p.start - FIRST_DAY).days, (p.end - FIRST_DAY).days + 1):
                on_promo[i] = p
        lift = np.array([_PROMO_LIFT if p else 1.0 for p in on_promo])
        for store in stores:
            rate = popularity * _STORE_FACTOR.get(store, 1.0) * weekday * season * lift
            units = rng.poisson(rate)
            returned = rng.binomial(units, _RETURN_SHARE.get(category, 0.05))
            delays = rng.integers(2, 29, size=len(days))
            back: dict[int, list[int]] = {}
            for i, day in enumerate(days):
                promo = on_promo[i]
                unit_price = promo.price_cents if promo else price
                sales.append((day.isoformat(), store, r["sku"], int(units[i]),
                              int(units[i]) * unit_price, promo.id if promo else None))
                if returned[i] and i + delays[i] < len(days):
                    entry = back.setdefault(i + delays[i], [0, 0])
                    entry[0] += int(returned[i])
                    entry[1] += int(returned[i]) * unit_price
            returns += [(days[i].isoformat(), store, r["sku"], n, cents)
                        for i, (n, cents) in sorted(back.items())]
    return sales, returns
