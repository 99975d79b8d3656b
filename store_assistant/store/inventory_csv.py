"""The inventory CSV format: read and validate a whole file, or write records back out.

A file is checked completely before anything uses it, and every problem comes back at once as
one DataError ("line 7, column price: ..."), so a manager fixes the sheet in one pass instead of
one error per run. Records are plain dicts of canonical text keyed by column name ("1299.00",
not "1299"), which makes comparing an import with the database, and auditing it, a dict diff.
Trade-off: strict on purpose. "$1,299" or a date like 3/1/2025 is refused with the fix, because a
guessed price is worse than a rejected file.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Iterable, TextIO

from store_assistant.errors import DataError
from store_assistant.files import from_spreadsheet_cell, spreadsheet_cell

LEADING_COLUMNS = ("sku", "name", "brand", "category", "model", "price",
                   "promo_price", "promo_start", "promo_end", "promo_text")
TRAILING_COLUMNS = ("aisle", "manual", "aliases")
PROMO_COLUMNS = ("promo_price", "promo_start", "promo_end", "promo_text")
OPTIONAL_COLUMNS = {"aisle", "manual", "aliases", *PROMO_COLUMNS}
STOCK_PREFIX = "stock_"
# The most expensive thing the store sells is well under this; more is a typo (an extra zero).
MAX_PRICE = Decimal(100000)
# No shelf holds a million of anything; a bigger count is a pasted barcode.
MAX_STOCK = 1_000_000

_SKU = re.compile(r"[0-9]+")
_STORE = re.compile(r"[a-z0-9-]+")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_COUNT = re.compile(r"-?[0-9]+")

Record = dict[str, str]


def header(stores: Iterable[str]) -> list[str]:
    """The column names, in file order, for these stores."""
    return [*LEADING_COLUMNS, *(STOCK_PREFIX + store for store in stores), *TRAILING_COLUMNS]


def read_records(data: bytes | str, source: str,
                 known_stores: list[str]) -> tuple[list[str], list[Record]]:
    """(the file's stores in column order, one canonical record per product), or one DataError.

    `known_stores` are the database's stores; empty means a new database, whose stores the
    file's stock_<store> columns define. Line numbers are the file's own (header = line 1).
    """
    text, problem = _decode(data)
    if problem:
        raise DataError(f"{source} cannot be imported; nothing was changed:\n  {problem}")
    problems: list[str] = []
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        names = [name.strip() for name in next(reader)]
    except (StopIteration, csv.Error) as exc:
        raise DataError(f"{source} cannot be imported; nothing was changed:\n  line 1: "
                        f"no header ({exc or 'empty file'}). "
                        f"Expected: {','.join(header(['downtown']))}") from None
    stores = _check_header(names, known_stores, problems)
    records: list[Record] = []
    first_line: dict[str, int] = {}
    line = reader.line_num
    while True:
        start = line + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(f"line {reader.line_num}: not valid CSV ({exc})")
            break
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(names):
            problems.append(f"line {start}: has {len(cells)} fields but the header has "
                            f"{len(names)} (a comma inside a value needs \"double quotes\" "
                            f"around it)")
            continue
        row = {name: from_spreadsheet_cell(cell.strip()) for name, cell in zip(names, cells)}
        record = _check_row(row, start, stores, problems)
        sku = row.get("sku", "")
        if sku and sku in first_line:
            problems.append(f"line {start}, column sku: duplicate SKU {sku} "
                            f"(first on line {first_line[sku]}); each SKU gets one row")
        elif sku:
            first_line[sku] = start
        if record is not None:
            records.append(record)
    if not problems and not records:
        problems.append("line 2: no product rows after the header")
    if problems:
        raise DataError(f"{source} has {len(problems)} problem(s); nothing was changed:\n  "
                        + "\n  ".join(problems))
    return stores, records


def write_records(handle: TextIO, stores: list[str], records: Iterable[Record]) -> None:
    writer = csv.DictWriter(handle, header(stores), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: spreadsheet_cell(v) for k, v in record.items()} for record in records)


def read_source(source: str | Path | bytes) -> tuple[bytes | str, str]:
    """(content, name for messages) from a path (a Path, or a str without a newline) or content."""
    if isinstance(source, bytes):
        return source, "the inventory CSV"
    if isinstance(source, str) and "\n" in source:
        return source, "the inventory CSV"
    path = Path(source)
    try:
        return path.read_bytes(), str(path)
    except FileNotFoundError:
        raise DataError(f"Inventory file {path} does not exist.") from None
    except OSError as exc:
        raise DataError(f"Cannot read inventory file {path}: {exc.strerror or exc}.") from None


# --- values ----------------------------------------------------------------------------------

def cents(text: str) -> int:
    """Price text to whole cents: '1299', '1299.0' and '1299.00' are all 129900.

    Raises ValueError with the fix: '$1,299' (symbols, thousands separators), '0', '-5',
    '12.345' and anything over 100000 are refused.
    """
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a number; write plain digits like 1299.99 "
                         f"(no currency sign or thousands separator)") from None
    if not value.is_finite():
        raise ValueError(f"{text!r} is not a price; write plain digits like 1299.99")
    if value <= 0:
        raise ValueError(f"{'negative' if value < 0 else 'zero'} price {text}; "
                         f"prices must be greater than 0")
    if value > MAX_PRICE:
        raise ValueError(f"price {text} is over {MAX_PRICE}; check for an extra digit")
    if value != value.quantize(Decimal("0.01")):
        raise ValueError(f"price {text} has more than 2 decimal places")
    return int(value * 100)


def cents_text(amount: int) -> str:
    """Cents to the file's canonical text: 129900 -> '1299.00'."""
    return f"{amount // 100}.{amount % 100:02d}"


def parse_date(text: str) -> date:
    """Exactly YYYY-MM-DD (what spreadsheets export as ISO); '3/1/2025' is ambiguous, so refused."""
    if not _DATE.fullmatch(text):
        raise ValueError(f"{text!r} is not a date; write YYYY-MM-DD, e.g. 2025-03-31")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text} is not a real date (check the month and day)") from None


# --- checks ----------------------------------------------------------------------------------

def _decode(data: bytes | str) -> tuple[str, str | None]:
    """(text, None) or ('', problem naming the line). A UTF-8 byte-order mark (Excel) is fine."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if not raw.strip():
        return "", "line 1: the file is empty; expected a header line and one row per product"
    if b"\x00" in raw:
        line = raw[:raw.index(b"\x00")].count(b"\n") + 1
        return "", (f"line {line}: the file is binary, not CSV text (it contains NUL bytes); "
                    f"export the sheet as CSV UTF-8")
    if isinstance(data, str):
        return data, None
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        return "", (f"line {line}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); "
                    f"export the sheet as CSV UTF-8")


def _check_header(names: list[str], known_stores: list[str], problems: list[str]) -> list[str]:
    """The stores named by stock_<store> columns; header problems go to `problems` (line 1)."""
    def bad(column: str, why: str) -> None:
        problems.append(f"line 1, column {column}: {why}")

    seen: set[str] = set()
    stores: list[str] = []
    for name in names:
        if name in seen:
            bad(name, "appears twice in the header")
        seen.add(name)
        if name.startswith(STOCK_PREFIX):
            store = name[len(STOCK_PREFIX):]
            if not _STORE.fullmatch(store):
                bad(name, f"store id {store!r} must be lowercase letters, digits and '-'")
            elif known_stores and store not in known_stores:
                bad(name, f"unknown store {store!r}; the database has {', '.join(known_stores)} "
                          f"(new stores need a fresh database)")
            elif store not in stores:
                stores.append(store)
        elif name not in LEADING_COLUMNS and name not in TRAILING_COLUMNS:
            bad(name or "(blank)", f"unknown column; expected {','.join(header(['<store>']))}")
    for column in (*LEADING_COLUMNS, *TRAILING_COLUMNS):
        if column not in seen:
            bad(column, "missing from the header")
    for store in known_stores:
        if STOCK_PREFIX + store not in seen:
            bad(STOCK_PREFIX + store, f"missing; the database has store {store!r}")
    if not known_stores and not any(name.startswith(STOCK_PREFIX) for name in names):
        bad("stock_<store>", "missing; add one stock column per store, e.g. stock_downtown")
    return known_stores or stores


def _check_row(row: dict[str, str], line: int, stores: list[str],
               problems: list[str]) -> Record | None:
    """The canonical record for one row, or None with its problems added."""
    before = len(problems)

    def bad(column: str, why: str) -> None:
        problems.append(f"line {line}, column {column}: {why}")

    record: Record = {}
    for column in (*LEADING_COLUMNS, *TRAILING_COLUMNS):
        value = row.get(column)
        if value is None:
            continue  # missing column: already reported on line 1
        if not value and column not in OPTIONAL_COLUMNS:
            bad(column, "is empty")
        record[column] = value
    sku = record.get("sku", "")
    if sku and not _SKU.fullmatch(sku):
        bad("sku", f"{sku!r} must be digits only")
    category = record.get("category", "")
    if category != category.lower():
        bad("category", f"{category!r} must be lowercase, e.g. {category.lower()!r}")
    price = None
    if record.get("price"):
        try:
            price = cents(record["price"])
            record["price"] = cents_text(price)
        except ValueError as exc:
            bad("price", str(exc))
    _check_promotion(record, price, bad)
    if "aliases" in record:
        record["aliases"] = ";".join(a.strip() for a in record["aliases"].split(";") if a.strip())
    for store in stores:
        column = STOCK_PREFIX + store
        value = row.get(column)
        if value is None:
            continue
        if not _COUNT.fullmatch(value):
            bad(column, f"{value!r} is not a whole number of units")
        elif int(value) < 0:
            bad(column, f"negative stock {value}; use 0 when the store has none")
        elif int(value) > MAX_STOCK:
            bad(column, f"stock {value} is over {MAX_STOCK:,}; check the number")
        else:
            record[column] = str(int(value))
    return record if len(problems) == before else None


def _check_promotion(record: Record, price: int | None, bad) -> None:
    values = {column: record.get(column, "") for column in PROMO_COLUMNS}
    if not any(values.values()):
        return
    for column, value in values.items():
        if not value and column in record:
            bad(column, "is empty but other promo_* columns are set; fill all four "
                        "(promo_price, promo_start, promo_end, promo_text) or none")
    dates = {}
    for column in ("promo_start", "promo_end"):
        if values[column]:
            try:
                dates[column] = parse_date(values[column])
            except ValueError as exc:
                bad(column, str(exc))
    if len(dates) == 2 and dates["promo_start"] > dates["promo_end"]:
        bad("promo_end", f"ends {values['promo_end']}, before it starts {values['promo_start']}")
    if values["promo_price"]:
        try:
            promo = cents(values["promo_price"])
        except ValueError as exc:
            bad("promo_price", str(exc))
            return
        record["promo_price"] = cents_text(promo)
        if price is not None and promo >= price:
            bad("promo_price", f"promotion price {cents_text(promo)} is not below the regular price "
                               f"{cents_text(price)}")

