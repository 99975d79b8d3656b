"""The policies' arithmetic as data: `rules.yaml` beside the policy files, read and validated.

Every `cite` in it must be in its policy file word for word, so the figures the assistant computes
from (answering/policy_rules.py) cannot drift from the text staff are shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from store_assistant.errors import DataError

RULES_FILE = "rules.yaml"


@dataclass(frozen=True)
class Rules:
    """The validated rules file and the policy files it cites (their text and titles)."""
    data: dict
    texts: dict[str, str]  # source file name -> its markdown
    titles: dict[str, str]  # source file name -> the policy's title ("Returns and Exchanges")

    def __getitem__(self, name: str) -> dict:
        return self.data[name]


def load(folder: Path) -> Rules | None:
    """The validated rules of the policies in `folder`, None when it has no rules file."""
    path = folder / RULES_FILE
    if not path.is_file():
        return None
    stamps = tuple(p.stat().st_mtime_ns for p in sorted(folder.glob("*.md")))
    return _load(path, path.stat().st_mtime_ns, stamps)


@lru_cache(maxsize=4)
def _load(path: Path, *_stamps) -> Rules:
    try:
        rules = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise DataError(f"{path} is not readable YAML: {exc}") from exc
    if not isinstance(rules, dict):
        raise DataError(f"{path} must be a mapping of rules (return_window, restocking_fee, ...).")
    texts, titles = {}, {}
    for name, fields in _REQUIRED.items():
        rule = rules.get(name)
        if not isinstance(rule, dict):
            raise DataError(f"{path}: the rule {name!r} is missing or not a mapping.")
        for field in fields:
            if field not in rule:
                raise DataError(f"{path}: {name}.{field} is missing.")
        source = path.parent / str(rule["source"])
        if not source.is_file():
            raise DataError(f"{path}: {name}.source {rule['source']!r} is not a file beside it.")
        texts[rule["source"]] = text = source.read_text(encoding="utf-8")
        title = re.search(r"^title:\s*(.+)$|^# (.+)$", text, re.MULTILINE)
        titles[rule["source"]] = (title.group(1) or title.group(2)).strip() if title else source.stem
    for band in rules["plan_prices"]["bands"]:
        if not isinstance(band.get("prices"), dict) or not isinstance(band.get("from"), (int, float)):
            raise DataError(f"{path}: every plan_prices band needs a numeric 'from' and 'prices'.")
    for kind in rules["restocking_fee"]["types"]:
        if sum(k in kind for k in ("percent", "flat", "none")) != 1:
            raise DataError(f"{path}: restocking type {kind.get('name')!r} needs exactly one of "
                            f"percent, flat or none.")
    for source, cite in cites(rules):
        if " ".join(cite.split()) not in " ".join(texts[source].split()):
            raise DataError(f"{path}: this cite is not in {source} word for word: {cite!r}. "
                            f"Copy the sentence from the policy (the figures must match it).")
    return Rules(rules, texts, titles)


_REQUIRED = {"return_window": ("source", "standard", "member", "holiday"),
             "restocking_fee": ("source", "types", "exempt"),
             "cash_refund": ("source", "limit", "check_days", "cite"),
             "plan_prices": ("source", "bands", "cite_band")}


def cites(rules: dict) -> list[tuple[str, str]]:
    """Every (source file, cited sentence) the rules quote: the drift test checks each."""
    found = []

    def walk(node, source):
        if isinstance(node, dict):
            source = node.get("source", source)
            for key, value in node.items():
                if str(key).startswith("cite") and isinstance(value, str):
                    found.append((source, value))
                else:
                    walk(value, source)
        elif isinstance(node, list):
            for item in node:
                walk(item, source)
    walk(rules, None)
    return found
