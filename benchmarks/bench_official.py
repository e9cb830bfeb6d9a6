"""The official ELM code against ours: forward, train step and memory saved for backward.

The official implementation (github.com/AaronSpieler/elmneuron, a TorchScript module) is
never copied into this repository: it is imported at run time from a checkout the user
names with ``--official-src DIR`` (or the environment variable ``ELM_SNN_OFFICIAL_SRC``),
``DIR`` being the checkout's root (the folder holding ``src/expressive_leaky_memory_neuron.py``).
Without it the result is ``{"skipped": reason}``.

Two configurations, batch ``B = 8``, inputs ``(B, T, I)`` (the official layout):

* SHD-Adding: ``ELM(700 inputs, d_m = 100, MLP 1 x 200 ReLU, 20 outputs)``, lambda = 5,
  tau_s = 5 ms, dt = 1 ms, tau_m bounds 0-1000 ms initialised evenly spaced over 1-150 ms
  (the paper's SHD settings), tau_m not learned (as in the official SHD notebook);
  ``T = 1000`` steps of ~1 % input spikes.
* NeuronIO: the official best checkpoint's configuration (Branch-ELM, 1278 inputs, 45
  branches x 100 synapses, neuronio routing, d_m = 100, SiLU, tau_m 1-150 ms) with its
  weights when the checkpoint's folder has them (``<DIR>/models/best_elm_neuron`` unless
  ``--neuronio-model``), ``T = 500`` steps, 1.5 % excitatory / 0.5 % inhibitory spikes.

Our model is built from the official module's ``state_dict()`` with
:func:`elm_snn.compat.from_official` (identical weights); before any timing both run in
float64 and the largest absolute output difference is reported (it must be <= 1e-8).

Timing: one torch thread, float32, forward under ``torch.no_grad()`` and a train step
(forward + cross-entropy of the last step's output + backward), the official model and ours
alternating repeat by repeat (a change of load on a shared machine hits both alike), two
warm-up calls each (TorchScript's profiling executor optimises on the second call); the
medians of process CPU time and wall time in ms, and the ratio official / ours of the CPU
times.

Memory: the tensors saved for backward by one forward of each model in the SHD-Adding
configuration, counted with ``torch.autograd.graph.saved_tensors_hooks`` once per storage
(views are not counted twice; the input itself is excluded), and likewise for
``elm_snn.networks.LSTM(700, 250, 20)`` on the same input.

Run: ``python benchmarks/bench_official.py --official-src DIR [--repeats 5] [--quick]``
(``--quick``: T = 100 in both configurations, 1 repeat).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import json
import os
import statistics
import sys
import time
import types
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

ENV_VAR = "ELM_SNN_OFFICIAL_SRC"
SKIP_NO_SOURCE = (
    "official code not found: pass --official-src DIR (a checkout of "
    "github.com/AaronSpieler/elmneuron) or set ELM_SNN_OFFICIAL_SRC"
)
OFFICIAL_MODULE = "src.expressive_leaky_memory_neuron"
OFFICIAL_FILE = Path("src/expressive_leaky_memory_neuron.py")
NEURONIO_MODEL = Path("models/best_elm_neuron")
#: float64 outputs of the two implementations must agree to this (absolute)
AGREEMENT_TOL = 1e-8

#: The official constructor's arguments for SHD-Adding (the rest are its defaults:
#: lambda 5, one MLP layer, ReLU, tau_s 5 ms, w_s 0.5).
SHD_CONFIG: dict[str, Any] = {
    "num_input": 700,
    "num_output": 20,
    "num_memory": 100,
    "mlp_hidden_size": 200,
    "lambda_value": 5.0,
    "memory_tau_min": 0.0,
    "memory_tau_max": 1000.0,
    "learn_memory_tau": False,
    "delta_t": 1.0,
}
#: tau_m initialised evenly spaced over this range (ms), inside the bounds above
SHD_TAU_M_INIT = (1.0, 150.0)
SHD_DENSITY = 0.01

#: ``models/best_elm_neuron/model_config.json`` of the official repository, used when the
#: checkpoint folder is not there.
NEURONIO_CONFIG: dict[str, Any] = {
    "input_to_synapse_routing": "neuronio_routing",
    "learn_memory_tau": False,
    "memory_tau_max": 150.0,
    "memory_tau_min": 1.0,
    "mlp_activation": "silu",
    "num_branch": 45,
    "num_input": 1278,
    "num_memory": 100,
    "num_output": 2,
    "num_synapse_per_branch": 100,
}

__all__ = ["OfficialNotFound", "import_official", "main", "parse_args", "saved_for_backward"]


class OfficialNotFound(RuntimeError):
    """The official code is not at the given folder or cannot be imported."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line. ``official_src`` falls back to ``$ELM_SNN_OFFICIAL_SRC`` (None if
    neither is set); ``steps_shd``/``steps_nio`` (T) and ``repeats`` follow ``--quick``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--official-src",
        default=None,
        help=f"root of a checkout of the official code (default: ${ENV_VAR})",
    )
    parser.add_argument(
        "--neuronio-model",
        default=None,
        help="official model folder for the NeuronIO configuration "
        "(default: <official-src>/models/best_elm_neuron)",
    )
    parser.add_argument("--repeats", type=int, default=None, help="timed repeats (default 5)")
    parser.add_argument("--batch", type=int, default=8, help="batch size B (default 8)")
    parser.add_argument("--seed", type=int, default=0, help="weights and inputs (default 0)")
    parser.add_argument("--quick", action="store_true", help="T = 100 and 1 repeat")
    args = parser.parse_args(argv)
    if args.official_src is None:
        args.official_src = os.environ.get(ENV_VAR) or None
    if args.repeats is None:
        args.repeats = 1 if args.quick else 5
    if args.repeats < 1 or args.batch < 1:
        parser.error("--repeats and --batch must be >= 1")
    args.steps_shd = 100 if args.quick else 1000
    args.steps_nio = 100 if args.quick else 500
    return args


@contextlib.contextmanager
def _seaborn_stub() -> Iterator[None]:
    """An empty ``seaborn`` module in ``sys.modules`` while the official code is imported.

    The official ``src/neuronio/neuronio_data_utils.py`` imports seaborn at module level
    for its plots only; the model module imports a constant from it. Seaborn is not a
    dependency of this package, so when it is missing a stub stands in for the duration of
    the import and is removed afterwards (nothing of seaborn runs in this benchmark).
    """
    if "seaborn" in sys.modules or importlib.util.find_spec("seaborn") is not None:
        yield
        return
    sys.modules["seaborn"] = types.ModuleType("seaborn")
    try:
        yield
    finally:
        sys.modules.pop("seaborn", None)


def import_official(src: str | os.PathLike) -> types.ModuleType:
    """Import ``src.expressive_leaky_memory_neuron`` from the checkout root ``src``.

    Raises:
        OfficialNotFound: the file is missing, another package called ``src`` is already
            imported, or the import fails (the message names the cause).
    """
    root = Path(src).expanduser().resolve()
    if not (root / OFFICIAL_FILE).is_file():
        raise OfficialNotFound(
            f"official code not found: {root / OFFICIAL_FILE} does not exist "
            "(--official-src must be the root of a checkout of "
            "github.com/AaronSpieler/elmneuron)"
        )
    loaded = sys.modules.get("src")
    if loaded is not None:
        paths = [Path(p).resolve() for p in getattr(loaded, "__path__", [])]
        if root / "src" not in paths:
            raise OfficialNotFound(
                f"a different package named 'src' is already imported ({paths}); run the "
                "benchmark in a fresh process"
            )
    sys.path.insert(0, str(root))
    try:
        with _seaborn_stub(), warnings.catch_warnings():
            # torch deprecates torch.jit.script(_method), which the official module uses
            warnings.simplefilter("ignore", FutureWarning)
            return importlib.import_module(OFFICIAL_MODULE)
    except Exception as err:  # noqa: BLE001 - reported as the reason for skipping
        raise OfficialNotFound(
            f"the official code in {root} could not be imported: {type(err).__name__}: {err}"
        ) from err
    finally:
        sys.path.remove(str(root))


@dataclass
class Case:
    """One configuration: both models (identical weights, float32), input ``x``
    ``(B, T, I)`` float32 and class targets ``(B,)`` for the last step's loss."""

    key: str
    label: str
    official: torch.nn.Module
    ours: torch.nn.Module
    x: torch.Tensor
    target: torch.Tensor
    weights: str


def _build(module: types.ModuleType, config: dict[str, Any]) -> torch.nn.Module:
    """The official ELM of ``config`` (scripted at construction; torch's deprecation warning
    for ``torch.jit.script`` is silenced here, as at the import)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return module.ELM(**config)


def _shd_case(module: types.ModuleType, args: argparse.Namespace) -> Case:
    from elm_snn.compat import from_official

    torch.manual_seed(args.seed)
    official = _build(module, SHD_CONFIG)
    lo, hi = SHD_CONFIG["memory_tau_min"], SHD_CONFIG["memory_tau_max"]
    tau_m = torch.linspace(*SHD_TAU_M_INIT, SHD_CONFIG["num_memory"])
    with torch.no_grad():
        official._proto_tau_m.copy_(module.inverse_scaled_sigmoid(tau_m, lo, hi))
    ours = from_official(SHD_CONFIG, official.state_dict())
    gen = torch.Generator().manual_seed(args.seed + 1)
    shape = (args.batch, args.steps_shd, SHD_CONFIG["num_input"])
    x = (torch.rand(shape, generator=gen) < SHD_DENSITY).float()
    target = torch.randint(SHD_CONFIG["num_output"], (args.batch,), generator=gen)
    label = f"SHD-Adding ELM, T = {args.steps_shd}, B = {args.batch}"
    return Case("shd_adding", label, official, ours, x, target, "random (seeded)")


def _neuronio_case(module: types.ModuleType, args: argparse.Namespace) -> Case:
    from elm_snn._safe_torch import load_weights_only
    from elm_snn.compat import from_official

    folder = Path(args.neuronio_model or Path(args.official_src) / NEURONIO_MODEL)
    config_path = folder / "model_config.json"
    config = json.loads(config_path.read_text()) if config_path.is_file() else NEURONIO_CONFIG
    torch.manual_seed(args.seed)
    official = _build(module, config)
    weights_path = folder / "neuronio_best_model_state.pt"
    weights = "random (seeded; no checkpoint found)"
    if weights_path.is_file():
        official.load_state_dict(load_weights_only(weights_path, "official checkpoint"))
        weights = f"official checkpoint {weights_path}"
    ours = from_official(config, official.state_dict())
    gen = torch.Generator().manual_seed(args.seed + 2)
    half = config["num_input"] // 2
    p = torch.cat([torch.full((half,), 0.015), torch.full((config["num_input"] - half,), 0.005)])
    x = (torch.rand(args.batch, args.steps_nio, config["num_input"], generator=gen) < p).float()
    target = torch.randint(config["num_output"], (args.batch,), generator=gen)
    label = f"NeuronIO Branch-ELM, T = {args.steps_nio}, B = {args.batch}"
    return Case("neuronio_branch_elm", label, official, ours, x, target, weights)


def _output(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``(B, T, O)`` outputs: the official module returns them, ours ``(outputs, state)``."""
    y = model(x)
    return y[0] if isinstance(y, tuple) else y


def max_abs_difference(case: Case) -> float:
    """Largest ``|official - ours|`` of the float64 outputs on ``case.x`` (the models are
    converted to float64 for the check and back to float32 afterwards, exactly)."""
    models = (case.official, case.ours)
    try:
        for model in models:
            model.double()
        with torch.no_grad():
            a, b = (_output(model, case.x.double()) for model in models)
        return float((a - b).abs().max())
    finally:
        for model in models:
            model.float()


def _forward(model: torch.nn.Module, x: torch.Tensor) -> Callable[[], None]:
    def run() -> None:
        with torch.no_grad():
            _output(model, x)

    return run


def _train(model: torch.nn.Module, x: torch.Tensor, target: torch.Tensor) -> Callable[[], None]:
    def run() -> None:
        model.zero_grad(set_to_none=True)
        F.cross_entropy(_output(model, x)[:, -1], target).backward()

    return run


def _alternating(fns: dict[str, Callable[[], None]], repeats: int) -> dict[str, dict]:
    """Median CPU and wall ms of each function, the functions alternating per repeat."""
    for fn in fns.values():
        fn()
        fn()
    cpu: dict[str, list[float]] = {name: [] for name in fns}
    wall: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            w0, c0 = time.perf_counter(), time.process_time()
            fn()
            wall[name].append(1e3 * (time.perf_counter() - w0))
            cpu[name].append(1e3 * (time.process_time() - c0))
    return {
        name: {"cpu_ms": statistics.median(cpu[name]), "wall_ms": statistics.median(wall[name])}
        for name in fns
    }


def _time_case(case: Case, repeats: int) -> dict[str, Any]:
    """Check agreement in float64, then time forward and train step of both models."""
    diff = max_abs_difference(case)
    if not diff <= AGREEMENT_TOL:
        raise RuntimeError(
            f"{case.label}: official and our float64 outputs differ by {diff:.3g} "
            f"(> {AGREEMENT_TOL:g}); not timing models that compute different things"
        )
    out: dict[str, Any] = {
        "label": case.label,
        "input_shape": list(case.x.shape),
        "density": float((case.x != 0).float().mean()),
        "weights": case.weights,
        "max_abs_diff_float64": diff,
        "official": {},
        "ours": {},
    }
    for mode in ("forward", "train"):
        if mode == "forward":
            fns = {name: _forward(getattr(case, name), case.x) for name in ("official", "ours")}
        else:
            fns = {
                name: _train(getattr(case, name), case.x, case.target)
                for name in ("official", "ours")
            }
        for name, timing in _alternating(fns, repeats).items():
            out[name][mode] = timing
    out["ratio_official_over_ours"] = {
        mode: out["official"][mode]["cpu_ms"] / out["ours"][mode]["cpu_ms"]
        for mode in ("forward", "train")
    }
    return out


def saved_for_backward(fn: Callable[[], Any], exclude: torch.Tensor) -> dict[str, int]:
    """What one call of ``fn`` (a forward with autograd on) saves for backward.

    Returns ``{"bytes": B, "tensors": N, "saves": S}``: ``B`` bytes in ``N`` distinct
    storages (views of one storage count once), the storage of ``exclude`` (the input) left
    out; ``S`` is the number of save events, duplicates included.
    """
    skip = exclude.untyped_storage().data_ptr()
    storages: dict[int, int] = {}
    saves = 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal saves
        saves += 1
        storage = t.untyped_storage()
        if storage.data_ptr() != skip:
            storages[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()  # kept alive (with its graph) until the count is done
    result = {"bytes": sum(storages.values()), "tensors": len(storages), "saves": saves}
    del out
    return result


def _memory(case: Case) -> dict[str, Any]:
    """Saved-for-backward counts of the official model, ours and the LSTM on ``case.x``."""
    from elm_snn.networks import LSTM

    torch.manual_seed(0)
    lstm = LSTM(SHD_CONFIG["num_input"], 250, SHD_CONFIG["num_output"])
    x_tm = case.x.transpose(0, 1).contiguous()  # the LSTM is time-major: (T, B, I)
    b, t, i = case.x.shape
    return {
        "config": f"SHD-Adding ELM(700, d_m = 100, MLP 200), T = {t}, B = {b}, "
        f"{100 * SHD_DENSITY:g} % spikes (LSTM(700, 250) + Linear)",
        "official": saved_for_backward(lambda: _output(case.official, case.x), case.x),
        "ours": saved_for_backward(lambda: _output(case.ours, case.x), case.x),
        "lstm": saved_for_backward(lambda: _output(lstm, x_tm), x_tm),
    }


def _print(results: dict[str, Any]) -> None:
    print(
        f"\n== official ELM vs ours: {results['threads']} thread, {results['dtype']}, "
        f"median of {results['repeats']} (process CPU ms / wall ms)"
    )
    print(f"{'configuration':40s} {'mode':7s} {'official':>17s} {'ours':>17s} {'off/ours':>8s}")
    for res in results["configs"].values():
        for mode in ("forward", "train"):
            o, u = res["official"][mode], res["ours"][mode]
            print(
                f"{res['label']:40s} {mode:7s} {o['cpu_ms']:8.1f} /{o['wall_ms']:7.1f} "
                f"{u['cpu_ms']:8.1f} /{u['wall_ms']:7.1f} "
                f"{res['ratio_official_over_ours'][mode]:8.2f}"
            )
        print(f"  float64 max |official - ours| = {res['max_abs_diff_float64']:.2e}")
        print(f"  weights: {res['weights']}")
    mem = results["memory"]
    print(f"\n== saved for backward, one forward: {mem['config']} (input excluded)")
    for name in ("official", "ours", "lstm"):
        m = mem[name]
        print(
            f"  {name:8s} {m['bytes'] / 2**20:8.2f} MiB in {m['tensors']:6,d} storages "
            f"({m['saves']:,d} saves)"
        )
    print(
        f"  load average (1 min): {results['load_avg_1min_before']:.2f} before, "
        f"{results['load_avg_1min_after']:.2f} after"
    )


def _measure(module: types.ModuleType, args: argparse.Namespace) -> dict[str, Any]:
    from elm_snn.kernels import _compiled

    results: dict[str, Any] = {
        "official_src": str(Path(args.official_src).expanduser().resolve()),
        "threads": 1,
        "dtype": "float32",
        "repeats": args.repeats,
        "timer": "median of repeats, official and ours alternating; ratio of process CPU times",
        "compiled_loops": _compiled.compiled_available(),
        "load_avg_1min_before": os.getloadavg()[0],
        "configs": {},
    }
    shd = _shd_case(module, args)
    for case in (shd, _neuronio_case(module, args)):
        results["configs"][case.key] = _time_case(case, args.repeats)
    results["memory"] = _memory(shd)
    results["load_avg_1min_after"] = os.getloadavg()[0]
    return results


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the comparison; return the JSON-serialisable results, or ``{"skipped": reason}``
    when no official source is given or it cannot be imported."""
    args = parse_args(argv)
    if args.official_src is None:
        print(f"\n== official ELM vs ours: skipped ({SKIP_NO_SOURCE})")
        return {"skipped": SKIP_NO_SOURCE}
    try:
        module = import_official(args.official_src)
    except OfficialNotFound as err:
        print(f"\n== official ELM vs ours: skipped ({err})")
        return {"skipped": str(err)}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        results = _measure(module, args)
    finally:
        torch.set_num_threads(threads)
    _print(results)
    return results


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
