"""``elm-snn demo`` (``make demo``): ELM vs LSTM vs E/I SNN on SHD-Adding from offline
spoken digits, CPU only; what it does is :mod:`elm_snn.train.demo`.

Usage::

    elm-snn demo                       # defaults: DEMO_DEFAULTS
    elm-snn demo --bin-sizes 20 50 --models elm lstm --epochs 10 --out runs/demo-small
    elm-snn demo --data-seed 3 --models elm lstm  # the same on another generated data set
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from elm_snn.train.demo import DEMO_DEFAULTS  # no torch at import

__all__ = ["add_arguments", "run_from_args"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``elm-snn demo`` options to ``parser``."""
    d = DEMO_DEFAULTS
    parser.add_argument("--models", nargs="+", default=list(d["models"]), help="models")
    parser.add_argument(
        "--bin-sizes", nargs="+", type=float, default=list(d["bin_sizes"]), help="bin sizes (ms)"
    )
    parser.add_argument(
        "--per-class",
        type=int,
        default=d["per_class"],
        help=f"generated training utterances per class (default {d['per_class']})",
    )
    parser.add_argument("--epochs", type=int, default=d["epochs"], help="epochs per model")
    parser.add_argument(
        "--train-samples", type=int, default=d["train_samples"], help="training pairs per epoch"
    )
    parser.add_argument(
        "--readout",
        choices=("last", "mean", "sum", "max"),
        default=d["readout"],
        help="logits from every model's last output step (default, the paper's) or its "
        "mean/sum/max over time",
    )
    parser.add_argument(
        "--validation-split",
        choices=("sample", "speaker"),
        default=d["validation_split"],
        help="validation: held-out training speakers (default; 2 of 10 voices, "
        f"{d['val_samples']} pairs) or random training samples",
    )
    parser.add_argument(
        "--data-seed",
        type=int,
        default=d["data_seed"],
        help="seed of the generated spoken digits (default 0; another seed generates and "
        "caches another data set of the same size)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of every run (default 0)")
    parser.add_argument("--out", default="runs/demo", help="output folder (default runs/demo)")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="runs trained in parallel, one process and one thread each (default: CPU cores, "
        "at most 4)",
    )
    parser.add_argument("--verbose", action="store_true", help="show Lightning's info messages")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def _spoken_digits(per_class: int, data_seed: int) -> Path:
    """Step 1: the offline spoken digits, generated once and then reused from the cache."""
    from elm_snn.tasks.shd import synthetic_spoken_digits

    print("[1/3] spoken digits (generated once, then reused from the cache) ...", flush=True)
    t0 = time.perf_counter()
    try:
        root = synthetic_spoken_digits(per_class, seed=data_seed)
    except (ValueError, TypeError, RuntimeError, OSError) as exc:
        raise RuntimeError(f"could not generate the spoken digits: {exc}") from exc
    print(f"      data in {root} ({time.perf_counter() - t0:.0f} s)", flush=True)
    return root


def _announce(args: argparse.Namespace) -> None:
    """The demo's first line: models, bins, budget, readouts and validation."""
    from elm_snn.tasks import resolve_config

    readout = getattr(args, "readout", DEMO_DEFAULTS["readout"])
    validation_split = getattr(args, "validation_split", DEMO_DEFAULTS["validation_split"])
    quick = {m: resolve_config("shd-adding", m, "quick", synthetic=True) for m in args.models}
    readouts = ", ".join(
        f"{m} {readout or c.readout}" + (f" x {c.logit_scale:g}" if c.logit_scale != 1 else "")
        for m, c in quick.items()
    )
    splits = {validation_split or c.validation_split for c in quick.values()}
    print(
        f"elm-snn demo: SHD-Adding, models {', '.join(args.models)}, bin sizes "
        f"{', '.join(f'{b:g}' for b in args.bin_sizes)} ms, {args.epochs} epochs x "
        f"{args.train_samples} pairs, seed {args.seed}, data seed {_data_seed(args)}, "
        f"readout: {readouts}; validation by {', '.join(sorted(splits))}",
        flush=True,
    )


def _data_seed(args: argparse.Namespace) -> int:
    return int(getattr(args, "data_seed", DEMO_DEFAULTS["data_seed"]))


def _overrides(args: argparse.Namespace, root: Path) -> dict:
    """The runs' settings beyond the quick preset: the demo's data, budget and protocol."""
    d = DEMO_DEFAULTS
    overrides = dict(
        data_root=str(root),
        max_epochs=args.epochs,
        train_samples_per_epoch=args.train_samples,
        progress_bar=False,
        accelerator="cpu",
        readout=getattr(args, "readout", d["readout"]),
        validation_split=getattr(args, "validation_split", d["validation_split"]),
    )
    if overrides["validation_split"] == "speaker":
        overrides.update(validation_fraction=d["validation_fraction"], val_samples=d["val_samples"])
    return overrides


def run_from_args(args: argparse.Namespace) -> int:
    """Run the demo; prints progress, the results table and an honest summary."""
    from elm_snn.train.quiet import quiet_lightning

    quiet_lightning(args.verbose)
    start = time.perf_counter()
    from elm_snn.train.compare import compare
    from elm_snn.train.demo import demo_figure, majority_baseline, summary_lines

    # errors are reported on one line (exit status 2) by elm_snn.cli.errors
    _announce(args)
    t0 = time.perf_counter()
    root = _spoken_digits(args.per_class, _data_seed(args))
    t_data = time.perf_counter() - t0
    workers = args.workers or max(1, min(4, os.cpu_count() or 1))
    print(f"[2/3] training and testing ({workers} runs at a time) ...", flush=True)
    overrides = _overrides(args, root)
    rows = compare(
        "shd-adding",
        args.models,
        args.bin_sizes,
        [args.seed],
        preset="quick",
        out_dir=args.out,
        overrides=overrides,
        workers=workers,
        progress=not getattr(args, "quiet", False),
    )
    print("[3/3] results (test accuracy on held-out pairs of unseen speakers)\n", flush=True)
    print(Path(args.out, "results.md").read_text())
    chance = 1.0 / 19.0
    majority = majority_baseline(root)
    for line in summary_lines(rows, args.bin_sizes, chance, majority, _data_seed(args)):
        print(line)
    print(f"figure: {demo_figure(rows, args.out, chance, majority)}")
    cpu = sum(float(r.get("cpu_seconds") or 0.0) for r in rows)
    print(f"training and testing CPU time: {cpu:.0f} s over {len(rows)} runs")
    total = time.perf_counter() - start
    print(f"\nwall time: {total:.0f} s (data {t_data:.0f} s); table, plot and runs in {args.out}/")
    return 0
