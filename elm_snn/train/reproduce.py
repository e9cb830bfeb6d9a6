"""``elm-snn reproduce``: the paper's figures on data you have, as committed result folders.

Usage::

    elm-snn reproduce neuronio --out docs/results/neuronio --workers 2
    elm-snn reproduce neuronio --data-root ~/data/neuronio --preset paper --out results/nio
    elm-snn reproduce shd --out docs/results/shd --workers 2    # Fig. 5: see reproduce_shd

``neuronio`` reproduces Fig. 3 / Table S4 of Spieler et al. (2023): on one NeuronIO-style
data set (real files with ``--data-root``, else ``--sims`` NeuronIO-style NEURON simulations
of 6 s of the default, active cell, data seed 0, made once into ``--sims-dir`` or the elm-snn
cache) it fits, with one training budget for all:

* LIF and ALIF;
* the "fair" ELM of Table S4: one memory unit and linear integration (no hidden MLP layer);
* the ELM with ``d_m`` = 1, 2, 5, 10, 20, 50, 100 (MLP hidden size ``2 d_m``);
* the Branch-ELM of the paper (45 branches x 100 synapses, NeuronIO routing, ``d_m = 20``);
* the LSTM at hidden sizes 8, 32 and 64;
* a small TCN after Beniaguev et al. (2021): 3 causal convolutions of 16 channels, kernels of
  10 ms (209,778 parameters).

Each point is an ordinary run folder ``<runs-dir>/<point>/`` (default ``<out>/runs``; reused
when finished with the same configuration, resumed when interrupted, so the command
continues where it stopped). Written into ``--out``: ``results.csv`` (one row per point),
``results.md`` (a page with the command, git commit, machine, CPU time, a table in the style
of Table S4 and the plot), ``metrics_vs_parameters.png`` (spike AUC and soma RMSE against
trainable parameters, log x, like Fig. 3) and ``run_info.json`` (the same facts as JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["NEURONIO_POINTS", "add_arguments", "reproduce_neuronio", "run_from_args"]

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


def _git_commit() -> str | None:
    try:
        root = Path(__file__).resolve().parents[2]
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def run_info(
    command: str,
    commit: str | None,
    data_root: str | os.PathLike,
    preset: str,
    overrides: dict[str, Any] | None,
    results: Sequence[dict[str, Any]],
    **extra: Any,
) -> dict[str, Any]:
    """The provenance record of a reproduction (``run_info.json``), shared by the targets.

    Args:
        command: the command line that made it.
        commit: :func:`_git_commit` taken before the first run started (what the runs began
            with; the checkout may have moved by the end).
        data_root: the data the runs read.
        preset, overrides: the configuration the grid was resolved with.
        results: every run's ``metrics.json`` (reused runs included), for the totals and
            the count of runs per commit they started at.
        **extra: target-specific keys, inserted after ``data_root``.
    """
    return {
        "command": command,
        "git_commit": commit,
        "machine": _machine(),
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "data_root": os.fspath(data_root),
        **extra,
        "preset": preset,
        "overrides": overrides or {},
        # grid points reused from earlier starts keep the commit they ran at
        "run_commits": dict(
            Counter(str(r.get("git_commit") or "not recorded") for r in results).most_common()
        ),
        # a resumed run's totals cover all its parts; runs of older versions lack them
        "cpu_seconds_total": round(
            sum(float(r.get("cpu_seconds_total") or r.get("cpu_seconds") or 0.0) for r in results),
            1,
        ),
        "wall_seconds_total": round(
            sum(
                float(r.get("wall_seconds_total") or r.get("wall_seconds") or 0.0) for r in results
            ),
            1,
        ),
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


def _fmt(v: Any, digits: int) -> str:
    try:
        return f"{float(v):.{digits}f}"
    except (TypeError, ValueError):
        return "n/a"


def results_markdown(
    rows: Sequence[dict[str, Any]], title: str, info: dict[str, Any] | None = None
) -> str:
    """A results page: how it was made (``info``), a Table S4-style table of the points
    (test split) and the Fig. 3-style plot."""
    lines = [f"# {title}", ""]
    if info:
        lines += [*run_info_markdown(info, str(info.get("data_description") or "")), ""]
    lines += [
        "| point | parameters | spike AUC | AUC @ 1% FP | TP @ 1% FP | soma RMSE (mV) | "
        "explained variance (%) | CPU s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['point']} | {int(r['num_parameters']):,} | {_fmt(r.get('test_auc'), 4)} | "
            f"{_fmt(r.get('test_auc_at_1pct_fp'), 3)} | {_fmt(r.get('test_tp_at_1pct_fp'), 3)} | "
            f"{_fmt(r.get('test_soma_rmse_mv'), 3)} | "
            f"{_fmt(r.get('test_soma_explained_variance_percent'), 1)} | "
            f"{_fmt(r.get('cpu_seconds_total'), 0)} |"
        )
    spikes = {int(r["test_num_spikes_scored"]) for r in rows if r.get("test_num_spikes_scored")}
    if spikes:
        lines += ["", f"Output spikes scored in the test split: {sorted(spikes)[0]}."]
    lines += ["", "![spike AUC and soma RMSE against parameters](metrics_vs_parameters.png)"]
    return "\n".join(lines) + "\n"


def reproduce_neuronio(
    out_dir: str | os.PathLike,
    *,
    data_root: str | os.PathLike | None = None,
    sims: int = 128,
    sims_dir: str | os.PathLike | None = None,
    runs_dir: str | os.PathLike | None = None,
    preset: str = "quick",
    points: Sequence[str] | None = None,
    overrides: dict[str, Any] | None = None,
    workers: int = 1,
    reuse: bool = True,
    command: str | None = None,
    log: Any = None,
    overwrite: bool = False,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Fit every point of :data:`NEURONIO_POINTS` (or those named in ``points``) with one
    budget and write the results (see module docstring).

    Args:
        out_dir: result folder.
        data_root: NeuronIO files; default: ``sims`` generated simulations (data seed 0).
        sims: simulations of 6 s to generate when ``data_root`` is None.
        sims_dir: where to generate them (default: the elm-snn cache).
        runs_dir: folder of the run folders (default ``out_dir/runs``).
        preset: base preset of every point (``"quick"`` or ``"paper"``).
        points: names of the points to run (default all).
        overrides: :class:`~elm_snn.tasks.RunConfig` values for every point (budget...).
        workers: points trained in parallel (one process, one thread each).
        reuse: reuse finished points, resume interrupted ones.
        command: the command line recorded in ``run_info.json``.
        log: progress callable (default: stderr).
        overwrite: write into a folder holding another grid's results
            (:func:`elm_snn.train.compare.grid_folder`).
        progress: progress bars with an ETA on stderr (simulations, runs).

    Returns:
        One row per point (``metrics.json`` plus ``point``/``family``).
    """
    from elm_snn.train.compare import grid_folder

    # one process per result folder; another grid's folder only with overwrite
    with grid_folder(out_dir, "reproduce neuronio", overwrite):
        from elm_snn._io import atomic_write_text
        from elm_snn.tasks import resolve_config
        from elm_snn.train.compare import _stderr_line, run_points, write_rows_csv
        from elm_snn.viz import plot_metrics_vs_parameters

        known = {p[0]: p for p in NEURONIO_POINTS}
        chosen = list(points) if points else list(known)
        unknown = [p for p in chosen if p not in known]
        if unknown:
            raise ValueError(f"points: unknown {unknown}; expected names from {list(known)}")
        if data_root is None:
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
                progress=(log or _stderr_line) if progress else None,
            )
            data_root = sims_dir
        named = []
        for name in chosen:
            _, _, model, extra = known[name]
            cfg = resolve_config(
                "neuronio",
                model,
                preset,
                **{**(overrides or {}), **extra, "data_root": os.fspath(data_root)},
            )
            named.append((name, cfg))
        out = Path(out_dir)
        commit = _git_commit()  # the code the runs start with, not what is checked out at the end
        results = run_points(
            named,
            Path(runs_dir) if runs_dir is not None else out / "runs",
            reuse=reuse,
            workers=workers,
            log=log,
            metric="test_auc",
            progress=progress,
        )
        rows = []
        for (name, cfg), result in zip(named, results, strict=True):
            row = {**result, "point": name, "family": known[name][1], "num_memory": cfg.num_memory}
            for key in ("wall_seconds", "cpu_seconds"):  # runs of older versions lack the totals
                row.setdefault(f"{key}_total", result.get(key))
            rows.append(row)
        write_rows_csv(out / "results.csv", rows, CSV_COLUMNS)
        title = f"NeuronIO: Fig. 3 / Table S4 ({preset} preset)"
        from elm_snn.data.neuronio_datasets import load_neuronio_files

        files = load_neuronio_files(data_root)
        n_sims = sum(f.num_simulations for f in files)
        info = run_info(
            command,
            commit,
            data_root,
            preset,
            overrides,
            results,
            data_description=f"{len(files)} files, {n_sims} simulations of "
            f"{files[0].duration_ms} ms, {files[0].num_inputs} inputs",
            points=chosen,
        )
        plot_metrics_vs_parameters(
            rows,
            out / "metrics_vs_parameters.png",
            [("test_auc", "spike AUC (test)"), ("test_soma_rmse_mv", "soma RMSE (mV, test)")],
            title=title,
        )
        atomic_write_text(out / "results.md", results_markdown(rows, title, info))
        atomic_write_text(out / "run_info.json", json.dumps(info, indent=2) + "\n")
        return rows


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``elm-snn reproduce`` options to ``parser``."""
    parser.add_argument(
        "target",
        choices=("neuronio", "shd"),
        help="which figure: neuronio (Fig. 3 / Table S4) or shd (Fig. 5: SHD and SHD-Adding "
        "against bin size)",
    )
    parser.add_argument("--out", default=None, help="result folder (default runs/reproduce-TARGET)")
    parser.add_argument(
        "--data-root",
        default=None,
        help="NeuronIO files / folder with shd_train.h5 and shd_test.h5 (default: generate)",
    )
    parser.add_argument(
        "--sims", type=int, default=128, help="simulations of 6 s to generate (default 128)"
    )
    parser.add_argument("--sims-dir", default=None, help="where to generate them (default cache)")
    parser.add_argument(
        "--runs-dir", default=None, help="folder of the run folders (default OUT/runs)"
    )
    parser.add_argument("--preset", choices=("quick", "paper"), default="quick")
    parser.add_argument("--points", nargs="+", default=None, help="neuronio: subset of points")
    from elm_snn.train.reproduce_shd import SHD_GRID_DEFAULTS as g

    parser.add_argument(
        "--per-class",
        type=int,
        default=20,
        help="shd: offline spoken digits per class when no --data-root (default 20)",
    )
    parser.add_argument(
        "--tasks", nargs="+", default=list(g["tasks"]), help="shd: tasks (default both)"
    )
    parser.add_argument(
        "--models", nargs="+", default=list(g["models"]), help="shd: models (default all four)"
    )
    parser.add_argument(
        "--bin-sizes",
        nargs="+",
        type=float,
        default=list(g["bin_sizes"]),
        help="shd: bin sizes in ms (default 2 10 20 50 100)",
    )
    parser.add_argument(
        "--extra-seeds",
        nargs="*",
        type=int,
        default=list(g["extra_seeds"]),
        help="shd: seeds besides 0 for the ELM and LSTM at --seeds-bin (default 1 2)",
    )
    parser.add_argument(
        "--seeds-bin",
        type=float,
        default=g["seeds_bin"],
        help="shd: bin size of the extra seeds (default 10 ms)",
    )
    parser.add_argument(
        "--skip",
        nargs="*",
        default=[],
        metavar="[TASK/]MODEL:BIN",
        help="shd: leave out these points, [TASK/]MODEL:BIN_MS, e.g. snn:2 shd-adding/lstm:2 "
        "(budget)",
    )
    parser.add_argument("--max-epochs", type=int, default=None, help="training epochs")
    parser.add_argument(
        "--train-samples", type=int, default=None, help="training windows / samples per epoch"
    )
    parser.add_argument("--workers", type=int, default=1, help="points trained in parallel")
    parser.add_argument("--no-reuse", action="store_true", help="retrain finished points")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="write into a folder holding another grid's results (refused without it)",
    )
    parser.add_argument("--verbose", action="store_true", help="show Lightning's info messages")
    parser.add_argument("--quiet", action="store_true", help="no progress bars or per-run lines")


def _parse_skip(items: Sequence[str]) -> list[tuple[str | None, str, float]]:
    """``["snn:2", "shd-adding/lstm:2"]`` -> ``[(None, "snn", 2.0), ("shd-adding", "lstm",
    2.0)]``; ValueError naming ``--skip``."""
    out = []
    for item in items:
        where, sep, b = str(item).rpartition(":")
        task, _, model = where.rpartition("/")
        try:
            bin_ms = float(b)
        except ValueError:
            sep = ""
        if not sep or not model or task not in ("", "shd", "shd-adding"):
            raise ValueError(
                f"--skip: expected [TASK/]MODEL:BIN_MS such as snn:2 or shd-adding/lstm:2, "
                f"got {item!r}"
            )
        out.append((task or None, model, bin_ms))
    return out


def run_from_args(args: argparse.Namespace) -> int:
    """Run ``elm-snn reproduce``; prints the markdown table; returns the exit status."""
    from elm_snn.train.run import quiet_lightning

    quiet_lightning(args.verbose)
    overrides: dict[str, Any] = {"progress_bar": False, "accelerator": "cpu"}
    if args.max_epochs is not None:
        overrides["max_epochs"] = args.max_epochs
    if args.train_samples is not None:
        overrides["train_samples_per_epoch"] = args.train_samples
    command = "elm-snn " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    out = args.out or f"runs/reproduce-{args.target}"
    if args.target == "shd":
        from elm_snn.train.reproduce_shd import reproduce_shd

        reproduce_shd(
            out,
            data_root=args.data_root,
            per_class=args.per_class,
            runs_dir=args.runs_dir,
            preset=args.preset,
            tasks=args.tasks,
            models=args.models,
            bin_sizes=args.bin_sizes,
            extra_seeds=args.extra_seeds,
            seeds_bin=args.seeds_bin,
            skip=_parse_skip(args.skip),
            overrides=overrides,
            workers=args.workers,
            reuse=not args.no_reuse,
            command=command,
            overwrite=args.overwrite,
            progress=not args.quiet,
        )
        print(Path(out, "results.md").read_text())
        return 0
    reproduce_neuronio(
        out,
        data_root=args.data_root,
        sims=args.sims,
        sims_dir=args.sims_dir,
        runs_dir=args.runs_dir,
        preset=args.preset,
        points=args.points,
        overrides=overrides,
        workers=args.workers,
        reuse=not args.no_reuse,
        command=command,
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    print(Path(out, "results.md").read_text())
    return 0
