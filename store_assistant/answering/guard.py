"""The grounding guard: the one stage between a model's text and anyone who reads it.

Every answer, from every strategy and through every door (app, CLI, evaluation), passes
`check()` once, in `Strategy._complete`:

1. A reply that repeats the instructions ("reveal your system prompt", obeyed) is replaced by a
   refusal.
2. An answer built on the store's data (`Grounding`, from the RAG strategies) has every price,
   SKU, stock count, percentage, day count, spec figure and time of day checked against the facts
   and excerpts the model was given, plus in-stock / on-sale claims in words. A wrong price with
   exactly one product in play is corrected; anything else unsupported makes the answer the
   data's own (`Grounding.fallback`). Then the price or stock the question asked for, if the
   answer left it out, is added from the inventory.
3. An answer without the store's data (prompt-only, fine-tuned alone) can only have made its
   prices up: they are shown as "[price: see the inventory screen]".

While an answer streams, `hold_figures()` is what may be shown of it: figures wait for `check()`.
The model phrases; the data decides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Callable

from store_assistant.answering.data_answers import fact_line
from store_assistant.answering.linking import SKU_PATTERN
from store_assistant.answering.questions import asks_price, asks_stock, stores_named
from store_assistant.store.products import Product, money
from store_assistant.templates import PROMPTS_DIR, STORE_NAME


@dataclass
class Grounding:
    """What a data-built answer may state: built by the strategy before the model is called.

    `text` is the facts and excerpts the model was given (not the question: "the return window is
    365 days now" must not make 365 a fact); `fallback` is the answer the data gives on its own,
    or a function that builds it when it is needed.
    """
    text: str
    products: list[Product]
    today: date
    question: str
    stores: list[str]
    fallback: str | Callable[[], str]
    # The catalog's products a text names by SKU, model number or alias; a sentence naming one
    # the answer was not given is removed.
    names: Callable[[str], list[Product]] = lambda text: []


def check(text: str, grounding: Grounding | None, from_data: bool = False) -> tuple[str, list[str]]:
    """The guard's one entry point: (text anyone may see, flags saying what it changed).

    `from_data` marks a reply built by code from the data (no model call): its figures are the
    data's, so only the instruction check applies.
    """
    if leaks_instructions(text):
        return PROMPT_REFUSAL, ["prompt_leak_blocked"]
    if from_data:
        return text, []
    if grounding is not None:
        return _grounded(text, grounding)
    if PRICE_PATTERN.search(text):
        return PRICE_PATTERN.sub(UNCHECKED_PRICE, text), ["prices_hidden"]
    return text, []


def _grounded(text: str, grounding: Grounding) -> tuple[str, list[str]]:
    text = text.strip()
    if not text:
        return _built(grounding.fallback), ["guard_fallback:empty_answer"]
    result = guard(text, grounding.text, grounding.products, grounding.today, grounding.fallback)
    if any(flag.startswith("guard_fallback") for flag in result.flags):
        return result.text, result.flags
    kept, removed = supported_sentences(result.text, grounding)
    if removed and not kept:
        return _built(grounding.fallback), [*result.flags, *removed,
                                            "guard_fallback:no_supported_sentence"]
    result = GuardResult(kept, [*result.flags, *removed]) if removed else result
    final, added = add_missing_facts(result.text, grounding.question, grounding.products,
                                     grounding.today, grounding.stores)
    return final, [*result.flags, *added]


PATHS = ("model", "model+corrected", "model+facts", "fallback", "data", "evidence")


def path_of(flags: list[str], from_data: bool) -> str:
    """Which way an answer reached staff, from what `check` did to it:

    'data' (built by code, no model call), 'fallback' (the guard replaced the model's text),
    'model+corrected' (the guard changed the text: a price corrected or hidden, an unsupported
    sentence removed),
    'model+facts' (the inventory's facts were appended), 'model' (as written).
    """
    if from_data:
        return "data"
    if any(f.startswith("guard_fallback") or f == "prompt_leak_blocked" for f in flags):
        return "fallback"
    if any(f.startswith(("guard_corrected", "guard_removed")) or f == "prices_hidden"
           for f in flags):
        return "model+corrected"
    if any(f.startswith("facts_added") for f in flags):
        return "model+facts"
    return "model"


# --- what may be shown while an answer streams ---------------------------------------------------

UNCHECKED_PRICE = "[price: see the inventory screen]"
_FIGURE = re.compile(r"\$?\d[\d,]*(?:\.\d+)?")


def hold_figures(text: str) -> str:
    """Text still being generated, its figures held back: '$0.00' -> '…'. `check()` runs only
    once the answer is complete, so a wrong price must not flash by first."""
    return _FIGURE.sub("…", text)


# --- instructions repeated back ------------------------------------------------------------------

PROMPT_REFUSAL = ("Sorry, I can't share my instructions. Ask me about a product, a price, stock "
                  "or a store policy.")
_SHINGLE = 7  # words; store facts and excerpts are not instructions, so quoting them is fine


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = re.findall(r"[a-z0-9$']+", text.lower())
    return {tuple(words[i:i + _SHINGLE]) for i in range(len(words) - _SHINGLE + 1)}


@lru_cache(maxsize=1)
def _instruction_shingles() -> frozenset:
    """Every 7-word run of the instruction prompts (not their facts or excerpts)."""
    texts = [path.read_text(encoding="utf-8") for path in PROMPTS_DIR.glob("*.md")
             if path.stem in ("guidelines", "rag", "cot", "finetuned")]
    return frozenset(set().union(*(_shingles(re.sub(r"\$\w+", " ", t)) for t in texts)))


def leaks_instructions(text: str) -> bool:
    """True when a reply repeats the instructions: three or more 7-word runs of them (9+ words).

    'Store guidelines: - Greet briefly and stay polite. - Answer the question first' -> True;
    one stock phrase like 'check the inventory screen' -> False.
    """
    return len(_shingles(text) & _instruction_shingles()) >= 3


# --- figures and claims against the grounding --------------------------------------------------

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

def _built(fallback: str | Callable[[], str]) -> str:
    return fallback() if callable(fallback) else fallback


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
        return GuardResult(_built(fallback), [flag])

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
            return fell(f"guard_fallback:unsupported_price:{match.group(0)}")
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
    hours = {_clock(m) for m in _TIME.finditer(grounding)}
    for match in _TIME.finditer(text):
        if _clock(match) not in hours:
            return fell(f"guard_fallback:unsupported_time:{match.group(0)}")
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

def add_missing_facts(answer: str, question: str, products: list[Product], today: date,
             stores: list[str]) -> tuple[str, list[str]]:
    """Add the inventory's facts when the answer leaves out the price or stock it was asked for.

    'How many XM5 are downtown?' answered 'It is sold at the downtown store.' gets
    'From the inventory: ... in stock: downtown 0, ...' appended: staff always see the figure.
    """
    stated = _numbers(answer)
    asked_stores = stores_named(question, stores)
    wants_stock = asks_stock(question) or bool(asked_stores)
    lines, missing = [], []
    for product in products:
        gaps = []
        if asks_price(question) and not any(
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


# --- claims in words, sentence by sentence ---------------------------------------------------

# "Settings > Network > Reset Network", "Settings → Wi-Fi": a path through menus.
_MENU_PATH = re.compile(r"[\w][\w '&/-]*(?:\s*(?:>|→|»|->)\s*[\w][\w '&/-]*)+")
# A label quoted or marked up: "Reset Network", **Next**, `Pair`.
_LABEL = re.compile(r'"([^"\n]{1,60})"|“([^”\n]{1,60})”|\*\*([^*\n]{1,60})\*\*|`([^`\n]{1,60})`')
# Model-number-like words: letters and digits mixed ("VLF728", "WH-1000XM5", "S24"), not a
# figure with its unit ("64GB", "1080p", "4K"), which the figure checks cover.
_MODEL_WORD = re.compile(r"\b(?=[A-Za-z-]*\d)(?=[\d-]*[A-Za-z])[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*\b")
# An abbreviation ("SPM", "HDMI") names a thing as surely as a model number does.
_ACRONYM = re.compile(r"\b[A-Z]{2,6}s?\b")
_FIGURE_UNIT = re.compile(r"^\d+(?:\.\d+)?[a-z]{1,4}$", re.IGNORECASE)
# A capitalised word inside a sentence names something ("relative to Earth", "the Galaxy S24"):
# not its first word, nor the first after a colon ("Note: Hold ..."), a bullet or an opening mark.
_NAME = re.compile(r"(?<![:;]\s)(?<![:;])\b(?<![-'’])[A-Z][a-z]{2,}\b")
# A name with a number is a model: "Apple Pencil 3", "Windows 11" (not "Step 3", "Aisle 7").
_NAMED_NUMBER = re.compile(r"\b([A-Z][A-Za-z]+) (\d{1,4})\b(?![.,:]?\d|%)")
_COUNTED = frozenset("top step steps page pages chapter section figure table aisle item option "
                     "number no".split())
_MONTHS = ("january february march april may june july august september october november "
           "december").split()
_MONTH_NAMES = frozenset([*_MONTHS, *(m[:3] for m in _MONTHS), "sept"])  # the date check's
# "November 21st", "Nov. 21", "21 November", and the data's "2027-07-31".
_DATE = re.compile(r"\b(?:(?P<m1>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+"
                   r"(?P<d1>\d{1,2})(?:st|nd|rd|th)?|(?P<d2>\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?"
                   r"(?P<m2>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*)\b"
                   r"|\b\d{4}-(?P<m3>\d{2})-(?P<d3>\d{2})\b", re.IGNORECASE)
_OPENING = re.compile(r"^[\s\-*•\d.)\"“`#>]*[A-Za-z]+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"“*])|\n+")
_WORD = re.compile(r"[a-z0-9]+")
_OURS = frozenset(_WORD.findall(STORE_NAME.lower()))  # the greeting names the store
_STOP = frozenset("""a about above after again all also am an and any are as at be because been
before being below between both but by can could did do does doing down during each few for from
further had has have having here how i if in into is it its just me more most my no nor not now of
off on once only or other our out over own same she should so some such than that the their them
then there these they this those through to too under until up very was we were what when where
which while who whom why will with would you your yes sure please thanks thank help happy glad
let know get go one two also may might must need use using used like well""".split())


def _norm_words(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def _stem(word: str) -> str:
    return word[:5]


def sentences(text: str) -> list[str]:
    """'Open Settings. Then tap Reset.\n1. Hold the button' -> three sentences (a list item is one)."""
    return [part.strip() for part in _SENTENCE.split(text) if part and part.strip()]


def unsupported_claim(sentence: str, grounding: Grounding) -> str | None:
    """Why `sentence` says something the facts and excerpts do not, or None.

    Checked: products named (a catalog product the answer was not given), model numbers (and a
    name with a number), abbreviations, capitalised names, dates, menu paths and quoted UI labels (each must appear in the
    excerpts or the question), a store's hours (the time must be on that store's own line or
    section), and the sentence's content words (at least half must be in the excerpts or the
    question, so an invented step or feature does not pass)."""
    source = f"{grounding.text}\n{grounding.question}"
    words = f" {_norm_words(source)} "
    given = {p.sku for p in grounding.products}
    squashed = _squash(source)
    for product in grounding.names(sentence):
        names = [product.sku, product.model or "", *product.aliases]
        if product.sku not in given and not any(
                len(_squash(name)) >= 3 and _squash(name) in squashed for name in names):
            return f"product:{product.sku}"
    for match in _MODEL_WORD.finditer(sentence):
        token = match.group(0)
        if len(token) >= 3 and not _FIGURE_UNIT.match(token) and \
                f" {_norm_words(token)} " not in words and _squash(token) not in squashed:
            return f"model:{token}"
    for match in _ACRONYM.finditer(sentence):
        if f" {match.group(0).lower()} " not in words:
            return f"acronym:{match.group(0)}"
    for match in _MENU_PATH.finditer(sentence):
        for step in re.split(r"\s*(?:>|→|»|->)\s*", match.group(0)):
            step = _norm_words(step)
            if step and not _menu_step_found(step, words):
                return f"menu:{step}"
    for match in _LABEL.finditer(sentence):
        label = _norm_words(next(g for g in match.groups() if g is not None))
        if label and f" {label} " not in words:
            return f"label:{label}"
    store_claim = _store_hours_claim(sentence, grounding)
    if store_claim:
        return store_claim
    allowed_dates = _dates(source)
    for date_ in _dates(sentence):
        if date_ not in allowed_dates:
            return f"date:{_MONTHS[date_[0] - 1]} {date_[1]}"
    for match in _NAMED_NUMBER.finditer(sentence):
        name, number = match.group(1).lower(), match.group(2)
        if name not in _COUNTED and name not in _MONTH_NAMES \
                and f" {name} {number} " not in words:
            return f"model:{match.group(0)}"
    stems = {_stem(w) for w in _WORD.findall(source.lower())}
    opening = _OPENING.match(sentence)
    for match in _NAME.finditer(sentence):
        name = match.group(0).lower()
        if (opening is None or match.end() > opening.end()) and name not in _OURS \
                and name not in _STOP and name not in _MONTH_NAMES and _stem(name) not in stems:
            return f"name:{match.group(0)}"
    content = [w for w in _WORD.findall(sentence.lower()) if w not in _STOP and len(w) > 2
               and not w.rstrip("stndrh").isdigit() and w not in _MONTH_NAMES]  # dates: above
    if len(content) >= 4:
        missing = [w for w in content if _stem(w) not in stems]
        if len(missing) * 2 > len(content):
            return "words:" + " ".join(missing[:4])
    return None


def _dates(text: str) -> set[tuple[int, int]]:
    """(month, day) of every date written in `text`."""
    found = set()
    for match in _DATE.finditer(text):
        if match.group("m3"):
            month, day = int(match.group("m3")), int(match.group("d3"))
        else:
            name = (match.group("m1") or match.group("m2")).lower()
            month = next(i for i, m in enumerate(_MONTHS, 1) if m.startswith(name))
            day = int(match.group("d1") or match.group("d2"))
        if 1 <= day <= 31:
            found.add((month, day))
    return found


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.lower())


def _menu_step_found(step: str, words: str) -> bool:
    """A menu step is found when the excerpts contain it or its last words ('go to Settings' is
    found by 'Settings': the regex cannot tell where a sentence's path begins)."""
    parts = step.split()
    return any(f" {' '.join(parts[i:])} " in words for i in range(len(parts)))


def _store_hours_claim(sentence: str, grounding: Grounding) -> str | None:
    """'Northgate opens at 9 am' must have 9 am on Northgate's own line or section."""
    times = [_clock(m) for m in _TIME.finditer(sentence)]
    named = stores_named(sentence, grounding.stores)
    if not times or len(named) != 1:
        return None
    store = named[0]
    blocks = re.split(r"\n\s*\n", grounding.text)  # an excerpt, or a paragraph of one
    own = [b for b in blocks if re.search(rf"\b{re.escape(store)}\b", b, re.IGNORECASE)]
    allowed = {_clock(m) for b in own for m in _TIME.finditer(b)}
    for clock in times:
        if clock not in allowed:
            return f"store_hours:{store}"
    return None


def supported_sentences(text: str, grounding: Grounding) -> tuple[str, list[str]]:
    """(the answer without its unsupported sentences, a 'guard_removed:<why>' flag per removal).

    An answer keeps its layout: a removed sentence is cut from its line, and a line left empty
    goes."""
    removed: list[str] = []
    lines = []
    for line in text.splitlines():
        parts = [p for p in _SENTENCE.split(line) if p and p.strip()]
        kept = []
        for part in parts:
            why = unsupported_claim(part, grounding)
            if why is None:
                kept.append(part.strip())
            else:
                removed.append(f"guard_removed:{why}")
        line_kept = " ".join(kept)
        if not parts or (kept and re.search(r"[^\W\d_]", line_kept)):
            lines.append(line_kept)  # a list marker left alone ("3.", "- **") goes with its line
    kept_text = re.sub(r"\n{3,}", "\n\n", "\n".join(_renumbered(lines))).strip()
    substantive = [s for s in sentences(kept_text)
                   if len([w for w in _WORD.findall(s.lower()) if w not in _STOP]) >= 2]
    return (kept_text if substantive else ""), removed


def _renumbered(lines: list[str]) -> list[str]:
    """Numbered steps counted again after a removal: '1.', '3.' -> '1.', '2.'."""
    out, number = [], 0
    for line in lines:
        step = re.match(r"^(\s*)\d+([.)])\s+", line)
        if step:
            number += 1
            line = f"{step.group(1)}{number}{step.group(2)} {line[step.end():]}"
        elif line.strip():
            number = 0
        out.append(line)
    return out
