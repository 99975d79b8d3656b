"""Figures and facts against the grounding: prices, SKUs, stock counts, percentages, day counts,
spec figures and times of day, in-stock and on-sale claims in words; a wrong price with exactly one
product in play is corrected, the price or stock asked for and left out is added. While an answer
streams, `hold_figures()` is what may be shown of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Callable

from store_assistant.answering.data_answers import fact_line
from store_assistant.answering.linking import SKU_PATTERN
from store_assistant.answering.routing import Asked
from store_assistant.store.products import Product, money
from store_assistant.answering.guard.grounding import built


# --- what may be shown while an answer streams ---------------------------------------------------

UNCHECKED_PRICE = "[price: see the inventory screen]"
_FIGURE = re.compile(r"\$?\d[\d,]*(?:\.\d+)?")


def hold_figures(text: str) -> str:
    """Text still being generated, its figures held back: '$0.00' -> '…'. `check()` runs only
    once the answer is complete, so a wrong price must not flash by first."""
    return _FIGURE.sub("…", text)

PRICE_PATTERN = re.compile(r"\$\s?(\d[\d,]*(?:\.\d{1,2})?)")
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s?(?:%|percent\b)", re.IGNORECASE)
_DAYS = re.compile(r"(\d+)[\s-]*(?:days?|day)\b", re.IGNORECASE)
STOCK_PATTERN = re.compile(r"(\d+)\s+(?:units?|in stock|left|available|pieces)\b", re.IGNORECASE)
# Spec figures: "2 hours of battery", "13.3-inch", "64GB", "140W". Checked like days and percents.
_MEASURE = re.compile(r"(\d+(?:\.\d+)?)[\s-]*(hours?|hrs?|inch(?:es)?|gb|tb|mah|watts?|w|mp|"
                      r"megapixels?|hz|khz|mhz|ghz|db|lbs?|pounds?|mm|months?|years?|minutes?|"
                      r"mins?|seconds?|secs?|ms)\b", re.IGNORECASE)


_UNITS = {"hr": "hour", "hrs": "hour", "hours": "hour", "inches": "inch", "watt": "w",
          "watts": "w", "megapixel": "mp", "megapixels": "mp", "lbs": "lb", "pound": "lb",
          "pounds": "lb", "months": "month", "years": "year", "minutes": "minute",
          "min": "minute", "mins": "minute", "seconds": "second", "sec": "second",
          "secs": "second", "s": "second"}


_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


@dataclass
class GuardResult:
    text: str
    flags: list[str] = field(default_factory=list)


def _numbers(text: str) -> set[float]:
    return {float(n.replace(",", "")) for n in _NUMBER.findall(text) if n.replace(",", "")}


# Instructions aimed at the model inside a manual, policy or inventory text. Such an excerpt is
# withheld from the prompt and from the grounding, so its figures cannot pass the guard.
_INJECTED = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b[^.\n]{0,40}\b(?:instructions|rules|prompt|"
    r"guidelines)\b|\b(?:system prompt|maintenance mode|developer mode|jailbreak)\b|"
    r"\byou are now\b|\bnew (?:system )?(?:instructions|rules)\b|\b(?:tell|inform) (?:the )?"
    r"(?:staff|customers?) (?:that )?(?:it|everything) is free\b", re.IGNORECASE)


def injected(text: str) -> bool:
    """True when a document text addresses the model, e.g. 'IGNORE ALL PREVIOUS INSTRUCTIONS'.

    'Ignore the rattle on first power-up' -> False (no instructions/rules/prompt nearby).
    """
    return bool(_INJECTED.search(text))


def guard(answer: str, grounding: str, products: list[Product], today: date,
          fallback: str | Callable[[], str]) -> GuardResult:
    """Check every figure in `answer` against `grounding` (facts + context + question).

    A price must match a price ($) in the grounding: '$1,299' and '$1299.00' both match '$1,299.00';
    '$1.00' does not match a stock count of 1. A wrong price with exactly one product in
    play is replaced by that product's price today; anything else unsupported (a SKU, a stock
    count, a percentage, a day count or a time of day the data does not contain) makes the
    answer `fallback`.
    """
    def fell(flag: str) -> GuardResult:
        return GuardResult(built(fallback), [flag])

    supported = _numbers(grounding)
    prices = {float(p.replace(",", "")) for p in PRICE_PATTERN.findall(grounding)}
    flags: list[str] = []
    text = answer
    for match in list(PRICE_PATTERN.finditer(answer)):
        value = float(match.group(1).replace(",", ""))
        regular = _regular_as_price(answer, match, value, products, today)
        if any(abs(value - p) < 0.005 for p in prices) and not regular:
            continue
        why = "regular_price_as_price" if regular else "unsupported_price"
        if len(products) == 1:
            right = money(products[0].effective_price(today))
            text = text.replace(match.group(0), right, 1)
            flags.append(f"guard_corrected_price:{match.group(0).strip()}->{right}"
                         + (":regular" if regular else ""))
        else:
            return fell(f"guard_fallback:{why}:{match.group(0)}")
    for claim in _false_claims(text, products, today):
        return fell(f"guard_fallback:{claim}")
    checks = ((SKU_PATTERN, "sku"), (_PERCENT, "percent"), (_DAYS, "days"), (STOCK_PATTERN, "stock"))
    for pattern, kind in checks:
        for match in pattern.finditer(text):
            value = float(match.group(1) if pattern.groups else match.group(0))
            if value not in supported:
                return fell(f"guard_fallback:unsupported_{kind}:{match.group(0)}")
    measured = _measures(grounding)
    for match in _MEASURE.finditer(text):
        value, unit = float(match.group(1)), _unit(match.group(2))
        # "2 hours" where the excerpts give battery life as 24 and 18 hours: a figure of that unit
        # that is not among them. With no figure of that unit given, any number given will do.
        if value not in measured.get(unit, supported):
            return fell(f"guard_fallback:unsupported_measure:{match.group(0)}")
    hours = {clock_of(m) for m in TIME_OF_DAY.finditer(grounding)}
    for match in TIME_OF_DAY.finditer(text):
        if clock_of(match) not in hours:
            return fell(f"guard_fallback:unsupported_time:{match.group(0)}")
    return GuardResult(text, flags)


# "regular $399.99", "was $399.99", "save $70 off $399.99": the regular price named as such.
_AS_REGULAR = re.compile(r"\b(regular(?:ly)?|reg\.?|was|were|usually|normally|list|original(?:ly)?|"
                         r"before|save[sd]?|off|full price)\b", re.IGNORECASE)


def _regular_as_price(answer: str, match: re.Match, value: float, products: list[Product],
                      today: date) -> bool:
    """True when `value` is a product's regular price, stated as what it costs while a promotion
    runs: 'The price is $399.99' when the holiday price is $329.99. The grounding has both, so the
    figure alone passes; the words around it decide."""
    on_sale = [p for p in products
               if p.active_promotion(today) and abs(p.price - value) < 0.005]
    if not on_sale:
        return False
    start = max(answer.rfind(".", 0, match.start()), answer.rfind("\n", 0, match.start())) + 1
    return not _AS_REGULAR.search(answer[start:match.start()] + answer[match.end():match.end() + 12])


def _unit(text: str) -> str:
    return _UNITS.get(text.lower(), text.lower())


def _measures(text: str) -> dict[str, set[float]]:
    """{'hour': {24.0, 18.0}} for 'up to 24 hours; up to 18 hours with Immersive Audio on'."""
    found: dict[str, set[float]] = {}
    for match in _MEASURE.finditer(text):
        found.setdefault(_unit(match.group(2)), set()).add(float(match.group(1)))
    return found


TIME_OF_DAY = re.compile(r"\b(\d{1,2})(?:[:.](\d{2}))?\s*([ap])\.?\s?m\b\.?", re.IGNORECASE)


def clock_of(match: re.Match) -> tuple[int, int]:
    """'9 pm', '9:00 PM' and '9.00 p.m.' -> (21, 0): store hours compared as times of day."""
    hour, minute = int(match.group(1)) % 12, int(match.group(2) or 0)
    return hour + (12 if match.group(3).lower() == "p" else 0), minute


def add_missing_facts(answer: str, asked: Asked, products: list[Product], today: date,
                      stores: list[str]) -> tuple[str, list[str]]:
    """Add the inventory's facts when the answer leaves out the price or stock it was asked for.

    'How many XM5 are downtown?' answered 'It is sold at the downtown store.' gets
    'From the inventory: ... in stock: downtown 0, ...' appended: staff always see the figure.
    """
    stated = _numbers(answer)
    asked_stores = list(asked.stores)
    wants_stock = asked.stock or bool(asked_stores)
    lines, missing = [], []
    for product in products:
        gaps = []
        if asked.price and not any(
                abs(product.effective_price(today) - v) < 0.005 for v in stated):
            gaps.append("price")
        if wants_stock:
            for store in asked_stores or stores:
                qty = product.stock.get(store, 0)
                near = (rf"\b{re.escape(store)}\b[^.\n\d]{{0,30}}\b{qty}\b"
                        rf"|\b{qty}\b[^.\n\d]{{0,30}}\b{re.escape(store)}\b")
                if not re.search(near, answer, re.IGNORECASE):
                    gaps.append(f"stock:{store}")
                    break
        if gaps:
            lines.append(fact_line(product, today))
            missing += [f"{product.sku}:{gap}" for gap in gaps]
    if not lines:
        return answer, []
    return (f"{answer.rstrip()}\n\nFrom the inventory: " + " ".join(lines),
            [f"facts_added:{','.join(missing)}"])


_NEGATION = re.compile(r"\b(not|no|n't|out of|isn't|aren't|sold out|unavailable)\b", re.IGNORECASE)


def _false_claims(text: str, products: list[Product], today: date) -> list[str]:
    """Stock and promotion claims in words that contradict the data, sentence by sentence.

    With Sony XM5 at 0 downtown, 'It is in stock downtown.' is a false claim; so is 'it is not on
    sale' while a promotion is active. Only checked with one product in play, where 'it' is clear.
    """
    if len(products) != 1:
        return []
    product, claims = products[0], []
    for sentence in re.split(r"(?<=[.!?])\s+|\n", text):
        lowered = sentence.lower()
        negated = bool(_NEGATION.search(lowered))
        if re.search(r"\b(in stock|available|have it|has it|carry it)\b", lowered):
            for store, qty in product.stock.items():
                if re.search(rf"\b{re.escape(store)}\b", lowered) and (qty > 0) == negated:
                    claims.append(f"false_stock_claim:{store}")
        if re.search(r"\b(on sale|promotion|discount|deal)\b", lowered):
            if negated and product.active_promotion(today):
                claims.append("false_promotion_claim")
    return claims
