"""The fused ELM on a GPU: PyTorch loops, CUDA-graph capture, reference loop, nn.LSTM.

On a CUDA device (``--device cuda``, the default when one is available) this times, at
the sizes of issue 16 (ELM(700, d_m = 100, MLP 200, 19 outputs), T = 1000, 1 % spikes,
batch 16), a forward pass and a train step (forward + cross-entropy of the last step +
backward) of

* ``fused``: the fused kernel's device-agnostic PyTorch loops (``backend="fused"``);
* ``fused+graph``: the same with the time loops captured as CUDA graphs
  (:func:`elm_snn.kernels.step_capture`);
* ``reference``: the per-step reference loop (``backend="reference"``);
* ``lstm``: ``elm_snn.networks.LSTM(700, 250, 19)``, i.e. ``nn.LSTM`` + ``Linear`` (cuDNN),

with ``torch.cuda.synchronize`` around each timed call (median of ``--repeats``), and
prints the ratios fused / reference and fused / LSTM. Without a CUDA device it prints
that it skipped and returns ``{"skipped": reason}`` (CI never needs a GPU); ``--device cpu``
runs the same script on CPU tensors as a smoke test.

Run: ``python benchmarks/bench_device.py [--batch 16] [--steps 1000] [--repeats 5]``
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from elm_snn import ELM
from elm_snn.kernels import step_capture
from elm_snn.networks import LSTM


def _timed(fn: Callable[[], None], repeats: int, sync: Callable[[], None]) -> float:
    fn()
    fn()  # warm-up (graph capture happens on the first captured call)
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(1e3 * (time.perf_counter() - t0))
    return statistics.median(times)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None, help="default: cuda when available")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    if args.device is None and not torch.cuda.is_available():
        reason = f"no CUDA device here (torch {torch.__version__}); nothing measured"
        print(f"\n== fused ELM on a GPU: skipped: {reason}")
        return {"skipped": reason}
    device = torch.device(args.device or "cuda")
    # --device cpu: a smoke run of this script (capture is a no-op on CPU tensors)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    torch.manual_seed(0)
    x = (torch.rand(args.steps, args.batch, 700, device=device) < 0.01).float()
    target = torch.randint(0, 19, (args.batch,), device=device)

    def make(backend: str) -> ELM:
        torch.manual_seed(0)
        model = ELM(700, 100, 19, mlp_hidden_size=200, dt=1.0, backend=backend)
        return model.to(device)

    models: dict[str, tuple[torch.nn.Module, str | None]] = {
        "fused": (make("fused"), None),
        "fused+graph": (make("fused"), "cuda_graph"),
        "reference": (make("reference"), None),
        "lstm": (LSTM(700, 250, 19).to(device), None),
    }
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else str(device)
    out: dict = {"device": name, "batch": args.batch}
    for name, (model, capture) in models.items():

        def forward(model=model) -> None:
            with torch.no_grad():
                model(x)

        def train(model=model) -> None:
            model.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(model(x)[0][-1], target).backward()

        with step_capture(capture):
            out[name] = {
                "forward_ms": _timed(forward, args.repeats, sync),
                "train_ms": _timed(train, args.repeats, sync),
            }
    # the captured and uncaptured fused paths compute the same thing
    with torch.no_grad():
        plain = models["fused"][0](x)[0]
        with step_capture("cuda_graph"):
            captured = models["fused+graph"][0](x)[0]
    out["graph_max_abs_diff"] = float((plain - captured).abs().max())
    ratios = {}
    for fused in ("fused", "fused+graph"):
        for other in ("reference", "lstm"):
            for mode in ("forward", "train"):
                key = f"{mode}: {fused} / {other}"
                ratios[key] = out[fused][f"{mode}_ms"] / out[other][f"{mode}_ms"]
    out["ratios"] = ratios
    print(f"\n== fused ELM on {out['device']}, B={args.batch}, T={args.steps} (ms, median)")
    for name in models:
        print(
            f"  {name:12s} forward {out[name]['forward_ms']:9.2f}  "
            f"train {out[name]['train_ms']:9.2f}"
        )
    for key, value in ratios.items():
        print(f"  {key:32s} {value:7.3f}")
    print(f"  captured vs plain outputs: max |diff| {out['graph_max_abs_diff']:.2e}")
    return out


if __name__ == "__main__":
    main()
