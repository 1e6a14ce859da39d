"""The record service's modules import one way: no circle inside ``engine.records``."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "engine" / "records"


def _imports(path: Path) -> set[str]:
    """The ``engine.records`` modules ``path`` imports (under TYPE_CHECKING too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "engine.records":
                found.update(f"engine.records.{a.name}" for a in node.names)
            elif node.module.startswith("engine.records."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("engine.records."))
    return found


def _graph() -> dict[str, set[str]]:
    modules = {f"engine.records.{p.stem}": p for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    return {name: _imports(path) & set(modules) for name, path in modules.items()}


def _circle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    trail: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        trail.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return trail[trail.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        trail.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_record_modules_import_without_a_circle():
    assert _circle(_graph()) is None


def test_bulk_and_cascade_do_not_reach_back_into_the_service():
    graph = _graph()
    for module in ("engine.records.bulk", "engine.records.cascade", "engine.records.unit",
                   "engine.records.reads", "engine.records.core"):
        assert "engine.records.service" not in graph[module], module


def test_the_circle_finder_finds_a_circle():
    assert _circle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
