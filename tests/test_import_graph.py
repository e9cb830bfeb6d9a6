"""The package's import graph: no cycles, and the library (``elm_snn.train``) never imports
the command line (``elm_snn.cli``).

Imports are read with :mod:`ast` from every module of ``elm_snn/``, at any level (function
bodies included: an import inside a function hides a cycle from Python, not from the
design). ``from package import name`` counts as importing ``package.name`` when that is a
submodule, else as importing ``package``; relative imports are resolved. A module is not
counted as importing the packages above it (Python runs their ``__init__`` first, but that
is not a dependency the module chose).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = "elm_snn"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE


def _module_names() -> dict[str, Path]:
    """``{dotted module name: file}`` of every module of the package."""
    names = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


MODULES = _module_names()


def _resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute name of ``from <level dots><target> import ...`` inside ``module``."""
    if level == 0:
        return target or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def _imports_of(module: str, path: Path) -> Iterator[tuple[str, int]]:
    """``(imported elm_snn module, line)`` of every import statement of ``module``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, is_package, node.level, node.module)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                yield (sub if sub in MODULES else base), node.lineno


def _graph() -> dict[str, dict[str, int]]:
    """``{module: {imported module: first line}}`` within the package."""
    graph: dict[str, dict[str, int]] = {}
    for module, path in MODULES.items():
        edges = graph.setdefault(module, {})
        for name, line in _imports_of(module, path):
            # "import elm_snn.a.b" names a module; keep the deepest part that is one
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name and name != module and name.split(".")[0] == PACKAGE:
                edges.setdefault(name, line)
    return graph


def _components(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module: each module of one
    reaches every other through imports (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(graph[start]))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
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
                        components.append(component)
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(graph.get(child, {}))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return components


def _cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """One cycle (``[a, b, ..., a]``) per strongly connected component."""
    return [_one_cycle(graph, set(c)) for c in _components(graph)]


def _one_cycle(graph: dict[str, dict[str, int]], members: set[str]) -> list[str]:
    """A shortest cycle through the first member (by name) of a strongly connected set."""
    start = min(members)
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in graph[node]:
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if child in members and child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    raise AssertionError(f"no cycle through {start}")  # pragma: no cover


def _describe(graph: dict[str, dict[str, int]], cycle: list[str]) -> str:
    steps = [f"{a} (line {graph[a][b]}) -> {b}" for a, b in zip(cycle, cycle[1:], strict=False)]
    return "\n    ".join(steps)


def test_the_walk_sees_function_level_and_relative_imports() -> None:
    graph = _graph()
    assert len(graph) > 50
    # function-level: the command imports the engine inside run_from_args
    assert "elm_snn.train.engine" in graph["elm_snn.cli.train"]
    # relative, from a package __init__: "from .networks import EISNN, ..."
    assert "elm_snn.networks" in graph["elm_snn"]
    # "from package import submodule" names the submodule
    assert "elm_snn.cli.app" in graph["elm_snn.cli"]


def test_cycle_finder_finds_a_planted_cycle() -> None:
    graph = {"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3, "d": 4}, "d": {}}
    assert _cycles(graph) == [["a", "b", "c", "a"]]
    assert _cycles({"a": {"b": 1}, "b": {}}) == []


def test_no_import_cycles() -> None:
    graph = _graph()
    components = list(_components(graph))
    message = "\n".join(
        f"import cycle among {sorted(c)}, e.g.:\n    " + _describe(graph, _one_cycle(graph, set(c)))
        for c in components
    )
    assert not components, message


def _imports_of_the_command_line(prefix: str) -> list[str]:
    """``"<module> (line <n>) imports <cli module>"`` for the modules under ``prefix``
    (``elm_snn.cli`` itself excepted) that import the command line."""
    return [
        f"{module} (line {line}) imports {name}"
        for module, edges in _graph().items()
        if (module == prefix or module.startswith(prefix + "."))
        and not module.startswith("elm_snn.cli")
        for name, line in edges.items()
        if name == "elm_snn.cli" or name.startswith("elm_snn.cli.")
    ]


def test_train_never_imports_the_command_line() -> None:
    offending = _imports_of_the_command_line("elm_snn.train")
    assert not offending, "\n".join(offending)


def test_no_library_module_imports_the_command_line() -> None:
    """The commands sit on top: the data makers, tasks and everything else are libraries."""
    offending = _imports_of_the_command_line("elm_snn")
    assert not offending, "\n".join(offending)
