"""The fused E/I SNN loop (hand-written BPTT) against the autograd reference, float64."""

from __future__ import annotations

import pytest
import torch
from snntorch import surrogate

from elm_snn.kernels import _compiled
from elm_snn.kernels.eisnn import eisnn_sequence, heaviside_forward
from elm_snn.networks import EISNN
from tests.conftest import fail_or_skip


@pytest.fixture(params=["compiled", "pytorch"])
def loops(request):
    """Both implementations of the fused backend: the compiled event-driven loops (required
    when ``ELM_SNN_REQUIRE_COMPILED=1``) and the pure-PyTorch loop."""
    if request.param == "compiled":
        if not _compiled.compiled_available():
            fail_or_skip("the compiled loops could not be built here", "ELM_SNN_REQUIRE_COMPILED")
        yield request.param
    else:
        with _compiled.use_compiled(False):
            yield request.param


class _Float64Atan(torch.autograd.Function):
    """Heaviside with an arctan surrogate that keeps the input's dtype (snnTorch's surrogates
    return float32 spikes, so on the reference path the upstream float64 gradient is rounded
    to float32 at every spike; the fused path does not round)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g / (1 + (torch.pi * x) ** 2)


def _net(backend: str, **kw) -> EISNN:
    opts = dict(num_neurons=30, synapses_per_neuron=12, w_init=0.45, dt=2.0, seed=5)
    opts.update(kw)
    net = EISNN(14, 4, backend=backend, **opts).double()
    # weights of both signs in w_raw: relu silences some synapses (Dale's law kept by the sign)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for layer in (net.rec, net.out):
            layer.w_raw.copy_(
                0.5 * torch.randn(layer.w_raw.shape, generator=gen, dtype=torch.float64) + 0.3
            )
        net.tau_m_raw.add_(
            0.3 * torch.randn(net.tau_m_raw.shape, generator=gen, dtype=torch.float64)
        )
    return net


def _run(net: EISNN, x: torch.Tensor, state=None):
    x = x.clone().requires_grad_(True)
    if state is not None:
        state = type(state)(*(s.clone().requires_grad_(True) for s in state))
    y, final, rec = net(x, state, return_spikes=True)
    gen = torch.Generator().manual_seed(2)
    wy = torch.randn(y.shape, generator=gen, dtype=y.dtype)
    wv = torch.randn(final.v_rec.shape, generator=gen, dtype=y.dtype)
    wo = torch.randn(final.v_out.shape, generator=gen, dtype=y.dtype)
    loss = (
        (wy * y).sum()
        + (wv * final.v_rec).sum()
        + (wo * final.v_out).sum()
        + final.filtered.sum()
        + final.z_rec.sum()
        + 3.0 * net.spike_penalty()
    )
    params = [net.rec.w_raw, net.out.w_raw, net.tau_m_raw]
    inputs = [x] + (list(state) if state is not None else [])
    grads = torch.autograd.grad(loss, params + inputs)
    return y, rec, final, grads


@pytest.mark.parametrize("detach_reset", [True, False])
@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("spike_grad", ["float64", "snntorch-atan", "snntorch-fast-sigmoid"])
def test_fused_matches_reference(detach_reset, with_state, spike_grad, loops):
    # snnTorch's surrogates round the reference path's spike gradients to float32
    tol = 1e-10 if spike_grad == "float64" else 1e-6
    spike_grad = {
        "float64": _Float64Atan.apply,
        "snntorch-atan": surrogate.atan(),
        "snntorch-fast-sigmoid": surrogate.fast_sigmoid(slope=5),
    }[spike_grad]
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(25, 3, 14, generator=gen) < 0.35).double()
    state = None
    if with_state:
        from elm_snn.networks.eisnn import EISNNState

        r = torch.rand(3, 26, generator=gen, dtype=torch.float64)
        o = torch.rand(3, 4, generator=gen, dtype=torch.float64)
        state = EISNNState(r, (r > 0.7).double(), o, (o > 0.7).double(), 2 * o)
    results = {}
    for backend in ("dense", "fused"):
        net = _net(backend, detach_reset=detach_reset, spike_grad=spike_grad)
        results[backend] = _run(net, x, state)
    y_ref, rec_ref, fin_ref, g_ref = results["dense"]
    y, rec, fin, g = results["fused"]
    assert rec_ref.rec.sum() > 20 and rec_ref.out.sum() > 2  # spikes and resets happen
    torch.testing.assert_close(y, y_ref, rtol=0, atol=1e-12)
    torch.testing.assert_close(rec.rec, rec_ref.rec, rtol=0, atol=0)
    for a, b in zip(fin, fin_ref, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    for a, b in zip(g, g_ref, strict=True):
        torch.testing.assert_close(a, b, rtol=tol, atol=tol)


def test_auto_is_fused_and_gradcheck():
    assert EISNN(6, 2, num_neurons=10, synapses_per_neuron=4)._resolved_backend() == "fused"
    # gradcheck needs a differentiable function: a sigmoid "spike" (the same function forward
    # and backward) and a differentiated reset make the whole recurrence smooth
    from elm_snn.kernels.eisnn import eisnn_fused_sequence

    gen = torch.Generator().manual_seed(3)
    cur = 0.3 * torch.rand(6, 2, 8, generator=gen, dtype=torch.float64)
    w_rr = 0.2 * torch.randn(8, 8, generator=gen, dtype=torch.float64)
    w_out = 0.2 * torch.randn(4, 12, generator=gen, dtype=torch.float64)
    k_r = torch.rand(8, generator=gen, dtype=torch.float64)
    k_o = torch.rand(4, generator=gen, dtype=torch.float64)
    st = tuple(0.1 * torch.rand(2, n, generator=gen, dtype=torch.float64) for n in (8, 8, 4, 4, 4))

    def fn(cur, w_rr, w_out, k_r, k_o, v_r, z_r, v_o, z_o, f):
        z_rs, z_os, y, vr, vo = eisnn_fused_sequence(
            cur,
            w_rr,
            w_out,
            k_r,
            k_o,
            (v_r, z_r, v_o, z_o, f),
            threshold=1.0,
            reset_amount=0.9,
            alpha=0.9,
            spike_fn=torch.sigmoid,
            detach_reset=False,
        )
        return y, vr, vo

    args = tuple(a.requires_grad_(True) for a in (cur, w_rr, w_out, k_r, k_o, *st))
    assert torch.autograd.gradcheck(fn, args, eps=1e-6, atol=1e-7)


def test_compiled_and_pytorch_loops_pick_and_refuse(loops):
    assert heaviside_forward(surrogate.atan(), torch.float32)
    assert not heaviside_forward(torch.sigmoid, torch.float32)
    gen = torch.Generator().manual_seed(4)
    x = (torch.rand(5, 2, 6, generator=gen) < 0.4).float()
    src = torch.randint(0, 6 + 4, (4, 3), generator=gen)
    src_o = torch.randint(0, 4 + 2, (2, 3), generator=gen)
    w = torch.rand(4, 3, generator=gen)
    w_o = torch.rand(2, 3, generator=gen)
    state = tuple(torch.zeros(2, n) for n in (4, 4, 2, 2, 2))
    args = (x, src, w, src_o, w_o, torch.full((4,), 0.9), torch.full((2,), 0.9), state)
    kw = dict(threshold=1.0, reset_amount=0.9, alpha=0.9)
    a = eisnn_sequence(*args, spike_fn=surrogate.atan(), **kw)
    b = eisnn_sequence(*args, spike_fn=surrogate.atan(), compiled=False, **kw)
    for u, v in zip(a, b, strict=True):
        torch.testing.assert_close(u, v)
    # a non-Heaviside spike function cannot take the compiled loops
    with pytest.raises(RuntimeError, match="Heaviside"):
        eisnn_sequence(*args, spike_fn=torch.sigmoid, compiled=True, **kw)
    smooth = eisnn_sequence(*args, spike_fn=torch.sigmoid, **kw)
    assert 0 < float(smooth[0].mean()) < 1  # sigmoid "spikes" are not binary


def test_fused_float32_train_step_close_to_reference(loops):
    """The default float32 network: same loss and close gradients on an SHD-like input."""
    gen = torch.Generator().manual_seed(9)
    x = (torch.rand(60, 4, 50, generator=gen) < 0.05).float()
    target = torch.tensor([0, 1, 2, 1])
    grads = {}
    for backend in ("dense", "fused"):
        net = EISNN(50, 3, num_neurons=60, synapses_per_neuron=20, w_init=0.35, backend=backend)
        y, _ = net(x)
        loss = torch.nn.functional.cross_entropy(y[-1], target) + net.spike_penalty()
        loss.backward()
        grads[backend] = (loss.detach(), [p.grad.clone() for p in net.parameters()])
    torch.testing.assert_close(grads["fused"][0], grads["dense"][0])
    for a, b in zip(grads["fused"][1], grads["dense"][1], strict=True):
        # float32 sums in another order; the tau gradient sums T x B terms that cancel
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-5)


def test_compiled_threads_match_one_thread(loops):
    """Batch rows over threads (compiled loops) give one thread's values and gradients."""
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(30, 5, 20, generator=gen) < 0.3).double()
    net = EISNN(20, 3, num_neurons=30, synapses_per_neuron=10, w_init=0.5).double()
    before = torch.get_num_threads()

    def run(threads):
        torch.set_num_threads(threads)
        net.zero_grad()
        y, final = net(x)
        (y[-1].sum() + final.v_rec.sum() + net.spike_penalty()).backward()
        return y.detach(), [p.grad.clone() for p in net.parameters()]

    try:
        y1, g1 = run(1)
        y2, g2 = run(2)
    finally:
        torch.set_num_threads(before)
    assert y1.abs().sum() > 0
    torch.testing.assert_close(y2, y1, rtol=0, atol=0)
    for a, b in zip(g2, g1, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
