"""Fixtures of the reliability catalogue: tiny data in ``tmp_path`` and an isolated cache
(:mod:`tests.tiny`)."""

from __future__ import annotations

from tests.tiny import _isolated_cache, neuronio_root, shd_root

__all__ = ["_isolated_cache", "neuronio_root", "shd_root"]
