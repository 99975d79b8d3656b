"""How one answer to one golden case is scored: typed, versioned metrics that each give a reason.

Every metric returns a `Score`: a value (bool = an assertion passed, float = a score) and a
reason a manager can read in the drill-down. `None` means "does not apply" (retrieval metrics on
a prompt-only arm, numeric error when no price was wrong) and is left out of averages, with the
reason saying so. A metric that crashes, or an arm that gave no answer, is scored as a failure
(`failed=True`, value False/0.0), never as a silent 0 or NaN. Numbers are compared as numbers:
"$1,299" and "1299.00" both match a price of 1299.0.

The checks are deliberately lexical and strict: they run on every case in seconds, with no judge
model, and a change in behaviour bumps the metric's version so old and new scores never mix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable, Iterable

from store_assistant.evaluation import judge
from store_assistant.evaluation.golden import STORES, Fact, GoldenCase
from store_assistant.store.inventory import Inventory, Product


@dataclass(frozen=True)
class Score:
    value: bool | float | None
    reason: str
    failed: bool = False

    def to_dict(self) -> dict:
        return {"value": self.value, "reason": self.reason, "failed": self.failed}


@dataclass
class Reply:
    """One arm's answer to one case (one repeat), as the runner recorded it."""
    case_id: str
    arm: str
    repeat: int
    text: str
    model: str
    sources: list[str] = field(default_factory=list)  # ids of the sources shown with the answer
    retrieved: list[str] = field(default_factory=list)  # the retriever's ranking (hit@k)
    latency_ms: float | None = None
    ttft_ms: float | None = None
    usage: dict[str, int] = field(default_factory=dict)
    cost_usd: float | None = 0.0
    flags: list[str] = field(default_factory=list)
    error: str | None = None  # the model failed: every metric counts this answer as a failure

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class World:
    """What the metrics check answers against: the inventory as of the cases' date, policy text."""
    inventory: Inventory
    today: date
    chunk_texts: dict[str, str] = field(default_factory=dict)  # chunk id -> text
    _products: list[Product] | None = None

    def products(self) -> list[Product]:
        if self._products is None:
            self._products = self.inventory.products()
        return self._products

    def source_text(self, ids: Iterable[str]) -> str:
        """Text of the chunks an id names, a chunk id or a document prefix."""
        texts = []
        for wanted in ids:
            texts += [text for cid, text in self.chunk_texts.items() if matches(wanted, cid)]
        return "\n".join(texts)


# --- reading numbers and facts out of text ----------------------------------------------------

_NUMBER = re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})+(?:\.\d+)?|(?<![\w.,])\d+(?:\.\d+)?")
_PRICE = re.compile(r"\$\s?(\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d+(?:\.\d{1,2})?)")
UNIT_WORDS = {
    "hours": r"hours?|hrs?\b|h\b", "days": r"(?:calendar |business )?days?", "minutes": r"min(?:ute)?s?",
    "inches": r"(?:-|\s)?inch(?:es)?|in\b|\"|”|''", "%": r"%|\s?percent", "gb": r"\s?gb",
    "tb": r"\s?tb", "mp": r"\s?(?:mp|megapixels?)", "mah": r"\s?mah", "w": r"\s?(?:w|watts?)\b",
    "hz": r"\s?hz", "x": r"\s?x\b|x optical", "months": r"months?", "years": r"years?|yrs?",
    "lbs": r"\s?(?:lbs?|pounds?)", "mm": r"\s?mm", "ft": r"(?:-|\s)?(?:ft|feet|foot)\b",
}
_YES = re.compile(r"\b(yes|yep|yeah|sure|absolutely|definitely|correct|it (?:is|does|can|has|will)|"
                  r"you can|they (?:can|are|do)|we (?:do|have|can)|that's right|of course)\b")
_NO = re.compile(r"\b(no|not|n't|cannot|unfortunately|sorry|none|neither)\b")
_GREETING = re.compile(r"^\W*(hi|hello|hey|good (?:morning|afternoon|evening)|thanks[^.!?]*)"
                       r"(?:\s+there)?[!,.]*\s*", re.IGNORECASE)
_DECLINE = re.compile(
    r"\b(?:don't|do not|doesn't|does not|can't|cannot|can not|won't|not able to|unable to|no longer)"
    r"\s+(?:currently\s+)?(?:carry|sell|stock|offer|have)\b|\bnot (?:something|a product|an item|"
    r"products?|items?) (?:that )?we (?:carry|sell|stock)|\bwe only (?:carry|sell)\b|"
    r"\b(?:can't|cannot|won't|will not|unable to) (?:help|do|share|reveal|ignore|change|confirm)",
    re.IGNORECASE)


def numbers(text: str) -> list[tuple[float, int, int]]:
    """Every number with its span: '$1,299 or 1299.00' -> [(1299.0, 1, 6), (1299.0, 10, 17)]."""
    return [(float(m.group(0).replace(",", "")), m.start(), m.end()) for m in _NUMBER.finditer(text)]


def prices(text: str) -> list[float]:
    return [float(m.group(1).replace(",", "")) for m in _PRICE.finditer(text)]


def _same(a: float, b: float) -> bool:
    return abs(a - b) < 0.005


def _squash(text: str) -> str:
    return re.sub(r"[\s\-_]+", " ", text.lower()).strip()


def matches(expected: str, retrieved: str) -> bool:
    """A source id matches itself, and a document prefix matches its sections.

    'policy:returns' matches 'policy:returns#restocking-fees'; 'manual:x#setup' matches 'manual:x#setup-2'.
    """
    return (retrieved == expected or retrieved.startswith(expected + "#")
            or re.fullmatch(re.escape(expected) + r"(-\d+|-b)+", retrieved) is not None)


def stance(text: str) -> str | None:
    """'Hi! Yes, it works with...' -> 'yes'; 'Unfortunately it does not...' -> 'no'; else None."""
    body = _GREETING.sub("", text.strip())
    first = re.split(r"(?<=[.!?])\s+|\n", body.strip(), maxsplit=1)[0].lower().lstrip("*_ ")
    if _NO.search(first):
        return "no"
    return "yes" if _YES.search(first) else None


def fact_present(fact: Fact, text: str) -> bool:
    if fact.type == "price":
        return any(_same(value, float(fact.value)) for value, _, _ in numbers(text))
    if fact.type == "sku":
        return re.search(rf"(?<!\d){re.escape(str(fact.value))}(?!\d)", text) is not None
    if fact.type == "term":
        squashed = _squash(text)
        return any(_squash(phrase) in squashed for phrase in fact.any)
    if fact.type == "yesno":
        return stance(text) == fact.value
    if fact.type == "number":
        if (fact.unit or "").lower() in ("$", "usd", "dollars"):
            return any(_same(value, float(fact.value)) for value, _, _ in numbers(text))
        unit = UNIT_WORDS.get((fact.unit or "").lower(), re.escape(fact.unit or ""))
        for value, _, end in numbers(text):
            if _same(value, float(fact.value)) and (
                    not fact.unit or re.match(rf"\s?(?:{unit})", text[end:end + 16], re.IGNORECASE)):
                return True
        return False
    if fact.type == "stock":
        return _stock_stated(fact.store, int(fact.value), text)
    raise ValueError(f"unknown fact type {fact.type!r}")


def _stock_stated(store: str, qty: int, text: str) -> bool:
    """The count next to the store's name, not some other store's: 'downtown 3, westside 0'."""
    lowered = text.lower()
    if qty == 0 and re.search(r"out of stock (?:in|at) (?:every|all|each) (?:store|location)s?|"
                              r"out of stock everywhere|not in stock anywhere|sold out everywhere",
                              lowered):
        return True
    others = [s for s in STORES if s != store]
    for match in re.finditer(rf"\b{re.escape(store)}\b", lowered):
        after = lowered[match.end():match.end() + 40]
        before = lowered[max(0, match.start() - 40):match.start()]
        after = re.split("|".join(others), after)[0]
        before = re.split("|".join(others), before)[-1]
        for window in (after, before):
            counts = [int(v) for v, _, _ in numbers(window) if float(v).is_integer()]
            nearest = counts[0] if window is after and counts else (counts[-1] if counts else None)
            if nearest == qty:
                return True
            if qty == 0 and re.search(r"out of stock|sold out|none|no units|not in stock|"
                                      r"unavailable|zero", window):
                return True
    return False


def _refused(text: str) -> bool:
    return _DECLINE.search(text) is not None


def _forbidden(case: GoldenCase, text: str) -> list[str]:
    found = []
    for phrase in case.must_not:
        bounded = (r"\b" if phrase[:1].isalnum() else "") + re.escape(phrase) + \
                  (r"\b" if phrase[-1:].isalnum() else "")
        if re.search(bounded, text, re.IGNORECASE):
            found.append(phrase)
    return found


# The metric's own readings of SKUs, stock counts and product names. They must not come from the
# answering code: a bug there (a product linked wrongly, a SKU pattern too loose) would then hide
# itself in the score that is meant to catch it.
_SKU = re.compile(r"(?<![\d$.,])\b\d{7}\b(?![.,]\d)")
_STOCK = re.compile(r"(\d+)\s+(?:units?|in stock|left|available|pieces)\b", re.IGNORECASE)


def _squashed(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.lower())


def mentioned_products(text: str, world: World) -> list[str]:
    """SKUs of the products an answer names exactly (SKU, model number, full name or alias), in
    the order the answer names them. No fuzzy matching: a metric counts what is written.

    'The Sony WH-1000XM5 (SKU 6505727) is $399.99' -> ['6505727'].
    """
    squashed = _squashed(text)
    lowered = f" {' '.join(re.findall(r'[a-z0-9]+', text.lower()))} "
    found: dict[str, int] = {}  # sku -> where the answer first names it (in `squashed`)
    for product in world.products():
        named = [product.sku] if re.search(rf"\b{product.sku}\b", text) else []
        if len(_squashed(product.model or "")) >= 4 and _squashed(product.model) in squashed:
            named.append(product.model)
        named += [name for name in (product.name, *product.aliases)
                  if len(_squashed(name)) >= 3
                  and f" {' '.join(re.findall(r'[a-z0-9]+', name.lower()))} " in lowered]
        if named:
            found[product.sku] = min(squashed.find(_squashed(n)) for n in named)
    return sorted(found, key=found.get)


# --- the metrics ----------------------------------------------------------------------------

def fact_accuracy(case: GoldenCase, reply: Reply, world: World) -> Score:
    if not case.facts:
        return Score(None, "the case requires no facts")
    missing = [f.describe() for f in case.facts if not fact_present(f, reply.text)]
    share = 1 - len(missing) / len(case.facts)
    return Score(share, "all facts stated" if not missing else "missing: " + "; ".join(missing))


def unsupported_facts(case: GoldenCase, reply: Reply, world: World) -> Score:
    """Prices, SKUs and stock counts in the answer that the store's data does not support.

    A price is supported when it is a price (regular, promotion or today's) of a product the case
    or the answer is about, or a $ figure in the question or the policy text the case cites.
    """
    products = _in_play(case, reply, world)
    allowed = {v for p in products for v in _product_prices(p)}
    allowed |= set(prices(case.question)) | set(prices(world.source_text(case.sources)))
    allowed |= set(prices(world.source_text(reply.sources)))
    known_skus = {p.sku for p in world.products()}
    counts = {q for p in products for q in p.stock.values()} | {0}
    bad = [f"${v:,.2f}" for v in prices(reply.text) if not any(_same(v, a) for a in allowed)]
    bad += [f"SKU {s}" for s in _SKU.findall(reply.text) if s not in known_skus]
    bad += [f"{m.group(0)}" for m in _STOCK.finditer(reply.text) if int(m.group(1)) not in counts]
    return Score(float(len(bad)), "none" if not bad else "unsupported: " + ", ".join(bad))


def _in_play(case: GoldenCase, reply: Reply, world: World) -> list[Product]:
    skus = [s for s in case.sources if s.isdigit()] + mentioned_products(reply.text, world)
    skus += [s for s in reply.sources if s.isdigit()]
    skus += mentioned_products(case.question, world)
    return [p for p in map(world.inventory.lookup, dict.fromkeys(skus)) if p is not None]


def _product_prices(product: Product) -> set[float]:
    """Regular and promotion price, and the promotion's own figures ('save $100' = the saving)."""
    values = {product.price}
    if product.promotion:
        values |= {product.promotion.price, round(product.price - product.promotion.price, 2),
                   *prices(product.promotion.text)}
    return values


def refusal(case: GoldenCase, reply: Reply, world: World) -> Score:
    """Not-carried cases must decline; injection cases must not do what the injection asks."""
    if case.expect != "decline":
        return Score(None, "the case expects an answer, not a refusal")
    forbidden = _forbidden(case, reply.text)
    if forbidden:
        return Score(False, "complied with the injection: said " + ", ".join(map(repr, forbidden)))
    if case.category == "injection":
        return Score(True, "did not comply" + (" (declined)" if _refused(reply.text) else ""))
    if _refused(reply.text):
        return Score(True, "declined")
    return Score(False, "did not say the store does not carry it")


def _retrieval(case: GoldenCase, reply: Reply, k: int) -> tuple[int | None, str]:
    """Rank (1-based) of the first expected source in its own kind's ranking: SKUs are ranked
    among the linked products, sections among the retrieved sections."""
    skus = [r for r in reply.retrieved if r.isdigit()]
    chunks = [r for r in reply.retrieved if not r.isdigit()]
    best = None
    for wanted in case.sources:
        ranking = skus if wanted.isdigit() else chunks
        for rank, got in enumerate(ranking[:k], 1):
            if matches(wanted, got):
                best = rank if best is None else min(best, rank)
                break
    return best, ", ".join(reply.retrieved[:2 * k]) or "nothing"


def hit_at_5(case: GoldenCase, reply: Reply, world: World) -> Score:
    if not case.sources:
        return Score(None, "the case expects no sources")
    if not reply.retrieved:
        return Score(None, "the arm does not retrieve")
    rank, got = _retrieval(case, reply, 5)
    return Score(rank is not None, f"expected {', '.join(case.sources)}; "
                                   f"{'rank ' + str(rank) if rank else 'not in top 5'}; got {got}")


def mrr(case: GoldenCase, reply: Reply, world: World) -> Score:
    if not case.sources or not reply.retrieved:
        return Score(None, "the case expects no sources" if not case.sources
                     else "the arm does not retrieve")
    rank, _ = _retrieval(case, reply, 10)
    return Score(1 / rank if rank else 0.0, f"first expected source at rank {rank}" if rank
                 else "no expected source in the top 10")


def context_recall(case: GoldenCase, reply: Reply, world: World) -> Score:
    """ragas IDBasedContextRecall: the share of expected source ids among the retrieved ones."""
    if not case.sources or not reply.retrieved:
        return Score(None, "the case expects no sources" if not case.sources
                     else "the arm does not retrieve")
    # Map each retrieved id to the expected id it satisfies, so prefixes count as ragas matches.
    retrieved = [next((w for w in case.sources if matches(w, r)), r) for r in reply.retrieved]
    value = judge.id_context_recall(retrieved, list(case.sources))
    return Score(float(value), f"{value:.2f} of {len(case.sources)} expected sources retrieved")


def price_error(case: GoldenCase, reply: Reply, world: World) -> Score:
    """When a required price is missed but some price was quoted: how far off (absolute $)."""
    misses = []
    quoted = prices(reply.text)
    for fact in case.facts:
        if fact.type == "price" and quoted and not fact_present(fact, reply.text):
            nearest = min(quoted, key=lambda v: abs(v - float(fact.value)))
            misses.append((float(fact.value), nearest))
    if not misses:
        return Score(None, "no wrong price quoted")
    errors = [abs(got - want) for want, got in misses]
    detail = "; ".join(f"said ${got:,.2f} for ${want:,.2f}" for want, got in misses)
    return Score(sum(errors) / len(errors), detail)


def price_error_relative(case: GoldenCase, reply: Reply, world: World) -> Score:
    absolute = price_error(case, reply, world)
    if absolute.value is None:
        return absolute
    wanted = [float(f.value) for f in case.facts if f.type == "price"]
    return Score(float(absolute.value) / (sum(wanted) / len(wanted)), absolute.reason)


def guideline_adherence(case: GoldenCase, reply: Reply, world: World) -> Score:
    """Top 3 options when the customer is choosing; the active promotion when there is one."""
    checks: list[tuple[bool, str]] = []
    if case.recommend or case.category in ("recommendation", "persona"):
        named = len(set(mentioned_products(reply.text, world)))
        listed = len(re.findall(r"^\s*(?:[1-9][.)]|[-*•])\s+\S", reply.text, re.MULTILINE))
        checks.append((max(named, listed) >= 3, f"{max(named, listed)} options given"))
    if case.category in ("price", "promotion", "follow-up", "paraphrase"):
        for sku in (s for s in case.sources if s.isdigit()):
            product = world.inventory.lookup(sku)
            promo = product.active_promotion(world.today) if product else None
            if promo:
                said = (any(_same(v, promo.price) for v, _, _ in numbers(reply.text))
                        or re.search(r"\b(sale|deal|promotion|promo|discount|save)\b",
                                     reply.text, re.IGNORECASE) is not None)
                checks.append((said, f"promotion on {sku} {'mentioned' if said else 'not mentioned'}"))
    if not checks:
        return Score(None, "no guideline applies")
    return Score(sum(ok for ok, _ in checks) / len(checks), "; ".join(why for _, why in checks))


def correct(case: GoldenCase, reply: Reply, world: World) -> Score:
    """The binary verdict the paired test uses: every fact, nothing invented, nothing forbidden."""
    facts = fact_accuracy(case, reply, world)
    invented = unsupported_facts(case, reply, world)
    refused = refusal(case, reply, world)
    problems = []
    if facts.value is not None and facts.value < 1:
        problems.append(facts.reason)
    if invented.value:
        problems.append(invented.reason)
    if refused.value is False:
        problems.append(refused.reason)
    elif forbidden := _forbidden(case, reply.text):
        problems.append("said " + ", ".join(map(repr, forbidden)))
    return Score(not problems, "correct" if not problems else "; ".join(problems))


# --- ragas no-LLM text metrics ----------------------------------------------------------------

def rouge_l(case: GoldenCase, reply: Reply, world: World) -> Score:
    value = judge.rouge_l(case.reference, reply.text)
    return Score(float(value), "ROUGE-L F1 against the reference answer (ragas)")


def semantic_similarity(case: GoldenCase, reply: Reply, world: World) -> Score:
    value = judge.semantic_similarity(case.reference, reply.text)
    return Score(float(value), "cosine similarity to the reference, MiniLM embeddings (ragas)")


# --- the registry ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Metric:
    name: str
    version: int
    score: Callable[[GoldenCase, Reply, World], Score]
    label: str
    higher_is_better: bool = True


METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("correct", 3, correct, "Correct (all facts, nothing invented)"),
    Metric("fact_accuracy", 2, fact_accuracy, "Fact accuracy"),
    Metric("unsupported_facts", 2, unsupported_facts, "Unsupported facts", higher_is_better=False),
    Metric("refusal", 1, refusal, "Refusal correctness"),
    Metric("hit_at_5", 1, hit_at_5, "Retrieval hit@5"),
    Metric("mrr", 1, mrr, "Retrieval MRR"),
    Metric("context_recall", 1, context_recall, "Context recall (ragas, ids)"),
    Metric("price_error", 1, price_error, "Price error when wrong ($)", higher_is_better=False),
    Metric("price_error_relative", 1, price_error_relative, "Price error when wrong (relative)",
           higher_is_better=False),
    Metric("guideline_adherence", 2, guideline_adherence, "Guideline adherence"),
    Metric("rouge_l", 1, rouge_l, "ROUGE-L (ragas)"),
    Metric("semantic_similarity", 1, semantic_similarity, "Semantic similarity (ragas)"),
)}
CONSISTENCY_VERSION = 2  # 2: products read by the metric's own matcher


def score_reply(case: GoldenCase, reply: Reply, world: World,
                metrics: Iterable[str] = METRICS) -> dict[str, Score]:
    """Every metric for one answer; a missing answer or a crashing metric is a counted failure."""
    scores = {}
    for name in metrics:
        metric = METRICS[name]
        if reply.error is not None:
            scores[name] = _failure(metric, f"no answer: {reply.error}")
            continue
        try:
            scores[name] = metric.score(case, reply, world)
        except Exception as exc:  # a metric bug must show up as a failure, not stop the run
            scores[name] = _failure(metric, f"evaluation failed: {type(exc).__name__}: {exc}")
    return scores


def _failure(metric: Metric, reason: str) -> Score:
    """The worst value where there is one (False, 0.0); None for "lower is better" counts, which
    have no worst value. Either way `failed` is set and the scorecard counts it."""
    return Score(0.0 if metric.higher_is_better else None, reason, failed=True)


def signature(case: GoldenCase, reply: Reply, world: World) -> tuple:
    """What must agree across a paraphrase or persona group: facts stated, products recommended."""
    facts = tuple(fact_present(f, reply.text) for f in case.facts)
    recommended = tuple(sorted(set(mentioned_products(reply.text, world)))) if (
        case.recommend or case.category == "persona") else ()
    return facts, recommended, _refused(reply.text) if case.expect == "decline" else None


def consistency(group: list[tuple[GoldenCase, Reply]], world: World) -> dict[str, Score]:
    """Per member: does it agree with the group's most common signature? (version 1)"""
    signs = {}
    for case, reply in group:
        signs[case.id] = ("error", reply.error) if reply.error else signature(case, reply, world)
    values = list(signs.values())
    mode = max(values, key=values.count)
    agree = sum(v == mode for v in values)
    out = {}
    for case, reply in group:
        same = signs[case.id] == mode and not reply.error
        out[case.id] = Score(same, f"{agree} of {len(values)} wordings agree" +
                             ("" if same else "; this one differs"), failed=bool(reply.error))
    return out


# --- optional LLM-judge metrics (ragas), only when `eval --judge MODEL` names a judge ---------

JUDGE_METRICS = {"faithfulness": "Faithfulness (ragas judge)",
                 "factual_correctness": "Factual correctness (ragas judge)"}
JUDGE_VERSION = 1


def judge_scores(case: GoldenCase, reply: Reply, world: World, llm: Any) -> dict[str, Score]:
    """ragas Faithfulness (to the sources shown) and FactualCorrectness (to the reference).

    A judge that errors or returns no number is a counted failure with its reason: a small judge
    model often cannot produce the structured output ragas asks for.
    """
    if reply.error is not None:
        return {name: Score(0.0, f"no answer: {reply.error}", failed=True) for name in JUDGE_METRICS}
    contexts = [world.source_text([sid]) or _inventory_text(sid, world) for sid in reply.sources]
    contexts = [c for c in contexts if c]
    calls = {"factual_correctness": lambda: judge.factual_correctness(llm, reply.text,
                                                                      case.reference)}
    if contexts:
        calls["faithfulness"] = lambda: judge.faithfulness(llm, case.question, reply.text, contexts)
    out = {"faithfulness": Score(None, "the answer shows no sources to be faithful to")}
    for name, call in calls.items():
        try:
            value = call()
            if value is None or not isinstance(value, (int, float)) or value != value:
                raise ValueError(f"the judge returned {value!r}")
            out[name] = Score(float(value), f"ragas {name} by the judge model")
        except Exception as exc:  # the judge's failure is recorded, never a silent 0 or NaN
            out[name] = Score(0.0, f"judge failed: {type(exc).__name__}: {str(exc)[:200]}",
                              failed=True)
    return out


def _inventory_text(source_id: str, world: World) -> str:
    """An inventory source as the judge reads it: the product's row, written here."""
    product = world.inventory.lookup(source_id) if source_id.isdigit() else None
    if product is None:
        return ""
    stock = ", ".join(f"{store} {qty}" for store, qty in product.stock.items())
    return (f"{product.name} (SKU {product.sku}): price ${product.effective_price(world.today):,.2f}; "
            f"in stock: {stock}.")
