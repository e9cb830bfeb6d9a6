"""A grid of runs (models x bin sizes x seeds) with a results table and a plot: the library
behind ``elm-snn compare`` and ``elm-snn demo``.

Example::

    from elm_snn.train.compare import compare

    rows = compare("shd-adding", ["elm", "lstm"], [10, 50], [0, 1], preset="quick",
                   out_dir="runs/compare", overrides={"synthetic": True})

Writes into ``out_dir``: one run folder per grid point (``<model>-bin<B>ms-seed<S>/``; a
point whose ``metrics.json`` already exists with the same configuration is reused, and one
that was interrupted resumes from its last finished epoch, so a grid continues where it
stopped), ``results.csv`` (one row per run), ``results.md`` (mean +- std over seeds per
model and bin size), ``<metric>_vs_bin_size.png`` (like Fig. 5b-d of the paper) and
``run_info.json`` (:mod:`elm_snn.train.provenance`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from elm_snn.train.grid import grid_folder, run_name, run_points, write_results
from elm_snn.train.provenance import compare_run_info, git_commit, write_run_info

__all__ = ["compare"]


def compare(
    task: str,
    models: Sequence[str],
    bin_sizes: Sequence[float | None],
    seeds: Sequence[int],
    *,
    preset: str = "paper",
    out_dir: str | os.PathLike = "runs/compare",
    overrides: Mapping[str, Any] | None = None,
    reuse: bool = True,
    workers: int = 1,
    log: Any = None,
    overwrite: bool = False,
    command: str | None = None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Train and test every (bin size, model, seed) of the grid with the same data and budget.

    Args:
        task: a task name (:data:`elm_snn.tasks.TASK_NAMES`).
        models: model names of the task.
        bin_sizes: bin sizes in ms (``[None]``: the preset's; NeuronIO: 1 ms).
        seeds: run seeds.
        preset: ``"paper"`` or ``"quick"``.
        out_dir: folder of the grid (see module docstring).
        overrides: extra :class:`~elm_snn.tasks.RunConfig` values for every run.
        reuse: reuse a grid point whose ``metrics.json`` and ``config.json`` match (and
            resume one that has a ``last.ckpt`` but no ``metrics.json``).
        workers: grid points trained at the same time, each in its own process with one
            torch thread (CPU machines; keep 1 on a GPU).
        log: callable taking a progress line (default: print to stderr).
        overwrite: write into a folder holding another grid's results (see
            :func:`~elm_snn.train.grid.grid_folder`; the folder is locked while the grid
            runs either way).
        command: the command line recorded in ``run_info.json`` (default: ``sys.argv``).
        progress: a progress bar over the runs, with an ETA, on stderr.

    Returns:
        The ``metrics.json`` dict of every run, in grid order. Results are also written with
        :func:`~elm_snn.train.grid.write_results`, and ``run_info.json`` records the
        provenance.
    """
    from elm_snn.tasks import get_task, resolve_config

    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers: expected an integer >= 1, got {workers!r}")
    if not models or not bin_sizes or not seeds:
        raise ValueError("models, bin_sizes, seeds: each needs at least one value")
    out = Path(out_dir)
    configs = [  # validate the whole grid before the first run starts
        resolve_config(task, model, preset, bin_size_ms=b, seed=int(seed), **dict(overrides or {}))
        for b in bin_sizes
        for model in models
        for seed in seeds
    ]
    commit = git_commit()  # before the runs: what they started from
    spec = get_task(task)
    named = [(run_name(c.model, c.bin_size_ms, c.seed), c) for c in configs]
    with grid_folder(out, f"compare {task}", overwrite):
        rows = run_points(
            named,
            out,
            reuse=reuse,
            workers=workers,
            log=log,
            metric=spec.primary_metric,
            progress=progress,
        )
        write_results(
            rows, out, spec.primary_metric, spec.chance, title=f"{task} ({preset} preset)"
        )
        info = compare_run_info(task, preset, overrides, configs, rows, commit, command)
        write_run_info(out, info)
    return rows
