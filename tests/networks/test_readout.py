"""Readouts: last step, low-pass filter and the SequenceClassifier head."""

from __future__ import annotations

import math

import pytest
import torch

from elm_snn import ELM
from elm_snn.networks import EISNN, LSTM, SequenceClassifier, last_step, low_pass


def test_last_step_both_layouts() -> None:
    y = torch.arange(24.0).reshape(4, 2, 3)
    torch.testing.assert_close(last_step(y), y[-1])
    torch.testing.assert_close(last_step(y.transpose(0, 1), batch_first=True), y[-1])
    with pytest.raises(ValueError, match="3-D"):
        last_step(torch.zeros(3, 2))


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
        SequenceClassifier(lstm, 7, 3, readout="mean")
    with pytest.raises(ValueError, match="num_features"):
        SequenceClassifier(lstm, 6, 3)(torch.rand(5, 2, 10))
    with pytest.raises(ValueError, match="dropout"):
        SequenceClassifier(lstm, 7, 3, dropout=1.0)
    with pytest.raises(TypeError, match="backbone"):
        SequenceClassifier("lstm", 7, 3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="dt"):
        SequenceClassifier(torch.nn.Identity(), 7, 3, readout="lowpass")
