"""Frames that carry their layout, so that a sequence layer never guesses.

elm-snn's sequence layers are time-major ``(T, B, C)`` unless built with
``batch_first=True``. A plain ``torch.utils.data.DataLoader`` (``default_collate``) and
Tonic's ``PadTensors()`` (``batch_first=True`` by default) stack samples ``(T, C)`` into a
batch-first ``(B, T, C)`` tensor; read as time-major that is a wrong result, not an error.

:class:`Frames` is a ``torch.Tensor`` that knows its axes: ``"TC"`` (one sample),
``"BTC"`` or ``"TBC"`` (a batch). The library's datasets return their frames as
``Frames("TC")``; stacking them keeps the knowledge (``torch.stack`` along dim 0 gives
``"BTC"``, along dim 1 ``"TBC"``; ``torch.cat`` along time, as padding does, keeps
``"TC"``), and so do ``.to()``, ``.float()``, ``.contiguous()``, ``.clone()``,
``.detach()``, ``.pin_memory()``. Every other operation returns a plain tensor: after a
``transpose`` or any arithmetic the layout is the user's business again.

A layer given a batch :class:`Frames` whose layout contradicts its own (``batch_first``)
raises a ``ValueError`` that names both and the fix; a matching one runs as a plain tensor
(the tag is dropped at the layer's door, so nothing downstream pays for it).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

__all__ = ["AXES", "Frames", "check_frames_layout", "frames"]

#: the layouts a :class:`Frames` can carry
AXES = ("TC", "BTC", "TBC")

#: methods that return the same frames (same axes), possibly elsewhere or in another dtype
_SAME_AXES = frozenset(
    {
        Tensor.to,
        Tensor.cpu,
        Tensor.cuda,
        Tensor.float,
        Tensor.double,
        Tensor.half,
        Tensor.bfloat16,
        Tensor.contiguous,
        Tensor.clone,
        Tensor.detach,
        Tensor.pin_memory,
        Tensor.share_memory_,
        Tensor.requires_grad_,
        Tensor.type,
    }
)


class Frames(Tensor):
    """A tensor of frames that knows its axes (``frame_axes``: ``"TC"``, ``"BTC"`` or
    ``"TBC"``); see the module docstring. Build one with :func:`frames`."""

    frame_axes: str

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        axes = _result_axes(func, args, kwargs)
        with torch._C.DisableTorchFunctionSubclass():
            out = func(*args, **kwargs)
        if isinstance(out, Frames) and axes is None:
            return out  # an in-place method returned the same object: same axes
        if axes is None or not isinstance(out, Tensor):
            return out
        return frames(out, axes)

    def __repr__(self, *, tensor_contents: Any = None) -> str:
        with torch._C.DisableTorchFunctionSubclass():
            body = Tensor.__repr__(self.as_subclass(Tensor))
        return f"Frames[{self.frame_axes}]({body})"


def frames(data: Tensor, axes: str) -> Frames:
    """``data`` as :class:`Frames` with layout ``axes`` (shares memory with ``data``)."""
    if axes not in AXES:
        raise ValueError(f"axes: expected one of {list(AXES)}, got {axes!r}")
    if not isinstance(data, Tensor):
        raise TypeError(f"data: expected a torch.Tensor, got {type(data).__name__}")
    if data.dim() != len(axes):
        raise ValueError(
            f"data: layout {axes!r} needs a {len(axes)}-D tensor, got shape {tuple(data.shape)}"
        )
    with torch._C.DisableTorchFunctionSubclass():
        out = data.as_subclass(Frames)
    out.frame_axes = axes
    return out


def _axes_of(value: Any) -> str | None:
    return value.frame_axes if isinstance(value, Frames) else None


def _result_axes(func: Any, args: tuple, kwargs: dict) -> str | None:
    """The layout of ``func(*args, **kwargs)``'s result, or None (a plain tensor)."""
    if func in _SAME_AXES:
        return _axes_of(args[0]) if args else None
    if func is torch.stack or func is torch.cat:
        tensors = args[0] if args else kwargs.get("tensors", ())
        dim = args[1] if len(args) > 1 else kwargs.get("dim", 0)
        layouts = {_axes_of(t) for t in tensors}
        if func is torch.cat:  # samples concatenated along time (padding) stay a sample
            sample = "TC" in layouts and layouts <= {"TC", None}
            return "TC" if sample and dim in (0, -2) else None
        if layouts != {"TC"}:
            return None  # stacking samples with something else: no known layout
        return {0: "BTC", -3: "BTC", 1: "TBC", -2: "TBC"}.get(dim)
    return None


def check_frames_layout(name: str, x: Any, *, batch_first: bool, rank: int = 3) -> Any:
    """The layer-side check: a :class:`Frames` whose layout contradicts the layer's raises;
    otherwise the input comes back as a plain tensor (non-:class:`Frames` unchanged).

    Args:
        name: the argument's name for the message (``"x"``, ``"x_t"``).
        x: the layer's input.
        batch_first: the layer's layout (sequence layers); ignored for ``rank=2``.
        rank: 3 for sequence layers, 2 for cells (which take one step ``(B, C)``).
    """
    if not isinstance(x, Frames):
        return x
    axes = x.frame_axes
    expected = ("BTC" if batch_first else "TBC") if rank == 3 else "BC"
    if axes == "TC":
        raise ValueError(
            f"{name}: got the frames of one sample, (T, C) = {tuple(x.shape)}, where a batch "
            f"{_words(expected)} was expected; batch samples with a DataLoader (and "
            f"elm_snn.data.collate_frames for time-major batches)"
        )
    if rank == 2:
        raise ValueError(
            f"{name}: got a whole batch of sequences {_words(axes)} = {tuple(x.shape)}, where "
            f"one time step (B, C) was expected; step through it (for x_t in x) or use the "
            f"sequence layer"
        )
    if axes != expected:
        fix = (
            "build the layer with batch_first=True, or transpose the batch: x.transpose(0, 1)"
            if axes == "BTC"
            else "build the layer with batch_first=False (the default), or transpose the "
            "batch: x.transpose(0, 1)"
        )
        source = (
            "a DataLoader's default collate or tonic's PadTensors(batch_first=True)"
            if axes == "BTC"
            else "a time-major collate such as elm_snn.data.collate_frames"
        )
        raise ValueError(
            f"{name}: this batch is {_words(axes)} = {tuple(x.shape)} (stacked by "
            f"{source}), but the layer reads {_words(expected)}; {fix}"
        )
    with torch._C.DisableTorchFunctionSubclass():
        return x.as_subclass(Tensor)


def _words(axes: str) -> str:
    return {
        "TC": "(T, C)",
        "BTC": "batch-first (B, T, C)",
        "TBC": "time-major (T, B, C)",
        "BC": "(B, C)",
    }[axes]
