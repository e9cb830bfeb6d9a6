"""Metrics and the training loss for NeuronIO-style spike + voltage prediction.

Everything here is implemented with numpy/torch only (no scikit-learn at runtime); the
tests check the ROC functions against ``sklearn.metrics`` on random data with ties.

* :func:`roc_curve` - ROC points, same definition as ``sklearn.metrics.roc_curve``
  (including ``drop_intermediate``), one point per distinct score.
* :func:`roc_auc` - area under the ROC; tied scores count one half (Mann-Whitney).
* :func:`tp_rate_at_fp` - the official NeuronIO "TP @ x FP": the true-positive rate at the ROC
  point whose false-positive rate is nearest to ``x``.
* :func:`auc_at_fp` - the official NeuronIO "AUC @ x FP": the mean true-positive rate over a
  fine, evenly spaced false-positive grid from 0 up to ``x`` (a partial, unnormalised AUC).
* :data:`OFFICIAL_METRIC_NAMES` - the one map between elm-snn's metric names
  (``metrics.json``, ``compare`` tables, ``elm-snn eval``) and the official result keys.
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
    "auc_at_fp",
    "OFFICIAL_METRIC_NAMES",
    "official_metric_name",
    "to_official_names",
    "from_official_names",
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


#: Points of the official false-positive grid of "AUC @ x FP" (``np.linspace(0, 1, 20000)``).
AUC_AT_FP_GRID_POINTS = 20000


def auc_at_fp(labels: Any, scores: Any, fp_rate: float) -> float:
    """Mean true-positive rate for false-positive rates from 0 to ``fp_rate`` (official).

    The official NeuronIO "AUC @ x FP" (published in the authors' ``eval_results.json``):
    the ROC of :func:`roc_curve` (``drop_intermediate=True``) is interpolated linearly at
    :data:`AUC_AT_FP_GRID_POINTS` evenly spaced false-positive rates ``g_0 = 0 ... g_N-1 = 1``;
    with ``k`` the grid index nearest to ``fp_rate``, clipped to ``1 <= k <= N - 1``, the
    result is the mean of the interpolated true-positive rates at ``g_0 ... g_(k-1)``. It is
    therefore a mean, not an area: a perfect ranking gives (nearly) 1 and a random one about
    ``fp_rate / 2``.

    Args:
        labels: binary ground truth; scores: same size.
        fp_rate: upper end of the false-positive range, in [0, 1] (e.g. 0.0025 or 0.01).
    """
    fp_rate = float(fp_rate)
    if not 0.0 <= fp_rate <= 1.0:
        raise ValueError(f"fp_rate: expected a rate in [0, 1], got {fp_rate}")
    fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=True)
    grid = np.linspace(0.0, 1.0, AUC_AT_FP_GRID_POINTS)
    tpr_on_grid = np.interp(grid, fpr, tpr)
    k = int(np.argmin(np.abs(grid - fp_rate)))
    k = min(max(k, 1), AUC_AT_FP_GRID_POINTS - 1)
    return float(tpr_on_grid[:k].mean())


def _fp_key(fp_rate: float) -> str:
    return f"{float(fp_rate):.4f}"


def _fp_label(fp_rate: float) -> str:
    # 0.0025 -> "0.25pct", 0.01 -> "1pct"
    return f"{float(fp_rate) * 100:g}pct"


def official_metric_name(name: str) -> str:
    """The official result key of an elm-snn NeuronIO metric name.

    ``auc`` -> ``AUC``; ``auc_at_<p>pct_fp`` -> ``AUC @ <p/100 with 4 decimals> FP``;
    ``tp_at_<p>pct_fp`` -> ``TP @ ... FP``; ``soma_rmse_mv`` -> ``soma_RMSE``;
    ``soma_mae_mv`` -> ``soma_MAE``; ``soma_explained_variance_percent`` unchanged.

    Raises:
        KeyError: ``name`` is not a NeuronIO metric.
    """
    if name in OFFICIAL_METRIC_NAMES:
        return OFFICIAL_METRIC_NAMES[name]
    for prefix, official in (("auc_at_", "AUC"), ("tp_at_", "TP")):
        if name.startswith(prefix) and name.endswith("pct_fp"):
            pct = name[len(prefix) : -len("pct_fp")]
            try:
                rate = float(pct) / 100.0
            except ValueError:
                break
            return f"{official} @ {_fp_key(rate)} FP"
    raise KeyError(f"name: {name!r} is not a NeuronIO metric name")


#: elm-snn name -> official result key, for the metrics the official evaluation reports
#: (its ``eval_results.json``): the single place where the two naming schemes meet.
OFFICIAL_METRIC_NAMES: dict[str, str] = {
    "auc": "AUC",
    **{f"auc_at_{_fp_label(r)}_fp": f"AUC @ {_fp_key(r)} FP" for r in (0.0025, 0.01)},
    **{f"tp_at_{_fp_label(r)}_fp": f"TP @ {_fp_key(r)} FP" for r in (0.0025, 0.01)},
    "soma_rmse_mv": "soma_RMSE",
    "soma_mae_mv": "soma_MAE",
    "soma_explained_variance_percent": "soma_explained_variance_percent",
}


def to_official_names(metrics: dict[str, float]) -> dict[str, float]:
    """Rename the NeuronIO metrics of ``metrics`` (elm-snn names, optionally with a
    ``test_``/``val_``/``validation_`` prefix, which is dropped) to the official keys; other
    entries are left out."""
    out: dict[str, float] = {}
    for k, v in metrics.items():
        base = k
        for prefix in ("test_", "validation_", "val_"):
            if base.startswith(prefix):
                base = base[len(prefix) :]
                break
        try:
            out[official_metric_name(base)] = v
        except KeyError:
            continue
    return out


def from_official_names(metrics: dict[str, float], prefix: str = "") -> dict[str, float]:
    """Inverse of :func:`to_official_names`: official keys -> ``prefix`` + elm-snn names.

    Raises:
        KeyError: an entry is not an official NeuronIO metric key.
    """
    inverse = {v: k for k, v in OFFICIAL_METRIC_NAMES.items()}
    out: dict[str, float] = {}
    for k, v in metrics.items():
        if k in inverse:
            out[prefix + inverse[k]] = v
            continue
        for official, ours in (("AUC", "auc_at_"), ("TP", "tp_at_")):
            head = f"{official} @ "
            if k.startswith(head) and k.endswith(" FP"):
                rate = float(k[len(head) : -len(" FP")])
                out[prefix + f"{ours}{_fp_label(rate)}_fp"] = v
                break
        else:
            raise KeyError(f"metrics: {k!r} is not an official NeuronIO metric key")
    return out


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
        dict with ``"AUC"``, ``"AUC @ 0.0025 FP"`` and ``"TP @ 0.0025 FP"`` (one each per
        rate, 4 decimals in the key), ``"soma_RMSE"``, ``"soma_MAE"`` (mV) and
        ``"soma_explained_variance_percent"``: the keys of the official ``eval_results.json``.
    """
    out: dict[str, float] = {"AUC": roc_auc(spikes, spike_prob)}
    for r in fp_rates:
        out[f"AUC @ {_fp_key(r)} FP"] = auc_at_fp(spikes, spike_prob, r)
    for r in fp_rates:
        out[f"TP @ {_fp_key(r)} FP"] = tp_rate_at_fp(spikes, spike_prob, r)
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
