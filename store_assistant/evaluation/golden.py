"""The golden evaluation cases: their schema, a strict loader, and the heldout leak check.

Cases live in eval/cases/*.yaml, one file per category, each a list of mappings. Every required
fact is typed (a price, a stock count at a store, a number with its unit, a term with accepted
phrasings...) so a metric can check it by code, and every fact holds on AS_OF. Trade-off: the loader
walks PyYAML's node tree instead of plain `safe_load` output. It is more code, but every problem
names its file and line, and all of them come back in one DataError, so a typo is fixed in one pass.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path


import yaml
from rapidfuzz import fuzz, process

from store_assistant.config import PROJECT_DIR
from store_assistant.errors import DataError, did_you_mean

AS_OF = date(2026, 12, 1)  # the date the golden facts hold on; the runner answers "as of" it
CASES_DIR = PROJECT_DIR / "eval" / "cases"
FEW_SHOT = PROJECT_DIR / "store_assistant" / "prompts" / "few_shot.yaml"
FINETUNE_DIR = PROJECT_DIR / "finetune_data"
CATEGORIES = ("price", "stock", "specs", "compatibility", "policy", "promotion", "recommendation",
              "comparison", "not-carried", "follow-up", "paraphrase", "persona", "injection")
FACT_TYPES = ("price", "stock", "sku", "number", "term", "yesno")
STORES = ("downtown", "westside", "northgate")
SPLITS = ("dev", "heldout")
EXPECTS = ("answer", "decline")
GROUPED = ("paraphrase", "persona")  # the members of a group must get the same facts
DECLINING = ("not-carried", "injection")
LEAK_RATIO = 90  # rapidfuzz ratio and token_set_ratio at which a heldout question counts as copied
REQUIRED = ("id", "category", "split", "question", "reference", "facts", "sources")
OPTIONAL = ("history", "group", "expect", "must_not", "recommend", "tags")
FACT_FIELDS = ("type", "value", "store", "unit", "any")
_ID = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")  # specs-001, lg-c3-hdr10-plus


@dataclass(frozen=True)
class Fact:
    """One thing a correct answer must state. 'price $999.99', 'stock downtown = 3', ..."""

    type: str  # one of FACT_TYPES
    # price: float dollars; stock: int units; sku: str digits; number: float; yesno: "yes"/"no"
    value: float | int | str | None = None
    store: str | None = None  # stock only
    unit: str | None = None  # number only: "hours", "days", "inches", "GB", "%", "$"
    any: tuple[str, ...] = ()  # term only: accepted phrasings, matched case-insensitively

    def describe(self) -> str:
        if self.type == "price":
            return f"price ${self.value:,.2f}"
        if self.type == "stock":
            return f"stock {self.store} = {self.value}"
        if self.type == "sku":
            return f"SKU {self.value}"
        if self.type == "number":
            return f"number {self.value:g}" + (f" {self.unit}" if self.unit else "")
        if self.type == "term":
            return "term " + " or ".join(repr(phrase) for phrase in self.any)
        return f"yes/no: {self.value}"


@dataclass(frozen=True)
class GoldenCase:
    id: str
    category: str
    split: str  # "dev" | "heldout"
    question: str  # the (last) user message
    reference: str  # a correct answer in the store's voice
    facts: tuple[Fact, ...]
    sources: tuple[str, ...]  # SKUs, chunk ids or doc-id prefixes the answer should rest on
    history: tuple[dict, ...] = ()  # earlier turns, for follow-up cases
    group: str | None = None  # paraphrase/persona group: members get the same facts
    expect: str = "answer"  # "answer" | "decline"
    must_not: tuple[str, ...] = ()  # must not appear in the answer (case-insensitive)
    recommend: dict | None = None  # {"category": ..., "max_price": ...} -> data_answers.recommend's top 3
    tags: tuple[str, ...] = ()  # "gate": in the CI regression subset
    file: str = ""
    line: int = 0


# --- loading ---------------------------------------------------------------------------------

def load_cases(folder: Path = CASES_DIR) -> list[GoldenCase]:
    """Every case in folder/*.yaml, in file order; one DataError listing every problem."""
    paths = sorted(Path(folder).glob("*.yaml"))
    if not paths:
        raise DataError(f"No golden case files (*.yaml) in {shown_path(Path(folder))}.")
    cases, problems, first_seen = [], [], {}
    for path in paths:
        for case in _read_file(path, problems):
            if case.id in first_seen:
                problems.append(f"{case.file}:{case.line}: case {case.id!r}: duplicate id (first "
                                f"at {first_seen[case.id]}); ids must be unique across files")
            else:
                first_seen[case.id] = f"{case.file}:{case.line}"
                cases.append(case)
    if problems:
        raise DataError(f"{len(problems)} problem(s) in the golden cases; nothing was loaded:\n  "
                        + "\n  ".join(problems))
    return cases


def _read_file(path: Path, problems: list[str]) -> list[GoldenCase]:
    shown = shown_path(path)
    try:
        loader = yaml.SafeLoader(path.read_text(encoding="utf-8"))
        try:
            root = loader.get_single_node()
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        why = getattr(exc, "problem", None) or exc
        problems.append(f"{shown}:{mark.line + 1 if mark else 1}: not valid YAML: {why}")
        return []
    if not isinstance(root, yaml.SequenceNode):
        problems.append(f"{shown}:1: the file must be a list of cases, each starting with '- id:'")
        return []
    cases = []
    for node, raw in zip(root.value, data):
        if not isinstance(raw, dict):
            problems.append(f"{shown}:{node.start_mark.line + 1}: a case must be a mapping of "
                            f"fields ('id: ...'), got {raw!r:.60}")
        elif (case := _case(raw, node, shown, problems)) is not None:
            cases.append(case)
    return cases


def is_text(value) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _is_texts(value) -> bool:
    return isinstance(value, list) and all(is_text(v) for v in value)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# field -> (check, what it must be); category and facts have checks of their own.
_SHAPES = {
    "id": (lambda v: isinstance(v, str) and bool(_ID.fullmatch(v)), "lower-case words and numbers joined by '-' (specs-001)"),
    "split": (lambda v: v in SPLITS, "'dev' or 'heldout'"),
    "question": (is_text, "non-empty text"),
    "reference": (is_text, "non-empty text"),
    "facts": (lambda v: isinstance(v, list), "a list (use [] for none)"),
    "sources": (_is_texts, "a list of quoted strings (a SKU too: ['5465502'])"),
    "history": (lambda v: isinstance(v, list) and all(
        isinstance(t, dict) and set(t) == {"role", "content"} and t["role"] in ("user", "assistant")
        and is_text(t["content"]) for t in v), "a list of {role: user|assistant, content: text}"),
    "group": (is_text, "text, for example 'para-001'"),
    "expect": (lambda v: v in EXPECTS, "'answer' or 'decline'"),
    "must_not": (_is_texts, "a list of strings"),
    "recommend": (lambda v: isinstance(v, dict) and set(v) == {"category", "max_price"}
                  and is_text(v["category"]) and _is_number(v["max_price"]),
                  "{category: <inventory category>, max_price: <dollars>}"),
    "tags": (_is_texts, "a list of strings"),
}
_FACT_VALUES = {
    "price": (_is_number, "a number of dollars"),
    "number": (_is_number, "a number"),
    "stock": (lambda v: type(v) is int and v >= 0, "a whole number of units >= 0"),
    "sku": (lambda v: isinstance(v, str) and v.isdigit(), "the SKU as quoted digits ('5465502')"),
    "yesno": (lambda v: v in (True, False, "yes", "no"), "yes or no"),
    "term": (lambda v: v is None, "left out: a term's phrasings go in 'any'"),
}
_FACT_OWNERS = {"store": "stock", "unit": "number", "any": "term"}


def _case(raw: dict, node: yaml.MappingNode, shown: str, problems: list[str]) -> GoldenCase | None:
    """The case, or None after adding every problem it has to `problems`."""
    start, before = node.start_mark.line + 1, len(problems)
    lines = {key.value: key.start_mark.line + 1 for key, _ in node.value}
    label = f"case {raw['id']!r}" if isinstance(raw.get("id"), str) else "case"

    def bad(key: str | None, why: str, line: int | None = None) -> None:
        problems.append(f"{shown}:{line or lines.get(key, start)}: {label}: {why}")

    for key, value in raw.items():
        if key not in REQUIRED + OPTIONAL:
            bad(key, f"unknown field {key!r}.{did_you_mean(str(key), REQUIRED + OPTIONAL)}")
        elif key in _SHAPES and not _SHAPES[key][0](value):
            bad(key, f"{key} must be {_SHAPES[key][1]}, not {value!r:.60}")
    for key in REQUIRED:
        if key not in raw:
            bad(None, f"missing required field {key!r}")
    category, expect = raw.get("category"), raw.get("expect", "answer")
    if "category" in raw and category not in CATEGORIES:
        bad("category", f"unknown category {category!r}.{did_you_mean(str(category), CATEGORIES)} "
                        f"Valid: {', '.join(CATEGORIES)}")
    if category in GROUPED and "group" not in raw:
        bad(None, f"{category} cases need a group shared by the wordings of one need "
                  f"(for example 'group: para-001')")
    if category in DECLINING and expect != "decline":
        bad("expect", f"{category} cases must have 'expect: decline'")
    if raw.get("facts") == [] and expect != "decline":
        bad("facts", "facts may be empty only for cases with 'expect: decline'")
    fact_nodes = next((v.value for k, v in node.value if k.value == "facts"), [])
    facts = [_fact(fact, fact_node.start_mark.line + 1, bad)
             for fact, fact_node in zip(raw["facts"], fact_nodes)
             ] if isinstance(raw.get("facts"), list) else []
    if len(problems) > before:
        return None
    recommend = raw.get("recommend")
    return GoldenCase(
        id=raw["id"], category=category, split=raw["split"], question=raw["question"],
        reference=raw["reference"], facts=tuple(facts), sources=tuple(raw["sources"]),
        history=tuple(raw.get("history") or ()), group=raw.get("group"), expect=expect,
        must_not=tuple(raw.get("must_not") or ()), tags=tuple(raw.get("tags") or ()),
        recommend=dict(recommend, max_price=float(recommend["max_price"])) if recommend else None,
        file=shown, line=start)


def _fact(raw, line: int, bad) -> Fact | None:
    """A typed fact. YAML reads a bare yes/no as a boolean, so True/False become "yes"/"no"."""
    def wrong(why: str) -> None:
        bad(None, why, line)

    if not isinstance(raw, dict) or "type" not in raw:
        return wrong("a fact must be a mapping with a 'type'")
    kind, value = raw["type"], raw.get("value")
    unknown = [key for key in raw if key not in FACT_FIELDS]
    misplaced = [key for key, owner in _FACT_OWNERS.items() if key in raw and kind != owner]
    if unknown:
        return wrong(f"unknown fact field {unknown[0]!r}.{did_you_mean(str(unknown[0]), FACT_FIELDS)}")
    if kind not in FACT_TYPES:
        return wrong(f"unknown fact type {kind!r}.{did_you_mean(str(kind), FACT_TYPES)} "
                     f"Valid: {', '.join(FACT_TYPES)}")
    if misplaced:
        return wrong(f"{misplaced[0]!r} does not belong in a {kind} fact (it is for "
                     f"{_FACT_OWNERS[misplaced[0]]} facts)")
    check, what = _FACT_VALUES[kind]
    if not check(value):
        return wrong(f"a {kind} fact's value must be {what}, got {value!r}")
    if kind == "stock" and raw.get("store") not in STORES:
        store = str(raw.get("store"))
        return wrong(f"unknown store {store!r}.{did_you_mean(store, STORES)} "
                     f"Valid: {', '.join(STORES)}")
    if kind == "term" and not (_is_texts(raw.get("any")) and raw["any"]):
        return wrong("a term fact needs 'any': a list of accepted phrasings (quote numbers)")
    if kind in ("price", "number"):
        value = float(value)
    elif kind == "yesno":
        value = {True: "yes", False: "no"}.get(value, value)
    return Fact(kind, value, raw.get("store"), raw.get("unit"), tuple(raw.get("any") or ()))


def shown_path(path: Path) -> str:
    """The path relative to the project when it is inside it: 'eval/cases/price.yaml'."""
    try:
        return path.resolve().relative_to(PROJECT_DIR).as_posix()
    except ValueError:
        return str(path)


# --- choosing and leak checks ----------------------------------------------------------------

def select(cases: list[GoldenCase], split: str | None = None, categories=None, tags=None,
           ids=None) -> list[GoldenCase]:
    """The cases matching every filter given; a case matches `tags` if it has any of them."""
    categories, tags, ids = (_as_set(v) for v in (categories, tags, ids))
    if split is not None and split not in SPLITS:
        raise DataError(f"Unknown split {split!r}; use {' or '.join(SPLITS)}.")
    for category in categories or ():
        if category not in CATEGORIES:
            raise DataError(f"Unknown category {category!r}.{did_you_mean(category, CATEGORIES)} "
                            f"Valid: {', '.join(CATEGORIES)}")
    missing = sorted((ids or set()) - {case.id for case in cases})
    if missing:
        raise DataError(f"No golden case with id {', '.join(map(repr, missing))}.")
    return [case for case in cases
            if (split is None or case.split == split)
            and (categories is None or case.category in categories)
            and (tags is None or tags & set(case.tags))
            and (ids is None or case.id in ids)]


def _as_set(value) -> set[str] | None:
    """None (no filter) for None or an empty list; 'gate' -> {'gate'}."""
    return None if not value else {value} if isinstance(value, str) else set(value)


def normalised(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def leaked(heldout: list[GoldenCase], questions: list[str]) -> list[tuple[GoldenCase, str]]:
    """(case, question) for every heldout question that is a near-copy of one of `questions`.

    Near-copy means, once both are lower-cased with punctuation and spacing collapsed: inside it
    ("Is the XM5 in stock?" is inside "q: is the xm5 in stock"), a rapidfuzz ratio of 90 or more
    (a word changed), or a token_set_ratio of 90 or more (the same words reordered, or one
    question's words all inside the other: "How much is the MX Master 3S in graphite?" and "How
    much is the MX Master?"). A follow-up ("how much is it?") counts only when the user turns of its
    history are found too: alone it is too generic to be a copy.
    """
    seen = [normalised(text) for text in questions]

    def find(text: str) -> int | None:
        probe = normalised(text)
        hit = next((i for i, t in enumerate(seen) if probe and probe in t), None)
        for scorer in (fuzz.ratio, fuzz.token_set_ratio):
            if hit is None:
                match = process.extractOne(probe, seen, scorer=scorer, score_cutoff=LEAK_RATIO)
                hit = match[2] if match else None
        return hit

    found = []
    for case in heldout:
        hit = find(case.question)
        earlier = [turn["content"] for turn in case.history if turn["role"] == "user"]
        if hit is not None and all(find(turn) is not None for turn in earlier):
            found.append((case, questions[hit]))
    return found


def training_questions() -> list[str]:
    """Every question a model could learn from: the few-shot examples' and the fine-tuning
    seeds' `question`s, and the user turns of the generated fine-tuning data."""
    paths = [FEW_SHOT] + sorted(p for p in FINETUNE_DIR.rglob("*")
                                if p.suffix in (".yaml", ".yml", ".jsonl") and p.is_file())
    questions: list[str] = []
    for path in paths:
        try:
            content = path.read_text(encoding="utf-8")
            if path.suffix == ".jsonl":
                records = [json.loads(line) for line in content.splitlines() if line.strip()]
                questions += [turn["content"] for record in records
                              for turn in record.get("messages", []) if turn.get("role") == "user"]
            else:
                questions += _questions(yaml.safe_load(content))
        except (ValueError, yaml.YAMLError, UnicodeDecodeError, AttributeError, TypeError) as exc:
            raise DataError(f"{shown_path(path)} cannot be read for the leak check ({exc}).") from None
    return questions


def _questions(value) -> list[str]:
    """The strings under a `question` key, at any depth of a YAML document."""
    if isinstance(value, dict):
        own = [value["question"]] if isinstance(value.get("question"), str) else []
        return own + [q for item in value.values() for q in _questions(item)]
    return [q for item in value for q in _questions(item)] if isinstance(value, list) else []
