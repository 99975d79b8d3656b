"""The error hierarchy: every failure a user can cause or meet is one of these.

Messages say what happened, with which input, and how to fix it. Code that catches a library's
exception re-raises one of ours, so the CLI and the app can show the message instead of a traceback.
`did_you_mean()` is the one way a message suggests the name that was probably meant.
"""

from __future__ import annotations

import difflib
from typing import Iterable


def did_you_mean(name: str, known: Iterable[str], list_known: bool = False) -> str:
    """' Did you mean rag-hybrid?' for the closest known name; '' when none is close, or
    ' Known: a, b.' with `list_known`. 'rag-hybird' among the strategies -> ' Did you mean rag-hybrid?'.
    """
    known = list(known)
    close = difflib.get_close_matches(name, known, n=1)
    if close:
        return f" Did you mean {close[0]}?"
    return f" Known: {', '.join(sorted(known))}." if list_known else ""


class StoreAssistantError(Exception):
    """Base class: the message is written for the person at the keyboard."""


class ConfigError(StoreAssistantError):
    """A setting is missing or wrong; the message names the setting and the fix."""


class ModelError(StoreAssistantError):
    """The language model could not answer (missing weights, unreachable server, timeout...)."""


class PromptTooLongError(ModelError):
    """The question and its context do not fit the model's window: another model will not help."""


class ModelBusyError(ModelError):
    """An in-process model had too long a queue of questions: ask again, nothing is broken."""


class RetrievalError(StoreAssistantError):
    """The knowledge index could not be built or queried."""


class InventoryError(StoreAssistantError):
    """The inventory database rejected a lookup or an edit."""


class DataError(StoreAssistantError):
    """An input (question, file, record) is malformed; nothing was changed."""
