"""Collate functions: lists of ``(frames (T, C), label)`` -> time-major batches ``(T, B, C)``.

Time-major is the layout of snnTorch/Norse step loops and of elm-snn's layers. The batches
say so: ``x`` is a :class:`~elm_snn.data.layout.Frames` tagged ``"TBC"`` (see
:mod:`elm_snn.data.layout`), which a layer built with ``batch_first=True`` refuses.

Padding goes through Tonic's own collation (``tonic.collation.PadTensors`` with
``batch_first=False``); equal-length frames are stacked directly (``PadTensors`` would copy
every sample once more to pad it by nothing). What elm-snn adds: input checks naming the
item, a fixed ``T`` when asked (``num_bins``), and empty samples: ``tonic.transforms.Compose``
returns an empty sample as its raw (empty) event array, which becomes all-zero frames here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["collate_frames", "pad_collate_time_major"]


def _is_empty_events(x: Any) -> bool:
    return isinstance(x, np.ndarray) and x.dtype.names is not None and x.size == 0


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


def _split(
    batch: Sequence[Any], num_bins: int | None, num_channels: int | None
) -> tuple[list, list[int]]:
    """Frames (float32 tensors, empty samples as zeros) and int labels of ``batch``."""
    import torch

    if len(batch) == 0:
        raise ValueError("batch: expected at least one (frames, label) pair, got an empty batch")
    frames: list[Any] = []
    labels: list[int] = []
    empty: list[int] = []
    for i, item in enumerate(batch):
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise TypeError(
                f"batch[{i}]: expected a (frames, label) pair, got {type(item).__name__}"
            )
        if _is_empty_events(item[0]):
            empty.append(i)
            frames.append(None)
        else:
            frames.append(_as_frames(i, item[0]))
        labels.append(int(item[1]))
    given = [f for f in frames if f is not None]
    channels = sorted({f.shape[1] for f in given})
    if num_channels is not None and channels not in ([], [int(num_channels)]):
        raise ValueError(f"batch: expected frames of num_channels={num_channels}, got C={channels}")
    if len(channels) > 1:
        raise ValueError(f"batch: all frames must have the same channel count, got {channels}")
    lengths = sorted({f.shape[0] for f in given})
    if num_bins is not None and lengths not in ([], [int(num_bins)]):
        raise ValueError(f"batch: expected frames of num_bins={num_bins} steps, got T={lengths}")
    if empty:
        t = num_bins if num_bins is not None else (lengths[-1] if lengths else None)
        c = num_channels if num_channels is not None else (channels[0] if channels else None)
        if t is None or c is None:
            raise ValueError(
                f"batch[{empty[0]}][0]: an empty event sample (tonic's Compose returns empty "
                f"samples unbinned) needs num_bins and num_channels to become zero frames; pass "
                f"them, e.g. functools.partial(collate_frames, num_bins=T, num_channels=C)"
            )
        zeros = torch.zeros((int(t), int(c)), dtype=torch.float32)
        for i in empty:
            frames[i] = zeros
    return frames, labels


def collate_frames(
    batch: Sequence[Any], *, num_bins: int | None = None, num_channels: int | None = None
):
    """Stack equal-length frames time-major.

    Args:
        batch: ``B`` pairs ``(frames, label)``, frames ``(T, C)`` (numpy or torch), label int.
            A frame may also be an empty event array (what ``tonic.transforms.Compose``
            returns for an empty sample): it becomes zeros of the batch's ``(T, C)``.
        num_bins: if given, every frame must have this ``T`` (also the ``T`` of empty samples).
        num_channels: if given, every frame must have this ``C`` (also the ``C`` of empty
            samples). Bind both with ``functools.partial`` for a DataLoader ``collate_fn``.

    Returns:
        ``(x, y)``: float32 tensor ``(T, B, C)`` and int64 labels ``(B,)``; ``x`` is a
        :class:`~elm_snn.data.layout.Frames` that says it is time-major (``"TBC"``), so a
        ``batch_first=True`` layer refuses it instead of misreading it.

    Raises:
        ValueError: frames of different lengths (use :func:`pad_collate_time_major`) or
            channel counts, or an empty sample whose shape cannot be known.
    """
    import torch

    frames, labels = _split(batch, num_bins, num_channels)
    lengths = {f.shape[0] for f in frames}
    if len(lengths) != 1:
        raise ValueError(
            f"batch: frames have different lengths {sorted(lengths)}; collate_frames needs equal "
            f"T (BinToFrames gives every sample the same T), or use pad_collate_time_major"
        )
    from elm_snn.data.layout import frames as with_layout

    x = with_layout(torch.stack(frames, dim=1).as_subclass(torch.Tensor), "TBC")
    return x, torch.tensor(labels, dtype=torch.long)


def pad_collate_time_major(
    batch: Sequence[Any], *, num_bins: int | None = None, num_channels: int | None = None
):
    """Zero-pad frames at the end to the longest ``T`` and stack time-major
    (``tonic.collation.PadTensors(batch_first=False)`` after the checks of
    :func:`collate_frames`).

    Args:
        batch: ``B`` pairs ``(frames, label)``, frames ``(T_i, C)`` or empty event arrays.
        num_bins, num_channels: as in :func:`collate_frames`.

    Returns:
        ``(x, y)``: float32 ``(max T_i, B, C)`` (zeros after each sample's end) and int64
        ``(B,)``; ``x`` is a time-major :class:`~elm_snn.data.layout.Frames` (``"TBC"``).
        With :class:`~elm_snn.data.BinToFrames` all ``T_i`` are equal and nothing is
        padded; when they differ, note that a read-out at the last step sees the padding.
    """
    import torch
    from tonic.collation import PadTensors

    frames, labels = _split(batch, num_bins, num_channels)
    from elm_snn.data.layout import frames as with_layout

    x, y = PadTensors(batch_first=False)(list(zip(frames, labels, strict=True)))
    return with_layout(x.as_subclass(torch.Tensor), "TBC"), y.to(torch.long)
