"""Readouts: last step, low-pass filter and the SequenceClassifier head."""

from __future__ import annotations

import math

import pytest
import torch

from elm_snn import ELM
from elm_snn.networks import (
    EISNN,
    LSTM,
    READOUTS,
    SequenceClassifier,
    aggregate,
    last_step,
    low_pass,
)


def test_last_step_both_layouts() -> None:
    y = torch.arange(24.0).reshape(4, 2, 3)
    torch.testing.assert_close(last_step(y), y[-1])
    torch.testing.assert_close(last_step(y.transpose(0, 1), batch_first=True), y[-1])
    with pytest.raises(ValueError, match="3-D"):
        last_step(torch.zeros(3, 2))


def _by_hand(y: list[list[float]], how: str) -> list[float]:
    """Reduce ``y[t][f]`` over ``t`` with Python loops (reference for :func:`aggregate`)."""
    out = []
    for f in range(len(y[0])):
        column = [y[t][f] for t in range(len(y))]
        if how == "last":
            out.append(column[-1])
        elif how == "sum":
            total = 0.0
            for v in column:
                total += v
            out.append(total)
        elif how == "mean":
            total = 0.0
            for v in column:
                total += v
            out.append(total / len(column))
        else:
            best = column[0]
            for v in column[1:]:
                best = v if v > best else best
            out.append(best)
    return out


@pytest.mark.parametrize("how", ["last", "mean", "sum", "max"])
def test_aggregate_against_hand_reduction(how: str) -> None:
    g = torch.Generator().manual_seed(3)
    y = torch.randn(6, 2, 3, generator=g, dtype=torch.float64)
    got = aggregate(y, how)
    assert got.shape == (2, 3)
    for b in range(2):
        expected = _by_hand(y[:, b].tolist(), how)
        torch.testing.assert_close(got[b], torch.tensor(expected, dtype=torch.float64))
    bf = aggregate(y.transpose(0, 1).contiguous(), how, batch_first=True)
    torch.testing.assert_close(bf, got)


def test_aggregate_readouts_differ_and_bad_input() -> None:
    y = torch.tensor([[[1.0]], [[4.0]], [[-2.0]]])  # T=3, B=1, F=1
    values = {h: float(aggregate(y, h)) for h in ("last", "mean", "sum", "max")}
    assert values == {"last": -2.0, "mean": 1.0, "sum": 3.0, "max": 4.0}
    with pytest.raises(ValueError, match="how: expected one of .*got 'median'"):
        aggregate(y, "median")
    with pytest.raises(ValueError, match="at least one time step"):
        aggregate(torch.zeros(0, 2, 3), "mean")


def test_classifier_lowpass_then_aggregate() -> None:
    x = (torch.rand(12, 4, 10, generator=torch.Generator().manual_seed(0)) < 0.3).float()
    lstm = LSTM(10, 7)
    y, _ = lstm(x)
    for readout in READOUTS:
        clf = SequenceClassifier(lstm, 7, readout=readout, tau_ms=10.0, dt=2.0)
        if readout.startswith("lowpass"):
            how = readout.partition("-")[2] or "last"
            expected = aggregate(low_pass(y, 10.0, 2.0), how)
        else:
            expected = aggregate(y, readout)
        torch.testing.assert_close(clf(x), expected)
    sums = SequenceClassifier(lstm, 7, readout="sum")(x)
    torch.testing.assert_close(sums, y.sum(0))


def test_low_pass_step_response() -> None:
    y = torch.ones(50, 2, 3, dtype=torch.float64)
    alpha = math.exp(-2.0 / 20.0)
    expected = torch.tensor([1 - alpha ** (t + 1) for t in range(50)], dtype=torch.float64)
    out = low_pass(y, 20.0, 2.0)
    torch.testing.assert_close(out[:, 1, 2], expected)
    leaky = low_pass(y, 20.0, 2.0, normalize=False)
    torch.testing.assert_close(leaky[:, 0, 0], expected / (1 - alpha))
    init = torch.full((2, 3), 5.0, dtype=torch.float64)
    torch.testing.assert_close(
        low_pass(torch.zeros_like(y), 20.0, 2.0, initial=init)[:, 0, 0],
        torch.tensor([5.0 * alpha ** (t + 1) for t in range(50)], dtype=torch.float64),
    )
    bf = low_pass(y.transpose(0, 1), 20.0, 2.0, batch_first=True)
    torch.testing.assert_close(bf.transpose(0, 1), out)
    with pytest.raises(ValueError, match="tau_ms"):
        low_pass(y, 0.0, 1.0)
    with pytest.raises(ValueError, match="initial"):
        low_pass(y, 20.0, 1.0, initial=torch.zeros(3, 3, dtype=torch.float64))


def test_classifier_with_each_backbone() -> None:
    x = (torch.rand(12, 4, 10) < 0.3).float()
    elm = ELM(10, 8, 5, dt=2.0)
    logits = SequenceClassifier(elm, 5)(x)  # ELM readout already gives the classes
    torch.testing.assert_close(logits, elm(x)[0][-1])
    lstm = LSTM(10, 7)
    assert SequenceClassifier(lstm, 7, 3, dropout=0.5)(x).shape == (4, 3)
    snn = EISNN(10, 3, num_neurons=20, synapses_per_neuron=5, dt=2.0)
    clf = SequenceClassifier(snn, 3, readout="lowpass", tau_ms=10.0)
    assert clf.dt == 2.0
    y, _ = snn(x)
    torch.testing.assert_close(clf(x), low_pass(y, 10.0, 2.0)[-1])
    bf = LSTM(10, 7, batch_first=True)
    bf.load_state_dict(lstm.state_dict())
    torch.testing.assert_close(
        SequenceClassifier(bf, 7)(x.transpose(0, 1)), SequenceClassifier(lstm, 7)(x)
    )


def test_classifier_bad_arguments() -> None:
    lstm = LSTM(10, 7)
    with pytest.raises(ValueError, match="readout"):
        SequenceClassifier(lstm, 7, 3, readout="median")
    with pytest.raises(ValueError, match="num_features"):
        SequenceClassifier(lstm, 6, 3)(torch.rand(5, 2, 10))
    with pytest.raises(ValueError, match="dropout"):
        SequenceClassifier(lstm, 7, 3, dropout=1.0)
    with pytest.raises(TypeError, match="backbone"):
        SequenceClassifier("lstm", 7, 3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="dt"):
        SequenceClassifier(torch.nn.Identity(), 7, 3, readout="lowpass")
