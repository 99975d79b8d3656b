"""The manual-reading set (eval/manual_reading/*.yaml): its schema, a strict loader, the split rule.

Each case was written by reading one manual or policy file: a question (and 1-2 paraphrases), the
gold sentence(s) copied from the file, and what a right answer must and must not say. The split is
a function of the id's hash, so it was fixed before any tuning and cannot be chosen case by case.
Trade-off: `must_say` strings are plain substrings (with "a|b" alternatives), which a person can
check by eye; a metric that parsed units would be smarter and harder to trust.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from store_assistant.config import PROJECT_DIR
from store_assistant.errors import DataError

READING_DIR = PROJECT_DIR / "eval" / "manual_reading"
MANUALS_DIR = PROJECT_DIR / "manuals"
ASKS = ("specs", "variant-spec", "compatibility", "in-the-box", "setup", "troubleshooting",
        "warranty", "policy-window", "policy-fee", "policy-refund", "policy-plan",
        "policy-price-match", "policy-other")
KINDS = ("yesno", "value", "steps")
REQUIRED = ("id", "split", "asks", "kind", "question", "paraphrases", "must_say", "gold")
OPTIONAL = ("answer", "must_not_say", "computed")
_ID = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")  # specs-001, lg-c3-hdr10-plus


@dataclass(frozen=True)
class Gold:
    source: str  # relative to manuals/: "products/lg-c3-oled.md"
    text: str  # copied from the file


@dataclass(frozen=True)
class ReadingCase:
    id: str
    split: str
    asks: str
    kind: str
    question: str
    paraphrases: tuple[str, ...]
    must_say: tuple[str, ...]  # each "a|b" = a or b
    must_not_say: tuple[str, ...]
    gold: tuple[Gold, ...]
    answer: str | None = None  # yesno: "yes" | "no"
    computed: str | None = None  # how an arithmetic answer follows from the gold

    @property
    def questions(self) -> tuple[str, ...]:
        """The question and its paraphrases: each is asked and scored on its own."""
        return (self.question, *self.paraphrases)


def split_of(case_id: str) -> str:
    """'heldout' when sha256(id) starts with 0-7, else 'dev' (about half each)."""
    return "heldout" if hashlib.sha256(case_id.encode()).hexdigest()[0] in "01234567" else "dev"


def squeeze(text: str) -> str:
    """Runs of whitespace as one space: a sentence wrapped across lines in a file still matches."""
    return " ".join(text.split())


def load_reading_cases(folder: Path = READING_DIR) -> list[ReadingCase]:
    """Every case in `folder`, checked; all problems come back in one DataError."""
    cases, problems = [], []
    for path in sorted(folder.glob("*.yaml")):
        try:
            entries = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            problems.append(f"{path.name}: not valid YAML ({exc})")
            continue
        if not isinstance(entries, list):
            problems.append(f"{path.name}: must be a list of cases")
            continue
        for number, entry in enumerate(entries, 1):
            where = f"{path.name} case {number}"
            try:
                cases.append(_case(entry, where))
            except DataError as exc:
                problems.append(str(exc))
    seen: set[str] = set()
    for case in cases:
        if case.id in seen:
            problems.append(f"id {case.id!r} is used twice")
        seen.add(case.id)
    if problems:
        raise DataError(f"{len(problems)} problem(s) in {folder}:\n- " + "\n- ".join(problems))
    return cases


def _case(entry: object, where: str) -> ReadingCase:
    if not isinstance(entry, dict):
        raise DataError(f"{where}: must be a mapping")
    missing = [key for key in REQUIRED if key not in entry]
    unknown = [key for key in entry if key not in REQUIRED + OPTIONAL]
    if missing or unknown:
        raise DataError(f"{where}: missing {missing}, unknown {unknown}")
    where = f"{where} ({entry['id']})"
    if not isinstance(entry["id"], str) or not _ID.fullmatch(entry["id"]):
        raise DataError(f"{where}: id must be lower-case words and numbers joined by '-' (lg-c3-hdr10)")
    if entry["split"] not in ("dev", "heldout"):
        raise DataError(f"{where}: split must be dev or heldout")
    if entry["asks"] not in ASKS or entry["kind"] not in KINDS:
        raise DataError(f"{where}: asks must be one of {ASKS}, kind one of {KINDS}")
    if entry["kind"] == "yesno" and entry.get("answer") not in ("yes", "no"):
        raise DataError(f"{where}: a yesno case needs answer: \"yes\" or \"no\"")
    texts = [entry["question"], *(entry["paraphrases"] or [])]
    if not all(isinstance(t, str) and t.strip() for t in texts) or len(texts) < 2:
        raise DataError(f"{where}: question and 1+ paraphrases must be text")
    says = entry["must_say"] or []
    if not all(isinstance(s, str) and s.strip() for s in says + (entry.get("must_not_say") or [])):
        raise DataError(f"{where}: must_say and must_not_say are lists of text")
    if not says and entry["kind"] != "yesno":
        raise DataError(f"{where}: a {entry['kind']} case needs must_say")
    golds = entry["gold"]
    if not isinstance(golds, list) or not golds or not all(
            isinstance(g, dict) and isinstance(g.get("source"), str)
            and isinstance(g.get("text"), str) and g["text"].strip() for g in golds):
        raise DataError(f"{where}: gold must list {{source, text}} pairs")
    return ReadingCase(
        id=entry["id"], split=entry["split"], asks=entry["asks"], kind=entry["kind"],
        question=entry["question"].strip(), paraphrases=tuple(t.strip() for t in texts[1:]),
        must_say=tuple(says), must_not_say=tuple(entry.get("must_not_say") or ()),
        gold=tuple(Gold(g["source"], g["text"].strip()) for g in golds),
        answer=entry.get("answer"), computed=entry.get("computed"))
