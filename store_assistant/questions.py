"""Validation of what staff type, shared by the app, the CLI and the evaluation runner.

A question is checked before any model sees it: empty, oversized or binary-looking input gets a
`DataError` saying exactly what is wrong, instead of a slow, confused or crashing model call.
"""

from __future__ import annotations

import unicodedata
from typing import Iterable, Mapping

from store_assistant.errors import DataError

# A long product question is a few hundred characters; 2,000 leaves room for pasted specs while
# keeping the prompt (and so the CPU prompt time) bounded.
MAX_QUESTION_CHARS = 2000
_ALLOWED_CONTROLS = {"\n", "\t", "\r"}
ROLES = ("user", "assistant")


def validate_question(text: object) -> str:
    """The question with surrounding whitespace removed, or a `DataError`.

    >>> validate_question("  Is the Pixel 8 in stock?  ")
    'Is the Pixel 8 in stock?'
    """
    if not isinstance(text, str):
        raise DataError(f"A question must be text, got {type(text).__name__}.")
    question = text.strip()
    if not question:
        raise DataError("The question is empty. Type what the customer wants to know.")
    if len(question) > MAX_QUESTION_CHARS:
        raise DataError(f"The question is {len(question):,} characters; the limit is "
                        f"{MAX_QUESTION_CHARS:,}. Shorten it to the part the customer asked.")
    for position, char in enumerate(question):
        if char not in _ALLOWED_CONTROLS and unicodedata.category(char) in ("Cc", "Cs"):
            raise DataError(f"The question contains a control character (U+{ord(char):04X}) at "
                            f"position {position}. Remove it and ask again.")
    return question


def validate_history(history: Iterable[Mapping[str, str]] | None) -> list[dict[str, str]]:
    """Earlier turns as [{"role": "user"|"assistant", "content": ...}], checked."""
    if history is None:
        return []
    if isinstance(history, (str, bytes, Mapping)) or not isinstance(history, Iterable):
        raise DataError(f"The conversation history must be a list of turns, got "
                        f"{type(history).__name__}.")
    turns = []
    for i, turn in enumerate(history):
        if not isinstance(turn, Mapping):
            raise DataError(f"Conversation turn {i} must be a mapping with role and content, got "
                            f"{type(turn).__name__}.")
        role, content = turn.get("role"), turn.get("content")
        if role not in ROLES or not isinstance(content, str):
            raise DataError(f"Conversation turn {i} must have role 'user' or 'assistant' and "
                            f"text content, got {dict(turn)!r:.120}.")
        turns.append({"role": role, "content": content})
    return turns
