"""How should the E/I network's sparse synapses be evaluated? Dense-masked vs sparse forms.

Measures, at batch 8, 700 inputs, 19 outputs (481 recurrent neurons, 100 synapses each):

1. the input projection (no recurrence, done once for all steps): a dense
   ``(T B, 700) x (700, 481)`` matmul vs ``torch.sparse.mm`` with the 48,100-entry
   COO matrix (13% dense);
2. the whole :class:`elm_snn.networks.EISNN` with ``backend="dense"`` (own-layer synapses
   scattered into a dense 481 x 481 matrix, one matmul per step) vs ``backend="gather"``
   (padded per-neuron index table, one gather per step), forward and forward+backward.

Run (one thread, as the CPU test machines): ``OMP_NUM_THREADS=1 python
benchmarks/bench_eisnn_sparse.py [--steps 200 1000] [--repeats 3]``. Prints the median time
of each variant in ms and the ratios, all measured in this run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from elm_snn.networks.eisnn import EISNN


def _median_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def bench_input_projection(steps: int, batch: int, repeats: int) -> dict[str, float]:
    """Dense vs ``torch.sparse.mm`` input projection, forward+backward, in ms."""
    net = EISNN(700, 19)
    x = (torch.rand(steps * batch, 700) < 0.02).float()
    layer = net.rec
    n_in = net.num_inputs

    def dense() -> None:
        w = layer.dense()[:, :n_in]
        (x @ w.t()).sum().backward()

    mask = layer.src < n_in
    rows = torch.arange(layer.num_neurons).unsqueeze(1).expand_as(layer.src)[mask]
    cols = layer.src[mask]

    def sparse() -> None:
        w = layer.weights()[mask]
        m = torch.sparse_coo_tensor(
            torch.stack([rows, cols]), w, (layer.num_neurons, n_in), check_invariants=False
        )
        torch.sparse.mm(m, x.t()).sum().backward()

    return {"dense": _median_ms(dense, repeats), "sparse_mm": _median_ms(sparse, repeats)}


def bench_network(steps: int, batch: int, repeats: int) -> dict[str, float]:
    """EISNN forward and forward+backward per backend, in ms."""
    x = (torch.rand(steps, batch, 700) < 0.02).float()
    out: dict[str, float] = {}
    for backend in ("dense", "gather"):
        net = EISNN(700, 19, backend=backend, dt=2.0)

        def fwd(net: EISNN = net) -> None:
            with torch.no_grad():
                net(x)

        def fwd_bwd(net: EISNN = net) -> None:
            y, _ = net(x)
            (y[-1].sum() + net.spike_penalty()).backward()

        out[f"{backend} fwd"] = _median_ms(fwd, repeats)
        out[f"{backend} fwd+bwd"] = _median_ms(fwd_bwd, repeats)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[200, 1000])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, batch {args.batch}")
    for steps in args.steps:
        proj = bench_input_projection(steps, args.batch, args.repeats)
        print(
            f"T={steps} input projection fwd+bwd: dense {proj['dense']:.1f} ms, "
            f"sparse.mm {proj['sparse_mm']:.1f} ms "
            f"(sparse/dense {proj['sparse_mm'] / proj['dense']:.2f})"
        )
        net = bench_network(steps, args.batch, args.repeats)
        print(f"T={steps} EISNN: " + ", ".join(f"{k} {v:.1f} ms" for k, v in net.items()))
        print(
            f"T={steps} gather/dense: fwd {net['gather fwd'] / net['dense fwd']:.2f}, "
            f"fwd+bwd {net['gather fwd+bwd'] / net['dense fwd+bwd']:.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
