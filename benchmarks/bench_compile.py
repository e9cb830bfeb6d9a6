"""``torch.compile`` against eager for the ELM layer: compile time, forward, training step.

Model: ``nn.Sequential``-like stack ``Linear(I, H) -> ELM(H, d_m, O)`` (the ELM inside a
network, as users compile it), at the SHD-Adding size (I = 700, H = 128, d_m = 100, MLP 200,
19 outputs, batch 8, T = 200, 2 % spikes) and a small one (ELM(12, 6, 4), T = 100, batch 4).
Under ``torch.compile`` the fused ELM kernel is one custom operator whose backward recomputes
the forward (see ``elm_snn/kernels/_library.py``), so a compiled training step runs the
kernel's forward twice; this measures what that costs against what compiling the rest of
the graph gains.

Prints, per size: the first compiled call (compilation included), then the medians of
``--repeats`` timed calls, eager and compiled alternating, of the forward (``no_grad``) and
the training step
(forward + cross-entropy of the last step + backward), and the ratios compiled / eager.

Usage: ``python benchmarks/bench_compile.py [--repeats 5] [--quick] [--backend inductor]
[--threads 1]``
(also ``python benchmarks/run.py --only compile``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import elm_snn  # noqa: E402

SIZES = {
    "small": dict(inputs=12, hidden=12, memory=6, outputs=4, steps=100, batch=4, p=0.2),
    "shd-adding": dict(inputs=700, hidden=128, memory=100, outputs=19, steps=200, batch=8, p=0.02),
}


def _model(size: dict) -> nn.Module:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Linear(size["inputs"], size["hidden"])
            self.elm = elm_snn.ELM(size["hidden"], size["memory"], size["outputs"], dt=5.0)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.elm(self.linear(x))[0]

    return Net()


def _alternating_ms(first, second, repeats: int) -> tuple[float, float]:
    """Medians (ms) of ``repeats`` calls of each, alternating, so that a change of load on a
    shared machine hits both alike."""
    first()  # warm-up (and, compiled, any recompilation)
    second()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for fn, out in ((first, times[0]), (second, times[1])):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times[0]), 1e3 * statistics.median(times[1])


def _bench(size: dict, repeats: int, backend: str) -> dict:
    torch.manual_seed(0)
    model = _model(size)
    x = (torch.rand(size["steps"], size["batch"], size["inputs"]) < size["p"]).float()
    target = torch.randint(0, size["outputs"], (size["batch"],))
    torch._dynamo.reset()
    compiled = torch.compile(model, backend=backend)

    def forward(net):
        def run() -> None:
            with torch.no_grad():
                net(x)

        return run

    def train(net):
        def run() -> None:
            model.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(net(x)[-1], target).backward()

        return run

    start = time.perf_counter()
    train(compiled)()
    first_train_s = time.perf_counter() - start
    start = time.perf_counter()
    forward(compiled)()
    first_forward_s = time.perf_counter() - start
    result = {"first_compiled_train_s": first_train_s, "first_compiled_forward_s": first_forward_s}
    for mode, make in (("forward", forward), ("train", train)):
        eager_ms, compiled_ms = _alternating_ms(make(model), make(compiled), repeats)
        result[mode] = {
            "eager_ms": eager_ms,
            "compiled_ms": compiled_ms,
            "compiled_over_eager": compiled_ms / eager_ms,
        }
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats (median)")
    parser.add_argument("--quick", action="store_true", help="the small size only, 2 repeats")
    parser.add_argument("--backend", default="inductor", help="torch.compile backend")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (default 1: on a shared machine, OpenMP threads waiting for a "
        "descheduled peer turn milliseconds into hundreds)",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    sizes = ["small"] if args.quick else list(SIZES)
    repeats = 2 if args.quick else args.repeats
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, backend "
        f"{args.backend}, median of {repeats}"
    )
    results = {}
    for name in sizes:
        r = _bench(SIZES[name], repeats, args.backend)
        results[name] = r
        print(
            f"{name}: first compiled call {r['first_compiled_train_s']:.1f} s (train step, "
            f"compilation included), {r['first_compiled_forward_s']:.1f} s (forward)"
        )
        for mode in ("forward", "train"):
            m = r[mode]
            print(
                f"  {mode:7s} eager {m['eager_ms']:8.1f} ms  compiled {m['compiled_ms']:8.1f} ms"
                f"  compiled / eager = {m['compiled_over_eager']:.2f}"
            )
    return results


if __name__ == "__main__":
    main()
