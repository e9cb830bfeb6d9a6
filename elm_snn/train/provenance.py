"""Where a result came from: the git commit, the machine, the CPU time, recorded as
``run_info.json`` and as the header lines of a results page.

Used by every grid (:func:`elm_snn.train.compare.compare`, the reproductions in
:mod:`elm_snn.train.reproduce_neuronio` and :mod:`elm_snn.train.reproduce_shd`) and by
:func:`elm_snn.train.engine.train`, which stamps each run's ``metrics.json`` with its commit.
Imports only the standard library.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "git_commit",
    "machine",
    "run_info",
    "run_info_markdown",
    "compare_run_info",
    "write_run_info",
]


def git_commit() -> str | None:
    """``HEAD`` of the checkout elm-snn runs from, with ``-dirty`` when tracked files differ
    from it; ``None`` outside a git checkout (an installed wheel) or without git."""
    root = Path(__file__).resolve().parents[2]

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(root), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()

    try:
        head = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
        return head + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def machine() -> str:
    """One line naming the CPU model, its core count and the operating system."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def _summed(results: Sequence[Mapping[str, Any]], key: str) -> float:
    """Sum over runs of ``<key>_total`` (a resumed run's total over all its parts), falling
    back to ``key`` for runs of older versions that lack the total; rounded to 0.1."""
    return round(sum(float(r.get(f"{key}_total") or r.get(key) or 0.0) for r in results), 1)


def run_info(
    command: str,
    commit: str | None,
    data_root: str | os.PathLike,
    preset: str,
    overrides: dict[str, Any] | None,
    results: Sequence[dict[str, Any]],
    **extra: Any,
) -> dict[str, Any]:
    """The provenance record of a grid (``run_info.json``), shared by every grid.

    Args:
        command: the command line that made it.
        commit: :func:`git_commit` taken before the first run started (what the runs began
            with; the checkout may have moved by the end).
        data_root: the data the runs read.
        preset, overrides: the configuration the grid was resolved with.
        results: every run's ``metrics.json`` (reused runs included), for the totals and
            the count of runs per commit they started at.
        **extra: grid-specific keys, inserted after ``data_root``.
    """
    return {
        "command": command,
        "git_commit": commit,
        "machine": machine(),
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "data_root": os.fspath(data_root),
        **extra,
        "preset": preset,
        "overrides": overrides or {},
        # grid points reused from earlier starts keep the commit they ran at
        "run_commits": dict(
            Counter(str(r.get("git_commit") or "not recorded") for r in results).most_common()
        ),
        "cpu_seconds_total": _summed(results, "cpu_seconds"),
        "wall_seconds_total": _summed(results, "wall_seconds"),
    }


def run_info_markdown(info: dict[str, Any], data: str) -> list[str]:
    """The header lines of a results page from :func:`run_info` (``data``: how to name the
    data after its folder)."""
    return [
        f"- command: `{info.get('command')}`",
        f"- git commit: `{info.get('git_commit')}`",
        "- runs per git commit (reused runs keep theirs): "
        + ", ".join(f"`{c}` {n}" for c, n in (info.get("run_commits") or {}).items()),
        f"- machine: {info.get('machine')}",
        f"- finished: {info.get('date_utc')}",
        f"- data: `{info.get('data_root')}`" + (f" ({data})" if data else ""),
        f"- CPU time of all runs: {float(info.get('cpu_seconds_total') or 0) / 60:.1f} min "
        f"(wall {float(info.get('wall_seconds_total') or 0) / 60:.1f} min, summed over runs)",
    ]


def compare_run_info(
    task: str,
    preset: str,
    overrides: Mapping[str, Any] | None,
    configs: Sequence[Any],
    rows: Sequence[dict[str, Any]],
    commit: str | None,
    command: str | None,
) -> dict[str, Any]:
    """:func:`run_info` of a :func:`~elm_snn.train.compare.compare` grid: command, commit,
    machine, CPU time and, for the SHD tasks read from files, the samples of each split
    and the offline generator's parameters (``configs``: the grid's RunConfigs)."""
    cfg = configs[0]
    data_root = cfg.data_root or "(generated: --synthetic)"
    extra: dict[str, Any] = {}
    if task in ("shd", "shd-adding") and cfg.data_root is not None:
        from elm_snn.tasks.shd import shd_data_record

        extra["data"] = shd_data_record(cfg.data_root, cfg)
        extra["data"]["pairs"] = {
            "train_per_epoch": cfg.train_samples_per_epoch,
            "validation": cfg.val_samples,
            "test": cfg.test_samples,
        }
    clean = {k: v for k, v in dict(overrides or {}).items() if v is not None}
    return run_info(
        command or " ".join(["elm-snn", *sys.argv[1:]]),
        commit,
        data_root,
        preset,
        clean,
        list(rows),
        **extra,
    )


def write_run_info(out: str | os.PathLike, info: Mapping[str, Any]) -> Path:
    """Write ``info`` as ``out/run_info.json`` (atomically); returns its path."""
    from elm_snn._io import atomic_write_text

    path = Path(out) / "run_info.json"
    atomic_write_text(path, json.dumps(info, indent=2) + "\n")
    return path
