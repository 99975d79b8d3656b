"""Synthetic fine-tuning data: right by construction, filtered, reproducible, never heldout.

Real parts: the ingested store data (`store_settings`), the embedded model as the teacher of one
tiny run (5 calls), RagStrategy for the prompt format, and the golden cases for the leak check. A
scripted gateway stands in for the teacher where a test needs one exact rewording or a failure.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from pathlib import Path

import pytest

from store_assistant.cli import main
from store_assistant.errors import ModelError
from store_assistant.store.products import money
from store_assistant.evaluation.golden import AS_OF, leaked, load_cases, select
from store_assistant.store.inventory import Inventory, inventory_path
from store_assistant.store.documents import Chunk
from store_assistant.answering.rag import RagStrategy
from store_assistant.answering.finetuned import system_prompt
from store_assistant.finetune.examples import Example, product_examples, rag_system
from store_assistant.finetune.synthetic import (GENERATED_DIR, KINDS, Checks, fact_problem,
                                                generate, paraphrase_problem, reword,
                                                teacher_messages)
from store_assistant.templates import PROMPTS_DIR
from tests.fakes import ScriptedGateway

SILVER_XM5 = "6505728"  # on a Holiday deal on AS_OF: $329.99, regular $399.99


# The fine-tuning examples carry the model's free-text RAG prompt: compare with that path.
@pytest.fixture(scope="module")
def store_settings(store_settings):
    return store_settings.replace(evidence_first=False)


@pytest.fixture(scope="module")
def inventory(store_settings) -> Inventory:
    return Inventory(inventory_path(store_settings), create=False)


@pytest.fixture(scope="module")
def plain_run(store_settings, tmp_path_factory) -> tuple:
    """A run without the teacher: (manifest, folder, {file name: [records]})."""
    out = tmp_path_factory.mktemp("plain")
    manifest = generate(store_settings, num=400, paraphrase=False, out=out, progress=False)
    return manifest, out, _read(out)


def _read(out: Path) -> dict[str, list[dict]]:
    return {name: [json.loads(line) for line in (out / name).read_text().splitlines()]
            for name in ("train.jsonl", "valid.jsonl")}


def _kinds(records: list[dict]) -> dict[str, int]:
    return {kind: sum(r["kind"] == kind for r in records) for kind in KINDS}


# --- the fact filter -------------------------------------------------------------------------

def test_the_fact_filter_rejects_a_wrong_price_or_stock_count_and_keeps_the_right_one(inventory):
    xm5 = inventory.lookup(SILVER_XM5)
    downtown = xm5.stock["downtown"]

    def example(answer: str, grounding: str = "") -> Example:
        return Example("grounded", "test", "How much are the silver XM5s?", answer,
                       skus=(SILVER_XM5,), grounding=grounding)

    right = example(f"The silver XM5 (SKU {SILVER_XM5}) is {money(xm5.effective_price(AS_OF))} "
                    f"(regular {money(xm5.price)}); Downtown has {downtown}.")
    wrong_price = example(f"The silver XM5 (SKU {SILVER_XM5}) is $319.99; Downtown has {downtown}.")
    wrong_stock = example(f"The silver XM5 (SKU {SILVER_XM5}) is $329.99; "
                          f"{downtown + 3} at Downtown.")
    checks = Checks(inventory, system_prompt())
    products, stores = checks.products, checks.stores
    assert fact_problem(right, products, stores) is None
    assert fact_problem(wrong_price, products, stores) == "wrong_price"
    assert fact_problem(wrong_stock, products, stores) == "wrong_stock"
    assert fact_problem(example("It is SKU 1234567, $10."), products, stores) == "unknown_sku"
    # A policy figure counts when it is in the excerpt the answer rests on, not otherwise.
    fee = example("A $45 flat restocking fee.", grounding="Activatable phones: $45 flat")
    assert fact_problem(fee, products, stores) is None
    assert fact_problem(example("A $45 flat restocking fee."), products, stores) == "wrong_price"

    assert checks.admit(right) and not checks.admit(wrong_price) and not checks.admit(wrong_stock)
    assert checks.rejections == {"wrong_price": 1, "wrong_stock": 1}


# --- a run without the teacher ---------------------------------------------------------------

def test_a_run_without_the_teacher_is_reproducible_and_has_every_other_kind(
        plain_run, store_settings, tmp_path):
    manifest, out, files = plain_run
    again = generate(store_settings, num=400, paraphrase=False, out=tmp_path, progress=False)
    assert again.files == manifest.files  # same seed, same bytes
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "train.jsonl", "valid.jsonl"]

    recorded = json.loads((out / "manifest.json").read_text())
    assert recorded["teacher"] is None and recorded["teacher_calls"] == 0
    for name, records in files.items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == recorded["files"][name]
        assert _kinds(records) == recorded["counts"][name.split(".")[0]]
    train, valid = files["train.jsonl"], files["valid.jsonl"]
    assert recorded["counts"]["total"] == len(train) + len(valid) == 400
    assert 0.05 < len(valid) / 400 < 0.15
    counts = _kinds(train + valid)
    assert counts["paraphrase"] == 0 and all(counts[k] > 0 for k in ("seed", "grounded", "rag"))
    assert counts["seed"] == 161 and recorded["rejections"].get("heldout_leak", 0) >= 1

    guidelines = system_prompt()
    for record in train + valid:
        roles = [m["role"] for m in record["messages"]]
        assert roles == ["system", "user", "assistant"], record
        system = record["messages"][0]["content"]
        if record["kind"] in ("grounded", "paraphrase"):
            assert system == guidelines
        if record["kind"] == "rag":
            assert "Store facts (live inventory):" in system and system.count("\n[") >= 2


def test_rag_examples_carry_the_prompt_rag_strategy_builds(store_settings):
    strategy = RagStrategy(ScriptedGateway(), store_settings, mode="bm25", today=AS_OF)
    draft = strategy._prepare("How long does the Sony WH-1000XM5 battery last?", [])
    facts = [s.text for s in draft.sources if s.kind == "inventory"]
    # The sources list the five best sections; the prompt has those the model read.
    excerpts = [Chunk(s.id, "", s.kind, s.title, s.heading, s.text)
                for s in draft.sources if s.kind != "inventory" and s.read]
    assert facts and excerpts and len(excerpts) < len(draft.sources) - len(facts)
    assert rag_system(facts, excerpts) == draft.messages[0]["content"]


def test_nothing_generated_leaks_a_heldout_question_and_every_price_is_the_datas(
        plain_run, inventory):
    _, _, files = plain_run
    records = files["train.jsonl"] + files["valid.jsonl"]
    questions = [m["content"] for r in records for m in r["messages"] if m["role"] == "user"]
    assert leaked(select(load_cases(), split="heldout"), questions) == []
    checked = 0
    for record in records:
        if not record["source"].startswith("inventory:"):
            continue
        answer = record["messages"][2]["content"]
        marks = list(re.finditer(r"\(SKU (\d{7})\)", answer))
        for mark, following in zip(marks, marks[1:] + [None]):
            price = re.search(r"\$(\d[\d,]*\.\d\d)", answer[mark.end():following.start()
                                                             if following else None])
            if price:
                product = inventory.lookup(mark.group(1))
                assert float(price.group(1).replace(",", "")) == product.effective_price(AS_OF), \
                    answer
                checked += 1
        for store, qty in re.findall(r"(Downtown|Westside|Northgate) has (\d+)", answer):
            assert int(qty) == inventory.lookup(marks[0].group(1)).stock[store.lower()], answer
    assert checked >= 100


# --- the teacher -----------------------------------------------------------------------------

def test_a_tiny_run_with_the_embedded_teacher_counts_every_call(store_settings, tmp_path):
    manifest = generate(store_settings, num=20, out=tmp_path, progress=False)  # 20 // 4 = 5 calls
    assert manifest.teacher == "local/smollm2-135m" and manifest.teacher_calls == 5
    version = hashlib.sha256((PROMPTS_DIR / "paraphrase.md").read_bytes()).hexdigest()[:12]
    assert json.loads((tmp_path / "manifest.json").read_text())["prompt_version"] == version
    files = _read(tmp_path)
    made = [r for records in files.values() for r in records if r["kind"] == "paraphrase"]
    rejected = sum(n for reason, n in manifest.rejections.items()
                   if reason.startswith(("paraphrase_", "teacher_")))
    assert len(made) + rejected == 5, manifest.rejections
    assert manifest.counts["total"] == 20  # rejected paraphrases are replaced from the pool


def test_a_rewording_must_keep_the_product_the_numbers_and_the_intent(inventory):
    origin = next(e for e in product_examples(inventory, random.Random(0))
                  if e.source == f"inventory:price:{SILVER_XM5}")
    question = origin.question
    assert paraphrase_problem(origin, _reworded(origin)) is None
    assert paraphrase_problem(origin, question) == "paraphrase_near_identical"
    assert paraphrase_problem(origin, "It is $329.99.") == "paraphrase_not_a_question"
    assert paraphrase_problem(origin, "How much are the Bose headphones?") == \
        "paraphrase_dropped_identity"
    assert paraphrase_problem(origin, _reworded(origin).replace("?", " or the Galaxy S4?")) == \
        "paraphrase_dropped_identity"  # a number the question did not have: another product
    assert paraphrase_problem(origin, _reworded(origin).replace("sell for", "look like")) == \
        "paraphrase_changed_question"
    assert paraphrase_problem(origin, "") == "paraphrase_empty_or_long"
    messages = teacher_messages(question)
    assert messages[0]["role"] == "system" and messages[-1] == {"role": "user",
                                                                "content": f"Reword: {question}"}


class FailingTeacher(ScriptedGateway):
    def complete(self, messages, **params):
        self.sent.append(messages)
        raise ModelError("the teacher's server is down")


def test_teacher_failures_are_counted_never_raised(inventory):
    chosen = product_examples(inventory, random.Random(0))[:40]
    checks = Checks(inventory, system_prompt())
    teacher = FailingTeacher()
    made, calls, _ = reword(teacher, chosen, 8, 0, random.Random(0), checks, progress=False)
    assert made == [] and calls == len(teacher.sent) == 5  # then it stops calling a dead server
    assert checks.rejections == {"teacher_failed": 5, "teacher_skipped": 3}

    origin = next(e for e in chosen if e.source.startswith("inventory:price:"))
    scripted = ScriptedGateway("Reworded: " + _reworded(origin))
    made, calls, _ = reword(scripted, [origin], 1, 0, random.Random(0), checks, progress=False)
    assert calls == 1 and [e.kind for e in made] == ["paraphrase"]
    assert made[0].answer == origin.answer and made[0].group == origin.group_id


def _reworded(origin: Example) -> str:
    """A good rewording of a price question: the same product words, a different sentence."""
    name = re.sub(r"^(How much is the |What's the price on the |What are we charging for |"
                  r"Price check: )|( today)?\?$", "", origin.question)
    return f"What does {name} sell for these days?"


# --- the command and the committed data ------------------------------------------------------

def test_data_generate_rejects_bad_arguments_and_writes_three_files(store_settings, tmp_path,
                                                                    capsys):
    assert main(["data", "generate", "--num", "0"]) == 2
    assert "--num must be at least 1" in capsys.readouterr().err
    assert main(["data", "generate", "--teacher", "nonsense", "--out", str(tmp_path / "x"),
                 "--data-dir", str(store_settings.data_dir)]) == 2
    assert "Unknown model 'nonsense'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()

    out = tmp_path / "generated"
    assert main(["data", "generate", "--num", "60", "--no-paraphrase", "--seed", "3",
                 "--out", str(out), "--data-dir", str(store_settings.data_dir)]) == 0
    printed = capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "train.jsonl", "valid.jsonl"]
    assert "60 examples" in printed and f"wrote {out / 'train.jsonl'}" in printed


def test_the_committed_data_is_what_its_manifest_says():
    manifest = json.loads((GENERATED_DIR / "manifest.json").read_text())
    files = _read(GENERATED_DIR)
    for name, records in files.items():
        assert hashlib.sha256((GENERATED_DIR / name).read_bytes()).hexdigest() == \
            manifest["files"][name]
        assert _kinds(records) == manifest["counts"][name.split(".")[0]]
    assert manifest["as_of"] == AS_OF.isoformat() and len(files["train.jsonl"]) >= 600
    assert {r["messages"][0]["content"] for r in files["train.jsonl"]
            if r["kind"] == "grounded"} == {system_prompt()}
