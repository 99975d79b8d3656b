"""The seam every answering strategy plugs into, and the `Answer` they all return.

A strategy implements one method, `_prepare(question, history) -> Draft`: the messages to send,
the sources they were built from and, for answers built on the store's data, the `Grounding` the
guard checks against. The public `answer()` and `stream()` do the shared work once, whichever
door the question came through (app, CLI, evaluation): input validation, the model call through
the gateway, timing, token usage, the strategy's own formatting (`_finish`), the grounding guard
(`guard.check`), and the answer log. So every strategy is measured and guarded the same way.
"""

from __future__ import annotations

import json
import logging
import time
from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, Callable, Iterator, Mapping, Sequence

from store_assistant.answering import guard
from store_assistant.answering.questions import validate_history, validate_question
from store_assistant.answering.languages import answer_in, cannot_answer, language_of
from store_assistant.config import Settings
from store_assistant.errors import StoreAssistantError
from store_assistant.inference.gateway import Completion, Gateway
from store_assistant.store.answer_log import AnswerLog

log = logging.getLogger("store_assistant.answers")


@dataclass(frozen=True)
class Source:
    """A piece of store knowledge an answer drew on: a manual section, a policy, an inventory row."""
    id: str
    title: str
    heading: str
    text: str
    kind: str  # "manual" | "policy" | "inventory"
    page: int | None = None  # where a PDF manual's section starts
    read: bool = True  # in the model's prompt; False: ranked by retrieval, listed for staff only


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
    raw_text: str = ""  # what the model wrote (or the data-built reply), before the guard
    checks_figures: bool = False  # built on the store's data, its figures checked by the guard
    id: str | None = None  # the answer log's id for it (feedback refers to it); None if not logged
    path: str = "model"  # how it reached staff: one of guard.PATHS ("data": no model call)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Draft:
    """What a strategy wants sent to the model, and what it was built from.

    `reply` set means the data already answers (e.g. "we don't carry drones"): the model is not
    called. `grounding` is what a data-built answer may state; None for strategies without the
    store's data (their prices are hidden by the guard).
    """
    messages: list[dict[str, str]]
    sources: list[Source] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    reply: str | None = None
    grounding: guard.Grounding | None = None
    retrieved: list[str] = field(default_factory=list)
    question: str = ""
    # Extra model arguments (a JSON schema, a token limit) for a draft whose model output is
    # not shown as it is written: an evidence choice, turned into the reply by `_finish`.
    params: dict[str, Any] = field(default_factory=dict)
    evidence: Any = None  # answering.evidence.Evidence: the numbered lines the model chose from
    # The manual's words, quoted by code (set by `_finish` for an evidence answer): shown after
    # the guarded verdict, or alone. The guard checks what the model wrote, not the quote.
    quote: str | None = None


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
        # Where answers are logged and which door asked: set by `strategies.build_strategy`.
        # The evaluation leaves it unset: its answers are not the shop floor's.
        self.answer_log: AnswerLog | None = None
        self.door = "app"

    @abstractmethod
    def _prepare(self, question: str, history: list[dict[str, str]]) -> Draft:
        """Build the messages for the model from a validated question and earlier turns."""

    def _finish(self, text: str, draft: Draft) -> tuple[str, str | None, list[str]]:
        """The strategy's own formatting of generated text -> (reply, hidden reasoning, flags).
        The guard runs after it, for every strategy alike."""
        return text.strip(), None, []

    # --- the shared work --------------------------------------------------------------------

    def draft(self, question: str, history: Sequence[Mapping[str, str]] | None = None) -> Draft:
        """Validate the input and build the draft, without calling the model (used by benchmarks)."""
        question = validate_question(question)
        history = validate_history(history)
        language = language_of(question)
        if language not in self.settings.languages:
            # Neither model nor embeddings were measured in it: one clear sentence, no guessing.
            draft = Draft(messages=[], flags=[f"language:{language}"],
                          reply=cannot_answer(language, self.settings.languages))
        else:
            draft = self._prepare(question, self._recent(history))
            if language != "en" and draft.messages and draft.messages[0]["role"] == "system":
                draft.flags.append(f"answered_in:{language}")
                system = draft.messages[0]["content"] + "\n\n" + answer_in(language)
                draft.messages = [{"role": "system", "content": system}, *draft.messages[1:]]
        draft.question = question
        return draft

    def answer(self, question: str, history: Sequence[Mapping[str, str]] | None = None) -> Answer:
        started = time.perf_counter()
        with self._logged_failure(question, started):
            draft = self.draft(question, history)
            if draft.reply is not None:
                return self._deliver(draft, _from_data(draft, self.gateway.model, started), started)
            return self._deliver(draft, self.gateway.complete(draft.messages, **draft.params),
                                 started)

    def stream(self, question: str,
               history: Sequence[Mapping[str, str]] | None = None) -> "AnswerStream":
        """Iterate over the raw text as it is generated; `.answer` holds the final Answer after."""
        started = time.perf_counter()
        with self._logged_failure(question, started):
            return AnswerStream(self, self.draft(question, history), started)

    @contextmanager
    def _logged_failure(self, question: str, started: float) -> Iterator[None]:
        """A question that gets an error instead of an answer is logged as such, then re-raised."""
        try:
            yield
        except StoreAssistantError as exc:
            if self.answer_log is not None:
                latency_ms = (time.perf_counter() - started) * 1000
                _log_safely(self.answer_log.record_error, question, self.name,
                            self.gateway.model, latency_ms, exc, door=self.door)
            raise

    def _deliver(self, draft: Draft, completion: Completion, started: float) -> Answer:
        """Format, guard and log. Latency counts from `started`, so retrieval is in it."""
        from_data = draft.reply is not None
        text, reasoning, flags = ((draft.reply, None, []) if from_data
                                  else self._finish(completion.text, draft))
        if draft.quote is not None and not text:  # the quote alone: nothing the model wrote
            guarded = ["evidence:quote_only"]
        else:
            text, guarded = guard.check(text, draft.grounding, from_data=from_data)
        if draft.quote is not None:
            dropped = not text or any(f.startswith("guard_fallback") for f in guarded)
            text = draft.quote if dropped else f"{text}\n\n{draft.quote}"
        prep_ms = (completion.started - started) * 1000
        answer = Answer(text=text, strategy=self.name, model=completion.model,
                        sources=list(draft.sources),
                        latency_ms=(time.perf_counter() - started) * 1000,
                        ttft_ms=None if completion.ttft_ms is None else completion.ttft_ms + prep_ms,
                        usage=dict(completion.usage),
                        cost_usd=completion.cost_usd,
                        flags=[*draft.flags, *flags, *guarded, *_fallback_flags(completion)],
                        reasoning=reasoning, retrieved=list(draft.retrieved),
                        raw_text=completion.text, checks_figures=self.checks_figures,
                        path=_path(draft, guarded, from_data))
        if completion.fallback_from:
            log.warning(json.dumps({"event": "fallback", "failed": completion.fallback_from,
                                    "reason": completion.fallback_reason, "model": answer.model}))
        log.info(json.dumps({"event": "answer", "strategy": answer.strategy, "model": answer.model,
                             "latency_ms": round(answer.latency_ms, 1), "ttft_ms": answer.ttft_ms,
                             "usage": answer.usage, "flags": answer.flags}))
        if self.answer_log is not None:
            answer.id = _log_safely(self.answer_log.record_answer, draft.question, answer,
                                    door=self.door)
        return answer

    def _recent(self, history: list[dict[str, str]]) -> list[dict[str, str]]:
        keep = 2 * self.settings.history_turns
        return history[-keep:] if keep else []


class AnswerStream:
    """Text pieces as the model produces them; the post-processed `Answer` once exhausted."""

    def __init__(self, strategy: Strategy, draft: Draft, started: float) -> None:
        self._strategy, self._draft, self._started = strategy, draft, started
        # A reply from data, or an evidence choice (JSON, not for staff's eyes), is not streamed.
        whole = draft.reply is not None or draft.evidence is not None
        self._stream = None if whole else strategy.gateway.stream(draft.messages)
        self.answer: Answer | None = None

    @property
    def restarted(self) -> bool:
        """True once the model failed part-way and the fallback began the answer again."""
        return self._stream is not None and self._stream.restarted

    def __iter__(self) -> Iterator[str]:
        with self._strategy._logged_failure(self._draft.question, self._started):
            if self._draft.evidence is not None:
                completion = self._strategy.gateway.complete(self._draft.messages,
                                                             **self._draft.params)
                self.answer = self._strategy._deliver(self._draft, completion, self._started)
                yield self.answer.text
                return
            if self._stream is None:
                yield self._draft.reply
                completion = _from_data(self._draft, self._strategy.gateway.model, self._started)
            else:
                yield from self._stream
                completion = self._stream.completion
            self.answer = self._strategy._deliver(self._draft, completion, self._started)


def _log_safely(write: Callable[..., str], *args: Any, **kwargs: Any) -> str | None:
    """Write to the answer log; a full disk must not cost staff the answer they are waiting for."""
    try:
        return write(*args, **kwargs)
    except OSError as exc:
        log.error("the answer log could not be written: %s", exc)
        return None


def _path(draft: Draft, guarded: list[str], from_data: bool) -> str:
    """guard.path_of, with 'evidence' for a model's checked verdict over a quoted line and
    'fallback' for the quote shown alone (the model's verdict was not used)."""
    if draft.evidence is not None and "evidence:quote_only" in guarded:
        return "fallback"
    path = guard.path_of(guarded, from_data)
    return "evidence" if draft.evidence is not None and path == "model" else path


def _fallback_flags(completion: Completion) -> list[str]:
    """'fallback:openai/gpt-4o-mini' when the configured model failed and the fallback answered."""
    return [f"fallback:{completion.fallback_from}"] if completion.fallback_from else []


def _from_data(draft: Draft, model: str, started: float) -> Completion:
    """A Completion for a reply built from data: no model call, no tokens, no cost."""
    now = time.perf_counter()
    return Completion(text=draft.reply or "", model=model, latency_ms=(now - started) * 1000,
                      ttft_ms=0.0, usage={}, cost_usd=0.0, started=now)
