"""Synthetic fine-tuning data for `store-assistant data generate`: curated seeds, questions built
from the store's data, teacher paraphrases and retrieval-augmented examples, filtered against the
data, split into train and valid, and written with a manifest.

InstructLab-style generation sized for a 2-core CPU. Code writes every answer, from the inventory
as of golden.AS_OF, a manual's specification line, a policy's key line or a curated seed. The
teacher model (the embedded 135M model by default) only rewords questions, and a rewording that
loses the product, a number, the store or what is asked is dropped. Trade-off: the answers are plain
templates, so the model learns facts and format rather than style. In return the data is right by
construction, reproducible from one seed, and takes minutes to make.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from rapidfuzz import fuzz, process

from store_assistant.files import write_all_atomic
from store_assistant.config import PROJECT_DIR, Settings
from store_assistant.errors import DataError, ModelError
from store_assistant.answering.guard import PRICE_PATTERN
from store_assistant.answering.questions import budget
from store_assistant.evaluation.golden import AS_OF, leaked, load_cases, normalised, select
from store_assistant.store.inventory import Inventory, inventory_path
from store_assistant.store.products import Product
from store_assistant.store.documents import read_folder
from store_assistant.answering.finetuned import system_prompt
from store_assistant.finetune.examples import (Example, policy_examples, product_examples,
                                               rag_examples, recommendation_examples, seed_examples,
                                               spec_examples)
from store_assistant.finetune.taxonomy import TAXONOMY_DIR
from store_assistant.templates import PROMPTS_DIR, render

GENERATED_DIR = PROJECT_DIR / "finetune_data" / "generated"
KINDS = ("seed", "grounded", "paraphrase", "rag")
DEFAULT_NUM = 900  # ~810 training examples; its 225 teacher calls take ~1.5 min on 2 idle cores
PARAPHRASE_SHARE = 4  # num // 4 teacher calls; about a third of the rewordings pass the checks
VALID_SHARE = 0.1
MAX_QUESTION, MAX_ANSWER, MAX_TOKENS, TOKENS_PER_WORD = 300, 1200, 1000, 1.4
DUPLICATE_RATIO = 95  # rapidfuzz ratio of two normalised questions that makes them one question
TEACHER_MAX_TOKENS = 48  # a reworded question is one line
TEACHER_TEMPERATURE = 0.7  # greedy decoding mostly hands the question back unchanged
MAX_TEACHER_FAILURES = 5  # in a row: a dead server should not cost a timeout per call
_SKU = re.compile(r"(?<![\d$.,])\b\d{7}\b(?![.,]\d)")
_DIGITS = re.compile(r"\d+(?:\.\d+)?")


@dataclass
class Manifest:
    teacher: str | None
    prompt_version: str  # sha256[:12] of prompts/paraphrase.md
    seed: int
    num: int
    as_of: str
    inputs: dict  # inventory data_version, taxonomy / knowledge / finetuned.md hashes
    counts: dict  # {"train": {kind: n}, "valid": {kind: n}, "total": n}
    rejections: dict  # {reason: n}
    unused: int  # passed every filter but not sampled within num
    teacher_calls: int
    teacher_seconds: float
    files: dict  # {name: sha256}
    created: str

    def summary(self, out: Path) -> str:
        lines = [f"{self.counts['total']} examples as of {self.as_of} (seed {self.seed}, teacher "
                 f"{self.teacher or 'none'}: {self.teacher_calls} calls, "
                 f"{self.teacher_seconds:.0f} s)"]
        for split in ("train", "valid"):
            kinds = ", ".join(f"{kind} {n}" for kind, n in self.counts[split].items())
            lines.append(f"  {split}: {sum(self.counts[split].values())} ({kinds})")
        rejected = ", ".join(f"{reason} {n}" for reason, n in self.rejections.items()) or "none"
        lines.append(f"  rejected: {rejected}; unused: {self.unused}")
        return "\n".join(lines + [f"  wrote {Path(out) / name}" for name in [*self.files,
                                                                             "manifest.json"]])


# --- seeds and grounded expansion --------------------------------------------------------------


# --- reading markdown lines ------------------------------------------------------------------


# --- filters ---------------------------------------------------------------------------------

def _prices(text: str) -> list[float]:
    """'$1,299.99 or $45' -> [1299.99, 45.0]: the $ figures in a text, read as the guard reads them."""
    return [float(value.replace(",", "")) for value in PRICE_PATTERN.findall(text)]


def fact_problem(example: Example, products: dict[str, Product], stores: list[str]) -> str | None:
    """Why the answer disagrees with the data: 'wrong_price', 'wrong_stock', 'unknown_sku' or None.

    A $ figure must be a named product's price today, regular price or saving, a figure in the
    excerpt the answer rests on ('$45 flat' in the returns policy) or the budget asked for. A store
    count ('Downtown has 4', '4 at Westside', 'out of stock at Northgate') must be a named product's
    stock there. Named: the example's products and every SKU in its question, answer and excerpt.
    """
    if any(sku not in products for sku in _SKU.findall(example.answer)):
        return "unknown_sku"
    text = f"{example.question}\n{example.answer}\n{example.grounding}"
    named = [products[s] for s in dict.fromkeys([*example.skus, *_SKU.findall(text)])
             if s in products]
    allowed = set(_prices(example.grounding)) | {budget(example.question) or -1.0}
    for p in named:
        promo = p.active_promotion(AS_OF)
        allowed |= {p.price, p.effective_price(AS_OF)}
        allowed |= {promo.price, round(p.price - promo.price, 2)} if promo else set()
    if any(all(abs(value - a) >= 0.005 for a in allowed) for value in _prices(example.answer)):
        return "wrong_price"
    if named and any(all(p.stock.get(store) != count for p in named)
                     for store, count in store_counts(example.answer, stores)):
        return "wrong_stock"
    return None


def store_counts(text: str, stores: list[str]) -> list[tuple[str, int]]:
    """[(store, units)] stated in text: 'Downtown has 4, 2 at Westside; out of stock at Northgate'
    -> [('downtown', 4), ('westside', 2), ('northgate', 0)]. 'Downtown: 10:00 am' is no count."""
    names = "|".join(map(re.escape, stores))
    after = re.compile(rf"\b({names})\b(?:\s+(?:has|shows))?\s*[:(]?\s*(\d+)\b(?!\s*(?::\d|am\b|"
                       rf"pm\b|%|-\s*\d|(?:business\s+)?days?\b|(?:units?\s+)?(?:at|in)\b))", re.I)
    before = re.compile(rf"\b(\d+)\s+(?:units?\s+)?(?:in stock\s+)?(?:at|in)\s+(?:the\s+)?"
                        rf"({names})\b", re.I)
    out = re.compile(rf"\bout of stock (?:at|in) (?:the )?({names})\b", re.I)
    return ([(m[1].lower(), int(m[2])) for m in after.finditer(text)]
            + [(m[2].lower(), int(m[1])) for m in before.finditer(text)]
            + [(m[1].lower(), 0) for m in out.finditer(text)])


class Checks:
    """The filters every kept example passed, with rejections counted by reason."""

    def __init__(self, inventory: Inventory, system: str) -> None:
        self.products = {p.sku: p for p in inventory.products()}
        self.stores, self.system = inventory.stores(), system
        self.heldout = select(load_cases(), split="heldout")
        self.rejections: Counter = Counter()
        self._seen: dict[bool, list[tuple[str, str]]] = {True: [], False: []}  # by has-retrieval
        if any(normalised(case.question) in normalised(system) for case in self.heldout):
            raise DataError("prompts/finetuned.md contains a heldout eval question; reword it.")

    def admit(self, example: Example, prefix: str = "") -> bool:
        """True for a good example; otherwise False, counting the reason under prefix + reason."""
        reason = (fact_problem(example, self.products, self.stores) or self._too_long(example)
                  or self._duplicate(example)
                  or ("heldout_leak" if leaked(self.heldout, [example.question]) else None))
        self.rejections.update([prefix + reason] if reason else [])
        if not reason:
            self._seen[bool(example.system)].append((normalised(example.question),
                                                     normalised(example.answer)))
        return reason is None

    def drop_leaks(self, examples: list[Example]) -> list[Example]:
        """Drop examples that leak only together (a follow-up's question in one, its history in
        another): golden.training_questions() reads every question of every example at once."""
        while hits := {text for _, text in leaked(self.heldout, [e.question for e in examples])}:
            kept = [e for e in examples if e.question not in hits]
            self.rejections["heldout_leak"] += len(examples) - len(kept)
            examples = kept
        return examples

    def _too_long(self, e: Example) -> str | None:
        words = len(f"{e.system or self.system} {e.question} {e.answer}".split())
        return "too_long" if (len(e.question) > MAX_QUESTION or len(e.answer) > MAX_ANSWER
                              or words * TOKENS_PER_WORD > MAX_TOKENS) else None

    def _duplicate(self, e: Example) -> str | None:
        """A question asked before in the same prompt family (with or without retrieval), or one
        a word away (ratio >= 95) with the same answer. 'SKU 6505728' vs 'SKU 6505729', or Sunday
        vs Monday hours, stay: their answers differ."""
        key, answer = normalised(e.question), normalised(e.answer)
        seen = self._seen[bool(e.system)]
        for other, _, i in process.extract(key, [q for q, _ in seen], scorer=fuzz.ratio, limit=None,
                                           score_cutoff=DUPLICATE_RATIO):
            if other == key or seen[i][1] == answer:
                return "near_duplicate"
        return None


# --- paraphrases -----------------------------------------------------------------------------

def teacher_messages(question: str) -> list[dict[str, str]]:
    """prompts/paraphrase.md as chat turns: each '## role' heading starts a message."""
    parts = re.split(r"^## (system|user|assistant)\s*$", render("paraphrase", question=question),
                     flags=re.M)
    return [{"role": role, "content": body.strip()} for role, body in zip(parts[1::2], parts[2::2])]


def paraphrase_problem(origin: Example, question: str) -> str | None:
    """Why a rewording cannot replace origin's question, or None. 'How much is the XM5 blue?' ->
    'What is the WH-1000XM5?' lost the color, '... the Galaxy S4?' added a number (identity);
    'Is the XM5 blue available?' asks something else (intent)."""
    if not question or len(question) > MAX_QUESTION:
        return "paraphrase_empty_or_long"
    if not question.endswith("?"):
        return "paraphrase_not_a_question"  # the 135M teacher often answers instead
    if fuzz.ratio(normalised(question), normalised(origin.question)) >= DUPLICATE_RATIO:
        return "paraphrase_near_identical"
    numbers = [set(_DIGITS.findall(q.replace(",", ""))) for q in (question, origin.question)]
    if numbers[0] != numbers[1] or not re.search(origin.keep[0], question, re.I):
        return "paraphrase_dropped_identity"
    if not all(re.search(pattern, question, re.I) for pattern in origin.keep[1:]):
        return "paraphrase_changed_question"
    return None


def reword(gateway, examples: list[Example], calls: int, seed: int, rng: random.Random,
           checks: Checks, progress: bool) -> tuple[list[Example], int, float]:
    """(accepted paraphrases, teacher calls made, seconds) for `calls` grounded examples sampled
    from `examples`. A failed call is a counted rejection; after 5 in a row the rest are skipped."""
    from tqdm import tqdm

    pool = [e for e in examples if e.kind == "grounded" and e.keep]
    found, made, failures, started = [], 0, 0, time.perf_counter()
    for i, origin in enumerate(tqdm(rng.sample(pool, min(calls, len(pool))), unit="call",
                                    desc=f"paraphrasing ({gateway.model})", file=sys.stderr,
                                    disable=not progress)):
        if failures >= MAX_TEACHER_FAILURES:
            checks.rejections["teacher_skipped"] += 1
            continue
        made += 1
        # A local teacher samples from a seed per call, so the same seed gives the same data.
        extra = {"seed": seed * 100_003 + i} if gateway.is_local else {}
        try:
            text = gateway.complete(teacher_messages(origin.question),
                                    max_tokens=TEACHER_MAX_TOKENS,
                                    temperature=TEACHER_TEMPERATURE, **extra).text
            failures = 0
        except ModelError:
            failures += 1
            checks.rejections["teacher_failed"] += 1
            continue
        line = next((line.strip() for line in text.splitlines() if line.strip()), "")
        question = re.sub(r"^(?:reworded|reword|question)\s*:\s*", "", line, flags=re.I).strip(' "')
        reason = paraphrase_problem(origin, question)
        checks.rejections.update([reason] if reason else [])
        example = replace(origin, kind="paraphrase", question=question, group=origin.group_id)
        if not reason and checks.admit(example, prefix="paraphrase_"):
            found.append(example)
    return found, made, time.perf_counter() - started


# --- choosing, splitting, writing ------------------------------------------------------------

def stratified(examples: list[Example], rng: random.Random) -> list[Example]:
    """All examples, ordered so any prefix keeps each stratum's share (price, stock, spec, policy,
    rag ...): member i of a stratum of n sorts at (i + u) / n."""
    strata: dict[str, list[Example]] = {}
    for example in examples:
        strata.setdefault(example.stratum, []).append(example)
    keyed = []
    for rank, members in enumerate(strata.values()):
        rng.shuffle(members)
        offset = rng.random()
        keyed += [((i + offset) / len(members), rank, e) for i, e in enumerate(members)]
    return [e for _, _, e in sorted(keyed, key=lambda k: k[:2])]


def split(examples: list[Example], rng: random.Random) -> tuple[list[Example], list[Example]]:
    """About 90/10 by group, stratified by kind: a paraphrase or rag twin goes with its origin."""
    groups: dict[str, list[Example]] = {}
    for example in examples:
        groups.setdefault(example.group_id, []).append(example)
    by_kind: dict[str, list[str]] = {kind: [] for kind in KINDS}
    for group, members in groups.items():
        by_kind[next((m for m in members if not m.group), members[0]).kind].append(group)
    valid: set[str] = set()
    for ids in by_kind.values():
        rng.shuffle(ids)
        valid.update(ids[:round(len(ids) * VALID_SHARE)])
    parts = ([e for e in examples if e.group_id not in valid],
             [e for e in examples if e.group_id in valid])
    for part in parts:
        rng.shuffle(part)
    return parts


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- the pipeline ----------------------------------------------------------------------------

def generate(settings: Settings, teacher: str | None = None, num: int | None = None, seed: int = 0,
             out: Path = GENERATED_DIR, paraphrase: bool = True, progress: bool = True) -> Manifest:
    """Build, filter, sample (at most `num`), paraphrase, split and write; returns the manifest.

    Seeds fill up to half of `num`; num // 4 teacher calls reword a sample of grounded questions;
    unused examples replace rejected paraphrases, so a run gives `num` examples when it can.
    """
    num = DEFAULT_NUM if num is None else num
    if isinstance(num, bool) or not isinstance(num, int) or num < 1:
        raise DataError(f"num must be a whole number of examples >= 1, got {num!r}.")
    gateway = None
    if paraphrase:
        from store_assistant.inference.gateway import Gateway

        gateway = Gateway(settings, teacher)  # an unknown model string fails here, before any work
    inventory = Inventory(inventory_path(settings), create=False)
    documents = {**read_folder(settings.manuals_dir, "manual"),
                 **read_folder(settings.policies_dir, "policy")}
    chunks = [chunk for _, found in documents.values() for chunk in found]
    rng, system = random.Random(seed), system_prompt()
    checks = Checks(inventory, system)

    grounded = (product_examples(inventory, rng) + recommendation_examples(inventory, rng)
                + spec_examples([c for c in chunks if c.kind == "manual"], inventory, rng)
                + policy_examples([c for c in chunks if c.kind == "policy"], rng))
    candidates = seed_examples() + grounded + rag_examples(grounded, chunks, inventory, rng)
    admitted = checks.drop_leaks([e for e in candidates if checks.admit(e)])
    curated = [e for e in admitted if e.kind == "seed"]
    rng.shuffle(curated)
    curated = curated[:num // 2]
    order = stratified([e for e in admitted if e.kind != "seed"], rng)
    calls = num // PARAPHRASE_SHARE if gateway else 0
    room = max(0, num - len(curated) - calls)
    chosen = curated + order[:room]
    made, teacher_calls, seconds = ([], 0, 0.0) if gateway is None else reword(
        gateway, order, calls, seed, rng, checks, progress)
    chosen = checks.drop_leaks(chosen + made + order[room:room + max(0, calls - len(made))])
    train, valid = split(chosen, rng)

    texts = {name: "".join(json.dumps(e.record(system), ensure_ascii=False) + "\n" for e in part)
             for name, part in (("train.jsonl", train), ("valid.jsonl", valid))}
    taxonomy = b"".join(p.relative_to(TAXONOMY_DIR).as_posix().encode() + p.read_bytes()
                        for p in sorted(TAXONOMY_DIR.rglob("qna.yaml")))
    manifest = Manifest(
        teacher=gateway.model if gateway else None, seed=seed, num=num, as_of=AS_OF.isoformat(),
        prompt_version=_sha((PROMPTS_DIR / "paraphrase.md").read_bytes())[:12],
        inputs={"inventory_data_version": inventory.data_version(),
                "taxonomy_sha256": _sha(taxonomy),
                "knowledge_sha256": _sha("".join(sha for sha, _ in documents.values()).encode()),
                "finetuned_prompt_sha256": _sha(system.encode())},
        counts={"train": _by_kind(train), "valid": _by_kind(valid), "total": len(chosen)},
        rejections=dict(sorted(checks.rejections.items())),
        unused=len(admitted) + len(made) - len(chosen), teacher_calls=teacher_calls,
        teacher_seconds=round(seconds, 1),
        files={name: _sha(text.encode("utf-8")) for name, text in texts.items()},
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    write_all_atomic(Path(out), {**texts, "manifest.json": json.dumps(asdict(manifest), indent=2) + "\n"})
    return manifest


def _by_kind(examples: list[Example]) -> dict[str, int]:
    counts = Counter(e.kind for e in examples)
    return {kind: counts[kind] for kind in KINDS}
