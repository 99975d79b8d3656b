"""Instructions repeated back: a reply sharing seven-word runs with the prompts is a leak.
"""

from __future__ import annotations

import re
from functools import lru_cache

from store_assistant.templates import PROMPTS_DIR


PROMPT_REFUSAL = ("Sorry, I can't share my instructions. Ask me about a product, a price, stock "
                  "or a store policy.")


_SHINGLE = 7  # words; store facts and excerpts are not instructions, so quoting them is fine


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = re.findall(r"[a-z0-9$']+", text.lower())
    return {tuple(words[i:i + _SHINGLE]) for i in range(len(words) - _SHINGLE + 1)}


@lru_cache(maxsize=1)
def _instruction_shingles() -> frozenset:
    """Every 7-word run of the instruction prompts (not their facts or excerpts)."""
    texts = [path.read_text(encoding="utf-8") for path in PROMPTS_DIR.glob("*.md")
             if path.stem in ("guidelines", "rag", "cot", "finetuned")]
    return frozenset(set().union(*(_shingles(re.sub(r"\$\w+", " ", t)) for t in texts)))


def leaks_instructions(text: str) -> bool:
    """True when a reply repeats the instructions: three or more 7-word runs of them (9+ words).

    'Store guidelines: - Greet briefly and stay polite. - Answer the question first' -> True;
    one stock phrase like 'check the inventory screen' -> False.
    """
    return len(_shingles(text) & _instruction_shingles()) >= 3
