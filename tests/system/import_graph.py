"""The package's import graph, read from the source (imports inside functions included).

    python -m tests.system.import_graph          # rooms, arrows between them, upward imports, cycles

A room is a folder of `store_assistant/` (a top-level module is in the room "base"). The layers
say which way arrows may point: a room imports only rooms below it. `tests/system/test_architecture.py`
fails on an upward import, a cycle between modules, or a second importer of an outside library.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

PACKAGE = "store_assistant"
ROOT = Path(__file__).resolve().parents[2]
# Lower number = lower layer. A room may import its own layer's room only if it is itself.
LAYERS = {"base": 0, "store": 1, "inference": 1, "answering": 2, "analytics": 2, "evaluation": 3,
          "finetune": 4,
          "web": 5, "cli": 5}


def modules(root: Path = ROOT) -> dict[str, Path]:
    """{'store_assistant.store.inventory': path} for every module of the package."""
    found = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imports(path: Path) -> list[tuple[str, int]]:
    """Every module name `path` imports, with its line: top level, in functions, under TYPE_CHECKING."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, node.lineno))
            found += [(f"{node.module}.{alias.name}", node.lineno) for alias in node.names]
    return found


def room(module: str) -> str:
    """'store_assistant.store.inventory' -> 'store'; 'store_assistant.config' -> 'base'."""
    parts = module.split(".")
    if len(parts) == 1:
        return "base"
    if parts[1] == "cli":
        return "cli"
    return parts[1] if len(parts) > 2 or parts[1] in LAYERS else "base"


def graph(root: Path = ROOT) -> dict[str, set[str]]:
    """{module: {internal modules it imports}} (a `from pkg import name` counts for pkg.name if
    that is a module, else for pkg)."""
    known = modules(root)
    edges: dict[str, set[str]] = defaultdict(set)
    for module, path in known.items():
        edges[module]
        for name, _ in imports(path):
            if name in known and name != module:
                edges[module].add(name)
    # `from a.b import c` also adds a.b; drop the package when the submodule was meant.
    return {m: {t for t in targets if not any(o.startswith(t + ".") for o in targets)}
            for m, targets in edges.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on.add(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10000)
    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def upward(edges: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Imports from a room to a room in a higher layer, or sideways to a peer room."""
    bad = []
    for source, targets in edges.items():
        for target in targets:
            a, b = room(source), room(target)
            if a != b and LAYERS.get(a, 0) <= LAYERS.get(b, 0):
                bad.append((source, target))
    return sorted(bad)


def importers(library: str, root: Path = ROOT) -> dict[str, list[int]]:
    """{module: [lines]} of every package module that imports `library` (or a part of it)."""
    found: dict[str, list[int]] = {}
    for module, path in modules(root).items():
        lines = [line for name, line in imports(path)
                 if name == library or name.startswith(library + ".")]
        if lines:
            found[module] = sorted(set(lines))
    return found


def report(root: Path = ROOT) -> str:
    edges = graph(root)
    arrows: dict[tuple[str, str], int] = defaultdict(int)
    for source, targets in edges.items():
        for target in targets:
            if room(source) != room(target):
                arrows[(room(source), room(target))] += 1
    rooms = defaultdict(list)
    for module in edges:
        rooms[room(module)].append(module.removeprefix(PACKAGE + "."))
    lines = ["rooms:"]
    lines += [f"  {name} ({len(mods)}): {', '.join(sorted(mods))}" for name, mods in sorted(rooms.items())]
    lines.append("arrows between rooms (module imports):")
    lines += [f"  {a} -> {b}: {n}" for (a, b), n in sorted(arrows.items())]
    bad = upward(edges)
    lines.append(f"upward or sideways imports: {len(bad)}")
    lines += [f"  {a} -> {b}" for a, b in bad]
    found = cycles(edges)
    lines.append(f"cycles: {len(found)}")
    lines += [f"  {' <-> '.join(c)}" for c in found]
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT))
