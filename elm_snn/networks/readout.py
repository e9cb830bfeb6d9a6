"""Readouts for sequence classification: time aggregation, low-pass filter, classifier head.

The paper classifies from the last output step (cross-entropy "on the last float output of
the respective model"), and its E/I spiking network from the output spikes low-pass filtered
with a 20 ms constant. :func:`aggregate` reduces a sequence over time with one of
:data:`AGGREGATIONS`: ``"last"`` (the paper's choice), ``"mean"``, ``"sum"`` or ``"max"``.
Aggregating over all steps matters whenever the informative part of the input ends before
the sequence does (SHD digits end ~0.5-1 s into their 1 s slot): a leaky output read at the
last step has then forgotten most of it.

:class:`SequenceClassifier` wraps any backbone that maps a sequence to ``(y, state)``
(:class:`~elm_snn.ELM`, :class:`~elm_snn.networks.LSTM`, :class:`~elm_snn.networks.EISNN`,
...) into ``x -> logits (B, num_classes)``; its ``readout`` is one of :data:`READOUTS`:
an aggregation of the raw output, or ``"lowpass"`` / ``"lowpass-<aggregation>"`` (filter
first, then aggregate; ``"lowpass"`` is ``"lowpass-last"``).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .._validation import check_choice, check_float_tensor, check_positive

__all__ = ["AGGREGATIONS", "READOUTS", "SequenceClassifier", "aggregate", "last_step", "low_pass"]

#: reductions over time of :func:`aggregate`
AGGREGATIONS = ("last", "mean", "sum", "max")
#: readouts of :class:`SequenceClassifier`
READOUTS = AGGREGATIONS + ("lowpass", "lowpass-mean", "lowpass-sum", "lowpass-max")


def _check_sequence(name: str, y: object, batch_first: bool) -> Tensor:
    check_float_tensor(name, y)
    axes = "(B, T, F)" if batch_first else "(T, B, F)"
    if y.dim() != 3:
        raise ValueError(f"{name}: expected a 3-D tensor {axes}, got shape {tuple(y.shape)}")
    if y.shape[1 if batch_first else 0] == 0:
        raise ValueError(f"{name}: expected at least one time step, got shape {tuple(y.shape)}")
    return y


def last_step(y: Tensor, batch_first: bool = False) -> Tensor:
    """The last time step of a sequence: ``(T, B, F)`` (or ``(B, T, F)``) -> ``(B, F)``."""
    y = _check_sequence("y", y, batch_first)
    return y[:, -1] if batch_first else y[-1]


def aggregate(y: Tensor, how: str = "last", batch_first: bool = False) -> Tensor:
    """Reduce a sequence over time: ``(T, B, F)`` (or ``(B, T, F)``) -> ``(B, F)``.

    Args:
        y: the sequence.
        how: ``"last"`` (the last step), ``"mean"``, ``"sum"`` or ``"max"`` over all steps
            (``"max"`` passes the gradient to the step of the maximum only).
        batch_first: layout of ``y``.
    """
    check_choice("how", how, AGGREGATIONS)
    y = _check_sequence("y", y, batch_first)
    dim = 1 if batch_first else 0
    if how == "last":
        return y.select(dim, -1)
    if how == "mean":
        return y.mean(dim)
    if how == "sum":
        return y.sum(dim)
    return y.amax(dim)


def low_pass(
    y: Tensor,
    tau_ms: float,
    dt: float,
    initial: Tensor | None = None,
    normalize: bool = True,
    batch_first: bool = False,
) -> Tensor:
    """Exponential low-pass filter along time.

    ``f_t = alpha f_{t-1} + g y_t`` with ``alpha = exp(-dt / tau_ms)`` and ``g = 1 - alpha``
    (``normalize=True``: unit gain for a constant input, so ``f`` is a running average) or
    ``g = 1`` (``normalize=False``: a leaky sum, about ``tau_ms / dt`` times the average).

    Args:
        y: ``(T, B, F)`` sequence (``(B, T, F)`` with ``batch_first``).
        tau_ms: filter time constant in ms.
        dt: time step in ms.
        initial: ``(B, F)`` filter state before the first step (default zeros).
        normalize: see above.
        batch_first: layout of ``y`` and of the result.

    Returns:
        The filtered sequence, same shape as ``y``.
    """
    y = _check_sequence("y", y, batch_first)
    alpha = math.exp(-check_positive("dt", dt) / check_positive("tau_ms", tau_ms))
    gain = 1.0 - alpha if normalize else 1.0
    seq = y.transpose(0, 1) if batch_first else y
    f = torch.zeros_like(seq[0]) if initial is None else initial
    if tuple(f.shape) != tuple(seq.shape[1:]):
        raise ValueError(
            f"initial: expected shape (B, F) = {tuple(seq.shape[1:])}, got {tuple(f.shape)}"
        )
    out = []
    for y_t in seq.unbind(0):
        f = alpha * f + gain * y_t
        out.append(f)
    result = torch.stack(out)
    return result.transpose(0, 1) if batch_first else result


class SequenceClassifier(nn.Module):
    """Classify a sequence from its backbone's output aggregated over time.

    ``logits = head(dropout(pool(backbone(input_dropout(x))[0])))`` where ``pool`` is
    :func:`aggregate` with ``readout`` (``"last"``, ``"mean"``, ``"sum"``, ``"max"``), or
    with ``readout="lowpass-<aggregation>"`` the aggregation of the low-pass filtered output
    (normalised filter with ``tau_ms``; ``"lowpass"`` = ``"lowpass-last"``).

    Args:
        backbone: module mapping ``x`` to ``(y, state)`` (or just ``y``), ``y`` of shape
            ``(T, B, num_features)`` or ``(B, T, num_features)`` if the backbone has
            ``batch_first=True`` (read from its ``batch_first`` attribute).
        num_features: feature size of the backbone's output.
        num_classes: classes; with ``None`` the pooled backbone output is the logits
            (e.g. ``ELM(700, 100, 19)`` whose readout already has 19 channels, or
            :class:`~elm_snn.networks.EISNN`), otherwise a ``Linear(num_features,
            num_classes)`` head is added.
        readout: one of :data:`READOUTS`; ``"last"`` (default) is the paper's.
        tau_ms: low-pass time constant in ms (default 20).
        dt: time step in ms for the low-pass filter (default: ``backbone.dt``).
        dropout: dropout before the head (default 0).
        input_dropout: dropout on the input sequence (default 0; like the paper's SHD
            setting of 0.5, but off in ``eval()`` mode, unlike the official notebook).

    Call: ``forward(x) -> logits (B, num_classes or num_features)``.
    """

    def __init__(
        self,
        backbone: nn.Module,
        num_features: int,
        num_classes: int | None = None,
        *,
        readout: str = "last",
        tau_ms: float = 20.0,
        dt: float | None = None,
        dropout: float = 0.0,
        input_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if not isinstance(backbone, nn.Module):
            raise TypeError(f"backbone: expected a torch.nn.Module, got {type(backbone).__name__}")
        for name, value in (("num_features", num_features), ("num_classes", num_classes)):
            if value is None and name == "num_classes":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: expected an int >= 1, got {value!r}")
        check_choice("readout", readout, READOUTS)
        for name, p in (("dropout", dropout), ("input_dropout", input_dropout)):
            if not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
                raise ValueError(f"{name}: expected a probability in [0, 1), got {p!r}")
        self.backbone = backbone
        self.num_features = num_features
        self.num_classes = num_classes
        self.readout = readout
        self.tau_ms = check_positive("tau_ms", tau_ms)
        if dt is None:
            dt = getattr(backbone, "dt", None)
            if dt is None and readout.startswith("lowpass"):
                raise ValueError(
                    f"dt: required for readout={readout!r} when the backbone has no dt"
                )
        self.dt = None if dt is None else check_positive("dt", dt)
        self.input_dropout = nn.Dropout(input_dropout)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(num_features, num_classes) if num_classes is not None else None

    def forward(self, x: Tensor) -> Tensor:
        """``x`` in the backbone's layout -> logits ``(B, C)``."""
        out = self.backbone(self.input_dropout(x))
        y = out[0] if isinstance(out, tuple) else out
        batch_first = bool(getattr(self.backbone, "batch_first", False))
        y = _check_sequence("backbone output", y, batch_first)
        if y.shape[-1] != self.num_features:
            raise ValueError(
                f"num_features: the backbone's output has {y.shape[-1]} features, expected "
                f"num_features = {self.num_features}"
            )
        how = self.readout
        if how.startswith("lowpass"):
            y = low_pass(y, self.tau_ms, self.dt, batch_first=batch_first)
            how = how.partition("-")[2] or "last"
        pooled = self.dropout(aggregate(y, how, batch_first=batch_first))
        return pooled if self.head is None else self.head(pooled)
