"""Statistics of ``elm-snn data neuronio-sim`` data, as on its dataset card.

Generates ``--n-sims`` simulations of 6 s (seed 0, 8 per file) of ``--cell``, reads the files
back with the NeuronIO reader and prints JSON with: output rate, spikes per simulation, the
share the official 0-24 spike filter keeps, silent simulations, short inter-spike intervals
(< 10 ms: bursts), soma voltage and voltage capped at -55 mV (after the first 500 ms, as the
evaluation drops it), CPU seconds per simulated second. With ``--ca-sims K`` it also
simulates the first K simulations again while recording the active cell's hot zone
(``tuft[0](0.5)``, 685 um from the soma) and counts Ca2+ spikes there: excursions above
-30 mV lasting >= 10 ms (a back-propagating action potential lasts ~1-2 ms), and those with
at least two somatic spikes from 10 ms before their start to their end (a burst).

Usage::

    OMP_NUM_THREADS=1 python benchmarks/neuronio_sim_stats.py --out /tmp/nio --n-sims 16 \\
        --ca-sims 4 --workers 2
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

CA_THRESHOLD_MV = -30.0
CA_MIN_MS = 10


def file_statistics(
    out: Path, n_sims: int, cell: str, workers: int, ex_weight_us: float | None = None
) -> dict:
    from elm_snn.data.neuronio import read_neuronio_pickle
    from elm_snn.synth.neuronio_sim import (
        MANIFEST_NAME,
        NeuronIOSimConfig,
        generate_neuronio_sim,
    )

    t0 = time.time()
    config = NeuronIOSimConfig(cell=cell, ampa_weight_us=ex_weight_us, nmda_weight_us=ex_weight_us)
    paths = generate_neuronio_sim(
        out, n_sims, seed=0, config=config, workers=workers, sims_per_file=8, progress=print
    )
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    cpu = sum(e["cpu_s"] for e in manifest["files"])
    counts, isis, volts = [], [], []
    for path in paths:
        f = read_neuronio_pickle(path)
        for i in range(f.num_simulations):
            spikes = np.sort(np.asarray(f.output_spike_times(i), dtype=float))
            counts.append(spikes.size)
            isis.append(np.diff(spikes))
            volts.append(np.asarray(f.soma_voltage_mv[i], dtype=float)[500:])
    counts_a = np.array(counts)
    isi = np.concatenate(isis)
    v = np.concatenate(volts)
    capped = np.minimum(v, -55.0)
    seconds = config.n_ms / 1000.0
    in_bursts = sum(int(((np.r_[np.inf, d] < 10) | (np.r_[d, np.inf] < 10)).sum()) for d in isis)
    return dict(
        cell=cell,
        n_sims=int(counts_a.size),
        rate_hz=float(counts_a.sum() / (counts_a.size * seconds)),
        spikes_min_median_max=[
            int(counts_a.min()),
            float(np.median(counts_a)),
            int(counts_a.max()),
        ],
        share_kept_by_0_24_filter=float(np.mean(counts_a <= 24)),
        share_silent=float(np.mean(counts_a == 0)),
        share_isi_below_10ms=float(np.mean(isi < 10)) if isi.size else 0.0,
        share_spikes_in_bursts=float(in_bursts / max(1, int(counts_a.sum()))),
        v_mean_mv=float(v.mean()),
        v_sd_mv=float(v.std()),
        v_percentiles_1_50_99_mv=[float(x) for x in np.percentile(v, [1, 50, 99])],
        capped_mean_mv=float(capped.mean()),
        capped_sd_mv=float(capped.std()),
        share_above_minus55=float(np.mean(v > -55.0)),
        cpu_s_per_simulation=cpu / counts_a.size,
        cpu_s_per_simulated_s=cpu / (counts_a.size * seconds),
        wall_s=time.time() - t0,
    )


def ca_spikes(n_sims: int, ex_weight_us: float | None = None) -> dict:
    """Ca2+ spikes in the active cell's hot zone (see the module docstring)."""
    from neuron import h

    from elm_snn.synth import _neuronio_cell as cell_module
    from elm_snn.synth.neuronio_sim import NeuronIOSimConfig

    config = NeuronIOSimConfig(
        cell="active", ampa_weight_us=ex_weight_us, nmda_weight_us=ex_weight_us
    )
    model = cell_module._get_model(config)
    rec = h.Vector()
    rec.record(model.sections["tuft[0]"](0.5)._ref_v, 1.0)
    per_sim, durations, with_burst, soma_spikes = [], [], 0, []
    for k in range(n_sims):
        result = cell_module.simulate(config, 0, k)
        vd = rec.as_numpy()[: config.n_ms].copy()
        above = vd > CA_THRESHOLD_MV
        starts = np.flatnonzero(above[1:] & ~above[:-1]) + 1
        ends = np.flatnonzero(~above[1:] & above[:-1]) + 1
        spikes = result.output_spike_times_ms
        events = 0
        for s in starts:
            after = ends[ends > s]
            length = int((after[0] if after.size else config.n_ms) - s)
            if length >= CA_MIN_MS:
                events += 1
                durations.append(length)
                with_burst += int(((spikes >= s - 10) & (spikes <= s + length)).sum() >= 2)
        per_sim.append(events)
        soma_spikes.append(int(spikes.size))
    return dict(
        site="tuft[0](0.5), 685 um from the soma",
        ca_spikes_per_simulation=per_sim,
        ca_spike_duration_ms_median=float(np.median(durations)) if durations else None,
        ca_spikes_with_somatic_burst=with_burst,
        soma_spikes_per_simulation=soma_spikes,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="folder for the simulations")
    parser.add_argument("--n-sims", type=int, default=16)
    parser.add_argument("--cell", choices=("active", "passive"), default="active")
    parser.add_argument("--ca-sims", type=int, default=0, help="active cell: Ca2+ spike count")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--ex-weight-us",
        type=float,
        default=None,
        help="AMPA and NMDA peak conductance per input spike (default: the cell's)",
    )
    args = parser.parse_args()
    print(
        json.dumps(
            file_statistics(args.out, args.n_sims, args.cell, args.workers, args.ex_weight_us),
            indent=1,
        )
    )
    if args.ca_sims:
        print(json.dumps(ca_spikes(args.ca_sims, args.ex_weight_us), indent=1))


if __name__ == "__main__":
    main()
