"""The semantic layer and its compiler: every metric compiles to SQL that gives the number a
hand-written query gives, filters stay literals, and what the layer does not know is refused."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest
import yaml

from store_assistant.analytics.layer import (LAYER_FILE, MetricQuery, QueryError, compile_query,
                                             load_layer, periods)
from store_assistant.analytics.readonly import run_sql
from store_assistant.errors import DataError


def hand(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute(sql).fetchall()


def compiled(db: Path, layer, **query) -> list[tuple]:
    return run_sql(db, compile_query(layer, MetricQuery(**query))).rows


def test_the_catalog_has_at_least_ten_versioned_metrics_with_definitions(layer) -> None:
    assert len(layer.metrics) >= 10
    for metric in layer.metrics.values():
        assert metric.version >= 1 and metric.description and metric.synonyms


def test_units_of_oled_tvs_at_westside_last_month(sales_db, layer) -> None:
    got = compiled(sales_db, layer, metric="units_sold", store="westside", category="tvs",
                   product="OLED", period="last_month")
    want = hand(sales_db, """SELECT SUM(s.units) FROM daily_sales s, products p
        WHERE s.sku = p.sku AND s.store = 'westside' AND p.category = 'tvs'
          AND p.name LIKE '%OLED%' AND s.day >= '2026-11-01' AND s.day <= '2026-11-30'""")
    assert got == want and want[0][0] > 0


def test_return_rate_by_product_counts_a_product_without_returns_as_zero(sales_db, layer) -> None:
    got = dict(compiled(sales_db, layer, metric="return_rate", group_by=("product",),
                        category="cameras", period="last_7_days"))
    sold = dict(hand(sales_db, """SELECT p.name, SUM(s.units) FROM daily_sales s
        JOIN products p ON p.sku = s.sku WHERE p.category = 'cameras'
        AND s.day BETWEEN '2026-11-24' AND '2026-11-30' GROUP BY p.name HAVING SUM(s.units) > 0"""))
    back = dict(hand(sales_db, """SELECT p.name, SUM(r.units) FROM returns r
        JOIN products p ON p.sku = r.sku WHERE p.category = 'cameras'
        AND r.day BETWEEN '2026-11-24' AND '2026-11-30' GROUP BY p.name"""))
    assert got == pytest.approx({name: back.get(name, 0) / n for name, n in sold.items()})
    assert 0 in got.values()  # a week is short: some camera sold and nothing came back


def test_a_ranking_is_ordered_and_cut(sales_db, layer) -> None:
    got = compiled(sales_db, layer, metric="revenue", group_by=("store",), period="2026-03",
                   order="highest", limit=2)
    want = hand(sales_db, """SELECT store, SUM(revenue_cents) / 100.0 AS r FROM daily_sales
        WHERE day LIKE '2026-03-%' GROUP BY store ORDER BY r DESC LIMIT 2""")
    assert got == want


def test_a_time_series_has_a_row_per_month(sales_db, layer) -> None:
    got = compiled(sales_db, layer, metric="units_sold", group_by=("month",), brand="Sony")
    assert [m for m, _ in got] == [f"2025-12", *(f"2026-{n:02d}" for n in range(1, 12))]


@pytest.mark.parametrize("metric", ["units_sold", "revenue", "average_selling_price",
                                    "units_returned", "refunds", "return_rate", "promo_lift",
                                    "promo_share", "discount_given", "average_daily_units",
                                    "sell_through", "attach_rate", "stock_on_hand"])
def test_every_metric_compiles_and_gives_one_number(sales_db, layer, metric) -> None:
    (value,), = compiled(sales_db, layer, metric=metric)
    assert isinstance(value, (int, float)) and value > 0


def test_promo_lift_is_promotion_days_over_other_days(sales_db, layer) -> None:
    (lift,), = compiled(sales_db, layer, metric="promo_lift", product="WH-1000XM5")
    (want,), = hand(sales_db, """SELECT AVG(CASE WHEN promotion_id IS NOT NULL THEN units END)
        / AVG(CASE WHEN promotion_id IS NULL THEN units END) FROM daily_sales s
        JOIN products p ON p.sku = s.sku WHERE p.aliases LIKE '%WH-1000XM5%'""")
    assert lift == pytest.approx(want) and lift > 1


def test_a_filter_value_is_a_literal_never_sql(sales_db, layer) -> None:
    sql = compile_query(layer, MetricQuery("units_sold", product="x' OR '1'='1"))
    assert run_sql(sales_db, sql).rows == [(None,)]  # matches no product, returns nothing


@pytest.mark.parametrize("query, words", [
    (MetricQuery("profit"), "No metric 'profit'"),
    (MetricQuery("units_sold", store="eastside"), "No store 'eastside'"),
    (MetricQuery("units_sold", period="2024-01"), "No period"),
    (MetricQuery("stock_on_hand", group_by=("month",)), "cannot be broken down by 'month'"),
    (MetricQuery("attach_rate", category="tvs"), "cannot be filtered by category"),
    (MetricQuery("units_sold", group_by=("store", "store")), "at most two different"),
    (MetricQuery("units_sold", limit=500), "limit"),
])
def test_what_the_layer_does_not_know_is_a_clear_error(layer, query, words) -> None:
    with pytest.raises(QueryError, match=words):
        compile_query(layer, query)


def test_periods_are_read_from_the_as_of_date() -> None:
    found = periods(date(2026, 12, 1))
    assert found["last_month"] == (date(2026, 11, 1), date(2026, 11, 30))
    assert found["this_quarter"] == (date(2026, 10, 1), date(2026, 11, 30))
    assert found["last_quarter"] == (date(2026, 7, 1), date(2026, 9, 30))
    assert found["year_to_date"] == (date(2026, 1, 1), date(2026, 11, 30))
    assert found["2025-Q4"] == (date(2025, 12, 1), date(2025, 12, 31))
    assert "this_month" not in found  # nothing of December has happened yet


def test_a_broken_layer_file_lists_its_problems(tmp_path: Path) -> None:
    raw = yaml.safe_load(LAYER_FILE.read_text())
    raw["metrics"]["revenue"]["formula"] = "revenue + nosuch"
    raw["metrics"]["units_sold"].pop("version")
    raw["periods"]["next_week"] = ["next week"]
    path = tmp_path / "layer.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(DataError) as caught:
        load_layer(path)
    assert "unknown measure(s) nosuch" in str(caught.value)
    assert "metrics.units_sold: needs an integer version" in str(caught.value)
    assert "periods.next_week: not a period the layer reads" in str(caught.value)
