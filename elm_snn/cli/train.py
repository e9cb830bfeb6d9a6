"""``elm-snn train``: train one task/model/bin size and evaluate it on the test split.

Usage::

    elm-snn train --task shd-adding --model elm --synthetic --preset quick
    elm-snn train --task shd --model lstm --bin-size 10 --data-root ~/data/shd --seed 1
    elm-snn train --task neuronio --model branch-elm --data-root ~/data/neuronio \\
        --devices 4 --strategy ddp
    elm-snn train ... --out runs/my-run --resume       # continue after an interruption

Torch and Lightning load when a run starts, not at import.
"""

from __future__ import annotations

import argparse
import json
import sys

from elm_snn.cli.options import TASK_CHOICES, add_common_arguments, config_overrides

__all__ = ["add_arguments", "run_from_args"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``elm-snn train`` options to ``parser``."""
    parser.add_argument("--task", required=True, choices=TASK_CHOICES, help="experiment")
    parser.add_argument(
        "--model",
        required=True,
        help="shd/shd-adding: elm, branch-elm, lstm, chrono-lstm, snn, norse-lif, norse-lsnn; "
        "neuronio: elm, branch-elm, lif, alif, lstm, tcn, norse-lif, norse-lsnn; "
        "listops/text/retrieval/image/pathfinder/pathfinder-x: elm, branch-elm, chrono-lstm, lstm",
    )
    parser.add_argument(
        "--bin-size",
        type=float,
        default=None,
        help="bin size = dt in ms (SHD tasks; default: preset's, 2 paper / 10 quick)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    parser.add_argument(
        "--out", default=None, help="run folder (default runs/<task>-<model>-bin<B>ms-...)"
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out from its last finished epoch (checkpoints/last.ckpt)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the run already in --out (without it, a folder holding a finished or "
        "unfinished run is refused)",
    )
    parser.add_argument(
        "--resume-from",
        default=None,
        metavar="CKPT",
        help="continue from this checkpoint (e.g. checkpoints/interrupted.ckpt)",
    )
    add_common_arguments(parser)


def run_from_args(args: argparse.Namespace) -> int:
    """Run ``elm-snn train``; prints the metrics as JSON; returns the exit status."""
    from elm_snn.train.quiet import quiet_lightning

    quiet_lightning(args.verbose)  # before Lightning's import warns
    from elm_snn.tasks import resolve_config
    from elm_snn.train.engine import default_run_dir, train

    if args.overwrite and (args.resume or args.resume_from):
        raise ValueError("--overwrite: cannot be combined with --resume / --resume-from")
    # every error (and SIGINT/SIGTERM) is reported on one line by elm_snn.cli.errors
    cfg = resolve_config(
        args.task,
        args.model,
        args.preset,
        bin_size_ms=args.bin_size,
        seed=args.seed,
        **config_overrides(args),
    )
    out = args.out or str(default_run_dir(cfg))
    result = train(
        cfg,
        out,
        resume=args.resume,
        resume_from=args.resume_from,
        overwrite=args.overwrite,
    )
    print(json.dumps(result, indent=2, sort_keys=True))
    print(f"run folder: {out}", file=sys.stderr)
    return 0
