"""The import graph of the packages, read from the source (every import statement, lazy and
type-only ones too): no module imports itself round a circle, and nothing imports upward.

    engine  <-  generators  <-  daemon  <-  benchmarks  <-  backbeat (the command line)
    tui     ->  only the daemon's wire modules (protocol, envelope, framing, address)

The engine process also stays free of trio and pydantic (engine/__init__.py says why).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {
    "engine": "backbeat.engine", "generators": "backbeat.generators", "daemon": "backbeat.daemon",
    "tui": "backbeat.tui", "benchmarks": "backbeat.benchmarks", "backbeat": "backbeat",
}
"""Source folder -> the package it installs as (pyproject.toml's package-dir)."""
LAYERS = ("backbeat.engine", "backbeat.generators", "backbeat.daemon", "backbeat.benchmarks", "backbeat")
"""Bottom up: a module may import its own layer and the ones below it."""
WIRE = frozenset({"backbeat.daemon.protocol", "backbeat.daemon.envelope", "backbeat.daemon.framing", "backbeat.daemon.address"})
"""All the TUI may import of the daemon (no trio)."""
ENGINE_NEVER = ("trio", "pydantic", "pydantic_core", "pydantic_settings")


def modules() -> dict[str, Path]:
    found = {}
    for folder, package in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([package, *parts])] = path
    return found


MODULES = modules()


def imported(name: str) -> set[str]:
    """Every name ``name``'s source imports (absolute; ``from x import y`` as x.y when that is a module)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*up, *([node.module] if node.module else [])])
            out.add(base)
            out |= {f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES}
    return out


def internal(name: str) -> set[str]:
    """The project's modules ``name`` imports (a package's name stands for its ``__init__``)."""
    deps = set()
    for target in imported(name):
        while target and target not in MODULES:
            target = target.rpartition(".")[0]
        if target and target != name and target.startswith("backbeat"):
            deps.add(target)
    return deps


GRAPH = {name: internal(name) for name in MODULES}


def layer(name: str) -> str:
    if name.startswith("backbeat.tui"):
        return "backbeat.tui"
    return max((p for p in LAYERS if name == p or name.startswith(p + ".")), key=len)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_graph_sees_the_whole_project():
    assert {"backbeat.daemon.song", "backbeat.generators.pipeline", "backbeat.engine.rt", "backbeat.tui.app", "backbeat.cli"} <= set(MODULES)
    assert "backbeat.generators.pipeline" in GRAPH["backbeat.generators.live"]
    assert "backbeat.daemon.framing" in GRAPH["backbeat.tui.client"]


def test_no_import_cycles():
    assert cycles(GRAPH) == []


def test_the_command_lines_copy_of_the_parts_is_the_songs():
    """The one list the CLI keeps of its own (its thin clients must not load the composer)."""
    from backbeat.commands.options import PARTS
    from backbeat.generators.model import PARTS as SONG_PARTS

    assert PARTS == SONG_PARTS


def test_the_cycle_finder_finds_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def upward(importer: str, target: str) -> bool:
    """Whether ``importer`` importing ``target`` runs against the layers (only the CLI starts the TUI)."""
    if layer(target) == "backbeat.tui":
        return layer(importer) not in ("backbeat", "backbeat.tui")
    return LAYERS.index(layer(target)) > LAYERS.index(layer(importer))


@pytest.mark.parametrize("name", sorted(n for n in MODULES if not n.startswith("backbeat.tui")))
def test_nothing_imports_upward(name):
    assert sorted(d for d in GRAPH[name] if upward(name, d)) == [], f"{name} imports from a layer above its own"


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n.startswith("backbeat.tui")))
def test_the_tui_imports_only_the_wire(name):
    outside = sorted(d for d in GRAPH[name] if layer(d) != "backbeat.tui" and d not in WIRE)
    assert outside == [], f"{name} imports more of the daemon than its wire modules"


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n.startswith("backbeat.engine")))
def test_the_engine_imports_no_trio_or_pydantic(name):
    assert not {m for m in imported(name) if m.split(".")[0] in ENGINE_NEVER}
