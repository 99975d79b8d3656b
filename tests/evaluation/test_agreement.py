"""Hand labels and the metric's agreement with them: the file's checks, kappa, and the misses."""

from __future__ import annotations

import pytest

from store_assistant.errors import DataError
from store_assistant.evaluation.agreement import (agreement, cohen_kappa, load_labels,
                                                  sample, summary)
from store_assistant.evaluation.golden import Fact, GoldenCase, load_cases
from store_assistant.evaluation.reading import taught

AIR = "5465502"  # MacBook Air 13 128GB: $999.99


def test_cohen_kappa_on_known_tables() -> None:
    assert cohen_kappa([True, False] * 5, [True, False] * 5) == pytest.approx(1.0)
    # 20 items: both yes 8, both no 8, disagree 4 (2 each way): p_o 0.8, p_e 0.5 -> 0.6
    a = [True] * 10 + [False] * 10
    b = [True] * 8 + [False] * 2 + [True] * 2 + [False] * 8
    assert cohen_kappa(a, b) == pytest.approx(0.6)
    assert cohen_kappa([True] * 4, [True] * 4) is None  # chance agreement 1: undefined, not 0
    assert cohen_kappa([], []) is None


def write(tmp_path, text: str):
    path = tmp_path / "labels.yaml"
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """- case: price-001
  arm: rag-hybrid
  run: r1
  path: data
  answer: The MacBook Air 13 (SKU 5465502) is $999.99.
  label: correct
  reason: the price is the inventory's
"""


def test_bad_labels_are_named_and_nothing_is_loaded(tmp_path) -> None:
    cases = {c.id: c for c in load_cases()}
    assert len(load_labels(write(tmp_path, GOOD), cases)) == 1
    bad = GOOD.replace("label: correct", "label: maybe").replace(
        "reason: the price is the inventory's", "reason: ''") + GOOD.replace(
        "price-001", "price-999") + "- {case: price-001, arm: x, run: r, answer: a, label: wrong, reason: r, note: 1}\n"
    with pytest.raises(DataError) as error:
        load_labels(write(tmp_path, bad), cases)
    message = str(error.value)
    assert "4 problem(s)" in message and "label must be one of" in message
    assert "needs a one-line reason" in message and "unknown case 'price-999'" in message
    assert "unknown key(s) ['note']" in message


@pytest.fixture(scope="module")
def world(store_settings):
    from store_assistant.evaluation.runner import world_for

    return world_for(store_settings)


def test_agreement_counts_the_metrics_misses(world, tmp_path) -> None:
    cases = {c.id: c for c in load_cases()}
    labels = load_labels(write(tmp_path, GOOD + GOOD.replace(
        "is $999.99.", "is $899.99.").replace("label: correct", "label: wrong") + GOOD.replace(
        "is $999.99.", "is about a thousand dollars.").replace("label: correct", "label: partly")
        + GOOD.replace("label: correct", "label: wrong")), cases)
    found = agreement(labels, cases, world)
    assert found["n"] == 4 and found["labels"] == {"correct": 1, "partly": 1, "wrong": 2}
    assert found["agree"] == 3 and found["precision"] == pytest.approx(0.5)
    assert found["recall"] == pytest.approx(1.0)
    assert [m["label"] for m in found["misses"]] == ["wrong"]  # the last: the metric says correct
    assert "against 4 hand-labelled answers" in summary(found)


def test_a_sample_spreads_over_arms_and_skips_labelled_answers() -> None:
    answers = [{"case_id": f"c{i}", "arm": arm, "text": "t", "path": "model", "repeat": 0}
               for arm in ("a", "b") for i in range(6)]
    categories = {f"c{i}": "price" if i < 3 else "policy" for i in range(6)}
    picked = sample(answers, "run-1", 4, categories, skip={("c0", "a")})
    assert len(picked) == 4 and {p["arm"] for p in picked} == {"a", "b"}
    assert {categories[p["case"]] for p in picked} == {"price", "policy"}
    assert ("c0", "a") not in {(p["case"], p["arm"]) for p in picked}
    assert all(p["run"] == "run-1" and p["label"] == "" for p in picked)


def test_taught_means_every_fact_is_in_a_training_answer_about_that_product() -> None:
    case = GoldenCase(id="price-x", category="price", split="heldout", question="Air price?",
                      reference="$999.99", facts=(Fact("price", 999.99),), sources=(AIR,))

    def record(source: str, answer: str) -> dict:
        return {"source": source, "messages": [{"role": "user", "content": "q"},
                                               {"role": "assistant", "content": answer}]}
    assert taught(case, [record(f"inventory:price:{AIR}", "It's $999.99.")])
    assert not taught(case, [record("inventory:price:1234567", "It's $999.99.")])  # other product
    assert not taught(case, [record(f"inventory:price:{AIR}", "It's $899.99.")])  # other figure
    silent = GoldenCase(id="nc-x", category="not-carried", split="heldout", question="Drones?",
                        reference="No.", facts=(), sources=())
    assert not taught(silent, [record("taxonomy:skills/declining/not-carried", "No.")])
    policy = GoldenCase(id="pol-x", category="policy", split="heldout", question="Window?",
                        reference="15 days", facts=(Fact("number", 15, unit="days"),),
                        sources=("policy:returns#return-windows",))
    assert taught(policy, [record("taxonomy:knowledge/policies/returns", "15 days.")])
    assert not taught(policy, [record("taxonomy:knowledge/policies/warranty", "15 days.")])
