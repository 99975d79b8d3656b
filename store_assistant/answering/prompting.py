"""Prompt engineering only: the store guidelines, with zero-shot, few-shot or chain-of-thought.

This is the baseline arm: no store data reaches the model, so the guidelines tell it never to guess
a price or stock figure. Variants differ only in prompt files (`prompts/`), so a prompt change is a
data change that the evaluation harness can compare against the committed baseline.
"""

from __future__ import annotations

import re
from datetime import date

from store_assistant.config import Settings
from store_assistant.inference.gateway import Gateway
from store_assistant.answering.base import Draft, Strategy
from store_assistant.templates import STORE_NAME, few_shot_examples, render

VARIANTS = {
    "zero-shot": "Store guidelines only.",
    "few-shot": "Store guidelines plus worked examples of tone and format.",
    "cot": "Store guidelines plus a think-then-answer instruction; the reasoning is kept out of the reply.",
}
# "Answer:", "**Answer:**", "## Answer:" at the start of a line; markdown emphasis around it is dropped.
_ANSWER_MARK = re.compile(r"^[\s*_#>]*answer[\s*_]*:[\s*_]*", re.IGNORECASE | re.MULTILINE)
_REASONING_MARK = re.compile(r"^[\s*_#>]*reasoning[\s*_]*:[\s*_]*", re.IGNORECASE)


class PromptStrategy(Strategy):
    def __init__(self, gateway: Gateway, settings: Settings, variant: str = "zero-shot",
                 today: date | None = None) -> None:
        super().__init__(gateway, settings, today)
        if variant not in VARIANTS:
            raise ValueError(f"unknown prompt variant {variant!r}; known: {sorted(VARIANTS)}")
        self.variant = variant
        self.name = f"pe-{variant}"
        self.description = VARIANTS[variant]
        system = render("guidelines", store_name=STORE_NAME)
        if variant == "cot":
            system += "\n\n" + render("cot")
        self._system = system
        self._examples = few_shot_examples() if variant == "few-shot" else ()

    def _prepare(self, question: str, history: list[dict[str, str]]) -> Draft:
        messages = [{"role": "system", "content": self._system}]
        for example in self._examples:
            messages += [{"role": "user", "content": example.question},
                         {"role": "assistant", "content": example.answer}]
        messages += history
        messages.append({"role": "user", "content": question})
        return Draft(messages=messages)

    def _finish(self, text: str, draft: Draft) -> tuple[str, str | None, list[str]]:
        """Split chain-of-thought output into the hidden reasoning and the reply.

        'Reasoning: needs a TV.\\nAnswer: Hi! ...' -> ('Hi! ...', 'needs a TV.', ['cot_reasoning_hidden']).
        A reply without an 'Answer:' line is shown whole and flagged, never dropped.
        """
        text = text.strip()
        if self.variant != "cot":
            return text, None, []
        parts = _ANSWER_MARK.split(text, maxsplit=1)
        if len(parts) == 2 and parts[1].strip():
            reasoning = _REASONING_MARK.sub("", parts[0]).strip()
            return parts[1].strip(), reasoning or None, ["cot_reasoning_hidden"]
        return text, None, ["cot_no_answer_marker"]
