"""Collate functions: lists of ``(frames (T, C), label)`` -> time-major batches ``(T, B, C)``.

Time-major is the layout of snnTorch/Norse step loops and of elm-snn's layers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["collate_frames", "pad_collate_time_major"]


def _as_frames(i: int, x: Any):
    import torch

    if isinstance(x, np.ndarray):
        if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
            raise TypeError(
                f"batch[{i}][0]: expected numeric frames (T, C), got dtype {x.dtype} (events? "
                f"bin them first, e.g. with BinToFrames)"
            )
        t = torch.from_numpy(np.ascontiguousarray(x))
    elif isinstance(x, torch.Tensor):
        t = x
    else:
        raise TypeError(
            f"batch[{i}][0]: expected frames as a numpy array or torch.Tensor of shape (T, C), "
            f"got {type(x).__name__} (bin events first, e.g. with BinToFrames)"
        )
    if t.ndim != 2:
        raise ValueError(f"batch[{i}][0]: expected frames of shape (T, C), got {tuple(t.shape)}")
    return t.to(torch.float32)


def _split(batch: Sequence[Any]) -> tuple[list, Any]:
    import torch

    if len(batch) == 0:
        raise ValueError("batch: expected at least one (frames, label) pair, got an empty batch")
    frames, labels = [], []
    for i, item in enumerate(batch):
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise TypeError(
                f"batch[{i}]: expected a (frames, label) pair, got {type(item).__name__}"
            )
        frames.append(_as_frames(i, item[0]))
        labels.append(int(item[1]))
    c = {f.shape[1] for f in frames}
    if len(c) != 1:
        raise ValueError(f"batch: all frames must have the same channel count, got {sorted(c)}")
    return frames, torch.tensor(labels, dtype=torch.long)


def collate_frames(batch: Sequence[Any]):
    """Stack equal-length frames time-major.

    Args:
        batch: ``B`` pairs ``(frames, label)``, frames ``(T, C)`` (numpy or torch), label int.

    Returns:
        ``(x, y)``: float32 tensor ``(T, B, C)`` and int64 labels ``(B,)``.

    Raises:
        ValueError: frames of different lengths (use :func:`pad_collate_time_major`) or
            channel counts.
    """
    import torch

    frames, labels = _split(batch)
    lengths = {f.shape[0] for f in frames}
    if len(lengths) != 1:
        raise ValueError(
            f"batch: frames have different lengths {sorted(lengths)}; collate_frames needs equal "
            f"T (BinToFrames gives every sample the same T), or use pad_collate_time_major"
        )
    return torch.stack(frames, dim=1), labels


def pad_collate_time_major(batch: Sequence[Any]):
    """Zero-pad frames at the end to the longest ``T`` and stack time-major.

    Args:
        batch: ``B`` pairs ``(frames, label)``, frames ``(T_i, C)``.

    Returns:
        ``(x, y)``: float32 ``(max T_i, B, C)`` (zeros after each sample's end) and int64
        ``(B,)``. With :class:`~elm_snn.data.BinToFrames` all ``T_i`` are equal and nothing is
        padded; when they differ, note that a read-out at the last step sees the padding.
    """
    import torch

    frames, labels = _split(batch)
    t_max = max(f.shape[0] for f in frames)
    out = torch.zeros((t_max, len(frames), frames[0].shape[1]), dtype=torch.float32)
    for b, f in enumerate(frames):
        out[: f.shape[0], b] = f
    return out, labels
