"""Metrics against scikit-learn (the test oracle), and the NeuronIO loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from elm_snn import metrics as M

sk = pytest.importorskip("sklearn.metrics")


def _data(seed: int, n: int = 3000, ties: bool = True) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.05).astype(np.int64)
    s = rng.normal(size=n) + 1.5 * y
    if ties:
        s = np.round(s, 1)  # many ties, also across classes
    return y, s


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("ties", [True, False])
def test_roc_and_auc_match_sklearn(seed, ties):
    y, s = _data(seed, ties=ties)
    assert M.roc_auc(y, s) == pytest.approx(sk.roc_auc_score(y, s), abs=1e-12)
    for drop in (True, False):
        fpr, tpr, thr = M.roc_curve(y, s, drop_intermediate=drop)
        fpr2, tpr2, thr2 = sk.roc_curve(y, s, drop_intermediate=drop)
        np.testing.assert_allclose(fpr, fpr2, atol=1e-15)
        np.testing.assert_allclose(tpr, tpr2, atol=1e-15)
        np.testing.assert_array_equal(thr[1:], thr2[1:])


def _official_tp_at_fp(y, s, rate):
    """The official definition, written from its description, on sklearn's ROC."""
    fpr, tpr, _ = sk.roc_curve(y.ravel(), s.ravel())
    i = int(np.argmin(np.abs(fpr - rate)))
    return tpr[max(i, 1)]


@pytest.mark.parametrize("seed", range(4))
def test_tp_rate_at_fp_matches_official_definition(seed):
    y, s = _data(seed, n=5000)
    for rate in (0.0025, 0.01, 0.1):
        assert M.tp_rate_at_fp(y, s, rate) == _official_tp_at_fp(y, s, rate)


def test_torch_inputs_and_all_ties():
    y = torch.tensor([0, 1, 0, 1, 1])
    s = torch.full((5,), 0.3)
    assert M.roc_auc(y, s) == 0.5
    assert M.roc_auc(y.numpy(), np.arange(5.0)) == pytest.approx(
        sk.roc_auc_score(y.numpy(), np.arange(5.0))
    )


def test_bad_inputs():
    with pytest.raises(ValueError, match="both classes"):
        M.roc_auc(np.zeros(4), np.arange(4.0))
    with pytest.raises(ValueError, match="binary"):
        M.roc_auc(np.array([0, 2, 1]), np.arange(3.0))
    with pytest.raises(ValueError, match="same number"):
        M.roc_auc(np.array([0, 1]), np.arange(3.0))
    with pytest.raises(ValueError, match="finite"):
        M.roc_auc(np.array([0, 1]), np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match="fp_rate"):
        M.tp_rate_at_fp(np.array([0, 1]), np.array([0.0, 1.0]), 1.5)
    with pytest.raises(ValueError, match="constant"):
        M.explained_variance_percent(np.ones(3), np.arange(3.0))


def test_voltage_metrics_match_sklearn():
    rng = np.random.default_rng(0)
    t = rng.normal(size=500)
    p = t + rng.normal(scale=0.3, size=500) + 0.1
    assert M.rmse(t, p) == pytest.approx(np.sqrt(sk.mean_squared_error(t, p)))
    assert M.mae(t, p) == pytest.approx(sk.mean_absolute_error(t, p))
    assert M.explained_variance_percent(t, p) == pytest.approx(
        100 * sk.explained_variance_score(t, p)
    )
    y, s = _data(3)
    res = M.spike_and_soma_metrics(y, s, t, p)
    assert set(res) == {
        "AUC",
        "TP @ 0.0025 FP",
        "TP @ 0.0100 FP",
        "soma_RMSE",
        "soma_MAE",
        "soma_explained_variance_percent",
    }


def test_neuronio_loss():
    g = torch.Generator().manual_seed(0)
    T, B = 20, 3
    out = torch.randn(T, B, 2, generator=g)
    spikes = (torch.rand(T, B, generator=g) < 0.2).float()
    volt = torch.randn(T, B, generator=g)
    bi = 5
    logit, v = out[bi:, :, 0], out[bi:, :, 1]
    p = torch.sigmoid(logit)
    bce = -(spikes[bi:] * torch.log(p) + (1 - spikes[bi:]) * torch.log(1 - p)).mean()
    mse = ((v - volt[bi:]) ** 2).mean()
    expected = 0.5 * bce + 0.5 * mse
    got = M.neuronio_loss(out, spikes, volt, burn_in=bi)
    torch.testing.assert_close(got, expected)
    # steps inside the burn-in do not matter
    out2 = out.clone()
    out2[:bi] = 1e3
    torch.testing.assert_close(M.neuronio_loss(out2, spikes, volt, burn_in=bi), expected)
    assert not torch.allclose(M.neuronio_loss(out, spikes, volt, burn_in=0), expected)
    with pytest.raises(ValueError, match="burn_in"):
        M.neuronio_loss(out, spikes, volt, burn_in=T)
    with pytest.raises(ValueError, match=r"\(T, B, 2\)"):
        M.neuronio_loss(out[..., :1], spikes, volt)
    with pytest.raises(ValueError, match="spikes"):
        M.neuronio_loss(out, spikes[:-1], volt)
