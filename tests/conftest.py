"""Shared test configuration: fixture lookup, float64 helpers, reproducibility."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]


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
    message = f"{what} not found (set the environment variable or place ../shared beside the repo)"
    if os.environ.get("ELM_SNN_REQUIRE_FIXTURES") == "1":
        pytest.fail(f"ELM_SNN_REQUIRE_FIXTURES=1 but {message}")
    pytest.skip(message)


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
