"""Control arms: what the RAG pipeline scores with no language model in it.

An LLM arm means something only next to what it would score without the model:
- `control-null`: the whole RAG pipeline (retrieval, data-built answers, the guard) with a model
  that writes nothing. Every answer is then the data's own or the guard's fallback.
- `control-extractive`: the same pipeline, and in place of the model a rule that returns the fact
  lines it was given and the excerpt sentence(s) sharing the most words with the question.
Both are models in shape only (`complete`/`stream`, like the gateway), so the strategy, the guard
and the measurement are exactly those of `rag-hybrid`; only the text generation differs.
"""

from __future__ import annotations

import re
import time
from datetime import date
from typing import Any, Iterator

from store_assistant.answering.rag import RagStrategy
from store_assistant.config import Settings
from store_assistant.inference.gateway import Completion

# Where the RAG prompt (prompts/rag.md) puts the facts and the excerpts; a change there that
# breaks the extraction fails tests/answering/test_controls.py.
_FACTS, _EXCERPTS = "Store facts (live inventory):", "Manual and policy excerpts:"
_WORD = re.compile(r"[a-z0-9]+(?:[.'-][a-z0-9]+)*")
_COMMON = {"the", "a", "an", "is", "it", "in", "on", "of", "for", "and", "or", "do", "does", "you",
           "what", "how", "can", "i", "my", "to", "are", "with", "this", "that", "be", "we", "our"}
SENTENCES = 2


class _NoModel:
    """The gateway's shape without a model: `complete`, `stream`, `model`, `load`."""
    model = "none"
    is_local = True

    def write(self, messages: list[dict[str, str]]) -> str:
        raise NotImplementedError

    def load(self) -> None:
        return None

    def complete(self, messages: list[dict[str, str]], **params: object) -> Completion:
        started = time.perf_counter()
        text = self.write(messages)
        return Completion(text=text, model=self.model,
                          latency_ms=(time.perf_counter() - started) * 1000, ttft_ms=0.0,
                          usage={}, cost_usd=0.0, started=started)

    def stream(self, messages: list[dict[str, str]], **params: object) -> "_Written":
        return _Written(self.complete(messages))


class _Written:
    def __init__(self, completion: Completion) -> None:
        self.completion = completion
        self.fallback = None

    def __iter__(self) -> Iterator[str]:
        if self.completion.text:
            yield self.completion.text


class SilentModel(_NoModel):
    """A model that returns nothing."""
    model = "control/null"

    def write(self, messages: list[dict[str, str]]) -> str:
        return ""


class ExtractiveModel(_NoModel):
    """No LLM: the fact lines, then the excerpt sentences closest to the question by shared words.

    'How long does the XM5 battery last?' with a specifications excerpt -> the product's fact line
    and 'Battery: up to 30 hours with noise cancelling on (40 hours off).'
    """
    model = "control/extractive"

    def write(self, messages: list[dict[str, str]]) -> str:
        system, question = messages[0]["content"], messages[-1]["content"]
        facts_part, _, excerpts_part = system.partition(_EXCERPTS)
        facts = [line[2:].strip() for line in facts_part.partition(_FACTS)[2].splitlines()
                 if line.startswith("- ") and "(no product named)" not in line]
        return " ".join([*facts, *best_sentences(question, excerpts_part)]).strip()


def best_sentences(question: str, excerpts: str, n: int = SENTENCES) -> list[str]:
    """The `n` excerpt sentences sharing the most content words with the question, in text order."""
    asked = {w for w in _WORD.findall(question.lower()) if w not in _COMMON}
    sentences = [s.strip(" -*") for line in excerpts.splitlines()
                 if line.strip() and not line.startswith("[") and line.strip() != "(none found)"
                 for s in re.split(r"(?<=[.!?])\s+", line.strip()) if s.strip(" -*")]
    scored = [(len(asked & set(_WORD.findall(s.lower()))), -i, s) for i, s in enumerate(sentences)]
    best = sorted((item for item in scored if item[0] > 0), reverse=True)[:n]
    return [s for _, _, s in sorted(best, key=lambda item: -item[1])]


class ControlStrategy(RagStrategy):
    """rag-hybrid with `model` in place of the language model (the configured one is ignored)."""

    def __init__(self, gateway: Any, settings: Settings, model: type[_NoModel] = SilentModel,
                 name: str = "control-null", description: str = "",
                 today: date | None = None) -> None:
        super().__init__(model(), settings, mode="hybrid", today=today)
        self.name, self.description = name, description


CONTROLS = {
    "control-null": (SilentModel, "Control: the RAG pipeline with a model that writes nothing."),
    "control-extractive": (ExtractiveModel, "Control: the RAG pipeline with no LLM: its fact "
                                            "lines and the excerpt sentences closest to the "
                                            "question."),
}

