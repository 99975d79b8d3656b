"""Prompts are data: markdown and YAML files in `store_assistant/prompts/`, rendered strictly.

A template names its variables as `$name`. Rendering with a variable missing, or with one the
template does not use, is a `DataError`: a typo in a prompt file must fail loudly, never turn into an
empty string that silently changes what the model sees.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from store_assistant.errors import DataError

PROMPTS_DIR = Path(__file__).parent / "prompts"
STORE_NAME = "Volt Electronics"  # the name the guidelines greet with


def render(name: str, **values: object) -> str:
    """Render prompts/<name>.md with exactly the variables it names.

    >>> render("guidelines", store_name="Volt Electronics").startswith("You are")
    True
    """
    template = string.Template(_read(f"{name}.md"))
    wanted = {m.group("named") or m.group("braced") for m in template.pattern.finditer(template.template)
              if m.group("named") or m.group("braced")}
    missing, extra = wanted - values.keys(), values.keys() - wanted
    if missing or extra:
        raise DataError(f"Prompt {name}.md needs variables {sorted(wanted)}; "
                        f"missing {sorted(missing)}, unexpected {sorted(extra)}.")
    return template.substitute(values).strip()


@dataclass(frozen=True)
class Example:
    question: str
    answer: str


def few_shot_examples(name: str = "few_shot") -> tuple[Example, ...]:
    """The worked examples in prompts/<name>.yaml, validated."""
    path = f"{name}.yaml"
    try:
        data = yaml.safe_load(_read(path))
    except yaml.YAMLError as exc:
        raise DataError(f"{PROMPTS_DIR / path} is not valid YAML: {exc}") from exc
    items = data.get("examples") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise DataError(f"{PROMPTS_DIR / path} needs a non-empty 'examples' list.")
    examples = []
    for i, item in enumerate(items, 1):
        if not (isinstance(item, dict) and isinstance(item.get("question"), str)
                and isinstance(item.get("answer"), str)
                and item["question"].strip() and item["answer"].strip()):
            raise DataError(f"{PROMPTS_DIR / path}: example {i} needs non-empty text "
                            f"'question' and 'answer' fields.")
        examples.append(Example(item["question"].strip(), item["answer"].strip()))
    return tuple(examples)


@cache
def _read(filename: str) -> str:
    path = PROMPTS_DIR / filename
    if not path.is_file():
        raise DataError(f"Prompt file {path} is missing; reinstall the package (pip install -e .).")
    return path.read_text(encoding="utf-8")
