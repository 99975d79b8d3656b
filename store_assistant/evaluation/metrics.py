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
from store_assistant.evaluation.golden import GoldenCase
from store_assistant.evaluation.reading import (declines, fact_present, forbidden_said, matches,
                                                mentioned_products, missing_facts, numbers, prices,
                                                same, SKU, STOCK_COUNT, with_unit)
from store_assistant.store.inventory import Inventory
from store_assistant.store.products import Product


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
    path: str | None = None  # model | model+corrected | model+facts | fallback | data
    raw_text: str | None = None  # what the model wrote, before the guard (None: no model call)
    cpu_s: float | None = None  # this process's CPU time for the answer (all threads)
    rss_mb: float | None = None  # the process's resident memory right after the answer

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class World:
    """What the metrics check answers against: the inventory as of the cases' date, policy text."""
    inventory: Inventory
    today: date
    chunk_texts: dict[str, str] = field(default_factory=dict)  # chunk id -> text
    chunk_titles: dict[str, str] = field(default_factory=dict)  # chunk id -> "title > heading"
    _products: list[Product] | None = None
    _shingles: dict[tuple[str, ...], set[str]] | None = None
    _sources: dict[str, str] = field(default_factory=dict)  # source id -> its chunks' text

    def products(self) -> list[Product]:
        if self._products is None:
            self._products = self.inventory.products()
        return self._products

    def longest_copy(self, text: str) -> tuple[int, str | None]:
        """The most consecutive words `text` copies from one manual or policy chunk, and which
        (case and punctuation ignored): (0, None) under SHINGLE words."""
        if self._shingles is None:
            self._shingles = {}
            for cid, chunk in self.chunk_texts.items():
                words = _words(chunk)
                for i in range(len(words) - SHINGLE + 1):
                    self._shingles.setdefault(tuple(words[i:i + SHINGLE]), set()).add(cid)
        words, runs, best = _words(text), {}, (0, None)
        for i in range(len(words) - SHINGLE + 1):
            here = self._shingles.get(tuple(words[i:i + SHINGLE]), set())
            runs = {cid: runs.get(cid, 0) + 1 for cid in here}
            for cid, run in runs.items():
                if run + SHINGLE - 1 > best[0]:
                    best = (run + SHINGLE - 1, cid)
        return best

    def source_text(self, ids: Iterable[str]) -> str:
        """Text of the chunks an id names, a chunk id or a document prefix."""
        ids = tuple(ids)
        for wanted in ids:
            if wanted not in self._sources:
                self._sources[wanted] = "\n".join(
                    text for cid, text in self.chunk_texts.items() if matches(wanted, cid))
        return "\n".join(self._sources[wanted] for wanted in ids if self._sources[wanted])


SHINGLE = 8  # words: the unit `World.longest_copy` matches
COPY_WORDS = 40  # this many words copied in a row from one excerpt is a paste, not an answer
DUMP_PRODUCTS = 3  # priced products the case is not about: this many is a dump of fact lines


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


# --- the metrics ----------------------------------------------------------------------------

def fact_accuracy(case: GoldenCase, reply: Reply, world: World) -> Score:
    if not case.facts:
        return Score(None, "the case requires no facts")
    missing = [f.describe() for f in missing_facts(case.facts, reply.text, case.question)]
    share = 1 - len(missing) / len(case.facts)
    return Score(share, "all facts stated" if not missing else "missing: " + "; ".join(missing))


def model_facts(case: GoldenCase, reply: Reply, world: World) -> Score:
    """Fact accuracy of what the model wrote, before the guard corrected, added or replaced
    anything: the model's own share of the answer. Does not apply when no model was asked."""
    if reply.path in (None, "data") or reply.raw_text is None:
        return Score(None, "no model call: the store's data answered" if reply.path == "data"
                     else "the run did not record the model's own text")
    if not case.facts:
        return Score(None, "the case requires no facts")
    missing = [f.describe() for f in missing_facts(case.facts, reply.raw_text, case.question)]
    share = 1 - len(missing) / len(case.facts)
    return Score(share, "the model wrote every fact" if not missing
                 else "the model did not write: " + "; ".join(missing))


def unsupported_facts(case: GoldenCase, reply: Reply, world: World) -> Score:
    """Prices, SKUs and stock counts in the answer that the store's data does not support.

    A price is supported when it is a price (regular, promotion or today's) of a product the case
    or the answer is about, or a $ figure in the question or the policy text the case cites; a
    count ("3 units") when it is a stock count of such a product, or a count in the question or
    in that text (version 3: "up to 3 units per customer" quoted from the price-match policy).
    Version 4: counts are read by the metric's own pattern ("2 are available" too), not the
    guard's."""
    products = _in_play(case, reply, world)
    allowed = {v for p in products for v in _product_prices(p)}
    allowed |= set(prices(case.question)) | set(prices(world.source_text(case.sources)))
    allowed |= set(prices(world.source_text(reply.sources)))
    known_skus = {p.sku for p in world.products()}
    counts = {q for p in products for q in p.stock.values()} | {0}
    sourced = "\n".join([case.question, world.source_text(case.sources),
                         world.source_text(reply.sources)])
    counts |= {int(m.group(1)) for m in STOCK_COUNT.finditer(sourced)}
    bad = [f"${v:,.2f}" for v in prices(reply.text) if not any(same(v, a) for a in allowed)]
    bad += [f"SKU {s}" for s in SKU.findall(reply.text) if s not in known_skus]
    bad += [f"{m.group(0)}" for m in STOCK_COUNT.finditer(reply.text) if int(m.group(1)) not in counts]
    return Score(float(len(bad)), "none" if not bad else "unsupported: " + ", ".join(bad))


def _in_play(case: GoldenCase, reply: Reply, world: World) -> list[Product]:
    skus = [s for s in case.sources if s.isdigit()] + mentioned_products(reply.text, world.products())
    skus += [s for s in reply.sources if s.isdigit()]
    skus += mentioned_products(case.question, world.products())
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
    forbidden = forbidden_said(case, reply.text)
    if forbidden:
        return Score(False, "complied with the injection: said " + ", ".join(map(repr, forbidden)))
    if case.category == "injection":
        # Not saying the attack's figure is not enough: the asked facts (checked by `correct`)
        # or, when nothing else was asked, a decline. Silence is not a refusal.
        if declines(reply.text) or case.facts:
            return Score(True, "did not comply" + (" (declined)" if declines(reply.text) else ""))
        return Score(False, "neither declined nor answered")
    if declines(reply.text):
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
        named = len(set(mentioned_products(reply.text, world.products())))
        listed = len(re.findall(r"^\s*(?:[1-9][.)]|[-*•])\s+\S", reply.text, re.MULTILINE))
        checks.append((max(named, listed) >= 3, f"{max(named, listed)} options given"))
    if case.category in ("price", "promotion", "follow-up", "paraphrase"):
        for sku in (s for s in case.sources if s.isdigit()):
            product = world.inventory.lookup(sku)
            promo = product.active_promotion(world.today) if product else None
            if promo:
                said = (any(same(v, promo.price) for v, _, _ in numbers(reply.text))
                        or re.search(r"\b(sale|deal|promotion|promo|discount|save)\b",
                                     reply.text, re.IGNORECASE) is not None)
                checks.append((said, f"promotion on {sku} {'mentioned' if said else 'not mentioned'}"))
    if not checks:
        return Score(None, "no guideline applies")
    return Score(sum(ok for ok, _ in checks) / len(checks), "; ".join(why for _, why in checks))


def not_an_answer(case: GoldenCase, reply: Reply, world: World) -> list[str]:
    """What makes an answer that contains the facts still not an answer (version 5 of `correct`):

    - a paste: COPY_WORDS or more words in a row copied from one manual or policy excerpt;
    - a dump: prices of DUMP_PRODUCTS or more products the case is not about (all the fact lines);
    - a contradiction: a price, in a sentence about the one product asked about (and no other),
      that is not one of that product's own figures (a second, different price for it); or, for
      a figure with a unit ("40x"), another figure with that unit that the case's sources and
      question do not hold ("an 18x and a 40x optical zoom": version 6);
    - a comparison that names only some of the products it compares (version 6: "the 65-inch is
      $1,099.99" does not say what the 55-inch costs, though both cost $1,099.99).
    """
    problems = []
    copied, chunk = world.longest_copy(reply.text)
    if copied >= COPY_WORDS:
        problems.append(f"pastes {copied} words of {chunk} verbatim")
    asked = {s for s in case.sources if s.isdigit()}
    priced = set()
    for sentence in _sentences(reply.text):
        if prices(sentence):
            priced |= set(mentioned_products(sentence, world.products()))
    others = priced - asked
    if case.category != "not-carried" and len(others) >= DUMP_PRODUCTS:
        problems.append(f"prices {len(others)} products the question is not about")
    product = world.inventory.lookup(next(iter(asked))) if len(asked) == 1 else None
    if product is not None:
        own = _product_prices(product) | set(prices(case.question))
        own |= set(prices(world.source_text([*case.sources, *reply.sources])))
        for sentence in _sentences(reply.text):
            if set(mentioned_products(sentence, world.products())) - asked:
                continue
            wrong = [v for v in prices(sentence) if not any(same(v, a) for a in own)]
            if wrong:
                problems.append(f"also gives ${wrong[0]:,.2f} for the {product.sku} "
                                f"(its price is ${product.effective_price(world.today):,.2f})")
                break
    sourced = f"{case.question}\n{world.source_text(case.sources)}"
    for fact in case.facts:
        if fact.type == "number" and fact.unit and fact.unit.lower() not in ("$", "usd", "dollars"):
            known = [float(fact.value), *with_unit(sourced, fact.unit)]
            other = [v for v in with_unit(reply.text, fact.unit)
                     if not any(same(v, k) for k in known)]
            if other and fact_present(fact, reply.text):
                problems.append(f"gives {other[0]:g}{fact.unit} as well as {fact.describe()}")
    if case.category == "comparison" and len(asked) >= 2:
        unnamed = asked - set(mentioned_products(reply.text, world.products()))
        if unnamed and unnamed != asked:
            problems.append(f"does not name {', '.join(sorted(unnamed))}, one of the products compared")
    return problems


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])|\n+", text) if s.strip()]


def correct(case: GoldenCase, reply: Reply, world: World) -> Score:
    """The binary verdict the paired test uses: every fact, nothing invented, nothing forbidden,
    and an answer rather than a paste, a dump or a contradiction (`not_an_answer`)."""
    facts = fact_accuracy(case, reply, world)
    invented = unsupported_facts(case, reply, world)
    refused = refusal(case, reply, world)
    problems = [] if reply.text.strip() else ["empty answer"]
    problems += not_an_answer(case, reply, world)
    if facts.value is not None and facts.value < 1:
        problems.append(facts.reason)
    if invented.value:
        problems.append(invented.reason)
    if refused.value is False:
        problems.append(refused.reason)
    elif forbidden := forbidden_said(case, reply.text):
        problems.append("said " + ", ".join(map(repr, forbidden)))
    return Score(not problems, "correct" if not problems else "; ".join(problems))


# --- claims the answer's sources do not support -------------------------------------------------

# The specifics a sentence asserts: a number, a capitalised word after the sentence's first word
# (products, menus, buttons, stores), a quoted string. Written apart from the guard's checks (which
# look for menu paths, labels, model numbers and content words) so that one cannot pass the other
# by sharing its blind spots.
_SPECIFIC = re.compile(r"\d+(?:[.,]\d+)*|\b[A-Z][A-Za-z0-9]*(?:[-'][A-Za-z0-9]+)*")
_QUOTE = re.compile(r'(?<![\d"])"([^"\n]+)"|“([^”\n]+)”')  # not the inch mark of '65"'
_LIST_MARK = re.compile(r"^\s*(?:[-*•]|\d+[.)])(?:\s+|$)")  # "2. Press", or a lone "2."
_ALWAYS = {"i", "i'm", "i'd", "i'll", "ok", "okay"}
STORE = "Volt Electronics"  # the store's name is in every prompt


def claims_unsupported(text: str, evidence: str) -> list[str]:
    """The specifics of `text` that `evidence` does not contain (case and punctuation ignored).

    'Open Settings > Display, then tap "Night Shift"' against a manual that says 'Settings >
    Display' -> ['Night Shift']: the label is asserted, the manual never names it."""
    known = f" {' '.join(_words(evidence + ' ' + STORE))} "
    figures = {_figure(n) for n in _NUMERAL.findall(evidence)}
    # "the three best laptops" supports "Top 3" (version 5).
    figures |= {float(_NUMBER_WORDS[w]) for w in _words(evidence) if w in _NUMBER_WORDS}
    bad: list[str] = []
    for sentence in _sentences(text):
        body = _LIST_MARK.sub("", sentence.strip())
        quoted = [q for m in _QUOTE.finditer(body) for q in m.groups() if q]
        body = _QUOTE.sub(lambda m: " " * len(m.group(0)), body)  # a quote counts once, whole
        # A word capitalised for its place is no name: the sentence's first ("**Open** the
        # app"), or a clause's after a colon ("Shift+F11: Moves the frequency down").
        starts = {0} | {m.end() for m in re.finditer(r":\s+\W*", body)}
        starts |= {m.end() for m in re.finditer(r"^\W+", body)}
        specifics = [*quoted, *(m.group(0) for m in _SPECIFIC.finditer(body)
                                if m.start() not in starts or m.group(0)[0].isdigit())]
        for item in specifics:
            words = _words(item)
            if not words or " ".join(words) in _ALWAYS or item in bad:
                continue
            if item[0].isdigit():  # '$1,299.99' is the evidence's '1299.99'; '9:00' is 9 and 0
                if any(_figure(part) not in figures for part in _NUMERAL.findall(item)):
                    bad.append(item)
            elif f" {' '.join(words)} " not in known:
                bad.append(item)
    return bad


_NUMERAL = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?")  # 1,299.99; not the guard's figure pattern
_NUMBER_WORDS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine ten "
                                             "eleven twelve".split())}


def _figure(numeral: str) -> float:
    return float(numeral.replace(",", "").rstrip("."))


def _evidence(case: GoldenCase, reply: Reply, world: World) -> str:
    # A source's id names its section ("manual:apple-ipad-10th-gen#compatibility"), which an
    # answer may cite.
    texts = [case.question, world.source_text(s for s in reply.sources if not s.isdigit()),
             *reply.sources, *(world.chunk_titles.get(s, "") for s in reply.sources)]
    # The products the case, the answer's sources or the question name; not those the answer
    # names, or naming a product would make its own claims about it supported.
    skus = [s for s in (*case.sources, *reply.sources) if s.isdigit()]
    skus += mentioned_products(case.question, world.products())
    products = [p for p in map(world.inventory.lookup, dict.fromkeys(skus)) if p is not None]
    return "\n".join([*texts, *map(_product_text, products)])


def _product_text(product: Product) -> str:
    promotion = product.promotion
    return " ".join([product.name, "SKU", product.sku, product.model or "", product.category,
                     f"{product.price:.2f}", product.aisle or "", *product.aliases,
                     *product.stock, *(str(q) for q in product.stock.values()),
                     *([promotion.text, f"{promotion.price:.2f}",
                        f"{product.price - promotion.price:.2f}", str(promotion.end),
                        promotion.end.strftime("%B %d %Y"), str(promotion.start),
                        promotion.start.strftime("%B %d %Y")] if promotion else [])])


def unsupported_claims(case: GoldenCase, reply: Reply, world: World) -> Score:
    """Specifics (figures, names, labels) the answer asserts that neither its sources, the
    products in play nor the question contain. Does not apply to an answer with no sources."""
    if not reply.sources:
        return Score(None, "the answer was given no sources to check it against")
    bad = claims_unsupported(reply.text, _evidence(case, reply, world))
    return Score(float(len(bad)), "none" if not bad else "not in the sources: " + ", ".join(bad))


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
    Metric("correct", 8, correct, "Correct (all facts, nothing invented)"),
    Metric("fact_accuracy", 4, fact_accuracy, "Fact accuracy"),
    Metric("model_facts", 2, model_facts, "Facts the model wrote (before the guard)"),
    Metric("unsupported_facts", 4, unsupported_facts, "Unsupported facts", higher_is_better=False),
    Metric("unsupported_claims", 6, unsupported_claims, "Unsupported claims (names, labels, "
           "figures not in the sources)", higher_is_better=False),
    Metric("refusal", 2, refusal, "Refusal correctness"),
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
CONSISTENCY_VERSION = 3  # 2: the metric's own product matcher; 3: 'not sure' is no stance


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
    recommended = tuple(sorted(set(mentioned_products(reply.text, world.products())))) if (
        case.recommend or case.category == "persona") else ()
    return facts, recommended, declines(reply.text) if case.expect == "decline" else None


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
