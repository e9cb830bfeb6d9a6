"""Where a spoken digit's CPU time goes, stage by stage, and the fast cochlea's speed-up.

For a few real eSpeak NG utterances of the offline generator (``elm-snn data spoken-digits``,
700 channels, SHD's cochlea) it times, as CPU seconds of this process (``process_time``),
median over interleaved repeats:

* the pipeline stages: eSpeak is timed for the whole batch (its own processes), then per
  utterance: preparing the audio (trim, resample, pad); the reference path stage by stage
  (basilar membrane by complex inverse FFT, hair cells, fibres, bushy cells, raster ->
  spike list); the fast path's two parts (the basilar membrane by real inverse FFTs of the
  Hermitian spectra, a block of channels at a time, and the fused stages 4-5) and the whole
  fast path (:meth:`Cochlea.__call__`, what generator version 3 runs); and
  :meth:`Cochlea.legacy_spikes` (what ``--generator-version 2`` runs to remake earlier
  files). Transfer matrices are cached beforehand;
* the ratios reference / fast and legacy / fast of the whole cochlea, and the SHD-sized
  set's cost extrapolated from the mean per utterance (10,420 utterances, 2 worker
  processes, a perfectly shared machine: a lower bound on the wall time).

It checks on the way that the fused stages 4-5 give the reference stages' spikes bit for
bit on the same velocity, and prints how many spikes the fast basilar membrane's rounding
moved against the all-reference path (the tests pin both). Ratios from one run are what
to quote: the absolute times move with the machine's load.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_cochlea.py [--utterances 6] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _cpu(fn, *args):  # noqa: ANN001, ANN202 - a timing helper
    t0 = time.process_time()
    out = fn(*args)
    return time.process_time() - t0, out


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark, print a table, return the numbers."""
    import numpy as np

    from elm_snn.synth._utterances import (
        COCHLEA_RATE_HZ,
        MAX_FORMANT_SCALE,
        _Jitter,
        _plan,
        _prepare_audio,
        _speak,
    )
    from elm_snn.synth.cochlea import Cochlea
    from elm_snn.synth.spoken_digits import SHD_NUM_TEST, SHD_NUM_TRAIN, default_speakers

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--utterances", type=int, default=6, help="utterances timed")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats")
    args = parser.parse_args(argv)

    speakers = default_speakers(12, 0)
    plan = _plan({"train": [1] * 20, "test": [1] * 20}, speakers, [10, 11], 0,
                 _Jitter(0.06, 5, 0.06))[: args.utterances]  # fmt: skip
    t0 = time.perf_counter()
    audio, rate, speech_cpu = _speak(plan, speakers, 1)
    speech_wall = time.perf_counter() - t0
    cochlea = Cochlea(700, max_frequency_hz=MAX_FORMANT_SCALE * rate / 2, disk_cache=True)
    names = ("prepare", "basilar membrane", "hair cells", "fibres", "bushy cells",
             "spike list", "reference (all)", "fast basilar membrane", "fast stages 4-5",
             "fused (all)", "legacy (all)")  # fmt: skip
    clips = [_prepare_audio(audio[i], rate, 40.0, u.formant_scale) for i, u in enumerate(plan)]
    for clip, u in zip(clips, plan, strict=True):  # warm up: compile, build matrices
        cochlea(clip, COCHLEA_RATE_HZ, u.cochlea_seed)
        cochlea.legacy_spikes(clip, COCHLEA_RATE_HZ, u.cochlea_seed)
    per_rep: dict[str, list[float]] = {k: [] for k in names}
    moved = total_spikes = 0
    for rep in range(args.repeats):
        sums = dict.fromkeys(names, 0.0)
        for i, u in enumerate(plan):
            seed = u.cochlea_seed
            dt, clip = _cpu(_prepare_audio, audio[i], rate, 40.0, u.formant_scale)
            sums["prepare"] += dt
            x = cochlea.preprocess(clip)
            dt, (velocity, out_rate) = _cpu(cochlea.basilar_membrane, x, COCHLEA_RATE_HZ)
            sums["basilar membrane"] += dt
            dt, prob = _cpu(cochlea.hair_cell, velocity, out_rate)
            sums["hair cells"] += dt
            dt, counts = _cpu(cochlea.auditory_nerve, prob, out_rate, seed)
            sums["fibres"] += dt
            dt, raster = _cpu(cochlea.bushy_cells, counts, out_rate)
            sums["bushy cells"] += dt
            dt, (steps, units) = _cpu(np.nonzero, raster.T)
            sums["spike list"] += dt
            dt, ref = _cpu(cochlea.reference_spikes, clip, COCHLEA_RATE_HZ, seed)
            sums["reference (all)"] += dt
            dt, blocks = _cpu(lambda x=x: list(cochlea._fast_velocity(x, COCHLEA_RATE_HZ)))
            sums["fast basilar membrane"] += dt
            dt, _ = _cpu(cochlea._fused_spikes, blocks, velocity.shape[1], out_rate, seed)
            sums["fast stages 4-5"] += dt
            dt, fast = _cpu(cochlea, clip, COCHLEA_RATE_HZ, seed)
            sums["fused (all)"] += dt
            dt, _ = _cpu(cochlea.legacy_spikes, clip, COCHLEA_RATE_HZ, seed)
            sums["legacy (all)"] += dt
            if rep == 0:
                same = cochlea._fused_spikes([(0, velocity)], velocity.shape[1], out_rate, seed)
                if not (np.array_equal(same.steps, steps) and np.array_equal(same.units, units)):
                    raise AssertionError(f"utterance {i}: fused and reference stages differ")
                a = set(zip(ref.steps.tolist(), ref.units.tolist(), strict=True))
                b = set(zip(fast.steps.tolist(), fast.units.tolist(), strict=True))
                moved += len(a ^ b)
                total_spikes += len(a)
        for k, v in sums.items():
            per_rep[k].append(v / len(plan))
    result = {k: statistics.median(v) for k, v in per_rep.items()}
    result["speech_cpu_s_per_utterance"] = speech_cpu / len(plan)
    result["speech_wall_s_per_utterance"] = speech_wall / len(plan)
    ratio = result["reference (all)"] / result["fused (all)"]
    legacy_ratio = result["legacy (all)"] / result["fused (all)"]
    per_utt = result["prepare"] + result["fused (all)"]
    total = SHD_NUM_TRAIN + SHD_NUM_TEST
    mean_ms = np.mean([c.size for c in clips]) / 48
    print(f"{len(plan)} utterances, {args.repeats} interleaved repeats, CPU s per utterance "
          f"(median; mean clip {mean_ms:.0f} ms at 48 kHz):")  # fmt: skip
    for k in names:
        print(f"  {k:<22} {result[k]:.4f}")
    print(f"  eSpeak (own process) {result['speech_cpu_s_per_utterance']:.4f} CPU, "
          f"{result['speech_wall_s_per_utterance']:.4f} wall")  # fmt: skip
    print(f"reference / fast cochlea: {ratio:.2f}x; legacy (generator version 2) / fast: "
          f"{legacy_ratio:.2f}x; fused stages 4-5 = reference stages bit for bit; the fast "
          f"basilar membrane moved {moved} of {total_spikes} spikes")  # fmt: skip
    print(f"SHD-sized set ({total} utterances) at {per_utt:.3f} CPU-s each: "
          f"{total * per_utt / 60:.0f} CPU-min, >= {total * per_utt / 2 / 60:.0f} min on 2 "
          "workers")  # fmt: skip
    result["reference_over_fused"] = ratio
    result["legacy_over_fused"] = legacy_ratio
    result["spikes_moved"] = moved
    result["spikes_compared"] = total_spikes
    result["shd_sized_cpu_minutes"] = total * per_utt / 60
    return result


if __name__ == "__main__":
    main()
