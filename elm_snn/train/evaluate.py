"""``elm-snn eval``: evaluate a checkpoint written by ``elm-snn train``.

Usage::

    elm-snn eval --checkpoint runs/shd-adding-elm-bin10ms-quick-seed0/checkpoints/last.ckpt
    elm-snn eval --checkpoint best.ckpt --data-root ~/data/shd --split validation --out m.json

The model, task and preprocessing come from the configuration stored in the checkpoint.
"""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["add_arguments", "run_from_args"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``elm-snn eval`` options to ``parser``."""
    parser.add_argument("--checkpoint", required=True, help=".ckpt file written by elm-snn train")
    parser.add_argument(
        "--data-root", default=None, help="data folder (default: the one used for training)"
    )
    parser.add_argument(
        "--split", choices=("test", "validation"), default="test", help="split (default test)"
    )
    parser.add_argument("--task", default=None, help="fail unless the checkpoint is for this task")
    parser.add_argument("--model", default=None, help="fail unless the checkpoint holds this model")
    parser.add_argument("--out", default=None, help="also write the metrics to this JSON file")
    parser.add_argument("--accelerator", default="auto", help="cpu, gpu, auto (default auto)")
    parser.add_argument("--verbose", action="store_true", help="show Lightning's info messages")


def run_from_args(args: argparse.Namespace) -> int:
    """Run ``elm-snn eval``; prints the metrics as JSON; returns the exit status."""
    from elm_snn.train.run import quiet_lightning

    quiet_lightning(args.verbose)
    from elm_snn.train.engine import CheckpointMismatchError, evaluate

    try:
        result = evaluate(
            args.checkpoint,
            data_root=args.data_root,
            split=args.split,
            out_json=args.out,
            accelerator=args.accelerator,
            expect_task=args.task,
            expect_model=args.model,
        )
    except (FileNotFoundError, ValueError, CheckpointMismatchError) as exc:
        print(f"elm-snn: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2, sort_keys=True))
    return 0
