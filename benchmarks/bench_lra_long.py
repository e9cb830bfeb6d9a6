"""Memory and time per step of the fused ELM kernel on long LRA-style sequences.

One process, the paper's LRA ELM (``d_m = 150``, ``d_mlp = 384``, 16 one-hot inputs as on
Pathfinder; ``--mlp 768 --inputs 8`` for Pathfinder-X's sizes) at T = 1024, 4096 and 16384
steps (Pathfinder, 4K, Pathfinder-X), batch ``--batch`` (default 2). For each T it prints:

* the bytes the autograd graph saves for backward in one training step (counted once per
  storage with ``torch.autograd.graph.saved_tensors_hooks``; the one-hot input excluded),
  and that number per step and per batch element in floats (the kernel keeps
  O(T * B * (d_m + d_mlp)) floats);
* the one-hot input tensor's bytes (what a dataset would hold if it stored one-hot
  frames instead of tokens: elm-snn's batches hold int64 tokens, 8 bytes per step);
* wall and process-CPU time of a forward pass and of a training step (forward + backward of
  the last output's cross-entropy), and those per time step.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_lra_long.py`` (``--steps 1024 4096`` to
choose T). Times on a shared, loaded machine are noisy: compare CPU times.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import torch

from elm_snn import ELM
from elm_snn.lra.models import OneHotInput


def _saved_bytes(model: torch.nn.Module, tokens: torch.Tensor) -> int:
    seen: set[int] = set()
    total = 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal total
        key = t.untyped_storage().data_ptr()
        if key not in seen:
            seen.add(key)
            total += t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y, _ = model(tokens)
        torch.nn.functional.cross_entropy(y[-1], torch.zeros(y.shape[1], dtype=torch.long))
    # the one-hot input (created inside the wrapper) is saved by the kernel: count it apart
    return total


def _timed(fn) -> dict[str, float]:
    w0, c0 = time.perf_counter(), time.process_time()
    fn()
    return {"wall_s": time.perf_counter() - w0, "cpu_s": time.process_time() - c0}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, nargs="+", default=[1024, 4096, 16384])
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--memory", type=int, default=150)
    p.add_argument("--mlp", type=int, default=384)
    p.add_argument("--inputs", type=int, default=16)
    p.add_argument("--out", default=None, help="also write the numbers to this JSON file")
    args = p.parse_args()
    torch.manual_seed(0)
    elm = ELM(args.inputs, args.memory, 2, mlp_hidden_size=args.mlp, tau_m_min=1.0,
              tau_m_max=float(max(args.steps)), learn_tau_m=True)  # fmt: skip
    model = OneHotInput(elm, args.inputs)
    info = {
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "load_before": os.getloadavg(),
        "batch": args.batch,
        "d_m": args.memory,
        "d_mlp": args.mlp,
        "inputs": args.inputs,
        "rows": [],
    }
    print(json.dumps({k: v for k, v in info.items() if k != "rows"}))
    header = (
        f"{'T':>6} {'saved MiB':>10} {'floats/step/sample':>19} {'one-hot MiB':>11} "
        f"{'fwd cpu s':>9} {'train cpu s':>11} {'train cpu us/step':>17} {'train wall s':>12}"
    )
    print(header)
    for steps in args.steps:
        tokens = torch.randint(0, args.inputs, (steps, args.batch))
        saved = _saved_bytes(model, tokens)
        onehot = steps * args.batch * args.inputs * 4
        with torch.no_grad():
            fwd = _timed(lambda tokens=tokens: model(tokens))

        def step(tokens=tokens):
            model.zero_grad(set_to_none=True)
            y, _ = model(tokens)
            target = torch.zeros(args.batch, dtype=torch.long)
            torch.nn.functional.cross_entropy(y[-1], target).backward()

        tr = _timed(step)
        row = {
            "T": steps,
            "saved_bytes": saved,
            "saved_floats_per_step_per_sample": (saved - onehot) / steps / args.batch / 4,
            "onehot_bytes": onehot,
            "token_bytes": steps * args.batch * 8,
            "forward": fwd,
            "train_step": tr,
            "train_cpu_us_per_step": 1e6 * tr["cpu_s"] / steps,
        }
        info["rows"].append(row)
        print(
            f"{steps:>6} {saved / 2**20:>10.2f} {row['saved_floats_per_step_per_sample']:>19.1f} "
            f"{onehot / 2**20:>11.2f} {fwd['cpu_s']:>9.2f} {tr['cpu_s']:>11.2f} "
            f"{row['train_cpu_us_per_step']:>17.1f} {tr['wall_s']:>12.2f}",
            flush=True,
        )
    info["load_after"] = os.getloadavg()
    print(f"load average before {info['load_before']}, after {info['load_after']}")
    if args.out:
        from elm_snn._io import atomic_write_text

        atomic_write_text(args.out, json.dumps(info, indent=2) + "\n")


if __name__ == "__main__":
    main()
