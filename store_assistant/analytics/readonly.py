"""Run one read-only SELECT on the sales database, whoever wrote it (the compiler or a model).

Three locks, each enough on its own for a write: the SQL is parsed (sqlglot) and must be exactly
one SELECT over the sales tables; the database is opened read-only (`mode=ro`, `query_only`);
and SQLite's authorizer allows only reads and functions while it runs. A progress handler stops
a query after `time_limit_s`, and at most `row_limit` rows come back. Refusals are
`UnsafeQuery` with the reason in words, never a traceback.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import sqlglot
from sqlglot import exp

from store_assistant.errors import DataError

TABLES = ("stores", "products", "promotions", "daily_sales", "returns", "stock")
META_TABLE = "meta"  # read by code (the as-of date), never offered to a model's SQL
ROW_LIMIT = 1000  # a manager reads a table, not a dump; more rows are cut and said so
TIME_LIMIT_S = 5.0  # every metric here runs in under half a second; longer is a runaway join
_ALLOWED_ACTIONS = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION,
                    sqlite3.SQLITE_RECURSIVE}
_WRITES = (exp.Insert, exp.Update, exp.Delete, exp.Drop, exp.Create, exp.Alter, exp.Merge,
           exp.Command, exp.Pragma, exp.Attach, exp.Detach, exp.Transaction, exp.Commit,
           exp.Rollback, exp.Set, exp.Use)


class UnsafeQuery(DataError):
    """SQL the analytics page will not run: not one read-only SELECT over the sales tables.
    `kind` is "write" when it would change data or reach outside it, else "invalid"."""

    def __init__(self, message: str, kind: str = "invalid") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Result:
    columns: list[str]
    rows: list[tuple]
    truncated: bool
    ms: float


def check_sql(sql: str, tables: tuple[str, ...] = TABLES) -> str:
    """The statement, if it is one SELECT reading only the sales tables; else UnsafeQuery.

    "SELECT 1; DROP TABLE stock" is two statements and refused; "PRAGMA writable_schema = 1" is
    not a SELECT and refused; "SELECT * FROM sqlite_master" reads a table outside the list.
    """
    text = (sql or "").strip().rstrip(";").strip()
    if not text:
        raise UnsafeQuery("There is no SQL to run.")
    try:
        statements = [s for s in sqlglot.parse(text, read="sqlite") if s is not None]
    except sqlglot.errors.SqlglotError as exc:
        raise UnsafeQuery(f"The SQL does not parse: {str(exc).splitlines()[0]}") from None
    if len(statements) != 1:
        raise UnsafeQuery(f"Only one statement may run; this has {len(statements)}.", kind="write")
    tree = statements[0]
    if isinstance(tree, _WRITES) or any(isinstance(node, _WRITES) for node in tree.walk()):
        kind = type(next(n for n in tree.walk() if isinstance(n, _WRITES))).__name__.upper()
        raise UnsafeQuery(f"Only SELECT is allowed here; this is {kind}, which could change "
                          f"or reach outside the data.", kind="write")
    if not isinstance(tree, exp.Query):
        raise UnsafeQuery(f"Only SELECT is allowed here, not {type(tree).__name__.upper()}.")
    allowed = tables
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    tables = {t.name for t in tree.find_all(exp.Table)} - ctes
    outside = sorted(t for t in tables if t not in allowed)
    if outside:
        raise UnsafeQuery(f"The query reads {', '.join(outside)}, which is not sales data. "
                          f"Tables: {', '.join(allowed)}.")
    return text


def run_sql(database: Path | str, sql: str, params: tuple = (), row_limit: int = ROW_LIMIT,
            time_limit_s: float = TIME_LIMIT_S, tables: tuple[str, ...] = TABLES) -> Result:
    """Check `sql`, then run it read-only with the row and time limits (`params` fill its `?`)."""
    text = check_sql(sql, tables)
    if not Path(database).exists():
        raise DataError(f"No sales database at {database}. Run `make run` or "
                        f"`store-assistant analytics generate`.")
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True, check_same_thread=False)
    started = time.perf_counter()
    try:
        db.execute("PRAGMA query_only = ON")
        db.set_authorizer(lambda action, *_: sqlite3.SQLITE_OK if action in _ALLOWED_ACTIONS
                          else sqlite3.SQLITE_DENY)
        deadline = started + time_limit_s
        db.set_progress_handler(lambda: int(time.perf_counter() > deadline), 10_000)
        try:
            cursor = db.execute(text, params)
            rows = cursor.fetchmany(row_limit + 1)
        except sqlite3.Error as exc:
            if str(exc) == "interrupted":
                raise UnsafeQuery(f"The query ran past {time_limit_s:g} s and was stopped.") \
                    from None
            if "not authorized" in str(exc):
                raise UnsafeQuery("The query tried something other than reading the sales "
                                  "data; it was refused.", kind="write") from None
            raise UnsafeQuery(f"The database refused the query: {exc}.") from None
        columns = [c[0] for c in cursor.description or []]
    finally:
        db.close()
    return Result(columns, [tuple(r) for r in rows[:row_limit]], len(rows) > row_limit,
                  (time.perf_counter() - started) * 1000)
