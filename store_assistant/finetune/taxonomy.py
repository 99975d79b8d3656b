"""The curated fine-tuning taxonomy: the seed Q&A that synthetic training data is grown from.

InstructLab-style leaves at finetune_data/taxonomy/{knowledge,skills}/<area>/<leaf>/qna.yaml, each
with at least 5 seed examples; a knowledge seed carries the excerpt its answer rests on, and its
leaf names the manuals and policies it draws on. Trade-off: like the golden cases, the loader walks
PyYAML's node tree and rejects unknown keys, which is stricter and longer than `safe_load`, but a
typo ('contxt:') fails with its file, line and fix instead of silently training on nothing, and
every problem in the tree comes back in one DataError.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml

from store_assistant.config import PROJECT_DIR
from store_assistant.errors import DataError
from store_assistant.errors import did_you_mean
from store_assistant.evaluation.golden import is_text, normalised, shown_path

TAXONOMY_DIR = PROJECT_DIR / "finetune_data" / "taxonomy"
KINDS = ("knowledge", "skills")
VERSION = 1
REQUIRED = ("version", "created_by", "task_description", "seed_examples")
KEYS = REQUIRED + ("document",)  # document: required for knowledge leaves, optional for skills
DOCUMENT_KEYS = ("sources",)
SEED_KEYS = ("context", "question", "answer")
MIN_SEEDS = 5  # InstructLab's minimum: fewer gives the generator too little variety to copy
MAX_ANSWER = 1200  # characters; a longer seed answer is several answers, and trains rambling


@dataclass(frozen=True)
class Seed:
    leaf: str  # "knowledge/policies/returns"
    context: str | None  # the excerpt the answer rests on (required in knowledge leaves)
    question: str
    answer: str
    file: str
    line: int


@dataclass(frozen=True)
class Leaf:
    path: str  # "knowledge/policies/returns", relative to the taxonomy root
    kind: Literal["knowledge", "skills"]
    task_description: str
    sources: tuple[str, ...]  # project-relative paths: "manuals/policies/returns.md"
    seeds: tuple[Seed, ...]

    @property
    def area(self) -> str:
        """'knowledge/products/headphones' -> 'products'."""
        return self.path.split("/")[1]


def load_taxonomy(root: Path = TAXONOMY_DIR) -> list[Leaf]:
    """Every leaf under root, in path order; one DataError listing every problem in the tree."""
    root = Path(root)
    paths = sorted(root.rglob("qna.yaml"))
    if not paths:
        raise DataError(f"No qna.yaml leaves under {shown_path(root)}. Add one at "
                        f"knowledge/<area>/<leaf>/qna.yaml (see finetune_data/README.md).")
    problems: list[str] = []
    leaves = [leaf for path in paths if (leaf := _read_leaf(root, path, problems)) is not None]
    first_seen: dict[str, Seed] = {}
    for seed in seeds(leaves):
        key = normalised(seed.question)
        if key in first_seen:
            first = first_seen[key]
            problems.append(f"{seed.file}:{seed.line}: duplicate question {seed.question!r:.70} "
                            f"(first at {first.file}:{first.line}); reword or remove one of them")
        else:
            first_seen[key] = seed
    if problems:
        raise DataError(f"{len(problems)} problem(s) in the fine-tuning taxonomy; nothing was "
                        f"loaded:\n  " + "\n  ".join(problems))
    return leaves


def seeds(leaves: list[Leaf]) -> list[Seed]:
    return [seed for leaf in leaves for seed in leaf.seeds]


# --- one leaf --------------------------------------------------------------------------------

def _read_leaf(root: Path, path: Path, problems: list[str]) -> Leaf | None:
    """The leaf, or None after adding every problem it has to `problems`."""
    shown, before = shown_path(path), len(problems)
    parts = path.relative_to(root).parts
    if len(parts) < 4 or parts[0] not in KINDS:
        problems.append(f"{shown}:1: a leaf must sit at knowledge/<area>/<leaf>/qna.yaml or "
                        f"skills/<area>/<leaf>/qna.yaml under {shown_path(root)}; move it there")
        return None
    node, data = _parse(path, shown, problems)
    if not isinstance(node, yaml.MappingNode) or not isinstance(data, dict):
        if len(problems) == before:  # empty, or a list or text instead of a mapping
            problems.append(f"{shown}:1: a qna.yaml must be a mapping that starts with "
                            f"'version: 1'")
        return None
    kind, leaf = parts[0], "/".join(parts[:-1])

    def bad(line: int, why: str) -> None:
        problems.append(f"{shown}:{line}: {why}")

    lines = _check_keys(node, data, KEYS, REQUIRED, "", bad)
    if "version" in data and data["version"] != VERSION:
        bad(lines["version"], f"version must be {VERSION}, not {data['version']!r}")
    for key in ("created_by", "task_description"):
        if key in data and not is_text(data[key]):
            bad(lines[key], f"{key} must be non-empty text")
    sources = _sources(kind, node, data, lines, bad)
    found = _seeds(kind, leaf, shown, node, data, lines, bad)
    if len(problems) > before:
        return None
    return Leaf(leaf, kind, data["task_description"].strip(), sources, found)


def _sources(kind: str, node: yaml.MappingNode, data: dict, lines: dict, bad) -> tuple[str, ...]:
    document = data.get("document")
    if document is None:
        if kind == "knowledge":
            bad(1, "knowledge leaves need 'document: {sources: [...]}' naming the manuals, "
                   "policies or manuals/inventory.csv the answers draw on")
        return ()
    if not isinstance(document, dict):
        bad(lines["document"], "document must be a mapping: 'document: {sources: [...]}'")
        return ()
    doc_lines = _check_keys(_child(node, "document"), document, DOCUMENT_KEYS, DOCUMENT_KEYS,
                            "document ", bad)
    sources = document.get("sources")
    if "sources" in document and not (isinstance(sources, list) and sources
                                      and all(is_text(s) for s in sources)):
        bad(doc_lines["sources"], "document.sources must be a non-empty list of paths relative "
                                  "to the project, e.g. [manuals/policies/returns.md]")
        return ()
    for source in sources or ():
        if Path(source).is_absolute() or ".." in Path(source).parts \
                or not (PROJECT_DIR / source).is_file():
            bad(doc_lines["sources"], f"source {source!r} does not exist; paths are relative to "
                                      f"the project, e.g. manuals/products/sony-wh-1000xm5.md")
    return tuple(sources or ())


def _seeds(kind: str, leaf: str, shown: str, node: yaml.MappingNode, data: dict, lines: dict,
           bad) -> tuple[Seed, ...]:
    raw = data.get("seed_examples")
    if "seed_examples" not in data:
        return ()
    if not isinstance(raw, list):
        bad(lines["seed_examples"], "seed_examples must be a list of '- question: ...' items")
        return ()
    if len(raw) < MIN_SEEDS:
        bad(lines["seed_examples"], f"{len(raw)} seed example(s); a leaf needs at least "
                                    f"{MIN_SEEDS}: add {MIN_SEEDS - len(raw)} more")
    found = []
    for item, item_node in zip(raw, _child(node, "seed_examples").value):
        line = item_node.start_mark.line + 1
        if not isinstance(item, dict):
            bad(line, "a seed example must be a mapping with question: and answer:")
            continue
        required = SEED_KEYS if kind == "knowledge" else ("question", "answer")
        seed_lines = _check_keys(item_node, item, SEED_KEYS, required, "seed ", bad)
        for key in SEED_KEYS:
            if key in item and not is_text(item[key]):
                bad(seed_lines[key], f"{key} must be non-empty text"
                    + (" (the excerpt the answer rests on)" if key == "context" else ""))
        answer = item.get("answer")
        if isinstance(answer, str) and len(answer.strip()) > MAX_ANSWER:
            bad(seed_lines["answer"], f"answer is {len(answer.strip())} characters; keep it to "
                                      f"{MAX_ANSWER} or split it into two seeds")
        if all(is_text(item.get(key)) for key in ("question", "answer")):
            context = item.get("context")
            found.append(Seed(leaf, context.strip() if is_text(context) else None,
                              item["question"].strip(), item["answer"].strip(), shown, line))
    return tuple(found)


# --- YAML with line numbers ------------------------------------------------------------------

def _parse(path: Path, shown: str, problems: list[str]) -> tuple[yaml.Node | None, object]:
    """(root node, data); (None, None) after adding the problem when it is not valid YAML."""
    try:
        loader = yaml.SafeLoader(path.read_text(encoding="utf-8"))
        try:
            root = loader.get_single_node()
            return root, loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        why = getattr(exc, "problem", None) or exc
        problems.append(f"{shown}:{mark.line + 1 if mark else 1}: not valid YAML: {why} (check "
                        f"the indentation, and quote text that contains ': ' or starts with a "
                        f"special character)")
        return None, None


def _child(node: yaml.MappingNode, key: str) -> yaml.Node:
    """The value node of key; the last one when repeated, as PyYAML's data keeps the last."""
    return [value for k, value in node.value if k.value == key][-1]


def _check_keys(node: yaml.MappingNode, data: dict, valid: tuple, required: tuple, what: str,
                bad) -> dict[str, int]:
    """{key: line}, after reporting unknown, repeated and missing keys of one mapping."""
    start, lines = node.start_mark.line + 1, {}
    for key_node, _ in node.value:
        key, line = str(key_node.value), key_node.start_mark.line + 1
        if key in lines:  # PyYAML keeps the last silently: a seed with two questions loses one
            bad(line, f"{what}key {key!r} repeated (first at line {lines[key]}); keep one")
        elif key not in valid:
            bad(line, f"unknown {what}key {key!r}.{did_you_mean(key, valid)} "
                      f"Valid: {', '.join(valid)}")
        lines.setdefault(key, line)
    for key in required:
        if key not in data:
            bad(start, f"missing required {what}key {key!r}")
    return lines
