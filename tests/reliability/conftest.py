"""Fixtures of the reliability catalogue (tiny data in ``tmp_path``, an isolated cache)."""

from __future__ import annotations

from reliability_helpers import _isolated_cache, shd_root

__all__ = ["_isolated_cache", "shd_root"]
