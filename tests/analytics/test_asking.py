"""Both answering modes, end to end: a model's query or SQL in, a checked result and words out.
A scripted model where a test needs one specific reply; the embedded model for the real path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from store_assistant.analytics.asking import (ask_numbers, format_value, query_schema,
                                              semantic_messages)
from store_assistant.analytics.keywords import find_terms, keyword_query
from store_assistant.analytics.layer import MetricQuery
from store_assistant.analytics.readonly import run_sql
from tests.fakes import ScriptedGateway


def query_json(**fields) -> str:
    base = {"action": "answer", "metric": "units_sold", "group_by": [], "store": "",
            "category": "", "brand": "", "product": "", "period": "all", "order": "none",
            "limit": 0}
    return json.dumps({**base, **fields})


def test_a_semantic_query_is_compiled_run_and_told_from_the_rows(sales_db, layer) -> None:
    model = ScriptedGateway(query_json(store="westside", category="tvs", product="OLED",
                                       period="last_month"))
    answer = ask_numbers("How many OLED TVs did Westside sell last month?", "sql-semantic",
                         model, sales_db, layer)
    (units,), = answer.result.rows
    assert answer.error is None and answer.refusal is None
    assert answer.words == (f"Units sold (westside, tvs, products matching \"OLED\", "
                            f"Nov 1, 2026 to Nov 30, 2026): {units:,}.")
    assert "westside" in answer.sql and answer.metric.name == "units_sold"
    # The model was shown the catalog and the layer's words it found in the question.
    sent = model.sent[0][-1]["content"]
    assert "'westside' = store westside" in sent and "'last month' = period last_month" in sent


def test_the_reply_is_held_to_a_schema_of_the_layer_names(layer) -> None:
    schema = query_schema(layer)
    assert schema["properties"]["metric"]["enum"] == list(layer.metrics)
    assert "westside" in schema["properties"]["store"]["enum"]
    assert "last_month" in schema["properties"]["period"]["enum"]
    assert set(schema["required"]) == set(schema["properties"])


@pytest.mark.parametrize("reply, words", [
    ("not json at all", "not a metric query"),
    (query_json(metric="profit"), "No metric 'profit'"),
    (query_json(product="Zune"), "No product's name, model or alias contains 'Zune'"),
    (query_json(metric="stock_on_hand", group_by=["month"]), "cannot be broken down"),
])
def test_a_reply_that_does_not_validate_is_an_error_in_words(sales_db, layer, reply,
                                                            words) -> None:
    answer = ask_numbers("anything", "sql-semantic", ScriptedGateway(reply), sales_db, layer)
    assert answer.result is None and words in answer.error
    assert answer.words.startswith("I could not get that number:")


def test_the_layers_refusal_words_are_decided_by_code_before_any_model(sales_db, layer) -> None:
    model = ScriptedGateway()  # raises if asked
    answer = ask_numbers("Delete last month's returns", "sql-semantic", model, sales_db, layer)
    assert answer.refusal == "write_request" and answer.sql is None and answer.path == "data"
    assert "only reads" in answer.words
    answer = ask_numbers("What is the email of the buyer of the LG C3?", "sql-semantic", model,
                         sales_db, layer)
    assert answer.refusal == "personal_data" and model.sent == []
    answer = ask_numbers("How much profit did Westside make last month?", "sql-semantic", model,
                         sales_db, layer)  # "profit" is one of the layer's missing_words
    assert answer.refusal == "no_such_metric" and model.sent == []


def test_no_such_metric_is_the_models_call(sales_db, layer) -> None:
    model = ScriptedGateway(query_json(action="refuse_no_metric"))
    answer = ask_numbers("How did the weather affect us?", "sql-semantic", model, sales_db, layer)
    assert answer.refusal == "no_such_metric" and answer.path == "model"
    assert "no cost, margin, footfall" in answer.words


def test_raw_sql_runs_when_it_is_one_select(sales_db, layer) -> None:
    reply = "```sql\nSELECT store, SUM(units) FROM daily_sales GROUP BY store\n```"
    answer = ask_numbers("units by store", "sql-raw", ScriptedGateway(reply), sales_db, layer)
    assert answer.result.columns == ["store", "SUM(units)"] and len(answer.result.rows) == 3


@pytest.mark.parametrize("reply", ["DROP TABLE daily_sales", "SELECT 1; DELETE FROM returns",
                                   "PRAGMA writable_schema = 1",
                                   "UPDATE stock SET on_hand = 0"])
def test_raw_sql_that_writes_is_blocked_and_the_data_is_unchanged(sales_db, layer, reply) -> None:
    before = run_sql(sales_db, "SELECT COUNT(*), SUM(units) FROM returns").rows
    answer = ask_numbers("tidy up", "sql-raw", ScriptedGateway(reply), sales_db, layer)
    assert answer.refusal == "blocked" and answer.result is None
    assert run_sql(sales_db, "SELECT COUNT(*), SUM(units) FROM returns").rows == before


def test_raw_refuse_is_a_refusal(sales_db, layer) -> None:
    answer = ask_numbers("customer emails", "sql-raw", ScriptedGateway("REFUSE"), sales_db, layer)
    assert answer.refusal == "refused"


def test_the_embedded_model_fills_a_valid_query(sales_db, layer, gateway) -> None:
    """The real path: llama.cpp's grammar holds the embedded model to the schema, so whatever it
    picks is a query the layer can compile (right or wrong is the evaluation's business)."""
    answer = ask_numbers("What was the revenue at downtown last month?", "sql-semantic", gateway,
                         sales_db, layer)
    assert answer.error is None, answer.model_output
    assert json.loads(answer.model_output)["metric"] in layer.metrics
    assert answer.refusal or answer.result is not None


def test_keywords_alone_read_the_briefs_question(sales_db, layer) -> None:
    query, refusal = keyword_query(layer, "How many OLED TVs did Westside sell last month?",
                                   sales_db)
    assert refusal is None
    assert query == MetricQuery("units_sold", store="westside", category="tvs", product="OLED",
                                period="last_month")
    assert keyword_query(layer, "Please delete the returns", sales_db) == (None, "write_request")
    assert keyword_query(layer, "What is our gross margin?", sales_db) == (None, "no_such_metric")


@pytest.mark.parametrize("value, unit, shown", [(1234.5, "money", "$1,234.50"),
                                                (0.1206, "ratio", "12.1%"),
                                                (2.514, "multiple", "2.51x"), (21, "count", "21"),
                                                (None, "ratio", "no value (nothing to divide by)")])
def test_values_are_shown_in_their_unit(value, unit, shown) -> None:
    assert format_value(value, unit) == shown
