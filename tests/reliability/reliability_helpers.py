"""Shared helpers of the reliability catalogue: the CLI arguments of a tiny run and a Python
runner (tiny data and run configs: :mod:`tests.tiny`).

A module of its own (not ``conftest``): several test folders have a ``conftest`` module, and
``from conftest import ...`` picks whichever was imported first."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

__all__ = ["REPO", "run_python", "tiny_cli_args"]

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
