"""Scoring an answer to a manual-reading case: right, flipped, and whether the manual's words show.

Three results per answer, each with its reason:
- correct: every `must_say` entry is in the answer, no `must_not_say` one is in its own words
  (`claim`: above the quote), and a yes/no case's verdict is the gold's;
- flipped (yes/no cases only): the answer's verdict is the opposite of the gold's. An answer with
  no readable verdict (a bare quote that neither says yes nor denies) is neither flipped nor
  correct;
- evidence hit: a gold sentence is in the text shown to staff, as the file has it.

The verdict reader is this module's own (a metric never reuses the code it judges): the first line
that is not a heading or a "From the manual:" label, read for "yes"/"no" first, then negations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from store_assistant.evaluation.manual_cases import ReadingCase, squeeze

# 2: a statement with neither yes/no nor a negation has no verdict (was: yes);
# 3: a reply that opens with a label ("From the ... manual (...):") has no verdict (a bare quote);
# 4: a wrong value counts in the reply's own words, not in the quote under them (the manual's line
#    '22.7 kg (65"), 17.1 kg (55")' under '17.1 kg' is evidence, not a claim); a bare quote is
#    all claim, so a line listing every size still fails a question about one.
VERSION = 4
_NEGATION = re.compile(r"\b(no|not|n't|cannot|never|without|none|isn't|doesn't|don't|won't|"
                       r"aren't|can't|only)\b|n't\b", re.IGNORECASE)
_MARKUP = re.compile(r"[*_`\\>#]")


@dataclass(frozen=True)
class ReadingScore:
    correct: bool
    flipped: bool | None  # None: not a yes/no case
    evidence_hit: bool
    verdict: str | None  # "yes" | "no" | None, as read from the answer
    reason: str


def plain(text: str) -> str:
    """Lower-case words without markdown marks or escapes, one space apart."""
    return squeeze(_MARKUP.sub("", text)).lower()


def verdict(text: str) -> str | None:
    """'No, it does not support HDR10+.' -> 'no'; 'Yes.' -> 'yes'; 'From the manual:\\n- Does
    not support HDR10+' -> 'no'; 'HDMI 2 (eARC).' -> 'yes' (a statement affirms)."""
    for line in text.splitlines():
        line = plain(line).lstrip("-–•0123456789.) ")
        if not line:
            continue
        if line.endswith(":"):
            return None  # a label such as "From the LG C3 manual (Compatibility):": a bare quote
        first = re.split(r"[.!?;]", line, maxsplit=1)[0]
        if re.match(r"(yes|yep|yeah|correct|it does|it can)\b", first):
            return "yes"
        if re.match(r"(no|nope)\b", first):
            return "no"
        return "no" if _NEGATION.search(first) else None
    return None


def claim(answer: str) -> str:
    """What the reply says in its own words: the lines before the first quote label ("From the
    LG C3 manual (Specifications):"), or the whole reply when it opens with one."""
    lines = answer.splitlines()
    for i, line in enumerate(lines):
        if re.match(r"\s*from .+:\s*$", plain(line)) and i > 0:
            return "\n".join(lines[:i])
    return answer


def says(answer: str, entry: str) -> bool:
    """'33.5 kg|33.5kg' is said when either alternative is in the answer (case and markup aside)."""
    text = plain(answer)
    return any(plain(alt) in text for alt in entry.split("|"))


def score(case: ReadingCase, answer: str) -> ReadingScore:
    missing = [entry for entry in case.must_say if not says(answer, entry)]
    wrong = [entry for entry in case.must_not_say if says(claim(answer), entry)]
    read = verdict(answer) if case.kind == "yesno" else None
    flipped = (read is not None and read != case.answer) if case.kind == "yesno" else None
    hit = any(plain(gold.text) in plain(answer) for gold in case.gold)
    reasons = ([f"missing {missing}"] if missing else []) + ([f"says {wrong}"] if wrong else [])
    if case.kind == "yesno" and read != case.answer:
        reasons.append(f"verdict {read or 'none'}, gold {case.answer}")
    return ReadingScore(correct=not reasons, flipped=flipped, evidence_hit=hit, verdict=read,
                        reason="; ".join(reasons) or "all required facts, no wrong one")
