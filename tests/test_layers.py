"""The house's layering, read from the source with `ast` (nothing is imported): no import cycle between
the project's modules, and imports point down only.

    wsgi.py, bench/          entry points: may import anything
    app/                     the composition root: may import every layer below
    callbacks/, layouts/     Dash pages (one layer: a page's callbacks read its layout's ids)
    tasks/                   Celery tasks
    data_access/             SQL, the cache, the write path
    analytics/               pure computation

Below `app/`, the only part of it anyone may import is its settings module, `app.config`.

Every import counts, also one inside a function: a deferred import that closes a loop is still a loop
(it only moves the failure from import time to a first call). Imports under ``if TYPE_CHECKING:`` are
for type checkers only and are left out.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("analytics", "app", "bench", "callbacks", "data_access", "layouts", "tasks")
ENTRY_SCRIPTS = ("wsgi.py",)
RANK = {"analytics": 0, "data_access": 1, "tasks": 2, "callbacks": 3, "layouts": 3, "app": 4, "bench": 5, "wsgi": 5}
SETTINGS_MODULE = "app.config"


def module_files() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the project outside tests/ and migrations/."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    for script in ENTRY_SCRIPTS:
        modules[script.removesuffix(".py")] = ROOT / script
    return modules


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(inner) for statement in node.body for inner in ast.walk(statement))
    return skipped


def _project_module(name: str, modules: dict[str, Path]) -> str | None:
    """The longest prefix of ``name`` that is a project module (None outside the project)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> dict[str, int]:
    """The project modules ``name`` imports, each with the line of its first import."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    skipped = _type_checking_nodes(tree)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: dict[str, int] = {}
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            # `from pkg import mod` imports the module pkg.mod; `from mod import name` the module mod
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        for target in targets:
            resolved = _project_module(target, modules)
            if resolved is not None and resolved != name:
                found.setdefault(resolved, node.lineno)
    return found


def import_graph() -> dict[str, dict[str, int]]:
    modules = module_files()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """One concrete loop (a -> b -> ... -> a) per strongly connected group of modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(start: str) -> None:  # Tarjan's algorithm, iterative
        work = [(start, iter(graph.get(start, ())))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph.get(child, ()))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(group)

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return [_loop_in(group, graph) for group in groups]


def _loop_in(group: set[str], graph: dict[str, dict[str, int]]) -> list[str]:
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:  # breadth first, inside the group, back to start
        following = []
        for node in frontier:
            for child in sorted(graph.get(node, ())):
                if child == start:
                    return paths[node] + [start]
                if child in group and child not in paths:
                    paths[child] = paths[node] + [child]
                    following.append(child)
        frontier = following
    raise AssertionError(f"no loop through {start} in {sorted(group)}")


def layer_of(module: str) -> str:
    return module.split(".")[0]


def upward_imports(graph: dict[str, dict[str, int]], files: dict[str, Path] | None = None) -> list[str]:
    """Every import that points up a layer, or into app/ from below it (other than app.config)."""
    files = module_files() if files is None else files
    problems = []
    for source, targets in sorted(graph.items()):
        for target, line in sorted(targets.items()):
            if target == SETTINGS_MODULE:
                continue
            if RANK[layer_of(target)] > RANK[layer_of(source)]:
                where = files[source].relative_to(ROOT) if source in files else source
                problems.append(f"{where}:{line}: {source} ({layer_of(source)}) imports {target} ({layer_of(target)})")
    return problems


def test_the_graph_sees_deferred_imports_and_the_layers():
    graph = import_graph()
    assert set(graph) >= {"app", "app.config", "analytics.backtest", "data_access.cache", "tasks", "wsgi"}
    assert set(RANK) >= {layer_of(name) for name in graph}, "a new top-level package needs a layer in RANK"
    assert "tasks.heartbeat" in graph["app.health"]  # an import inside a function counts
    assert "app.health" in graph["app.extensions"]


def test_no_import_cycle_between_project_modules():
    loops = cycles(import_graph())
    assert not loops, "import cycles (break each by moving what both sides need below them):\n" + "\n".join(
        " -> ".join(loop) for loop in loops)


def test_imports_point_down_the_layers_and_only_app_config_is_imported_from_below_app():
    problems = upward_imports(import_graph())
    assert not problems, "imports against the layers (the composition root imports the layers, not the other way):\n" \
        + "\n".join(problems)


def test_the_checks_catch_a_loop_and_an_upward_import():
    graph = {"tasks.a": {"tasks.b": 1}, "tasks.b": {"app.extensions": 3}, "app.extensions": {"tasks.a": 7},
             "data_access.x": {"app.config": 2}}
    assert cycles(graph) == [["app.extensions", "tasks.a", "tasks.b", "app.extensions"]]
    assert upward_imports(graph, files={}) == ["tasks.b:3: tasks.b (tasks) imports app.extensions (app)"]
