"""Events: a time no bin can hold is dropped and counted or refused, never binned; bad event
arrays are refused with a message naming the argument."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from elm_snn.data.transforms import BinToFrames, bin_events, events_from_arrays


def _events(t, x, t_dtype):
    ev = np.zeros(len(t), dtype=[("t", t_dtype), ("x", np.int64), ("p", np.int64)])
    ev["t"], ev["x"], ev["p"] = t, x, 1
    return ev


@pytest.mark.parametrize(
    ("t_dtype", "late"),
    [
        (np.float64, 1e300),
        (np.float64, 9.3e23),
        (np.float64, 2.0**63),
        (np.float32, 3e38),
        (np.uint64, 2**64 - 1),
        (np.uint64, 2**63 + 5),
        (np.int64, 2**63 - 1),
    ],
)
def test_huge_times_are_dropped_and_counted_never_binned(t_dtype, late):
    ev = _events([10, 2_000, late], [1, 2, 3], t_dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy cast warning either
        frames, dropped = bin_events(ev, 1, 10, num_channels=5)
    assert dropped == 1
    assert frames.sum() == 2 and frames[0, 1] == 1 and frames[2, 2] == 1
    assert frames[:, 3].sum() == 0  # channel of the late event: nothing anywhere
    to_frames = BinToFrames(1, 10, num_channels=5)
    to_frames(ev)
    assert to_frames.stats.spikes_dropped == 1
    with pytest.raises(ValueError, match="1 of 3 events at t >= duration_ms"):
        BinToFrames(1, 10, num_channels=5, on_dropped="error")(ev)


def test_unsorted_unsigned_times_are_refused():
    ev = _events([10, 2**64 - 5, 3], [1, 2, 3], np.uint64)
    with pytest.raises(ValueError, match="must be sorted"):
        bin_events(ev, 1, 10, num_channels=5)


@pytest.mark.parametrize(
    ("times", "units", "match"),
    [
        ([0.1, np.nan], [1, 2], r"times_s: expected finite spike times >= 0 s.*nan at position 1"),
        ([np.inf], [1], "times_s: expected finite"),
        ([-0.5], [1], r"times_s: .*-0.5 at position 0"),
        ([1e300], [1], r"times_s: .*below 9.223e\+06 s"),
        ([0.1, 0.2], [1, 3.7], r"units: expected whole, non-negative channel ids, got 3.7"),
        ([0.1], [-2], "units: expected whole, non-negative"),
        ([0.1], [np.nan], "units: expected whole"),
        ([0.1, 0.2], [1], "equal length"),
    ],
)
def test_events_from_arrays_refuses_bad_values(times, units, match):
    with pytest.raises(ValueError, match=match):
        events_from_arrays(np.asarray(times), np.asarray(units))


def test_events_from_arrays_accepts_whole_float_ids_and_empty_arrays():
    ev = events_from_arrays(np.array([0.5, 0.7]), np.array([3.0, 4.0]))
    assert ev["t"].tolist() == [500_000, 700_000] and ev["x"].tolist() == [3, 4]
    assert events_from_arrays(np.zeros(0), np.zeros(0, np.int64)).size == 0
