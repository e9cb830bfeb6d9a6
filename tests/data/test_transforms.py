"""BinToFrames / bin_events and the collate functions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from elm_snn.data import BinToFrames, collate_frames, pad_collate_time_major
from elm_snn.data.transforms import EVENT_DTYPE, duration_for_bins, num_bins

BIN_SIZES = [1, 2, 4, 6, 8, 10, 20, 50, 100]


def _events(n: int = 3000, t_max_us: int = 1_200_000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ev = np.zeros(n, dtype=EVENT_DTYPE)
    ev["t"] = np.sort(rng.integers(0, t_max_us, n))
    ev["x"] = rng.integers(0, 700, n)
    ev["p"] = 1
    return ev


def _reference(ev: np.ndarray, bin_ms: float, dur_ms: float) -> np.ndarray:
    """Independent computation with numpy.histogram2d (half-open bins)."""
    t_edges = np.arange(num_bins(dur_ms, bin_ms) + 1) * bin_ms * 1000.0
    inside = ev["t"] < dur_ms * 1000.0  # histogram2d's last bin is closed: exclude t == end
    h, _, _ = np.histogram2d(ev["t"][inside], ev["x"][inside], bins=[t_edges, np.arange(701) - 0.5])
    return h


@pytest.mark.parametrize("bin_ms", BIN_SIZES)
def test_conserves_spikes_and_matches_histogram(bin_ms: int) -> None:
    ev = _events()
    dur = duration_for_bins(1000, bin_ms, "floor")  # 996 ms for 6 ms bins
    tf = BinToFrames(bin_ms, dur)
    frames = tf(ev)
    assert frames.shape == (round(dur / bin_ms), 700) and frames.dtype == np.float32
    n_inside = int(np.count_nonzero(ev["t"] < dur * 1000))
    assert frames.sum() == n_inside
    assert tf.stats.spikes_dropped == ev.size - n_inside > 0
    assert tf.stats.samples == 1 and tf.stats.samples_with_drops == 1
    np.testing.assert_array_equal(frames, _reference(ev, bin_ms, dur))


def test_bin_edges_are_half_open() -> None:
    ev = np.zeros(4, dtype=EVENT_DTYPE)
    ev["t"] = [0, 9_999, 10_000, 1_000_000]  # the last is exactly at the end: dropped
    ev["x"] = [1, 1, 2, 3]
    tf = BinToFrames(10, 1000)
    fr = tf(ev)
    assert fr[0, 1] == 2 and fr[1, 2] == 1 and fr.sum() == 3
    assert tf.stats.spikes_dropped == 1


def test_six_ms_rule() -> None:
    with pytest.raises(ValueError, match=r"not an integer multiple.*996.*1002"):
        BinToFrames(6, 1000)
    assert BinToFrames(6, 996).num_bins == 166
    assert BinToFrames(6, 1002).num_bins == 167
    assert duration_for_bins(1000, 6, "ceil") == 1002
    assert duration_for_bins(1000, 10) == 1000
    assert BinToFrames(6, 1992).num_bins == 332  # SHD-Adding with 996 ms digits


def test_binary_and_counts() -> None:
    ev = np.zeros(3, dtype=EVENT_DTYPE)
    ev["t"] = [100, 200, 300]
    ev["x"] = [5, 5, 5]
    assert BinToFrames(1, 10)(ev)[0, 5] == 3
    assert BinToFrames(1, 10, binary=True)(ev)[0, 5] == 1


def test_empty_events_give_zeros() -> None:
    fr = BinToFrames(2, 1000)(np.zeros(0, dtype=EVENT_DTYPE))
    assert fr.shape == (500, 700) and not fr.any()


def test_float_times_accepted() -> None:
    ev = np.zeros(2, dtype=[("t", float), ("x", int), ("p", int)])
    ev["t"] = [1500.5, 2500.0]
    ev["x"] = [0, 1]
    fr = BinToFrames(1, 5)(ev)
    assert fr[1, 0] == 1 and fr[2, 1] == 1


def test_drop_policies() -> None:
    ev = _events(100, t_max_us=2_000_000)
    with pytest.warns(RuntimeWarning, match="dropped"):
        BinToFrames(10, 1000, on_dropped="warn")(ev)
    with pytest.raises(ValueError, match="on_dropped='error'"):
        BinToFrames(10, 1000, on_dropped="error")(ev)
    BinToFrames(10, 2000, on_dropped="error")(ev)  # nothing late: fine


@pytest.mark.parametrize(
    ("make", "exc", "match"),
    [
        (lambda ev: np.array([1, 2, 3]), TypeError, "structured array"),
        (lambda ev: [1, 2], TypeError, "structured array"),
        (lambda ev: np.zeros(2, dtype=[("t", int), ("y", int)]), TypeError, "missing"),
        (lambda ev: np.zeros(2, dtype=[("t", int), ("x", float)]), TypeError, "integer channel"),
        (lambda ev: _set(ev, "x", 0, 700), ValueError, r"\[0, 700\)"),
        (lambda ev: _set(ev, "x", 0, -1), ValueError, r"\[0, 700\)"),
        (lambda ev: _set(ev, "t", 0, -5), ValueError, ">= 0"),
        (lambda ev: _set(ev, "t", 5, 10**9), ValueError, "sorted"),
    ],
)
def test_malformed_events(make, exc, match) -> None:
    with pytest.raises(exc, match=match):
        BinToFrames(10, 1000)(make(_events(20)))


def _set(ev: np.ndarray, field: str, i: int, value: int) -> np.ndarray:
    ev = ev.copy()
    ev[field][i] = value
    return ev


@pytest.mark.parametrize(
    ("kwargs", "exc"),
    [
        ({"bin_size_ms": 0, "duration_ms": 1000}, ValueError),
        ({"bin_size_ms": 10, "duration_ms": -1}, ValueError),
        ({"bin_size_ms": "10", "duration_ms": 1000}, TypeError),
        ({"bin_size_ms": 10, "duration_ms": 1000, "on_dropped": "ignore"}, ValueError),
        ({"bin_size_ms": 10, "duration_ms": 1000, "num_channels": 0}, ValueError),
    ],
)
def test_bad_parameters(kwargs, exc) -> None:
    with pytest.raises(exc):
        BinToFrames(**kwargs)


def test_frozen_and_comparable() -> None:
    tf = BinToFrames(2, 1000)
    with pytest.raises(AttributeError):
        tf.bin_size_ms = 3  # type: ignore[misc]
    assert tf == BinToFrames(2, 1000)


def test_collate_time_major() -> None:
    batch = [(np.full((7, 700), i, np.float32), i) for i in range(3)]
    x, y = collate_frames(batch)
    assert x.shape == (7, 3, 700) and x.dtype == torch.float32
    assert y.dtype == torch.long and y.tolist() == [0, 1, 2]
    assert torch.equal(x[:, 2], torch.full((7, 700), 2.0))
    with pytest.raises(ValueError, match="different lengths"):
        collate_frames([(np.zeros((5, 700)), 0), (np.zeros((6, 700)), 1)])
    xp, yp = pad_collate_time_major([(torch.ones(5, 700), 0), (np.ones((6, 700)), 1)])
    assert xp.shape == (6, 2, 700) and xp[5, 0].sum() == 0 and xp[5, 1].sum() == 700
    with pytest.raises(ValueError, match="empty"):
        collate_frames([])
    with pytest.raises(TypeError, match="BinToFrames"):
        collate_frames([(_events(3), 0)])
