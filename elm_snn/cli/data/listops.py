"""``elm-snn data listops``: an offline ListOps set (LRA's rules) in LRA's TSV layout."""

from __future__ import annotations

import argparse
import json

from elm_snn.lra.listops import ListOpsConfig, generate_listops

__all__ = ["add_arguments", "run_from_args"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``elm-snn data listops`` options to ``parser``."""
    d = ListOpsConfig()
    parser.add_argument("--out", required=True, help="output folder for basic_*.tsv")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--num-train", type=int, default=d.num_train, help="training samples")
    parser.add_argument("--num-val", type=int, default=d.num_val, help="validation samples")
    parser.add_argument("--num-test", type=int, default=d.num_test, help="test samples")
    parser.add_argument(
        "--min-length", type=int, default=d.min_length, help="shortest tree length (LRA 500)"
    )
    parser.add_argument(
        "--max-length", type=int, default=d.max_length, help="longest tree length (LRA 2000)"
    )
    parser.add_argument("--max-depth", type=int, default=d.max_depth, help="nesting (LRA 10)")
    parser.add_argument(
        "--max-args", type=int, default=d.max_args, help="arguments per operator (LRA 10)"
    )
    parser.add_argument("--force", action="store_true", help="regenerate even if up to date")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run_from_args(args: argparse.Namespace) -> int:
    """Run ``elm-snn data listops``; returns the exit status."""
    cfg = ListOpsConfig(
        num_train=args.num_train,
        num_val=args.num_val,
        num_test=args.num_test,
        min_length=args.min_length,
        max_length=args.max_length,
        max_depth=args.max_depth,
        max_args=args.max_args,
        seed=args.seed,
    )
    manifest = generate_listops(args.out, cfg, force=args.force, progress=not args.quiet)
    print(json.dumps(manifest, indent=2))
    return 0
