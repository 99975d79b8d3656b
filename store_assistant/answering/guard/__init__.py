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

The package reads in that order: `instructions` (1), `grounding` (what an answer may state),
`figures` (2, and what may stream), `claims` (2, sentence by sentence); `check()` is here.
"""

from __future__ import annotations

from store_assistant.answering.guard.claims import (sentences, supported_sentences,
                                                    unsupported_claim)
from store_assistant.answering.guard.figures import (PRICE_PATTERN, STOCK_PATTERN, UNCHECKED_PRICE,
                                                     GuardResult, add_missing_facts, guard,
                                                     hold_figures, injected)
from store_assistant.answering.guard.grounding import Grounding, built
from store_assistant.answering.guard.instructions import PROMPT_REFUSAL, leaks_instructions


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
        return built(grounding.fallback), ["guard_fallback:empty_answer"]
    result = guard(text, grounding.text, grounding.products, grounding.today, grounding.fallback)
    if any(flag.startswith("guard_fallback") for flag in result.flags):
        return result.text, result.flags
    kept, removed = supported_sentences(result.text, grounding)
    if removed and not kept:
        return built(grounding.fallback), [*result.flags, *removed,
                                            "guard_fallback:no_supported_sentence"]
    result = GuardResult(kept, [*result.flags, *removed]) if removed else result
    final, added = add_missing_facts(result.text, grounding.asked, grounding.products,
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


__all__ = ["PATHS", "PRICE_PATTERN", "PROMPT_REFUSAL", "STOCK_PATTERN", "UNCHECKED_PRICE",
           "Grounding", "GuardResult", "add_missing_facts", "check", "guard", "hold_figures",
           "injected", "leaks_instructions", "path_of", "sentences", "supported_sentences",
           "unsupported_claim"]
