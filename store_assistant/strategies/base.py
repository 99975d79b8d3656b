"""The seam every answering strategy plugs into, and the `Answer` they all return.

A strategy implements one method, `_prepare(question, history) -> Draft`: the messages to send and
the sources they were built from. The public `answer()` and `stream()` do the shared work once:
input validation, the model call through the gateway, timing, token usage, post-processing
(`_finish`, e.g. the grounding guard) and logging. So every strategy is measured the same way.
"""

from __future__ import annotations

import json
import logging
import re
import time
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any, Iterator, Mapping, Sequence

from store_assistant.config import Settings
from store_assistant.llm import Completion, Gateway
from store_assistant.questions import validate_history, validate_question

log = logging.getLogger("store_assistant.answers")


@dataclass(frozen=True)
class Source:
    """A piece of store knowledge an answer drew on: a manual section, a policy, an inventory row."""
    id: str
    title: str
    heading: str
    text: str
    kind: str  # "manual" | "policy" | "inventory"


@dataclass
class Answer:
    text: str
    strategy: str
    model: str
    sources: list[Source] = field(default_factory=list)
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    usage: dict[str, int] = field(default_factory=dict)
    cost_usd: float = 0.0
    flags: list[str] = field(default_factory=list)
    reasoning: str | None = None  # chain-of-thought text kept out of `text`
    retrieved: list[str] = field(default_factory=list)  # ranked ids the retriever returned (hit@k)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Draft:
    """What a strategy wants sent to the model, and what it was built from.

    `reply` set means the data already answers (e.g. "we don't carry drones"): the model is not
    called. `state` carries strategy-specific data from `_prepare` to `_finish` (e.g. the facts
    the grounding guard checks against).
    """
    messages: list[dict[str, str]]
    sources: list[Source] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    reply: str | None = None
    state: dict[str, Any] = field(default_factory=dict)
    retrieved: list[str] = field(default_factory=list)


class Strategy(ABC):
    name: str = "strategy"
    description: str = ""
    # True when answers are built from the store's data and their figures checked by the guard.
    # The app hides prices in answers from strategies without it: they can only be made up.
    checks_figures: bool = False

    def __init__(self, gateway: Gateway, settings: Settings, today: date | None = None) -> None:
        self.gateway = gateway
        self.settings = settings
        self.today = today  # None: the real date; the evaluation pins the date its facts hold on

    @abstractmethod
    def _prepare(self, question: str, history: list[dict[str, str]]) -> Draft:
        """Build the messages for the model from a validated question and earlier turns."""

    def _finish(self, text: str, draft: Draft) -> tuple[str, str | None, list[str]]:
        """Post-process generated text -> (text for staff, hidden reasoning, extra flags)."""
        return text.strip(), None, []

    # --- the shared work --------------------------------------------------------------------

    def draft(self, question: str, history: Sequence[Mapping[str, str]] | None = None) -> Draft:
        """Validate the input and build the draft, without calling the model (used by benchmarks)."""
        return self._prepare(validate_question(question), self._recent(validate_history(history)))

    def answer(self, question: str, history: Sequence[Mapping[str, str]] | None = None) -> Answer:
        started = time.perf_counter()
        draft = self.draft(question, history)
        if draft.reply is not None:
            return self._complete(draft, _from_data(draft, self.gateway.model, started), started)
        return self._complete(draft, self.gateway.complete(draft.messages), started)

    def stream(self, question: str,
               history: Sequence[Mapping[str, str]] | None = None) -> "AnswerStream":
        """Iterate over the raw text as it is generated; `.answer` holds the final Answer after."""
        started = time.perf_counter()
        return AnswerStream(self, self.draft(question, history), started)

    def _complete(self, draft: Draft, completion: Completion, started: float) -> Answer:
        """Post-process and log. Latency counts from `started`, so preparation (retrieval) is in it."""
        text, reasoning, flags = self._finish(completion.text, draft)
        if leaks_instructions(text):  # "reveal your system prompt", obeyed: not shown to staff
            text, flags = PROMPT_REFUSAL, [*flags, "prompt_leak_blocked"]
        prep_ms = (completion.started - started) * 1000
        answer = Answer(text=text, strategy=self.name, model=completion.model,
                        sources=list(draft.sources),
                        latency_ms=(time.perf_counter() - started) * 1000,
                        ttft_ms=None if completion.ttft_ms is None else completion.ttft_ms + prep_ms,
                        usage=dict(completion.usage),
                        cost_usd=completion.cost_usd,
                        flags=[*draft.flags, *flags, *_fallback_flags(completion)],
                        reasoning=reasoning, retrieved=list(draft.retrieved))
        if completion.fallback_from:
            log.warning(json.dumps({"event": "fallback", "failed": completion.fallback_from,
                                    "reason": completion.fallback_reason, "model": answer.model}))
        log.info(json.dumps({"event": "answer", "strategy": answer.strategy, "model": answer.model,
                             "latency_ms": round(answer.latency_ms, 1), "ttft_ms": answer.ttft_ms,
                             "usage": answer.usage, "flags": answer.flags}))
        return answer

    def _recent(self, history: list[dict[str, str]]) -> list[dict[str, str]]:
        keep = 2 * self.settings.history_turns
        return history[-keep:] if keep else []


class AnswerStream:
    """Text pieces as the model produces them; the post-processed `Answer` once exhausted."""

    def __init__(self, strategy: Strategy, draft: Draft, started: float) -> None:
        self._strategy, self._draft, self._started = strategy, draft, started
        self._stream = None if draft.reply is not None else strategy.gateway.stream(draft.messages)
        self.answer: Answer | None = None

    def __iter__(self) -> Iterator[str]:
        if self._stream is None:
            yield self._draft.reply
            completion = _from_data(self._draft, self._strategy.gateway.model, self._started)
        else:
            yield from self._stream
            completion = self._stream.completion
        self.answer = self._strategy._complete(self._draft, completion, self._started)


# --- prompt-leak check ------------------------------------------------------------------------

PROMPT_REFUSAL = ("Sorry, I can't share my instructions. Ask me about a product, a price, stock "
                  "or a store policy.")
_SHINGLE = 7  # words; store facts and excerpts are not instructions, so quoting them is fine


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = re.findall(r"[a-z0-9$']+", text.lower())
    return {tuple(words[i:i + _SHINGLE]) for i in range(len(words) - _SHINGLE + 1)}


@lru_cache(maxsize=1)
def _instruction_shingles() -> frozenset:
    """Every 7-word run of the instruction prompts (not their facts or excerpts)."""
    from store_assistant.templates import PROMPTS_DIR

    texts = [path.read_text(encoding="utf-8") for path in PROMPTS_DIR.glob("*.md")
             if path.stem in ("guidelines", "rag", "cot", "finetuned")]
    return frozenset(set().union(*(_shingles(re.sub(r"\$\w+", " ", t)) for t in texts)))


def leaks_instructions(text: str) -> bool:
    """True when a reply repeats the instructions: three or more 7-word runs of them (9+ words).

    'Store guidelines: - Greet briefly and stay polite. - Answer the question first' -> True;
    one stock phrase like 'check the inventory screen' -> False.
    """
    return len(_shingles(text) & _instruction_shingles()) >= 3


def _fallback_flags(completion: Completion) -> list[str]:
    """'fallback:openai/gpt-4o-mini' when the configured model failed and the fallback answered."""
    return [f"fallback:{completion.fallback_from}"] if completion.fallback_from else []


def _from_data(draft: Draft, model: str, started: float) -> Completion:
    """A Completion for a reply built from data: no model call, no tokens, no cost."""
    now = time.perf_counter()
    return Completion(text=draft.reply or "", model=model, latency_ms=(now - started) * 1000,
                      ttft_ms=0.0, usage={}, cost_usd=0.0, started=now)
