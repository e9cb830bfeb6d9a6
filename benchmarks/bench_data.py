"""Loading speed of SHD-Adding: samples per second at 1 ms and 10 ms bins.

Modes (each on the same pairs):

* ``no-cache``: every item reads both digits from the HDF5 file and bins them (``cache=None``);
* ``cold``: empty cache; includes binning the whole file once (``build_s``) and then serving
  the pairs (samples/s = pairs / (build + serve));
* ``warm``: cache in memory; serving only;
* ``disk``: empty memory cache, ``.npz`` disk cache present (load + serve);
* ``warm+collate``: warm items stacked into time-major batches of 8 with ``collate_frames``.

Also printed: the warm cache's time per item and its speed-up over ``no-cache`` (a ratio,
less sensitive to the machine's load than a time).

Without ``--shd-dir`` a SHD-layout file with random events at SHD-like statistics (5-15k spikes
per sample over ~0.6-1.3 s, float16 times) is generated in a temporary folder.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_data.py --out bench_data.json
    python benchmarks/bench_data.py --shd-dir ~/data --pairs 2000 --out real.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def make_fake_shd(folder: Path, num_samples: int, seed: int = 0) -> Path:
    """Write ``folder/shd_train.h5`` with SHD-like random events; return the folder."""
    from elm_snn.data import write_shd_file

    rng = np.random.default_rng(seed)
    times, units = [], []
    for _ in range(num_samples):
        k = int(rng.integers(5000, 15000))
        length = rng.uniform(0.6, 1.3)
        times.append(np.sort(rng.uniform(0.0, length, k)))
        # cochlea-like: activity concentrated on a band of channels
        centre = rng.uniform(100, 600)
        units.append(np.clip(rng.normal(centre, 120, k), 0, 699).astype(np.int64))
    labels = rng.integers(0, 20, num_samples)
    speakers = rng.integers(0, 10, num_samples)
    write_shd_file(folder / "shd_train.h5", times, units, labels, speakers)
    return folder


def _serve(ds, n: int) -> float:
    t0 = time.perf_counter()
    for i in range(n):
        ds[i]
    return time.perf_counter() - t0


def bench(shd_dir: Path, bin_ms: float, pairs: int, nocache_pairs: int) -> dict:
    """Measure every mode at one bin size; return a dict of results."""
    from elm_snn.data import SHDAdding, collate_frames
    from elm_snn.data.cache import clear_memory_cache

    res: dict = {"bin_size_ms": bin_ms, "pairs": pairs}
    ds = SHDAdding(shd_dir, "train", bin_size_ms=bin_ms, pairs_per_epoch=pairs, cache=None)
    dt = _serve(ds, nocache_pairs)
    res["no-cache"] = nocache_pairs / dt

    clear_memory_cache()
    ds = SHDAdding(shd_dir, "train", bin_size_ms=bin_ms, pairs_per_epoch=pairs, cache="disk")
    t0 = time.perf_counter()
    cache = ds.prepare()
    build = time.perf_counter() - t0
    serve = _serve(ds, pairs)
    res["build_s"] = build
    res["cold"] = pairs / (build + serve)
    res["warm"] = pairs / _serve(ds, pairs)
    res["cache_mb"] = (cache.indices.nbytes + cache.counts.nbytes) / 2**20
    res["digits_in_file"] = len(cache)

    clear_memory_cache()
    ds = SHDAdding(shd_dir, "train", bin_size_ms=bin_ms, pairs_per_epoch=pairs, cache="disk")
    t0 = time.perf_counter()
    ds.prepare()
    load = time.perf_counter() - t0
    res["disk_load_s"] = load
    res["disk"] = pairs / (load + _serve(ds, pairs))

    t0 = time.perf_counter()
    for s in range(0, pairs - 7, 8):
        collate_frames([ds[i] for i in range(s, s + 8)])
    res["warm+collate"] = (pairs // 8 * 8) / (time.perf_counter() - t0)
    # what tests/data/test_adding.py once asserted with a wall-clock bound (now reported)
    res["warm_ms_per_item"] = 1000.0 / res["warm"]
    res["warm_speedup_vs_no_cache"] = res["warm"] / res["no-cache"]
    return res


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shd-dir", type=Path, default=None, help="folder with shd_train.h5")
    parser.add_argument("--num-samples", type=int, default=1000, help="digits in a generated file")
    parser.add_argument("--pairs", type=int, default=2000, help="pairs timed per mode")
    parser.add_argument("--nocache-pairs", type=int, default=300, help="pairs timed uncached")
    parser.add_argument("--bins", type=float, nargs="+", default=[1.0, 10.0])
    parser.add_argument("--out", type=Path, default=None, help="write results as JSON here")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("ELM_SNN_CACHE", str(Path(tmp) / "cache"))
        if args.shd_dir is None:
            t0 = time.perf_counter()
            shd_dir = make_fake_shd(Path(tmp) / "shd", args.num_samples)
            print(
                f"generated {args.num_samples} SHD-like digits in {time.perf_counter() - t0:.1f} s"
            )
            source = f"generated ({args.num_samples} digits, 5-15k spikes each)"
        else:
            shd_dir = args.shd_dir
            source = str(shd_dir)
        results = [bench(shd_dir, b, args.pairs, args.nocache_pairs) for b in args.bins]

    modes = ["no-cache", "cold", "warm", "disk", "warm+collate"]
    print(f"\nSHD-Adding samples/s (source: {source}; {args.pairs} pairs per mode)")
    print(f"{'bin ms':>7} | " + " | ".join(f"{m:>12}" for m in modes) + " | build s | cache MB")
    for r in results:
        row = " | ".join(f"{r[m]:12.0f}" for m in modes)
        print(f"{r['bin_size_ms']:7g} | {row} | {r['build_s']:7.2f} | {r['cache_mb']:8.1f}")
    for r in results:
        print(
            f"warm cache at {r['bin_size_ms']:g} ms bins: {r['warm_ms_per_item']:.3f} ms per item, "
            f"{r['warm_speedup_vs_no_cache']:.1f}x the uncached rate"
        )
    info = {
        "source": source,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "results": results,
    }
    if args.out is not None:
        from elm_snn._io import atomic_write_text

        atomic_write_text(args.out, json.dumps(info, indent=2))
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
