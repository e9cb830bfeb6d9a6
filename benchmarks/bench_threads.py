"""The fused ELM kernel on 1 and 2 threads: train step and forward at B = 8, 16, 32, 64.

Sizes of issue 16 (SHD-Adding at 1 ms bins): ELM(700 inputs, d_m = 100, MLP 200, 19
outputs), T = 1000, 1 % input spikes. A train step is forward + cross-entropy of the last
step + backward. The kernel cuts the batch into ``torch.get_num_threads()`` blocks; each
thread runs the time loops of its block (see ``elm_snn/kernels/_cpp_recurrence.py``).
Threads are set with ``torch.set_num_threads``; the 1- and 2-thread runs alternate
repeat by repeat (so a change of load on a shared machine hits both alike) and the
**wall-clock** medians are compared (CPU time would add up the threads).
``elm_snn.networks.LSTM(700, 250, 19)`` (``nn.LSTM`` + ``Linear``) is measured the same
way for comparison.

Run: ``python benchmarks/bench_threads.py [--batches 8 16 32 64] [--repeats 5]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import torch

from elm_snn import ELM
from elm_snn.networks import LSTM


def _step(model: torch.nn.Module, x: torch.Tensor, target: torch.Tensor, train: bool):
    def run() -> None:
        if train:
            model.zero_grad(set_to_none=True)
            y = model(x)[0]
            torch.nn.functional.cross_entropy(y[-1], target).backward()
        else:
            with torch.no_grad():
                model(x)

    return run


def _alternating(fn: Callable[[], None], threads: tuple[int, ...], repeats: int) -> dict:
    before = torch.get_num_threads()
    wall: dict[int, list[float]] = {n: [] for n in threads}
    try:
        for n in threads:  # warm-up on each thread count
            torch.set_num_threads(n)
            fn()
        for _ in range(repeats):
            for n in threads:
                torch.set_num_threads(n)
                t0 = time.perf_counter()
                fn()
                wall[n].append(1e3 * (time.perf_counter() - t0))
    finally:
        torch.set_num_threads(before)
    return {n: statistics.median(v) for n, v in wall.items()}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[8, 16, 32, 64])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-lstm", action="store_true", help="skip the LSTM comparison")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    elm = ELM(700, 100, 19, mlp_hidden_size=200, dt=1.0, tau_m_init=(1.0, 150.0))
    lstm = LSTM(700, 250, 19)
    gen = torch.Generator().manual_seed(0)
    threads = (1, 2)
    results: dict = {
        "load_avg_before": os.getloadavg(),
        "cpu_count": os.cpu_count(),
        "steps": args.steps,
        "rows": {},
    }
    print(
        f"\n== fused ELM on 1 / 2 threads, T={args.steps}, 700 inputs, 1 % spikes "
        f"(wall ms, median of {args.repeats}, runs alternating; load {os.getloadavg()[0]:.2f})"
    )
    header = f"{'B':>4s} {'model':6s} {'mode':8s} {'1 thread':>9s} {'2 threads':>10s} {'2t/1t':>7s}"
    print(header)
    for batch in args.batches:
        x = (torch.rand(args.steps, batch, 700, generator=gen) < 0.01).float()
        target = torch.randint(0, 19, (batch,), generator=gen)
        row: dict = {}
        models = [("elm", elm)] + ([] if args.no_lstm else [("lstm", lstm)])
        for name, model in models:
            for mode in ("train", "forward"):
                if name == "lstm" and batch not in (16,):
                    continue  # the LSTM only at the target size (its scaling is MKL's)
                times = _alternating(
                    _step(model, x, target, mode == "train"), threads, args.repeats
                )
                ratio = times[2] / times[1]
                row[f"{name}_{mode}"] = {
                    "ms_1": times[1],
                    "ms_2": times[2],
                    "ratio_2_over_1": ratio,
                }
                print(
                    f"{batch:4d} {name:6s} {mode:8s} {times[1]:9.1f} {times[2]:10.1f} {ratio:7.3f}"
                )
        results["rows"][batch] = row
    results["load_avg_after"] = os.getloadavg()
    if 16 in results["rows"]:
        r = results["rows"][16]["elm_train"]["ratio_2_over_1"]
        print(f"  target: ELM train step at B=16, 2 threads / 1 thread = {r:.3f} (target <= 0.7)")
    return results


if __name__ == "__main__":
    main()
