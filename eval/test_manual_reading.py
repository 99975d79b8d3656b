"""The manual-reading set is sound: big enough, its gold copied verbatim from the files, its "no"
answers common enough to catch a model that always says yes, its split the hash's, and no heldout
question a near-copy of anything a model or a tuner has seen.

No model calls: only the YAML files, the manuals and the other question sets; and the published
bench results (bench/results/manual-reading-*.json) must have been made on this code, data and
cases (the gate's store data is what they are checked against).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pytest

from store_assistant.config import PROJECT_DIR
from store_assistant.evaluation.golden import leaked, load_cases, training_questions
from store_assistant.evaluation.manual_cases import (MANUALS_DIR, ReadingCase, load_reading_cases,
                                                     split_of, squeeze)


@pytest.fixture(scope="module")
def cases() -> list[ReadingCase]:
    return load_reading_cases()


@dataclass(frozen=True)
class Asked:
    """One question as the leak check reads it (a golden case's shape: no history)."""
    question: str
    case: str
    history: tuple = ()


def asked(cases: list[ReadingCase], split: str) -> list[Asked]:
    return [Asked(q, c.id) for c in cases if c.split == split for q in c.questions]


def test_the_set_is_big_and_covers_what_staff_ask(cases) -> None:
    assert len(cases) >= 200
    asks = Counter(case.asks for case in cases)
    for kind in ("specs", "variant-spec", "compatibility", "in-the-box", "setup",
                 "troubleshooting", "warranty"):
        assert asks[kind] >= 5, asks
    assert sum(n for kind, n in asks.items() if kind.startswith("policy-")) >= 50, asks
    assert sum(1 for case in cases if case.computed) >= 10  # arithmetic policy answers
    splits = Counter(case.split for case in cases)
    assert min(splits.values()) >= 0.35 * len(cases), splits


def test_every_gold_sentence_is_in_its_file_verbatim(cases) -> None:
    files = {}
    missing = []
    for case in cases:
        for gold in case.gold:
            path = MANUALS_DIR / gold.source
            assert path.is_file(), f"{case.id}: no file {gold.source}"
            text = files.setdefault(path, squeeze(path.read_text(encoding="utf-8")))
            if squeeze(gold.text) not in text:
                missing.append(f"{case.id}: {gold.text[:70]!r} not in {gold.source}")
    assert not missing, "\n".join(missing)


def test_the_gold_decides_the_fact(cases) -> None:
    """What a right answer must say is in the gold sentence (unless the case is arithmetic on it,
    and then says how), and what it must not say is not the gold's own value."""
    wrong = []
    for case in cases:
        gold = " ".join(squeeze(g.text).lower() for g in case.gold)
        for entry in case.must_say:
            if not case.computed and not any(alt.lower() in gold for alt in entry.split("|")):
                wrong.append(f"{case.id}: must_say {entry!r} is not in the gold")
        for entry in case.must_not_say:
            if any(alt.lower() == said.lower() for said in case.must_say
                   for alt in entry.split("|")):
                wrong.append(f"{case.id}: {entry!r} is both required and forbidden")
    assert not wrong, "\n".join(wrong)


def test_no_answers_are_common_enough(cases) -> None:
    yesno = [case for case in cases if case.kind == "yesno"]
    share = sum(case.answer == "no" for case in yesno) / len(yesno)
    assert len(yesno) >= 40 and share >= 0.40, (len(yesno), share)
    for split in ("dev", "heldout"):
        part = [case for case in yesno if case.split == split]
        assert sum(case.answer == "no" for case in part) / len(part) >= 0.35, split


def test_the_split_is_the_hashs(cases) -> None:
    moved = [case.id for case in cases if case.split != split_of(case.id)]
    assert not moved, f"split differs from sha256(id): {moved}"


def test_no_heldout_question_is_a_near_copy_of_a_seen_one(cases) -> None:
    seen = (training_questions() + [q.question for q in asked(cases, "dev")]
            + [case.question for case in load_cases()])
    found = leaked(asked(cases, "heldout"), seen)
    assert not found, "\n".join(f"{q.case}: {q.question!r} ~ {text!r}" for q, text in found)


def test_the_leak_check_would_find_a_copied_dev_question(cases) -> None:
    dev = asked(cases, "dev")[0]
    assert leaked([Asked(dev.question.upper() + "?", "planted")], [dev.question])


# --- the published results describe this code ---------------------------------------------------

RESULTS = PROJECT_DIR / "bench" / "results"
# '-before' files are the code before evidence-first answers, kept and labelled as such.
PUBLISHED = sorted(p for p in RESULTS.glob("manual-reading-*.json") if "-before" not in p.name)


def test_every_published_result_was_made_on_this_code_data_and_cases(gate, monkeypatch) -> None:
    """A change to the answering code or prompts, the manuals or inventory, or the cases makes
    the committed bench/results/manual-reading-*.json stale: re-run the bench it names."""
    import json

    monkeypatch.syspath_prepend(str(RESULTS.parent))
    import manual_reading as bench

    assert len(PUBLISHED) >= 4, PUBLISHED  # rag-hybrid and control-extractive, dev and heldout
    stale = {}
    for path in PUBLISHED:
        run = json.loads(path.read_text(encoding="utf-8"))
        if problems := bench.stale(run, gate["settings"]):
            stale[path.name] = problems
    assert not stale, ("re-run `.venv/bin/python bench/manual_reading.py --strategy S --split X` "
                       f"for each (see docs/evaluation.md): {stale}")

    planted = {**json.loads(PUBLISHED[0].read_text(encoding="utf-8")), "arm_hash": "0" * 16}
    assert any(p.startswith("arm_hash") for p in bench.stale(planted, gate["settings"]))
