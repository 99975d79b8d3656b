"""Evidence-first answers for questions a manual or a policy answers.

Code cuts the best sections into quotable units (a list item or numbered step whole, a table row
with its header row, a paragraph's sentences) and ranks them by meaning and by the question's
words. The model, held to a JSON schema by llama.cpp's grammar, writes a one-line verdict on the
best line. Code then checks the verdict against that line (yes/no polarity, every figure, the
asked size or variant, that the line is about what was asked) and quotes the line itself: the
model never retypes the evidence. A verdict that fails a check is dropped, and staff see the quote
alone under "From the ... manual (...):". Never a guess.

Who chooses the line was measured, not assumed: given five numbered lines, the default 0.5B model
picked the one holding the answer on 1 of 8 probe questions (4 of 8 with a worked example in the
prompt); the ranking's first line held it on all 8. So the ranking chooses and the model is shown
`CHOSEN` lines (1); a stronger model can be given more.

Trade-off: the checks are strict, so a right "yes" against a line with a negation in it ("Does
not support HDR10+ (Dolby Vision and HDR10 are supported)" for a Dolby Vision question) is shown
as the quote without a verdict: staff read the manual's words rather than risk a flipped answer.
"Sold separately" is not read as a negation: tried on dev, it made "Volt Protection Plans are sold
separately; the 2- and 3-year plans cover OLED burn-in" pass a flipped "No" about burn-in.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Callable

import Stemmer

from store_assistant.answering.routing import Asked
from store_assistant.store.documents import Chunk

CANDIDATES = 5  # ranked lines kept (listed for the checks and the tests)
SECTIONS = 4  # the best-ranked sections cut into units
VERDICT_TOKENS = 80
SCHEMA = {"type": "object", "required": ["verdict"],
          "properties": {"verdict": {"type": "string", "maxLength": 200}}}
SYSTEM = ("You answer a store employee's question from one line of the store's manuals. Write the "
          "answer in one short sentence using only that line's facts. For a yes/no question begin "
          "with \"Yes\" or \"No\", as the line says. Example:\n"
          "Question: Does the X100 have a headphone jack?\n"
          "Line: No headphone jack (use a USB-C adapter).\n"
          "{\"verdict\": \"No, it has no headphone jack; use a USB-C adapter.\"}\n\n"
          "Reply with JSON only.")
# A negation ('Wi-Fi-only' and 'no-receipt' are names, not negations).
_NEGATED = re.compile(r"(?<![\w-])(not|no|cannot|never|none|without|only)(?![\w-])|n't\b",
                      re.IGNORECASE)
_VERDICT = re.compile(r"^\W*(yes|no)\b", re.IGNORECASE)
_NUMBER = re.compile(r"(?<![A-Za-z\d.])\d+(?:[.,]\d+)*")  # a figure, not the 3 of 'C3'
_LEADING_YES_NO = re.compile(r"^\W*(yes|no)\b[\s,.:;!-]*", re.IGNORECASE)
_WORD = re.compile(r"[a-z0-9]+(?:[+.-][a-z0-9]+)*\+?")
_STEP = re.compile(r"^\d+[.)]\s+")
# 'the 77 inch', '77"', '65-inch', '2TB', 'the 55 in' -> the variant a per-variant value is for.
_COMMON = {"the", "a", "an", "is", "it", "in", "on", "of", "for", "and", "or", "do", "does", "you",
           "what", "what's", "whats", "how", "can", "i", "my", "to", "are", "with", "this", "that",
           "be", "we", "our", "they", "their", "customer", "customers", "there", "any", "if", "at",
           "will", "should", "would", "could", "has", "have", "get", "s", "me", "tell", "which",
           "when", "much", "many", "still", "yes", "no", "not", "its", "was", "by", "from", "so"}


@dataclass(frozen=True)
class Candidate:
    chunk: Chunk
    quote: str  # exactly as shown to staff: the file's words (a table row with its header row)
    text: str  # what is ranked and numbered for the model: the unit in one line


@dataclass(frozen=True)
class Evidence:
    """The numbered lines one question is answered from, and what the checks need of it."""
    asked: Asked
    candidates: tuple[Candidate, ...]
    names: frozenset[str]  # words of the asked products' names: not evidence of relevance

    @property
    def question(self) -> str:
        return self.asked.text

    @property
    def yes_no(self) -> bool:
        return self.asked.yes_no


# --- candidates --------------------------------------------------------------------------------

def units(chunk: Chunk) -> list[Candidate]:
    """What can be quoted of a section, each whole: list items and numbered steps (wrapped lines
    joined), table rows (quoted under their header row), and the sentences of paragraphs."""
    found: list[Candidate] = []
    block: list[str] = []
    header: str | None = None

    def close() -> None:
        if block:
            text = " ".join(block)
            if _STEP.match(text) or text.startswith(("- ", "* ")):
                found.append(Candidate(chunk, text, text.lstrip("-* ")))
            else:
                found.extend(Candidate(chunk, s, s) for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])", text))
            block.clear()

    for raw in chunk.text.splitlines():
        line = raw.strip()
        if line.startswith("|"):
            close()
            cells = [c.strip() for c in line.strip("|").split("|")]
            if set(line) <= set("|-: "):
                continue
            if header is None:
                header = line
                continue
            names = [c.strip() for c in header.strip("|").split("|")]
            found.append(Candidate(chunk, f"{header}\n|{'---|' * len(cells)}\n{line}",
                                   "; ".join(f"{n}: {c}" for n, c in zip(names, cells))))
            continue
        header = None
        if not line or line.startswith("#"):
            close()
        elif _STEP.match(line) or line.startswith(("- ", "* ")):
            close()
            block.append(line)
        else:
            block.append(line)
    close()
    return [c for c in found if len(_WORD.findall(c.text.lower())) >= 2]


def gather(asked: Asked, chunks: list[Chunk], product_names: list[str],
           embed: Callable[[list[str]], list[list[float]]]) -> Evidence | None:
    """The top CANDIDATES units of the best SECTIONS sections for the question, best first."""
    question = asked.text
    names = frozenset(w for name in product_names for w in _WORD.findall(name.lower()))
    # A line that only names the product ('- MX Master 3S mouse' in the box) states no fact.
    pool = [unit for chunk in chunks[:SECTIONS] for unit in units(chunk)
            if _content(unit.text, names)]
    if not pool:
        return None
    words = _content(question, names)
    # The lines are ranked on the asked fact: the product is already decided, and with its name
    # in the question the line that only names it ('A thin, powerful iPad with the M2 chip...')
    # outranked the one that answers ('Weight: 462 g').
    asked_fact = " ".join(w for w in question.split() if not set(_WORD.findall(w.lower())) & names)
    vectors = embed([asked_fact or question, *(f"{c.chunk.heading}: {c.text}" for c in pool)])
    rank = {chunk.id: i for i, chunk in enumerate(chunks)}
    scores = []
    for unit, vector in zip(pool, vectors[1:]):
        meaning = sum(a * b for a, b in zip(vectors[0], vector))
        shared = len(words & _content(f"{unit.chunk.heading} {unit.text}", names))
        scores.append(meaning + 0.06 * min(shared, 4) - 0.02 * rank[unit.chunk.id])
    best = sorted(range(len(pool)), key=lambda i: -scores[i])[:CANDIDATES]
    return Evidence(asked, tuple(pool[i] for i in best), names)


def messages(evidence: Evidence) -> list[dict[str, str]]:
    line = evidence.candidates[0].text
    return [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"Question: {evidence.question}\nLine: {line}"}]


def _content(text: str, names: frozenset[str]) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _COMMON and w not in names}


# --- the verdict, checked ----------------------------------------------------------------------

def finish(evidence: Evidence, reply: str) -> tuple[str, str, list[str]]:
    """(the verdict or "", the quote, flags) from the model's JSON; an unreadable reply, or a
    verdict that fails `check`, leaves the quote alone."""
    candidate = evidence.candidates[0]
    try:
        verdict = " ".join(str(json.loads(reply)["verdict"]).split())
    except (ValueError, KeyError, TypeError):
        return "", cited(candidate), ["evidence:unreadable"]
    if not evidence.yes_no:  # "Yes, the soundbar goes in HDMI 2." to "Which HDMI port...?"
        rest = _LEADING_YES_NO.sub("", verdict)
        verdict = rest[:1].upper() + rest[1:]
    refused = check(evidence, candidate, verdict)
    stated = variant_verdict(evidence, candidate.text)
    if refused and stated and not evidence.yes_no:
        # data decides figures: the asked size's value, read by code from the line
        return stated, cited(candidate), [f"evidence:refused:{refused}", "evidence:variant_by_code"]
    if refused:
        return "", cited(candidate), [f"evidence:refused:{refused}"]
    return verdict, cited(candidate), ["evidence:verdict"]


def check(evidence: Evidence, candidate: Candidate, verdict: str) -> str | None:
    """Why the verdict may not be shown with this line, or None when it may.

    'Yes, it supports HDR10+.' against 'Does not support HDR10+ ...' -> 'polarity';
    '16.6 kg' for the 77" against 'Weight without stand: 16.6 kg (55"), ... 33.5 kg (77")' ->
    'variant'; '$45' against a line without 45 -> 'figure'."""
    if not verdict:
        return "empty"
    line = candidate.text
    if not evidence.yes_no and re.fullmatch(r"\W*(yes|no)\W*", verdict, re.IGNORECASE):
        return "no_answer"  # "Yes" to "Which HDMI port...?"
    if evidence.yes_no:
        said = _VERDICT.match(verdict)
        if not said:
            return "no_yes_or_no"
        if _NEGATED.search(evidence.question):
            return "negated_question"  # 'still get alerts if they don't pay?': yes and no blur
        if (said.group(1).lower() == "yes") == bool(_NEGATED.search(_clause(evidence, line))):
            return "polarity"
    asked = _stems(_content(evidence.question, evidence.names))
    shared = asked & _stems(_content(f"{candidate.chunk.heading} {line}", evidence.names))
    if len(shared) < (min(2, len(asked)) if evidence.yes_no else 1):
        # A value or a step needs one shared word: the line was ranked first by meaning and
        # words, and on dev 19 of the 27 first lines sharing one word held the gold sentence
        # (the figure and variant checks below still apply). A yes/no verdict needs two: a
        # flipped yes/no has no figure to catch it, and on dev with paraphrases the yes/no
        # verdicts on one-word lines flipped 2 of 19 times, twice the rate of the rest.
        return "off_topic"
    figures = set(_NUMBER.findall(line.replace(",", "")))
    said_figures = set(_NUMBER.findall(verdict.replace(",", "")))
    # A figure the question gave ('the Fire HD 10', 'the 2017 MacBook Air') is not a claim.
    if said_figures - figures - set(_NUMBER.findall(evidence.question.replace(",", ""))):
        return "figure"
    mine, others = per_variant(evidence.asked.sizes, line)
    if mine is not None and (not _states(verdict, mine[0]) or
                             any(_states(verdict, o) for o in others if o not in mine[0])):
        return "variant"  # the asked size's figure, and no other size's
    return None


def _clause(evidence: Evidence, line: str) -> str:
    """The part of a line the question is about, for its polarity: 'Orders over $500 need a
    signature on delivery; no P.O. boxes ...' asked 'Will someone need to sign for it?' -> the
    first clause (the 'no' of the second is about P.O. boxes)."""
    clauses = [c for c in re.split(r";|(?<=[.!?])\s+|,\s+but\s+", line) if c.strip()]
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", evidence.question.strip()) if s]
    # The question's own sentence says what is asked; the ones before it set the scene
    # ('A delivered TV arrived broken. Should the customer bring it back?' asks about bringing).
    asked = _stems(_content(sentences[-1] if sentences else "", evidence.names))
    scene = _stems(_content(evidence.question, evidence.names)) - asked

    def weight(clause: str) -> int:
        words = _stems(_content(clause, evidence.names))
        return 3 * len(asked & words) + len(scene & words)
    return max(clauses, key=weight, default=line)


_STEMMER = Stemmer.Stemmer("english")


def _stems(words: set[str]) -> set[str]:
    """'dropped' and 'drops' -> 'drop': the Snowball stemmer (PyStemmer), as BM25 uses."""
    return set(_STEMMER.stemWords(sorted(words)))


_PER_VARIANT = re.compile(r"(\d+(?:[.,]\d+)*(?:\s*x\s*\d+(?:[.,]\d+)*)*)([^()\d,;]*)\(([^)]*)\)")


def per_variant(sizes: tuple[str, ...], line: str) -> tuple[tuple[str, str, str] | None, set[str]]:
    """The (value, unit, variant) `line` gives for the size or variant the question names, and
    the other variants' values, when the line lists one per variant:
    (('77',) from 'the 77 inch C3', '16.6 kg (55"), 22.5 kg (65"), 33.5 kg (77")') ->
    (('33.5', ' kg', '77"'), {'16.6', '22.5'}); a 'VESA 300 x 300 mm (55"), 400 x 300 mm (65")'
    value is the whole '400 x 300'."""
    asked = set(sizes)
    groups = [(" x ".join(re.split(r"\s*x\s*", value.replace(",", ""))), unit, variant)
              for value, unit, variant in _PER_VARIANT.findall(line)]
    if not asked or len(groups) < 2:
        return None, set()
    mine = [g for g in groups if asked & set(_NUMBER.findall(g[2]))]
    if not mine:
        return None, set()
    return mine[0], {value for value, _, _ in groups} - {mine[0][0]}


def _states(verdict: str, value: str) -> bool:
    text = re.sub(r"\s*x\s*", " x ", verdict.replace(",", ""))
    return bool(re.search(rf"(?<![\d.]){re.escape(value)}(?![\d.]| x)", text))


def variant_verdict(evidence: Evidence, line: str) -> str | None:
    """The asked variant's value, stated by code from the line: 'Weight without stand: 17.1 kg
    (55")' for the 55-inch; None when the line does not list values per variant."""
    mine, _ = per_variant(evidence.asked.sizes, line)
    if mine is None:
        return None
    value, unit, variant = mine
    label = line.split(":")[0] if ":" in line and len(line.split(":")[0]) <= 40 else ""
    said = f"{value}{unit.rstrip()} ({variant})"
    return f"{label}: {said}" if label else said


def cited(candidate: Candidate) -> str:
    """'From the <title> manual (<heading>, p. 9):' and the quote, as the file has it."""
    chunk = candidate.chunk
    where = f"the {chunk.title} manual" if chunk.kind == "manual" else chunk.title
    page = f", p. {chunk.page}" if chunk.page else ""
    return f"From {where} ({chunk.heading}{page}):\n\n{candidate.quote}"
