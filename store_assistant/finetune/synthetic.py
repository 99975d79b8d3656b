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
from store_assistant.answering.data_answers import fact_line, inventory_answer, recommend
from store_assistant.answering.guard import PRICE_PATTERN
from store_assistant.answering.questions import budget
from store_assistant.evaluation.golden import AS_OF, leaked, load_cases, normalised, select
from store_assistant.store.inventory import Inventory, Product, inventory_path, money
from store_assistant.store.knowledge import Chunk, read_folder
from store_assistant.answering.prompting import STORE_NAME
from store_assistant.answering.finetuned import system_prompt
from store_assistant.answering.rag import CONTEXT_WORDS
from store_assistant.finetune.taxonomy import TAXONOMY_DIR, load_taxonomy, seeds
from store_assistant.templates import PROMPTS_DIR, render

GENERATED_DIR = PROJECT_DIR / "finetune_data" / "generated"
KINDS = ("seed", "grounded", "paraphrase", "rag")
DEFAULT_NUM = 900  # ~810 training examples; its 225 teacher calls take ~1.5 min on 2 idle cores
PARAPHRASE_SHARE = 4  # num // 4 teacher calls; about a third of the rewordings pass the checks
VALID_SHARE = 0.1
MAX_QUESTION, MAX_ANSWER, MAX_TOKENS, TOKENS_PER_WORD = 300, 1200, 1000, 1.4
DUPLICATE_RATIO = 95  # rapidfuzz ratio of two normalised questions that makes them one question
SPEC_LINES_PER_MANUAL = 6  # of ~11: variety without drowning the prices and policies
BUDGETS = (100, 150, 200, 300, 500, 800, 1000, 1500, 2000)
TEACHER_MAX_TOKENS = 48  # a reworded question is one line
TEACHER_TEMPERATURE = 0.7  # greedy decoding mostly hands the question back unchanged
MAX_TEACHER_FAILURES = 5  # in a row: a dead server should not cost a timeout per call
CATEGORY_LABELS = {"laptops": "laptops", "tvs": "TVs", "headphones": "headphones",
                   "phones-tablets": "phones or tablets", "cameras": "cameras",
                   "smart-home": "smart home devices", "accessories": "accessories"}
_ASKS = {"price": r"\b(?:price|cost|how much|charg|pay|sell)|\$",  # what a rewording must ask
         "sale": r"\b(?:sale|deal|promo|discount|offer)",
         "stock": r"\b(?:stock|left|available|carry|how many|units|any)\b",
         "budget": r"\b(?:under|below|less than|up to|at most|max\w*|budget|spend|within)\b"}
_SKU = re.compile(r"(?<![\d$.,])\b\d{7}\b(?![.,]\d)")
_DIGITS = re.compile(r"\d+(?:\.\d+)?")
_LABELLED = re.compile(r"^\*\*(?P<b>[^*]+?):?\*\*:?\s*(?P<bv>.*)$"  # '**Standard:** 15 days'
                       r"|^(?P<l>[A-Z][^:]{0,40}?):\s+(?P<lv>.+)$")  # 'Battery: up to 30 hours'


@dataclass(frozen=True)
class Example:
    kind: str  # one of KINDS
    source: str  # "inventory:price:6505728", "manual:sony-wh-1000xm5#specifications", ...
    question: str
    answer: str
    system: str | None = None  # None: the finetuned.md prompt; rag examples carry their own
    skus: tuple[str, ...] = ()  # the products the answer is about, for the fact filter
    grounding: str = ""  # the excerpt the answer rests on: its $ figures count as facts
    keep: tuple[str, ...] = ()  # regexes a paraphrase must still match: identity, then intent
    group: str = ""  # paraphrases and rag twins share their origin's group, and so its split

    @property
    def group_id(self) -> str:
        return self.group or f"{self.source}|{self.question}"

    @property
    def stratum(self) -> str:
        head, _, rest = self.source.partition(":")
        return f"{self.kind}:{head}:{rest.split(':')[0] if head == 'inventory' else ''}"

    def record(self, system: str) -> dict:
        return {"messages": [{"role": "system", "content": self.system or system},
                             {"role": "user", "content": self.question},
                             {"role": "assistant", "content": self.answer}],
                "kind": self.kind, "source": self.source}


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


def rag_system(facts: list[str], excerpts: list[Chunk]) -> str:
    """The system prompt exactly as RagStrategy builds it from fact lines and excerpts."""
    context = "\n\n".join(f"[{c.title} > {c.heading}]\n{c.text}" for c in excerpts)
    return (render("guidelines", store_name=STORE_NAME) + "\n\n"
            + render("rag", facts="\n".join(f"- {f}" for f in facts) or "- (no product named)",
                     context=context or "(none found)"))


# --- seeds and grounded expansion --------------------------------------------------------------

def seed_examples() -> list[Example]:
    """Every curated seed; grounding seeds cite their excerpts, so those go in a RAG prompt."""
    found = []
    for s in seeds(load_taxonomy(TAXONOMY_DIR)):
        system, lines = None, (s.context or "").splitlines()
        if s.leaf.startswith("skills/grounding/") and s.context:
            facts = [line.split(":", 1)[1].strip() for line in lines
                     if line.startswith("Store facts:")]
            rest = "\n".join(line for line in lines if line.strip() and
                             not line.startswith("Store facts:"))
            excerpts = [Chunk("", "", "", "Excerpts", s.leaf, rest)] if rest else []
            system = rag_system(facts, excerpts)
        skus = _SKU.findall(f"{s.question}\n{s.answer}\n{s.context or ''}")
        found.append(Example("seed", f"taxonomy:{s.leaf}", s.question, s.answer, system,
                             tuple(dict.fromkeys(skus)), s.context or ""))
    return found


def product_examples(inventory: Inventory, rng: random.Random) -> list[Example]:
    """Two price wordings, a stock and an 'on sale?' question per product, answered by the data."""
    products, stores = inventory.products(), inventory.stores()
    owners = Counter(alias.lower() for p in products for alias in p.aliases)
    found = []
    for p in products:
        names = [a for a in p.aliases if owners[a.lower()] == 1] + [p.name]  # unambiguous ones
        identity = "|".join([_pattern(n) for n in names] + [p.sku, _pattern(p.model)])
        store = rng.choice(stores)
        price = rng.sample(["How much is the {name}?", "What's the price on the {name} today?",
                            "What are we charging for SKU {sku}?", "Price check: {name}?"], 2)
        stock = rng.choice(["Is the {name} in stock?", "How many {name} does {store} have?",
                            "Any {name} left at {store}?", "Does {store} have the {name}?"])
        sale = rng.choice(["Is the {name} on sale right now?", "Any deal on the {name}?",
                           "Is there a promotion on SKU {sku}?"])
        for topic, template in [("price", price[0]), ("price", price[1]), ("stock", stock),
                                ("sale", sale)]:
            question = template.format(name=rng.choice(names), sku=p.sku, store=store.title())
            answer = (_price_answer(p) if topic == "price"
                      else inventory_answer(question, [p], AS_OF, stores))
            keep = (identity, _ASKS[topic]) + ((store,) if "{store}" in template else ())
            found.append(Example("grounded", f"inventory:{topic}:{p.sku}", question, answer,
                                 skus=(p.sku,), keep=keep))
    return found


def _price_answer(p: Product) -> str:
    promo, aisle = p.active_promotion(AS_OF), f" Aisle {p.aisle}." if p.aisle else ""
    if promo:
        return (f'The {p.name} (SKU {p.sku}) is {money(promo.price)} with the "{promo.text}" '
                f"through {promo.end:%B %-d, %Y} (regular {money(p.price)}).{aisle}")
    return (f"The {p.name} (SKU {p.sku}) is {money(p.price)}; there is no promotion on it right "
            f"now.{aisle}")


def recommendation_examples(inventory: Inventory, rng: random.Random) -> list[Example]:
    """Top-3 in-stock picks per category (data_answers.recommend), with no budget and up to three."""
    found = []
    for category, label in CATEGORY_LABELS.items():
        top = max((p.effective_price(AS_OF) for p in inventory.products(category)), default=0)
        budgets = [b for b in BUDGETS
                   if b < top and len(recommend(inventory, category, b, AS_OF)) == 3]
        for limit in [None, *rng.sample(budgets, min(3, len(budgets)))]:
            question = rng.choice([f"What are the best {label} we have in stock?",
                                   f"Which {label} would you recommend?"] if limit is None else
                                  [f"What are the top 3 {label} under ${limit:,}?",
                                   f"Customer has ${limit:,} to spend on {label} - top picks?",
                                   f"Which {label} can I suggest for at most ${limit:,}?"])
            picks, lines = recommend(inventory, category, limit, AS_OF), []
            for i, p in enumerate(picks, 1):
                promo = p.active_promotion(AS_OF)
                why = (f'on sale with the "{promo.text}" (regular {money(p.price)})' if promo
                       else f"{sum(p.stock.values())} in stock across our stores")
                price = money(p.effective_price(AS_OF))
                lines.append(f"{i}. {p.name} (SKU {p.sku}): {price}, {why}.")
            within = f" under {money(limit)}" if limit else ""
            answer = f"Top {len(picks)} {label} in stock{within}:\n" + "\n".join(lines)
            keep = (_pattern(label.split()[0]),) + ((str(limit), _ASKS["budget"]) if limit else ())
            found.append(Example("grounded", f"inventory:recommend:{category}:{limit or 'any'}",
                                 question, answer, skus=tuple(p.sku for p in picks), keep=keep))
    return found


def spec_examples(manuals: list[Chunk], inventory: Inventory, rng: random.Random) -> list[Example]:
    """'What's the battery on the XM5?' -> the manual's own Specifications line, quoted."""
    by_doc: dict[str, list] = {}
    for chunk in manuals:
        if chunk.heading.startswith("Specifications"):
            by_doc.setdefault(chunk.doc_id, []).extend((chunk, *i) for i in _items(chunk.text))
    found = []
    for lines in by_doc.values():
        for chunk, label, value in rng.sample(lines, min(SPEC_LINES_PER_MANUAL, len(lines))):
            product = inventory.lookup(chunk.sku) if chunk.sku else None
            names = [chunk.title, *(product.aliases[:2] if product else ())]
            name, what = rng.choice(names), _lower(label)
            question = rng.choice([f"What's the {what} on the {name}?",
                                   f"Tell me the {what} of the {name}.",
                                   f"{name}: what does the spec sheet say for {what}?"])
            word = max(re.findall(r"[A-Za-z]{3,}", label) or [label], key=len)[:5]  # 'batte'
            found.append(Example("grounded", chunk.id, question,
                                 f"The {chunk.title} specifications list {label}: {value}",
                                 skus=(chunk.sku,) if chunk.sku else (), grounding=chunk.text,
                                 keep=("|".join(map(_pattern, names)), re.escape(word))))
    return found


def policy_examples(policies: list[Chunk], rng: random.Random) -> list[Example]:
    """A question per labelled line or table row of a policy, one for a section's other figures."""
    found = []
    for chunk in policies:
        title, section = chunk.title, chunk.heading
        loose = [line.replace("**", "") for indent, line in _bullets(chunk.text)
                 if indent == 0 and not _LABELLED.match(line) and re.search(r"\d", line)]
        for label, value in _items(chunk.text) + ([(section, " ".join(loose))] if loose else []):
            about = _lower(label) + (f" ({_lower(section)})" if label != section else "")
            question = rng.choice([f"{section} - {_lower(label)}?",
                                   f"What does the {title} policy say about {about}?"])
            answer = f"Per the {title} policy ({section}): " + (
                value if label == section else f"{label}: {value}")
            found.append(Example("grounded", chunk.id, question, answer, grounding=chunk.text,
                                 keep=(_pattern(label),)))
    return found


def rag_examples(grounded: list[Example], chunks: list[Chunk], inventory: Inventory,
                 rng: random.Random) -> list[Example]:
    """Twins in the finetuned+rag arm's prompt: fact lines and 2-3 excerpts, at least one of them
    a distractor from another product or policy, within RagStrategy's word budget. One spec and
    one price question per manual, every policy question; the answer stays the same."""
    by_id, done, found = {c.id: c for c in chunks}, set(), []
    for example in grounded:
        topic = example.source.split(":")[1] if example.source.startswith("inventory:") else ""
        product = inventory.lookup(example.skus[0]) if example.skus else None
        if topic == "price" and product is not None and ("price", product.manual) not in done:
            done.add(("price", product.manual))
            right = [c for c in chunks if c.doc_id == f"manual:{Path(product.manual).stem}"][:1]
            sibling = [p for p in inventory.products(product.category)
                       if p.manual == product.manual and p.sku != product.sku][:1]
            facts = [product, *sibling]  # a look-alike variant's fact line is a distractor too
        elif not topic and (chunk := by_id.get(example.source)) and chunk.doc_id not in done:
            if chunk.kind == "manual":  # one per manual; every policy line has its own section
                done.add(chunk.doc_id)
            right, facts = [chunk], [product] if product else []
        else:
            continue
        kind = right[0].kind if right else "policy"
        pool = [c for c in chunks if c.kind == kind and c.doc_id not in {r.doc_id for r in right}]
        excerpts = list(right)
        for other in rng.sample(pool, min(len(pool), 12)):
            words = sum(len(c.text.split()) for c in excerpts) + len(other.text.split())
            if len(excerpts) < 3 and words <= CONTEXT_WORDS:
                excerpts.append(other)
        if len(excerpts) > len(right):  # no distractor fits the budget: not this kind's lesson
            rng.shuffle(excerpts)
            system = rag_system([fact_line(p, AS_OF) for p in facts], excerpts)
            found.append(replace(example, kind="rag", system=system, group=example.group_id))
    return found


# --- reading markdown lines ------------------------------------------------------------------

def _items(text: str) -> list[tuple[str, str]]:
    """(label, value) of 'Label: value' bullets, nested ones ('Hours' > 'Monday: 10:00 am - 9:00 pm'
    -> 'Hours on Monday') and table rows ('Cameras...', 'Restocking fee: 15% of the price paid')."""
    found, parent, rows = [], None, []
    for indent, line in _bullets(text):
        match = _LABELLED.match(line) if indent is not None else None
        if indent is None and line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
        if not match:
            continue
        label = (match["b"] or match["l"]).strip().rstrip(":")
        value = (match["bv"] if match["b"] else match["lv"]).replace("**", "")
        parent = (label if not value else None) if indent == 0 else parent
        if value:
            found.append((f"{parent} on {label}" if indent and parent else label, value))
    if len(rows) > 2 and set("".join(rows[1])) <= set("-: "):
        found += [(cells[0], "; ".join(f"{h}: {c}" for h, c in zip(rows[0][1:], cells[1:])))
                  for cells in rows[2:]]
    return found


def _bullets(text: str) -> list[tuple[int | None, str]]:
    """(indent, text) per bullet, continuation lines joined; (None, line) for any other line."""
    found: list[list] = []
    for raw in text.splitlines():
        if bullet := re.match(r"^(\s*)[-*]\s+(.*)$", raw):
            found.append([len(bullet[1]), bullet[2].strip()])
        elif raw.startswith((" ", "\t")) and raw.strip() and found and found[-1][0] is not None:
            found[-1][1] += " " + raw.strip()
        elif raw.strip():
            found.append([None, raw.strip()])
    return [(indent, line) for indent, line in found]


def _pattern(text: str) -> str:
    """A regex for a name however it is spaced or punctuated: 'WH-1000XM5' matches 'wh 1000xm5'."""
    return r"[\W_]*".join(map(re.escape, re.findall(r"[a-z0-9]+", text.lower()))) or re.escape(text)


def _lower(label: str) -> str:
    """'Battery' -> 'battery'; 'HDMI ports' and 'Volt Plus members' keep their capitals."""
    return label if any(c.isupper() for c in label[1:]) else label[:1].lower() + label[1:]


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
        if leaked(self.heldout, [system]):
            raise DataError("prompts/finetuned.md contains a heldout eval question; reword it.")

    def admit(self, example: Example, prefix: str = "") -> bool:
        """True for a good example; otherwise False, counting the reason under prefix + reason."""
        reason = (fact_problem(example, self.products, self.stores) or self._too_long(example)
                  or self._duplicate(example)
                  or ("heldout_leak" if leaked(self.heldout, _texts(example)) else None))
        self.rejections.update([prefix + reason] if reason else [])
        if not reason:
            self._seen[bool(example.system)].append((normalised(example.question),
                                                     normalised(example.answer)))
        return reason is None

    def drop_leaks(self, examples: list[Example]) -> list[Example]:
        """Drop examples that leak only together (a follow-up's question in one, its history in
        another): golden.training_texts() reads every text of every example at once."""
        while hits := {text for _, text in leaked(self.heldout, [t for e in examples
                                                                 for t in _texts(e)])}:
            kept = [e for e in examples if not hits & set(_texts(e))]
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


def _texts(example: Example) -> list[str]:
    """What golden.training_texts() reads of an example (the shared prompt is checked once)."""
    return [t for t in (example.system, example.question, example.answer, example.kind,
                        example.source) if t]


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
