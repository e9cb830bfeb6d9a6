"""The official NeuronIO "AUC @ x FP" metric and the one map between metric names."""

from __future__ import annotations

import json

import numpy as np
import pytest

from elm_snn import metrics as M


def _brute_force_roc(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ROC points by thresholding at every distinct score, one loop per threshold (no
    shortcuts shared with elm_snn.metrics)."""
    pos = labels.sum()
    neg = labels.size - pos
    fpr, tpr = [0.0], [0.0]
    for thr in sorted(set(scores.tolist()), reverse=True):
        predicted = scores >= thr
        tpr.append(float((predicted & (labels == 1)).sum()) / pos)
        fpr.append(float((predicted & (labels == 0)).sum()) / neg)
    return np.array(fpr), np.array(tpr)


def _brute_force_auc_at_fp(labels, scores, fp_rate, points=20000):
    """The authors' definition written out: linear interpolation of the ROC at ``points``
    evenly spaced false-positive rates in [0, 1], the grid index k nearest to ``fp_rate``
    (at least 1, at most points - 1), and the mean TPR over grid points 0..k-1. Interpolation
    by a hand-written search, taking the last ROC point at a repeated FPR like np.interp."""
    fpr, tpr = _brute_force_roc(labels, scores)
    grid = [i / (points - 1) for i in range(points)]
    k = min(range(points), key=lambda i: abs(grid[i] - fp_rate))
    k = min(max(k, 1), points - 1)
    values = []
    for g in grid[:k]:
        j = max(i for i in range(len(fpr)) if fpr[i] <= g)
        if j == len(fpr) - 1 or fpr[j + 1] == fpr[j]:
            values.append(tpr[j])
        else:
            w = (g - fpr[j]) / (fpr[j + 1] - fpr[j])
            values.append(tpr[j] + w * (tpr[j + 1] - tpr[j]))
    return float(np.mean(values))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("fp_rate", [0.0025, 0.01, 0.2])
def test_auc_at_fp_matches_brute_force(seed, fp_rate):
    rng = np.random.default_rng(seed)
    n = 600
    labels = (rng.random(n) < 0.1).astype(int)
    # informative scores with ties (rounded), as a spike probability would have
    scores = np.round(labels * rng.normal(1.0, 1.0, n) + rng.normal(0, 1.0, n), 1)
    want = _brute_force_auc_at_fp(labels, scores, fp_rate)
    assert M.auc_at_fp(labels, scores, fp_rate) == pytest.approx(want, abs=1e-12)


def test_auc_at_fp_limits():
    labels = np.array([0] * 500 + [1] * 20)
    perfect = labels.astype(float)
    assert M.auc_at_fp(labels, perfect, 0.01) == pytest.approx(1.0)
    # random scores: TPR ~ FPR, so the mean over [0, x) is about x / 2
    rng = np.random.default_rng(0)
    big = (rng.random(200_000) < 0.2).astype(int)
    assert M.auc_at_fp(big, rng.random(big.size), 0.2) == pytest.approx(0.1, abs=0.01)
    # backwards ranking: no positive above any negative in the first 1 %
    assert M.auc_at_fp(labels, -perfect, 0.01) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="fp_rate"):
        M.auc_at_fp(labels, perfect, 1.5)


def test_spike_metrics_have_official_keys(official_models_dir):
    """Every metric of the authors' eval_results.json is produced under the same key, and
    the name map covers exactly those keys."""
    official = json.loads(
        (official_models_dir / "best_elm_neuron" / "eval_results.json").read_text()
    )
    keys = set(official["test_results"])
    rng = np.random.default_rng(0)
    labels = (rng.random(3000) < 0.05).astype(int)
    got = M.spike_and_soma_metrics(
        labels, rng.random(3000) + labels, rng.normal(size=3000), rng.normal(size=3000)
    )
    assert set(got) == keys
    assert set(M.OFFICIAL_METRIC_NAMES.values()) == keys
    ours = M.from_official_names(official["test_results"], prefix="test_")
    assert ours["test_auc"] == official["test_results"]["AUC"]
    assert ours["test_auc_at_0.25pct_fp"] == official["test_results"]["AUC @ 0.0025 FP"]
    assert ours["test_tp_at_1pct_fp"] == official["test_results"]["TP @ 0.0100 FP"]
    assert M.to_official_names(ours) == official["test_results"]
    assert M.official_metric_name("auc_at_5pct_fp") == "AUC @ 0.0500 FP"
    with pytest.raises(KeyError, match="not a NeuronIO metric"):
        M.official_metric_name("accuracy")
    with pytest.raises(KeyError, match="not an official"):
        M.from_official_names({"F1": 0.3})
