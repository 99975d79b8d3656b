"""The strategy registry: a plain dict from name to factory, built-ins registered like extensions.

    strategy = build_strategy("rag-hybrid", gateway, settings)
    answer = strategy.answer("Which laptops are under $800?")
"""

from __future__ import annotations

import difflib
from datetime import date
from functools import partial
from typing import Callable

from store_assistant.config import Settings
from store_assistant.errors import ConfigError
from store_assistant.llm import Gateway
from store_assistant.strategies.base import Answer, AnswerStream, Draft, Source, Strategy
from store_assistant.strategies.finetuned import FinetunedRagStrategy, FinetunedStrategy
from store_assistant.strategies.prompting import VARIANTS, PromptStrategy
from store_assistant.strategies.rag import MODES, RagStrategy

StrategyFactory = Callable[..., Strategy]  # (gateway, settings, today=None) -> Strategy

STRATEGIES: dict[str, StrategyFactory] = {
    **{f"pe-{variant}": partial(PromptStrategy, variant=variant) for variant in VARIANTS},
    **{f"rag-{mode}": partial(RagStrategy, mode=mode) for mode in MODES},
    FinetunedStrategy.name: FinetunedStrategy,
    FinetunedRagStrategy.name: FinetunedRagStrategy,
}
DESCRIPTIONS: dict[str, str] = {
    **{f"pe-{variant}": text for variant, text in VARIANTS.items()},
    **{f"rag-{mode}": text for mode, text in MODES.items()},
    FinetunedStrategy.name: FinetunedStrategy.description,
    FinetunedRagStrategy.name: FinetunedRagStrategy.description,
}
# Grounded answers are the product; prompt-only variants are the baseline they are measured against.
DEFAULT_STRATEGY = "rag-hybrid"


def describe(name: str) -> str:
    return DESCRIPTIONS.get(name, "")


def check_strategy(name: str) -> str:
    """The name if registered, else a ConfigError with the closest match."""
    if name not in STRATEGIES:
        close = difflib.get_close_matches(name, list(STRATEGIES), n=1)
        hint = f" Did you mean {close[0]}?" if close else ""
        raise ConfigError(f"Unknown strategy {name!r}.{hint} Known: {', '.join(STRATEGIES)} "
                          f"(`store-assistant strategies` lists them).")
    return name


def build_strategy(name: str, gateway: Gateway, settings: Settings,
                   today: date | None = None) -> Strategy:
    """`today` pins the date prices and promotions are read at (the evaluation's as-of date)."""
    return STRATEGIES[check_strategy(name)](gateway, settings, today=today)


__all__ = ["Answer", "AnswerStream", "DEFAULT_STRATEGY", "DESCRIPTIONS", "Draft", "STRATEGIES",
           "Source", "Strategy", "build_strategy", "check_strategy", "describe"]
