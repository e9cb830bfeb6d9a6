"""SHD-Adding: targets, splits, seeding, equivalence of the cached and event paths, cache."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from elm_snn.data import (
    SHD,
    BinToFrames,
    DigitFrameCache,
    SHDAdding,
    collate_frames,
    read_shd_file,
    split_by_speaker,
    split_train_validation,
    write_shd_file,
)
from elm_snn.data.cache import clear_memory_cache
from elm_snn.data.transforms import bin_events


def test_targets_are_digit_sums_and_all_classes_occur(shd_dir: Path, no_network) -> None:
    ds = SHDAdding(shd_dir, "train", bin_size_ms=100, pairs_per_epoch=1500)
    labels = read_shd_file(shd_dir / "shd_train.h5").labels
    targets = []
    for i in range(len(ds)):
        a, b = ds.pairs[i]
        _, y = ds[i]
        assert y == labels[a] % 10 + labels[b] % 10
        targets.append(y)
    assert sorted(set(targets)) == list(range(19))
    np.testing.assert_array_equal(ds.targets(), targets)
    assert no_network == []


def test_train_validation_disjoint_and_test_from_test_file(shd_dir: Path) -> None:
    tr = SHDAdding(shd_dir, "train", validation_fraction=0.25, pairs_per_epoch=400)
    va = SHDAdding(shd_dir, "validation", validation_fraction=0.25, pairs_per_epoch=400)
    te = SHDAdding(shd_dir, "test", pairs_per_epoch=400)
    assert len(va.pool) == 15 and len(tr.pool) == 45
    assert not set(tr.pool) & set(va.pool)
    assert set(tr.pool) | set(va.pool) == set(range(60))
    assert set(tr.pairs.ravel()) <= set(tr.pool) and set(va.pairs.ravel()) <= set(va.pool)
    assert tr.source.path.name == va.source.path.name == "shd_train.h5"
    assert te.source.path.name == "shd_test.h5"
    assert set(te.source.speakers[te.pairs.ravel()]) <= {10, 11}  # test-only speakers
    # content check: a test pair's frames are the test file's digits
    frames, _ = SHDAdding(shd_dir, "test", bin_size_ms=10, pairs_per_epoch=5)[0]
    a, b = te.pairs[0]
    src = SHD(shd_dir, train=False)
    np.testing.assert_array_equal(frames[:100], bin_events(src.events(a), 10, 1000)[0])
    np.testing.assert_array_equal(frames[100:], bin_events(src.events(b), 10, 1000)[0])
    with pytest.raises(ValueError, match="validation_fraction"):
        split_train_validation(10, 1.0)


def test_split_by_speaker_holds_out_whole_speakers() -> None:
    speakers = np.repeat(np.arange(10), 7)  # 10 speakers x 7 samples
    tr, va, held = split_by_speaker(speakers, 0.1, 0)
    assert len(held) == 1  # 10 % of 10 speakers
    assert set(speakers[va]) == set(held.tolist())
    assert not set(speakers[tr]) & set(held.tolist())
    assert sorted(np.concatenate([tr, va]).tolist()) == list(range(70))
    _, _, held2 = split_by_speaker(speakers, 0.2, 0)
    assert len(held2) == 2
    np.testing.assert_array_equal(split_by_speaker(speakers, 0.1, 0)[2], held)  # deterministic
    held_by_seed = {int(split_by_speaker(speakers, 0.1, s)[2][0]) for s in range(20)}
    assert len(held_by_seed) > 1  # the seed chooses the speaker
    assert len(split_by_speaker(np.array([0, 0, 1, 1]), 0.01, 0)[2]) == 1  # at least one
    assert len(split_by_speaker(np.array([0, 1]), 0.9, 0)[2]) == 1  # one remains for training
    with pytest.raises(ValueError, match="at least 2 speakers, got 1"):
        split_by_speaker(np.zeros(5, dtype=int), 0.1)
    with pytest.raises(ValueError, match="validation_fraction"):
        split_by_speaker(speakers, 0.0)


def test_adding_validation_by_speaker(shd_dir: Path) -> None:
    kw = dict(validation_split="speaker", validation_fraction=0.2, pairs_per_epoch=300)
    tr = SHDAdding(shd_dir, "train", **kw)
    va = SHDAdding(shd_dir, "validation", **kw)
    train_spk = set(tr.pair_speakers().ravel().tolist())
    val_spk = set(va.pair_speakers().ravel().tolist())
    assert len(val_spk) == 2 and not train_spk & val_spk
    assert set(tr.pool) | set(va.pool) == set(range(60))
    np.testing.assert_array_equal(va.pair_speakers(), va.source.speakers[va.pairs])
    with pytest.raises(ValueError, match="validation_split: expected 'sample' or 'speaker'"):
        SHDAdding(shd_dir, "train", validation_split="voice")  # type: ignore[arg-type]


def test_seeding_and_epochs(shd_dir: Path) -> None:
    a = SHDAdding(shd_dir, "train", pairs_per_epoch=200, seed=3)
    b = SHDAdding(shd_dir, "train", pairs_per_epoch=200, seed=3)
    c = SHDAdding(shd_dir, "train", pairs_per_epoch=200, seed=4)
    np.testing.assert_array_equal(a.pairs, b.pairs)
    assert not np.array_equal(a.pairs, c.pairs)
    p0 = a.pairs.copy()
    a.set_epoch(1)
    assert not np.array_equal(a.pairs, p0)
    a.set_epoch(0)
    np.testing.assert_array_equal(a.pairs, p0)
    fixed = SHDAdding(shd_dir, "train", pairs_per_epoch=200, seed=3, fresh_pairs=False)
    fixed.set_epoch(5)
    np.testing.assert_array_equal(fixed.pairs, p0)
    val = SHDAdding(shd_dir, "validation")
    q = val.pairs.copy()
    val.set_epoch(7)  # validation pairs are fixed by default
    np.testing.assert_array_equal(val.pairs, q)
    assert len(val) == len(val.pool) == 6
    assert len(SHDAdding(shd_dir, "train")) == 16000  # the paper's 2000 batches x 8


@pytest.mark.parametrize(("bin_ms", "binary"), [(1, False), (10, False), (4, True)])
def test_cached_path_equals_event_path(shd_dir: Path, bin_ms: int, binary: bool) -> None:
    tf = BinToFrames(bin_ms, 2000, binary=binary)
    fast = SHDAdding(shd_dir, "train", transform=tf, pairs_per_epoch=30)
    slow = SHDAdding(
        shd_dir,
        "train",
        transform=lambda e: BinToFrames(bin_ms, 2000, binary=binary)(e),
        pairs_per_epoch=30,
    )
    direct = SHDAdding(shd_dir, "train", bin_size_ms=bin_ms, binary=binary, pairs_per_epoch=30)
    nocache = SHDAdding(
        shd_dir, "train", bin_size_ms=bin_ms, binary=binary, pairs_per_epoch=30, cache=None
    )
    for i in range(30):
        x, y = fast[i]
        assert x.shape == (2000 // bin_ms, 700) and x.dtype == torch.float32
        for other in (slow, direct, nocache):
            xo, yo = other[i]
            np.testing.assert_array_equal(x, xo)
            assert y == yo
    assert fast.num_bins == 2000 // bin_ms
    assert tf.stats.samples == 30 and tf.stats.spikes_dropped == fast.stats.spikes_dropped
    assert fast.stats.spikes_dropped == slow.stats.spikes_dropped > 0


def test_second_digit_shift_and_drops(shd_dir: Path) -> None:
    ds = SHDAdding(shd_dir, "train", pairs_per_epoch=10)
    src = SHD(shd_dir, train=True)
    a, b = ds.pairs[0]
    ev = ds.events(0)
    ea, eb = src.events(a), src.events(b)
    ea, eb = ea[ea["t"] < 1_000_000], eb[eb["t"] < 1_000_000]
    assert ev.size == ea.size + eb.size
    np.testing.assert_array_equal(ev["t"][ea.size :], eb["t"] + 1_000_000)
    np.testing.assert_array_equal(ev["x"][ea.size :], eb["x"])
    assert ds.stats.spikes_dropped == len(src.events(a)) + len(src.events(b)) - ev.size > 0
    assert ev["t"].max() < 2_000_000 and (np.diff(ev["t"]) >= 0).all()


def test_six_ms_bins(shd_dir: Path) -> None:
    with pytest.raises(ValueError, match="996"):
        SHDAdding(shd_dir, "train", bin_size_ms=6)
    ds = SHDAdding(shd_dir, "train", bin_size_ms=6, digit_duration_ms=996, pairs_per_epoch=4)
    x, _ = ds[0]
    assert x.shape == (332, 700)
    slow = SHDAdding(
        shd_dir,
        "train",
        transform=lambda e: BinToFrames(6, 1992)(e),
        digit_duration_ms=996,
        pairs_per_epoch=4,
    )
    np.testing.assert_array_equal(x, slow[0][0])


def test_bad_arguments(shd_dir: Path) -> None:
    with pytest.raises(ValueError, match="split"):
        SHDAdding(shd_dir, "valid")
    with pytest.raises(ValueError, match="cache"):
        SHDAdding(shd_dir, cache="ram")
    with pytest.raises(ValueError, match="pairs_per_epoch"):
        SHDAdding(shd_dir, pairs_per_epoch=0)
    with pytest.raises(ValueError, match="no samples"):
        SHDAdding(shd_dir, "validation", validation_fraction=0.0)
    ds = SHDAdding(shd_dir, pairs_per_epoch=3)
    with pytest.raises(IndexError):
        ds[3]
    with pytest.raises(ValueError, match="epoch"):
        ds.set_epoch(-1)


def _rewrite(path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    times = [np.sort(rng.uniform(0, 0.9, 30)) for _ in range(5)]
    units = [rng.integers(0, 700, 30) for _ in range(5)]
    write_shd_file(path, times, units, [0, 1, 2, 3, 4], [0] * 5)


def test_cache_invalidates_when_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "shd_train.h5"
    _rewrite(path, 0)
    c1 = DigitFrameCache.get(path, 10, 1000, disk=True)
    assert DigitFrameCache.get(path, 10, 1000) is c1  # memory hit
    before = c1.dense(0).copy()
    st = os.stat(path)
    _rewrite(path, 1)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # same mtime: content hash decides
    c2 = DigitFrameCache.get(path, 10, 1000, disk=True)
    assert c2 is not c1 and c2.fingerprint != c1.fingerprint
    assert not np.array_equal(c2.dense(0), before)
    src_ev = SHD(tmp_path, train=True).events(0)
    np.testing.assert_array_equal(c2.dense(0), bin_events(src_ev, 10, 1000)[0])
    assert DigitFrameCache.get(path, 20, 1000) is not c2  # other bin size, other key


def test_disk_cache_is_reused(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "shd_train.h5"
    _rewrite(path, 0)
    c1 = DigitFrameCache.get(path, 5, 1000, disk=True)
    files = list((tmp_path / "elm_cache" / "shd_frames").glob("*.npz"))
    assert len(files) == 1
    clear_memory_cache()

    def no_build(*args, **kwargs):
        raise AssertionError("cache was rebuilt instead of loaded from disk")

    monkeypatch.setattr(DigitFrameCache, "_build", classmethod(no_build))
    c2 = DigitFrameCache.get(path, 5, 1000, disk=True)
    np.testing.assert_array_equal(c2.indices, c1.indices)
    np.testing.assert_array_equal(c2.counts, c1.counts)
    np.testing.assert_array_equal(c2.dropped, c1.dropped)


def test_dataloader_batches(shd_dir: Path) -> None:
    from torch.utils.data import DataLoader

    ds = SHDAdding(shd_dir, "train", bin_size_ms=20, pairs_per_epoch=16)
    ds.prepare()
    x, y = next(iter(DataLoader(ds, batch_size=8, collate_fn=collate_frames)))
    assert tuple(x.shape) == (100, 8, 700) and tuple(y.shape) == (8,)
    assert int(y.max()) <= 18
