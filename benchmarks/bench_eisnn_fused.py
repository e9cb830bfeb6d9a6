"""E/I SNN train step: the fused loop (``backend="fused"``) against the autograd reference
(``"dense"``) and against the fused ELM, at the SHD-Adding sizes of issue 16.

Sizes: 700 inputs, T = 1000 steps, 1 % input spikes, batch 16; E/I SNN of the paper
(500 neurons x 100 synapses, 19 outputs); ELM with d_m = 100 (as the paper on SHD-Adding).
A train step is forward + the classification loss on the last step + the SNN's L1 spike
penalty + backward. Times are process CPU time (``time.process_time``) of one thread,
median of ``--repeats``, so other jobs on a shared machine disturb them less than wall time;
the ratios are measured in one run.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_eisnn_fused.py [--steps 1000] [--batch 16]``
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

import elm_snn
from elm_snn.networks.eisnn import EISNN


def _median_cpu_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up (and the C++ kernel build of the ELM on first use)
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        times.append((time.process_time() - t0) * 1e3)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    x = (torch.rand(args.steps, args.batch, 700) < 0.01).float()
    target = torch.randint(0, 19, (args.batch,))

    def snn_step(net: EISNN) -> Callable[[], None]:
        def step() -> None:
            net.zero_grad(set_to_none=True)
            y, _ = net(x)
            loss = torch.nn.functional.cross_entropy(y[-1], target) + net.spike_penalty()
            loss.backward()

        return step

    fused = EISNN(700, 19, backend="fused", dt=1.0)
    dense = EISNN(700, 19, backend="dense", dt=1.0)
    dense.load_state_dict(fused.state_dict())
    elm = elm_snn.ELM(700, 100, 19, dt=1.0)

    def elm_step() -> None:
        elm.zero_grad(set_to_none=True)
        y, _ = elm(x)
        torch.nn.functional.cross_entropy(y[-1], target).backward()

    res = {
        "snn_fused_ms": _median_cpu_ms(snn_step(fused), args.repeats),
        "snn_dense_ms": _median_cpu_ms(snn_step(dense), args.repeats),
        "elm_fused_ms": _median_cpu_ms(elm_step, args.repeats),
    }
    res["snn_fused_over_dense"] = res["snn_fused_ms"] / res["snn_dense_ms"]
    res["snn_fused_over_elm"] = res["snn_fused_ms"] / res["elm_fused_ms"]
    res["snn_dense_over_elm"] = res["snn_dense_ms"] / res["elm_fused_ms"]
    print(
        f"train step, B={args.batch}, T={args.steps}, 700 inputs, 1 % spikes, one thread "
        f"(CPU ms, median of {args.repeats}):"
    )
    print(f"  E/I SNN fused      {res['snn_fused_ms']:9.1f}")
    print(f"  E/I SNN reference  {res['snn_dense_ms']:9.1f}")
    print(f"  ELM d_m=100 fused  {res['elm_fused_ms']:9.1f}")
    print(
        f"  ratios: SNN fused / reference {res['snn_fused_over_dense']:.2f}, "
        f"SNN fused / ELM {res['snn_fused_over_elm']:.2f} (target <= 4), "
        f"SNN reference / ELM {res['snn_dense_over_elm']:.2f}"
    )
    return res


if __name__ == "__main__":
    main()
