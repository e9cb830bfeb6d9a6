"""``elm-snn data spoken-digits``: an offline spoken-digit spike set in SHD's HDF5 layout
(:func:`elm_snn.synth.spoken_digits.generate_spoken_digits`)."""

from __future__ import annotations

import argparse
import json

from elm_snn.synth._spoken_digits_config import (
    GENERATOR_VERSIONS,
    SHD_NUM_TEST,
    SHD_NUM_TRAIN,
    SpokenDigitsConfig,
)

__all__ = ["add_arguments", "run_from_args"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``elm-snn data spoken-digits`` options to ``parser``."""
    parser.add_argument("--out", required=True, help="output folder for shd_train.h5 / shd_test.h5")
    parser.add_argument(
        "--per-class",
        type=int,
        default=20,
        help="training utterances per class (default 20: 400 train + 100 test samples)",
    )
    parser.add_argument(
        "--test-per-class",
        type=int,
        default=None,
        help="test utterances per class (default: per-class / 4, at least 1)",
    )
    parser.add_argument(
        "--num-train",
        type=int,
        default=None,
        help="total training samples instead of --per-class (split evenly over the classes)",
    )
    parser.add_argument(
        "--num-test", type=int, default=None, help="total test samples instead of --test-per-class"
    )
    parser.add_argument(
        "--shd-sized",
        action="store_true",
        help=f"SHD's size: {SHD_NUM_TRAIN} train / {SHD_NUM_TEST} test samples (about 25 "
        "CPU-minutes, ~13 min on 2 idle cores; resumable if interrupted)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    parser.add_argument("--speakers", type=int, default=12, help="number of speakers (default 12)")
    parser.add_argument(
        "--test-speakers", type=int, default=2, help="held-out test-only speakers (default 2)"
    )
    parser.add_argument(
        "--channels", type=int, default=700, help="cochlea channels (default 700, as SHD)"
    )
    parser.add_argument(
        "--generator-version",
        type=int,
        choices=GENERATOR_VERSIONS,
        default=GENERATOR_VERSIONS[-1],
        help="3 (default): the fast cochlea; 2: the files of elm-snn before version 3, bit "
        "for bit (same statistics, other spikes; ~4x the CPU time)",
    )
    parser.add_argument("--force", action="store_true", help="regenerate even if up to date")
    parser.add_argument("--quiet", action="store_true", help="no progress messages")


def run_from_args(args: argparse.Namespace) -> int:
    """Run ``elm-snn data spoken-digits``; returns the exit status (0 on success)."""
    from elm_snn.synth.spoken_digits import generate_spoken_digits

    config = SpokenDigitsConfig(
        per_class=args.per_class,
        seed=args.seed,
        test_per_class=args.test_per_class,
        num_train=SHD_NUM_TRAIN if args.shd_sized else args.num_train,
        num_test=SHD_NUM_TEST if args.shd_sized else args.num_test,
        num_speakers=args.speakers,
        test_speakers=args.test_speakers,
        num_channels=args.channels,
        generator_version=args.generator_version,
    )
    summary = generate_spoken_digits(
        args.out, config, workers=args.workers, force=args.force, progress=not args.quiet
    )
    info = {
        "train": str(summary.train_path),
        "test": str(summary.test_path),
        "num_train": summary.num_train,
        "num_test": summary.num_test,
        "reused": summary.reused,
        "stats": summary.stats,
        "timing": summary.timing,
    }
    print(json.dumps(info, indent=2))
    return 0
