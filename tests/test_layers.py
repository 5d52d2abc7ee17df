"""The layers: each package imports only the layers below it, and no module
imports itself back through others (CONTRIBUTING.md "Where things go").

    base        presencectl (version), errors, status
    core        pure code over data; core.protocols: every I/O-free parser
    transports  thin I/O adapters over core
    ui          what is drawn (console, tables, timelines) from core data
    engine      the frame path, live session, replay, capture tools
    cli         Typer: the app, its commands and option groups
    entry       __main__

Every import counts, also the ones inside functions and under TYPE_CHECKING:
a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "presencectl"

BASE = {"presencectl", "presencectl.errors", "presencectl.status"}
ALLOWED = {
    "base": {"base"},
    "core": {"base", "core"},
    "transports": {"base", "core", "transports"},
    "ui": {"base", "core", "ui"},
    "engine": {"base", "core", "transports", "ui", "engine"},
    "cli": {"base", "core", "transports", "ui", "engine", "cli"},
    "entry": {"base", "core", "transports", "ui", "engine", "cli", "entry"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer(module: str) -> str:
    if module in BASE:
        return "base"
    if module == "presencectl.__main__":
        return "entry"
    second = module.split(".")[1]
    if second not in ALLOWED:
        raise AssertionError(f"{module} is in no layer: put it in one of the packages ({', '.join(ALLOWED)})")
    return second


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(path: Path, module: str, top_level_only: bool = False) -> set[str]:
    """presencectl modules that ``path`` imports (resolved to modules, not names)."""
    tree = ast.parse(path.read_text(), str(path))
    known = modules()
    nodes = tree.body if top_level_only else ast.walk(tree)
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in nodes:
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            # `from pkg import mod` imports the module pkg.mod when it exists
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for name in names:
            if name.split(".")[0] != "presencectl":
                continue
            while name not in known and "." in name:
                name = name.rpartition(".")[0]
            if name != module:
                found.add(name)
    return found


def test_every_module_is_in_a_layer():
    for name in modules():
        layer(name)


@pytest.mark.parametrize("name", sorted(modules()))
def test_imports_only_layers_below(name):
    path = modules()[name]
    mine = layer(name)
    wrong = sorted(f"{other} ({layer(other)})" for other in imports(path, name) if layer(other) not in ALLOWED[mine])
    assert not wrong, f"{name} ({mine}) may import only {sorted(ALLOWED[mine])}, but imports: {', '.join(wrong)}"


def test_no_import_cycle_at_module_level():
    """Module-scope imports form no cycle (a cycle makes import order matter)."""
    graph = {name: imports(path, name, top_level_only=True) for name, path in modules().items()}
    # a package's __init__ is imported by its submodules implicitly; that edge is not a cycle
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt) :] + [nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)


def test_the_check_catches_an_upward_import(tmp_path):
    """The scanner sees lazy imports too: a core module importing the engine inside a function."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from presencectl.engine.runner import Pipeline\n    return Pipeline\n")
    assert imports(bad, "presencectl.core.bad") == {"presencectl.engine.runner"}
    assert layer("presencectl.engine.runner") not in ALLOWED["core"]


def _third_party(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("name", sorted(n for n in modules() if layer(n) not in ("cli", "entry")))
def test_only_the_cli_knows_typer(name):
    """Flags are the CLI's business: below it, nothing imports Typer or Click."""
    assert not _third_party(modules()[name]) & {"typer", "click"}
