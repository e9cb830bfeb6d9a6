"""Trainable parameter counts of the paper's baseline configurations (and the ELM's).

Paper: LSTM (hidden 250) on SHD-Adding ~956K, E/I SNN ~51K, LIF 1280 on NeuronIO
(Table S4), ELM d_m=100 on SHD-Adding ~186K (Fig. 5; our ``ELM(700, 100, 19)``).

``--timing`` also measures the cost of the LSTM's recurrent dropout (DropConnect on the
hidden-to-hidden weights, fused kernel kept) against no dropout: forward+backward at
T=250, B=8, 700 inputs, hidden 250 (SHD at 4 ms bins), median of ``--repeats`` runs.

Run: ``OMP_NUM_THREADS=1 python benchmarks/param_counts.py [--timing]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from elm_snn import ELM
from elm_snn.networks import EISNN, LSTM, ChronoLSTM
from elm_snn.neurons.lif import ALIF, LIF


def count(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def table() -> list[tuple[str, int, str]]:
    """``(model, count, paper)`` rows."""
    return [
        ("LIF(1278) NeuronIO", count(LIF(1278)), "1280 (Table S4)"),
        ("ALIF(1278) NeuronIO", count(ALIF(1278)), "not given"),
        ("EISNN(700, 19) SHD-Adding", count(EISNN(700, 19)), "51K"),
        ("EISNN(700, 20) SHD", count(EISNN(700, 20)), "51K"),
        ("LSTM(700, 250, 19) SHD-Adding", count(LSTM(700, 250, 19)), "956K"),
        ("ChronoLSTM(700, 250, 19)", count(ChronoLSTM(700, 250, 19, t_max_ms=2000.0)), "-"),
        ("ELM(700, 100, 19) SHD-Adding", count(ELM(700, 100, 19)), "186K (Fig. 5)"),
    ]


def time_recurrent_dropout(repeats: int) -> dict[float, float]:
    """Median forward+backward time in ms per recurrent dropout probability."""
    x = (torch.rand(250, 8, 700) < 0.02).float()
    result = {}
    for p in (0.0, 0.3):
        torch.manual_seed(0)
        model = LSTM(700, 250, 19, recurrent_dropout=p)
        times = []
        for i in range(repeats + 1):
            t0 = time.perf_counter()
            y, _ = model(x)
            y[-1].sum().backward()
            if i:  # first run is warm-up
                times.append((time.perf_counter() - t0) * 1e3)
        result[p] = statistics.median(times)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timing", action="store_true", help="time the recurrent dropout")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"{'model':34s} {'params':>10s}  paper")
    for name, n, paper in table():
        print(f"{name:34s} {n:>10,d}  {paper}")
    if args.timing:
        t = time_recurrent_dropout(args.repeats)
        print(
            f"LSTM fwd+bwd T=250 B=8: no dropout {t[0.0]:.1f} ms, recurrent dropout 0.3 "
            f"{t[0.3]:.1f} ms (ratio {t[0.3] / t[0.0]:.2f})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
