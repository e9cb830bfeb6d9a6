"""Spike batches that stay sparse from the binned-digit cache to the ELM kernel.

A dense SHD-Adding batch at 1 ms bins is ``(2000, B, 700)`` float32 (45 MB at B = 8) of
which about 1 % is nonzero, and the fused ELM kernel then searches it again for those
nonzeros. Here an item is a :class:`SparseSample` (the flat indices ``t * C + c`` of its
non-empty bins and their values, straight from :class:`~elm_snn.data.cache.DigitFrameCache`)
and :func:`collate_sparse` assembles a time-major :class:`~elm_snn.kernels.SparseFrames`
batch (CSR over the ``T * B`` rows), which ELM / Branch-ELM modules take in place of a dense
batch. Both steps are vectorised numpy (one concatenation, one stable sort, one bincount).

The datasets :class:`SparseAddingPairs` and :class:`SparseDigits` serve the same samples as
:class:`~elm_snn.data.SHDAdding` (with ``bin_size_ms``) and the SHD task's frame dataset, in
sparse form; the training CLI switches to them with ``--input-format sparse``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import torch

from elm_snn.kernels import SparseFrames

__all__ = [
    "SparseAddingPairs",
    "SparseDigits",
    "SparseSample",
    "collate_sparse",
    "collate_sparse_with_speakers",
    "sparse_sample_from_frames",
]


class SparseSample(NamedTuple):
    """One sample ``(T, C)`` by its nonzeros.

    ``flat`` ``(nnz,)`` int64 flat indices ``t * C + c`` in ascending order, ``values``
    ``(nnz,)`` float32, ``num_steps`` ``T``, ``num_channels`` ``C``.
    """

    flat: np.ndarray
    values: np.ndarray
    num_steps: int
    num_channels: int

    def to_dense(self) -> np.ndarray:
        """The float32 ``(T, C)`` frame."""
        out = np.zeros(self.num_steps * self.num_channels, dtype=np.float32)
        out[self.flat] = self.values
        return out.reshape(self.num_steps, self.num_channels)


def sparse_sample_from_frames(frames: np.ndarray) -> SparseSample:
    """The :class:`SparseSample` of a dense ``(T, C)`` frame (for tests and other sources)."""
    frames = np.asarray(frames)
    if frames.ndim != 2:
        raise ValueError(f"frames: expected shape (T, C), got {frames.shape}")
    flat = np.flatnonzero(frames)
    return SparseSample(
        flat.astype(np.int64),
        frames.reshape(-1)[flat].astype(np.float32),
        int(frames.shape[0]),
        int(frames.shape[1]),
    )


def _digit_nonzeros(cache: Any, i: int, binary: bool) -> tuple[np.ndarray, np.ndarray]:
    idx, cnt = cache.sparse(int(i))
    values = np.ones(len(idx), np.float32) if binary else cnt.astype(np.float32)
    return idx.astype(np.int64), values


class SparseDigits(torch.utils.data.Dataset):
    """Items ``(SparseSample (T, C), label)`` of selected samples of a binned-digit cache.

    Args:
        cache: a :class:`~elm_snn.data.cache.DigitFrameCache`.
        indices: file indices of the items.
        binary: 0/1 values instead of spike counts.
    """

    def __init__(self, cache: Any, indices: np.ndarray, binary: bool = False) -> None:
        self.cache = cache
        self.indices = np.asarray(indices, dtype=np.int64)
        self.binary = bool(binary)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> tuple[SparseSample, int]:
        j = int(self.indices[i])
        flat, values = _digit_nonzeros(self.cache, j, self.binary)
        sample = SparseSample(flat, values, self.cache.num_bins, self.cache.num_channels)
        return sample, int(self.cache.labels[j])


class SparseAddingPairs(torch.utils.data.Dataset):
    """The items of an :class:`~elm_snn.data.SHDAdding` as ``(SparseSample (2T, C), target)``.

    Same pairs, targets and values as ``adding[i]`` with ``bin_size_ms`` set, read from its
    binned-digit cache; epochs follow ``adding.set_epoch`` (the pairs are read per item).
    Its ``stats`` are updated like ``adding``'s.
    """

    def __init__(self, adding: Any) -> None:
        fast = adding._fast_binning()
        if fast is None or adding.cache_mode is None or adding.target_transform is not None:
            raise ValueError(
                "adding: expected an SHDAdding with bin_size_ms (or a cached BinToFrames), a "
                "digit cache and no target_transform"
            )
        if adding.transform is not None and fast[2] is None:
            raise ValueError("adding: a transform of the dense frames cannot apply to sparse items")
        self.adding = adding
        self.binary = bool(fast[1])

    def __len__(self) -> int:
        return len(self.adding)

    def set_epoch(self, epoch: int) -> None:
        """Select epoch ``epoch``'s pairs (see :meth:`SHDAdding.set_epoch`)."""
        self.adding.set_epoch(epoch)

    def __getattr__(self, name: str) -> Any:  # pairs, pair_speakers(), targets(), ...
        if name == "adding":
            raise AttributeError(name)
        return getattr(self.adding, name)

    def __getitem__(self, index: int) -> tuple[SparseSample, int]:
        ds = self.adding
        i = ds._check_index(index)
        a, b = ds.pairs[i]
        cache = ds.digit_cache()
        t_digit = cache.num_bins
        flat_a, val_a = _digit_nonzeros(cache, a, self.binary)
        flat_b, val_b = _digit_nonzeros(cache, b, self.binary)
        flat = np.concatenate([flat_a, flat_b + t_digit * cache.num_channels])
        values = np.concatenate([val_a, val_b])
        n_in, n_drop = (
            int(cache.spikes[a] + cache.spikes[b]),
            int(cache.dropped[a] + cache.dropped[b]),
        )
        ds.stats.record(n_in, n_drop)
        if ds.transform is not None:
            ds.transform.stats.record(n_in, n_drop)
        target = int(ds.digits[a] + ds.digits[b])
        return SparseSample(flat, values, 2 * t_digit, cache.num_channels), target


def _check_samples(batch: Sequence[Any]) -> list[SparseSample]:
    if len(batch) == 0:
        raise ValueError("batch: expected at least one (sample, label) item, got an empty batch")
    samples = []
    for i, item in enumerate(batch):
        if not isinstance(item, (tuple, list)) or len(item) < 2:
            raise TypeError(
                f"batch[{i}]: expected a (sample, label) item, got {type(item).__name__}"
            )
        if not isinstance(item[0], SparseSample):
            raise TypeError(
                f"batch[{i}][0]: expected a SparseSample, got {type(item[0]).__name__} "
                f"(dense frames go through elm_snn.data.collate_frames)"
            )
        samples.append(item[0])
    shapes = {(s.num_steps, s.num_channels) for s in samples}
    if len(shapes) != 1:
        raise ValueError(f"batch: samples have different (T, C): {sorted(shapes)}")
    return samples


def collate_sparse(batch: Sequence[Any]) -> tuple[SparseFrames, torch.Tensor]:
    """Assemble ``(SparseSample, label)`` items into a time-major sparse batch.

    Args:
        batch: ``B`` items ``(sample, label)`` (further entries are ignored), all samples
            with the same ``(T, C)``.

    Returns:
        ``(x, y)``: :class:`~elm_snn.kernels.SparseFrames` of shape ``(T, B, C)`` (float32
        values) and int64 labels ``(B,)``; ``x.to_dense()`` equals
        :func:`~elm_snn.data.collate_frames` of the dense samples.
    """
    samples = _check_samples(batch)
    steps, channels = samples[0].num_steps, samples[0].num_channels
    size = len(samples)
    lengths = np.array([len(s.flat) for s in samples], dtype=np.int64)
    flat = np.concatenate([s.flat for s in samples]) if size else np.zeros(0, np.int64)
    values = np.concatenate([s.values for s in samples]).astype(np.float32, copy=False)
    item = np.repeat(np.arange(size, dtype=np.int64), lengths)
    # time-major row of each nonzero; a stable sort keeps channels ascending within a row
    rows = (flat // channels) * size + item
    order = np.argsort(rows, kind="stable")
    counts = np.bincount(rows, minlength=steps * size)
    row_ptr = np.zeros(steps * size + 1, dtype=np.int64)
    np.cumsum(counts, out=row_ptr[1:])
    x = SparseFrames(
        torch.from_numpy(row_ptr),
        torch.from_numpy((flat % channels)[order]),
        torch.from_numpy(values[order]),
        (int(steps), size, int(channels)),
    )
    labels = torch.tensor([int(item[1]) for item in batch], dtype=torch.long)
    return x, labels


def collate_sparse_with_speakers(
    batch: Sequence[Any],
) -> tuple[SparseFrames, torch.Tensor, torch.Tensor]:
    """:func:`collate_sparse` of ``(sample, label, speakers)`` items, plus the ``(B, 2)``
    speaker ids (as the SHD tasks' test batches)."""
    x, y = collate_sparse(batch)
    speakers = torch.as_tensor(np.stack([np.asarray(item[2]) for item in batch]), dtype=torch.long)
    return x, y, speakers
