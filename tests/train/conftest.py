"""Tiny data and an isolated cache for the engine tests (the fixtures of :mod:`tests.tiny`)."""

from __future__ import annotations

from tests.tiny import _isolated_cache, neuronio_root, shd_root

__all__ = ["_isolated_cache", "neuronio_root", "shd_root"]
