"""``elm-snn reproduce shd``: Fig. 5 of Spieler et al. (2023) on spoken digits you have.

Usage::

    elm-snn reproduce shd --out docs/results/shd --workers 2
    elm-snn reproduce shd --data-root ~/data/SHD --preset paper --out results/shd

On one spoken-digit set (real SHD files with ``--data-root``, else the offline set of
:func:`elm_snn.tasks.shd.synthetic_spoken_digits` with ``--per-class`` utterances per class,
made once into the elm-snn cache) it trains, with one budget for all:

* on **SHD** (single digits, 20 classes) and **SHD-Adding** (sum of two digits, 19 classes);
* the ELM, the Branch-ELM, the LSTM and the recurrent E/I SNN of the paper's appendix
  (``--models``);
* at every bin size of ``--bin-sizes`` (default 2, 10, 20, 50, 100 ms; the paper's
  Fig. 5b-d x axis);
* with seed 0, plus ``--extra-seeds`` (default 1 and 2) for the ELM and the LSTM at
  ``--seeds-bin`` (default 10 ms), so the size of the seed-to-seed spread is known.

Each run is an ordinary run folder ``<runs-dir>/<task>/<model>-bin<B>ms-seed<S>/`` (default
``<out>/runs``): reused when finished with the same configuration, resumed when interrupted,
so the command continues where it stopped. Written into ``--out``: ``results.csv`` (one row
per run: model, task, bin_size_ms, seed, test_accuracy, num_parameters, wall_seconds, CPU
seconds, readout, epochs and per-test-speaker accuracy), ``results.md`` (command, git
commit, machine, CPU time, data statistics, one table per task and the plots),
``<task>_accuracy_vs_bin_size.png`` (test accuracy against bin size, one line per model,
min-max band over seeds, like Fig. 5b-d) and ``run_info.json``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from elm_snn.train.grid import grid_folder, run_points, summary_markdown, write_rows_csv
from elm_snn.train.provenance import git_commit, run_info, run_info_markdown, write_run_info

__all__ = [
    "SHD_GRID_DEFAULTS",
    "SHD_CSV_COLUMNS",
    "shd_grid",
    "reproduce_shd",
    "paper_comparison_markdown",
]

SHD_GRID_DEFAULTS: dict[str, Any] = dict(
    tasks=("shd", "shd-adding"),
    models=("elm", "branch-elm", "lstm", "snn"),
    bin_sizes=(2.0, 10.0, 20.0, 50.0, 100.0),
    extra_seeds=(1, 2),
    seeds_bin=10.0,
    seed_models=("elm", "lstm"),
)

SHD_CSV_COLUMNS = (
    "model",
    "task",
    "bin_size_ms",
    "seed",
    "test_accuracy",
    "num_parameters",
    "wall_seconds",
    "cpu_seconds",
    "readout",
    "logit_scale",
    "epochs_trained",
    "best_val_accuracy",
)

_TASK_TITLES = {"shd": "SHD", "shd-adding": "SHD-Adding"}

#: The paper's reported values (SPEC section 4) shown beside the measured table.
_PAPER_VALUES = {
    "shd": "ELM 0.91 at 2 ms; LSTM 0.21 at 2 ms and 0.87 at 10 ms; E/I SNN best 0.58 at 20 ms",
    "shd-adding": "ELM 0.82 at 1-2 ms (Branch-ELM 0.81-0.83); LSTM 0.10 at fine bins and "
    "best 0.67 at 50 ms; E/I SNN 0.09",
}


def shd_grid(
    tasks: Sequence[str],
    models: Sequence[str],
    bin_sizes: Sequence[float],
    extra_seeds: Sequence[int],
    seeds_bin: float,
    seed_models: Sequence[str],
    skip: Sequence[tuple[str | None, str, float]] = (),
) -> list[tuple[str, str, float, int]]:
    """The grid as ``(task, model, bin size ms, seed)``: seed 0 everywhere, the extra seeds
    for ``seed_models`` at ``seeds_bin`` (when that bin is in ``bin_sizes``), without the
    ``(task, model, bin size)`` triples of ``skip`` (task ``None``: every task). Cheap
    points first (coarse bins), so an interrupted grid has its overview early."""
    skipped = {(t, str(m), float(b)) for t, m, b in skip}
    points = []
    for b in sorted((float(x) for x in bin_sizes), reverse=True):
        for task in tasks:
            for model in models:
                if (task, model, b) in skipped or (None, model, b) in skipped:
                    continue
                seeds = [0]
                if model in seed_models and b == float(seeds_bin):
                    seeds += [int(s) for s in extra_seeds if int(s) != 0]
                points += [(task, model, b, s) for s in seeds]
    return points


def _row(task: str, result: dict[str, Any], cfg: Any) -> dict[str, Any]:
    row = dict(result)
    row["task"] = task
    row["readout"] = cfg.readout
    row["logit_scale"] = cfg.logit_scale
    # a resumed run's wall_seconds / cpu_seconds cover its last stretch only: report totals
    for key in ("wall_seconds", "cpu_seconds"):
        if result.get(f"{key}_total") is not None:
            row[key] = result[f"{key}_total"]
    return row


def paper_comparison_markdown(rows: Sequence[dict[str, Any]], task: str) -> str:
    """The ordering the paper reports, checked on these rows: the ELM against the LSTM at
    the finest and the coarsest bin (means over seeds), and the best bin of each model."""

    def mean(model: str, b: float) -> float | None:
        v = [
            float(r["test_accuracy"])
            for r in rows
            if r["model"] == model
            and float(r["bin_size_ms"]) == b
            and r.get("test_accuracy") is not None
        ]
        return sum(v) / len(v) if v else None

    bins = sorted({float(r["bin_size_ms"]) for r in rows})
    lines = [f"Paper (SPEC section 4): {_PAPER_VALUES.get(task, 'n/a')}.", ""]
    for label, b in (("finest", bins[0]), ("coarsest", bins[-1])) if bins else ():
        e, s = mean("elm", b), mean("lstm", b)
        if e is not None and s is not None:
            lines.append(
                f"- {label} bin ({b:g} ms): ELM {e:.3f}, LSTM {s:.3f}, ELM - LSTM = {e - s:+.3f}"
            )
    for model in dict.fromkeys(r["model"] for r in rows):
        by_bin = {b: mean(model, b) for b in bins}
        by_bin = {b: v for b, v in by_bin.items() if v is not None}
        if by_bin:
            best = max(by_bin, key=lambda b: by_bin[b])
            lines.append(f"- {model}: best {by_bin[best]:.3f} at {best:g} ms")
    return "\n".join(lines) + "\n"


def _spoken_digit_data(
    data_root: str | os.PathLike | None, per_class: int, progress: bool
) -> tuple[Path, dict[str, Any]]:
    """The data folder and the RunConfig values that select it: ``data_root`` (checked to
    hold SHD's files) or the offline spoken digits of ``per_class`` utterances per class."""
    if data_root is None:
        from elm_snn.tasks.shd import synthetic_spoken_digits

        root = synthetic_spoken_digits(int(per_class), progress=progress)
        return Path(root), {"synthetic": True, "synthetic_size": int(per_class)}
    from elm_snn.tasks.shd import check_shd_folder

    root = check_shd_folder(data_root)
    return Path(root), {"synthetic": False, "data_root": os.fspath(root)}


def _speaker_columns(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The per-test-speaker accuracy columns of ``rows``, by speaker id."""
    return sorted(
        {k for r in rows for k in r if k.startswith("test_accuracy_speaker")},
        key=lambda k: int(k.rsplit("speaker", 1)[1]),
    )


def _data_stats(root: Path) -> dict[str, Any]:
    """Each split's statistics from the offline generator's manifest, without the
    per-speaker lists (empty for data without that manifest, such as real SHD)."""
    manifest = root / "spoken_digits.json"
    stats = json.loads(manifest.read_text())["stats"] if manifest.is_file() else None
    return {
        split: {k: v for k, v in st.items() if k != "per_speaker"}
        for split, st in (stats or {}).items()
    }


def _task_section(task: str, task_rows: list[dict[str, Any]], out: Path, preset: str) -> list[str]:
    """The results page's section of one task (table, readouts, the paper's ordering and
    the plot, which it writes as ``out/<task>_accuracy_vs_bin_size.png``)."""
    from elm_snn.tasks import get_task
    from elm_snn.viz import plot_metric_vs_bin_size

    chance = get_task(task).chance
    png = f"{task}_accuracy_vs_bin_size.png"
    plot_metric_vs_bin_size(
        task_rows,
        out / png,
        metric="test_accuracy",
        chance=chance,
        title=f"{task}: test accuracy ({preset} preset)",
    )
    readouts = ", ".join(
        f"{m} {r}" + (f" (logits x {scale:g})" if scale not in (None, 1.0) else "")
        for m, r, scale in dict.fromkeys(
            (x["model"], x.get("readout"), x.get("logit_scale")) for x in task_rows
        )
        if r
    )
    return [
        f"## {task}",
        "",
        summary_markdown(task_rows, "test_accuracy", chance).rstrip("\n"),
        "",
        f"Readouts: {readouts}." if readouts else "",
        "",
        paper_comparison_markdown(task_rows, task).rstrip("\n"),
        "",
        f"![{task}: test accuracy against bin size]({png})",
        "",
    ]


def _results_page(
    rows: list[dict[str, Any]],
    info: dict[str, Any],
    out: Path,
    *,
    tasks: Sequence[str],
    preset: str,
    data_line: str,
    skip: Sequence[tuple[str | None, str, float]],
    overrides: dict[str, Any] | None,
) -> str:
    """``results.md``: provenance, what was left out, the budget, then one section per task
    (:func:`_task_section`, which also draws its plot)."""
    lines = [
        f"# {' and '.join(_TASK_TITLES[t] for t in tasks)}: Fig. 5 ({preset} preset)",
        "",
        *run_info_markdown(info, data_line),
        "- left out (task/model @ bin ms): "
        + (", ".join(f"{t or 'both'}/{m} @ {b:g}" for t, m, b in skip) or "none"),
        f"- budget: {', '.join(f'{k}={v}' for k, v in (overrides or {}).items()) or 'preset'}",
        "",
    ]
    for task in tasks:
        task_rows = [r for r in rows if r["task"] == task]
        if task_rows:
            lines += _task_section(task, task_rows, out, preset)
    return "\n".join(lines).rstrip("\n") + "\n"


def _check_grid(tasks: Sequence[str], models: Sequence[str], bin_sizes: Sequence[float]) -> None:
    """ValueError unless ``tasks`` is a non-empty subset of the SHD tasks and ``models`` and
    ``bin_sizes`` are not empty."""
    bad = [t for t in tasks if t not in ("shd", "shd-adding")]
    if bad or not tasks:
        raise ValueError(f"tasks: expected a non-empty subset of ['shd', 'shd-adding'], got {bad}")
    if not models or not bin_sizes:
        raise ValueError("models, bin_sizes: each needs at least one value")


def _grid_configs(
    grid: Sequence[tuple[str, str, float, int]], preset: str, overrides: dict[str, Any]
) -> list[tuple[str, Any]]:
    """``(run name, RunConfig)`` of every grid point, all resolved (so checked) before the
    first run starts; run names ``<task>/<model>-bin<B>ms-seed<S>``."""
    from elm_snn.tasks import resolve_config

    named = []
    for task, model, b, seed in grid:
        cfg = resolve_config(task, model, preset, bin_size_ms=b, seed=seed, **overrides)
        named.append((f"{task}/{model}-bin{b:g}ms-seed{seed}", cfg))
    return named


def _write_results(
    out: Path,
    rows: list[dict[str, Any]],
    info: dict[str, Any],
    **page: Any,
) -> None:
    """Write ``results.csv`` (with the per-test-speaker columns), ``results.md`` and its
    plots (:func:`_results_page` with ``page``), and ``run_info.json``."""
    from elm_snn._io import atomic_write_text

    out.mkdir(parents=True, exist_ok=True)
    write_rows_csv(out / "results.csv", rows, list(SHD_CSV_COLUMNS) + _speaker_columns(rows))
    atomic_write_text(out / "results.md", _results_page(rows, info, out, **page))
    write_run_info(out, info)


def reproduce_shd(
    out_dir: str | os.PathLike,
    *,
    data_root: str | os.PathLike | None = None,
    per_class: int = 20,
    runs_dir: str | os.PathLike | None = None,
    preset: str = "quick",
    tasks: Sequence[str] = SHD_GRID_DEFAULTS["tasks"],
    models: Sequence[str] = SHD_GRID_DEFAULTS["models"],
    bin_sizes: Sequence[float] = SHD_GRID_DEFAULTS["bin_sizes"],
    extra_seeds: Sequence[int] = SHD_GRID_DEFAULTS["extra_seeds"],
    seeds_bin: float = SHD_GRID_DEFAULTS["seeds_bin"],
    skip: Sequence[tuple[str | None, str, float]] = (),
    overrides: dict[str, Any] | None = None,
    workers: int = 1,
    reuse: bool = True,
    command: str | None = None,
    log: Any = None,
    overwrite: bool = False,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Train every point of :func:`shd_grid` with one budget and write the results (see the
    module docstring).

    Args:
        out_dir: result folder.
        data_root: folder with ``shd_train.h5``/``shd_test.h5``; default: the offline
            spoken digits with ``per_class`` utterances per class (data seed 0).
        per_class: training utterances per class of the offline set.
        runs_dir: folder of the run folders (default ``out_dir/runs``).
        preset: base preset of every run (``"quick"`` or ``"paper"``).
        tasks, models, bin_sizes, extra_seeds, seeds_bin, skip: the grid
            (:func:`shd_grid`; ``skip`` leaves out ``(task or None, model, bin size)``
            points the budget does not allow).
        overrides: :class:`~elm_snn.tasks.RunConfig` values for every run (budget...).
        workers: runs trained in parallel (one process, one thread each).
        reuse: reuse finished runs, resume interrupted ones.
        command: the command line recorded in ``run_info.json``.
        log: progress callable (default: stderr).
        progress: a progress bar over the runs, with an ETA, on stderr.
        overwrite: write into a folder holding another grid's results
            (:func:`elm_snn.train.grid.grid_folder`).

    Returns:
        One row per run (``metrics.json`` plus ``task``), in grid order.
    """
    # one process per result folder; another grid's folder only with overwrite
    with grid_folder(out_dir, "reproduce shd", overwrite):
        _check_grid(tasks, models, bin_sizes)
        root, data = _spoken_digit_data(data_root, per_class, progress)
        grid = shd_grid(
            tasks, models, bin_sizes, extra_seeds, seeds_bin, SHD_GRID_DEFAULTS["seed_models"], skip
        )
        named = _grid_configs(grid, preset, {**(overrides or {}), **data})
        out = Path(out_dir)
        commit = git_commit()  # the code the runs start with, not what is checked out at the end
        results = run_points(
            named,
            Path(runs_dir) if runs_dir is not None else out / "runs",
            reuse=reuse,
            workers=workers,
            log=log,
            metric="test_accuracy",
            progress=progress,
        )
        rows = [
            _row(task, r, cfg) for (task, *_), (_, cfg), r in zip(grid, named, results, strict=True)
        ]
        info = run_info(
            command, commit, root, preset, overrides, results,
            data_stats=_data_stats(root), grid=[list(p) for p in grid],
        )  # fmt: skip
        data_line = (
            f"offline spoken digits, {per_class} per class, seed 0" if data["synthetic"] else ""
        )
        _write_results(
            out, rows, info, tasks=tasks, preset=preset, data_line=data_line, skip=skip,
            overrides=overrides,
        )  # fmt: skip
        return rows
