"""``elm-snn data pathfinder``: offline Pathfinder images in LRA's folder + metadata layout."""

from __future__ import annotations

import argparse
import json

from elm_snn.lra.pathfinder import DIFFICULTIES, RESOLUTIONS, PathfinderConfig, generate_pathfinder

__all__ = ["add_arguments", "run_from_args"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``elm-snn data pathfinder`` options to ``parser``."""
    parser.add_argument("--out", required=True, help="output folder (pathfinder{R}/... inside)")
    parser.add_argument(
        "--resolution", type=int, choices=RESOLUTIONS, default=32, help="image side (default 32)"
    )
    parser.add_argument(
        "--difficulty",
        choices=tuple(DIFFICULTIES),
        default="hard",
        help="paddles per target contour: easy 6, medium 9, hard 14 (default, LRA's)",
    )
    parser.add_argument("--num", type=int, default=2000, help="images (default 2000)")
    parser.add_argument("--per-folder", type=int, default=1000, help="images per imgs/ folder")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--force", action="store_true", help="regenerate even if up to date")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run_from_args(args: argparse.Namespace) -> int:
    """Run ``elm-snn data pathfinder``; returns the exit status."""
    cfg = PathfinderConfig(
        resolution=args.resolution,
        difficulty=args.difficulty,
        num_images=args.num,
        per_folder=args.per_folder,
        seed=args.seed,
    )
    manifest = generate_pathfinder(args.out, cfg, force=args.force, progress=not args.quiet)
    print(json.dumps(manifest, indent=2))
    return 0
