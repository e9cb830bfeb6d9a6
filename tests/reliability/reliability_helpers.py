"""Shared helpers of the reliability catalogue: tiny data and run configs (from
``tests/tasks/conftest.py``), the CLI arguments of a tiny run, and a Python runner.

A module of its own (not ``conftest``): several test folders have a ``conftest`` module, and
``from conftest import ...`` picks whichever was imported first."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "_elm_snn_task_fixtures_reliability",
    Path(__file__).resolve().parents[1] / "tasks" / "conftest.py",
)
_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fixtures)

_isolated_cache = _fixtures._isolated_cache
shd_root = _fixtures.shd_root
neuronio_root = _fixtures.neuronio_root
tiny_config = _fixtures.tiny_config
write_tiny_shd = _fixtures.write_tiny_shd

REPO = Path(__file__).resolve().parents[2]


def tiny_cli_args(data_root: Path, out: Path, *extra: str) -> list[str]:
    """``elm-snn train`` arguments of a run that takes about a second (3 epochs)."""
    return [
        "train",
        "--task",
        "shd-adding",
        "--model",
        "elm",
        "--data-root",
        str(data_root),
        "--preset",
        "quick",
        "--bin-size",
        "50",
        "--max-epochs",
        "3",
        "--train-samples",
        "32",
        "--val-samples",
        "16",
        "--test-samples",
        "16",
        "--num-memory",
        "6",
        "--batch-size",
        "8",
        "--accelerator",
        "cpu",
        "--no-progress",
        "--out",
        str(out),
        *extra,
    ]


def run_python(code: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run ``python -c code args...`` with this checkout first on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    env.setdefault("OMP_NUM_THREADS", "1")
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
