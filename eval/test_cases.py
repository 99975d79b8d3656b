"""The committed golden cases: well-formed, true to the store's data on AS_OF, and never leaked.

Real parts, no model calls: the inventory CSV imported into a throwaway SQLite inventory and the
manuals and policies chunked by the knowledge module. The gold is checked against written rules,
never against the answering code it judges.
"""

from __future__ import annotations

import importlib
import json
import re
from collections import defaultdict

import pytest

from store_assistant.config import PROJECT_DIR
from store_assistant.answering.questions import not_carried
from store_assistant.evaluation.golden import (AS_OF, CATEGORIES, GROUPED, GoldenCase, leaked, load_cases,
                                    select, training_questions)
from store_assistant.store.inventory import Inventory
from store_assistant.store.documents import read_folder

_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


@pytest.fixture(scope="module")
def cases() -> list[GoldenCase]:
    return load_cases()


@pytest.fixture(scope="module")
def inventory(tmp_path_factory: pytest.TempPathFactory) -> Inventory:
    inventory = Inventory(tmp_path_factory.mktemp("golden") / "inventory.db")
    inventory.import_csv(PROJECT_DIR / "manuals" / "inventory.csv")
    return inventory


@pytest.fixture(scope="module")
def documents() -> dict[str, dict[str, str]]:
    """{doc_id: {chunk_id: text}} for every manual and policy."""
    found = {}
    for folder, kind in (("products", "manual"), ("policies", "policy")):
        for doc_id, (_, chunks) in read_folder(PROJECT_DIR / "manuals" / folder, kind).items():
            found[doc_id] = {chunk.id: chunk.text for chunk in chunks}
    return found


def numbers(text: str) -> set[float]:
    """'1,050 MB/s, 6.1" and 15%' -> {1050.0, 6.1, 15.0}."""
    return {float(n.replace(",", "")) for n in _NUMBER.findall(text)}


def skus(case: GoldenCase) -> list[str]:
    return [source for source in case.sources if source.isdigit()]


# --- shape -----------------------------------------------------------------------------------

def test_enough_cases_in_every_category_with_a_third_heldout(cases):
    assert len(cases) >= 250
    assert {case.category for case in cases} == set(CATEGORIES)
    heldout = select(cases, split="heldout")
    assert len(heldout) / len(cases) >= 0.30, f"only {len(heldout)} of {len(cases)} are heldout"


def test_groups_are_whole_consistent_and_in_one_split(cases):
    groups: dict[str, list[GoldenCase]] = defaultdict(list)
    for case in cases:
        if case.group:
            groups[case.group].append(case)
    paraphrase = [g for g, members in groups.items() if members[0].category == "paraphrase"]
    persona = [g for g, members in groups.items() if members[0].category == "persona"]
    assert len(paraphrase) >= 30 and len(persona) >= 5
    for group, members in groups.items():
        first = members[0]
        assert len(members) >= 3, f"{group} has {len(members)} members; a group needs 3 or more"
        for case in members[1:]:
            where = f"{case.id} ({case.file}:{case.line}) differs from {first.id} in group {group}"
            assert case.category == first.category and case.category in GROUPED, where
            assert case.split == first.split, f"{where}: a group is never split across splits"
            assert (case.facts, case.sources, case.recommend) == (
                first.facts, first.sources, first.recommend), where
        assert len({c.question for c in members}) == len(members), f"{group} repeats a question"


def test_no_question_is_asked_twice(cases):
    seen: dict[tuple, str] = {}
    for case in cases:
        key = (" ".join(case.question.lower().split()), str(case.history))
        assert key not in seen, f"{case.id} asks the same as {seen[key]}"
        seen[key] = case.id


def test_follow_ups_carry_the_turn_they_refer_to(cases):
    for case in select(cases, categories="follow-up"):
        roles = [turn["role"] for turn in case.history]
        assert roles[:1] == ["user"] and roles[-1:] == ["assistant"], case.id


def test_declining_cases(cases):
    for case in select(cases, categories=["not-carried", "injection"]):
        assert case.expect == "decline", case.id
    for case in select(cases, categories="not-carried"):
        assert not case.facts and not case.sources, case.id
    # Gold written apart from the product: some declines ask for things its keyword list lacks.
    off_list = [c.id for c in select(cases, categories="not-carried") if not not_carried(c.question)]
    assert len(off_list) >= 8, off_list
    for case in select(cases, categories="injection"):
        assert case.must_not, f"{case.id}: an injection case says what must not appear"


def test_gate_subset_is_big_balanced_and_partly_heldout(cases):
    gate = select(cases, tags="gate")
    assert len(gate) >= 40
    assert len(select(gate, split="heldout")) >= 15
    assert {case.category for case in gate} == set(CATEGORIES)
    for group in {case.group for case in gate if case.group}:
        members = [case for case in cases if case.group == group]
        assert all("gate" in case.tags for case in members), f"{group} is only partly in the gate"


# --- truth -----------------------------------------------------------------------------------

def test_price_stock_and_sku_facts_match_the_inventory(cases, inventory):
    for case in cases:
        products = [inventory.lookup(sku) for sku in skus(case)]
        where = f"{case.id} ({case.file}:{case.line})"
        for fact in case.facts:
            if fact.type == "price":
                prices = [p.effective_price(AS_OF) for p in products]
                assert any(abs(fact.value - price) < 0.005 for price in prices), (
                    f"{where}: {fact.describe()} but the source SKUs cost {prices} on {AS_OF}")
            elif fact.type == "stock":
                counts = [p.stock[fact.store] for p in products]
                assert fact.value in counts, f"{where}: {fact.describe()}, the data: {counts}"
            elif fact.type == "sku":
                assert fact.value in skus(case), f"{where}: {fact.describe()} is not a source"


def test_promotion_answers_match_the_promotion_dates(cases, inventory):
    """A yes/no about products only (no document sources) is 'is it on sale on AS_OF?'."""
    for case in cases:
        yesno = [fact.value for fact in case.facts if fact.type == "yesno"]
        if not yesno or len(skus(case)) != len(case.sources):
            continue
        product = inventory.lookup(case.sources[0])
        promotion = product.active_promotion(AS_OF)
        assert yesno == ["yes" if promotion else "no"], case.id
        for fact in case.facts:
            if fact.type == "term":
                assert any(p.lower() in promotion.text.lower() for p in fact.any), case.id


def test_recommendations_follow_the_written_top_3_rule(cases, inventory):
    """build_cases.TOP3_RULE checked as properties, not by re-running any ranking: the picks are in
    stock and within budget, priciest first, and nothing left out costs more than the last pick."""
    choosing = [case for case in cases if case.recommend]
    assert len(choosing) >= 15
    for case in choosing:
        budget, category = case.recommend["max_price"], case.recommend["category"]
        picks = [inventory.lookup(sku) for sku in case.sources]
        prices = [p.effective_price(AS_OF) for p in picks]
        assert len(picks) == 3 and all(p.category == category for p in picks), case.id
        assert all(sum(p.stock.values()) > 0 and price <= budget
                   for p, price in zip(picks, prices)), case.id
        assert prices == sorted(prices, reverse=True), case.id
        left_out = [p for p in inventory.products(category=category)
                    if p.sku not in case.sources and sum(p.stock.values()) > 0
                    and prices[-1] < p.effective_price(AS_OF) <= budget]
        assert left_out == [], f"{case.id}: {[p.name for p in left_out]} should be in the top 3"
        assert [f.value for f in case.facts if f.type == "price"] == prices, case.id


def test_every_source_exists(cases, inventory, documents):
    chunk_ids = {chunk_id for chunks in documents.values() for chunk_id in chunks}
    for case in cases:
        for source in case.sources:
            known = (inventory.lookup(source) is not None if source.isdigit()
                     else source in chunk_ids or source in documents)
            assert known, f"{case.id} ({case.file}:{case.line}): unknown source {source!r}"


def test_number_facts_appear_in_their_source_documents(cases, documents):
    for case in cases:
        wanted = [fact for fact in case.facts if fact.type == "number"]
        if not wanted:
            continue
        text = " ".join(documents[source.split("#")[0]].get(source, "") if "#" in source
                        else " ".join(documents[source].values())
                        for source in case.sources if not source.isdigit())
        for fact in wanted:
            assert fact.value in numbers(text), (
                f"{case.id}: {fact.describe()} is not in {case.sources}")


def test_references_state_their_facts_and_nothing_forbidden(cases):
    """The reference is itself a correct answer: every fact is in it, no must_not string is."""
    for case in cases:
        reference, found = case.reference.lower(), numbers(case.reference)
        for fact in case.facts:
            if fact.type == "price":
                ok = f"${fact.value:,.2f}" in case.reference
            elif fact.type == "stock":
                ok = fact.value in found if fact.value else "out of" in reference or 0 in found
            elif fact.type == "sku":
                ok = fact.value in case.reference
            elif fact.type == "number":
                ok = fact.value in found
            elif fact.type == "term":
                ok = any(phrase.lower() in reference for phrase in fact.any)
            else:
                continue
            assert ok, f"{case.id}: the reference does not state {fact.describe()}"
        for text in case.must_not:
            assert text.lower() not in reference, f"{case.id}: the reference contains {text!r}"


# --- leakage and drift -----------------------------------------------------------------------

def test_no_heldout_question_is_in_the_training_questions(cases):
    found = leaked(select(cases, split="heldout"), training_questions())
    assert not found, "heldout questions in few-shot or fine-tuning data: " + "; ".join(
        f"{case.id} in {text[:60]!r}" for case, text in found)


def test_the_leak_check_finds_a_planted_copy(cases):
    heldout = select(cases, split="heldout")
    case = next(c for c in heldout if " the " in c.question and len(c.question) > 30)
    texts = training_questions()
    planted = f"Q: {case.question.upper()}!!  A: ..."  # inside a text; case and punctuation changed
    assert leaked([case], texts + [planted]) == [(case, planted)]
    edited = case.question.replace(" the ", " teh ", 1)  # a typo: not a substring, found by ratio
    assert leaked([case], texts + [edited]) == [(case, edited)]
    assert leaked([case], texts + ["What are Westside's opening hours?"]) == []


def test_generated_files_are_up_to_date(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(PROJECT_DIR / "eval"))
    build_cases = importlib.import_module("build_cases")
    for path, text in build_cases.outputs().items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path} is stale: run .venv/bin/python eval/build_cases.py")



def test_the_readme_results_come_from_the_committed_heldout_run(monkeypatch: pytest.MonkeyPatch):
    """The README's results section and bench/results/scorecard-heldout.md are rendered from
    eval/baselines/heldout.json by eval/readme_results.py, never typed; that run has every arm."""
    from store_assistant.evaluation.runner import ALL_ARMS, CONTROL_ARMS

    results = json.loads((PROJECT_DIR / "eval" / "baselines" / "heldout.json").read_text("utf-8"))
    assert set(ALL_ARMS) | set(CONTROL_ARMS) <= set(results["run"]["arms"])
    assert results["run"]["split"] == "heldout" and results["run"].get("commit")
    monkeypatch.syspath_prepend(str(PROJECT_DIR / "eval"))
    readme_results = importlib.import_module("readme_results")
    for path, text in readme_results.outputs().items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path} is stale: run .venv/bin/python eval/readme_results.py")


def test_the_hand_labels_are_enough_and_spread(cases):
    """eval/labels.yaml: >= 150 answers read by a person, over >= 4 arms and every category,
    one label per (case, arm)."""
    from store_assistant.evaluation.agreement import LABELS_FILE, load_labels

    labels = load_labels(LABELS_FILE, {case.id: case for case in cases})
    category = {case.id: case.category for case in cases}
    assert len(labels) >= 150
    assert len({label.arm for label in labels}) >= 4
    assert {category[label.case] for label in labels} == set(CATEGORIES)
    pairs = [(label.case, label.arm) for label in labels]
    assert len(pairs) == len(set(pairs)), "a (case, arm) is labelled twice"


def test_the_default_model_is_the_ladders_winner():
    """eval/baselines/ladder.json is a heldout run of >= 3 models under pe-zero-shot, rag-hybrid
    and finetuned+rag (where an adapter exists), and the product's default model is the one the
    stated rule picks from it (scorecard.default_pick), not a choice typed into the code."""
    from store_assistant.config import DEFAULT_LLM
    from store_assistant.evaluation.scorecard import scorecard

    results = json.loads((PROJECT_DIR / "eval" / "baselines" / "ladder.json").read_text("utf-8"))
    run = results["run"]
    assert run["split"] == "heldout" and run.get("commit") and len(run["models"]) >= 3
    for model in run["models"]:
        short = model.removeprefix("local/")
        assert {f"pe-zero-shot@{short}", f"rag-hybrid@{short}"} <= set(run["arms"])
    assert any(arm.startswith("finetuned+rag@") for arm in run["arms"])
    assert scorecard(results)["default_pick"]["model"] == DEFAULT_LLM
