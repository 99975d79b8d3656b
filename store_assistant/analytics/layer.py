"""The semantic layer (`semantic_layer.yaml`) and its compiler: a metric query in, one SQL out.

A `MetricQuery` names a metric, up to two dimensions to break it down by, filters and a period;
`compile_query` turns it into a single SQLite SELECT built with sqlglot's expression builder, so
every filter value is a quoted literal and no model-written text is pasted into SQL. Each fact
the metric needs (sales, returns, stock) is aggregated in its own CTE and the CTEs are joined on
the dimensions: joining the fact tables first would count a sale once per return.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlglot
import yaml
from sqlglot import exp

from store_assistant.analytics.readonly import META_TABLE, UnsafeQuery, run_sql
from store_assistant.errors import DataError

LAYER_FILE = Path(__file__).with_name("semantic_layer.yaml")
FILTER_DIMENSIONS = ("store", "category", "brand", "product")
TIME_DIMENSIONS = ("day", "week", "month", "quarter")
MAX_LIMIT = 50


class QueryError(DataError):
    """A metric query the layer cannot compile: unknown metric, value, or combination."""


@dataclass(frozen=True)
class Metric:
    name: str
    version: int
    label: str
    description: str
    formula: str
    unit: str  # count | money | ratio | multiple
    dimensions: tuple[str, ...]
    synonyms: tuple[str, ...]
    weak_synonyms: tuple[str, ...]  # mean this metric only when no other metric's words appear
    facts: tuple[str, ...]  # the facts whose measures the formula reads, in the layer's order


@dataclass(frozen=True)
class Layer:
    version: int
    facts: dict[str, dict]
    dimensions: dict[str, dict]
    segments: dict[str, dict[str, str]]
    metrics: dict[str, Metric]
    refusals: dict[str, str]
    missing_words: tuple[str, ...] = ()  # business words for numbers the store does not keep
    period_words: tuple[tuple[str, str], ...] = ()  # ("last month", "last_month"), in file order
    stores: tuple[str, ...] = ()
    brands: tuple[str, ...] = ()
    as_of: date | None = None  # the day after the last day of data: "last month" is read from it

    def values(self, dimension: str) -> tuple[str, ...]:
        if dimension == "store":
            return self.stores
        if dimension == "brand":
            return self.brands
        return tuple(self.dimensions[dimension].get("values", {}))

    def periods(self) -> dict[str, tuple[date, date]]:
        return periods(self.as_of) if self.as_of else {}


@dataclass(frozen=True)
class MetricQuery:
    """What a question asks, in the layer's words. `product` matches by text; "" means any."""
    metric: str
    group_by: tuple[str, ...] = ()
    store: str = ""
    category: str = ""
    brand: str = ""
    product: str = ""
    period: str = "all"
    order: str = "none"  # none | highest | lowest
    limit: int = 0  # 0: every row

    def filters(self) -> dict[str, str]:
        return {d: getattr(self, d) for d in FILTER_DIMENSIONS if getattr(self, d)}

    def as_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "group_by": list(self.group_by), **self.filters(),
                "period": self.period, "order": self.order, "limit": self.limit}


# --- loading ----------------------------------------------------------------------------------

def load_layer(path: Path = LAYER_FILE, database: Path | str | None = None) -> Layer:
    """The layer from YAML, checked whole; with a database, its stores, brands and as-of date."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DataError(f"Cannot read the semantic layer {path}: {exc}") from None
    return _checked(raw, path, database)


@lru_cache(maxsize=8)
def _cached(path: str, database: str | None, mtime: float) -> Layer:
    return load_layer(Path(path), database)


def layer_for(database: Path | str) -> Layer:
    """The shipped layer bound to a sales database (cached while the file is unchanged)."""
    return _cached(str(LAYER_FILE), str(database), Path(database).stat().st_mtime)


def _checked(raw: Any, path: Path, database: Path | str | None) -> Layer:
    problems: list[str] = []
    if not isinstance(raw, dict):
        raise DataError(f"The semantic layer {path} is not a mapping of facts, dimensions and "
                        f"metrics.")
    facts = raw.get("facts") or {}
    measures = {m: name for name, fact in facts.items() for m in (fact.get("measures") or {})}
    for name, fact in facts.items():
        for measure, sql in (fact.get("measures") or {}).items():
            _parse(sql, f"facts.{name}.measures.{measure}", problems)
    dimensions = raw.get("dimensions") or {}
    metrics: dict[str, Metric] = {}
    for name, spec in (raw.get("metrics") or {}).items():
        where = f"metrics.{name}"
        tree = _parse(spec.get("formula", ""), f"{where}.formula", problems)
        used = sorted({c.name for c in tree.find_all(exp.Column)}) if tree else []
        unknown = [c for c in used if c not in measures]
        if unknown:
            problems.append(f"{where}.formula: unknown measure(s) {', '.join(unknown)}")
        if not isinstance(spec.get("version"), int):
            problems.append(f"{where}: needs an integer version")
        allowed = tuple(spec.get("dimensions") or (*FILTER_DIMENSIONS, *TIME_DIMENSIONS))
        if any(d not in dimensions for d in allowed):
            problems.append(f"{where}.dimensions: unknown dimension in {list(allowed)}")
        metrics[name] = Metric(name, spec.get("version", 0), spec.get("label", name),
                               spec.get("description", ""), spec.get("formula", ""),
                               spec.get("unit", "count"), allowed,
                               tuple(spec.get("synonyms") or ()),
                               tuple(spec.get("weak_synonyms") or ()),
                               tuple(f for f in facts if any(measures.get(c) == f for c in used)))
    if len(metrics) < 1:
        problems.append("metrics: none defined")
    named = {n for n in periods(date(2026, 12, 1)) if not n[0].isdigit()} | {"this_month"}
    period_words = tuple((str(word).lower(), name) for name, words in
                         (raw.get("periods") or {}).items() for word in (words or ()))
    for _, name in period_words:
        if name not in named:
            problems.append(f"periods.{name}: not a period the layer reads "
                            f"({', '.join(sorted(named))})")
    if problems:
        raise DataError(f"The semantic layer {path} has {len(problems)} problem(s):\n  "
                        + "\n  ".join(problems))
    layer = Layer(raw.get("version", 0), facts, dimensions, raw.get("segments") or {}, metrics,
                  raw.get("refusals") or {}, tuple(raw.get("missing_words") or ()),
                  period_words)
    if database is None:
        return layer
    try:
        stores = tuple(r[0] for r in run_sql(database, "SELECT store FROM stores ORDER BY store").rows)
        brands = tuple(r[0] for r in run_sql(database, "SELECT DISTINCT brand FROM products "
                                                       "ORDER BY brand").rows)
        as_of = date.fromisoformat(run_sql(database, "SELECT value FROM meta WHERE key = 'as_of'",
                                           tables=(META_TABLE,)).rows[0][0])
    except (UnsafeQuery, IndexError, ValueError) as exc:
        raise DataError(f"The sales database {database} is not usable ({exc}). Run `make run` "
                        f"or `store-assistant analytics generate`.") from None
    return replace(layer, stores=stores, brands=brands, as_of=as_of)


def _parse(sql: str, where: str, problems: list[str]) -> exp.Expression | None:
    try:
        return sqlglot.parse_one(str(sql), read="sqlite")
    except sqlglot.errors.ParseError as exc:
        problems.append(f"{where}: not an SQL expression ({exc})")
        return None


# --- periods ----------------------------------------------------------------------------------

def periods(as_of: date) -> dict[str, tuple[date, date]]:
    """Named periods, first and last day inclusive, read from the as-of date (today).

    With as_of 2026-12-01: last_month is November 2026, this_quarter is 2026-10-01..2026-11-30
    (the quarter so far), last_quarter is July-September 2026, and each month and quarter of
    the year before is there by name ("2026-03", "2026-Q1").
    """
    last = as_of - timedelta(days=1)
    month_start = last.replace(day=1)
    previous_month_end = as_of.replace(day=1) - timedelta(days=1)
    quarter_start = date(as_of.year, 3 * ((as_of.month - 1) // 3) + 1, 1)
    last_quarter_end = quarter_start - timedelta(days=1)
    last_quarter_start = date(last_quarter_end.year, last_quarter_end.month - 2, 1)
    first = date(as_of.year - 1, as_of.month, 1)
    found = {"all": (first, last),
             "last_7_days": (as_of - timedelta(days=7), last),
             "last_30_days": (as_of - timedelta(days=30), last),
             "last_month": (previous_month_end.replace(day=1), previous_month_end),
             "this_month": (month_start, last) if as_of.day > 1 else None,
             "this_quarter": (quarter_start, last) if as_of > quarter_start else None,
             "last_quarter": (last_quarter_start, last_quarter_end),
             "year_to_date": (date(last.year, 1, 1), last)}
    day = first
    while day <= last:
        end = date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])
        found[f"{day:%Y-%m}"] = (day, min(end, last))
        quarter = f"{day.year}-Q{(day.month + 2) // 3}"
        start, _ = found.get(quarter, (day, day))
        found[quarter] = (start, min(end, last))
        day = end + timedelta(days=1)
    return {name: span for name, span in found.items() if span}


# --- compiling --------------------------------------------------------------------------------

def check_query(layer: Layer, query: MetricQuery) -> None:
    """QueryError naming what the layer does not know, and what it does."""
    metric = layer.metrics.get(query.metric)
    if metric is None:
        raise QueryError(f"No metric {query.metric!r}. Metrics: {', '.join(layer.metrics)}.")
    for dimension in query.group_by:
        if dimension not in metric.dimensions:
            raise QueryError(f"{metric.label} cannot be broken down by {dimension!r}; it can by "
                             f"{', '.join(metric.dimensions)}.")
    if len(set(query.group_by)) != len(query.group_by) or len(query.group_by) > 2:
        raise QueryError("Break a metric down by at most two different dimensions.")
    for dimension, value in query.filters().items():
        if dimension not in metric.dimensions:
            raise QueryError(f"{metric.label} cannot be filtered by {dimension}.")
        if dimension != "product" and value not in layer.values(dimension):
            raise QueryError(f"No {dimension} {value!r}. Known: "
                             f"{', '.join(layer.values(dimension))}.")
    if query.period not in layer.periods():
        raise QueryError(f"No period {query.period!r}. Periods: "
                         f"{', '.join(layer.periods())}.")
    if query.order not in ("none", "highest", "lowest"):
        raise QueryError(f"Order must be none, highest or lowest, not {query.order!r}.")
    if not 0 <= query.limit <= MAX_LIMIT:
        raise QueryError(f"A limit must be between 0 (every row) and {MAX_LIMIT}.")


def compile_query(layer: Layer, query: MetricQuery) -> str:
    """The one SELECT (SQLite dialect) that computes `query`.

    >>> compile_query(layer, MetricQuery("units_sold", store="westside", period="last_month"))
    "WITH sales AS (SELECT SUM(units) AS units FROM daily_sales JOIN products USING (sku) WHERE
     daily_sales.store = 'westside' AND daily_sales.day BETWEEN '2026-11-01' AND '2026-11-30')
     SELECT sales.units AS units_sold FROM sales"
    """
    check_query(layer, query)
    metric = layer.metrics[query.metric]
    start, end = layer.periods()[query.period]
    dims = list(query.group_by)
    formula = sqlglot.parse_one(metric.formula, read="sqlite")
    needed = {c.name for c in formula.find_all(exp.Column)}
    ctes = []
    for fact_name in metric.facts:
        fact = layer.facts[fact_name]
        table = fact["table"]
        select = exp.select(*[exp.alias_(_dimension_sql(layer, d, fact), d) for d in dims])
        for measure, sql in fact["measures"].items():
            if measure in needed:
                select = select.select(exp.alias_(sqlglot.parse_one(sql, read="sqlite"), measure))
        select = select.from_(table).join("products", using=["sku"])
        for dimension, value in query.filters().items():
            select = select.where(_filter_sql(dimension, value, table))
        if fact.get("time"):
            select = select.where(exp.Between(this=exp.column(fact["time"], table),
                                              low=exp.Literal.string(start.isoformat()),
                                              high=exp.Literal.string(end.isoformat())))
        if dims:
            select = select.group_by(*[exp.column(d) for d in dims])
        ctes.append((f"{fact_name}_totals", select))
    first = ctes[0][0]
    owner = {m: f"{name}_totals" for name in metric.facts for m in layer.facts[name]["measures"]}
    # A group the first fact has and a later one lacks (a product sold, never returned) has 0 of
    # the later fact's measures, not NULL.
    formula = formula.transform(
        lambda node: (exp.column(node.name, owner[node.name]) if owner[node.name] == first
                      else exp.func("COALESCE", exp.column(node.name, owner[node.name]),
                                    exp.Literal.number(0)))
        if isinstance(node, exp.Column) else node)
    outer = exp.select(*[exp.column(d, first) for d in dims],
                       exp.alias_(formula, query.metric)).from_(first)
    if dims:  # a group with nothing to divide by has no value: left out, not shown as blank
        outer = outer.where(exp.Not(this=exp.Is(this=formula.copy(), expression=exp.Null())))
    for name, _ in ctes[1:]:  # the first fact has a row for every group: sales has zeros
        on = exp.and_(*[exp.EQ(this=exp.column(d, first), expression=exp.column(d, name))
                        for d in dims]) if dims else None
        outer = outer.join(name, on=on, join_type="LEFT") if on else outer.join(name, join_type="CROSS")
    for name, select in ctes:
        outer = outer.with_(name, as_=select)
    if query.order != "none":
        direction = query.order == "highest"
        outer = outer.order_by(exp.Ordered(this=exp.column(query.metric), desc=direction,
                                           nulls_first=not direction))
    elif dims:
        outer = outer.order_by(*[exp.column(d, first) for d in dims])
    if query.limit:
        outer = outer.limit(query.limit)
    return outer.sql(dialect="sqlite", pretty=True)


def _dimension_sql(layer: Layer, dimension: str, fact: dict) -> exp.Expression:
    spec = layer.dimensions[dimension]
    if "time" in spec:  # written over a column `day`: read as the fact's own date column
        return sqlglot.parse_one(spec["time"], read="sqlite").transform(
            lambda node: exp.column(fact["time"], fact["table"])
            if isinstance(node, exp.Column) and node.name == "day" else node)
    column = spec["column"]
    return exp.column(column, fact["table"] if column == "store" else "products")


def _filter_sql(dimension: str, value: str, table: str) -> exp.Expression:
    if dimension == "store":
        return exp.EQ(this=exp.column("store", table), expression=exp.Literal.string(value))
    if dimension == "product":
        needle = exp.Literal.string(f"%{value.strip().lower()}%")
        return exp.or_(*[exp.Like(this=exp.Lower(this=exp.column(c, "products")),
                                  expression=needle) for c in ("name", "model", "aliases")])
    return exp.EQ(this=exp.column(dimension, "products"), expression=exp.Literal.string(value))
