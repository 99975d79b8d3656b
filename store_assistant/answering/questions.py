"""What staff type: validated first, then read for what it asks.

A question is checked before any model sees it: empty, oversized or binary-looking input gets a
`DataError` saying exactly what is wrong, instead of a slow, confused or crashing model call.
Then plain word rules read what it asks for: a category ("laptops"), a budget ("under $800"),
a choice ("top 3"), a store, price/stock/promotion words, a follow-up ("and is it in stock?"),
or something the store does not sell. Rules, not a model: they are fast and testable.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, timedelta
from typing import Iterable, Mapping

from store_assistant.errors import DataError

# A long product question is a few hundred characters; 2,000 leaves room for pasted specs while
# keeping the prompt (and so the CPU prompt time) bounded.
MAX_QUESTION_CHARS = 2000
_ALLOWED_CONTROLS = {"\n", "\t", "\r"}
ROLES = ("user", "assistant")


def validate_question(text: object) -> str:
    """The question with surrounding whitespace removed, or a `DataError`.

    >>> validate_question("  Is the Pixel 8 in stock?  ")
    'Is the Pixel 8 in stock?'
    """
    if not isinstance(text, str):
        raise DataError(f"A question must be text, got {type(text).__name__}.")
    question = text.strip()
    if not question:
        raise DataError("The question is empty. Type what the customer wants to know.")
    if len(question) > MAX_QUESTION_CHARS:
        raise DataError(f"The question is {len(question):,} characters; the limit is "
                        f"{MAX_QUESTION_CHARS:,}. Shorten it to the part the customer asked.")
    for position, char in enumerate(question):
        if char not in _ALLOWED_CONTROLS and unicodedata.category(char) in ("Cc", "Cs"):
            raise DataError(f"The question contains a control character (U+{ord(char):04X}) at "
                            f"position {position}. Remove it and ask again.")
    return question


def validate_history(history: Iterable[Mapping[str, str]] | None) -> list[dict[str, str]]:
    """Earlier turns as [{"role": "user"|"assistant", "content": ...}], checked."""
    if history is None:
        return []
    if isinstance(history, (str, bytes, Mapping)) or not isinstance(history, Iterable):
        raise DataError(f"The conversation history must be a list of turns, got "
                        f"{type(history).__name__}.")
    turns = []
    for i, turn in enumerate(history):
        if not isinstance(turn, Mapping):
            raise DataError(f"Conversation turn {i} must be a mapping with role and content, got "
                            f"{type(turn).__name__}.")
        role, content = turn.get("role"), turn.get("content")
        if role not in ROLES or not isinstance(content, str):
            raise DataError(f"Conversation turn {i} must have role 'user' or 'assistant' and "
                            f"text content, got {dict(turn)!r:.120}.")
        turns.append({"role": role, "content": content})
    return turns


# --- what a question asks -------------------------------------------------------------------

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
_BUDGET = re.compile(r"(?:under|below|less than|up to|max(?:imum)?|<)\s*\$?\s*(\d[\d,]*(?:\.\d+)?)",
                     re.IGNORECASE)
_BUDGET_AMOUNT = re.compile(r"\$\s?(\d[\d,]*(?:\.\d+)?)|\b(\d[\d,]*)\s*(?:dollars|bucks)\b",
                            re.IGNORECASE)
# 'How much does it weigh?' asks a spec, not a price.
_ASKS_PRICE = re.compile(r"\b(price|prices|priced|cost|costs|sale|deal|deals|promo|"
                         r"how much(?!\s+(?:storage|memory|ram|battery|space|power|data|time)\b)"
                         r"(?![^?]*\bweigh)|"
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

def asked_category(question: str) -> str | None:
    lowered = f" {' '.join(re.findall(r'[a-z0-9]+(?:[-.][a-z0-9]+)*', question.lower()))} "
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

def is_follow_up(question: str, names_product: bool = False) -> bool:
    """'and is it in stock downtown?' refers back to an earlier product; 'Can I return a camera?'
    does not. Nor does a question whose pronoun follows what it refers to, in the question itself:
    'A customer opened a Canon lens and wants to return it' (a category word before 'it'), or one
    that names its product (`names_product`: 'Is the Pixel 8a waterproof? Does it float?')."""
    lowered = question.lower().strip()
    if re.match(r"(and|also|what about|how about)\b", lowered):
        return True
    pronoun = re.search(r"\b(it|its|it's|that one|this one|they|them|those|these)\b", lowered)
    if pronoun is None or names_product:
        return False
    return asked_category(lowered[:pronoun.start()]) is None


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

def stores_named(text: str, stores: list[str]) -> list[str]:
    """The stores `text` names as words: 'Is it at Downtown?' -> ['downtown']."""
    return [s for s in stores if re.search(rf"\b{re.escape(s)}\b", text, re.IGNORECASE)]

_SIZE = re.compile(r"\b(\d+(?:\.\d+)?)\s*(?:\"|”|-?\s?inch(?:es)?\b|in\b|tb\b|gb\b)",
                      re.IGNORECASE)


def sizes_named(question: str) -> tuple[str, ...]:
    """The sizes or capacities a question names: 'the 77 inch C3', 'the 65" one' -> ('77',)."""
    return tuple(dict.fromkeys(m.group(1) for m in _SIZE.finditer(question)))


def asks_inventory(question: str) -> bool:
    """A question the inventory table answers whole: price, promotion, stock, not specs or policy."""
    return bool((_ASKS_PRICE.search(question) or _ASKS_STOCK.search(question)
                 or re.search(r"\b(downtown|westside|northgate)\b", question, re.IGNORECASE))
                and not _ASKS_KNOWLEDGE.search(question))


def asks_price(question: str) -> bool:
    return bool(_ASKS_PRICE.search(question))


def asks_promotion(question: str) -> bool:
    return bool(_ASKS_PROMO.search(question))


def asks_stock(question: str) -> bool:
    return bool(_ASKS_STOCK.search(question))


_YES_NO = re.compile(r"^\s*(is|are|does|do|did|can|could|will|would|should|has|have|was|were|may|"
                     r"must)\b", re.IGNORECASE)


def asks_yes_no(question: str) -> bool:
    """'A customer opened a lens. Is there a restocking fee?' asks yes or no: its last sentence,
    or another sentence asked ('Are they water resistant? What's the rating?'), or a clause of
    one ('If it gets burn-in, will the plan cover it?') opens with is/does/can..."""
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", question.strip()) if s]
    asked = [s for s in sentences[:-1] if s.endswith("?")] + sentences[-1:]
    return any(_YES_NO.match(re.sub(r"^(so|ok|hey|and|but)\W+", "", clause, flags=re.I))
               for sentence in asked for clause in re.split(r"[,;:]\s*", sentence))


# --- dates and amounts ---------------------------------------------------------------------

MONTHS = {name: i for i, names in enumerate(
    [("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",),
     ("jun", "june"), ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"),
     ("oct", "october"), ("nov", "november"), ("dec", "december")], 1) for name in names}
_DATE = re.compile(r"\b(" + "|".join(sorted(MONTHS, key=len, reverse=True)) +
                   r")\.?\s+(\d{1,2})(?:st|nd|rd|th)?\b(?:,?\s+(\d{4}))?", re.IGNORECASE)
_NUMERIC_DATE = re.compile(r"\b(\d{1,2})/(\d{1,2})(?:/(\d{2}|\d{4}))?\b")
_DAYS_AGO = re.compile(r"\b(\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
                       r"thirteen|fourteen|fifteen|twenty|thirty)\s+days?\s+ago\b", re.IGNORECASE)
_NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen".split())} | {"twenty": 20, "thirty": 30}
_MONEY = re.compile(r"\$\s?(\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d+(?:\.\d{1,2})?)|"
                    r"\b(\d+(?:\.\d{1,2})?)\s*(?:dollars|bucks)\b", re.IGNORECASE)
_NOT_MEMBER = re.compile(r"\b(no|not an?|isn't an?|without|non-?)\s*(volt plus\s*)?"
                         r"(member|membership|account)\b|\bnon-?members?\b", re.IGNORECASE)
_MEMBER = re.compile(r"\b(volt plus|plus member|member)\b", re.IGNORECASE)


def purchase_date(question: str, today: date) -> date | None:
    """'bought on Dec 28' -> the last Dec 28 on or before today; '8 days ago' -> today - 8."""
    match = _DATE.search(question)
    if match:
        month, day, year = MONTHS[match.group(1).lower()], int(match.group(2)), match.group(3)
    else:
        match = _NUMERIC_DATE.search(question)
        if match is None:
            ago = _DAYS_AGO.search(question)
            if ago is None:
                return None
            count = ago.group(1).lower()
            return today - timedelta(days=int(count) if count.isdigit() else _NUMBER_WORDS[count])
        month, day, year = int(match.group(1)), int(match.group(2)), match.group(3)
        if year and len(year) == 2:
            year = f"20{year}"
    try:
        if year:
            return date(int(year), month, day)
        this_year = date(today.year, month, day)
    except ValueError:
        return None
    return this_year if this_year <= today else this_year.replace(year=today.year - 1)


def amount(question: str) -> float | None:
    match = _MONEY.search(question)
    if not match:
        return None
    return float((match.group(1) or match.group(2)).replace(",", ""))


def membership(question: str) -> bool | None:
    """True: a Volt Plus member; False: said not to be; None: not said."""
    if _NOT_MEMBER.search(question):
        return False
    return True if _MEMBER.search(question) else None
