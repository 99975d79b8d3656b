"""The tree is the architecture: imports point down, no cycles, one importer per outside library.

Read from the source with `tests/system/import_graph.py` (imports inside functions count: a cycle
hidden in a function is still a cycle). Each check also runs on a small package written here
with the fault in it, so it is shown able to fail.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.system import import_graph as g

# Outside library -> the only modules (or, with a trailing ".", rooms) that may import it.
OWNERS = {
    "litellm": {"store_assistant.inference.gateway"},
    "llama_cpp": {"store_assistant.inference.local"},
    "qdrant_client": {"store_assistant.store.knowledge."},
    "llama_index": {"store_assistant.store.knowledge."},
    "ragas": {"store_assistant.evaluation.judge"},
    "transformers": {"store_assistant.finetune.train"},
    "peft": {"store_assistant.finetune.train"},
    # The sales database: written by its generator, read only through the read-only runner; the
    # evaluation runs its gold SQL on a connection of its own, not through the guard it judges.
    "sqlite3": {"store_assistant.store.", "store_assistant.analytics.sales",
                "store_assistant.analytics.readonly", "store_assistant.evaluation.analytics"},
    # Builds SQL from the semantic layer; parses SQL to refuse anything but one SELECT.
    "sqlglot": {"store_assistant.analytics.layer", "store_assistant.analytics.readonly"},
    "streamlit": {"store_assistant.web."},
    "pandas": {"store_assistant.web.", "store_assistant.evaluation."},
}
# What the evaluation may use of answering: the registry, to run arms; never the code it judges.
EVALUATION_MAY_IMPORT = {"store_assistant.answering.strategies"}


def owned(module: str, owners: set[str]) -> bool:
    return any(module == o or (o.endswith(".") and module.startswith(o)) for o in owners)


def test_imports_point_down_only():
    assert g.upward(g.graph()) == []


def test_no_cycles_between_modules():
    assert g.cycles(g.graph()) == []


@pytest.mark.parametrize("library", sorted(OWNERS))
def test_each_outside_library_has_one_importer(library):
    strays = {m: lines for m, lines in g.importers(library).items()
              if not owned(m, OWNERS[library])}
    assert strays == {}, f"{library} imported outside {sorted(OWNERS[library])}"


def test_evaluation_scores_without_the_answering_internals():
    edges = g.graph()
    reached = {(source, target) for source, targets in edges.items() for target in targets
               if source.startswith("store_assistant.evaluation")
               and target.startswith("store_assistant.answering")
               and target not in EVALUATION_MAY_IMPORT}
    assert reached == set()


def test_every_room_is_a_known_layer():
    assert {g.room(m) for m in g.graph()} <= set(g.LAYERS)


# --- the checks can fail ------------------------------------------------------------------

def _package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "store_assistant" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_an_upward_import_is_caught(tmp_path):
    root = _package(tmp_path, {
        "__init__.py": "", "config.py": "",
        "store/__init__.py": "", "store/inventory.py": "def f():\n    from store_assistant.web import ui\n",
        "web/__init__.py": "", "web/ui.py": "from store_assistant.store import inventory\n"})
    edges = g.graph(root)
    assert ("store_assistant.store.inventory", "store_assistant.web.ui") in g.upward(edges)
    assert g.cycles(edges) == [["store_assistant.store.inventory", "store_assistant.web.ui"]]


def test_a_sideways_import_and_a_cycle_in_a_room_are_caught(tmp_path):
    root = _package(tmp_path, {
        "__init__.py": "",
        "store/__init__.py": "", "store/a.py": "from store_assistant.inference import b\n",
        "inference/__init__.py": "", "inference/b.py": "import store_assistant.inference.c\n",
        "inference/c.py": "from store_assistant.inference.b import x\n"})
    edges = g.graph(root)
    assert g.upward(edges) == [("store_assistant.store.a", "store_assistant.inference.b")]
    assert g.cycles(edges) == [["store_assistant.inference.b", "store_assistant.inference.c"]]


def test_a_second_importer_is_caught(tmp_path):
    root = _package(tmp_path, {"__init__.py": "", "web/__init__.py": "",
                               "web/ui.py": "def f():\n    import litellm.types\n"})
    assert g.importers("litellm", root) == {"store_assistant.web.ui": [2]}


# The rooms whose files must stay readable top to bottom (issue: evidence-first answers).
SIZED = ("answering", "store")
MAX_LINES = 400


def too_long(root: Path, rooms: tuple[str, ...] = SIZED, limit: int = MAX_LINES) -> list[str]:
    return [f"{path.relative_to(root)}: {n} lines" for room in rooms
            for path in sorted((root / room).rglob("*.py"))
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > limit]


def test_no_module_of_answering_or_store_is_over_400_lines() -> None:
    root = Path(__file__).resolve().parents[2] / "store_assistant"
    assert sorted(p.name for p in (root / "answering").glob("*.py"))  # the walk sees the files
    assert too_long(root) == []


def test_a_long_module_is_found(tmp_path: Path) -> None:
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "big.py").write_text("x = 1\n" * 401)
    (tmp_path / "store" / "small.py").write_text("x = 1\n" * 400)
    assert too_long(tmp_path, ("store",)) == ["store/big.py: 401 lines"]
