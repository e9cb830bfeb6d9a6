"""The fused ELM kernel equals the reference loop (values, final state, all gradients)."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pytest
import torch

from elm_snn import ELM, BranchELM, ELMState
from elm_snn.compat.official import from_official
from elm_snn.functional import elm as F_elm
from elm_snn.kernels import (
    denormals_flushed,
    flush_denormals,
    front_end_strategy,
    fused,
    fused_elm_sequence,
    fused_support,
)

CONFIGS: dict[str, Callable[[], ELM]] = {
    "paper-default": lambda: ELM(6, 4, 3),
    "stable-branch": lambda: ELM(6, 4, 3, memory_update="stable", trace_mode="branch"),
    "mlp0": lambda: ELM(6, 4, 3, mlp_num_layers=0),
    "mlp0-stable-nobias": lambda: ELM(
        6, 4, 3, mlp_num_layers=0, memory_update="stable", bias=False
    ),
    "mlp2-silu": lambda: ELM(6, 4, 3, mlp_num_layers=2, mlp_activation="silu", mlp_hidden_size=5),
    "mlp3-nobias": lambda: ELM(6, 4, 3, mlp_num_layers=3, bias=False),
    "learn-taus-synapse": lambda: ELM(6, 4, 3, learn_tau_m=True, learn_tau_s=True),
    "learn-taus-branch": lambda: ELM(
        6, 4, 3, learn_tau_m=True, learn_tau_s=True, trace_mode="branch"
    ),
    "grouped-synapse": lambda: ELM(6, 4, 3, num_branches=2, synapses_per_branch=3),
    "grouped-branch": lambda: ELM(
        6, 4, 3, num_branches=2, synapses_per_branch=3, trace_mode="branch", memory_update="stable"
    ),
    "neuronio-silu": lambda: BranchELM(
        10,
        4,
        2,
        num_branches=3,
        synapses_per_branch=5,
        routing="neuronio",
        mlp_activation="silu",
        dt=2.0,
    ),
    "neuronio-branch-learn-taus": lambda: BranchELM(
        10,
        4,
        2,
        num_branches=3,
        synapses_per_branch=5,
        routing="neuronio",
        trace_mode="branch",
        learn_tau_s=True,
    ),
    "neuronio-learn-taus": lambda: BranchELM(
        10, 4, 2, num_branches=3, synapses_per_branch=5, routing="neuronio", learn_tau_s=True
    ),
    "random": lambda: BranchELM(
        5, 4, 2, num_branches=3, synapses_per_branch=4, routing="random", routing_seed=3
    ),
    "random-wide": lambda: BranchELM(
        5,
        3,
        2,
        num_branches=2,
        synapses_per_branch=4,
        routing="random",
        routing_seed=3,
        mlp_hidden_size=40,
    ),
    "explicit-masked": lambda: BranchELM(
        5,
        4,
        2,
        num_branches=2,
        synapses_per_branch=3,
        routing=torch.tensor([0, 0, 4, 2, 3, 1]),
        routing_mask=torch.tensor([1, 0, 1, 1, 1, 1.0]),
    ),
}


def _perturbed(make: Callable[[], ELM], seed: int = 1) -> ELM:
    """Float64 model with every parameter moved off its (often symmetric) initial value."""
    torch.manual_seed(seed)
    model = make().double()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.2 * torch.randn_like(p))
    return model


def _inputs(model: ELM, kind: str, steps: int = 7, batch: int = 3) -> torch.Tensor:
    gen = torch.Generator().manual_seed(2)
    shape = (steps, batch, model.num_inputs)
    if kind == "dense":
        return torch.randn(shape, generator=gen, dtype=torch.float64)
    if kind == "zeros":
        return torch.zeros(shape, dtype=torch.float64)
    spikes = (torch.rand(shape, generator=gen) < 0.3).double()
    sign = torch.where(torch.arange(model.num_inputs) % 2 == 0, 1.0, -1.0).double()
    return spikes * sign


def _state(model: ELM, batch: int) -> ELMState:
    gen = torch.Generator().manual_seed(4)
    return ELMState(
        torch.randn(batch, model.num_memory, generator=gen, dtype=torch.float64),
        torch.randn(batch, model.tau_s.shape[0], generator=gen, dtype=torch.float64),
    )


def _run_and_grad(fn, model: ELM, x: torch.Tensor, state: ELMState | None):
    x = x.clone().requires_grad_(True)
    if state is not None:
        state = ELMState(*(s.clone().requires_grad_(True) for s in state))
    y, final, _ = fn(x, state, model.functional_parameters())
    gen = torch.Generator().manual_seed(5)
    loss = (
        (y * torch.randn(y.shape, generator=gen, dtype=y.dtype)).sum()
        + (final.memory**2).sum()
        + (final.trace * 1.3).sum()
    )
    inputs = [x, *(state or ())] + list(model.parameters())
    grads = torch.autograd.grad(loss, inputs, allow_unused=True)
    return y.detach(), ELMState(*(f.detach() for f in final)), grads


def _assert_same(model: ELM, x: torch.Tensor, state: ELMState | None) -> None:
    y0, f0, g0 = _run_and_grad(F_elm.elm_sequence, model, x, state)
    y1, f1, g1 = _run_and_grad(fused_elm_sequence, model, x, state)
    torch.testing.assert_close(y1, y0, rtol=0, atol=1e-10)
    torch.testing.assert_close(f1.memory, f0.memory, rtol=0, atol=1e-10)
    torch.testing.assert_close(f1.trace, f0.trace, rtol=0, atol=1e-10)
    names = ["x"] + (["state.memory", "state.trace"] if state else [])
    names += [n for n, _ in model.named_parameters()]
    for name, a, b in zip(names, g0, g1, strict=True):
        assert (a is None) == (b is None) or ((a if a is not None else b).abs().max() == 0), (
            f"{name}: gradient present in only one path"
        )
        if a is None or b is None:
            continue
        scale = a.abs().max().clamp_min(1e-30)
        rel = ((a - b).abs().max() / scale).item()
        assert rel <= 1e-8, f"{name}: relative gradient error {rel:.2e}"


@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.parametrize("with_state", [False, True])
def test_fused_matches_reference_dense(name: str, with_state: bool) -> None:
    model = _perturbed(CONFIGS[name])
    x = _inputs(model, "dense")
    _assert_same(model, x, _state(model, x.shape[1]) if with_state else None)


@pytest.mark.parametrize(
    "name", ["paper-default", "neuronio-silu", "learn-taus-synapse", "mlp0", "grouped-branch"]
)
@pytest.mark.parametrize("kind", ["spikes", "zeros"])
def test_fused_matches_reference_sparse_and_zero(name: str, kind: str) -> None:
    model = _perturbed(CONFIGS[name])
    x = _inputs(model, kind, steps=11)
    _assert_same(model, x, _state(model, x.shape[1]) if kind == "zeros" else None)


def test_fixed_nonuniform_trace_decay_uses_synapse_path() -> None:
    model = _perturbed(CONFIGS["neuronio-silu"])
    with torch.no_grad():
        model.tau_s.copy_(torch.linspace(2.0, 9.0, model.tau_s.numel()))
    params = model.functional_parameters()
    assert front_end_strategy(params, model.num_inputs) == "synapse"
    # long enough to cross several trace checkpoints
    x = _inputs(model, "dense", steps=2 * fused.SYNAPSE_CHECKPOINT_EVERY + 5, batch=2)
    _assert_same(model, x, _state(model, 2))


def test_strategies_are_all_exercised() -> None:
    seen = {
        front_end_strategy(_perturbed(make).functional_parameters(), make().num_inputs)
        for make in CONFIGS.values()
    }
    assert seen == {"folded", "branch", "synapse"}


@pytest.mark.parametrize(
    "name", ["paper-default", "mlp2-silu", "neuronio-learn-taus", "learn-taus-branch", "mlp0"]
)
def test_gradcheck(name: str) -> None:
    model = _perturbed(CONFIGS[name])
    x = _inputs(model, "dense", steps=4, batch=2).requires_grad_(True)
    memory0, trace0 = (s.requires_grad_(True) for s in _state(model, 2))

    # gradcheck w.r.t. inputs and state (parameters are covered by the comparison tests)
    def fn_inputs(x, memory0, trace0):
        y, final, _ = fused_elm_sequence(
            x, ELMState(memory0, trace0), model.functional_parameters()
        )
        return y, final.memory, final.trace

    assert torch.autograd.gradcheck(fn_inputs, (x, memory0, trace0))
    # and w.r.t. the derived parameter tensors the kernel receives
    derived = model.functional_parameters()
    leaves = {
        "synapse_weight": derived.synapse_weight.detach().requires_grad_(True),
        "trace_decay": derived.trace_decay.detach().requires_grad_(True),
        "memory_decay": derived.memory_decay.detach().requires_grad_(True),
        "memory_gain": derived.memory_gain.detach().requires_grad_(True),
        "readout_weight": derived.readout_weight.detach().requires_grad_(True),
    }
    mlp_w = [w.detach().requires_grad_(True) for w in derived.mlp_weights]
    mlp_b = [None if b is None else b.detach().requires_grad_(True) for b in derived.mlp_biases]

    def fn_params(*tensors):
        n = len(leaves)
        named = dict(zip(leaves, tensors[:n], strict=True))
        weights = tensors[n : n + len(mlp_w)]
        biases = list(tensors[n + len(mlp_w) :])
        full_b = [None if b is None else biases.pop(0) for b in mlp_b]
        p = derived._replace(**named, mlp_weights=tuple(weights), mlp_biases=tuple(full_b))
        y, final, _ = fused_elm_sequence(x.detach(), None, p)
        return y, final.memory, final.trace

    args = (*leaves.values(), *mlp_w, *[b for b in mlp_b if b is not None])
    assert torch.autograd.gradcheck(fn_params, args)


@pytest.mark.parametrize("name", ["neuronio-silu", "paper-default", "learn-taus-synapse"])
def test_float32_fused_close_to_float64_reference(name: str) -> None:
    model64 = _perturbed(CONFIGS[name])
    model32 = _perturbed(CONFIGS[name]).float()
    x = _inputs(model64, "spikes", steps=40, batch=2)
    y64, _, _ = F_elm.elm_sequence(x, None, model64.functional_parameters())
    y32, _, _ = fused_elm_sequence(x.float(), None, model32.functional_parameters())
    torch.testing.assert_close(y32.double(), y64, rtol=0, atol=1e-4)


def test_module_batch_first_and_init_hidden_match_reference() -> None:
    torch.manual_seed(0)
    fused_model = BranchELM(
        10,
        4,
        2,
        num_branches=3,
        synapses_per_branch=5,
        routing="neuronio",
        batch_first=True,
        backend="fused",
    ).double()
    ref_model = BranchELM(
        10,
        4,
        2,
        num_branches=3,
        synapses_per_branch=5,
        routing="neuronio",
        batch_first=True,
        backend="reference",
    ).double()
    ref_model.load_state_dict(fused_model.state_dict())
    x = torch.randn(3, 9, 10, dtype=torch.float64)  # (B, T, I)
    y1, s1 = fused_model(x)
    y0, s0 = ref_model(x)
    torch.testing.assert_close(y1, y0, rtol=0, atol=1e-10)
    y1b, _ = fused_model(x, s1)
    y0b, _ = ref_model(x, s0)
    torch.testing.assert_close(y1b, y0b, rtol=0, atol=1e-10)


def test_auto_backend_runs_the_fused_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    import elm_snn.kernels as kernels

    calls = []

    def spy(x, state, params):
        calls.append(x.shape)
        return fused_elm_sequence(x, state, params)

    original = kernels.fused_support
    monkeypatch.setattr(
        kernels, "fused_support", lambda m: (spy, None) if original(m)[0] else original(m)
    )
    x = torch.rand(5, 2, 6)
    ELM(6, 4, 3, backend="auto")(x)
    assert calls == [x.shape]
    ELM(6, 4, 3, backend="reference")(x)
    assert len(calls) == 1
    ELM(6, 4, 3, backend="auto")(x, return_states=True)  # records: reference path
    assert len(calls) == 1


def test_fused_support_reports_unsupported_dtype() -> None:
    model = ELM(6, 4, 3).to(torch.bfloat16)
    fn, reason = fused_support(model)
    assert fn is None and "bfloat16" in reason
    fn, reason = fused_support(ELM(6, 4, 3))
    assert fn is fused_elm_sequence and reason is None
    x = torch.rand(3, 2, 6, dtype=torch.bfloat16)
    with pytest.raises(RuntimeError, match="backend='fused'"):
        ELM(6, 4, 3, backend="fused").to(torch.bfloat16)(x)


def test_flush_denormals_restores_previous_setting() -> None:
    before = denormals_flushed()
    try:
        torch.set_flush_denormal(False)
        with flush_denormals():
            assert denormals_flushed() or not torch.set_flush_denormal(True)
        assert not denormals_flushed()
        if torch.set_flush_denormal(True):  # supported on this CPU
            with flush_denormals():
                pass
            assert denormals_flushed()
    finally:
        torch.set_flush_denormal(before)


def test_saved_tensors_grow_like_memory_plus_hidden_per_step() -> None:
    """Per extra step and batch element, backward keeps about M + H floats (+ the input)."""

    def saved_bytes(steps: int) -> int:
        model = ELM(30, 6, 2, mlp_hidden_size=10)
        x = (torch.rand(steps, 2, 30) < 0.1).float()
        total = 0
        seen: set[int] = set()

        def pack(t: torch.Tensor):
            nonlocal total
            key = t.untyped_storage().data_ptr()
            if key not in seen and t.data_ptr() != x.data_ptr():
                seen.add(key)
                total += t.untyped_storage().nbytes()
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            model(x)
        return total

    slope = (saved_bytes(400) - saved_bytes(200)) / 200 / 2 / 4  # floats per step and sample
    assert slope <= 6 + 10 + 1, slope


def _official_model(fixtures, tag: str) -> tuple[ELM, dict]:
    data = dict(np.load(fixtures / f"{tag}.npz"))
    config = json.loads((fixtures / f"{tag}.json").read_text())
    config = config.get("constructor_args", config)
    state_dict = {k[6:]: torch.from_numpy(v) for k, v in data.items() if k.startswith("param:")}
    version = "v2" if tag.startswith("v2") else "v1"
    return from_official(config, state_dict, version=version), data


@pytest.mark.parametrize(
    "tag",
    [
        "v1_random_small",
        "v2_random_small",
        "v1_random_small_routing",
        "num_memory_1",
        "best_elm_neuron",
    ],
)
def test_official_fixtures_through_fused_path(official_fixtures_dir, tag: str) -> None:
    model, data = _official_model(official_fixtures_dir, tag)
    assert model.backend == "auto" and fused_support(model)[0] is fused_elm_sequence
    model = model.double()
    x = torch.from_numpy(data["X"]).double()
    steps = 60 if tag == "best_elm_neuron" else x.shape[1]  # keep the big one quick
    x = x[:, :steps]
    y, _ = model(x)
    torch.testing.assert_close(
        y, torch.from_numpy(data["y_forward"][:, :steps]), rtol=0, atol=1e-10
    )
    if tag != "best_elm_neuron":
        y.sum().backward()
        for key, value in data.items():
            if not key.startswith("grad:"):
                continue
            ours = {"_proto_w_s": "w_s_raw"}.get(key[5:], key[5:])
            ours = ours.replace("mlp.network.", "mlp.").replace("w_y.", "readout.")
            grad = dict(model.named_parameters())[ours].grad
            ref = torch.from_numpy(value)
            err = ((grad - ref).abs().max() / ref.abs().max().clamp_min(1e-30)).item()
            assert err <= 1e-8, f"{key}: relative error {err:.2e}"
