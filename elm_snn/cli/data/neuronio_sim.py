"""``elm-snn data neuronio-sim``: NeuronIO-style data simulated with NEURON, written in the
NeuronIO pickle layout (:func:`elm_snn.synth.neuronio_sim.generate_neuronio_sim`)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from elm_snn.synth._neuronio_config import CELLS, MANIFEST_NAME, NeuronIOSimConfig

__all__ = ["add_arguments", "run_from_args"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``elm-snn data neuronio-sim`` to ``parser``."""
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--cell",
        choices=CELLS,
        default="active",
        help="active: L5PC-like cell with the channels of Hay et al. 2011 (default); "
        "passive: passive dendrites, hh at soma and axon (the cell before issue 24)",
    )
    parser.add_argument("--n-sims", type=int, default=128, help="number of simulations")
    parser.add_argument(
        "--duration-s", type=float, default=6.0, help="seconds per simulation (whole ms)"
    )
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--seed", type=int, default=0, help="global random seed")
    parser.add_argument(
        "--sims-per-file", type=int, default=128, help="simulations per file (real data: 128)"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace data of a different definition in --out (only files in its manifest)",
    )
    parser.add_argument("--quiet", action="store_true", help="print only the final summary")


def run_from_args(args: argparse.Namespace) -> int:
    """Run ``elm-snn data neuronio-sim`` with parsed arguments; return the exit code."""
    from elm_snn.synth.neuronio_sim import generate_neuronio_sim

    config = NeuronIOSimConfig(cell=args.cell, duration_ms=round(args.duration_s * 1000.0, 6))
    t0 = time.perf_counter()
    paths = generate_neuronio_sim(
        args.out,
        args.n_sims,
        seed=args.seed,
        config=config,
        workers=args.workers,
        sims_per_file=args.sims_per_file,
        overwrite=args.overwrite,
        progress=None if args.quiet else (lambda msg: print(msg, file=sys.stderr)),
    )
    manifest = json.loads((Path(args.out) / MANIFEST_NAME).read_text(encoding="utf-8"))
    spikes = sum(e["output_spikes"] for e in manifest["files"])
    cpu = sum(e["cpu_s"] for e in manifest["files"])
    print(
        f"{len(paths)} file(s), {args.n_sims} simulations of {config.n_ms} ms in {args.out} "
        f"({time.perf_counter() - t0:.1f} s now); output rate "
        f"{spikes / (args.n_sims * config.n_ms / 1000.0):.2f} Hz; "
        f"{cpu / args.n_sims:.2f} CPU s per simulation when generated"
    )
    return 0
