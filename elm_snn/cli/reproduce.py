"""``elm-snn reproduce``: the paper's figures on data you have, as committed result folders.

Usage::

    elm-snn reproduce neuronio --out docs/results/neuronio --workers 2
    elm-snn reproduce neuronio --data-root ~/data/neuronio --preset paper --out results/nio
    elm-snn reproduce shd --out docs/results/shd --workers 2

``neuronio``: Fig. 3 / Table S4 (:func:`elm_snn.train.reproduce_neuronio.reproduce_neuronio`);
``shd``: Fig. 5, SHD and SHD-Adding against bin size
(:func:`elm_snn.train.reproduce_shd.reproduce_shd`). Their module docstrings say what is
trained and written.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from elm_snn.train.reproduce_shd import SHD_GRID_DEFAULTS as g  # no torch at import

__all__ = ["add_arguments", "run_from_args"]


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
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=[0],
        help="neuronio: training seeds of every point (default 0); the page gives mean +- std",
    )

    _add_shd_arguments(parser)
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


def _add_shd_arguments(parser: argparse.ArgumentParser) -> None:
    """The options only ``elm-snn reproduce shd`` reads."""
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
    from elm_snn.train.quiet import quiet_lightning

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
    from elm_snn.train.reproduce_neuronio import reproduce_neuronio

    reproduce_neuronio(
        out,
        data_root=args.data_root,
        sims=args.sims,
        sims_dir=args.sims_dir,
        runs_dir=args.runs_dir,
        preset=args.preset,
        points=args.points,
        seeds=args.seeds,
        overrides=overrides,
        workers=args.workers,
        reuse=not args.no_reuse,
        command=command,
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    print(Path(out, "results.md").read_text())
    return 0
