"""The NeuronIO evaluation protocol: stitched 500 ms windows over whole simulations.

Official protocol (Beniaguev et al.; the ELM authors' ``neuronio_eval_utils.py``), for every
whole simulation of length T:

1. windows of ``W = 500`` ms start every ``W - B = 350`` ms (``B = 150`` ms burn-in); their
   number is ``int(2 + (T - W) / (W - B))`` (17 for T = 6000); the last one is zero-padded;
   every window starts from a fresh model state;
2. the first window is kept whole, later windows lose their first ``B`` ms, and the pieces
   are stitched into a (T,) trace of spike probability and soma voltage;
3. the voltage target is ``min(v, -55) - (-67.7)`` mV and the prediction is the model's voltage
   output in mV relative to -67.7 (i.e. raw output x 10);
4. **quirk 1** ("official" only): per file (the official code evaluates file by file) the
   stitched voltage prediction is z-scored and rescaled to the mean and standard deviation
   of the target, both taken over all simulations and all T bins of that file (before the
   steps below);
5. **quirk 2** ("official" only): only simulations with 0 to 24 output spikes (bins over the
   whole T) are kept;
6. the first 500 ms of every simulation are dropped, and spike AUC, TP rate at 0.25 % and
   1 % false positives, soma RMSE/MAE (mV) and explained variance (%) are computed over all
   remaining bins of all kept simulations.

The "plain" protocol does steps 1-3 and 6 only (no rescaling, all simulations). Published
ELM and TCN numbers use the official protocol.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from elm_snn.data.neuronio import NeuronIOFile
from elm_snn.data.neuronio_datasets import (
    BURN_IN_MS,
    IGNORE_START_MS,
    SOMA_BIAS_MV,
    SOMA_SCALE,
    SOMA_THRESHOLD_MV,
    WINDOW_MS,
    SimRef,
    _check_files,
    _check_refs,
    load_neuronio_files,
)
from elm_snn.metrics import spike_and_soma_metrics

__all__ = [
    "NeuronIOEvaluation",
    "evaluation_window_starts",
    "predict_stitched",
    "neuronio_metrics_from_predictions",
    "evaluate_neuronio",
]

ModelFn = Callable[[torch.Tensor], Any]


def evaluation_window_starts(
    duration_ms: int, window_ms: int = WINDOW_MS, burn_in_ms: int = BURN_IN_MS
) -> np.ndarray:
    """Start (ms) of every evaluation window of a T-ms simulation.

    ``int(2 + (T - W) / (W - B))`` windows (at least one) starting every ``W - B`` ms; the
    stitched windows cover ``[0, T)`` without gaps or overlaps.
    """
    T, W, B = int(duration_ms), int(window_ms), int(burn_in_ms)
    if T < 1 or W < 1:
        raise ValueError(f"duration_ms/window_ms: expected >= 1, got {T} and {W}")
    if not 0 <= B < W:
        raise ValueError(f"burn_in_ms: expected 0 <= burn_in_ms < window_ms = {W}, got {B}")
    count = max(1, int(2 + (T - W) / (W - B)))
    return np.arange(count, dtype=np.int64) * (W - B)


def _split_outputs(out: Any, kind: str, shape: tuple[int, int]) -> tuple[torch.Tensor, ...]:
    if kind == "raw":
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (*shape, 2):
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ValueError(
                f"model: with outputs='raw' it must return a (T, B, 2) tensor = {(*shape, 2)}, "
                f"got {got}"
            )
        prob = torch.sigmoid(out[..., 0]).double()  # in the model's dtype, as the official code
        soma_mv = out[..., 1].double() / SOMA_SCALE + SOMA_BIAS_MV
        return prob, soma_mv
    if not isinstance(out, tuple | list) or len(out) != 2:
        raise ValueError(
            "model: with outputs='probability_mv' it must return (spike_prob, soma_mv), "
            f"got {type(out).__name__}"
        )
    res = []
    for name, t in zip(("spike_prob", "soma_mv"), out, strict=True):
        if not isinstance(t, torch.Tensor) or tuple(t.shape) != shape:
            got = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            raise ValueError(f"model: {name} must be a (T, B) tensor = {shape}, got {got}")
        res.append(t.double())
    return tuple(res)


def predict_stitched(
    model: ModelFn,
    inputs: torch.Tensor,
    *,
    window_ms: int = WINDOW_MS,
    burn_in_ms: int = BURN_IN_MS,
    outputs: str = "raw",
    max_windows_per_call: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run ``model`` on the evaluation windows of whole sequences and stitch the predictions.

    All windows of all sequences are independent model calls from a fresh state, batched
    together along the batch axis (``max_windows_per_call`` limits the batch).

    Args:
        model: callable on a (window_ms, batch, N) float32 time-major tensor (on the device of
            ``inputs``). With ``outputs="raw"`` it returns a (window_ms, batch, 2) tensor of
            raw outputs (spike logit, voltage in training units ``(v + 67.7) / 10``); with
            ``outputs="probability_mv"`` a pair ``(spike_prob, soma_mv)`` of (window_ms, batch)
            tensors, soma in absolute mV. Put modules in eval mode first.
        inputs: (T, B, N) float input (signed raster for NeuronIO), time-major.
        window_ms, burn_in_ms: see :func:`evaluation_window_starts`.

    Returns:
        ``(spike_prob, soma_mv)``: (T, B) float64 tensors on the device of ``inputs``;
        ``soma_mv`` in absolute mV.
    """
    if not isinstance(inputs, torch.Tensor) or inputs.dim() != 3:
        raise ValueError(
            "inputs: expected a (T, B, N) tensor, got "
            f"{tuple(inputs.shape) if isinstance(inputs, torch.Tensor) else type(inputs)}"
        )
    if outputs not in ("raw", "probability_mv"):
        raise ValueError(f"outputs: expected 'raw' or 'probability_mv', got {outputs!r}")
    if isinstance(model, torch.nn.Module) and model.training:
        warnings.warn(
            "model is in training mode (dropout etc. active); call model.eval() before evaluating",
            stacklevel=2,
        )
    T, B, N = inputs.shape
    W, Bi = int(window_ms), int(burn_in_ms)
    starts = evaluation_window_starts(T, W, Bi)
    K = len(starts)
    pad = int(starts[-1]) + W - T
    x = inputs.float()
    if pad > 0:
        x = torch.cat([x, x.new_zeros(pad, B, N)], dim=0)
    idx = torch.as_tensor(starts, device=x.device)[:, None] + torch.arange(W, device=x.device)
    windows = x[idx]  # (K, W, B, N)
    windows = windows.permute(1, 0, 2, 3).reshape(W, K * B, N)
    total = K * B
    step = total if max_windows_per_call is None else int(max_windows_per_call)
    if step < 1:
        raise ValueError(f"max_windows_per_call: expected >= 1, got {max_windows_per_call}")
    probs, somas = [], []
    with torch.no_grad():
        for a in range(0, total, step):
            chunk = windows[:, a : a + step]
            p, v = _split_outputs(model(chunk), outputs, (W, chunk.shape[1]))
            probs.append(p)
            somas.append(v)
    prob_w = torch.cat(probs, dim=1).reshape(W, K, B)
    soma_w = torch.cat(somas, dim=1).reshape(W, K, B)
    prob = prob_w.new_zeros(T, B)
    soma = soma_w.new_zeros(T, B)
    first = min(W, T)
    prob[:first] = prob_w[:first, 0]
    soma[:first] = soma_w[:first, 0]
    for k in range(1, K):
        t0 = int(starts[k]) + Bi
        t1 = min(int(starts[k]) + W, T)
        if t1 > t0:
            prob[t0:t1] = prob_w[Bi : Bi + t1 - t0, k]
            soma[t0:t1] = soma_w[Bi : Bi + t1 - t0, k]
    return prob, soma


@dataclasses.dataclass(frozen=True)
class NeuronIOEvaluation:
    """Result of :func:`evaluate_neuronio` / :func:`neuronio_metrics_from_predictions`.

    Attributes:
        protocol: ``"official"`` or ``"plain"``.
        metrics: the official result keys: ``"AUC"``, ``"AUC @ 0.0025 FP"``,
            ``"AUC @ 0.0100 FP"``, ``"TP @ 0.0025 FP"``, ``"TP @ 0.0100 FP"``, ``"soma_RMSE"`` (mV),
            ``"soma_MAE"`` (mV), ``"soma_explained_variance_percent"``; spike entries are NaN
            (with a warning) when the kept bins hold no spike.
        num_simulations: simulations evaluated.
        num_kept: simulations kept by the spike-count filter (all for "plain").
        num_spikes_scored: output spikes in the scored bins (kept simulations, after the
            ignored start): the positives behind the spike AUC.
        predictions: with ``return_predictions``: dict of (S, T) float64 arrays ``spikes``,
            ``spike_prob``, ``soma_true_rel_mv`` (capped - bias), ``soma_pred_rel_mv`` (after the
            official rescaling if any) and ``kept`` (S,) bool; else None.
    """

    protocol: str
    metrics: dict[str, float]
    num_simulations: int
    num_kept: int
    num_spikes_scored: int = 0
    predictions: dict[str, np.ndarray] | None = None


def _prediction_arrays(
    spikes: Any, spike_prob: Any, soma_mv: Any, soma_pred_mv: Any
) -> list[np.ndarray]:
    """The four (S, T) inputs as float64 numpy arrays, checked: 2-D, finite, equal shapes."""
    arrs = []
    for name, a in (
        ("spikes", spikes),
        ("spike_prob", spike_prob),
        ("soma_mv", soma_mv),
        ("soma_pred_mv", soma_pred_mv),
    ):
        if isinstance(a, torch.Tensor):
            a = a.detach().cpu().numpy()
        a = np.asarray(a, dtype=np.float64)
        if a.ndim != 2:
            raise ValueError(f"{name}: expected shape (S, T), got {a.shape}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name}: expected finite values, got NaN/inf")
        arrs.append(a)
    if not all(a.shape == arrs[0].shape for a in arrs):
        raise ValueError(
            f"spikes/spike_prob/soma_mv/soma_pred_mv: expected equal shapes, got "
            f"{[a.shape for a in arrs]}"
        )
    return arrs


def _rescale_per_group(true_rel: np.ndarray, pred_rel: np.ndarray, g: np.ndarray) -> np.ndarray:
    """The official protocol's voltage rescaling: per group, map the prediction's mean and
    std onto the target's (a constant prediction goes to the target mean, with a warning)."""
    pred_rel = pred_rel.copy()
    for gid in np.unique(g):
        m = g == gid
        m_dst, s_dst = true_rel[m].mean(), true_rel[m].std()
        m_src, s_src = pred_rel[m].mean(), pred_rel[m].std()
        if s_src == 0:
            warnings.warn(
                f"official protocol: the voltage prediction of group {int(gid)} is constant, "
                "its z-score is undefined; it is mapped to the target mean",
                stacklevel=3,
            )
            pred_rel[m] = m_dst
        else:
            pred_rel[m] = (pred_rel[m] - m_src) / s_src * s_dst + m_dst
    return pred_rel


def _scored_metrics(
    y: np.ndarray, p: np.ndarray, v_true: np.ndarray, v_pred: np.ndarray, fp_rates: Sequence[float]
) -> dict[str, float]:
    """Spike and soma metrics of the evaluated bins; the spike metrics are NaN (with a
    warning) when the bins hold no spike or only spikes."""
    n_pos = int(y.sum())
    if 0 < n_pos < y.size:
        return spike_and_soma_metrics(y, p, v_true, v_pred, fp_rates=fp_rates)
    warnings.warn(
        f"the evaluated bins hold {n_pos} spikes among {y.size}: spike AUC and TP "
        "rates are undefined (NaN)",
        stacklevel=3,
    )
    from elm_snn.metrics import explained_variance_percent, mae, rmse

    metrics = {"AUC": float("nan")}
    for r in fp_rates:
        metrics[f"AUC @ {float(r):.4f} FP"] = float("nan")
    for r in fp_rates:
        metrics[f"TP @ {float(r):.4f} FP"] = float("nan")
    metrics["soma_RMSE"] = rmse(v_true, v_pred)
    metrics["soma_MAE"] = mae(v_true, v_pred)
    metrics["soma_explained_variance_percent"] = explained_variance_percent(v_true, v_pred)
    return metrics


def neuronio_metrics_from_predictions(
    spikes: np.ndarray,
    spike_prob: np.ndarray,
    soma_mv: np.ndarray,
    soma_pred_mv: np.ndarray,
    groups: np.ndarray | None = None,
    *,
    protocol: str = "official",
    ignore_start_ms: int = IGNORE_START_MS,
    spike_count_range: tuple[int, int] = (0, 24),
    fp_rates: Sequence[float] = (0.0025, 0.01),
    return_predictions: bool = False,
) -> NeuronIOEvaluation:
    """Metrics of stitched whole-simulation predictions (steps 3-6 of the module docstring).

    Args:
        spikes: (S, T) binary ground-truth spike raster.
        spike_prob: (S, T) predicted spike probability.
        soma_mv: (S, T) raw ground-truth soma voltage (mV, uncapped).
        soma_pred_mv: (S, T) predicted soma voltage (absolute mV).
        groups: (S,) group (file) id of each simulation for the official rescaling; default
            one group.
        protocol: ``"official"`` (rescaling + spike-count filter) or ``"plain"``.
        ignore_start_ms: leading ms of each simulation excluded from the metrics.
        spike_count_range: inclusive range of output spike counts kept ("official" only).
        fp_rates: false-positive rates of the ``"AUC @ x FP"`` and ``"TP @ x FP"`` metrics.
    """
    if protocol not in ("official", "plain"):
        raise ValueError(f"protocol: expected 'official' or 'plain', got {protocol!r}")
    y_spk, p_spk, v_true, v_pred = _prediction_arrays(spikes, spike_prob, soma_mv, soma_pred_mv)
    S, T = y_spk.shape
    if not 0 <= int(ignore_start_ms) < T:
        raise ValueError(f"ignore_start_ms: expected 0 <= value < T = {T}, got {ignore_start_ms}")
    g = np.zeros(S, dtype=np.int64) if groups is None else np.asarray(groups).reshape(-1)
    if g.shape != (S,):
        raise ValueError(f"groups: expected shape ({S},), got {g.shape}")
    true_rel = np.minimum(v_true, SOMA_THRESHOLD_MV) - SOMA_BIAS_MV
    pred_rel = v_pred - SOMA_BIAS_MV
    lo, hi = (int(spike_count_range[0]), int(spike_count_range[1]))
    if protocol == "official":
        pred_rel = _rescale_per_group(true_rel, pred_rel, g)
        counts = y_spk.sum(axis=1)
        kept = (counts >= lo) & (counts <= hi)
    else:
        kept = np.ones(S, dtype=bool)
    if not kept.any():
        raise ValueError(
            f"spike_count_range: no simulation has {lo}..{hi} output spikes; nothing to evaluate"
        )
    sl = np.s_[kept, int(ignore_start_ms) :]
    n_pos = int(y_spk[sl].sum())
    metrics = _scored_metrics(y_spk[sl], p_spk[sl], true_rel[sl], pred_rel[sl], fp_rates)
    preds = None
    if return_predictions:
        preds = {
            "spikes": y_spk,
            "spike_prob": p_spk,
            "soma_true_rel_mv": true_rel,
            "soma_pred_rel_mv": pred_rel,
            "kept": kept,
        }
    return NeuronIOEvaluation(
        protocol=protocol,
        metrics=metrics,
        num_simulations=S,
        num_kept=int(kept.sum()),
        num_spikes_scored=n_pos,
        predictions=preds,
    )


def _signed_inputs(
    files: Sequence[NeuronIOFile], chunk: Sequence[SimRef], T: int, n_in: int
) -> np.ndarray:
    """``(T, len(chunk), n_in)`` float32 inputs of the simulations ``chunk``: +1 at an
    excitatory input spike, -1 at an inhibitory one, 0 elsewhere."""
    x = np.zeros((T, len(chunk), n_in), dtype=np.float32)
    for j, (fi, si) in enumerate(chunk):
        f = files[fi]
        times, rows = f.input_events(si)
        x[times, j, rows] = np.where(rows < f.num_segments, 1.0, -1.0)
    return x


def evaluate_neuronio(
    model: ModelFn,
    data: Sequence[NeuronIOFile] | Any,
    simulations: Sequence[SimRef] | None = None,
    *,
    protocol: str = "official",
    outputs: str = "raw",
    window_ms: int = WINDOW_MS,
    burn_in_ms: int = BURN_IN_MS,
    ignore_start_ms: int = IGNORE_START_MS,
    spike_count_range: tuple[int, int] = (0, 24),
    fp_rates: Sequence[float] = (0.0025, 0.01),
    device: str | torch.device = "cpu",
    sims_per_call: int = 8,
    return_predictions: bool = False,
) -> NeuronIOEvaluation:
    """Evaluate a model on whole NeuronIO simulations with the official or plain protocol.

    Args:
        model: see :func:`predict_stitched` (receives (window_ms, batch, 2n) float32 signed
            input on ``device``).
        data: loaded files, or folder(s)/file(s) to load (:func:`load_neuronio_files`).
        simulations: (file index, simulation index) pairs to evaluate; default all. For the
            official rescaling, each file's selected simulations form one group.
        protocol: ``"official"`` (reports comparable with published numbers) or ``"plain"``.
        outputs: ``"raw"`` or ``"probability_mv"`` (see :func:`predict_stitched`).
        window_ms, burn_in_ms, ignore_start_ms, spike_count_range, fp_rates: protocol
            parameters (defaults: the official ones).
        device: where the inputs are put for the model.
        sims_per_call: simulations whose windows go into one model call (memory:
            ~window_ms x 17 x sims_per_call x 2n x 4 bytes).
        return_predictions: keep the stitched arrays in the result.
    """
    files = (
        list(data)
        if isinstance(data, Sequence) and data and isinstance(data[0], NeuronIOFile)
        else load_neuronio_files(data)
    )
    _check_files(files)
    refs = _check_refs(files, simulations)
    if isinstance(sims_per_call, bool) or not isinstance(sims_per_call, int) or sims_per_call < 1:
        raise ValueError(f"sims_per_call: expected an integer >= 1, got {sims_per_call!r}")
    T_all = {files[fi].duration_ms for fi, _ in refs}
    if len(T_all) != 1:
        raise ValueError(f"data: simulations of different lengths {sorted(T_all)} ms")
    T = T_all.pop()
    n_in = files[0].num_inputs
    S = len(refs)
    spikes = np.zeros((S, T))
    soma = np.zeros((S, T))
    prob = np.zeros((S, T))
    soma_pred = np.zeros((S, T))
    for a in range(0, S, sims_per_call):
        chunk = refs[a : a + sims_per_call]
        x = _signed_inputs(files, chunk, T, n_in)
        for j, (fi, si) in enumerate(chunk):
            spikes[a + j] = files[fi].output_raster(si)
            soma[a + j] = files[fi].soma_voltage_mv[si]
        p, v = predict_stitched(
            model,
            torch.from_numpy(x).to(device),
            window_ms=window_ms,
            burn_in_ms=burn_in_ms,
            outputs=outputs,
        )
        prob[a : a + len(chunk)] = p.cpu().numpy().T
        soma_pred[a : a + len(chunk)] = v.cpu().numpy().T
    groups = np.array([fi for fi, _ in refs])
    return neuronio_metrics_from_predictions(
        spikes,
        prob,
        soma,
        soma_pred,
        groups,
        protocol=protocol,
        ignore_start_ms=ignore_start_ms,
        spike_count_range=spike_count_range,
        fp_rates=fp_rates,
        return_predictions=return_predictions,
    )
