"""From a question to the store's facts, and from a generated answer back to the facts.

`link_products()` finds the products a question is about (exact SKU or model number, alias, fuzzy
name, retrieval as a fallback); `recommend()` answers "top 3 laptops under $800" from the live
inventory; `guard()` checks every price, SKU, stock count, percentage and day count in a generated
answer against the facts and context the model was given. The model phrases; the data decides: an
unsupported figure is corrected when there is exactly one right value, otherwise the answer falls
back to a sentence built from the data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from rapidfuzz import fuzz

from store_assistant.inventory import Inventory, Product

# Words that name a category in a question -> the inventory's category id.
CATEGORY_WORDS = {
    "laptop": "laptops", "laptops": "laptops", "notebook": "laptops", "macbook": "laptops",
    "chromebook": "laptops", "tv": "tvs", "tvs": "tvs", "television": "tvs", "televisions": "tvs",
    "headphone": "headphones", "headphones": "headphones", "earbuds": "headphones",
    "earbud": "headphones", "headset": "headphones", "phone": "phones-tablets",
    "phones": "phones-tablets", "smartphone": "phones-tablets", "tablet": "phones-tablets",
    "tablets": "phones-tablets", "ipad": "phones-tablets", "camera": "cameras",
    "cameras": "cameras", "lens": "cameras", "lenses": "cameras", "thermostat": "smart-home",
    "doorbell": "smart-home", "smart home": "smart-home", "smart speaker": "smart-home",
    "keyboard": "accessories", "mouse": "accessories", "charger": "accessories",
    "cable": "accessories", "accessory": "accessories", "accessories": "accessories",
}
# Things a customer may ask for that Volt Electronics does not sell.
NOT_CARRIED = ("printer", "drone", "refrigerator", "fridge", "e-bike", "ebike", "washing machine",
               "dishwasher", "playstation", "ps5", "xbox", "nintendo switch", "game console",
               "video game console")
SKU_PATTERN = re.compile(r"(?<![\d$.,])\b\d{6,8}\b(?![.,]\d)")  # 7-digit SKUs, not prices like 1,299.99
_BUDGET = re.compile(r"(?:under|below|less than|up to|max(?:imum)?|<)\s*\$?\s*(\d[\d,]*(?:\.\d+)?)",
                     re.IGNORECASE)
_BUDGET_AMOUNT = re.compile(r"\$\s?(\d[\d,]*(?:\.\d+)?)|\b(\d[\d,]*)\s*(?:dollars|bucks)\b",
                            re.IGNORECASE)
_STOPWORDS = {"the", "a", "an", "is", "it", "in", "on", "of", "for", "and", "or", "do", "you",
              "have", "what", "how", "much", "does", "stock", "price", "any", "at", "with", "my",
              "i", "me", "can", "this", "that", "to", "are", "there", "which", "best", "good"}


@dataclass(frozen=True)
class Link:
    product: Product
    how: str  # "sku" | "model" | "alias" | "name" | "retrieval"
    score: float


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.lower())


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+(?:[-.][a-z0-9]+)*", text.lower())


def link_products(question: str, inventory: Inventory, retrieved_skus: list[str] = (),
                  limit: int = 3) -> list[Link]:
    """The products a question names, best first.

    'Is SKU 6505727 in stock?' -> [Link(<WH-1000XM5>, 'sku', 100)];
    'how long does the xm5 battery last' -> [Link(<WH-1000XM5>, 'alias', 95)].
    """
    links: dict[str, Link] = {}

    def add(product: Product, how: str, score: float) -> None:
        if product.sku not in links or links[product.sku].score < score:
            links[product.sku] = Link(product, how, score)

    for sku in SKU_PATTERN.findall(question):
        if (product := inventory.lookup(sku)) is not None:
            add(product, "sku", 100)
    products = inventory.products()
    squashed = _norm(question)
    lowered = _spaced(question)
    matched: dict[str, str] = {}  # sku -> the longest alias of it the question contains
    for product in products:
        model = _norm(product.model or "")
        if len(model) >= 4 and model in squashed:
            add(product, "model", 98)
        for alias in product.aliases:
            words = _spaced(alias)
            if len(_norm(alias)) >= 3 and words in lowered:
                add(product, "alias", 95)
                if len(words) > len(matched.get(product.sku, "")):
                    matched[product.sku] = words
    # "MacBook Air 256" names the 256GB model, not also the one whose alias is "MacBook Air".
    for sku, words in matched.items():
        if links[sku].how == "alias" and any(
                other != sku and words in longer and words != longer
                for other, longer in matched.items()):
            del links[sku]
    if not links:
        content = " ".join(w for w in _words(question) if w not in _STOPWORDS)
        if len(content) >= 4:
            for product in products:
                score = fuzz.token_set_ratio(content, _short_name(product).lower())
                if score >= 85:
                    add(product, "name", score)
    if not links:
        for rank, sku in enumerate(dict.fromkeys(s for s in retrieved_skus if s)):
            if (product := inventory.lookup(sku)) is not None:
                add(product, "retrieval", 50 - rank)
    found = sorted(links.values(), key=lambda link: -link.score)
    return list({link.product.sku: link for link in
                 (_closest_variant(link, question, products) for link in found)}.values())[:limit]


def _closest_variant(link: Link, question: str, products: list[Product]) -> Link:
    """Among a product's variants (same manual or same base name), the one the question's details
    name: 'MacBook 12 with the i5 and 512GB' -> the i5/512GB model, not the first MacBook 12."""
    if link.how in ("sku", "model"):
        return link
    base = link.product
    family = [p for p in products if (p.manual and p.manual == base.manual)
              or _short_name(p) == _short_name(base)]
    if len(family) < 2:
        return link
    asked = set(_spaced(question).split())
    common = set.intersection(*(set(_spaced(p.name).split()) for p in family))

    def detail(product: Product) -> int:
        return len((set(_spaced(product.name).split()) - common) & asked)

    best = max(family, key=lambda p: (detail(p), p.sku == base.sku))
    return link if detail(best) <= detail(base) else Link(best, link.how, link.score)


def _spaced(text: str) -> str:
    """' macbook air 256 gb ': words with numbers split from their units, padded for matching."""
    return f" {re.sub(r'(?<=[0-9])(?=[a-z])', ' ', ' '.join(_words(text)))} "


def _short_name(product: Product) -> str:
    """The name without its spec tail: 'Sony WH-1000XM5 Headphones - Black' -> 'Sony WH-1000XM5 Headphones'."""
    head = product.name.split(" - ")[0].strip()
    return head if len(head.split()) >= 2 else product.name


def asked_category(question: str) -> str | None:
    lowered = f" {' '.join(_words(question))} "
    for words, category in sorted(CATEGORY_WORDS.items(), key=lambda kv: -len(kv[0])):
        if f" {words} " in lowered:
            return category
    return None


def not_carried(question: str) -> str | None:
    """The thing asked for, if it is something the store does not sell."""
    lowered = question.lower()
    for thing in NOT_CARRIED:
        if re.search(rf"\b{re.escape(thing)}s?\b", lowered):
            return thing
    return None


def is_follow_up(question: str) -> bool:
    """'and is it in stock downtown?' refers back to an earlier product; 'Can I return a camera?' does not."""
    lowered = question.lower().strip()
    return bool(re.match(r"(and|also|what about|how about)\b", lowered)
                or re.search(r"\b(it|its|it's|that one|this one|they|them|those|these)\b", lowered))


def budget(question: str) -> float | None:
    """'under $800' -> 800.0; 'budget $800', 'has $1,000 for a TV' -> the one $ amount given."""
    match = _BUDGET.search(question) or _BUDGET_AMOUNT.search(question)
    if not match:
        return None
    return float(next(g for g in match.groups() if g).replace(",", ""))


def is_choosing(question: str) -> bool:
    lowered = question.lower()
    return bool(re.search(r"\b(top \d|best|recommend|which .* should|options|suggest|under \$?\d)",
                          lowered))


def recommend(inventory: Inventory, category: str, max_price: float | None, today: date,
              limit: int = 3) -> list[Product]:
    """In-stock products of a category within budget, the most capable (priciest) first."""
    candidates = [p for p in inventory.products(category=category)
                  if sum(p.stock.values()) > 0
                  and (max_price is None or p.effective_price(today) <= max_price)]
    return sorted(candidates, key=lambda p: (-p.effective_price(today), p.sku))[:limit]


# --- how facts are written, for the prompt and for data-built answers -------------------------

def money(value: float) -> str:
    return f"${value:,.2f}"


def fact_line(product: Product, today: date) -> str:
    """One product's live facts, as given to the model and shown to staff."""
    promo = product.active_promotion(today)
    price = (f"{money(promo.price)} ({promo.text}, until {promo.end.isoformat()}; regular "
             f"{money(product.price)})" if promo else money(product.price))
    stock = ", ".join(f"{store} {qty}" for store, qty in product.stock.items())
    aisle = f"; aisle {product.aisle}" if product.aisle else ""
    return f"{product.name} (SKU {product.sku}): price {price}; in stock: {stock}{aisle}."


# --- the grounding guard ---------------------------------------------------------------------

PRICE_PATTERN = re.compile(r"\$\s?(\d[\d,]*(?:\.\d{1,2})?)")
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s?(?:%|percent\b)", re.IGNORECASE)
_DAYS = re.compile(r"(\d+)[\s-]*(?:days?|day)\b", re.IGNORECASE)
STOCK_PATTERN = re.compile(r"(\d+)\s+(?:units?|in stock|left|available|pieces)\b", re.IGNORECASE)
# Spec figures: "2 hours of battery", "13.3-inch", "64GB", "140W". Checked like days and percents.
_MEASURE = re.compile(r"(\d+(?:\.\d+)?)[\s-]*(hours?|hrs?|inch(?:es)?|gb|tb|mah|watts?|w|mp|"
                      r"megapixels?|hz|lbs?|pounds?|mm|months?|years?)\b", re.IGNORECASE)
_UNITS = {"hr": "hour", "hrs": "hour", "hours": "hour", "inches": "inch", "watt": "w",
          "watts": "w", "megapixel": "mp", "megapixels": "mp", "lbs": "lb", "pound": "lb",
          "pounds": "lb", "months": "month", "years": "year"}
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
          fallback: str) -> GuardResult:
    """Check every figure in `answer` against `grounding` (facts + context + question).

    A price must match a price ($) in the grounding: '$1,299' and '$1299.00' both match '$1,299.00';
    '$1.00' does not match a stock count of 1. A wrong price with exactly one product in
    play is replaced by that product's price today; anything else unsupported (a SKU, a stock
    count, a percentage, a day count or a time of day the data does not contain) makes the
    answer `fallback`.
    """
    supported = _numbers(grounding)
    prices = {float(p.replace(",", "")) for p in PRICE_PATTERN.findall(grounding)}
    flags: list[str] = []
    text = answer
    for match in list(PRICE_PATTERN.finditer(answer)):
        value = float(match.group(1).replace(",", ""))
        if any(abs(value - p) < 0.005 for p in prices):
            continue
        if len(products) == 1:
            right = money(products[0].effective_price(today))
            text = text.replace(match.group(0), right, 1)
            flags.append(f"guard_corrected_price:{match.group(0).strip()}->{right}")
        else:
            return GuardResult(fallback, [f"guard_fallback:unsupported_price:{match.group(0)}"])
    for claim in _false_claims(text, products, today):
        return GuardResult(fallback, [f"guard_fallback:{claim}"])
    checks = ((SKU_PATTERN, "sku"), (_PERCENT, "percent"), (_DAYS, "days"), (STOCK_PATTERN, "stock"))
    for pattern, kind in checks:
        for match in pattern.finditer(text):
            value = float(match.group(1) if pattern.groups else match.group(0))
            if value not in supported:
                return GuardResult(fallback, [f"guard_fallback:unsupported_{kind}:{match.group(0)}"])
    measured = _measures(grounding)
    for match in _MEASURE.finditer(text):
        value, unit = float(match.group(1)), _unit(match.group(2))
        # "2 hours" where the excerpts give battery life as 24 and 18 hours: a figure of that unit
        # that is not among them. With no figure of that unit given, any number given will do.
        if value not in measured.get(unit, supported):
            return GuardResult(fallback, [f"guard_fallback:unsupported_measure:{match.group(0)}"])
    hours = {_clock(m) for m in _TIME.finditer(grounding)}
    for match in _TIME.finditer(text):
        if _clock(match) not in hours:
            return GuardResult(fallback, [f"guard_fallback:unsupported_time:{match.group(0)}"])
    return GuardResult(text, flags)


def _unit(text: str) -> str:
    return _UNITS.get(text.lower(), text.lower())


def _measures(text: str) -> dict[str, set[float]]:
    """{'hour': {24.0, 18.0}} for 'up to 24 hours; up to 18 hours with Immersive Audio on'."""
    found: dict[str, set[float]] = {}
    for match in _MEASURE.finditer(text):
        found.setdefault(_unit(match.group(2)), set()).add(float(match.group(1)))
    return found


_TIME = re.compile(r"\b(\d{1,2})(?:[:.](\d{2}))?\s*([ap])\.?\s?m\b\.?", re.IGNORECASE)


def _clock(match: re.Match) -> tuple[int, int]:
    """'9 pm', '9:00 PM' and '9.00 p.m.' -> (21, 0): store hours compared as times of day."""
    hour, minute = int(match.group(1)) % 12, int(match.group(2) or 0)
    return hour + (12 if match.group(3).lower() == "p" else 0), minute


_ASKS_PRICE = re.compile(r"\b(price|prices|priced|cost|costs|how much|sale|deal|deals|promo|"
                         r"promotion|promotions|discount|discounted|expensive|cheap|cheaper|cheapest|pricier|free)\b|\$",
                         re.IGNORECASE)
_ASKS_PROMO = re.compile(r"\b(sale|deal|deals|promo|promotion|promotions|discount|discounted|"
                         r"offer|offers)\b", re.IGNORECASE)
# Words that send a question to the manuals and policies, even when it also names a product.
_ASKS_KNOWLEDGE = re.compile(
    r"\b(battery|compatib\w*|work with|works with|spec|specs|weigh\w*|screen|resolution|inch|"
    r"return|returns|refund|warranty|set ?up|install|charg\w*|water\w*|support\w*|size|ports?|"
    r"bluetooth|wi-?fi|memory|storage|ram|processor|lens|zoom|noise|difference|compare|"
    r"better|vs|versus|trade|match|box|included|includes|include|comes? with|features?|"
    r"colou?rs?|dimensions?|how (?:do|to))\b", re.IGNORECASE)
_ASKS_STOCK = re.compile(r"\b(stock|in-stock|available|availability|have any|how many|left|"
                         r"units|sold out|carry it|pick (?:it )?up)\b", re.IGNORECASE)


def stores_named(text: str, stores: list[str]) -> list[str]:
    """The stores `text` names as words: 'Is it at Downtown?' -> ['downtown']."""
    return [s for s in stores if re.search(rf"\b{re.escape(s)}\b", text, re.IGNORECASE)]


def asks_inventory(question: str) -> bool:
    """A question the inventory table answers whole: price, promotion, stock, not specs or policy."""
    return bool((_ASKS_PRICE.search(question) or _ASKS_STOCK.search(question)
                 or re.search(r"\b(downtown|westside|northgate)\b", question, re.IGNORECASE))
                and not _ASKS_KNOWLEDGE.search(question))


def inventory_answer(question: str, products: list[Product], today: date,
                     stores: list[str]) -> str:
    """The answer to a price/promotion/stock question, built from the inventory alone.

    'Any black XM5s left at the downtown store?' -> 'No, the Sony WH-1000XM5 ... (SKU 6505727):
    out of stock at Downtown. Elsewhere: Westside has 12, Northgate has 9.'
    """
    asked = stores_named(question, stores)
    wants_stock = bool(_ASKS_STOCK.search(question) or asked)
    wants_promo = bool(_ASKS_PROMO.search(question))
    sentences = []
    for product in products:
        promo = product.active_promotion(today)
        name = f"{product.name} (SKU {product.sku})"
        price = (f"{money(promo.price)} with the {promo.text} until {promo.end:%B %-d, %Y} "
                 f"(regular {money(product.price)})" if promo else money(product.price))
        said_price = True
        if wants_promo:
            sentences.append(f"Yes, the {name} is on sale: {price}." if promo else
                             f"No, there is no promotion on the {name} right now; it is "
                             f"{money(product.price)}.")
        elif _ASKS_PRICE.search(question) or not wants_stock:
            sentences.append(f"The {name} is {price}.")
        else:
            said_price = False
        if wants_stock:
            sentences.append(_stock_sentence(product, asked, stores, named=not said_price))
    if len(products) > 1 and re.search(r"\b(cheaper|cheapest|less expensive|more expensive|"
                                       r"pricier)\b", question, re.IGNORECASE):
        low = min(products, key=lambda p: p.effective_price(today))
        sentences.append(f"The cheaper one today is the {low.name} at "
                         f"{money(low.effective_price(today))}.")
    aisles = [p.aisle for p in products if p.aisle]
    return " ".join(sentences) + (f" Aisle {aisles[0]}." if len(products) == 1 and aisles else "")


def _stock_sentence(product: Product, asked: list[str], stores: list[str], named: bool) -> str:
    have = {s: product.stock.get(s, 0) for s in stores}
    subject = f"the {product.name} (SKU {product.sku})"
    if asked:
        lead = "Yes" if all(have[s] > 0 for s in asked) else "No"
        stated = "; ".join(f"{s.title()} has {have[s]} in stock" if have[s]
                           else f"out of stock at {s.title()} (0)" for s in asked)
        line = f"{lead} - {subject}: {stated}." if named else f"{lead}, {stated}."
        others = ", ".join(f"{s.title()} has {q}" for s, q in have.items() if s not in asked and q)
        return line + (f" Elsewhere: {others}." if others and lead == "No" else "")
    if not any(have.values()):
        return f"No, {subject if named else 'it'} is out of stock in every store."
    return (f"In stock for {subject}: " if named else "In stock: ") + ", ".join(
        f"{s} {q}" for s, q in have.items()) + "."


def complete(answer: str, question: str, products: list[Product], today: date,
             stores: list[str]) -> tuple[str, list[str]]:
    """Add the inventory's facts when the answer leaves out the price or stock it was asked for.

    'How many XM5 are downtown?' answered 'It is sold at the downtown store.' gets
    'From the inventory: ... in stock: downtown 0, ...' appended: staff always see the figure.
    """
    stated = _numbers(answer)
    asked_stores = stores_named(question, stores)
    asks_stock = bool(_ASKS_STOCK.search(question) or asked_stores)
    lines, missing = [], []
    for product in products:
        gaps = []
        if _ASKS_PRICE.search(question) and not any(
                abs(product.effective_price(today) - v) < 0.005 for v in stated):
            gaps.append("price")
        if asks_stock:
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
