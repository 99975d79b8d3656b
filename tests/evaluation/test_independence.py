"""A metric never reuses the code it judges: no regular expression of `store_assistant.evaluation`
is the same pattern as one of the answering code or the store's (compared as compiled pattern
strings, flags included). A copy shares its blind spots: an answer the guard reads wrongly would
be scored by the same misreading."""

from __future__ import annotations

import importlib
import pkgutil
import re

JUDGED = ("store_assistant.answering", "store_assistant.store")


def patterns(package: str) -> dict[tuple[str, int], set[str]]:
    """{(pattern, flags): {"module.NAME", ...}} for every compiled pattern a module of `package`
    holds at module level, alone or in a tuple, list or dict."""
    found: dict[tuple[str, int], set[str]] = {}
    root = importlib.import_module(package)
    names = [package, *(m.name for m in pkgutil.walk_packages(root.__path__, package + "."))]
    for name in names:
        for attr, value in vars(importlib.import_module(name)).items():
            values = value.values() if isinstance(value, dict) else (
                value if isinstance(value, (tuple, list)) else [value])
            for item in values:
                if isinstance(item, re.Pattern):
                    found.setdefault((item.pattern, item.flags), set()).add(f"{name}.{attr}")
    return found


def shared(evaluation: dict, judged: dict) -> list[str]:
    return [f"{sorted(where)} = {sorted(judged[key])}: {key[0]!r}"
            for key, where in evaluation.items() if key in judged]


def test_no_metric_pattern_is_a_copy_of_the_answering_codes() -> None:
    evaluation = patterns("store_assistant.evaluation")
    judged: dict = {}
    for package in JUDGED:
        for key, where in patterns(package).items():
            judged.setdefault(key, set()).update(where)
    assert len(evaluation) >= 10 and len(judged) >= 40  # the walk found the modules' patterns
    assert shared(evaluation, judged) == []


def test_a_copied_pattern_is_found(monkeypatch) -> None:
    from store_assistant.answering.guard import figures
    from store_assistant.evaluation import metrics

    monkeypatch.setattr(metrics, "_COPIED", figures.STOCK_PATTERN, raising=False)
    copies = shared(patterns("store_assistant.evaluation"), patterns("store_assistant.answering"))
    assert any("store_assistant.evaluation.metrics._COPIED" in line for line in copies), copies
