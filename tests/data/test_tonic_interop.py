"""BinToFrames and the SHD datasets inside Tonic's own machinery: ``tonic.transforms.Compose``,
``tonic.collation.PadTensors`` and ``tonic.MemoryCachedDataset``."""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import numpy as np
import pytest
import tonic
import torch

from elm_snn.data import SHD, BinToFrames, SHDAdding, collate_frames, pad_collate_time_major
from elm_snn.data.shd_format import write_shd_file
from elm_snn.data.transforms import (
    EVENT_DTYPE,
    FrameBinning,
    apply_event_transform,
    split_frame_binning,
)


def _double(frames: np.ndarray) -> np.ndarray:
    return 2.0 * frames


@pytest.mark.parametrize("binary", [False, True])
def test_compose_keeps_the_cached_fast_path(
    shd_dir: Path, binary: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    tf = BinToFrames(10, 2000, binary=binary)
    composed = SHDAdding(
        shd_dir,
        "train",
        transform=tonic.transforms.Compose([tf, _double]),
        pairs_per_epoch=12,
    )
    slow = SHDAdding(
        shd_dir,
        "train",
        transform=lambda e: 2.0 * BinToFrames(10, 2000, binary=binary)(e),
        pairs_per_epoch=12,
    )
    cache = composed.prepare()
    assert cache is not None  # the Compose is recognised: a cache is built for it
    # from here on the fast path must not bin any event: binning would raise
    monkeypatch.setattr(
        "elm_snn.data.adding.bin_events",
        lambda *a, **k: pytest.fail("fast path re-binned events"),
    )
    monkeypatch.setattr(
        FrameBinning, "bin", lambda *a, **k: pytest.fail("fast path called BinToFrames")
    )
    out = [composed[i] for i in range(12)]
    monkeypatch.undo()
    for i, (x, y) in enumerate(out):
        xs, ys = slow[i]
        np.testing.assert_array_equal(x, xs)  # the step after BinToFrames ran (x2)
        assert y == ys
    assert composed.num_bins == 200
    assert tf.stats.samples == 12 and tf.stats.spikes_dropped == composed.stats.spikes_dropped
    assert composed.stats.spikes_dropped == slow.stats.spikes_dropped > 0


def test_nested_compose_and_non_binning_head() -> None:
    tf = BinToFrames(1, 10)
    binner, rest = split_frame_binning(
        tonic.transforms.Compose([tonic.transforms.Compose([tf, _double]), _double])
    )
    assert binner is tf and np.array_equal(rest(np.ones((2, 3))), np.full((2, 3), 4.0))
    assert split_frame_binning(tonic.transforms.Compose([_double, tf])) is None
    assert split_frame_binning(_double) is None
    assert split_frame_binning(tf) == (tf, None)


def test_on_dropped_policy_applies_on_the_cached_path(shd_dir: Path) -> None:
    ds = SHDAdding(
        shd_dir, "train", transform=BinToFrames(10, 2000, on_dropped="error"), pairs_per_epoch=30
    )
    with pytest.raises(ValueError, match="on_dropped='error'"):
        for i in range(30):  # the fixture has digits longer than 1 s
            ds[i]


def test_empty_sample_through_compose_and_collation(tmp_path: Path) -> None:
    root = tmp_path / "shd"
    times = [np.array([0.001, 0.5], np.float32), np.zeros(0, np.float32)]
    units = [np.array([3, 4]), np.zeros(0, np.int64)]
    for name in ("shd_train.h5", "shd_test.h5"):
        write_shd_file(root / name, times, units, [1, 2], [0, 1])
    tf = BinToFrames(10, 1000)
    ds = SHD(root, train=True, transform=tonic.transforms.Compose([tf, _double]))
    frames, label = ds[1]
    assert label == 2 and frames.shape == (100, 700) and not frames.any()
    assert tf.stats.samples == 1 and tf.stats.spikes_in == 0
    x, y = collate_frames([ds[0], ds[1]])
    assert x.shape == (100, 2, 700) and y.tolist() == [1, 2]
    assert x[0, 0, 3] == 2.0 and not x[:, 1].any()

    # Tonic's own dataset + Compose returns the raw empty events; collation makes zeros
    raw = tonic.transforms.Compose([BinToFrames(10, 1000)])(np.zeros(0, dtype=EVENT_DTYPE))
    assert raw.dtype == EVENT_DTYPE and raw.size == 0
    x, y = collate_frames([(raw, 5), ds[0]])
    assert x.shape == (100, 2, 700) and not x[:, 0].any() and y.tolist() == [5, 1]
    fixed = functools.partial(collate_frames, num_bins=100, num_channels=700)
    x, _ = fixed([(raw, 5)])
    assert x.shape == (100, 1, 700) and not x.any()
    with pytest.raises(ValueError, match="num_bins and num_channels"):
        collate_frames([(raw, 5)])
    with pytest.raises(ValueError, match="num_bins=50"):
        collate_frames([ds[0]], num_bins=50)
    xp, _ = pad_collate_time_major([(raw, 0), (np.ones((3, 700)), 1), (np.ones((5, 700)), 2)])
    assert xp.shape == (5, 3, 700) and not xp[:, 0].any() and xp[3:, 1].sum() == 0


def test_empty_pair_through_compose(tmp_path: Path) -> None:
    root = tmp_path / "shd"
    times = [np.zeros(0, np.float32)] * 4
    units = [np.zeros(0, np.int64)] * 4
    for name in ("shd_train.h5", "shd_test.h5"):
        write_shd_file(root / name, times, units, [0, 1, 2, 3], [0, 0, 1, 1])
    for cache in ("memory", None):  # cached fast path and the event path
        tf = BinToFrames(20, 2000)
        ds = SHDAdding(
            root, "test", transform=tonic.transforms.Compose([tf]), pairs_per_epoch=3, cache=cache
        )
        x, _ = collate_frames([ds[i] for i in range(3)])
        assert x.shape == (100, 3, 700) and not x.any()
        assert tf.stats.samples == 3


def test_bin_to_frames_is_not_a_mutated_frozen_dataclass() -> None:
    tf = BinToFrames(2, 1000)
    assert not dataclasses.is_dataclass(tf)  # the counters live beside the frozen settings
    assert dataclasses.is_dataclass(tf.binning)
    assert tf.binning.__dataclass_params__.frozen  # type: ignore[attr-defined]
    assert not any(f.name == "stats" for f in dataclasses.fields(tf.binning))
    before = dataclasses.astuple(tf.binning)
    tf(np.array([(0, 1, 1), (5000, 2, 1)], dtype=EVENT_DTYPE))
    assert tf.stats.samples == 1 and dataclasses.astuple(tf.binning) == before
    with pytest.raises(AttributeError):
        tf.binning = FrameBinning(1, 10)  # type: ignore[misc]
    assert tf == BinToFrames(2, 1000) and hash(tf) == hash(BinToFrames(2, 1000))
    assert tf != BinToFrames(2, 1000, binary=True)
    assert "bin_size_ms=2" in repr(tf)


def test_pad_collation_is_tonics() -> None:
    batch = [(torch.ones(2, 4), 0), (torch.ones(3, 4), 1)]
    x, y = pad_collate_time_major(batch)
    xt, yt = tonic.collation.PadTensors(batch_first=False)(batch)
    assert torch.equal(x, xt) and torch.equal(y, yt) and y.dtype == torch.long


def test_tonic_memory_cache_over_shd(shd_dir: Path) -> None:
    tf = BinToFrames(10, 1000)
    cached = tonic.MemoryCachedDataset(SHD(shd_dir, train=False, transform=tf))
    first = [cached[i] for i in range(3)]
    again = [cached[i] for i in range(3)]
    assert tf.stats.samples == 3  # the second pass came from Tonic's cache
    for (a, la), (b, lb) in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
        assert la == lb


def test_apply_event_transform_passes_other_transforms_through() -> None:
    ev = np.zeros(0, dtype=EVENT_DTYPE)
    assert apply_event_transform(lambda e: e.size, ev) == 0
