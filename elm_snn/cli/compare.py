"""``elm-snn compare``: a grid of runs (models x bin sizes x seeds) with a table and a plot.

Usage::

    elm-snn compare --task shd-adding --models elm lstm snn --bin-sizes 10 50 \\
        --seeds 0 1 --synthetic --preset quick --out runs/compare

Writes into ``--out`` what :func:`elm_snn.train.compare.compare` writes: one run folder per
grid point (reused when finished, resumed when interrupted), ``results.csv``,
``results.md``, ``<metric>_vs_bin_size.png`` and ``run_info.json``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from elm_snn.cli.options import TASK_CHOICES, add_common_arguments, config_overrides

__all__ = ["add_arguments", "run_from_args"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``elm-snn compare`` options to ``parser``."""
    parser.add_argument("--task", required=True, choices=TASK_CHOICES, help="experiment")
    parser.add_argument("--models", nargs="+", required=True, help="model names")
    parser.add_argument(
        "--bin-sizes",
        nargs="+",
        type=float,
        default=[None],
        help="bin sizes in ms (default: the preset's)",
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=[0], help="seeds (default 0)")
    parser.add_argument("--out", default=None, help="output folder (default runs/compare-<task>)")
    parser.add_argument(
        "--no-reuse", action="store_true", help="retrain grid points that already finished"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="write into a folder holding another grid's results (refused without it)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="grid points trained in parallel, one process and one thread each (CPU)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar and no per-run lines")
    add_common_arguments(parser)


def run_from_args(args: argparse.Namespace) -> int:
    """Run ``elm-snn compare``; prints the markdown table; returns the exit status."""
    from elm_snn.train.quiet import quiet_lightning

    quiet_lightning(args.verbose)
    from elm_snn.train.compare import compare

    out = args.out or f"runs/compare-{args.task}"
    compare(
        args.task,
        args.models,
        args.bin_sizes,
        args.seeds,
        preset=args.preset,
        out_dir=out,
        # --quiet silences the runs' own Lightning bars as well as the grid's
        overrides={**config_overrides(args), **({"progress_bar": False} if args.quiet else {})},
        reuse=not args.no_reuse,
        workers=args.workers,
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    print(Path(out, "results.md").read_text())
    print(f"results: {out}/results.csv, {out}/results.md", file=sys.stderr)
    return 0
