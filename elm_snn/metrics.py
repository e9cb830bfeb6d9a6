"""Metrics and the training loss for NeuronIO-style spike + voltage prediction.

Everything here is implemented with numpy/torch only (no scikit-learn at runtime); the
tests check the ROC functions against ``sklearn.metrics`` on random data with ties.

* :func:`roc_curve` - ROC points, same definition as ``sklearn.metrics.roc_curve``
  (including ``drop_intermediate``), one point per distinct score.
* :func:`roc_auc` - area under the ROC; tied scores count one half (Mann-Whitney).
* :func:`tp_rate_at_fp` - the official NeuronIO "TP @ x FP": the true-positive rate at the ROC
  point whose false-positive rate is nearest to ``x``.
* :func:`rmse`, :func:`mae`, :func:`explained_variance_percent` - voltage metrics (mV).
* :func:`spike_and_soma_metrics` - all of the above in the official result keys.
* :func:`neuronio_loss` - 0.5 x BCE-with-logits + 0.5 x MSE after a burn-in: the official
  ``NeuronioLoss`` (0.5/0.5 weighting, mean reduction). The paper computes the loss after a
  150 ms burn-in (the default here); the public training script
  (``notebooks/neuronio_train_script.py``) applies it to all 500 steps: ``burn_in=0``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from elm_snn._validation import check_float_tensor

__all__ = [
    "roc_curve",
    "roc_auc",
    "tp_rate_at_fp",
    "rmse",
    "mae",
    "explained_variance_percent",
    "spike_and_soma_metrics",
    "neuronio_loss",
]


def _to_numpy(name: str, value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        if value.dtype == torch.bfloat16:
            value = value.float()
        value = value.numpy()
    arr = np.asarray(value)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise TypeError(f"{name}: expected a numeric array, got dtype {arr.dtype}")
    return arr.reshape(-1)


def _binary_inputs(labels: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    y = _to_numpy("labels", labels)
    s = _to_numpy("scores", scores)
    if y.shape != s.shape:
        raise ValueError(
            f"labels/scores: expected the same number of entries, got {y.size} and {s.size}"
        )
    if y.size and not np.all((y == 0) | (y == 1)):
        bad = np.unique(y[(y != 0) & (y != 1)])[:5]
        raise ValueError(f"labels: expected binary values 0/1, got e.g. {bad.tolist()}")
    s = s.astype(np.float64)
    if not np.all(np.isfinite(s)):
        raise ValueError("scores: expected finite values, got NaN/inf")
    y = y.astype(bool)
    n_pos = int(y.sum())
    if n_pos == 0 or n_pos == y.size:
        raise ValueError(
            f"labels: the ROC needs both classes, got {n_pos} positives among {y.size} entries"
        )
    return y, s


def roc_curve(
    labels: Any, scores: Any, drop_intermediate: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Receiver operating characteristic of a binary classifier.

    Points are taken at every distinct score, from the highest to the lowest, preceded by
    (0, 0) at threshold ``+inf``; ``drop_intermediate`` removes points collinear with their
    neighbours (both false- and true-positive counts change linearly), exactly like
    ``sklearn.metrics.roc_curve``.

    Args:
        labels: (N,) binary ground truth (any shape, flattened); both classes must occur.
        scores: (N,) scores, higher = more likely positive (any shape, flattened).
        drop_intermediate: drop collinear points (sklearn's default).

    Returns:
        ``(fpr, tpr, thresholds)``: float64 arrays; ``fpr``/``tpr`` non-decreasing from 0 to 1,
        ``thresholds`` decreasing (``thresholds[0] = inf``).
    """
    y, s = _binary_inputs(labels, scores)
    order = np.argsort(-s, kind="stable")
    s_sorted = s[order]
    y_sorted = y[order]
    last_of_value = np.flatnonzero(np.diff(s_sorted))
    idx = np.concatenate([last_of_value, [s_sorted.size - 1]])
    tps = np.cumsum(y_sorted, dtype=np.int64)[idx]
    fps = (idx + 1) - tps
    thresholds = s_sorted[idx]
    if drop_intermediate and fps.size > 2:
        keep = np.concatenate([[True], (np.diff(fps, 2) != 0) | (np.diff(tps, 2) != 0), [True]])
        fps, tps, thresholds = fps[keep], tps[keep], thresholds[keep]
    fps = np.concatenate([[0], fps]).astype(np.float64)
    tps = np.concatenate([[0], tps]).astype(np.float64)
    thresholds = np.concatenate([[np.inf], thresholds])
    return fps / fps[-1], tps / tps[-1], thresholds


def roc_auc(labels: Any, scores: Any) -> float:
    """Area under the ROC curve (trapezoidal over distinct scores; ties count one half).

    Equals ``sklearn.metrics.roc_auc_score`` and the official ``auc(*roc_curve(...)[:2])``.

    Args:
        labels: binary ground truth, any shape (flattened); both classes must occur.
        scores: scores of the same size.
    """
    fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1])) / 2.0)


def tp_rate_at_fp(labels: Any, scores: Any, fp_rate: float) -> float:
    """True-positive rate at a false-positive rate, as the official NeuronIO evaluation.

    The official rule: on the ROC of :func:`roc_curve` (with ``drop_intermediate=True``, the
    scikit-learn default the official code used), take the point whose false-positive rate is
    nearest to ``fp_rate`` (the first such point on ties, and never the initial (0, 0) point)
    and return its true-positive rate. No interpolation.

    Args:
        labels: binary ground truth; scores: same size.
        fp_rate: target false-positive rate in [0, 1] (e.g. 0.0025 or 0.01).
    """
    fp_rate = float(fp_rate)
    if not 0.0 <= fp_rate <= 1.0:
        raise ValueError(f"fp_rate: expected a rate in [0, 1], got {fp_rate}")
    fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=True)
    i = int(np.argmin(np.abs(fpr - fp_rate)))
    return float(tpr[max(i, 1)])


def _pair(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    t = _to_numpy("y_true", y_true).astype(np.float64)
    p = _to_numpy("y_pred", y_pred).astype(np.float64)
    if t.shape != p.shape:
        raise ValueError(f"y_true/y_pred: expected the same size, got {t.size} and {p.size}")
    if t.size == 0:
        raise ValueError("y_true: expected at least one value, got none")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(p))):
        raise ValueError("y_true/y_pred: expected finite values, got NaN/inf")
    return t, p


def rmse(y_true: Any, y_pred: Any) -> float:
    """Root-mean-square error over all entries (same unit as the inputs, e.g. mV)."""
    t, p = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((t - p) ** 2)))


def mae(y_true: Any, y_pred: Any) -> float:
    """Mean absolute error over all entries (same unit as the inputs, e.g. mV)."""
    t, p = _pair(y_true, y_pred)
    return float(np.mean(np.abs(t - p)))


def explained_variance_percent(y_true: Any, y_pred: Any) -> float:
    """100 x (1 - Var(y_true - y_pred) / Var(y_true)), as sklearn's ``explained_variance_score``.

    Raises:
        ValueError: ``y_true`` is constant (explained variance undefined).
    """
    t, p = _pair(y_true, y_pred)
    var_t = np.var(t)
    if var_t == 0:
        raise ValueError("y_true: constant, explained variance is undefined")
    return float(100.0 * (1.0 - np.var(t - p) / var_t))


def spike_and_soma_metrics(
    spikes: Any,
    spike_prob: Any,
    soma_true_mv: Any,
    soma_pred_mv: Any,
    fp_rates: Sequence[float] = (0.0025, 0.01),
) -> dict[str, float]:
    """Spike and soma metrics over all given bins, under the official result keys.

    Args:
        spikes: binary spike raster (any shape). spike_prob: predicted probability (same size).
        soma_true_mv / soma_pred_mv: voltages in mV (same size as each other).
        fp_rates: false-positive rates for the ``"TP @ x FP"`` entries.

    Returns:
        dict with ``"AUC"``, ``"TP @ 0.0025 FP"`` (one per rate, 4 decimals in the key),
        ``"soma_RMSE"``, ``"soma_MAE"`` (mV) and ``"soma_explained_variance_percent"``.
    """
    out: dict[str, float] = {"AUC": roc_auc(spikes, spike_prob)}
    for r in fp_rates:
        out[f"TP @ {float(r):.4f} FP"] = tp_rate_at_fp(spikes, spike_prob, r)
    out["soma_RMSE"] = rmse(soma_true_mv, soma_pred_mv)
    out["soma_MAE"] = mae(soma_true_mv, soma_pred_mv)
    out["soma_explained_variance_percent"] = explained_variance_percent(soma_true_mv, soma_pred_mv)
    return out


def neuronio_loss(
    outputs: torch.Tensor,
    spikes: torch.Tensor,
    voltage: torch.Tensor,
    burn_in: int = 150,
    spike_weight: float = 0.5,
    voltage_weight: float = 0.5,
) -> torch.Tensor:
    """NeuronIO training loss: 0.5 x BCE-with-logits(spikes) + 0.5 x MSE(voltage) after burn-in.

    As the official ``NeuronioLoss`` (mean-reduced ``BCEWithLogitsLoss`` and ``MSELoss``,
    weighted 0.5 each) applied to the time steps ``t >= burn_in`` of each window. The paper
    states a 150 ms burn-in; the authors' public training script feeds whole windows to the
    loss, which ``burn_in=0`` reproduces.

    Args:
        outputs: (T, B, 2) raw model outputs, time-major: ``[..., 0]`` spike logit,
            ``[..., 1]`` voltage in training units ((min(v, -55) + 67.7) / 10).
        spikes: (T, B) spike raster (0/1 floats).
        voltage: (T, B) preprocessed voltage target (training units, see
            :func:`elm_snn.data.neuronio_datasets.preprocess_soma`).
        burn_in: leading time steps (ms at dt = 1 ms) excluded from the loss; 0 <= burn_in < T.
        spike_weight, voltage_weight: the two weights (0.5 and 0.5 officially).

    Returns:
        Scalar tensor.
    """
    check_float_tensor("outputs", outputs)
    check_float_tensor("spikes", spikes)
    check_float_tensor("voltage", voltage)
    if outputs.dim() != 3 or outputs.shape[-1] != 2:
        raise ValueError(
            f"outputs: expected shape (T, B, 2) (time-major raw outputs), got "
            f"{tuple(outputs.shape)}"
        )
    for name, t in (("spikes", spikes), ("voltage", voltage)):
        if tuple(t.shape) != tuple(outputs.shape[:2]):
            raise ValueError(
                f"{name}: expected shape (T, B) = {tuple(outputs.shape[:2])} to match outputs, "
                f"got {tuple(t.shape)}"
            )
    if isinstance(burn_in, bool) or not isinstance(burn_in, int):
        raise TypeError(f"burn_in: expected an int (time steps), got {type(burn_in).__name__}")
    if not 0 <= burn_in < outputs.shape[0]:
        raise ValueError(f"burn_in: expected 0 <= burn_in < T = {outputs.shape[0]}, got {burn_in}")
    logits = outputs[burn_in:, :, 0]
    v_pred = outputs[burn_in:, :, 1]
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, spikes[burn_in:])
    mse = torch.nn.functional.mse_loss(v_pred, voltage[burn_in:])
    return spike_weight * bce + voltage_weight * mse
