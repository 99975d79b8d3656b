"""Claims in words, sentence by sentence (`supported_sentences`): a sentence naming a product the
answer was not given, a model number, abbreviation, capitalised name, date, menu path or quoted UI
label that is not in the excerpts or the question, a store's hours from another store's line, or
content words mostly absent from the excerpts, is unsupported and removed.
"""

from __future__ import annotations

import re

from store_assistant.answering.questions import stores_named
from store_assistant.templates import STORE_NAME
from store_assistant.answering.guard.figures import TIME_OF_DAY, clock_of
from store_assistant.answering.guard.grounding import Grounding


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
    source = f"{grounding.text}\n{grounding.asked.text}"
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
    times = [clock_of(m) for m in TIME_OF_DAY.finditer(sentence)]
    named = stores_named(sentence, grounding.stores)
    if not times or len(named) != 1:
        return None
    store = named[0]
    blocks = re.split(r"\n\s*\n", grounding.text)  # an excerpt, or a paragraph of one
    own = [b for b in blocks if re.search(rf"\b{re.escape(store)}\b", b, re.IGNORECASE)]
    allowed = {clock_of(m) for b in own for m in TIME_OF_DAY.finditer(b)}
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
