"""Fixtures of the reliability catalogue (tiny data in ``tmp_path``, an isolated cache).

It exports the same names as ``tests/train/conftest.py``: test modules in several folders do
``from conftest import ...`` and get whichever ``conftest`` module was imported first."""

from __future__ import annotations

from reliability_helpers import (
    _isolated_cache,
    neuronio_root,
    shd_root,
    tiny_config,
    write_tiny_shd,
)

__all__ = ["_isolated_cache", "neuronio_root", "shd_root", "tiny_config", "write_tiny_shd"]
