"""Re-use the tiny-data fixtures of ``tests/tasks/conftest.py`` for the engine tests."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "_elm_snn_task_fixtures", Path(__file__).resolve().parents[1] / "tasks" / "conftest.py"
)
_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fixtures)

_isolated_cache = _fixtures._isolated_cache
shd_root = _fixtures.shd_root
neuronio_root = _fixtures.neuronio_root
tiny_config = _fixtures.tiny_config
write_tiny_shd = _fixtures.write_tiny_shd
