"""The paper's recurrent E/I spiking network: structure, Dale's law, dynamics, training."""

from __future__ import annotations

import math

import pytest
import torch

import elm_snn
from elm_snn.functional.lif import heaviside
from elm_snn.networks import EISNN, EISNNState


def test_paper_configuration_structure() -> None:
    net = EISNN(700, 19)
    assert net.num_recurrent == 481 and net.num_outputs == 19
    assert net.is_inhibitory.shape == (500,)
    assert int(net.is_inhibitory.sum()) == 100  # 20% of 500 (96 recurrent + 4 output)
    assert int(net.is_inhibitory[:481].sum()) == 96 and int(net.is_inhibitory[481:].sum()) == 4
    assert net.rec.src.shape == (481, 100) and net.out.src.shape == (19, 100)
    # ~90% of the synapses go to the previous layer (input / recurrent layer), ~10% own layer
    own_rec = (net.rec.src >= 700).float().mean().item()
    own_out = (net.out.src >= 481).float().mean().item()
    assert 0.09 < own_rec < 0.11  # 48,100 draws: sd 0.0014
    assert 0.07 < own_out < 0.13  # 1,900 draws: sd 0.007
    assert int(net.rec.src.max()) < 700 + 481 and int(net.out.src.max()) < 481 + 19
    # 100 synapses per neuron: the effective weights of each row sum to 100 * w0 in magnitude
    w_rec, w_out = net.effective_weights()
    w0 = 0.3 / math.sqrt(100)
    torch.testing.assert_close(w_rec.abs().sum(1), torch.full((481,), 100 * w0))
    torch.testing.assert_close(w_out.abs().sum(1), torch.full((19,), 100 * w0))
    n_params = sum(p.numel() for p in net.parameters() if p.requires_grad)
    assert n_params == 500 * 100 + 500
    assert net.tau_m.detach().sub(25.0).abs().max() < 1e-3


def test_synapse_draw_is_seeded_and_leaves_global_rng_alone() -> None:
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = EISNN(30, 3, num_neurons=40, synapses_per_neuron=10, seed=5)
    after = torch.rand(1)
    assert torch.equal(before, after)
    b = EISNN(30, 3, num_neurons=40, synapses_per_neuron=10, seed=5)
    c = EISNN(30, 3, num_neurons=40, synapses_per_neuron=10, seed=6)
    assert torch.equal(a.rec.src, b.rec.src) and torch.equal(a.out.src, b.out.src)
    assert not torch.equal(a.rec.src, c.rec.src)


def _signs_ok(net: EISNN) -> tuple[bool, int]:
    w_rec, w_out = net.effective_weights()
    pre_rec = torch.cat([torch.ones(net.num_inputs), net.neuron_sign[: net.num_recurrent]])
    pre_out = net.neuron_sign
    ok = bool((w_rec * pre_rec >= 0).all() and (w_out * pre_out >= 0).all())
    zeros = int((torch.relu(net.rec.w_raw) == 0).sum() + (torch.relu(net.out.w_raw) == 0).sum())
    return ok, zeros


def test_dale_law_survives_optimiser_steps_pushing_signs_the_wrong_way() -> None:
    net = EISNN(20, 4, num_neurons=30, synapses_per_neuron=8, seed=1)
    assert _signs_ok(net) == (True, 0)
    opt = torch.optim.SGD(net.parameters(), lr=1.0)
    pre_rec = torch.cat([torch.ones(20), net.neuron_sign[:26]])
    for _ in range(5):
        opt.zero_grad()
        w_rec, w_out = net.effective_weights()
        # minimising sign * w pushes excitatory weights negative and inhibitory positive
        loss = (w_rec * pre_rec).sum() + (w_out * net.neuron_sign).sum()
        loss.backward()
        opt.step()
    ok, zeros = _signs_ok(net)
    assert ok
    assert zeros == net.rec.w_raw.numel() + net.out.w_raw.numel()  # all silenced, none flipped
    # the same through the network's forward pass and a loss rewarding sign flips
    net = EISNN(20, 4, num_neurons=30, synapses_per_neuron=8, seed=2, w_init=0.5)
    opt = torch.optim.Adam(net.parameters(), lr=0.5)
    x = (torch.rand(15, 3, 20) < 0.5).float()
    for _ in range(5):
        opt.zero_grad()
        y, _ = net(x)
        w_rec, w_out = net.effective_weights()
        (y.sum() + (w_rec * pre_rec).sum()).backward()
        opt.step()
    assert _signs_ok(net)[0]


def _reference_run(net: EISNN, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The appendix's equations written out with dense matrices, float64, hard threshold."""
    w_rec, w_out = (w.detach().double() for w in net.effective_weights())
    n_in, n_r = net.num_inputs, net.num_recurrent
    tau = net.tau_m.detach().double()
    k_r, k_o = torch.exp(-net.dt / tau[:n_r]), torch.exp(-net.dt / tau[n_r:])
    alpha = math.exp(-net.dt / 20.0)
    batch = x.shape[1]
    v_r = torch.zeros(batch, n_r, dtype=torch.float64)
    z_r = torch.zeros_like(v_r)
    v_o = torch.zeros(batch, net.num_outputs, dtype=torch.float64)
    z_o, f = torch.zeros_like(v_o), torch.zeros_like(v_o)
    ys, spikes = [], []
    for t in range(x.shape[0]):
        v_r = k_r * v_r + x[t] @ w_rec[:, :n_in].T + z_r @ w_rec[:, n_in:].T
        z_r = (v_r > 1.0).double()
        v_r = v_r - 0.9 * z_r
        v_o = k_o * v_o + z_r @ w_out[:, :n_r].T + z_o @ w_out[:, n_r:].T
        z_o = (v_o > 1.0).double()
        v_o = v_o - 0.9 * z_o
        f = alpha * f + z_o
        ys.append(f)
        spikes.append(z_r)
    return torch.stack(ys), torch.stack(spikes)


@pytest.mark.parametrize("backend", ["fused", "dense", "gather"])
def test_dynamics_match_the_written_out_equations(backend: str) -> None:
    net = EISNN(
        12,
        3,
        num_neurons=20,
        synapses_per_neuron=10,
        w_init=0.6,
        dt=2.0,
        backend=backend,
        spike_grad=heaviside,
        seed=3,
    ).double()
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(40, 2, 12, generator=gen) < 0.3).double()
    y, state, rec = net(x, return_spikes=True)
    y_ref, spikes_ref = _reference_run(net, x)
    assert rec.rec.sum() > 10 and rec.out.sum() > 0  # the test exercises spikes and resets
    torch.testing.assert_close(rec.rec, spikes_ref)
    torch.testing.assert_close(y, y_ref)
    assert isinstance(state, EISNNState)
    torch.testing.assert_close(state.filtered, y[-1])


def test_backends_agree_in_value_and_gradient() -> None:
    torch.manual_seed(0)
    x = (torch.rand(30, 2, 16) < 0.3).float()
    grads = []
    outs = []
    for backend in ("dense", "gather"):
        net = EISNN(16, 3, num_neurons=25, synapses_per_neuron=12, w_init=0.5, backend=backend)
        y, _ = net(x)
        (y[-1].sum() + net.spike_penalty()).backward()
        outs.append(y.detach())
        grads.append([p.grad.clone() for p in net.parameters()])
    torch.testing.assert_close(outs[0], outs[1])
    for g0, g1 in zip(*grads, strict=True):
        torch.testing.assert_close(g0, g1, rtol=1e-4, atol=1e-6)


def test_spike_penalty_state_continuation_reset_and_batch_first() -> None:
    net = EISNN(10, 2, num_neurons=20, synapses_per_neuron=8, w_init=0.6)
    with pytest.raises(RuntimeError, match="no spikes recorded"):
        net.spike_penalty()
    x = (torch.rand(20, 3, 10) < 0.4).float()
    y, _, rec = net(x, return_spikes=True)
    n_spikes = rec.rec.sum() + rec.out.sum()
    assert net.spike_penalty().item() == pytest.approx(0.01 * n_spikes.item() / (20 * 3 * 20))
    assert net.spike_penalty("sum").item() == pytest.approx(0.01 * n_spikes.item() / 3)
    y1, s1 = net(x[:8])
    y2, _ = net(x[8:], s1)
    torch.testing.assert_close(torch.cat([y1, y2]), y)
    bf = EISNN(10, 2, num_neurons=20, synapses_per_neuron=8, w_init=0.6, batch_first=True)
    bf.load_state_dict(net.state_dict())
    yb, _ = bf(x.transpose(0, 1))
    torch.testing.assert_close(yb.transpose(0, 1), y)
    stateful = EISNN(10, 2, num_neurons=20, synapses_per_neuron=8, w_init=0.6, init_hidden=True)
    stateful.load_state_dict(net.state_dict())
    stateful(x[:8])
    y2b = stateful(x[8:])  # init_hidden: y only, the state stays inside
    torch.testing.assert_close(y2b, y2)
    elm_snn.reset(stateful)
    assert stateful.hidden is None
    torch.testing.assert_close(stateful(x[:8]), y1)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="num_neurons"):
        EISNN(10, 5, num_neurons=5)
    with pytest.raises(ValueError, match="p_previous"):
        EISNN(10, 2, p_previous=1.5)
    with pytest.raises(ValueError, match="backend"):
        EISNN(10, 2, backend="sparse")
    net = EISNN(10, 2, num_neurons=20, synapses_per_neuron=4)
    with pytest.raises(ValueError, match="num_inputs = 10"):
        net(torch.rand(5, 2, 11))
    with pytest.raises(ValueError, match=r"state.v_rec"):
        bad = EISNNState(*(torch.zeros(2, 3) for _ in range(5)))
        net(torch.rand(5, 2, 10), bad)
    with pytest.raises(ValueError, match="reduction"):
        net(torch.rand(5, 2, 10))
        net.spike_penalty("max")


def test_overfits_tiny_batch() -> None:
    """CE on the low-passed output spikes (+ L1 spike penalty) falls 10x within 30 steps."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    # 3 classes, each a fixed random spike pattern (5% of bins), 2 copies each
    proto = (torch.rand(3, 40, 16, generator=gen) < 0.05).float()
    x = proto.repeat_interleave(2, 0).transpose(0, 1).contiguous()
    labels = torch.arange(3).repeat_interleave(2)
    net = EISNN(16, 3, num_neurons=60, synapses_per_neuron=20, dt=1.0)
    opt = torch.optim.Adam(net.parameters(), lr=2e-2)

    def loss_fn() -> torch.Tensor:
        y, _ = net(x)
        return torch.nn.functional.cross_entropy(y[-1], labels) + net.spike_penalty()

    first = loss_fn().item()
    for _ in range(30):
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        opt.step()
    assert loss_fn().item() < first / 10
