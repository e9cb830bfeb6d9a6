"""``torch.compile`` and the meta device: the fused kernel as a ``torch.library`` custom op.

Compiled calls go through ``torch.ops.elm_snn.fused_elm_sequence`` (fake kernel, registered
autograd); they must give eager's values and gradients. ``aot_eager`` (no code generation)
covers the configurations; one test runs the default backend (inductor) as a user would.
"""

from __future__ import annotations

import pytest
import torch

import elm_snn
from elm_snn.kernels import _library


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def _run_and_grads(module, x, state=None):
    """Output, final state and the gradients of a scalar of both (input, state, params)."""
    getattr(module, "_orig_mod", module).zero_grad(set_to_none=True)
    x = x.detach().clone().requires_grad_(True)
    if state is not None:
        state = elm_snn.ELMState(*(s.detach().clone().requires_grad_(True) for s in state))
    y, final = module(x, state)
    weights = torch.linspace(-1, 1, y.numel(), dtype=y.dtype).view_as(y)
    loss = (y * weights).sum() + final.memory.square().sum() + final.trace.sum()
    loss.backward()
    original = getattr(module, "_orig_mod", module)  # torch.compile's wrapper
    grads = {n: p.grad for n, p in original.named_parameters()}
    grads["x"] = x.grad
    if state is not None:
        grads["memory0"], grads["trace0"] = state.memory.grad, state.trace.grad
    return y.detach(), final, grads


def _assert_same(eager, compiled, rtol, atol):
    y0, f0, g0 = eager
    y1, f1, g1 = compiled
    torch.testing.assert_close(y1, y0, rtol=rtol, atol=atol)
    torch.testing.assert_close(f1.memory, f0.memory, rtol=rtol, atol=atol)
    torch.testing.assert_close(f1.trace, f0.trace, rtol=rtol, atol=atol)
    assert g0.keys() == g1.keys()
    for name in g0:
        assert (g0[name] is None) == (g1[name] is None), name
        if g0[name] is not None:
            torch.testing.assert_close(g1[name], g0[name], rtol=rtol, atol=atol, msg=name)


def test_default_compile_matches_eager_fullgraph():
    """The issue's call: torch.compile(ELM(12, 6, 4))(x), default backend, one graph."""
    torch.manual_seed(0)
    module = elm_snn.ELM(12, 6, 4)
    x = torch.rand(25, 3, 12)
    eager = _run_and_grads(module, x)
    compiled = _run_and_grads(torch.compile(module, fullgraph=True), x)
    _assert_same(eager, compiled, rtol=1e-5, atol=1e-5)
    # the default (non-fullgraph) call of the issue runs too
    torch._dynamo.reset()
    y, _ = torch.compile(elm_snn.ELM(12, 6, 4))(x)
    assert y.shape == (25, 3, 4)


CONFIGS = {
    "default": dict(),
    "branch_routing_random": dict(
        num_branches=4, synapses_per_branch=5, routing="random", routing_seed=1
    ),
    "branch_routing_neuronio": dict(num_branches=3, synapses_per_branch=8, routing="neuronio"),
    "learned_tau_s_synapse": dict(learn_tau_s=True, learn_tau_m=True),
    "trace_branch_stable_silu": dict(
        num_branches=3,
        synapses_per_branch=4,
        trace_mode="branch",
        memory_update="stable",
        mlp_activation="silu",
    ),
    "two_layers_no_bias": dict(mlp_num_layers=2, bias=False),
    "no_hidden_layer": dict(mlp_num_layers=0),
}


@pytest.mark.parametrize("name", list(CONFIGS))
@pytest.mark.parametrize("with_state", [False, True])
def test_compiled_matches_eager_float64(name, with_state):
    torch.manual_seed(1)
    module = elm_snn.ELM(12, 5, 3, dt=2.0, **CONFIGS[name]).double()
    x = torch.rand(9, 2, 12, dtype=torch.float64)
    state = None
    if with_state:
        width = module.tau_s.shape[0]
        state = elm_snn.ELMState(
            torch.randn(2, 5, dtype=torch.float64), torch.rand(2, width, dtype=torch.float64)
        )
    eager = _run_and_grads(module, x, state)
    compiled = _run_and_grads(torch.compile(module, backend="aot_eager", fullgraph=True), x, state)
    _assert_same(eager, compiled, rtol=1e-10, atol=1e-12)


def test_compiled_batch_first_and_sparse_spikes():
    """Batch-first input (a transposed view inside) and a sparse spike input (the compiled
    sparse front end runs inside the operator)."""
    torch.manual_seed(2)
    module = elm_snn.ELM(30, 4, 2, batch_first=True).double()
    x = (torch.rand(3, 40, 30) < 0.02).double()
    eager = _run_and_grads(module, x)
    compiled = _run_and_grads(torch.compile(module, backend="aot_eager", fullgraph=True), x)
    _assert_same(eager, compiled, rtol=1e-10, atol=1e-12)


def test_operator_passes_opcheck():
    """torch.library's own checks: schema, fake kernel vs real, autograd registration,
    AOT dispatch with dynamic shapes."""
    torch.manual_seed(3)
    module = elm_snn.ELM(6, 3, 2, num_branches=2, synapses_per_branch=4, routing="random")
    module = module.double()
    x = torch.rand(5, 2, 6, dtype=torch.float64, requires_grad=True)
    state = elm_snn.ELMState(torch.zeros(2, 3, dtype=torch.float64), torch.zeros(2, 8).double())
    args = _library.op_arguments(x, state, module.functional_parameters())
    torch.library.opcheck(torch.ops.elm_snn.fused_elm_sequence.default, args)


def test_meta_device_gives_shapes():
    module = elm_snn.ELM(12, 6, 4).to("meta")
    y, final = module(torch.empty(20, 3, 12, device="meta"))
    assert y.device.type == "meta" and y.shape == (20, 3, 4)
    assert final.memory.shape == (3, 6) and final.trace.shape == (3, 12)
    branch = elm_snn.BranchELM(8, 3, 2, num_branches=2, synapses_per_branch=5).to("meta")
    y, final = branch(torch.empty(2, 7, 8, device="meta"))
    assert y.shape == (2, 7, 2) and final.trace.shape == (7, 10)
    cell = elm_snn.ELMCell(8, 3, 2).to("meta")
    y_t, state = cell(torch.empty(5, 8, device="meta"))
    assert y_t.shape == (5, 2) and state.memory.shape == (5, 3)


def test_init_hidden_under_compile_continues_like_eager():
    torch.manual_seed(4)
    eager = elm_snn.ELM(5, 3, 2, init_hidden=True).double()
    compiled_module = elm_snn.ELM(5, 3, 2, init_hidden=True).double()
    compiled_module.load_state_dict(eager.state_dict())
    compiled = torch.compile(compiled_module, backend="aot_eager")
    x = torch.rand(2, 6, 4, 5, dtype=torch.float64)
    for chunk in x:
        y0 = eager(chunk)
        y1 = compiled(chunk)
        y0 = y0[0] if isinstance(y0, tuple) else y0
        y1 = y1[0] if isinstance(y1, tuple) else y1
        torch.testing.assert_close(y1, y0, rtol=1e-10, atol=1e-12)


def test_other_layers_compile():
    """The LIF/ALIF layers, the LSTM and the E/I network (auto backend: its PyTorch loop
    when compiling) compile and match eager."""
    from elm_snn.networks import EISNN

    torch.manual_seed(5)
    x = torch.rand(10, 2, 6)
    for layer in (
        elm_snn.LIFNeuron(6, threshold=0.3),
        elm_snn.LinearALIF(6, 2),
        elm_snn.LSTM(6, 4, 2),
        EISNN(6, 2, num_neurons=8, synapses_per_neuron=4),
    ):
        torch._dynamo.reset()
        y, _ = torch.compile(layer, backend="aot_eager")(x)
        torch.testing.assert_close(y, layer(x)[0])
