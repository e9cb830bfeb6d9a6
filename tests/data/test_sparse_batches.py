"""Sparse SHD / SHD-Adding items and their collation equal the dense frames."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from elm_snn.data import SHDAdding, collate_frames
from elm_snn.data.sparse import (
    SparseAddingPairs,
    SparseDigits,
    SparseSample,
    collate_sparse,
    collate_sparse_with_speakers,
    sparse_sample_from_frames,
)


@pytest.mark.parametrize("binary", [False, True])
@pytest.mark.parametrize("bin_size_ms", [1.0, 10.0])
def test_sparse_pairs_equal_dense_pairs(shd_dir, binary: bool, bin_size_ms: float) -> None:
    dense_ds = SHDAdding(
        shd_dir, "train", bin_size_ms=bin_size_ms, binary=binary, pairs_per_epoch=9
    )
    sparse_ds = SparseAddingPairs(
        SHDAdding(shd_dir, "train", bin_size_ms=bin_size_ms, binary=binary, pairs_per_epoch=9)
    )
    assert len(sparse_ds) == len(dense_ds) == 9
    for epoch in (0, 1):
        dense_ds.set_epoch(epoch)
        sparse_ds.set_epoch(epoch)
        items = [sparse_ds[i] for i in range(9)]
        dense_items = [dense_ds[i] for i in range(9)]
        for (s, y), (d, yd) in zip(items, dense_items, strict=True):
            assert y == yd
            np.testing.assert_array_equal(s.to_dense(), d)
        x, labels = collate_sparse(items)
        x_dense, labels_dense = collate_frames(dense_items)
        assert torch.equal(labels, labels_dense)
        assert x.shape == tuple(x_dense.shape)
        assert torch.equal(x.to_dense(), x_dense)
        x.check()
    assert sparse_ds.stats.spikes_in > 0  # the wrapped dataset's stats are kept
    np.testing.assert_array_equal(sparse_ds.pair_speakers(), dense_ds.pair_speakers())


def test_sparse_digits_and_speaker_collation(shd_dir) -> None:
    from elm_snn.data.cache import DigitFrameCache
    from elm_snn.data.shd import find_shd_file

    cache = DigitFrameCache.get(find_shd_file(shd_dir, True), 20.0, 1000.0, 700)
    ds = SparseDigits(cache, np.array([3, 0, 7]))
    items = [(*ds[i], np.array([i, i])) for i in range(3)]
    x, y, speakers = collate_sparse_with_speakers(items)
    dense = torch.stack([torch.from_numpy(cache.dense(j)) for j in (3, 0, 7)], dim=1)
    assert torch.equal(x.to_dense(), dense)
    assert y.tolist() == [int(cache.labels[j]) for j in (3, 0, 7)]
    assert speakers.tolist() == [[0, 0], [1, 1], [2, 2]]


def test_collate_sparse_orders_rows_and_channels() -> None:
    rng = np.random.default_rng(0)
    frames = [(rng.random((17, 9)) < 0.2) * rng.integers(1, 4, (17, 9)) for _ in range(4)]
    items = [(sparse_sample_from_frames(f), i) for i, f in enumerate(frames)]
    x, y = collate_sparse(items)
    expected = torch.from_numpy(np.stack(frames, axis=1).astype(np.float32))
    assert torch.equal(x.to_dense(), expected)
    # CSR over time-major rows t * B + b, channels ascending within each row
    for r in range(17 * 4):
        cols = x.col[x.row_ptr[r] : x.row_ptr[r + 1]]
        assert torch.equal(cols, torch.from_numpy(np.flatnonzero(frames[r % 4][r // 4])))
    assert y.tolist() == [0, 1, 2, 3]


def test_collate_sparse_names_bad_items() -> None:
    with pytest.raises(ValueError, match="empty batch"):
        collate_sparse([])
    with pytest.raises(TypeError, match=r"batch\[0\]\[0\]: expected a SparseSample"):
        collate_sparse([(np.zeros((3, 2)), 0)])
    a = SparseSample(np.zeros(0, np.int64), np.zeros(0, np.float32), 3, 2)
    b = SparseSample(np.zeros(0, np.int64), np.zeros(0, np.float32), 4, 2)
    with pytest.raises(ValueError, match="different"):
        collate_sparse([(a, 0), (b, 1)])


def test_sparse_pairs_refuse_frame_transforms(shd_dir) -> None:
    ds = SHDAdding(shd_dir, "train", bin_size_ms=10.0, pairs_per_epoch=3, transform=np.flipud)
    with pytest.raises(ValueError, match="transform of the dense frames"):
        SparseAddingPairs(ds)
