"""Everything the evaluation takes from ragas: the only module that imports it.

No-LLM scores (ID-based context recall, ROUGE-L, semantic similarity with the local MiniLM) run on
every answer; the LLM-judge scores (Faithfulness, FactualCorrectness) only with `eval --judge
MODEL`, through the same gateway settings as every other model call. Each function returns a
plain float; `metrics.py` wraps it in a `Score` with its reason.
"""

from __future__ import annotations

import asyncio
from typing import Any

from store_assistant.config import Settings
from store_assistant.inference.gateway import judge_client

_SCORERS: dict[str, Any] = {}


def id_context_recall(retrieved: list[str], reference: list[str]) -> float:
    """The share of reference ids among the retrieved ids (ragas IDBasedContextRecall)."""
    from ragas.dataset_schema import SingleTurnSample
    from ragas.metrics import IDBasedContextRecall

    return float(IDBasedContextRecall().single_turn_score(SingleTurnSample(
        retrieved_context_ids=retrieved, reference_context_ids=reference)))


def _minilm() -> Any:
    """The local MiniLM embedder, in the shape ragas' modern embedding interface expects."""
    from ragas.embeddings.base import BaseRagasEmbedding

    from store_assistant.store.knowledge import EMBEDDER

    class Local(BaseRagasEmbedding):
        def embed_text(self, text: str, **kwargs: Any) -> list[float]:
            return EMBEDDER.embed([text])[0]

        async def aembed_text(self, text: str, **kwargs: Any) -> list[float]:
            return self.embed_text(text)

    return Local()


def _scorer(name: str) -> Any:
    if name not in _SCORERS:
        from ragas.metrics.collections import RougeScore, SemanticSimilarity

        _SCORERS["rouge_l"] = RougeScore(rouge_type="rougeL", mode="fmeasure")
        _SCORERS["semantic_similarity"] = SemanticSimilarity(embeddings=_minilm())
    return _SCORERS[name]


def rouge_l(reference: str, response: str) -> float:
    return float(_scorer("rouge_l").score(reference=reference, response=response).value)


def semantic_similarity(reference: str, response: str) -> float:
    return float(_scorer("semantic_similarity").score(reference=reference,
                                                      response=response).value)


# --- the optional LLM judge -------------------------------------------------------------------

def judge_llm(settings: Settings, model: str) -> Any:
    """A ragas LLM for judge metrics that calls `model` the way the gateway does."""
    from ragas.llms import llm_factory

    return llm_factory(model, provider="litellm", client=judge_client(settings, model))


def faithfulness(llm: Any, question: str, response: str, contexts: list[str]) -> Any:
    """ragas Faithfulness of `response` to `contexts`; the raw value (checked by the caller)."""
    from ragas.metrics.collections import Faithfulness

    return asyncio.run(Faithfulness(llm=llm).ascore(user_input=question, response=response,
                                                    retrieved_contexts=contexts)).value


def factual_correctness(llm: Any, response: str, reference: str) -> Any:
    """ragas FactualCorrectness of `response` against `reference`; the raw value."""
    from ragas.metrics.collections import FactualCorrectness

    return asyncio.run(FactualCorrectness(llm=llm).ascore(response=response,
                                                          reference=reference)).value
