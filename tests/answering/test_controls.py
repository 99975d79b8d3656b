"""The control arms: the RAG pipeline with no language model in it, on the real store data."""

from __future__ import annotations

from datetime import date

from store_assistant.answering.controls import ExtractiveModel, best_sentences
from store_assistant.answering.strategies import STRATEGIES, build_strategy
from store_assistant.config import Settings
from store_assistant.templates import render

TODAY = date(2026, 12, 1)


def test_the_extractive_rule_returns_the_facts_and_the_closest_sentences() -> None:
    system = "Guidelines.\n\n" + render(
        "rag", facts="- Bose QC Ultra (SKU 6554800): price $429.00; in stock: downtown 2.",
        context="[Bose QC Ultra > Specifications]\nWeight: 250 g. Battery: up to 24 hours "
                "per charge. Bluetooth 5.3 with multipoint.")
    text = ExtractiveModel().write([{"role": "system", "content": system},
                                    {"role": "user", "content": "How long does the battery last?"}])
    assert text == ("Bose QC Ultra (SKU 6554800): price $429.00; in stock: downtown 2. "
                    "Battery: up to 24 hours per charge.")
    assert best_sentences("What is the warranty?", "[A > B]\nBattery: up to 24 hours.") == []


def test_controls_are_evaluation_arms_not_staff_strategies(store_settings: Settings,
                                                          gateway) -> None:
    assert not {"control-null", "control-extractive"} & set(STRATEGIES)
    null = build_strategy("control-null", gateway, store_settings, today=TODAY)
    assert null.gateway.model == "control/null" and null.name == "control-null"


def test_the_null_control_answers_only_what_code_answers(store_settings: Settings,
                                                         gateway) -> None:
    null = build_strategy("control-null", gateway, store_settings, today=TODAY)
    lookup = null.answer("Is the MacBook Air 13 128GB in stock at Downtown?")
    assert lookup.path == "data" and "5465502" in lookup.text
    spec = null.answer("How long does the Bose QuietComfort Ultra battery last?")
    # a manual question: the code's best line quoted, with no verdict (the model wrote nothing)
    assert spec.path == "fallback" and "evidence:unreadable" in spec.flags
    assert spec.raw_text == "" and "24 hours" in spec.text


def test_the_extractive_control_quotes_the_store_data(store_settings: Settings, gateway) -> None:
    extractive = build_strategy("control-extractive", gateway, store_settings, today=TODAY)
    answer = extractive.answer("What's the return window for Volt Plus members?")
    assert answer.usage == {} and answer.path == "fallback"  # no model: the best line, quoted
    assert "30 days" in answer.text, answer.text
