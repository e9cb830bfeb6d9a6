"""Grids of runs: train each ``(run name, RunConfig)`` in its own run folder, reuse the
finished ones, and write the results as CSV and markdown tables.

* :func:`run_points` - train (or reuse, or resume) every point of a grid, in parallel
  processes if asked; :func:`grid_folder` - own a grid's result folder while it runs.
* :func:`write_rows_csv`, :func:`summary_markdown`, :func:`write_results` - the tables
  (mean +- std over seeds) and the metric-vs-bin-size plot.
* :func:`spearman`, :func:`validation_test_agreement` - how well validation ranks the runs
  the way the test split does.

The grids themselves live in :mod:`elm_snn.train.compare` (models x bin sizes x seeds),
:mod:`elm_snn.train.reproduce_neuronio` and :mod:`elm_snn.train.reproduce_shd`.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "GRID_MARKER",
    "GridFolderError",
    "RESULT_COLUMNS",
    "grid_folder",
    "run_name",
    "run_points",
    "spearman",
    "stderr_line",
    "summary_markdown",
    "validation_test_agreement",
    "write_results",
    "write_rows_csv",
]

RESULT_COLUMNS = (
    "task",
    "model",
    "bin_size_ms",
    "seed",
    "num_parameters",
    "epochs_trained",
    "wall_seconds",
)


#: Marker of a grid's result folder: which grid (``compare <task>``, ``reproduce shd``,
#: ``reproduce neuronio``) wrote the results there.
GRID_MARKER = ".elm-snn-grid.json"


class GridFolderError(FileExistsError):
    """The result folder holds another grid's results (nothing in it was touched)."""


def _grid_of(out: Path) -> str | None:
    """The grid whose results ``out`` holds: its marker, or (folders written before the
    marker) the command recorded in ``run_info.json``; None if unknown."""
    try:
        kind = json.loads((out / GRID_MARKER).read_text(encoding="utf-8")).get("grid")
        return str(kind) if kind else None
    except (OSError, ValueError, AttributeError):
        pass
    try:
        command = json.loads((out / "run_info.json").read_text(encoding="utf-8")).get("command")
    except (OSError, ValueError, AttributeError):
        return None
    words = str(command or "").split()
    if "reproduce" in words and words.index("reproduce") + 1 < len(words):
        return "reproduce " + words[words.index("reproduce") + 1]
    return None


@contextlib.contextmanager
def grid_folder(out_dir: str | os.PathLike, grid: str, overwrite: bool = False) -> Iterator[Path]:
    """Own a grid's result folder while the grid runs: lock it (one process at a time, see
    :func:`elm_snn._locks.folder_lock`) and refuse a folder holding another grid's results
    unless ``overwrite`` (then its results files are rewritten; its run folders are kept).

    Raises:
        FolderLockedError: another process writes the folder.
        GridFolderError: the folder holds the results of another grid.
    """
    from elm_snn._io import atomic_write_text
    from elm_snn._locks import folder_lock

    out = Path(out_dir)
    created = not out.exists()
    try:
        with folder_lock(out, "--out"):
            other = _grid_of(out)
            if other is not None and other != grid and not overwrite:
                raise GridFolderError(
                    f"--out: {str(out)!r} holds the results of another grid ({other!r}, this "
                    f"is {grid!r}); pass --overwrite to replace its results (results.csv, "
                    f"results.md, run_info.json, plots; its run folders are kept) or choose "
                    f"another --out"
                )
            atomic_write_text(out / GRID_MARKER, json.dumps({"grid": grid}) + "\n")
            yield out
    except GridFolderError:
        raise
    except BaseException:
        if created:  # refused before anything was written: leave no folder behind
            with contextlib.suppress(OSError):
                if [p.name for p in out.iterdir()] == [GRID_MARKER]:
                    (out / GRID_MARKER).unlink()
                out.rmdir()
        raise


def run_name(model: str, bin_size_ms: float, seed: int) -> str:
    """The run folder name of a grid point: ``<model>-bin<B>ms-seed<S>``."""
    return f"{model}-bin{float(bin_size_ms):g}ms-seed{int(seed)}"


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    m = sum(values) / len(values)
    if len(values) < 2:
        return m, 0.0
    return m, math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))


def summary_markdown(
    rows: Sequence[Mapping[str, Any]], metric: str, chance: float | None = None
) -> str:
    """Markdown table: one row per model and bin size with ``metric`` mean +- std over seeds
    (sample std, n-1), parameters and mean CPU time per run (the run's total over resumes;
    wall time where a run of an older version has no CPU time); when the rows carry
    per-speaker values (``<metric>_speaker<id>``, SHD tasks) a last column lists their means
    over seeds, ``id: value``."""
    groups: dict[tuple[str, float], list[Mapping[str, Any]]] = {}
    for r in rows:
        groups.setdefault((str(r["model"]), float(r["bin_size_ms"])), []).append(r)
    prefix = f"{metric}_speaker"
    speakers = sorted(
        {int(k[len(prefix) :]) for r in rows for k in r if k.startswith(prefix)},
    )
    extra_head = f" {metric} per test speaker |" if speakers else ""
    lines = [
        f"| model | bin size (ms) | parameters | {metric} (mean +- std) | seeds | CPU s per run |"
        + extra_head,
        "| --- | ---: | ---: | ---: | ---: | ---: |" + (" --- |" if speakers else ""),
    ]
    for (model, b), rs in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        vals = [float(r[metric]) for r in rs if r.get(metric) is not None]
        cell = "n/a"
        if vals:
            m, s = _mean_std(vals)
            cell = f"{m:.3f} +- {s:.3f}" if len(vals) > 1 else f"{m:.3f}"
        cpu = sum(
            float(r.get("cpu_seconds_total") or r.get("cpu_seconds") or r.get("wall_seconds") or 0)
            for r in rs
        ) / len(rs)
        extra = ""
        if speakers:
            parts = []
            for s in speakers:
                v = [float(r[f"{prefix}{s}"]) for r in rs if r.get(f"{prefix}{s}") is not None]
                parts.append(f"{s}: {sum(v) / len(v):.3f}" if v else f"{s}: n/a")
            extra = f" {', '.join(parts)} |"
        lines.append(
            f"| {model} | {b:g} | {int(rs[0].get('num_parameters') or 0):,} | {cell} | "
            f"{len(vals)} | {cpu:.0f} |" + extra
        )
    if chance is not None:
        lines.append("")
        lines.append(f"Chance level: {chance:.3f}.")
    return "\n".join(lines) + "\n"


def _ranks(values: Sequence[float]) -> list[float]:
    """Ranks 1..n of ``values``, ties given their average rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Spearman rank correlation of paired values (average ranks for ties); ``None`` when
    it is undefined (fewer than 3 pairs, or one side constant)."""
    if len(xs) != len(ys):
        raise ValueError(f"xs, ys: expected the same length, got {len(xs)} and {len(ys)}")
    if len(xs) < 3:
        return None
    rx, ry = _ranks(xs), _ranks(ys)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    sxx = sum((a - mx) ** 2 for a in rx)
    syy = sum((b - my) ** 2 for b in ry)
    if sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)


def validation_test_agreement(
    rows: Sequence[Mapping[str, Any]], metric: str, min_runs: int = 4
) -> str | None:
    """One line: how well the runs' best validation score ranks them the way ``metric``
    (their test score) does, as a Spearman correlation over the runs that have both; ``None``
    below ``min_runs`` such runs (too few to say anything)."""
    val_key = "best_val_" + metric.removeprefix("test_")
    pairs = [
        (float(r[val_key]), float(r[metric]))
        for r in rows
        if r.get(val_key) is not None and r.get(metric) is not None
    ]
    if len(pairs) < min_runs:
        return None
    rho = spearman([p[0] for p in pairs], [p[1] for p in pairs])
    if rho is None:
        return None
    return (
        f"Validation/test rank correlation over the {len(pairs)} runs ({val_key} against "
        f"{metric}, Spearman): {rho:+.2f}."
    )


def write_rows_csv(
    path: str | os.PathLike, rows: Sequence[Mapping[str, Any]], columns: Sequence[str]
) -> Path:
    """Write ``rows`` as CSV with ``columns`` (missing values empty, other keys ignored),
    atomically; returns ``path`` as a Path."""
    from elm_snn._io import atomic_write_text

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k) for k in columns})
    atomic_write_text(Path(path), buf.getvalue())
    return Path(path)


def write_results(
    rows: Sequence[Mapping[str, Any]],
    out_dir: str | os.PathLike,
    metric: str,
    chance: float | None = None,
    title: str | None = None,
) -> dict[str, Path]:
    """Write ``results.csv``, ``results.md`` and the plot into ``out_dir`` (atomically).

    Returns:
        ``{"csv": ..., "markdown": ..., "plot": ...}`` paths (``"plot"`` missing when nothing
        could be plotted).
    """
    from elm_snn._io import atomic_write_text
    from elm_snn.viz import plot_metric_vs_bin_size

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    metric_cols = sorted({k for r in rows for k in r if k.startswith(("test_", "best_val"))})
    cols = list(RESULT_COLUMNS) + metric_cols
    paths = {"csv": write_rows_csv(out / "results.csv", rows, cols), "markdown": out / "results.md"}
    md = summary_markdown(rows, metric, chance)
    agreement = validation_test_agreement(rows, metric)
    if agreement:
        md += "\n" + agreement + "\n"
    if title:
        md = f"## {title}\n\n" + md
    atomic_write_text(paths["markdown"], md)
    try:
        paths["plot"] = plot_metric_vs_bin_size(
            rows, out / f"{metric}_vs_bin_size.png", metric=metric, chance=chance, title=title
        )
    except ValueError:
        pass
    return paths


def _run_point(
    cfg_dict: dict[str, Any], run_dir: str, resume: bool, threads: int | None
) -> dict[str, Any]:
    """Train one grid point (also the body of a worker process)."""
    import torch

    from elm_snn.tasks import RunConfig
    from elm_snn.train.engine import train

    if threads is not None:
        torch.set_num_threads(int(threads))
        from elm_snn.train.quiet import quiet_lightning

        quiet_lightning(verbose=False)  # a spawned worker starts with the default filters
    # the grid decided above what to reuse/resume: any other run in run_dir is replaced
    return train(RunConfig.from_dict(cfg_dict), run_dir, resume=resume, overwrite=not resume)


def _saved_config_matches(path: Path, cfg: Any) -> bool:
    """Whether the run configuration saved in ``path`` is ``cfg``.

    The saved dict goes through :meth:`RunConfig.from_dict` first, so a folder written
    before a field existed (the field missing, so at its default) still matches a
    configuration that keeps that default. Unreadable or invalid files never match.
    """
    from elm_snn.tasks.config import RunConfig

    try:
        saved = json.loads(path.read_text())
        return RunConfig.from_dict(saved).to_dict() == cfg.to_dict()
    except (ValueError, TypeError, OSError):
        return False


#: A grid point still to train: (index in the grid, RunConfig dict, run folder, resume).
_Todo = tuple[int, dict[str, Any], str, bool]


def _plan_points(
    named_configs: Sequence[tuple[str, Any]],
    out: Path,
    reuse: bool,
    log: Callable[[str], None],
) -> tuple[dict[int, dict[str, Any]], list[_Todo]]:
    """Split a grid into the finished points to reuse (``{index: metrics}``) and the points
    to train (resuming those with a ``last.ckpt`` of the same configuration)."""
    n = len(named_configs)
    results: dict[int, dict[str, Any]] = {}
    todo: list[_Todo] = []
    for i, (name, cfg) in enumerate(named_configs):
        run_dir = out / name
        mfile, cfile = run_dir / "metrics.json", run_dir / "config.json"
        same = False
        if reuse and cfile.is_file():
            same = _saved_config_matches(cfile, cfg)
        if same and mfile.is_file():
            try:
                results[i] = json.loads(mfile.read_text())
                log(f"[{i + 1}/{n}] {run_dir.name}: reusing finished run")
                continue
            except ValueError:
                pass
        resume = same and (run_dir / "checkpoints" / "last.ckpt").is_file()
        todo.append((i, cfg.to_dict(), str(run_dir), resume))
    return results, todo


def _train_points(
    todo: Sequence[_Todo],
    n: int,
    workers: int,
    log: Callable[[str], None],
    report: Callable[[int, dict[str, Any]], None],
) -> None:
    """Train the points of ``todo`` (``n``: the grid's size, for the log lines) one after
    the other in this process, or ``workers`` at a time in spawned processes with one torch
    thread each; ``report(index, metrics)`` as each finishes."""
    if workers <= 1 or len(todo) <= 1:
        for i, cfg_dict, run_dir, resume in todo:
            what = "resuming" if resume else "training"
            log(f"[{i + 1}/{n}] {Path(run_dir).name}: {what} ...")
            report(i, _run_point(cfg_dict, run_dir, resume, threads=None))
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=int(workers), mp_context=ctx) as pool:
        futures = {}
        for i, cfg_dict, run_dir, resume in todo:
            log(
                f"[{i + 1}/{n}] {Path(run_dir).name}: queued "
                f"({'resume' if resume else 'train'}, {workers} runs in parallel)"
            )
            futures[pool.submit(_run_point, cfg_dict, run_dir, resume, 1)] = i
        for fut in as_completed(futures):
            report(futures[fut], fut.result())


def run_points(
    named_configs: Sequence[tuple[str, Any]],
    out_dir: str | os.PathLike,
    *,
    reuse: bool = True,
    workers: int = 1,
    log: Any = None,
    metric: str = "test_loss",
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Train and test each ``(run name, RunConfig)`` in ``out_dir/<run name>``.

    A point whose ``config.json`` equals its configuration and whose ``metrics.json``
    exists is reused; one with a ``last.ckpt`` but no ``metrics.json`` resumes (when
    ``reuse``). With ``workers > 1`` points train in parallel, one process and one torch
    thread each. ``progress`` shows a bar over the runs to train, with an ETA, on stderr
    (quiet with ``ELM_SNN_PROGRESS=0``). Returns the ``metrics.json`` dicts in the order
    given.
    """
    from elm_snn._progress import progress as progress_bar
    from elm_snn._progress import progress_enabled

    if log is None:
        log = stderr_line if progress else _silent
    n = len(named_configs)
    results, todo = _plan_points(named_configs, Path(out_dir), reuse, log)
    todo_dirs = {i: d for i, _, d, _ in todo}
    bar = progress_bar(
        total=len(todo), desc="runs", unit="run", enabled=progress and progress_enabled()
    )

    def report(i: int, result: dict[str, Any]) -> None:
        results[i] = result
        bar.update(1)
        log(
            f"[{i + 1}/{n}] {Path(todo_dirs[i]).name}: {metric} = "
            f"{result.get(metric)} ({result['wall_seconds']:.0f} s, "
            f"{result['num_parameters']:,} parameters)"
        )

    with bar:
        _train_points(todo, n, workers, log, report)
    return [results[i] for i in range(n)]


def stderr_line(msg: str) -> None:
    """A progress line on stderr that does not break a progress bar being drawn."""
    from tqdm.auto import tqdm

    tqdm.write(msg, file=sys.stderr)


def _silent(msg: str) -> None:
    """The log of a quiet run: nothing."""
