"""The strategy registry: a plain dict from name to factory, built-ins registered like extensions.

    strategy = build_strategy("rag-hybrid", gateway, settings)
    answer = strategy.answer("Which laptops are under $800?")

Strategies live beside this registry: `prompting.py`, `rag.py`, `finetuned.py` on `base.py`.
"""

from __future__ import annotations

from datetime import date
from functools import partial
from typing import Callable

from store_assistant.config import Settings
from store_assistant.errors import ConfigError, did_you_mean
from store_assistant.inference.gateway import Gateway
from store_assistant.store.answer_log import AnswerLog
from store_assistant.answering.base import Answer, AnswerStream, Draft, Source, Strategy
from store_assistant.answering.controls import CONTROLS, ControlStrategy
from store_assistant.answering.finetuned import FinetunedRagStrategy, FinetunedStrategy
from store_assistant.answering.prompting import VARIANTS, PromptStrategy
from store_assistant.answering.rag import MODES, RagStrategy

StrategyFactory = Callable[..., Strategy]  # (gateway, settings, today=None) -> Strategy

STRATEGIES: dict[str, StrategyFactory] = {
    **{f"pe-{variant}": partial(PromptStrategy, variant=variant) for variant in VARIANTS},
    **{f"rag-{mode}": partial(RagStrategy, mode=mode) for mode in MODES},
    FinetunedStrategy.name: FinetunedStrategy,
    FinetunedRagStrategy.name: FinetunedRagStrategy,
}
# Control arms for the evaluation (no language model in them); not offered to staff.
CONTROL_ARMS: dict[str, StrategyFactory] = {
    name: partial(ControlStrategy, model=model, name=name, description=text)
    for name, (model, text) in CONTROLS.items()}
DESCRIPTIONS: dict[str, str] = {
    **{name: text for name, (_, text) in CONTROLS.items()},
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
    if name not in STRATEGIES and name not in CONTROL_ARMS:
        known = [*STRATEGIES, *CONTROL_ARMS]
        raise ConfigError(f"Unknown strategy {name!r}.{did_you_mean(name, known)} "
                          f"Known: {', '.join(known)} "
                          f"(`store-assistant strategies` lists them).")
    return name


def build_strategy(name: str, gateway: Gateway, settings: Settings, today: date | None = None,
                   answer_log: AnswerLog | None = None, door: str = "app") -> Strategy:
    """`today` pins the date prices and promotions are read at (the evaluation's as-of date).
    With `answer_log`, every answer and error is logged there, marked with the `door` it came
    through ("app" for the shop floor, "cli" for the shell)."""
    factory = {**STRATEGIES, **CONTROL_ARMS}[check_strategy(name)]
    strategy = factory(gateway, settings, today=today)
    strategy.answer_log, strategy.door = answer_log, door
    return strategy


__all__ = ["Answer", "AnswerStream", "CONTROL_ARMS", "DEFAULT_STRATEGY", "DESCRIPTIONS", "Draft", "STRATEGIES",
           "Source", "Strategy", "build_strategy", "check_strategy", "describe"]
