"""The documentation: the site builds strictly, its code runs, and the public API is documented.

* ``mkdocs build --strict`` (into ``tmp_path``) passes and produces the generated pages
  (API reference per public module, tutorials, dataset cards, benchmarks, CLI reference).
* Every ``python`` code block of the guide pages in ``docs/`` runs (blocks preceded by
  ``<!-- docs-test: skip ... -->`` are left out; they need downloads).
* Every public class and function (``__all__`` of ``elm_snn``, of its public subpackages and
  modules, and of their public submodules) has a docstring, and so has every public method
  or property those classes define; the main sequence layers document their ``(T, B, ...)``
  shapes.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import elm_snn
from tests.conftest import require_module

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCS = REPO_ROOT / "docs"
SKIP_MARK = "<!-- docs-test: skip"

#: Sequence layers whose docstrings must state time-major shapes "(T, B, ...)".
SEQUENCE_LAYERS = {
    "elm_snn.neurons": (
        "ELM",
        "BranchELM",
        "LIF",
        "ALIF",
        "LIFNeuron",
        "ALIFNeuron",
        "LinearLIF",
        "LinearALIF",
    ),
    "elm_snn.networks": ("LSTM", "ChronoLSTM", "EISNN"),
}


# ----------------------------------------------------------------------------- public API
def _public_modules() -> list[str]:
    """``elm_snn``, its public subpackages/modules and their public submodules."""
    names = ["elm_snn"]
    for info in pkgutil.iter_modules(elm_snn.__path__):
        if info.name.startswith("_"):
            continue
        qualified = f"elm_snn.{info.name}"
        names.append(qualified)
        if info.ispkg:
            module = importlib.import_module(qualified)
            names += [
                f"{qualified}.{sub.name}"
                for sub in pkgutil.iter_modules(module.__path__)
                if not sub.name.startswith("_")
            ]
    return names


PUBLIC_MODULES = _public_modules()


def _own_members(cls: type) -> list[tuple[str, object]]:
    """Public methods and properties that ``cls`` itself defines (not inherited)."""
    members = []
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        if isinstance(value, property) or inspect.isfunction(value):
            members.append((name, value))
    return members


def _is_namedtuple_field(cls: type, name: str) -> bool:
    return name in getattr(cls, "_fields", ())


def _inherits_doc(cls: type, name: str) -> bool:
    """An override of a documented base-class member (``forward``, Lightning hooks, ...)."""
    for base in cls.__mro__[1:]:
        value = vars(base).get(name)
        if value is not None and (getattr(value, "__doc__", None) or "").strip():
            return True
    return False


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_public_api_has_docstrings(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert (module.__doc__ or "").strip(), f"module {module_name} has no docstring"
    missing = []
    for name in getattr(module, "__all__", []):
        if name.startswith("__"):
            continue
        obj = getattr(module, name)
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue  # constants are documented in the module docstring / comments
        if not (obj.__doc__ or "").strip():
            missing.append(f"{module_name}.{name}")
        if inspect.isclass(obj) and obj.__module__.startswith("elm_snn"):
            for member, value in _own_members(obj):
                if _is_namedtuple_field(obj, member) or _inherits_doc(obj, member):
                    continue
                if not (getattr(value, "__doc__", None) or "").strip():
                    missing.append(f"{module_name}.{name}.{member}")
    assert not missing, f"public objects without a docstring: {sorted(set(missing))}"


def test_public_modules_define_all() -> None:
    """Every public module states its public names (``__all__``), so the docstring check and
    the API reference see them. (A package without ``__all__`` is covered through its
    submodules, which are checked one by one.)"""
    without = [
        m
        for m in PUBLIC_MODULES
        if not hasattr(importlib.import_module(m), "__path__")
        and not hasattr(importlib.import_module(m), "__all__")
    ]
    assert not without, f"public modules without __all__: {without}"


@pytest.mark.parametrize(
    ("module_name", "name"),
    [(m, n) for m, names in SEQUENCE_LAYERS.items() for n in names],
)
def test_sequence_layers_document_shapes(module_name: str, name: str) -> None:
    module = importlib.import_module(module_name)
    cls = getattr(module, name)
    # a subclass may defer to its documented parent ("see ELM"): read the whole elm_snn MRO
    own = [c for c in cls.__mro__ if c.__module__.startswith("elm_snn")]
    text = "".join(
        (c.__doc__ or "") + (getattr(vars(c).get("forward"), "__doc__", None) or "") for c in own
    )
    assert "(T, B" in text, f"{module_name}.{name}: docstring does not state the (T, B, ...) shape"
    assert "batch_first" in text, f"{module_name}.{name}: docstring does not mention batch_first"
    assert re.search(r"\bms\b", text), f"{module_name}.{name}: docstring gives no time unit (ms)"


def test_cells_document_shapes() -> None:
    for cls in (elm_snn.ELMCell, elm_snn.BranchELMCell):
        text = (cls.__doc__ or "") + (cls.__mro__[1].__doc__ or "")
        assert "(B, num_inputs)" in text, cls.__name__


# ----------------------------------------------------------------------------- guide code
def _python_blocks(path: Path) -> list[tuple[int, str]]:
    """``(line, code)`` of each fenced python block not marked to be skipped."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        if lines[i].strip() == "```python":
            skip = i > 0 and lines[i - 1].strip().startswith(SKIP_MARK)
            start = i + 1
            j = start
            while lines[j].strip() != "```":
                j += 1
            if not skip:
                blocks.append((start + 1, "\n".join(lines[start:j])))
            i = j
        i += 1
    return blocks


GUIDE_PAGES = sorted(p for p in DOCS.rglob("*.md") if _python_blocks(p))


def test_guide_pages_have_code() -> None:
    names = {p.relative_to(DOCS).as_posix() for p in GUIDE_PAGES}
    assert {"quickstart.md", "installation.md"} <= names, names


@pytest.mark.parametrize("page", GUIDE_PAGES, ids=[p.name for p in GUIDE_PAGES])
def test_guide_code_blocks_run(page: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for line, code in _python_blocks(page):
        try:
            exec(compile(code, f"{page.name}:{line}", "exec"), namespace)  # noqa: S102
        except Exception as err:  # pragma: no cover - the failure message is the point
            pytest.fail(f"{page.relative_to(REPO_ROOT)} block at line {line} failed: {err!r}")


# ----------------------------------------------------------------------------- site build
@pytest.fixture(scope="module")
def built_site(tmp_path_factory) -> Path:
    for name in ("mkdocs", "mkdocstrings", "mkdocs_jupyter", "material"):
        require_module(name)
    site = tmp_path_factory.mktemp("docs") / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-d", str(site)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**_clean_env(), "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, (
        f"mkdocs build --strict failed:\n{result.stdout[-4000:]}\n{result.stderr[-8000:]}"
    )
    return site


def _clean_env() -> dict[str, str]:
    import os

    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


@pytest.mark.slow
def test_site_builds_strict(built_site: Path) -> None:
    assert (built_site / "index.html").is_file()
    for page in ("quickstart", "concepts/elm", "concepts/notation", "cli", "api"):
        assert (built_site / page / "index.html").is_file(), page


@pytest.mark.slow
def test_site_has_generated_pages(built_site: Path) -> None:
    # API reference: one page per public module, with the main classes rendered
    neurons = (built_site / "api" / "neurons" / "index.html").read_text(encoding="utf-8")
    for name in ("ELMCell", "BranchELM", "reset"):
        assert 'id="elm_snn.neurons' in neurons and name in neurons, name
    # tutorials rendered by mkdocs-jupyter, one page per notebook
    for nb in sorted((REPO_ROOT / "tutorials").glob("*.ipynb")):
        html = built_site / "tutorials" / nb.stem / "index.html"
        assert html.is_file(), f"tutorial {nb.name} not rendered"
    # dataset cards and benchmark numbers are included, not copied
    for card in sorted((REPO_ROOT / "datasets").glob("*.md")):
        assert (built_site / "datasets" / card.stem / "index.html").is_file(), card.name
    how_to = (built_site / "benchmarks" / "index.html").read_text(encoding="utf-8")
    assert "It prints ratios" in how_to and 'href="table/"' in how_to  # not overwritten
    if (REPO_ROOT / "benchmarks" / "README.md").is_file():
        assert (built_site / "benchmarks" / "measured" / "index.html").is_file()
    assert (built_site / "benchmarks" / "table" / "index.html").is_file()  # make bench's table
    # the CLI reference is generated from the real parser
    cli = (built_site / "cli" / "index.html").read_text(encoding="utf-8")
    assert "elm-snn data" in cli and "usage:" in cli


# ----------------------------------------------------------------------------- CLI examples
def _cli_examples() -> list[tuple[str, str]]:
    """``(page, command)`` of every ``elm-snn ...`` line in the guide's bash blocks."""
    examples = []
    for page in sorted(DOCS.rglob("*.md")):
        in_bash = False
        for line in page.read_text(encoding="utf-8").splitlines():
            stripped = line.strip()
            if stripped.startswith("```"):
                in_bash = stripped == "```bash" and not in_bash
                continue
            if in_bash and stripped.startswith("elm-snn "):
                command = stripped.split("  #")[0].strip()
                examples.append((page.relative_to(DOCS).as_posix(), command))
    return examples


CLI_EXAMPLES = _cli_examples()


def test_cli_examples_found() -> None:
    assert any(page == "quickstart.md" for page, _ in CLI_EXAMPLES), CLI_EXAMPLES


@pytest.mark.parametrize(("page", "command"), CLI_EXAMPLES, ids=[c for _, c in CLI_EXAMPLES])
def test_cli_examples_parse(page: str, command: str) -> None:
    """Every documented ``elm-snn`` command line is accepted by the real parser."""
    import shlex

    from elm_snn.cli import build_parser

    argv = shlex.split(command)[1:]
    if "--help" in argv or "-h" in argv:  # help exits with status 0 by design
        with pytest.raises(SystemExit) as exc:
            build_parser().parse_args(argv)
        assert exc.value.code == 0, f"{page}: `{command}` exits with {exc.value.code}"
        return
    try:
        build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse reports errors by exiting
        pytest.fail(f"{page}: `{command}` is rejected by the parser (exit {exc.code})")
