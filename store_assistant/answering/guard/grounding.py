"""What a data-built answer may state (`Grounding`), and the answer the data gives on its own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Callable

from store_assistant.answering.routing import Asked
from store_assistant.store.products import Product


@dataclass
class Grounding:
    """What a data-built answer may state: built by the strategy before the model is called.

    `text` is the facts and excerpts the model was given (not the question: "the return window is
    365 days now" must not make 365 a fact); `fallback` is the answer the data gives on its own,
    or a function that builds it when it is needed.
    """
    text: str
    products: list[Product]
    today: date
    asked: Asked  # the question, read once (answering/routing.py)
    stores: list[str]
    fallback: str | Callable[[], str]
    # The catalog's products a text names by SKU, model number or alias; a sentence naming one
    # the answer was not given is removed.
    names: Callable[[str], list[Product]] = lambda text: []


def built(fallback: str | Callable[[], str]) -> str:
    return fallback() if callable(fallback) else fallback
