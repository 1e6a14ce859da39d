"""The house's shape: no import circles, and every import goes down the layers.

docs/architecture.md draws the same layers. A new module lands in a layer by its
package; a new package must be given a layer here (the test names it), so the
architecture is decided, not grown.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Engine packages (and top-level modules) by layer, lowest first. A module may import
#: its own layer's units and lower ones only. ``web`` sits on top of everything.
LAYERS: tuple[frozenset[str], ...] = tuple(frozenset(layer.split()) for layer in (
    "model clock",
    "spec fields",
    "rules",
    "compiler",
    "storage",
    "filters permissions",
    "access accounts records",
    "meta",
    "config describe",
    "runtime",
    "automation reporting intake demo",
    "cli",
    "web",
))
RANK = {unit: rank for rank, layer in enumerate(LAYERS) for unit in layer}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for top in ("engine", "web") for p in (ROOT / top).rglob("*.py")}


def _unit(module: str) -> str:
    """``engine.records.service`` -> ``records``; ``engine.model`` -> ``model``; web -> ``web``."""
    parts = module.split(".")
    if parts[0] == "web":
        return "web"
    return parts[1] if len(parts) > 1 else "engine"


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the project modules it imports, at any depth of the file (lazy imports and
    ``TYPE_CHECKING`` blocks included: they are dependencies too)."""

    def resolve(name: str) -> str | None:
        while name:
            if name in modules:
                return name
            name = name.rpartition(".")[0]
        return None

    edges: dict[str, set[str]] = {}
    for module, path in modules.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                names = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                         for a in node.names]
            for name in names:
                target = resolve(name)
                if target and target != module:
                    found.add(target)
        edges[module] = found
    return edges


def _circles(edges: dict[str, set[str]], modules: dict[str, Path]) -> list[list[str]]:
    """Strongly connected groups of more than one module, leaving out a package's
    ``__init__`` that only re-exports its own modules (not a circle of design)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            group = [m for m in group if modules[m].name != "__init__.py"]
            if len(group) > 1 and _still_a_circle(group, edges):
                groups.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return groups


def _still_a_circle(group: list[str], edges: dict[str, set[str]]) -> bool:
    """True when two modules of ``group`` reach each other without an ``__init__`` (a
    package importing its own modules to register them, while they import the package,
    is not a circle of design). Checked for every pair, so the answer never depends on
    which module the search starts from."""
    members = set(group)

    def reach(start: str) -> set[str]:
        seen, todo = {start}, [start]
        while todo:
            for w in edges[todo.pop()] & members:
                if w not in seen:
                    seen.add(w)
                    todo.append(w)
        return seen - {start}

    reached = {m: reach(m) for m in members}
    return any(a in reached[b] for a in members for b in reached[a])


@pytest.fixture(scope="module")
def graph():
    modules = _modules()
    return modules, _imports(modules)


def test_there_is_no_import_circle(graph):
    modules, edges = graph
    assert _circles(edges, modules) == []


def test_every_engine_package_has_a_layer(graph):
    modules, _ = graph
    units = {_unit(m) for m in modules} - {"engine"}
    assert sorted(units - set(RANK)) == [], "give each new package a layer in LAYERS"


def test_imports_go_down_the_layers(graph):
    modules, edges = graph
    upward = sorted(
        f"{source} imports {target}"
        for source, targets in edges.items() for target in targets
        if _unit(source) != "engine" and _unit(target) in RANK and _unit(source) in RANK
        and RANK[_unit(target)] > RANK[_unit(source)])
    assert upward == []


def test_the_circle_finder_finds_a_circle():
    modules = {"engine.a": Path("a.py"), "engine.b": Path("b.py"), "engine.c": Path("c.py")}
    edges = {"engine.a": {"engine.b"}, "engine.b": {"engine.a"}, "engine.c": {"engine.a"}}
    assert _circles(edges, modules) == [["engine.a", "engine.b"]]
