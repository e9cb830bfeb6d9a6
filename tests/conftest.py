"""Shared test configuration: fixture lookup, required packages, reproducibility.

Strictness (CI): ``ELM_SNN_STRICT=1`` (set by ``.ci/run``) turns every "cannot run here"
into a failure: a missing oracle package of the ``test`` extra (:func:`require_module`),
missing official fixtures/checkpoints, a compiled kernel that cannot be built. Locally
these tests skip with the reason (shown by ``-ra``). ``ELM_SNN_REQUIRE_FIXTURES=1`` and
``ELM_SNN_REQUIRE_COMPILED=1`` still make only their own part strict.

Test modules import the helpers as ``from tests.conftest import require_module``.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]

STRICT_ENV = "ELM_SNN_STRICT"

#: import name of every distribution that ``pip install -e ".[test]"`` installs (the
#: ``test`` extra and the extras it includes); tests/test_strictness.py keeps it in step
#: with pyproject.toml
TEST_EXTRA_MODULES = {
    "espeakng-loader": "espeakng_loader",
    "numba": "numba",
    "scipy": "scipy",
    "neuron": "neuron",
    "mkdocs": "mkdocs",
    "mkdocs-material": "material",
    "mkdocstrings": "mkdocstrings",
    "mkdocs-jupyter": "mkdocs_jupyter",
    "jupytext": "jupytext",
    "pytest": "pytest",
    "pytest-xdist": "xdist",
    "scikit-learn": "sklearn",
    "lauscher": "lauscher",
    "nbclient": "nbclient",
    "nbformat": "nbformat",
    "ipykernel": "ipykernel",
}


def fail_or_skip(message: str, require_env: str | None = None) -> NoReturn:
    """Fail in strict mode (or when ``require_env`` is ``1``), else skip with ``message``.

    Usable at module level (the skip then skips the whole module)."""
    for name in (STRICT_ENV, require_env):
        if name is not None and os.environ.get(name) == "1":
            pytest.fail(f"{name}=1 but {message}", pytrace=False)
    pytest.skip(message, allow_module_level=True)


def require_module(name: str) -> ModuleType:
    """Import ``name`` (an oracle package of the ``test`` extra, or one of its modules);
    if it cannot be imported: fail in strict mode, else skip with the reason.

    Replaces ``pytest.importorskip``, which skips silently in CI too."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        fail_or_skip(
            f"{name} cannot be imported ({exc}); install the test extra: pip install -e '.[test]'"
        )


def _fixtures_root() -> Path | None:
    """``$ELM_SNN_FIXTURES`` (the ``fixtures`` folder or its ``official_elm`` child), else
    ``../shared/fixtures`` beside the repository."""
    explicit = os.environ.get("ELM_SNN_FIXTURES")
    root = Path(explicit) if explicit else REPO_ROOT.parent / "shared" / "fixtures"
    if (root / "official_elm").is_dir():
        return root
    if root.name == "official_elm":
        return root.parent
    return root if root.is_dir() else None


def _official_elm_dir() -> Path | None:
    root = _fixtures_root()
    return None if root is None else root / "official_elm"


def _official_models_dir() -> Path | None:
    """``$ELM_SNN_OFFICIAL_MODELS``, else ``official_models`` beside the fixtures folder."""
    explicit = os.environ.get("ELM_SNN_OFFICIAL_MODELS")
    if explicit:
        return Path(explicit)
    root = _fixtures_root()
    return None if root is None else root.parent / "official_models"


def _require_or_skip(path: Path | None, what: str) -> Path:
    if path is not None and path.is_dir():
        return path
    fail_or_skip(
        f"{what} not found (set the environment variable or place ../shared beside the repo)",
        "ELM_SNN_REQUIRE_FIXTURES",
    )


@pytest.fixture(scope="session")
def official_fixtures_dir() -> Path:
    """Folder of the official-code golden fixtures (``ELM_SNN_FIXTURES`` or ../shared)."""
    return _require_or_skip(_official_elm_dir(), "official ELM fixtures (ELM_SNN_FIXTURES)")


@pytest.fixture(scope="session")
def official_models_dir() -> Path:
    """Folder of the official checkpoints (``ELM_SNN_OFFICIAL_MODELS`` or ../shared)."""
    return _require_or_skip(
        _official_models_dir(), "official ELM checkpoints (ELM_SNN_OFFICIAL_MODELS)"
    )


@pytest.fixture(autouse=True)
def _seed_everything():
    torch.manual_seed(0)
    yield
