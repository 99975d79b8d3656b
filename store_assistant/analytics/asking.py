"""Answer a manager's data question: the model writes a metric query or raw SQL, code runs it.

Two modes, measured against each other on the scorecard:
- `sql-semantic`: the model fills a small JSON metric query, held to a JSON schema by llama.cpp's
  grammar (`response_format` for remote models); the layer compiles it to SQL.
- `sql-raw`: the model writes SQL from the schema; the read-only guard decides if it may run.
The words of the answer are written by code from the rows, so a number in the sentence is always
the number in the table. Trade-off: the sentence is plain ("Units sold ...: 21"), never chatty.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from store_assistant.analytics.keywords import find_terms, keyword_query
from store_assistant.analytics.layer import (FILTER_DIMENSIONS, TIME_DIMENSIONS, Layer, Metric,
                                             MetricQuery, QueryError, compile_query)
from store_assistant.analytics.readonly import Result, UnsafeQuery, run_sql
from store_assistant.analytics.sales import SCHEMA
from store_assistant.templates import few_shot_examples, render

if TYPE_CHECKING:
    from store_assistant.inference.gateway import Gateway

MODES = ("sql-semantic", "sql-raw")
REFUSALS = ("no_such_metric", "personal_data", "write_request")
_ACTIONS = {"answer": None, "refuse_no_metric": "no_such_metric",
            "refuse_personal_data": "personal_data", "refuse_write": "write_request"}
MAX_TOKENS = {"sql-semantic": 160, "sql-raw": 320}  # a query is short; more is a runaway
# Refused by code before any model is asked, on the layer's explicit words: a write ("delete"),
# personal data ("which customer"), or a number the store does not keep ("profit", the layer's
# missing_words). A question with no metric word at all is the model's to weigh.


@dataclass
class NumbersAnswer:
    """What came back for one question: a result, a refusal, or an error in words."""
    question: str
    mode: str
    model: str | None
    words: str = ""
    query: MetricQuery | None = None
    sql: str | None = None
    result: Result | None = None
    refusal: str | None = None  # one of REFUSALS, or "blocked" when the guard refused the SQL
    error: str | None = None  # the model's query or SQL did not validate or run
    metric: Metric | None = None
    model_output: str = ""
    path: str = "model"  # "data": decided by code, no model asked
    latency_ms: float = 0.0
    usage: dict = field(default_factory=dict)

    @property
    def answered(self) -> bool:
        return self.result is not None

    def as_dict(self) -> dict[str, Any]:
        return {"question": self.question, "mode": self.mode, "model": self.model,
                "words": self.words, "query": self.query.as_dict() if self.query else None,
                "sql": self.sql, "refusal": self.refusal, "error": self.error,
                "metric": ({"name": self.metric.name, "version": self.metric.version,
                            "definition": self.metric.description} if self.metric else None),
                "columns": self.result.columns if self.result else None,
                "rows": [list(r) for r in self.result.rows] if self.result else None,
                "truncated": self.result.truncated if self.result else None,
                "model_output": self.model_output, "path": self.path,
                "latency_ms": round(self.latency_ms, 1)}


def ask_numbers(question: str, mode: str, gateway: "Gateway", database: Path | str,
                layer: Layer) -> NumbersAnswer:
    """One question through one mode. A model failure (timeout, busy) is raised as ModelError;
    a query that does not validate or run comes back as an answer with `error` set."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    question = " ".join(question.split())
    started = time.perf_counter()
    answer = NumbersAnswer(question, mode, gateway.model)
    if mode == "sql-semantic":
        refusal = next((t.value for t in find_terms(layer, question, database)
                        if t.dimension == "refuse"), None)
        if refusal:  # the layer's own words decide it: no model may talk past a refusal
            answer.path = "data"
            run_query(answer, None, database, layer, refusal)
            answer.latency_ms = (time.perf_counter() - started) * 1000
            answer.words = describe(answer, layer)
            return answer
        completion = gateway.complete(semantic_messages(layer, question, database),
                                      max_tokens=MAX_TOKENS[mode],
                                      response_format={"type": "json_object",
                                                       "schema": query_schema(layer)})
        answer.model_output = completion.text
        _run_semantic(answer, completion.text, database, layer)
    else:
        completion = gateway.complete(raw_messages(layer, question), max_tokens=MAX_TOKENS[mode])
        answer.model_output = completion.text
        _run_raw(answer, completion.text, database)
    answer.usage = completion.usage
    answer.latency_ms = (time.perf_counter() - started) * 1000
    answer.words = describe(answer, layer)
    return answer


def run_query(answer: NumbersAnswer, query: MetricQuery | None, database: Path | str,
              layer: Layer, refusal: str | None = None) -> NumbersAnswer:
    """Compile and run a metric query (or record the refusal) into `answer`: the step every
    semantic answer shares, whoever chose the query (a model, or the keyword control)."""
    if refusal:
        answer.refusal = refusal
        return answer
    answer.query = query
    try:
        answer.metric = layer.metrics.get(query.metric)
        answer.sql = compile_query(layer, query)
        if query.product and not matching_products(database, query.product):
            raise QueryError(f"No product's name, model or alias contains {query.product!r}.")
        answer.result = run_sql(database, answer.sql)
    except (QueryError, UnsafeQuery) as exc:
        answer.error = str(exc)
    return answer


def _run_semantic(answer: NumbersAnswer, text: str, database: Path | str, layer: Layer) -> None:
    try:
        raw = json.loads(text)
        refusal = _ACTIONS[raw["action"]]
        query = MetricQuery(metric=raw["metric"], group_by=tuple(raw.get("group_by") or ()),
                            **{d: str(raw.get(d) or "").strip() for d in FILTER_DIMENSIONS},
                            period=raw.get("period") or "all", order=raw.get("order") or "none",
                            limit=int(raw.get("limit") or 0))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        answer.error = f"The model's reply is not a metric query ({type(exc).__name__}: {exc})."
        return
    run_query(answer, query, database, layer, refusal)


_FENCE = re.compile(r"```(?:sql|sqlite)?\s*(.*?)```", re.S | re.I)
_START = re.compile(r"\b(WITH|SELECT)\b", re.I)


def _run_raw(answer: NumbersAnswer, text: str, database: Path | str) -> None:
    fenced = _FENCE.search(text)
    sql = (fenced.group(1) if fenced else text).strip()
    start = _START.search(sql)
    if re.fullmatch(r"\W*REFUSE\W*", sql, re.I) or (start is None and "REFUSE" in sql.upper()):
        answer.refusal = "refused"
        return
    if start is not None and not re.match(r"\s*(INSERT|UPDATE|DELETE|DROP|PRAGMA|ATTACH|CREATE|"
                                          r"ALTER|REPLACE)\b", sql, re.I):
        sql = sql[start.start():]
    answer.sql = sql
    try:
        answer.result = run_sql(database, sql)
    except UnsafeQuery as exc:
        if exc.kind == "write":
            answer.refusal = "blocked"
        answer.error = str(exc)


def matching_products(database: Path | str, text: str) -> int:
    needle = f"%{text.strip().lower()}%"
    return run_sql(database, "SELECT COUNT(*) FROM products WHERE lower(name) LIKE ? OR "
                             "lower(model) LIKE ? OR lower(aliases) LIKE ?",
                   (needle, needle, needle)).rows[0][0]


# --- prompts ----------------------------------------------------------------------------------

def query_schema(layer: Layer) -> dict:
    """The JSON schema the model's reply must match: every name it may use is an enum."""
    return {"type": "object",
            "properties": {
                "action": {"type": "string", "enum": list(_ACTIONS)},
                "metric": {"type": "string", "enum": list(layer.metrics)},
                "group_by": {"type": "array", "maxItems": 2,
                             "items": {"type": "string",
                                       "enum": [*FILTER_DIMENSIONS, *TIME_DIMENSIONS]}},
                "store": {"type": "string", "enum": ["", *layer.values("store")]},
                "category": {"type": "string", "enum": ["", *layer.values("category")]},
                "brand": {"type": "string", "enum": ["", *layer.values("brand")]},
                "product": {"type": "string", "maxLength": 40},
                "period": {"type": "string", "enum": list(layer.periods())},
                "order": {"type": "string", "enum": ["none", "highest", "lowest"]},
                "limit": {"type": "integer", "minimum": 0, "maximum": 50}},
            "required": ["action", "metric", "group_by", "store", "category", "brand", "product",
                         "period", "order", "limit"]}


def semantic_messages(layer: Layer, question: str,
                      database: Path | str | None = None) -> list[dict[str, str]]:
    """The system prompt (the catalog, then worked examples) and the question, each question
    followed by the catalog's words found in it (`keywords.find_terms`) for the model to use."""
    periods = layer.periods()
    named = ", ".join(f"{name} ({a} to {b})" for name, (a, b) in periods.items()
                      if not name[0].isdigit())
    system = render(
        "analytics_semantic", today=layer.as_of.isoformat(),
        first_day=periods["all"][0].isoformat(), last_day=periods["all"][1].isoformat(),
        metrics="\n".join(f"- {m.name}: {m.description} ({', '.join(m.synonyms)})"
                          for m in layer.metrics.values()),
        stores=", ".join(layer.values("store")),
        categories="; ".join(f"{c} ({', '.join(words)})" for c, words in
                             layer.dimensions["category"]["values"].items()),
        brands=", ".join(layer.values("brand")),
        periods=f"{named}; or a month as YYYY-MM, or a quarter as YYYY-Qn "
                f"({min(p for p in periods if p[0].isdigit())} to "
                f"{max(p for p in periods if p[0].isdigit())}).",
        examples="\n".join(f"Q: {_with_terms(layer, e.question, database)}\nA: {e.answer}"
                           for e in few_shot_examples("analytics_examples")))
    return [{"role": "system", "content": system},
            {"role": "user", "content": _with_terms(layer, question, database)}]


def _with_terms(layer: Layer, question: str, database: Path | str | None) -> str:
    """The question, the layer's words found in it, and the draft query those words alone make
    (`keywords.keyword_query`): the model keeps what is right and fixes what is not."""
    terms = find_terms(layer, question, database)
    found = "; ".join(str(t) for t in terms) if terms else "none"
    return f"{question}\n(Catalog words found: {found})\nDraft: {draft_json(layer, question, database)}"


def draft_json(layer: Layer, question: str, database: Path | str | None) -> str:
    query, refusal = keyword_query(layer, question, database)
    action = next((a for a, r in _ACTIONS.items() if r == refusal), "answer")
    fields = (query or MetricQuery(next(iter(layer.metrics)))).as_dict()
    return json.dumps({"action": action, "metric": fields["metric"],
                       "group_by": fields["group_by"],
                       **{d: fields.get(d, "") for d in FILTER_DIMENSIONS},
                       "period": fields["period"], "order": fields["order"],
                       "limit": fields["limit"]}, separators=(",", ":"))


def raw_messages(layer: Layer, question: str) -> list[dict[str, str]]:
    schema = "\n".join(line for line in SCHEMA.strip().splitlines()
                       if "meta" not in line and "INDEX" not in line)
    first, last = layer.periods()["all"]
    system = render("analytics_raw", today=layer.as_of.isoformat(), first_day=first.isoformat(),
                    last_day=last.isoformat(), schema=schema)
    return [{"role": "system", "content": system}, {"role": "user", "content": question}]


# --- words ------------------------------------------------------------------------------------

def describe(answer: NumbersAnswer, layer: Layer) -> str:
    """The answer in one or two sentences, every number taken from the result rows."""
    if answer.refusal == "blocked":
        return f"The SQL the model wrote was not run: {answer.error}"
    if answer.refusal:
        if answer.refusal in layer.refusals:
            return f"I can't answer that: {layer.refusals[answer.refusal]}"
        return "I can't answer that from the sales data."
    if answer.error:
        return f"I could not get that number: {answer.error}"
    rows, columns = answer.result.rows, answer.result.columns
    if not rows:
        return "No rows matched."
    unit = answer.metric.unit if answer.metric else "count"
    label = answer.metric.label if answer.metric else (columns[-1] if columns else "Result")
    scope = _scope(answer.query, layer)
    if len(rows) == 1 and len(columns) == 1:
        return f"{label}{scope}: {format_value(rows[0][0], unit)}."
    if len(columns) == 1:
        return f"{label}{scope}: " + ", ".join(format_value(r[0], unit) for r in rows[:5]) + "."
    shown = [f"{' / '.join(str(c) for c in r[:-1])}: {format_value(r[-1], unit)}"
             for r in rows[:5]]
    more = f" (and {len(rows) - 5} more rows in the table)" if len(rows) > 5 else ""
    return f"{label}{scope}: " + "; ".join(shown) + more + "."


def _scope(query: MetricQuery | None, layer: Layer) -> str:
    if query is None:
        return ""
    parts = [f"{v}" if d != "product" else f"products matching \"{v}\""
             for d, v in query.filters().items()]
    start, end = layer.periods()[query.period]
    parts.append(f"{start:%b %-d, %Y} to {end:%b %-d, %Y}")
    if query.group_by:
        parts.insert(0, "by " + " and ".join(query.group_by))
    return " (" + ", ".join(parts) + ")"


def format_value(value: Any, unit: str) -> str:
    """'$1,234.50', '12.1%', '1.85x' or '1,204': how a manager reads each unit."""
    if value is None:
        return "no value (nothing to divide by)"
    if not isinstance(value, (int, float)):
        return str(value)
    if unit == "money":
        return f"${value:,.2f}"
    if unit == "ratio":
        return f"{value:.1%}"
    if unit == "multiple":
        return f"{value:.2f}x"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
