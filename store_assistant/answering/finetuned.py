"""The fine-tuned model, alone (`finetuned`) and with the RAG pipeline (`finetuned+rag`).

`finetuned` sends only the short prompt the adapter was trained with: whatever it knows about the
store it learned in training, so it goes stale when the inventory changes (the evaluation's
freshness check shows it). `finetuned+rag` is the RAG strategy, guard included, on the tuned model,
so the two strategies are additive. Both call the registry's active adapter as local/<name>, or
the `finetuned_llm` setting when the tuned model is served elsewhere.
"""

from __future__ import annotations

from datetime import date

from store_assistant.config import Settings
from store_assistant.inference.gateway import LOCAL_PROVIDER, Gateway
from store_assistant.answering.base import Draft, Strategy
from store_assistant.answering.rag import RagStrategy
from store_assistant.templates import STORE_NAME, render


def system_prompt() -> str:
    """The short prompt the adapter is trained and served with (prompts/finetuned.md)."""
    return render("finetuned", store_name=STORE_NAME)


def tuned_model(settings: Settings) -> str:
    """'local/volt-lora' (the registry's active adapter) unless `finetuned_llm` is set."""
    if settings.finetuned_llm:
        return settings.finetuned_llm
    from store_assistant.inference.models import active_model

    return f"{LOCAL_PROVIDER}/{active_model(settings)}"


def tuned_gateway(gateway: Gateway, settings: Settings) -> Gateway:
    model = tuned_model(settings)
    return gateway if gateway.model == model else Gateway(settings, model)


class FinetunedStrategy(Strategy):
    name = "finetuned"
    description = "The fine-tuned model with its short training prompt; no retrieval."

    def __init__(self, gateway: Gateway, settings: Settings, today: date | None = None) -> None:
        super().__init__(tuned_gateway(gateway, settings), settings, today)
        self._system = system_prompt()

    def _prepare(self, question: str, history: list[dict[str, str]]) -> Draft:
        return Draft(messages=[{"role": "system", "content": self._system}, *history,
                               {"role": "user", "content": question}])


class FinetunedRagStrategy(RagStrategy):
    name = "finetuned+rag"
    description = "The RAG pipeline (hybrid retrieval, live inventory, guard) on the fine-tuned model."

    def __init__(self, gateway: Gateway, settings: Settings, today: date | None = None) -> None:
        super().__init__(tuned_gateway(gateway, settings), settings, mode="hybrid", today=today)
        self.name, self.description = FinetunedRagStrategy.name, FinetunedRagStrategy.description
