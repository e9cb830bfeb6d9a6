"""Metrics against scikit-learn (the test oracle) and a brute-force TP@FP reference, and the
NeuronIO loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from elm_snn import metrics as M
from tests.conftest import require_module


@pytest.fixture
def sk():
    """``sklearn.metrics``, the oracle (required with ``ELM_SNN_STRICT=1``)."""
    return require_module("sklearn.metrics")


def _data(seed: int, n: int = 3000, ties: bool = True) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.05).astype(np.int64)
    s = rng.normal(size=n) + 1.5 * y
    if ties:
        s = np.round(s, 1)  # many ties, also across classes
    return y, s


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("ties", [True, False])
def test_roc_and_auc_match_sklearn(sk, seed, ties):
    y, s = _data(seed, ties=ties)
    assert M.roc_auc(y, s) == pytest.approx(sk.roc_auc_score(y, s), abs=1e-12)
    for drop in (True, False):
        fpr, tpr, thr = M.roc_curve(y, s, drop_intermediate=drop)
        fpr2, tpr2, thr2 = sk.roc_curve(y, s, drop_intermediate=drop)
        np.testing.assert_allclose(fpr, fpr2, atol=1e-15)
        np.testing.assert_allclose(tpr, tpr2, atol=1e-15)
        np.testing.assert_array_equal(thr[1:], thr2[1:])


def _thinned_roc_counts(y, s) -> list[tuple[int, int]]:
    """Brute force, from the description of the ROC the official rule reads: every distinct
    score, from the highest down, is a threshold (a spike is predicted where score >= it);
    count its false and true positives. A threshold is kept unless the step that reaches it
    (new FP, new TP) equals the step that leaves it (scikit-learn's ``drop_intermediate``);
    the first and last are always kept. "Nothing predicted" (0, 0) is no threshold."""
    y, s = np.asarray(y).ravel(), np.asarray(s).ravel()
    thresholds = np.unique(s)[::-1]
    above = s[None, :] >= thresholds[:, None]
    counts = list(
        zip((above & (y == 0)).sum(1).tolist(), (above & (y == 1)).sum(1).tolist(), strict=True)
    )
    kept = []
    for j, (fp, tp) in enumerate(counts):
        if 0 < j < len(counts) - 1:
            step_in = (fp - counts[j - 1][0], tp - counts[j - 1][1])
            step_out = (counts[j + 1][0] - fp, counts[j + 1][1] - tp)
            if step_in == step_out:
                continue
        kept.append((fp, tp))
    return kept


def _brute_force_tp_at_fp(y, s, rate: float) -> float:
    """TP rate of the kept threshold whose FP rate is nearest to ``rate`` (the highest such
    threshold on ties). (0, 0) is never a candidate since it is no threshold."""
    y = np.asarray(y).ravel()
    n_neg, n_pos = int((y == 0).sum()), int((y == 1).sum())
    best, best_dist = None, np.inf
    for fp, tp in _thinned_roc_counts(y, s):
        dist = abs(fp / n_neg - rate)
        if dist < best_dist:
            best, best_dist = tp / n_pos, dist
    return best


RATES = (0.0, 0.0005, 0.0025, 0.01, 0.1, 0.5, 1.0)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(("n", "ties"), [(5000, True), (600, False), (40, True)])
def test_tp_rate_at_fp_matches_brute_force(seed, n, ties):
    y, s = _data(seed, n=n, ties=ties)
    y[0] = 1  # both classes, also in the tiny sets
    for rate in RATES:
        assert M.tp_rate_at_fp(y, s, rate) == _brute_force_tp_at_fp(y, s, rate), rate


def test_tp_rate_at_fp_never_takes_the_origin():
    # the top score is a spike: the first threshold has FP rate 0 like the (0, 0) point
    y = np.array([1, 0, 0, 1, 0, 0, 0, 0])
    s = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2])
    assert _brute_force_tp_at_fp(y, s, 0.0) == 0.5
    assert M.tp_rate_at_fp(y, s, 0.0) == 0.5
    assert M.tp_rate_at_fp(y, s, 0.01) == 0.5
    # the first threshold (a tie of a spike and a non-spike, FP rate 1/3) is farther from
    # 0.01 than the origin is: still its point, not the origin's TP rate 0
    y = np.array([0, 1, 0, 0])
    s = np.array([0.9, 0.9, 0.7, 0.6])
    assert _brute_force_tp_at_fp(y, s, 0.01) == 1.0
    assert M.tp_rate_at_fp(y, s, 0.01) == 1.0


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("ties", [True, False])
def test_brute_force_roc_matches_sklearn(sk, seed, ties):
    """The brute-force reference reads the same ROC points as scikit-learn."""
    y, s = _data(seed, n=800, ties=ties)
    fpr, tpr, _ = sk.roc_curve(y, s)
    kept = np.array(_thinned_roc_counts(y, s), dtype=np.float64)
    np.testing.assert_array_equal(fpr[1:], kept[:, 0] / (y == 0).sum())
    np.testing.assert_array_equal(tpr[1:], kept[:, 1] / (y == 1).sum())
    assert fpr[0] == tpr[0] == 0.0


def test_torch_inputs_and_all_ties(sk):
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


def test_voltage_metrics_match_sklearn(sk):
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
        "AUC @ 0.0025 FP",
        "AUC @ 0.0100 FP",
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
