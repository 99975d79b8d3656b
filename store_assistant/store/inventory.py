"""The live inventory: prices, promotions and stock per store, in SQLite.

Price, stock and promotion facts the assistant states come from here, by code. A CSV import is
validated whole and then applied in one transaction. Manager edits go through `update`, which
checks the version the editor saw, so two people cannot silently overwrite each other. Every
changed field is written to an audit log. Trade-off: a new connection per call (WAL mode,
`BEGIN IMMEDIATE` for writes), not a shared one. A lookup costs about 0.5 ms, and it is safe
from Streamlit's threads without locks of our own.
"""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Literal

from store_assistant.files import atomic_open
from store_assistant.errors import DataError, InventoryError
from store_assistant.store.products import Product, Promotion
from store_assistant.store.inventory_csv import (MAX_PRICE, MAX_STOCK, PROMO_COLUMNS, STOCK_PREFIX,
                                           Record, cents, cents_text, read_records,
                                           read_source, write_records)

from store_assistant.store.inventory_db import (SCHEMA, diff, escape_like, log_changes, now,
                                                product_count, products_where, record_of, save,
                                                stores_of)

if TYPE_CHECKING:
    from store_assistant.config import Settings

SET_UP_HINT = "Run `make data` or `store-assistant inventory import manuals/inventory.csv`."

def inventory_path(settings: "Settings") -> Path:
    return settings.data_dir / "inventory.db"


# --- import results ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ImportReport:
    added: int
    updated: int
    unchanged: int
    skipped: bool = False  # the same file as the last import: nothing was checked or written

    def __str__(self) -> str:
        if self.skipped:
            return ("unchanged since the last import; nothing was done "
                    "(use --force to re-apply it over edits made since)")
        return f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged"


# --- the database ----------------------------------------------------------------------------

class Inventory:
    """The inventory in the SQLite file at `path` (the app uses `inventory_path(settings)`).

    `create=False` refuses to start a new, empty database. Commands that only read or edit use
    it, so a wrong --data-dir gets the set-up instructions, not "unknown SKU".
    """

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.exists():
            raise InventoryError(f"No inventory database at {self.path}. {SET_UP_HINT}")
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode = WAL")  # readers never wait for the writer
            db.executescript(SCHEMA)
            if not create and not stores_of(db):
                raise InventoryError(f"The inventory database at {self.path} is empty. "
                                     f"{SET_UP_HINT}")

    # --- reading

    def stores(self) -> list[str]:
        with self._reading() as db:
            return stores_of(db)

    def lookup(self, sku: str) -> Product | None:
        with self._reading() as db:
            found = products_where(db, "WHERE sku = ?", (str(sku).strip(),))
        return found[0] if found else None

    def products(self, category: str | None = None) -> list[Product]:
        """Every product in file order, or those of one category ([] for an unknown one)."""
        with self._reading() as db:
            if category is None:
                return products_where(db)
            return products_where(db, "WHERE category = ?", (category,))

    def search(self, text: str, limit: int = 20) -> list[Product]:
        """Products whose sku, name, brand, model or aliases contain every word of `text`.

        Case-insensitive (ASCII, as SQLite's LIKE). 'samsung tv' finds 'Samsung 65" QLED TV'
        though it is not one substring. An exact SKU comes first, then name matches.
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InventoryError(f"search limit must be a whole number >= 1, got {limit!r}.")
        words = str(text).split()
        if not words:
            return []
        haystack = "(sku || char(10) || name || char(10) || brand || char(10) || model " \
                   "|| char(10) || aliases)"
        where = "WHERE " + " AND ".join(f"{haystack} LIKE ? ESCAPE '\\'" for _ in words)
        params = [f"%{escape_like(word)}%" for word in words]
        order = "ORDER BY sku = ? DESC, name LIKE ? ESCAPE '\\' DESC, rowid LIMIT ?"
        phrase = " ".join(words)
        with self._reading() as db:
            return products_where(db, where, (*params, phrase, f"%{escape_like(phrase)}%", limit), order)

    def categories(self) -> list[str]:
        with self._reading() as db:
            return [row[0] for row in db.execute(
                "SELECT DISTINCT category FROM products ORDER BY category")]

    def audit(self, limit: int = 100, sku: str | None = None) -> list[dict]:
        """The newest `limit` changes, newest first; each {id, at, actor, sku, field, old, new}."""
        where, params = ("WHERE sku = ?", (str(sku).strip(),)) if sku is not None else ("", ())
        with self._reading() as db:
            rows = db.execute(f"SELECT id, at, actor, sku, field, old, new FROM audit_log {where} "
                              f"ORDER BY id DESC LIMIT ?", (*params, limit)).fetchall()
        return [dict(row) for row in rows]

    def data_version(self) -> str:
        """12 hex digits that change with any product, price, promotion or stock change.

        A hash of the content, not a counter: an edit that is undone gives the old value back,
        and two databases holding the same data agree, so caches keyed on it stay valid.
        """
        with self._reading() as db:
            stores = stores_of(db)
            records = [record_of(p) for p in products_where(db, order="ORDER BY sku")]
        payload = json.dumps([stores, records], sort_keys=True).encode()
        return hashlib.sha256(payload).hexdigest()[:12]

    # --- writing

    def import_csv(self, source: str | Path | bytes, actor: str = "import", *,
                   force: bool = False,
                   before_commit: Callable[[], None] | None = None) -> ImportReport:
        """Add or update every product in a CSV file; products not in it are left alone.

        `source` is a file path (a Path, or a str without a newline) or the CSV's content (bytes,
        or a str with a newline). If it is byte-for-byte the last file imported and the database
        is not empty, nothing happens (re-running set-up keeps managers' edits) unless `force`.
        `before_commit` runs last inside the transaction: if it raises, the import is rolled back
        (`ingest` swaps the new index in there, so the two change together or not at all).
        """
        data, name = read_source(source)
        raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
        sha = hashlib.sha256(raw).hexdigest()
        with self._writing() as db:
            last = db.execute("SELECT value FROM meta WHERE key = 'last_import_sha'").fetchone()
            if not force and last and last[0] == sha and product_count(db):
                if before_commit:
                    before_commit()
                return ImportReport(0, 0, 0, skipped=True)
            known = stores_of(db)
            stores, records = read_records(data, name, known)
            if not known:
                db.executemany("INSERT INTO stores (id, position) VALUES (?, ?)",
                               [(store, i) for i, store in enumerate(stores)])
            existing = {p.sku: p for p in products_where(db)}
            at = now()
            added = updated = 0
            for record in records:
                current = existing.get(record["sku"])
                if current is None:
                    save(db, record, stores, version=1)
                    log_changes(db, at, actor, record["sku"], [("product", None, "added")])
                    added += 1
                    continue
                changes = diff(record_of(current), record)
                if changes:
                    save(db, record, stores, version=current.version + 1)
                    log_changes(db, at, actor, record["sku"], changes)
                    updated += 1
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('last_import_sha', ?)",
                       (sha,))
            if before_commit:
                before_commit()
        return ImportReport(added, updated, len(records) - added - updated)

    def export_csv(self, path: str | Path) -> int:
        """Write every product in the import format, atomically; returns how many."""
        path = Path(path)
        with self._reading() as db:
            stores = stores_of(db)
            records = [record_of(p) for p in products_where(db)]
        if not records:
            raise InventoryError(f"The inventory at {self.path} is empty; nothing to export. "
                                 f"{SET_UP_HINT}")
        if not path.parent.is_dir():
            raise DataError(f"The folder for {path} does not exist. Create it first.")
        with atomic_open(path, newline="") as handle:
            write_records(handle, stores, records)
        return len(records)

    def update(self, sku: str, *, price: float | None = None, stock: dict[str, int] | None = None,
               promotion: Promotion | Literal["clear"] | None = None,
               expected_version: int | None = None, actor: str = "manager",
               today: date | None = None) -> Product:
        """Change a product's price, some stores' stock and/or its promotion, all or nothing.

        `promotion="clear"` removes it; None leaves it. A new promotion must end `today` (the real
        date unless given) or later: whichever door an edit comes through (CLI, web form, code),
        a promotion that is over before it is saved is refused. Pass the `version` you displayed
        as `expected_version` and a concurrent edit is refused instead of overwritten. An update
        that changes nothing returns the product as it is, version unchanged.
        """
        sku = str(sku).strip()
        if price is None and stock is None and promotion is None:
            raise InventoryError(f"Nothing to change for SKU {sku}: give a price, stock or a "
                                 f"promotion.")
        with self._writing() as db:
            found = products_where(db, "WHERE sku = ?", (sku,))
            if not found:
                raise InventoryError(f"No product with SKU {sku!r}. Check the number on the "
                                     f"label, or find it by name with Inventory.search.")
            current = found[0]
            if expected_version is not None and expected_version != current.version:
                raise InventoryError(f"SKU {sku} was changed by someone else (version "
                                     f"{current.version}, you had {expected_version}); "
                                     f"reload and try again.")
            old = record_of(current)
            new = dict(old)
            if price is not None:
                new["price"] = cents_text(_cents(price, f"Price for SKU {sku}"))
            for store, qty in (stock or {}).items():
                new[STOCK_PREFIX + _check_stock(sku, store, qty, list(current.stock))] = str(qty)
            if promotion == "clear":
                new.update(dict.fromkeys(PROMO_COLUMNS, ""))
            elif promotion is not None:
                new.update(_promotion_record(sku, promotion, today or date.today()))
            if new["promo_price"] and cents(new["promo_price"]) >= cents(new["price"]):
                raise InventoryError(
                    f"SKU {sku}: the promotion price {new['promo_price']} must be below the "
                    f"regular price {new['price']}. Lower the promotion price, raise the price, "
                    f"or clear the promotion.")
            changes = diff(old, new)
            if not changes:
                return current
            save(db, new, list(current.stock), version=current.version + 1)
            log_changes(db, now(), actor, sku, changes)
            return products_where(db, "WHERE sku = ?", (sku,))[0]

    # --- connections

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            # isolation_level=None: we issue BEGIN ourselves; timeout: wait out another writer.
            db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        except sqlite3.Error as exc:
            raise InventoryError(f"Cannot open the inventory database {self.path}: {exc}.") from exc
        try:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA foreign_keys = ON")
            yield db
        except sqlite3.DatabaseError as exc:
            raise InventoryError(f"The inventory database {self.path} failed: {exc}. If it is "
                                 f"locked, try again; if it is damaged, move it aside. "
                                 f"{SET_UP_HINT}") from exc
        finally:
            db.close()

    @contextmanager
    def _transaction(self, mode: str) -> Iterator[sqlite3.Connection]:
        with self._connect() as db:
            db.execute(f"BEGIN {mode}")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _reading(self):
        return self._transaction("DEFERRED")  # one consistent snapshot for a multi-query read

    def _writing(self):
        return self._transaction("IMMEDIATE")  # take the write lock before reading what we change


# --- checks on manager edits -----------------------------------------------------------------

def _cents(value: float, what: str) -> int:
    """A price in whole cents. 19.99 and 19.990000000000002 (float noise) both give 1999."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InventoryError(f"{what} must be a number like 1299.99, got {value!r}.")
    amount = round(value * 100)
    if abs(value * 100 - amount) > 1e-6:
        raise InventoryError(f"{what} {value} has more than 2 decimal places.")
    if not 0 < amount <= MAX_PRICE * 100:
        raise InventoryError(f"{what} must be greater than 0 and at most {MAX_PRICE}, "
                             f"got {value}.")
    return amount


def _check_stock(sku: str, store: str, qty: int, stores: list[str]) -> str:
    if store not in stores:
        raise InventoryError(f"Unknown store {store!r} for SKU {sku}; the stores are "
                             f"{', '.join(stores)}.")
    if isinstance(qty, bool) or not isinstance(qty, int):
        raise InventoryError(f"Stock for SKU {sku} at {store} must be a whole number, got {qty!r}.")
    if not 0 <= qty <= MAX_STOCK:
        raise InventoryError(f"Stock for SKU {sku} at {store} must be between 0 and "
                             f"{MAX_STOCK:,}, got {qty}; use 0 when the store has none.")
    return store


def _promotion_record(sku: str, promotion: Promotion, today: date) -> Record:
    if not isinstance(promotion, Promotion):
        raise InventoryError(f"promotion for SKU {sku} must be a Promotion or 'clear', "
                             f"got {promotion!r}.")
    for name in ("start", "end"):
        value = getattr(promotion, name)
        if isinstance(value, datetime) or not isinstance(value, date):
            raise InventoryError(f"Promotion {name} for SKU {sku} must be a date, got {value!r}.")
    if promotion.end < today:
        raise InventoryError(f"Promotion for SKU {sku} ends {promotion.end}, which is in the "
                             f"past; a promotion must end today ({today}) or later.")
    if promotion.start > promotion.end:
        raise InventoryError(f"Promotion for SKU {sku} ends {promotion.end}, before it starts "
                             f"{promotion.start}; swap or fix the dates.")
    text = str(promotion.text).strip()
    if not text:
        raise InventoryError(f"Promotion for SKU {sku} needs a text staff can read out, "
                             f"e.g. 'Spring sale'.")
    return {"promo_price": cents_text(_cents(promotion.price, f"Promotion price for SKU {sku}")),
            "promo_start": promotion.start.isoformat(), "promo_end": promotion.end.isoformat(),
            "promo_text": text}

