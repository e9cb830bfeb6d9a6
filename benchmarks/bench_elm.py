"""Benchmark the fused ELM kernel against the reference loop and an LSTM baseline.

Measures, in one process: median wall and CPU time of a forward pass (``no_grad``) and
of a training step (forward + backward of ``y.sum()``) for

* the SHD-Adding configuration: ELM(700 inputs, d_m = 100, MLP 200, 19 outputs), batch 8,
  T = 1000 (1 ms bins, 0.5 % spikes) and T = 200 (5 ms bins, 2 % spikes), against
  ``elm_snn.networks.LSTM(700, 250, 19)`` (``torch.nn.LSTM`` + ``Linear``);
* the official NeuronIO Branch-ELM: 1278 inputs, 45 branches x 100 synapses, neuronio
  routing, d_m = 100, SiLU, T = 500, batch 8, inputs drawn like the fixtures' ``X_active``
  (excitatory p = 1.5 %, inhibitory p = 0.5 %, times the synapse sign);

the fused kernel without its compiled loops (``fused_pytorch``, the fallback); the
reference loop both with and without flushing subnormals; the saved-for-backward
bytes of a fused training step at T = 500/1000/2000 (counted with
``torch.autograd.graph.saved_tensors_hooks``, one count per storage, the input excluded);
the sequential FLOP bound from the measured throughput of the per-step matmuls; and the
time to build the compiled loops from scratch.

Run ``python benchmarks/run.py`` (or ``make bench``); ``--quick`` for a smoke test.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import torch

from elm_snn import ELM, BranchELM
from elm_snn.kernels import _compiled, fused_elm_sequence
from elm_snn.networks import LSTM

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of this benchmark (shared with ``benchmarks/run.py``)."""
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats (median)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 1 repeat")


def _timed(fn: Callable[[], Any], repeats: int) -> dict[str, float]:
    fn()  # warm-up
    wall, cpu = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return {"wall_ms": 1e3 * statistics.median(wall), "cpu_ms": 1e3 * statistics.median(cpu)}


def _forward_and_train(model: torch.nn.Module, x: torch.Tensor, call, repeats: int) -> dict:
    def forward() -> None:
        with torch.no_grad():
            call(model, x)

    def train() -> None:
        model.zero_grad(set_to_none=True)
        call(model, x).sum().backward()

    return {"forward": _timed(forward, repeats), "train": _timed(train, repeats)}


def _output(model, x):
    return model(x)[0]


def _elm_call_noflush(model, x):
    return fused_elm_sequence(x, None, model.functional_parameters(), flush_denormal=False)[0]


def _elm_call_pytorch(model, x):
    with _compiled.use_compiled(False):
        return model(x)[0]


def _compile_time() -> dict:
    """Seconds to build the compiled loops from scratch (fresh cache, separate process)."""
    code = (
        "import time; from elm_snn.kernels import _compiled as c; t = time.perf_counter(); "
        "ok = c.compiled_ops() is not None; print(ok, time.perf_counter() - t)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, ELM_SNN_CACHE=tmp)
        c0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
        )
        total = time.perf_counter() - c0
    parts = proc.stdout.split()
    ok = bool(parts) and parts[0] == "True"
    build = float(parts[1]) if ok else float("nan")
    print(f"\n== compiled loops: built={ok} in {build:.1f} s (process incl. import {total:.1f} s)")
    return {"built": ok, "build_s": build, "process_s": total}


def _spikes(steps: int, batch: int, inputs: int, p: float, gen: torch.Generator):
    return (torch.rand(steps, batch, inputs, generator=gen) < p).float()


def _with_flush(enabled: bool, fn: Callable[[], dict]) -> dict:
    from elm_snn.kernels import denormals_flushed

    before = denormals_flushed()
    torch.set_flush_denormal(enabled)
    try:
        return fn()
    finally:
        torch.set_flush_denormal(before)


def _compare(name: str, make, x, repeats: int, lstm: LSTM | None, extra: bool) -> dict:
    fused = make("fused")
    ref = make("reference")
    ref.load_state_dict(fused.state_dict())
    out: dict[str, Any] = {"shape": list(x.shape), "density": float((x != 0).float().mean())}
    out["fused"] = _with_flush(False, lambda: _forward_and_train(fused, x, _output, repeats))
    out["reference"] = _with_flush(False, lambda: _forward_and_train(ref, x, _output, repeats))
    out["reference_flush"] = _with_flush(True, lambda: _forward_and_train(ref, x, _output, repeats))
    out["fused_pytorch"] = _with_flush(
        False, lambda: _forward_and_train(fused, x, _elm_call_pytorch, repeats)
    )
    if extra:
        out["fused_noflush"] = _with_flush(
            False, lambda: _forward_and_train(fused, x, _elm_call_noflush, repeats)
        )
    if lstm is not None:
        out["lstm"] = _forward_and_train(lstm, x, _output, repeats)
    ratios = {}
    for mode in ("forward", "train"):
        f = out["fused"][mode]["cpu_ms"]
        for other in ("fused_pytorch", "reference", "reference_flush", "lstm"):
            if other in out:
                ratios[f"{mode}: fused / {other}"] = f / out[other][mode]["cpu_ms"]
    out["ratios_cpu"] = ratios
    print(f"\n== {name}  x {tuple(x.shape)}  density {out['density']:.4f}")
    print(
        f"{'variant':18s} {'fwd wall':>9s} {'fwd cpu':>9s} {'train wall':>11s} {'train cpu':>10s}"
    )
    for variant in (
        "fused",
        "fused_pytorch",
        "fused_noflush",
        "reference",
        "reference_flush",
        "lstm",
    ):
        if variant in out:
            r = out[variant]
            print(
                f"{variant:18s} {r['forward']['wall_ms']:9.1f} {r['forward']['cpu_ms']:9.1f} "
                f"{r['train']['wall_ms']:11.1f} {r['train']['cpu_ms']:10.1f}"
            )
    for key, value in ratios.items():
        print(f"  {key:34s} {value:6.3f}  ({1 / value:5.1f}x)")
    return out


def _saved_bytes(model: torch.nn.Module, x: torch.Tensor) -> int:
    total = 0
    seen: set[int] = set()

    def pack(t: torch.Tensor):
        nonlocal total
        key = t.untyped_storage().data_ptr()
        if key not in seen and key != x.untyped_storage().data_ptr():
            seen.add(key)
            total += t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x)
    return total


def _memory(steps_list: list[int], batch: int, make) -> dict:
    gen = torch.Generator().manual_seed(3)
    rows = {}
    for steps in steps_list:
        x = _spikes(steps, batch, 700, 0.005, gen)
        rows[steps] = _saved_bytes(make("fused"), x)
    s0, s1 = steps_list[0], steps_list[-1]
    slope = (rows[s1] - rows[s0]) / (s1 - s0) / batch / 4
    print("\n== saved-for-backward bytes of a fused training step (input excluded)")
    for steps, b in rows.items():
        print(f"  T = {steps:5d}: {b / 2**20:8.2f} MiB")
    print(f"  slope: {slope:.1f} floats per step and batch element (d_m + d_mlp = 300)")
    return {"saved_bytes": rows, "slope_floats_per_step_per_sample": slope}


def _flop_bound(batch: int, memory: int, hidden: int, steps: int, repeats: int) -> dict:
    a = torch.randn(batch, memory)
    w = torch.randn(memory, hidden)
    out = torch.empty(batch, hidden)
    n = 2000

    def loop() -> None:
        for _ in range(n):
            torch.mm(a, w, out=out)

    t = _timed(loop, repeats)["cpu_ms"] / n * 1e-3
    gflops = 2 * batch * memory * hidden / t / 1e9
    per_step_flops = 2 * 2 * batch * memory * hidden  # two matmuls of this size per step
    bound_ms = steps * per_step_flops / (gflops * 1e9) * 1e3
    print(
        f"\n== sequential bound: {per_step_flops / 1e6:.2f} MFLOP per step; torch.mm at "
        f"({batch}x{memory})@({memory}x{hidden}) runs at {gflops:.1f} GFLOP/s -> "
        f"{bound_ms:.1f} ms for T = {steps} forward (matmuls only)"
    )
    # the fused recurrence alone (relu MLP, compiled loops if available), same sizes
    from elm_snn.kernels.fused import _ELMRecurrence

    gen = torch.Generator().manual_seed(1)
    p = torch.randn(steps, batch, hidden, generator=gen)
    m0 = torch.zeros(batch, memory)
    kappa, gain = torch.rand(memory, generator=gen), 0.1 * torch.rand(memory, generator=gen)
    a_w = 0.1 * torch.randn(hidden, memory, generator=gen)
    w_out, b_out = 0.1 * torch.randn(memory, hidden, generator=gen), torch.zeros(memory)

    def recurrence() -> None:
        with torch.no_grad():
            _ELMRecurrence.apply("relu", 1, p, m0, kappa, gain, a_w, None, w_out, b_out)

    rec = {}
    for name, enabled in (("compiled", True), ("pytorch", False)):
        with _compiled.use_compiled(enabled):
            rec[name] = _timed(recurrence, repeats)["cpu_ms"]
    print(
        f"   fused recurrence forward alone, T = {steps}: compiled {rec['compiled']:.1f} ms "
        f"({1e3 * rec['compiled'] / steps:.1f} us/step), pure PyTorch {rec['pytorch']:.1f} ms"
    )
    return {
        "per_step_mflop": per_step_flops / 1e6,
        "mm_gflops": gflops,
        "bound_ms": bound_ms,
        "recurrence_forward_cpu_ms": rec,
    }


def run(args: argparse.Namespace) -> dict:
    """Run every measurement; returns the JSON-serialisable results."""
    quick = args.quick
    repeats = 1 if quick else args.repeats
    batch = 8
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    shd_steps = (
        [(100, 1.0, 0.005), (40, 5.0, 0.02)] if quick else [(1000, 1.0, 0.005), (200, 5.0, 0.02)]
    )
    results: dict[str, Any] = {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
            "load_avg_before": os.getloadavg(),
        },
        "repeats": repeats,
        "timer": "median of repeats; cpu = process CPU time (robust to a shared machine)",
    }
    lstm = LSTM(700, 250, 19)
    for steps, dt, density in shd_steps:

        def make(backend: str, dt: float = dt) -> ELM:
            torch.manual_seed(0)
            return ELM(
                700,
                100,
                19,
                mlp_hidden_size=200,
                dt=dt,
                tau_m_init=(1.0, 150.0),
                tau_m_min=0.0,
                tau_m_init_spacing="linear",
                backend=backend,
            )

        x = _spikes(steps, batch, 700, density, gen)
        results[f"shd_adding_T{steps}"] = _compare(
            f"SHD-Adding ELM T={steps} dt={dt} ms", make, x, repeats, lstm, extra=steps >= 1000
        )
    nio_steps = 60 if quick else 500

    def make_nio(backend: str) -> BranchELM:
        torch.manual_seed(0)
        return BranchELM(
            1278,
            100,
            2,
            num_branches=45,
            synapses_per_branch=100,
            routing="neuronio",
            mlp_activation="silu",
            tau_m_max=150.0,
            backend=backend,
        )

    sign = torch.cat([torch.ones(639), -torch.ones(639)])
    p = torch.cat([torch.full((639,), 0.015), torch.full((639,), 0.005)])
    x_nio = (torch.rand(nio_steps, batch, 1278, generator=gen) < p).float() * sign
    results[f"neuronio_branch_elm_T{nio_steps}"] = _compare(
        f"NeuronIO Branch-ELM T={nio_steps}", make_nio, x_nio, repeats, None, extra=False
    )

    def make_mem(backend: str) -> ELM:
        torch.manual_seed(0)
        return ELM(700, 100, 19, mlp_hidden_size=200, backend=backend)

    results["memory"] = _memory([50, 100, 200] if quick else [500, 1000, 2000], batch, make_mem)
    results["flop_bound"] = _flop_bound(batch, 100, 200, shd_steps[0][0], repeats)
    results["compiled"] = {"available": _compiled.compiled_available(), **_compile_time()}
    results["machine"]["load_avg_after"] = os.getloadavg()
    return results
