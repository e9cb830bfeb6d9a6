"""LSTM / Chrono-LSTM baselines: interface, recurrent dropout, chrono biases, training."""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats

import elm_snn
from elm_snn.networks import LSTM, ChronoLSTM, SequenceClassifier, chrono_bias


def _count(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters() if p.requires_grad)


def test_parameter_count_of_the_paper_lstm() -> None:
    # 4 H (I + H + 2) + O (H + 1) with H=250, I=700, O=19: the paper's "956K"
    assert _count(LSTM(700, 250, 19)) == 4 * 250 * (700 + 250 + 2) + 19 * 251 == 956_769


def test_matches_torch_lstm_and_continues_state() -> None:
    torch.manual_seed(0)
    m = LSTM(6, 5, 3)
    x = torch.randn(9, 2, 6)
    y, (h, c) = m(x)
    ref, (h_ref, c_ref) = m.lstm(x)
    torch.testing.assert_close(y, m.readout(ref))
    torch.testing.assert_close(h, h_ref[0])
    y1, s1 = m(x[:4])
    y2, _ = m(x[4:], s1)
    torch.testing.assert_close(torch.cat([y1, y2]), y)
    bf = LSTM(6, 5, 3, batch_first=True)
    bf.load_state_dict(m.state_dict())
    torch.testing.assert_close(bf(x.transpose(0, 1))[0].transpose(0, 1), y)
    stateful = LSTM(6, 5, 3, init_hidden=True)
    stateful.load_state_dict(m.state_dict())
    stateful(x[:4])
    torch.testing.assert_close(stateful(x[4:]), y2)  # init_hidden: y only
    elm_snn.reset(stateful)
    assert stateful.hidden is None
    assert LSTM(6, 5)(x)[0].shape == (9, 2, 5)


def test_recurrent_dropout_is_dropconnect_on_hidden_weights_in_training_only() -> None:
    torch.manual_seed(0)
    m = LSTM(6, 32, recurrent_dropout=0.3)
    x = torch.randn(7, 2, 6)
    y, _ = m(x)
    y.sum().backward()
    g = m.lstm.weight_hh_l0.grad
    frac_zero = (g == 0).float().mean().item()
    assert 0.2 < frac_zero < 0.4  # dropped entries get no gradient
    assert (m.lstm.weight_ih_l0.grad != 0).float().mean() > 0.95
    y_other, _ = m(x)
    assert not torch.allclose(y, y_other)  # a new mask per call
    m.eval()
    ref, _ = m.lstm(x)
    torch.testing.assert_close(m(x)[0], ref)
    assert m.training is False and m.lstm.weight_hh_l0.requires_grad


def test_chrono_biases_follow_log_uniform() -> None:
    m = ChronoLSTM(4, 2000, t_max_ms=1000.0, dt=2.0, seed=0)
    t_max = 500.0
    assert m.t_max_steps == t_max
    b_f = m.forget_bias.detach().double()
    torch.testing.assert_close(m.input_bias.detach().double(), -b_f)
    assert b_f.min() >= 0.0 and b_f.max() <= math.log(t_max - 1) + 1e-5
    # exp(b_f) ~ U[1, T_max - 1]: Kolmogorov-Smirnov test with a fixed seed
    result = stats.kstest(torch.exp(b_f).numpy(), "uniform", args=(1.0, t_max - 2.0))
    assert result.pvalue > 0.01
    # E[log U] for U ~ U[a, b] = (b ln b - a ln a) / (b - a) - 1
    a, b = 1.0, t_max - 1.0
    expected_mean = (b * math.log(b) - a * math.log(a)) / (b - a) - 1
    assert abs(b_f.mean().item() - expected_mean) < 0.05
    # the bias_hh halves of the input and forget gates start at zero
    assert torch.all(m.lstm.bias_hh_l0[: 2 * 2000] == 0)
    # and chrono_bias itself
    gen = torch.Generator().manual_seed(1)
    assert chrono_bias(10, 3.5, gen).max() <= math.log(2.5) + 1e-6


def test_bad_arguments_and_inputs() -> None:
    with pytest.raises(ValueError, match="recurrent_dropout"):
        LSTM(3, 4, recurrent_dropout=1.0)
    with pytest.raises(ValueError, match="t_max_ms"):
        ChronoLSTM(3, 4, t_max_ms=3.0, dt=2.0)
    with pytest.raises(ValueError, match="t_max"):
        chrono_bias(3, 2.0)
    m = LSTM(3, 4)
    with pytest.raises(ValueError, match="num_inputs = 3"):
        m(torch.rand(5, 2, 4))
    with pytest.raises(ValueError, match=r"state.h"):
        m(torch.rand(5, 2, 3), (torch.zeros(3, 4), torch.zeros(2, 4)))
    with pytest.raises(TypeError, match=r"tuple \(h, c\)"):
        m(torch.rand(5, 2, 3), torch.zeros(2, 4))


@pytest.mark.parametrize("chrono", [False, True])
def test_overfits_tiny_batch(chrono: bool) -> None:
    """CE from the last step falls 10x within 40 Adam steps (with recurrent dropout 0.3)."""
    torch.manual_seed(0)
    x = torch.randn(20, 6, 8)
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    if chrono:
        backbone = ChronoLSTM(8, 32, t_max_ms=20.0, recurrent_dropout=0.3, seed=0)
    else:
        backbone = LSTM(8, 32, recurrent_dropout=0.3)
    model = SequenceClassifier(backbone, 32, 3)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = torch.nn.functional.cross_entropy(model(x), labels).item()
    for _ in range(40):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), labels)
        loss.backward()
        opt.step()
    model.eval()
    assert torch.nn.functional.cross_entropy(model(x), labels).item() < first / 10
