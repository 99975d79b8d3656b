"""How the metrics read an answer: numbers, prices, yes/no, facts, refusals, products named.

Deliberately the evaluation's own code: nothing here comes from `answering/`, so a bug in the
guard's or the linker's patterns cannot hide itself in the score that is meant to catch it.
Numbers are compared as numbers: "$1,299" and "1299.00" both match a price of 1299.0.
"""

from __future__ import annotations

import functools
import re

from store_assistant.evaluation.golden import STORES, Fact, GoldenCase
from store_assistant.store.products import Product


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


def same(a: float, b: float) -> bool:
    return abs(a - b) < 0.005


def _squash(text: str) -> str:
    return re.sub(r"[\s\-_]+", " ", text.lower()).strip()


def matches(expected: str, retrieved: str) -> bool:
    """A source id matches itself, and a document prefix matches its sections.

    'policy:returns' matches 'policy:returns#restocking-fees'; 'manual:x#setup' matches 'manual:x#setup-2'.
    """
    return (retrieved == expected or retrieved.startswith(expected + "#")
            or re.fullmatch(re.escape(expected) + r"(-\d+|-b)+", retrieved) is not None)


_UNSURE = re.compile(r"\b(?:not sure|unsure|don't know|do not know|no idea|can't say|cannot say|"
                     r"not certain|can't tell|cannot tell|check with a manager)\b")


def stance(text: str) -> str | None:
    """'Hi! Yes, it works with...' -> 'yes'; 'Unfortunately it does not...' -> 'no'; else None.

    Not knowing is no stance: "I'm not sure." is not a "no" (version 2 of the yes/no reading).
    """
    body = _GREETING.sub("", text.strip())
    first = re.split(r"(?<=[.!?])\s+|\n", body.strip(), maxsplit=1)[0].lower().lstrip("*_ ")
    if _UNSURE.search(first):
        return None
    if _NO.search(first):
        return "no"
    return "yes" if _YES.search(first) else None


def fact_present(fact: Fact, text: str) -> bool:
    if fact.type == "price":
        return any(same(value, float(fact.value)) for value, _, _ in numbers(text))
    if fact.type == "sku":
        return re.search(rf"(?<!\d){re.escape(str(fact.value))}(?!\d)", text) is not None
    if fact.type == "term":
        squashed = _squash(text)
        return any(_squash(phrase) in squashed for phrase in fact.any)
    if fact.type == "yesno":
        return stance(text) == fact.value
    if fact.type == "number":
        if (fact.unit or "").lower() in ("$", "usd", "dollars"):
            return any(same(value, float(fact.value)) for value, _, _ in numbers(text))
        return any(same(value, float(fact.value)) for value in with_unit(text, fact.unit))
    if fact.type == "stock":
        return _stock_stated(fact.store, int(fact.value), text)
    raise ValueError(f"unknown fact type {fact.type!r}")


def with_unit(text: str, unit: str | None) -> list[float]:
    """The numbers in `text` written with `unit` (every number when there is no unit):
    'an 18x and a 40x optical zoom' with 'x' -> [18.0, 40.0]."""
    pattern = UNIT_WORDS.get((unit or "").lower(), re.escape(unit or ""))
    return [value for value, _, end in numbers(text)
            if not unit or re.match(rf"\s?(?:{pattern})", text[end:end + 16], re.IGNORECASE)]


def missing_facts(facts: tuple[Fact, ...] | list[Fact], text: str, question: str) -> list[Fact]:
    """The facts `text` does not state. A "yes" is also stated by stating everything else that
    was asked, when that is more than the question's own words and no sentence says no: "Water
    and dust resistance: IP54" answers "Are they water resistant? What's the rating?", and "It
    can shoot RAW" does not answer "Can it shoot RAW?" (version 3 of the yes/no reading).
    """
    missing = [fact for fact in facts if not fact_present(fact, text)]
    others = [fact for fact in facts if fact.type != "yesno"]
    if (others and not any(fact in missing for fact in others)
            and not all(fact_present(fact, question) for fact in others)
            and not any(stance(line) == "no" for line in re.split(r"(?<=[.!?])\s+|\n", text))):
        missing = [f for f in missing if not (f.type == "yesno" and f.value == "yes")]
    return missing


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


def declines(text: str) -> bool:
    return _DECLINE.search(text) is not None


def forbidden_said(case: GoldenCase, text: str) -> list[str]:
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
SKU = re.compile(r"(?<![\d$.,])\b\d{7}\b(?![.,]\d)")
# A count of things on hand: "3 units", "2 are available", "4 more in stock". Written apart from
# the guard's stock check (answering/guard/figures.py), which this metric judges.
STOCK_COUNT = re.compile(r"\b(\d+)\s+(?:(?:more|are|is|still)\s+)?"
                         r"(?:units?|pieces?|in\s+stock|left|available|on\s+hand)\b", re.IGNORECASE)


def _squashed(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.lower())


def mentioned_products(text: str, products: list[Product]) -> list[str]:
    """SKUs of the products an answer names exactly (SKU, model number, full name or alias), in
    the order the answer names them. No fuzzy matching: a metric counts what is written.

    'The Sony WH-1000XM5 (SKU 6505727) is $399.99' -> ['6505727'].
    """
    squashed = _squashed(text)
    lowered = _spaced(text)
    found: dict[str, int] = {}  # sku -> where the answer first names it (in `squashed`)
    for product in products:
        model, names = _names(product)
        named = [product.sku] if re.search(rf"\b{product.sku}\b", text) else []
        if model and model in squashed:
            named.append(model)
        named += [squashed_name for squashed_name, spaced in names if spaced in lowered]
        if named:
            found[product.sku] = min(squashed.find(n) for n in named)
    return sorted(found, key=found.get)


def _spaced(text: str) -> str:
    return f" {' '.join(re.findall(r'[a-z0-9]+', text.lower()))} "


@functools.lru_cache(maxsize=4096)
def _names(product: Product) -> tuple[str, tuple[tuple[str, str], ...]]:
    """A product's model number (squashed, when 4+ characters) and its full name and aliases
    (squashed, spaced) as `mentioned_products` matches them; read once per product."""
    model = _squashed(product.model or "")
    return (model if len(model) >= 4 else "",
            tuple((_squashed(name), _spaced(name)) for name in (product.name, *product.aliases)
                  if len(_squashed(name)) >= 3))


def taught(case: GoldenCase, records: list[dict]) -> bool:
    """Was this case's answer in the fine-tuning data? True when the case asks for facts and every
    one is stated by a training answer about one of the case's sources.

    A record (one chat of train.jsonl) is about a source when it names the SKU (in its `source` or
    any message), or comes from the same document: 'policy:returns#restocking-fees' is the document
    of 'inventory'-free records 'policy:returns#...', the seed leaf 'taxonomy:.../policies/returns'
    and any excerpt quoting 'returns.md'. A case with no facts (a decline) is untaught: it tests a
    skill, not a fact the adapter could have memorised.
    """
    if not case.facts:
        return False
    answers = [_answer(r) for r in records if _about(r, case.sources)]
    return all(any(fact_present(fact, answer) for answer in answers) for fact in case.facts)


def _answer(record: dict) -> str:
    return " ".join(t["content"] for t in record.get("messages", []) if t.get("role") == "assistant")


def _about(record: dict, sources: tuple[str, ...] | list[str]) -> bool:
    source = record.get("source", "")
    text = " ".join(t.get("content", "") for t in record.get("messages", []))
    for wanted in sources:
        if wanted.isdigit():
            if wanted in source.split(":") or re.search(rf"(?<!\d){wanted}(?!\d)", text):
                return True
            continue
        document = wanted.split("#")[0]  # 'policy:returns'
        name = document.split(":")[-1]  # 'returns'
        if (source.split("#")[0] == document or source.endswith("/" + name)
                or f"{name}.md" in text):
            return True
    return False
