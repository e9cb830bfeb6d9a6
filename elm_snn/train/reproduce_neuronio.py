"""Fig. 3 / Table S4 of the paper on NeuronIO data you have, as a committed result folder
(``elm-snn reproduce neuronio``; Fig. 5 is :mod:`elm_snn.train.reproduce_shd`).

Usage::

    elm-snn reproduce neuronio --out docs/results/neuronio --workers 2
    elm-snn reproduce neuronio --data-root DIR --seeds 0 1 2 --points lif elm-dm20 --out OUT
    elm-snn reproduce neuronio --data-root ~/data/neuronio --preset paper --out results/nio

:func:`reproduce_neuronio` reproduces Fig. 3 / Table S4 of Spieler et al. (2023): on one
NeuronIO-style data set (real files with ``--data-root``, else ``--sims`` NeuronIO-style
NEURON simulations of 6 s of the default, active cell, data seed 0, made once into
``--sims-dir`` or the elm-snn cache) it fits, with one training budget for all:

* LIF and ALIF;
* the "fair" ELM of Table S4: one memory unit and linear integration (no hidden MLP layer);
* the ELM with ``d_m`` = 1, 2, 5, 10, 20, 50, 100 (MLP hidden size ``2 d_m``);
* the Branch-ELM of the paper (45 branches x 100 synapses, NeuronIO routing, ``d_m = 20``);
* the LSTM at hidden sizes 8, 32 and 64;
* a small TCN after Beniaguev et al. (2021): 3 causal convolutions of 16 channels, kernels of
  10 ms (209,778 parameters).

With ``--seeds`` every point is trained once per seed (``results.csv``: one row per run;
the page and the plot: mean +- sample std over the seeds). Each run is an ordinary run
folder ``<runs-dir>/<point>/`` for seed 0, ``<point>-seed<S>/`` for the others (default
runs-dir ``<out>/runs``; reused when finished with the same configuration, resumed when
interrupted, so the command continues where it stopped). Written into ``--out``:
``results.csv`` (one row per run),
``results.md`` (a page with the command, git commit, machine, CPU time, a table in the style
of Table S4 and the plot), ``metrics_vs_parameters.png`` (spike AUC and soma RMSE against
trainable parameters, log x, like Fig. 3) and ``run_info.json`` (the same facts as JSON).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from elm_snn.train.grid import grid_folder, run_points, stderr_line, write_rows_csv
from elm_snn.train.provenance import git_commit, run_info, run_info_markdown, write_run_info

__all__ = [
    "NEURONIO_POINTS",
    "CSV_COLUMNS",
    "aggregate_seeds",
    "point_run_name",
    "results_markdown",
    "reproduce_neuronio",
]

# (point name, family shown in the plot, model, RunConfig overrides)
NEURONIO_POINTS: tuple[tuple[str, str, str, dict[str, Any]], ...] = (
    ("lif", "LIF", "lif", {}),
    ("alif", "ALIF", "alif", {}),
    ("elm-linear-dm1", "ELM, 1 unit, linear", "elm", dict(num_memory=1, mlp_num_layers=0)),
    *(
        (f"elm-dm{d}", "ELM", "elm", dict(num_memory=d, mlp_hidden_size=None))
        for d in (1, 2, 5, 10, 20, 50, 100)
    ),
    (
        "branch-elm-dm20",
        "Branch-ELM",
        "branch-elm",
        dict(num_memory=20, num_branches=45, synapses_per_branch=100, routing="neuronio"),
    ),
    *((f"lstm-h{h}", "LSTM", "lstm", dict(lstm_hidden=h)) for h in (8, 32, 64)),
    # the small TCN (the quick preset's; Beniaguev et al.'s 9.2M-parameter model is the
    # paper preset's tcn_* defaults, too slow for a CPU grid)
    (
        "tcn-small",
        "TCN",
        "tcn",
        dict(tcn_depth=3, tcn_width=16, tcn_kernel_first=10, tcn_kernel=10),
    ),
)

CSV_COLUMNS = (
    "point",
    "seed",
    "family",
    "model",
    "num_memory",
    "num_parameters",
    "test_auc",
    "test_auc_at_0.25pct_fp",
    "test_auc_at_1pct_fp",
    "test_tp_at_0.25pct_fp",
    "test_tp_at_1pct_fp",
    "test_soma_rmse_mv",
    "test_soma_mae_mv",
    "test_soma_explained_variance_percent",
    "test_num_spikes_scored",
    "best_val_loss",
    "epochs_trained",
    "wall_seconds_total",
    "cpu_seconds_total",
)


#: Columns of the results page: (metric key, header, digits); shown as mean +- std over seeds.
_PAGE_METRICS = (
    ("test_auc", "spike AUC", 4),
    ("test_auc_at_1pct_fp", "AUC @ 1% FP", 3),
    ("test_tp_at_1pct_fp", "TP @ 1% FP", 3),
    ("test_soma_rmse_mv", "soma RMSE (mV)", 3),
    ("test_soma_explained_variance_percent", "explained variance (%)", 1),
)


def aggregate_seeds(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per point (in the order of first appearance): every metric of
    :data:`_PAGE_METRICS` and the CPU seconds as the mean over the point's seeds, with
    ``<metric>_std`` (sample standard deviation, n - 1; 0 for one seed), ``seeds`` (the
    seeds) and ``num_seeds``; ``point``, ``family`` and ``num_parameters`` as given."""
    from elm_snn.train.grid import _mean_std
    from elm_snn.viz import _float  # a float, or None for missing / non-finite values

    by_point: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_point.setdefault(str(r["point"]), []).append(r)
    out = []
    for point, runs in by_point.items():
        agg: dict[str, Any] = {
            "point": point,
            "family": runs[0].get("family"),
            "num_parameters": runs[0].get("num_parameters"),
            "seeds": [r.get("seed", 0) for r in runs],
            "num_seeds": len(runs),
        }
        for key in [k for k, _, _ in _PAGE_METRICS] + ["cpu_seconds_total"]:
            values = [v for v in (_float(r.get(key)) for r in runs) if v is not None]
            if values:
                agg[key], agg[f"{key}_std"] = _mean_std(values)
        out.append(agg)
    return out


def _fmt(v: Any, digits: int, std: Any = None) -> str:
    try:
        text = f"{float(v):.{digits}f}"
    except (TypeError, ValueError):
        return "n/a"
    return text if std is None else f"{text} +- {float(std):.{digits}f}"


def results_markdown(
    rows: Sequence[dict[str, Any]], title: str, info: dict[str, Any] | None = None
) -> str:
    """A results page: how it was made (``info``), a Table S4-style table of the points
    (test split; mean +- std over seeds where a point has several) and the Fig. 3-style
    plot. ``rows``: one per run (``point``, ``seed`` and the metrics)."""
    lines = [f"# {title}", ""]
    if info:
        lines += [*run_info_markdown(info, str(info.get("data_description") or "")), ""]
    points = aggregate_seeds(rows)
    several = any(p["num_seeds"] > 1 for p in points)
    lines += [
        "Protocol: every point gets the same data, budget (epochs x windows per epoch) and "
        "batch size; each run keeps the checkpoint with the lowest validation loss and is "
        "evaluated once on the test simulations; nothing is chosen on test."
        + (" Values are mean +- sample std over the seeds (per seed in `results.csv`)."
           if several else ""),
        "",
    ]  # fmt: skip
    header = " | ".join(h for _, h, _ in _PAGE_METRICS)
    lines += [
        f"| point | parameters | {header} | seeds | CPU s per run |",
        "| --- | ---: |" + " ---: |" * len(_PAGE_METRICS) + " ---: | ---: |",
    ]
    for r in points:
        cells = [
            _fmt(r.get(k), d, r.get(f"{k}_std") if r["num_seeds"] > 1 else None)
            for k, _, d in _PAGE_METRICS
        ]
        lines.append(
            f"| {r['point']} | {int(r['num_parameters']):,} | {' | '.join(cells)} | "
            f"{r['num_seeds']} | {_fmt(r.get('cpu_seconds_total'), 0)} |"
        )
    spikes = {int(r["test_num_spikes_scored"]) for r in rows if r.get("test_num_spikes_scored")}
    if spikes:
        lines += ["", f"Output spikes scored in the test split: {sorted(spikes)[0]}."]
    lines += ["", "![spike AUC and soma RMSE against parameters](metrics_vs_parameters.png)"]
    return "\n".join(lines) + "\n"


def _chosen_points(points: Sequence[str] | None) -> list[str]:
    """The names of the points to run (default all); ValueError naming unknown ones."""
    known = [p[0] for p in NEURONIO_POINTS]
    chosen = list(points) if points else known
    unknown = [p for p in chosen if p not in known]
    if unknown:
        raise ValueError(f"points: unknown {unknown}; expected names from {known}")
    return chosen


def _checked_seeds(seeds: Sequence[int]) -> list[int]:
    """``seeds`` as distinct ints; ValueError naming the argument otherwise."""
    try:
        out = [int(s) for s in seeds]
    except (TypeError, ValueError):
        raise ValueError(f"seeds: expected integers, got {seeds!r}") from None
    if not out or len(set(out)) != len(out) or min(out) < 0:
        raise ValueError(f"seeds: expected distinct non-negative integers, got {list(seeds)!r}")
    return out


def _simulated_data(
    sims: int,
    sims_dir: str | os.PathLike | None,
    workers: int,
    log: Callable[[str], None] | None,
    progress: bool,
) -> str | os.PathLike:
    """The folder of ``sims`` NeuronIO-style simulations of 6 s (active cell, data seed 0),
    generated once into ``sims_dir`` (default: the elm-snn cache) and reused after."""
    from elm_snn.synth.neuronio_sim import generate_neuronio_sim

    if sims_dir is None:
        from elm_snn._io import cache_dir

        sims_dir = cache_dir("neuronio_sim", f"sims{int(sims)}-seed0-active")
    generate_neuronio_sim(
        sims_dir,
        int(sims),
        seed=0,
        workers=max(1, workers),
        sims_per_file=8,
        progress=(log or stderr_line) if progress else None,
    )
    return sims_dir


def point_run_name(point: str, seed: int) -> str:
    """The run folder of a point and training seed: ``<point>`` for seed 0 (the grid's
    folders before seeds existed), ``<point>-seed<S>`` for the others."""
    return point if int(seed) == 0 else f"{point}-seed{int(seed)}"


def _point_configs(
    chosen: Sequence[str],
    seeds: Sequence[int],
    preset: str,
    overrides: dict[str, Any] | None,
    data_root: str | os.PathLike,
) -> list[tuple[str, str, int, Any]]:
    """``(run name, point name, seed, RunConfig)`` of each chosen point of
    :data:`NEURONIO_POINTS` and each training seed (points outer, seeds inner)."""
    from elm_snn.tasks import resolve_config

    known = {p[0]: p for p in NEURONIO_POINTS}
    named = []
    for name in chosen:
        _, _, model, extra = known[name]
        for seed in seeds:
            cfg = resolve_config(
                "neuronio",
                model,
                preset,
                **{**(overrides or {}), **extra, "data_root": os.fspath(data_root),
                   "seed": int(seed)},
            )  # fmt: skip
            named.append((point_run_name(name, seed), name, int(seed), cfg))
    return named


def _point_rows(
    named: Sequence[tuple[str, str, int, Any]], results: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One table row per run: its ``metrics.json`` plus ``point``, ``seed``, ``family`` and
    ``num_memory``, with the run's totals of wall and CPU seconds."""
    family = {p[0]: p[1] for p in NEURONIO_POINTS}
    rows = []
    for (_, name, seed, cfg), result in zip(named, results, strict=True):
        row = {
            **result, "point": name, "seed": seed, "family": family[name],
            "num_memory": cfg.num_memory,
        }  # fmt: skip
        for key in ("wall_seconds", "cpu_seconds"):  # runs of older versions lack the totals
            row.setdefault(f"{key}_total", result.get(key))
        rows.append(row)
    return rows


def _data_description(data_root: str | os.PathLike) -> str:
    """``"<n> files, <m> simulations of <ms> ms, <k> inputs"`` of a NeuronIO folder."""
    from elm_snn.data.neuronio_datasets import load_neuronio_files

    files = load_neuronio_files(data_root)
    n_sims = sum(f.num_simulations for f in files)
    return (
        f"{len(files)} files, {n_sims} simulations of {files[0].duration_ms} ms, "
        f"{files[0].num_inputs} inputs"
    )


def reproduce_neuronio(
    out_dir: str | os.PathLike,
    *,
    data_root: str | os.PathLike | None = None,
    sims: int = 128,
    sims_dir: str | os.PathLike | None = None,
    runs_dir: str | os.PathLike | None = None,
    preset: str = "quick",
    points: Sequence[str] | None = None,
    seeds: Sequence[int] = (0,),
    overrides: dict[str, Any] | None = None,
    workers: int = 1,
    reuse: bool = True,
    command: str | None = None,
    log: Any = None,
    overwrite: bool = False,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Fit every point of :data:`NEURONIO_POINTS` (or those named in ``points``), for each
    of ``seeds``, with one budget and write the results (see module docstring).

    Args:
        out_dir: result folder.
        data_root: NeuronIO files; default: ``sims`` generated simulations (data seed 0).
        sims: simulations of 6 s to generate when ``data_root`` is None.
        sims_dir: where to generate them (default: the elm-snn cache).
        runs_dir: folder of the run folders (default ``out_dir/runs``).
        preset: base preset of every point (``"quick"`` or ``"paper"``).
        points: names of the points to run (default all).
        seeds: training seeds of every point (model initialisation, window draws); the
            page gives mean +- std over them, ``results.csv`` one row per run.
        overrides: :class:`~elm_snn.tasks.RunConfig` values for every point (budget...).
        workers: points trained in parallel (one process, one thread each).
        reuse: reuse finished points, resume interrupted ones.
        command: the command line recorded in ``run_info.json``.
        log: progress callable (default: stderr).
        overwrite: write into a folder holding another grid's results
            (:func:`elm_snn.train.grid.grid_folder`).
        progress: progress bars with an ETA on stderr (simulations, runs).

    Returns:
        One row per run (``metrics.json`` plus ``point``/``seed``/``family``), points in
        order, seeds inner.
    """
    # one process per result folder; another grid's folder only with overwrite
    with grid_folder(out_dir, "reproduce neuronio", overwrite):
        chosen = _chosen_points(points)  # checked before generating any data
        seeds = _checked_seeds(seeds)
        if data_root is None:
            data_root = _simulated_data(sims, sims_dir, workers, log, progress)
        named = _point_configs(chosen, seeds, preset, overrides, data_root)
        out = Path(out_dir)
        commit = git_commit()  # the code the runs start with, not what is checked out at the end
        results = run_points(
            [(run, cfg) for run, _, _, cfg in named],
            Path(runs_dir) if runs_dir is not None else out / "runs",
            reuse=reuse,
            workers=workers,
            log=log,
            metric="test_auc",
            progress=progress,
        )
        rows = _point_rows(named, results)
        write_rows_csv(out / "results.csv", rows, CSV_COLUMNS)
        title = f"NeuronIO: Fig. 3 / Table S4 ({preset} preset)"
        info = run_info(
            command, commit, data_root, preset, overrides, results,
            data_description=_data_description(data_root), points=chosen, seeds=list(seeds),
        )  # fmt: skip
        _write_page(out, rows, title, info)
        return rows


def _write_page(out: Path, rows: list[dict[str, Any]], title: str, info: dict[str, Any]) -> None:
    """The plot (mean +- std over seeds), ``results.md`` and ``run_info.json`` in ``out``."""
    from elm_snn._io import atomic_write_text
    from elm_snn.viz import plot_metrics_vs_parameters

    plot_metrics_vs_parameters(
        aggregate_seeds(rows),
        out / "metrics_vs_parameters.png",
        [("test_auc", "spike AUC (test)"), ("test_soma_rmse_mv", "soma RMSE (mV, test)")],
        title=title,
    )
    atomic_write_text(out / "results.md", results_markdown(rows, title, info))
    write_run_info(out, info)
