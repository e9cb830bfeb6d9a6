"""MkDocs hook: pages generated at build time from files that live outside ``docs/``.

Nothing here is committed twice: the dataset cards (``datasets/*.md``), the benchmark
report (``benchmarks/README.md``), the summary table that ``make bench`` writes
(``benchmarks/TABLE.md``; a placeholder page until a full run's table is committed) and the
tutorial notebooks (``tutorials/*.ipynb``) are read from their own folders when the site is
built, and one API-reference page is written for every public subpackage/module of
``elm_snn`` from its ``__all__``.

* ``on_config`` adds the discovered pages to the navigation (under the sections
  "Datasets", "Tutorials", "Benchmarks" and "API reference" of ``mkdocs.yml``).
* ``on_files`` (run before mkdocs-jupyter's, which then renders the notebooks) adds the
  pages themselves.

Relative links inside included Markdown are rewritten: a link to another included file
points at its page, a link to any other file of the repository becomes an inline code span
naming the path (the site does not ship source files), so ``mkdocs build --strict`` stays
meaningful for the pages written in ``docs/``.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import pkgutil
import posixpath
import re
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

log = logging.getLogger("mkdocs.hooks.elm_snn_docs")

PACKAGE = "elm_snn"
#: Subpackages documented first, in this order; any other public one follows alphabetically.
API_ORDER = (
    "neurons",
    "functional",
    "networks",
    "kernels",
    "data",
    "synth",
    "metrics",
    "tasks",
    "train",
    "cli",
    "compat",
    "viz",
)
NAV_DATASETS = "Datasets"
NAV_TUTORIALS = "Tutorials"
NAV_BENCHMARKS = "Benchmarks"
NAV_API = "API reference"
#: the page of ``benchmarks/README.md`` (not ``benchmarks.md``: that and the hand-written
#: ``benchmarks/index.md`` would both be built into ``benchmarks/index.html``)
README_PAGE = "benchmarks/measured.md"
#: the page of ``benchmarks/TABLE.md``, always built (a placeholder without the file)
TABLE_PAGE = "benchmarks/table.md"
TABLE_PLACEHOLDER = (
    "# Benchmark summary (`make bench`)\n\n"
    "No full `make bench` run has been committed yet: `benchmarks/run.py` writes this table\n"
    "to `benchmarks/TABLE.md` at the end of every full run.\n"
)

_LINK = re.compile(r"(!?\[[^\]]*\])\(([^)\s]+)(\s+\"[^\"]*\")?\)")


def _repo_root(config: MkDocsConfig) -> Path:
    return Path(config.config_file_path).resolve().parent


def _dataset_cards(root: Path) -> list[Path]:
    folder = root / "datasets"
    return sorted(p for p in folder.glob("*.md") if p.is_file()) if folder.is_dir() else []


def _tutorials(root: Path) -> list[Path]:
    folder = root / "tutorials"
    return sorted(p for p in folder.glob("*.ipynb") if p.is_file()) if folder.is_dir() else []


def _title(markdown: str, fallback: str) -> str:
    for line in markdown.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return fallback


def _notebook_title(path: Path) -> str:
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            return _title(cell.source, path.stem)
    return path.stem


# ----------------------------------------------------------------------------- API pages
def _public_modules() -> list[str]:
    package = importlib.import_module(PACKAGE)
    names = [
        info.name
        for info in pkgutil.iter_modules(package.__path__)
        if not info.name.startswith("_")
    ]
    ordered = [n for n in API_ORDER if n in names]
    return ordered + sorted(n for n in names if n not in ordered)


def _defining_module(obj: Any, name: str, fallback: str) -> str | None:
    """Dotted path of the module that defines ``obj`` (inside elm_snn), else ``None``."""
    if inspect.isclass(obj) or inspect.isfunction(obj):
        module = getattr(obj, "__module__", "") or ""
        return module if module.split(".")[0] == PACKAGE else None
    # constants: the deepest loaded elm_snn module whose __all__ exports this very object
    import sys

    best = None
    for mod_name, mod in list(sys.modules.items()):
        if mod is None or not mod_name.startswith(fallback):
            continue
        if name in getattr(mod, "__all__", ()) and vars(mod).get(name) is obj:
            if best is None or mod_name.count(".") > best.count("."):
                best = mod_name
    return best


def _api_page(qualified: str, level: int = 1) -> tuple[str, list[tuple[str, str]]]:
    """Markdown for one public module and the ``(name, identifier)`` pairs it documents."""
    module = importlib.import_module(qualified)
    exported = list(getattr(module, "__all__", []))
    lines = [
        f"{'#' * level} `{qualified}`",
        "",
        f"::: {qualified}",
        "    options:",
        "      members: false",
        "      show_root_heading: false",
        "      show_root_toc_entry: false",
        "",
    ]
    documented: list[tuple[str, str]] = []
    if not hasattr(module, "__all__") and hasattr(module, "__path__"):
        # a package without __all__: document each public submodule's __all__ instead
        for info in pkgutil.iter_modules(module.__path__):
            if info.name.startswith("_"):
                continue
            sub_content, sub_documented = _api_page(f"{qualified}.{info.name}", level=2)
            lines += [sub_content, ""]
            documented += sub_documented
    for name in exported:
        if name.startswith("__"):
            continue
        obj = getattr(module, name)
        where = _defining_module(obj, name, qualified)
        if where is None:
            log.warning("API reference: cannot locate %s.%s in the package", qualified, name)
            continue
        identifier = f"{where}.{name}"
        home = ".".join(where.split(".")[:2])
        page_home = ".".join(qualified.split(".")[:2])
        if home != page_home and not home.split(".")[-1].startswith("_") and home != PACKAGE:
            # re-exported from another public subpackage: documented there, linked here
            target = f"{home.split('.')[-1]}.md#{identifier}"
            lines += [f"- `{name}`: re-exported from [`{home}`]({target})", ""]
            continue
        lines += [f"::: {identifier}", "    options:", f"      heading_level: {level + 1}", ""]
        documented.append((name, identifier))
    return "\n".join(lines), documented


def _api_index(modules: list[str]) -> str:
    package = importlib.import_module(PACKAGE)
    lines = [
        "# API reference",
        "",
        "Generated from the docstrings. Every name below is exported by `__all__` of its "
        "module; the top-level `elm_snn` package re-exports the most used ones:",
        "",
        "| `elm_snn.` | documented in |",
        "| --- | --- |",
    ]
    for name in package.__all__:
        if name.startswith("__"):
            continue
        obj = getattr(package, name)
        module = getattr(obj, "__module__", PACKAGE)
        sub = module.split(".")[1] if module.count(".") >= 1 else None
        target = f"[`elm_snn.{sub}`]({sub}.md)" if sub in modules else f"`{module}`"
        lines.append(f"| `{name}` | {target} |")
    lines += ["", "Modules:", ""]
    lines += [f"- [`elm_snn.{m}`]({m}.md)" for m in modules]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- includes
def _included_pages(root: Path) -> dict[str, str]:
    """Repository path (posix) of each included Markdown file -> its page path in the site."""
    pages = {f"datasets/{p.name}": f"datasets/{p.name}" for p in _dataset_cards(root)}
    if (root / "benchmarks" / "README.md").is_file():
        pages["benchmarks/README.md"] = README_PAGE
    pages["benchmarks/TABLE.md"] = TABLE_PAGE
    for nb in _tutorials(root):
        pages[f"tutorials/{nb.name}"] = f"tutorials/{nb.name}"
    return pages


def _rewrite_links(text: str, repo_path: str, page_path: str, pages: dict[str, str]) -> str:
    """Point relative links of an included file at site pages, or turn them into code."""
    source_dir = posixpath.dirname(repo_path)
    page_dir = posixpath.dirname(page_path)

    def fix(match: re.Match) -> str:
        label, target, title = match.group(1), match.group(2), match.group(3) or ""
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith(("#", "/")):
            return match.group(0)
        path, _, anchor = target.partition("#")
        resolved = posixpath.normpath(posixpath.join(source_dir, path))
        if resolved in pages:
            new = posixpath.relpath(pages[resolved], page_dir or ".")
            return f"{label}({new}{'#' + anchor if anchor else ''}{title})"
        if label.startswith("!"):
            log.warning("%s: image %r is not part of the site", repo_path, target)
            return match.group(0)
        text_label = label[1:-1]
        shown = f"`{resolved}`"
        return shown if text_label.strip("`") == resolved else f"{text_label} ({shown})"

    return _LINK.sub(fix, text)


# ----------------------------------------------------------------------------- CLI
CLI_MARKER = "<!-- elm-snn-cli-reference -->"


def _cli_reference() -> str:
    """``--help`` of ``elm-snn`` and of every sub-command, from the real parser."""
    import argparse

    from elm_snn.cli import build_parser

    parser = build_parser()
    sections: list[tuple[str, str]] = [("elm-snn", parser.format_help())]

    def walk(p: argparse.ArgumentParser, prefix: str) -> None:
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    sections.append((f"{prefix} {name}", sub.format_help()))
                    walk(sub, f"{prefix} {name}")

    walk(parser, "elm-snn")
    out = ["## Reference", ""]
    for title, text in sections:
        out += [f"### `{title}`", "", "```text", text.rstrip(), "```", ""]
    return "\n".join(out)


# ----------------------------------------------------------------------------- events
def _find_section(nav: list, title: str) -> list | None:
    for entry in nav:
        if isinstance(entry, dict) and title in entry and isinstance(entry[title], list):
            return entry[title]
    return None


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """Add the dataset cards, tutorials, benchmarks and API pages to the navigation."""
    root = _repo_root(config)
    nav = config.nav or []
    datasets = _find_section(nav, NAV_DATASETS)
    if datasets is not None:
        for card in _dataset_cards(root):
            text = card.read_text(encoding="utf-8")
            title = re.sub(r"^dataset card:\s*", "", _title(text, card.stem), flags=re.I)
            datasets.append({title.replace("`", ""): f"datasets/{card.name}"})
    tutorials = _find_section(nav, NAV_TUTORIALS)
    if tutorials is not None:
        for nb in _tutorials(root):
            tutorials.append({_notebook_title(nb): f"tutorials/{nb.name}"})
    benchmarks = _find_section(nav, NAV_BENCHMARKS)
    if benchmarks is not None and (root / "benchmarks" / "README.md").is_file():
        benchmarks.append({"Measured numbers": README_PAGE})
    if benchmarks is not None:
        benchmarks.append({"Summary table": TABLE_PAGE})
    api = _find_section(nav, NAV_API)
    if api is not None:
        api.append({"Overview": "api/index.md"})
        for sub in _public_modules():
            api.append({f"elm_snn.{sub}": f"api/{sub}.md"})
    return config


@event_priority(100)  # before mkdocs-jupyter's on_files, which wraps the notebooks
def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Generate the pages named in :func:`on_config`."""
    root = _repo_root(config)
    pages = _included_pages(root)
    for card in _dataset_cards(root):
        repo_path = f"datasets/{card.name}"
        text = _rewrite_links(card.read_text(encoding="utf-8"), repo_path, repo_path, pages)
        files.append(File.generated(config, repo_path, content=text))
    bench = root / "benchmarks" / "README.md"
    if bench.is_file():
        text = _rewrite_links(
            bench.read_text(encoding="utf-8"), "benchmarks/README.md", README_PAGE, pages
        )
        files.append(File.generated(config, README_PAGE, content=text))
    table = root / "benchmarks" / "TABLE.md"
    text = table.read_text(encoding="utf-8") if table.is_file() else TABLE_PLACEHOLDER
    text = _rewrite_links(text, "benchmarks/TABLE.md", TABLE_PAGE, pages)
    files.append(File.generated(config, TABLE_PAGE, content=text))
    for nb in _tutorials(root):
        # a real File rooted at the repository (not File.generated): mkdocs-jupyter's
        # wrapper recomputes abs_src_path from src_dir
        files.append(
            File(
                f"tutorials/{nb.name}",
                src_dir=str(root),
                dest_dir=config.site_dir,
                use_directory_urls=config.use_directory_urls,
            )
        )
    modules = _public_modules()
    files.append(File.generated(config, "api/index.md", content=_api_index(modules)))
    for sub in modules:
        content, _ = _api_page(f"{PACKAGE}.{sub}")
        files.append(File.generated(config, f"api/{sub}.md", content=content))
    return files


def on_page_markdown(markdown: str, page: Any, config: MkDocsConfig, files: Files) -> str:
    """Expand the CLI-reference marker of ``cli.md``."""
    if CLI_MARKER in markdown:
        markdown = markdown.replace(CLI_MARKER, _cli_reference())
    return markdown
