"""NEURON generation rate: CPU seconds per simulated second of the NeuronIO-style cell.

Runs :func:`elm_snn.synth.neuronio_sim.generate_neuronio_sim` (what ``elm-snn data
neuronio-sim`` runs) for ``--n-sims`` simulations of ``--duration-s`` seconds into a
temporary folder with one worker (so everything runs in this process), and measures:

* the CPU time of the whole generation (this process and its children, from
  ``resource.getrusage``: input spike trains, building the cell, the NEURON runs, writing
  the pickle file and its manifest), per simulated second: the generation rate;
* the CPU time of the NEURON runs alone, as recorded per simulation in the manifest;
* the output spike rate of the cell (Hz), a check that the cell fired as it should.

The mechanisms are compiled (or found in the cache) before the clock starts; that one-off
cost is reported separately. Without NEURON (the ``synth`` extra) or ``nrnivmodl`` the
result is ``{"skipped": reason}``.

Run: ``python benchmarks/bench_neuron.py [--n-sims 2] [--duration-s 6] [--cell active]``
(``--quick``: one simulation of 2 s).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import tempfile
import time
from pathlib import Path

QUICK_DURATION_S = 2.0


def _cpu_s() -> float:
    """User + system CPU seconds of this process and of its finished children."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line; ``--quick`` means one simulation of 2 s unless given otherwise."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-sims", type=int, default=None, help="simulations (default 2)")
    parser.add_argument(
        "--duration-s", type=float, default=None, help="simulated seconds each (default 6)"
    )
    parser.add_argument("--cell", default="active", help="'active' (default) or 'passive'")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="one simulation of 2 s")
    args = parser.parse_args(argv)
    if args.n_sims is None:
        args.n_sims = 1 if args.quick else 2
    if args.duration_s is None:
        args.duration_s = QUICK_DURATION_S if args.quick else 6.0
    if args.n_sims < 1 or args.duration_s <= 0:
        parser.error("--n-sims must be >= 1 and --duration-s > 0")
    return args


def skip_reason() -> str | None:
    """Why NEURON cannot run here (``None`` if it can, as far as an import shows)."""
    if importlib.util.find_spec("neuron") is None:
        return "NEURON not installed (the synth extra: pip install 'elm-snn[synth]')"
    return None


def _generate(args: argparse.Namespace) -> dict:
    """Time one generation into a temporary folder; return the raw numbers."""
    from elm_snn.synth.neuronio_sim import NeuronIOSimConfig, generate_neuronio_sim

    config = NeuronIOSimConfig(cell=args.cell, duration_ms=round(1000 * args.duration_s))
    with tempfile.TemporaryDirectory() as tmp:
        w0, c0 = time.perf_counter(), _cpu_s()
        generate_neuronio_sim(tmp, args.n_sims, seed=args.seed, config=config, workers=1)
        cpu, wall = _cpu_s() - c0, time.perf_counter() - w0
        manifest = json.loads((Path(tmp) / "neuronio_sim_manifest.json").read_text())
    files = manifest["files"]
    return {
        "cpu_s": cpu,
        "wall_s": wall,
        "sim_cpu_s": sum(f["cpu_s"] for f in files),
        "output_spikes": sum(f["output_spikes"] for f in files),
        "simulated_s": args.n_sims * config.n_ms / 1000.0,
        "neuron_version": manifest["definition"].get("neuron_version"),
    }


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark, print the rates, return them (or ``{"skipped": reason}``)."""
    args = parse_args(argv)
    reason = skip_reason()
    if reason is None:
        try:
            from elm_snn.synth._nrnmech import compile_mechanisms

            c0 = time.perf_counter()
            compile_mechanisms()
            compile_s = time.perf_counter() - c0
        except (ImportError, RuntimeError) as exc:
            reason = f"NEURON mechanisms unavailable: {exc}"
    if reason is not None:
        print(f"\n== NEURON generation: skipped ({reason})")
        return {"skipped": reason}
    load_before = os.getloadavg()
    raw = _generate(args)
    res = {
        "cell": args.cell,
        "n_sims": args.n_sims,
        "duration_s": args.duration_s,
        "workers": 1,
        "load_avg_before": load_before,
        "load_avg_after": os.getloadavg(),
        "mechanisms_ready_s": compile_s,
        **raw,
        "cpu_s_per_simulated_s": raw["cpu_s"] / raw["simulated_s"],
        "sim_cpu_s_per_simulated_s": raw["sim_cpu_s"] / raw["simulated_s"],
        "output_rate_hz": raw["output_spikes"] / raw["simulated_s"],
    }
    print(
        f"\n== NEURON generation, {args.cell} cell, {args.n_sims} x {args.duration_s:g} s, "
        f"one worker (load {load_before[0]:.2f}):\n"
        f"  generation {res['cpu_s']:.2f} CPU s ({res['wall_s']:.2f} s wall) = "
        f"{res['cpu_s_per_simulated_s']:.2f} CPU s per simulated second "
        f"(NEURON runs alone {res['sim_cpu_s_per_simulated_s']:.2f}); "
        f"output rate {res['output_rate_hz']:.2f} Hz"
    )
    return res


if __name__ == "__main__":
    main()
