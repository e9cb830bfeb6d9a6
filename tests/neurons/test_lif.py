"""LIF / ALIF layers: analytic dynamics, adaptive threshold, parameter counts, training."""

from __future__ import annotations

import math

import pytest
import torch

import elm_snn
from elm_snn.functional.lif import (
    ALIFParameters,
    ALIFState,
    LIFParameters,
    LIFState,
    alif_step,
    heaviside,
    lif_sequence,
    lif_step,
)
from elm_snn.neurons.lif import LinearALIF, LinearLIF


def _constant_drive_lif(reset: str, tau: float = 10.0, drive: float = 2.0) -> LinearLIF:
    lif = LinearLIF(2, 1, dt=1.0, tau_m_init=tau, reset=reset).double()
    with torch.no_grad():
        lif.linear.weight.copy_(torch.tensor([[drive, 0.0]]))
        lif.linear.bias.zero_()
    return lif


def test_lif_matches_analytic_trace_and_spike_times_zero_reset() -> None:
    lif = _constant_drive_lif("zero")
    x = torch.zeros(30, 1, 2, dtype=torch.float64)
    x[..., 0] = 1.0
    y, state, rec = lif(x, return_states=True)
    # tau_m went through float32 before .double(): use the layer's value for the analytic trace
    assert lif.tau_m.item() == pytest.approx(10.0, rel=1e-6)
    kappa = math.exp(-1.0 / lif.tau_m.item())
    # v relaxes to 2 from rest: v_k = 2 (1 - kappa^k); crosses 1 when kappa^k < 1/2, k = 7
    period = math.ceil(math.log(0.5) / math.log(kappa))
    assert period == 7
    expected_v = torch.tensor(
        [2.0 * (1 - kappa ** ((t % period) + 1)) for t in range(30)], dtype=torch.float64
    )
    torch.testing.assert_close(y[:, 0, 1], expected_v, rtol=1e-6, atol=1e-9)
    spike_steps = torch.nonzero(rec.spikes[:, 0, 0]).flatten().tolist()
    assert spike_steps == [6, 13, 20, 27]
    # logit = 10 (v - 1) with the fixed default scale
    torch.testing.assert_close(y[:, 0, 0], 10.0 * (expected_v - 1.0), rtol=1e-6, atol=1e-8)
    assert y.shape == (30, 1, 2)
    # final state is the post-reset voltage after step 29 (2 steps after the spike at 27)
    assert state.v.item() == pytest.approx(2.0 * (1 - kappa**2), rel=1e-6)


def test_lif_subtract_reset_matches_hand_loop() -> None:
    lif = _constant_drive_lif("subtract", tau=5.0, drive=3.0)
    x = torch.zeros(25, 1, 2, dtype=torch.float64)
    x[..., 0] = 1.0
    _, _, rec = lif(x, return_states=True)
    kappa = math.exp(-1.0 / lif.tau_m.item())
    v, vs, zs = 0.0, [], []
    for _ in range(25):
        v = kappa * v + (1 - kappa) * 3.0
        z = 1.0 if v > 1.0 else 0.0
        vs.append(v)
        zs.append(z)
        v -= z * 1.0
    torch.testing.assert_close(rec.voltage[:, 0, 0], torch.tensor(vs, dtype=torch.float64))
    torch.testing.assert_close(rec.spikes[:, 0, 0], torch.tensor(zs, dtype=torch.float64))
    assert sum(zs) >= 5


def test_lif_no_reset_is_a_linear_filter_of_the_projection() -> None:
    torch.manual_seed(0)
    lif = LinearLIF(4, 3, dt=0.5, tau_m_init=7.0, reset="none").double()
    x = torch.randn(12, 2, 4, dtype=torch.float64)
    y, _ = lif(x)
    kappa = torch.exp(-0.5 / lif.tau_m.detach())
    drive = x @ lif.linear.weight.t() + lif.linear.bias
    v = torch.zeros(2, 3, dtype=torch.float64)
    for t in range(12):
        v = kappa * v + (1 - kappa) * drive[t]
        torch.testing.assert_close(y[t, :, 3:], v)


def test_alif_threshold_jumps_by_strength_and_decays_with_tau_a() -> None:
    alif = LinearALIF(
        1, 1, dt=1.0, tau_m_init=5.0, tau_a_init=40.0, adapt_strength_init=0.5, reset="zero"
    ).double()
    with torch.no_grad():
        alif.linear.weight.fill_(3.0)
        alif.linear.bias.zero_()
    x = torch.zeros(120, 1, 1, dtype=torch.float64)
    x[:40] = 1.0  # drive for 40 ms, then silence
    _, state, rec = alif(x, return_states=True)
    theta = rec.threshold[:, 0, 0]
    z = rec.spikes[:, 0, 0]
    rho = math.exp(-1.0 / alif.tau_a.item())
    assert alif.tau_a.item() == pytest.approx(40.0, rel=1e-6)
    beta = alif.adapt_strength.item()
    assert beta == pytest.approx(0.5, rel=1e-6)
    assert theta[0].item() == 1.0
    assert int(z.sum()) >= 3
    for t in range(119):
        expected = rho * (theta[t] - 1.0) + beta * z[t]
        assert (theta[t + 1] - 1.0).item() == pytest.approx(expected.item(), rel=1e-9, abs=1e-12)
    first = int(torch.nonzero(z)[0])
    assert (theta[first + 1] - theta[first]).item() == pytest.approx(
        beta - (1 - rho) * (theta[first] - 1.0).item(), rel=1e-9
    )
    # after the last spike the excess threshold decays by exp(-dt / tau_a) per step
    last = int(torch.nonzero(z)[-1])
    excess = theta[last + 2 :] - 1.0
    torch.testing.assert_close(excess[1:] / excess[:-1], torch.full_like(excess[1:], rho))
    # adaptation lowers the firing rate compared with the same LIF
    lif = LinearLIF(1, 1, dt=1.0, tau_m_init=5.0, reset="zero").double()
    lif.load_state_dict({k: v for k, v in alif.state_dict().items() if k in lif.state_dict()})
    _, _, rec_lif = lif(x, return_states=True)
    assert rec_lif.spikes.sum() > z.sum()
    assert isinstance(state, ALIFState)


def test_functional_steps_direct() -> None:
    p = LIFParameters(
        decay=torch.tensor([0.5]),
        threshold=1.0,
        reset="subtract",
        reset_amount=0.9,
        spike_fn=heaviside,
    )
    z, v, s = lif_step(torch.tensor([[1.2]]), LIFState(torch.tensor([[0.4]])), p)
    assert z.item() == 1.0 and v.item() == pytest.approx(1.4) and s.v.item() == pytest.approx(0.5)
    pa = ALIFParameters(
        decay=torch.tensor([0.5]),
        adapt_decay=torch.tensor([0.8]),
        adapt_strength=torch.tensor([0.3]),
        spike_fn=heaviside,
    )
    z, v, theta, s2 = alif_step(
        torch.tensor([[1.2]]), ALIFState(torch.zeros(1, 1), torch.tensor([[1.0]])), pa
    )
    assert theta.item() == pytest.approx(1.3) and z.item() == 0.0
    assert s2.a.item() == pytest.approx(0.8)
    rec, final = lif_sequence(torch.ones(3, 1, 1), None, p)
    assert rec.spikes.shape == (3, 1, 1) and final.v.shape == (1, 1)


def test_parameter_counts_match_table_s4() -> None:
    def count(m: torch.nn.Module) -> int:
        return sum(p.numel() for p in m.parameters() if p.requires_grad)

    assert count(LinearLIF(1278)) == 1280
    assert count(LinearALIF(1278)) == 1282
    assert count(LinearLIF(1278, learn_spike_logit=True)) == 1282
    assert count(LinearLIF(1278, learn_tau_m=False)) == 1279


def test_tau_m_stays_in_bounds_and_gradients_flow() -> None:
    lif = LinearLIF(3, 2, tau_m_min=2.0, tau_m_max=30.0, tau_m_init=10.0)
    with torch.no_grad():
        lif.tau_m_raw.fill_(1e4)
    assert torch.all(lif.tau_m <= 30.0)
    with torch.no_grad():
        lif.tau_m_raw.fill_(-1e4)
    assert torch.all(lif.tau_m >= 2.0)
    lif = LinearALIF(3, 2)
    y, _ = lif(torch.rand(8, 2, 3))
    y.sum().backward()
    for name, p in lif.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_batch_first_state_continuation_and_reset() -> None:
    torch.manual_seed(1)
    lif = LinearALIF(5, 2, reset="subtract")
    x = torch.rand(10, 3, 5) * 3
    y, _ = lif(x)
    y1, s1 = lif(x[:4])
    y2, _ = lif(x[4:], s1)
    torch.testing.assert_close(torch.cat([y1, y2]), y)
    bf = LinearALIF(5, 2, reset="subtract", batch_first=True)
    bf.load_state_dict(lif.state_dict())
    yb, _ = bf(x.transpose(0, 1))
    torch.testing.assert_close(yb.transpose(0, 1), y)
    stateful = LinearALIF(5, 2, reset="subtract", init_hidden=True)
    stateful.load_state_dict(lif.state_dict())
    stateful(x[:4])
    y2b = stateful(x[4:])  # init_hidden: only y comes back, the state stays inside
    torch.testing.assert_close(y2b, y2)
    elm_snn.reset(torch.nn.Sequential(stateful))
    assert stateful.hidden is None
    y_again = stateful(x[:4])
    torch.testing.assert_close(y_again, y1)


def test_spikes_output_mode() -> None:
    lif = LinearLIF(3, 4, output="spikes")
    y, _ = lif(torch.rand(6, 2, 3) * 5)
    assert y.shape == (6, 2, 4)
    assert set(torch.unique(y).tolist()) <= {0.0, 1.0}


@pytest.mark.parametrize(
    ("kwargs", "x", "error", "match"),
    [
        ({}, torch.rand(5, 3), ValueError, "3-D"),
        ({}, torch.rand(5, 2, 4), ValueError, "num_inputs = 3"),
        ({}, torch.rand(5, 2, 3).double(), TypeError, "dtype"),
        ({}, torch.ones(5, 2, 3, dtype=torch.int64), TypeError, "floating-point"),
        ({}, torch.full((5, 2, 3), float("nan")), ValueError, "finite"),
        ({}, torch.rand(0, 2, 3), ValueError, "at least one time step"),
    ],
)
def test_bad_input(kwargs: dict, x: torch.Tensor, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        LinearLIF(3, **kwargs)(x)


def test_bad_arguments_and_state() -> None:
    with pytest.raises(ValueError, match="reset"):
        LinearLIF(3, reset="hard")
    with pytest.raises(ValueError, match="tau_m_init"):
        LinearLIF(3, tau_m_init=600.0)
    with pytest.raises(ValueError, match="output"):
        LinearLIF(3, output="rates")
    with pytest.raises(ValueError, match="dt"):
        LinearLIF(3, dt=0)
    with pytest.raises(ValueError, match="num_inputs"):
        LinearLIF(0)
    with pytest.raises(ValueError, match="tau_a_init"):
        LinearALIF(3, tau_a_init=5000.0)
    with pytest.raises(TypeError, match="spike_grad"):
        LinearLIF(3, spike_grad=3)
    lif = LinearALIF(3, 2)
    with pytest.raises(ValueError, match=r"state.v: expected shape"):
        lif(torch.rand(4, 2, 3), ALIFState(torch.zeros(3, 2), torch.zeros(2, 2)))
    with pytest.raises(TypeError, match="ALIFState"):
        lif(torch.rand(4, 2, 3), (torch.zeros(2, 2),))


def _teacher_data(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Input spikes and the voltage/spikes of a teacher LIF (tau 10 ms, threshold 0.5)."""
    gen = torch.Generator().manual_seed(seed)
    x = (torch.rand(60, 4, 20, generator=gen) < 0.2).float()
    teacher = LinearLIF(20, 1, tau_m_init=10.0, reset="zero", threshold=0.5)
    with torch.no_grad():
        teacher.linear.weight.copy_(torch.randn(1, 20, generator=gen) * 3.0)
        teacher.linear.bias.zero_()
        y, _, rec = teacher(x, return_states=True)
    return x, y[..., 1], rec.spikes[..., 0]


@pytest.mark.parametrize("cls", [LinearLIF, LinearALIF])
def test_overfits_tiny_batch(cls: type) -> None:
    """BCE(spike logit) + MSE(voltage), the NeuronIO loss, falls 3x within 60 Adam steps."""
    torch.manual_seed(0)
    x, v_target, s_target = _teacher_data()
    assert 0.05 < s_target.mean() < 0.9  # the target has spikes and silences
    model = cls(20, 1, tau_m_init=40.0, reset="zero", threshold=0.5)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)

    def loss_fn() -> torch.Tensor:
        y, _ = model(x)
        bce = torch.nn.functional.binary_cross_entropy_with_logits(y[..., 0], s_target)
        return bce + torch.nn.functional.mse_loss(y[..., 1], v_target)

    first = loss_fn().item()
    for _ in range(60):
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        opt.step()
    assert loss_fn().item() < first / 3
