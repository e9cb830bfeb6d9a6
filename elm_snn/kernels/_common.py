"""Shared pieces of the fused ELM kernel: denormal flushing, activations, projections.

Float32 traces and memories decay into subnormal numbers on CPU, which slows every
elementwise op several-fold; the kernel flushes subnormals to zero while it runs (forward
and backward) and restores the caller's setting afterwards (:func:`flush_denormals`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor

from . import _compiled

_TANH_SCALE = 1.7159
_TANH_SLOPE = 2.0 / 3.0

# --------------------------------------------------------------------------- denormals


def denormals_flushed() -> bool:
    """Whether this thread currently flushes float32 subnormals to zero (FTZ/DAZ)."""
    tiny = torch.tensor([1e-39], dtype=torch.float32)  # below the smallest normal 1.18e-38
    return bool((tiny * 1.0).item() == 0.0)


@contextlib.contextmanager
def flush_denormals(enabled: bool = True) -> Iterator[None]:
    """Flush subnormal floats to zero inside the block, then restore the previous setting.

    ``torch.set_flush_denormal`` changes a per-thread CPU flag; it is only switched (and
    switched back) when it was off, so nested use and callers who enabled it globally are
    unaffected. With ``enabled=False`` nothing is changed.
    """
    if not enabled or denormals_flushed():
        yield
        return
    switched = torch.set_flush_denormal(True)
    try:
        yield
    finally:
        if switched:
            torch.set_flush_denormal(False)


# --------------------------------------------------------------------------- helpers


def _ops_for(t: Tensor):
    """The compiled operators if they are usable for ``t`` (CPU float32/float64), else None."""
    if t.device.type != "cpu" or t.dtype not in (torch.float32, torch.float64):
        return None
    return _compiled.compiled_ops()


def _act(z: Tensor, activation: str) -> Tensor:
    return torch.relu(z) if activation == "relu" else F.silu(z)


def _act_grad(z: Tensor, activation: str) -> Tensor:
    """Derivative of the hidden activation at ``z`` (relu: 1 where ``z > 0``)."""
    if activation == "relu":
        return (z > 0).to(z.dtype)
    s = torch.sigmoid(z)
    return s * (1 + z * (1 - s))


def _sum_to(grad: Tensor, shape: torch.Size) -> Tensor:
    """Sum a broadcast gradient ``(T, B, C)`` or ``(B, C)`` back to ``shape``."""
    while grad.dim() > len(shape):
        grad = grad.sum(0)
    for dim, size in enumerate(shape):
        if size == 1 and grad.shape[dim] != 1:
            grad = grad.sum(dim, keepdim=True)
    return grad


def _project(x: Tensor, weight: Tensor) -> Tensor:
    """``x @ weight`` for ``x`` ``(T, B, I)`` -> contiguous ``(T, B, C)``, without copying
    a batch-first input (a ``(B, T, I)`` tensor transposed to time-major)."""
    steps, batch, _ = x.shape
    if x.is_contiguous():
        return (x.reshape(steps * batch, -1) @ weight).view(steps, batch, -1)
    xb = x.transpose(0, 1)
    if xb.is_contiguous():
        out = (xb.reshape(batch * steps, -1) @ weight).view(batch, steps, -1)
        return out.transpose(0, 1).contiguous()
    return (x.reshape(steps * batch, -1) @ weight).view(steps, batch, -1)
