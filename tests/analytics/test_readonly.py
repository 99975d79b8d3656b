"""The read-only guard: only one SELECT over the sales tables runs, within row and time limits."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from store_assistant.analytics.readonly import UnsafeQuery, check_sql, run_sql
from store_assistant.analytics.sales import content_hash

REFUSED = {
    "DROP TABLE daily_sales": ("DROP", "write"),
    "UPDATE products SET list_price_cents = 1": ("UPDATE", "write"),
    "DELETE FROM returns": ("DELETE", "write"),
    "INSERT INTO stock VALUES ('1', 'downtown', 5)": ("INSERT", "write"),
    "SELECT 1; DROP TABLE stock": ("one statement", "write"),
    "SELECT SUM(units) FROM daily_sales; SELECT 2": ("one statement", "write"),
    "PRAGMA writable_schema = 1": ("PRAGMA", "write"),
    "PRAGMA table_info(stock)": ("PRAGMA", "write"),
    "ATTACH DATABASE '/tmp/other.db' AS other": ("ATTACH", "write"),
    "SELECT sql FROM sqlite_master": ("sqlite_master", "invalid"),
    "SELECT value FROM meta": ("meta", "invalid"),
    "SELEC units FROM daily_sales": ("does not parse", "invalid"),
    "": ("no SQL", "invalid"),
}


@pytest.mark.parametrize("sql", sorted(REFUSED))
def test_anything_but_one_select_over_the_sales_tables_is_refused_and_changes_nothing(
        sales_db: Path, sql: str) -> None:
    before = content_hash(sales_db)
    words, kind = REFUSED[sql]
    with pytest.raises(UnsafeQuery, match=words) as caught:
        run_sql(sales_db, sql)
    assert caught.value.kind == kind
    assert content_hash(sales_db) == before


def test_a_select_runs_and_says_what_it_returned(sales_db: Path) -> None:
    result = run_sql(sales_db, "WITH t AS (SELECT store, SUM(units) AS n FROM daily_sales "
                               "GROUP BY store) SELECT store, n FROM t ORDER BY store")
    assert result.columns == ["store", "n"]
    assert [r[0] for r in result.rows] == ["downtown", "northgate", "westside"]
    assert not result.truncated


def test_rows_past_the_limit_are_cut_and_said_so(sales_db: Path) -> None:
    result = run_sql(sales_db, "SELECT day, units FROM daily_sales", row_limit=10)
    assert len(result.rows) == 10 and result.truncated


def test_a_runaway_query_is_stopped_at_the_time_limit(sales_db: Path) -> None:
    with pytest.raises(UnsafeQuery, match="stopped"):
        run_sql(sales_db, "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) "
                          "SELECT COUNT(*) FROM n", time_limit_s=0.5)


def test_the_database_itself_refuses_what_the_parser_let_through(sales_db: Path) -> None:
    """The second and third locks on their own: a write that passed the parse check still
    cannot happen (read-only connection, authorizer)."""
    import store_assistant.analytics.readonly as readonly

    before = content_hash(sales_db)
    original = readonly.check_sql
    readonly.check_sql = lambda sql, tables=readonly.TABLES: sql  # the parser lock removed
    try:
        for sql in ("DELETE FROM returns", "CREATE TABLE x (a)", "PRAGMA query_only = OFF"):
            with pytest.raises(UnsafeQuery):
                readonly.run_sql(sales_db, sql)
        with pytest.raises(UnsafeQuery, match="other than reading"):
            readonly.run_sql(sales_db, "SELECT load_extension('x')")
    finally:
        readonly.check_sql = original
    assert content_hash(sales_db) == before


def test_check_sql_returns_the_statement_without_its_semicolon() -> None:
    assert check_sql(" SELECT 1 FROM stock; ") == "SELECT 1 FROM stock"


def test_a_missing_database_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="No sales database"):
        run_sql(tmp_path / "none.db", "SELECT 1 FROM stock")
