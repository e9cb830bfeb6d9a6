"""End-to-end ELM training throughput on SHD-Adding against the training step alone.

For bin sizes 1, 2 and 10 ms (T = 2000, 1000, 200 steps per pair) this trains the paper's
SHD-Adding ELM (d_m = 100, batch 8) through :func:`elm_snn.train.engine.train` (the code
behind ``elm-snn train``: Lightning, the DataLoader in the main process, the binned-digit
cache, collation, input dropout, Adamax) once with dense frame batches
(``input_format="dense"``) and once with sparse batches (``"sparse"``), and measures the
training epoch's samples/s (from the end of the first batch to the end of the last, so
data loading, the step and Lightning's bookkeeping are all in; validation and test are
not). "Step only" is the same model's training step (input dropout, forward,
cross-entropy, backward, Adamax step) on one ready sparse batch, repeated ``--repeats``
times after a warm-up (samples over total time, like the end-to-end rate). The data are
SHD-layout files of random spikes at SHD's density (~8000 spikes per 1 s digit over 700
channels, ~1.1 % of the 1 ms bins), written to a temporary folder.

Run: ``python benchmarks/bench_e2e.py [--bins 1 2 10] [--batches 12]`` (one thread).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def _write_data(root: Path, n_train: int, n_test: int, spikes: int) -> None:
    from elm_snn.data.shd_format import write_shd_file

    rng = np.random.default_rng(0)
    for name, n in (("shd_train.h5", n_train), ("shd_test.h5", n_test)):
        times = [np.sort(rng.uniform(0.0, 0.999, spikes)) for _ in range(n)]
        units = [rng.integers(0, 700, spikes) for _ in range(n)]
        labels = np.arange(n) % 20
        write_shd_file(root / name, times, units, labels, np.arange(n) % 10, time_dtype="float32")


def _config(root: Path, bin_ms: float, batches: int, input_format: str):
    from elm_snn.tasks import resolve_config

    return resolve_config(
        "shd-adding",
        "elm",
        "paper",
        data_root=str(root),
        bin_size_ms=bin_ms,
        max_epochs=1,
        train_samples_per_epoch=8 * batches,
        val_samples=8,
        test_samples=8,
        batch_size=8,
        eval_batch_size=8,
        progress_bar=False,
        accelerator="cpu",
        input_format=input_format,
    )


class _EpochTimer:
    """Lightning callback: wall time from the end of the first training batch to the end
    of the last, and the samples in between."""

    def __init__(self) -> None:
        self.start: float | None = None
        self.end = 0.0
        self.samples = 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        now = time.perf_counter()
        if self.start is None:
            self.start = now
            return
        self.end = now
        self.samples += int(batch[1].shape[0])

    def rate(self) -> float:
        assert self.start is not None and self.samples > 0
        return self.samples / (self.end - self.start)


def _end_to_end(root: Path, bin_ms: float, batches: int, input_format: str, out: Path) -> float:
    from lightning.pytorch.callbacks import Callback

    from elm_snn.train.engine import train

    timer = _EpochTimer()
    callback = type("_Timer", (Callback,), {"on_train_batch_end": timer.on_train_batch_end})()
    train(_config(root, bin_ms, batches, input_format), out, callbacks=[callback], overwrite=True)
    return timer.rate()


def _step_only(root: Path, bin_ms: float, repeats: int) -> float:
    from elm_snn.data.adding import SHDAdding
    from elm_snn.data.sparse import SparseAddingPairs, collate_sparse
    from elm_snn.tasks.models import build_model

    cfg = _config(root, bin_ms, 1, "sparse")
    ds = SparseAddingPairs(SHDAdding(root, "train", bin_size_ms=bin_ms, pairs_per_epoch=8))
    x, y = collate_sparse([ds[i] for i in range(8)])
    torch.manual_seed(0)
    model = build_model(cfg, 700, 19, x.shape[0])
    model.train()
    opt = torch.optim.Adamax(model.parameters(), lr=cfg.lr)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x)[-1], y).backward()
        opt.step()

    step()
    t0 = time.perf_counter()
    for _ in range(repeats):
        step()
    return 8 * repeats / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bins", type=float, nargs="+", default=[1.0, 2.0, 10.0])
    parser.add_argument("--batches", type=int, default=12, help="training batches of 8")
    parser.add_argument("--repeats", type=int, default=7, help="repeats of the step-only time")
    args = parser.parse_args(argv)
    from elm_snn.train.quiet import quiet_lightning

    quiet_lightning(verbose=False)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    results: dict = {"load_avg_before": os.getloadavg(), "threads": 1, "bins": {}}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "shd"
            root.mkdir()
            _write_data(root, n_train=120, n_test=20, spikes=8000)
            cache = Path(tmp) / "cache"
            old_cache = os.environ.get("ELM_SNN_CACHE")
            os.environ["ELM_SNN_CACHE"] = str(cache)
            try:
                for bin_ms in args.bins:
                    row = {
                        "step_only": _step_only(root, bin_ms, args.repeats),
                        "dense": _end_to_end(root, bin_ms, args.batches, "dense", Path(tmp) / "d"),
                        "sparse": _end_to_end(
                            root, bin_ms, args.batches, "sparse", Path(tmp) / "s"
                        ),
                    }
                    for fmt in ("dense", "sparse"):
                        row[f"{fmt}_over_step"] = row[fmt] / row["step_only"]
                    results["bins"][bin_ms] = row
            finally:
                if old_cache is None:
                    os.environ.pop("ELM_SNN_CACHE", None)
                else:
                    os.environ["ELM_SNN_CACHE"] = old_cache
    finally:
        torch.set_num_threads(before)
    results["load_avg_after"] = os.getloadavg()
    print(
        f"\n== SHD-Adding ELM training throughput, batch 8, one thread, samples/s "
        f"({args.batches} batches per run; load {results['load_avg_before'][0]:.2f})"
    )
    print(
        f"{'bin':>6s} {'T':>5s} {'step only':>10s} {'e2e dense':>10s} {'e2e sparse':>11s} "
        f"{'dense/step':>11s} {'sparse/step':>12s}"
    )
    for bin_ms, r in results["bins"].items():
        print(
            f"{bin_ms:5g}ms {int(2000 / bin_ms):5d} {r['step_only']:10.1f} {r['dense']:10.1f} "
            f"{r['sparse']:11.1f} {r['dense_over_step']:11.3f} {r['sparse_over_step']:12.3f}"
        )
    if 1.0 in results["bins"]:
        r = results["bins"][1.0]["sparse_over_step"]
        print(f"  target: end-to-end / step only at 1 ms bins = {r:.3f} (target >= 0.8)")
    return results


if __name__ == "__main__":
    main()
