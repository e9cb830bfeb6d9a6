"""Binning of spike events into dense frames (Tonic-style transforms, numpy inside).

Events are Tonic structured arrays with at least the fields ``t`` (time in **microseconds**,
integer or float) and ``x`` (channel id); SHD's ``p`` (always 1) is accepted and ignored.

Binning rule (used everywhere in elm-snn, including the cached SHD-Adding path):

* bin ``k`` holds the events with ``k * bin_size <= t < (k + 1) * bin_size``;
* there are exactly ``T = duration_ms / bin_size_ms`` bins, and ``duration_ms`` **must be an
  integer multiple** of ``bin_size_ms`` (a partial last bin would hold less input than the
  others, and silently rounding would change the sample length). For bin sizes that do not
  divide 1000 ms, e.g. 6 ms, choose the digit duration explicitly:
  ``duration_for_bins(1000, 6, "floor") == 996`` (166 bins, the last 4 ms of each digit are
  dropped and counted) or ``"ceil"`` -> 1002 (167 bins, 2 ms of silence appended). For
  SHD-Adding each digit is binned on its own with this per-digit duration and the two frame
  blocks are concatenated, i.e. the second digit starts at ``digit_duration_ms``;
* events at ``t >= duration`` are dropped and **counted** (:class:`BinningStats`), never
  wrapped or clipped into the last bin; the policy ``on_dropped`` can also warn or raise.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable
from typing import Any, Literal

import numpy as np

__all__ = [
    "BinToFrames",
    "BinningStats",
    "FrameBinning",
    "apply_event_transform",
    "split_frame_binning",
    "bin_events",
    "bin_indices",
    "duration_for_bins",
    "events_from_arrays",
    "num_bins",
    "validate_events",
    "EVENT_DTYPE",
]

#: dtype of the event arrays produced by ``tonic.datasets.SHD`` (t in microseconds).
EVENT_DTYPE = np.dtype([("t", np.int64), ("x", np.int64), ("p", np.int64)])

_REL_TOL = 1e-9
# float64 microsecond times at or above this do not fit an int64 event time
_INT64_LIMIT = float(2**63)


def num_bins(duration_ms: float, bin_size_ms: float) -> int:
    """Number of bins ``duration_ms / bin_size_ms``; raise unless it is a positive integer.

    Raises:
        ValueError: non-positive arguments, or ``duration_ms`` not an integer multiple of
            ``bin_size_ms`` (the message suggests the nearest valid durations).
    """
    for name, v in (("bin_size_ms", bin_size_ms), ("duration_ms", duration_ms)):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise TypeError(f"{name}: expected a number (ms), got {type(v).__name__}")
        if not math.isfinite(float(v)) or v <= 0:
            raise ValueError(f"{name}: expected a finite number > 0 (ms), got {v!r}")
    ratio = float(duration_ms) / float(bin_size_ms)
    n = round(ratio)
    if n < 1 or abs(ratio - n) > _REL_TOL * max(1.0, ratio):
        lo = duration_for_bins(duration_ms, bin_size_ms, "floor")
        hi = duration_for_bins(duration_ms, bin_size_ms, "ceil")
        raise ValueError(
            f"duration_ms={duration_ms!r} is not an integer multiple of bin_size_ms="
            f"{bin_size_ms!r} ({ratio:.4g} bins); a partial last bin is not allowed. Use "
            f"duration_ms={lo:g} (drop the tail) or {hi:g} (pad with silence), e.g. via "
            f"duration_for_bins(duration_ms, bin_size_ms, 'floor'|'ceil')"
        )
    return int(n)


def duration_for_bins(
    duration_ms: float, bin_size_ms: float, mode: Literal["floor", "ceil"] = "floor"
) -> float:
    """Nearest duration (ms) that is an integer multiple of ``bin_size_ms``.

    ``"floor"`` never exceeds ``duration_ms`` (at least one bin), ``"ceil"`` is never below it.
    Example: ``duration_for_bins(1000, 6, "floor") == 996``, ``"ceil"`` gives 1002.
    """
    if mode not in ("floor", "ceil"):
        raise ValueError(f"mode: expected 'floor' or 'ceil', got {mode!r}")
    if not (bin_size_ms > 0 and duration_ms > 0):
        raise ValueError(
            f"duration_ms and bin_size_ms: expected > 0, got {duration_ms!r}, {bin_size_ms!r}"
        )
    ratio = float(duration_ms) / float(bin_size_ms)
    n = round(ratio)
    if abs(ratio - n) <= _REL_TOL * max(1.0, ratio):
        k = n
    else:
        k = math.floor(ratio) if mode == "floor" else math.ceil(ratio)
    return max(int(k), 1) * float(bin_size_ms)


def events_from_arrays(times_s: np.ndarray, units: np.ndarray) -> np.ndarray:
    """Build a Tonic event array from SHD's per-sample arrays, exactly as Tonic does.

    Args:
        times_s: ``(n,)`` spike times in seconds (any float dtype, e.g. SHD's float16).
        units: ``(n,)`` channel ids.

    Returns:
        ``(n,)`` structured array with dtype :data:`EVENT_DTYPE`: ``t`` in integer
        microseconds (``float64(times) * 1e6`` truncated toward zero, as
        ``tonic.datasets.SHD``), ``x`` = channel, ``p`` = 1.
    """
    times_s = np.asarray(times_s)
    units = np.asarray(units)
    if times_s.shape != units.shape or times_s.ndim != 1:
        raise ValueError(
            f"times_s and units: expected two 1-D arrays of equal length, got shapes "
            f"{times_s.shape} and {units.shape}"
        )
    if not (np.issubdtype(times_s.dtype, np.integer) or np.issubdtype(times_s.dtype, np.floating)):
        raise TypeError(f"times_s: expected real numbers (seconds), got dtype {times_s.dtype}")
    if not (np.issubdtype(units.dtype, np.integer) or np.issubdtype(units.dtype, np.floating)):
        raise TypeError(f"units: expected integer channel ids, got dtype {units.dtype}")
    t_us = times_s.astype(np.float64) * 1e6
    if t_us.size:
        bad = ~np.isfinite(t_us) | (t_us < 0) | (t_us >= _INT64_LIMIT)
        if bad.any():
            k = int(np.argmax(bad))
            raise ValueError(
                f"times_s: expected finite spike times >= 0 s and below {_INT64_LIMIT / 1e12:.4g} "
                f"s (int64 microseconds), got {times_s[k].item()!r} at position {k} "
                f"({int(bad.sum())} such times)"
            )
    if units.size:
        u = units.astype(np.float64) if np.issubdtype(units.dtype, np.floating) else units
        bad = (u < 0) | (u > np.iinfo(np.int64).max)
        if np.issubdtype(units.dtype, np.floating):
            bad |= ~np.isfinite(u)
            bad[~bad] |= u[~bad] != np.floor(u[~bad])
        if bad.any():
            k = int(np.argmax(bad))
            raise ValueError(
                f"units: expected whole, non-negative channel ids, got {units[k].item()!r} at "
                f"position {k} ({int(bad.sum())} such ids)"
            )
    ev = np.empty(times_s.shape[0], dtype=EVENT_DTYPE)
    ev["t"] = t_us
    ev["x"] = units
    ev["p"] = 1
    return ev


def validate_events(events: object, num_channels: int, name: str = "events") -> None:
    """Check a Tonic event array: fields ``t`` and ``x``, channels in range, times >= 0 and
    non-decreasing. Empty arrays are valid.

    Raises:
        TypeError: not a structured numpy array with numeric ``t`` and integer ``x`` fields.
        ValueError: channel out of ``[0, num_channels)``, negative/non-finite or unsorted times.
    """
    if not isinstance(events, np.ndarray) or events.dtype.names is None:
        raise TypeError(
            f"{name}: expected a numpy structured array with fields 't' (us) and 'x' (channel) "
            f"as produced by tonic, got {type(events).__name__}"
            + (f" with dtype {events.dtype}" if isinstance(events, np.ndarray) else "")
        )
    missing = [f for f in ("t", "x") if f not in events.dtype.names]
    if missing:
        raise TypeError(
            f"{name}: expected fields 't' (us) and 'x' (channel), missing {missing}; got fields "
            f"{events.dtype.names}"
        )
    if events.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D event array, got shape {events.shape}")
    t_dt, x_dt = events.dtype["t"], events.dtype["x"]
    if not (np.issubdtype(t_dt, np.integer) or np.issubdtype(t_dt, np.floating)):
        raise TypeError(f"{name}: field 't' must be numeric (microseconds), got dtype {t_dt}")
    if not np.issubdtype(x_dt, np.integer):
        raise TypeError(f"{name}: field 'x' must hold integer channel ids, got dtype {x_dt}")
    if events.size == 0:
        return
    t = events["t"]
    x = events["x"]
    if np.issubdtype(t_dt, np.floating) and not np.all(np.isfinite(t)):
        raise ValueError(f"{name}: spike times must be finite, got NaN or inf")
    tmin = t.min()
    if tmin < 0:
        raise ValueError(f"{name}: spike times must be >= 0 us, got minimum {tmin!r}")
    down = t[1:] < t[:-1]  # not np.diff: it wraps around for unsigned integer times
    if np.any(down):
        k = int(np.argmax(down))
        raise ValueError(
            f"{name}: spike times must be sorted (non-decreasing), got t={t[k]!r} us followed "
            f"by t={t[k + 1]!r} us at position {k}; sort with events[np.argsort(events['t'], "
            f"kind='stable')]"
        )
    xmin, xmax = int(x.min()), int(x.max())
    if xmin < 0 or xmax >= num_channels:
        raise ValueError(
            f"{name}: channel ids must lie in [0, {num_channels}), got range [{xmin}, {xmax}]"
        )


def bin_indices(
    t_us: np.ndarray, x: np.ndarray, bin_size_ms: float, n_bins: int, num_channels: int
) -> tuple[np.ndarray, int]:
    """Flat frame indices ``bin * num_channels + channel`` of the events inside the duration.

    Args:
        t_us: ``(n,)`` times in microseconds (validated: >= 0).
        x: ``(n,)`` channel ids (validated).
        bin_size_ms: bin width (ms).
        n_bins: number of bins ``T`` (events in bin >= T are dropped).
        num_channels: ``C``.

    Returns:
        ``(flat, n_dropped)``: int64 flat indices into a ``(T, C)`` frame of the kept events,
        and the number of dropped events (``t >= T * bin_size``).
    """
    bin_us = float(bin_size_ms) * 1000.0
    # bins are computed in the times' own dtype (integers) or float64 and compared with
    # n_bins *before* any cast to int64: a cast first would wrap huge times (uint64 near
    # 2**64, floats >= 2**63 us) to negative or arbitrary bins instead of dropping them
    if np.issubdtype(t_us.dtype, np.integer) and bin_us.is_integer():
        b = t_us // t_us.dtype.type(int(bin_us))
    else:
        b = np.floor(t_us.astype(np.float64) / bin_us)
    keep = b < n_bins
    n_dropped = int(b.size - np.count_nonzero(keep))
    if n_dropped:
        b = b[keep]
        x = x[keep]
    b = b.astype(np.int64, copy=False)
    return b * num_channels + x.astype(np.int64, copy=False), n_dropped


def bin_events(
    events: np.ndarray,
    bin_size_ms: float,
    duration_ms: float,
    binary: bool = False,
    num_channels: int = 700,
    validate: bool = True,
) -> tuple[np.ndarray, int]:
    """Bin events into a dense ``(T, num_channels)`` float32 frame.

    Args:
        events: Tonic structured array (``t`` in us, ``x`` channel); may be empty.
        bin_size_ms: bin width (ms).
        duration_ms: frame length (ms), an integer multiple of ``bin_size_ms``.
        binary: if True, a bin is 1 when it holds at least one spike, else the spike count.
        num_channels: ``C``.
        validate: check the events first (see :func:`validate_events`).

    Returns:
        ``(frames, n_dropped)``: float32 ``(T, C)`` with ``T = duration_ms / bin_size_ms``, and
        the number of events at ``t >= duration_ms`` that were dropped.
    """
    n = num_bins(duration_ms, bin_size_ms)
    if validate:
        validate_events(events, num_channels)
    if events.size == 0:
        return np.zeros((n, num_channels), dtype=np.float32), 0
    flat, n_dropped = bin_indices(events["t"], events["x"], bin_size_ms, n, num_channels)
    counts = np.bincount(flat, minlength=n * num_channels)
    frames = counts.reshape(n, num_channels).astype(np.float32)
    if binary:
        np.minimum(frames, 1.0, out=frames)
    return frames, n_dropped


@dataclasses.dataclass
class BinningStats:
    """Running totals of a :class:`BinToFrames` transform (per process: each DataLoader
    worker keeps its own copy).

    Attributes:
        samples: samples binned.
        spikes_in: events seen.
        spikes_dropped: events at ``t >= duration`` that were dropped.
        samples_with_drops: samples that lost at least one event.
    """

    samples: int = 0
    spikes_in: int = 0
    spikes_dropped: int = 0
    samples_with_drops: int = 0

    def record(self, n_in: int, n_dropped: int) -> None:
        """Add one sample with ``n_in`` events of which ``n_dropped`` were dropped."""
        self.samples += 1
        self.spikes_in += int(n_in)
        self.spikes_dropped += int(n_dropped)
        self.samples_with_drops += int(n_dropped > 0)

    def reset(self) -> None:
        """Set every total back to zero."""
        self.samples = self.spikes_in = self.spikes_dropped = self.samples_with_drops = 0


_ON_DROPPED = ("count", "warn", "error")


@dataclasses.dataclass(frozen=True)
class FrameBinning:
    """What a :class:`BinToFrames` does, as a frozen, hashable value (no counters in it).

    Args:
        bin_size_ms: bin width (ms).
        duration_ms: frame length (ms), an integer multiple of ``bin_size_ms``.
        binary: 1 where a bin has at least one spike instead of the spike count.
        num_channels: input channels ``C``.
        on_dropped: ``"count"``, ``"warn"`` or ``"error"`` for events at ``t >= duration_ms``.
    """

    bin_size_ms: float
    duration_ms: float
    binary: bool = False
    num_channels: int = 700
    on_dropped: Literal["count", "warn", "error"] = "count"

    def __post_init__(self) -> None:
        num_bins(self.duration_ms, self.bin_size_ms)
        if not isinstance(self.binary, (bool, np.bool_)):
            raise TypeError(f"binary: expected a bool, got {type(self.binary).__name__}")
        if isinstance(self.num_channels, bool) or not isinstance(
            self.num_channels, (int, np.integer)
        ):
            raise TypeError(
                f"num_channels: expected an int, got {type(self.num_channels).__name__}"
            )
        if self.num_channels < 1:
            raise ValueError(f"num_channels: expected >= 1, got {self.num_channels}")
        if self.on_dropped not in _ON_DROPPED:
            raise ValueError(
                f"on_dropped: expected 'count', 'warn' or 'error', got {self.on_dropped!r}"
            )

    @property
    def num_bins(self) -> int:
        """Number of time bins ``T``."""
        return num_bins(self.duration_ms, self.bin_size_ms)

    def check_dropped(self, n_in: int, n_dropped: int) -> None:
        """Apply the ``on_dropped`` policy to a sample of ``n_in`` events, ``n_dropped`` late."""
        if not n_dropped or self.on_dropped == "count":
            return
        msg = f"{n_dropped} of {n_in} events at t >= duration_ms={self.duration_ms} ms"
        if self.on_dropped == "error":
            raise ValueError(f"events: {msg} (on_dropped='error')")
        warnings.warn(f"BinToFrames: dropped {msg}", RuntimeWarning, stacklevel=3)

    def bin(self, events: np.ndarray) -> tuple[np.ndarray, int]:
        """Validate and bin ``events``: ``(frames (T, C) float32, n_dropped)``.

        Raises ``ValueError`` before binning when ``on_dropped="error"`` and an event is late.
        """
        validate_events(events, self.num_channels)
        if self.on_dropped == "error" and events.size:
            late = int(np.count_nonzero(events["t"] >= float(self.duration_ms) * 1000.0))
            self.check_dropped(events.size, late)
        return bin_events(
            events,
            self.bin_size_ms,
            self.duration_ms,
            self.binary,
            self.num_channels,
            validate=False,
        )


class BinToFrames:
    """Tonic-style transform: events -> float32 frames ``(T, num_channels)``.

    ``T = duration_ms / bin_size_ms`` exactly, for every sample (the duration must be an
    integer multiple of the bin size; see :func:`duration_for_bins` for 6 ms bins and the
    module docstring for the rule). Events at ``t >= duration_ms`` are dropped and counted in
    :attr:`stats`; ``on_dropped="warn"`` also warns, ``"error"`` raises instead.

    The settings are a frozen :class:`FrameBinning` (:attr:`binning`; the fields are
    read-only attributes here too, and two transforms with equal settings compare equal);
    :attr:`stats` is a plain mutable counter beside it. An empty event array gives all-zero
    frames. Inside ``tonic.transforms.Compose`` (which returns an empty sample unbinned),
    datasets of elm-snn still bin the sample: see :func:`apply_event_transform`.

    Args:
        bin_size_ms: bin width (ms), also the ``dt`` of the model that consumes the frames.
        duration_ms: frame length (ms), e.g. 1000 for SHD, 2000 for SHD-Adding.
        binary: 1 where a bin has at least one spike instead of the spike count.
        num_channels: input channels (700 for SHD).
        on_dropped: ``"count"`` (default), ``"warn"`` or ``"error"``.

    Example:
        >>> to_frames = BinToFrames(bin_size_ms=2, duration_ms=1000)
        >>> frames = to_frames(events)        # (500, 700) float32
        >>> to_frames.stats.spikes_dropped   # events after 1 s
    """

    def __init__(
        self,
        bin_size_ms: float,
        duration_ms: float,
        binary: bool = False,
        num_channels: int = 700,
        on_dropped: Literal["count", "warn", "error"] = "count",
    ) -> None:
        self._binning = FrameBinning(bin_size_ms, duration_ms, binary, num_channels, on_dropped)
        #: running totals of the samples binned by this object (per process)
        self.stats = BinningStats()

    @property
    def binning(self) -> FrameBinning:
        """The (frozen) settings."""
        return self._binning

    bin_size_ms = property(lambda self: self._binning.bin_size_ms, doc="Bin width (ms).")
    duration_ms = property(lambda self: self._binning.duration_ms, doc="Frame length (ms).")
    binary = property(lambda self: self._binning.binary, doc="0/1 frames instead of counts.")
    num_channels = property(lambda self: self._binning.num_channels, doc="Channels ``C``.")
    on_dropped = property(lambda self: self._binning.on_dropped, doc="Late-event policy.")

    @property
    def num_bins(self) -> int:
        """Number of time bins ``T``."""
        return self._binning.num_bins

    def record(self, n_in: int, n_dropped: int) -> None:
        """Count a sample binned elsewhere (e.g. from a cache) and apply ``on_dropped``."""
        self.stats.record(n_in, n_dropped)
        self._binning.check_dropped(n_in, n_dropped)

    def __call__(self, events: np.ndarray) -> np.ndarray:
        """Bin ``events`` (Tonic structured array, t in us) into float32 ``(T, C)`` frames."""
        frames, n_dropped = self._binning.bin(events)
        self.record(events.size, n_dropped)
        return frames

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BinToFrames):
            return NotImplemented
        return self._binning == other._binning

    def __hash__(self) -> int:
        return hash(self._binning)

    def __repr__(self) -> str:
        b = self._binning
        return (
            f"BinToFrames(bin_size_ms={b.bin_size_ms!r}, duration_ms={b.duration_ms!r}, "
            f"binary={b.binary!r}, num_channels={b.num_channels!r}, on_dropped={b.on_dropped!r})"
        )


class _Steps:
    """Apply callables in order (what is left of a ``Compose`` after its binning step)."""

    def __init__(self, steps: list[Callable]) -> None:
        self.steps = steps

    def __call__(self, x: Any) -> Any:
        for step in self.steps:
            x = step(x)
        return x

    def __repr__(self) -> str:
        return f"_Steps({self.steps!r})"


def split_frame_binning(transform: object) -> tuple[Any, Callable | None] | None:
    """Find the event binning a transform starts with, whatever its type.

    A *frame binner* is any object with a :class:`FrameBinning` attribute ``binning``, a
    ``record(n_in, n_dropped)`` method and ``__call__(events) -> frames`` (such as
    :class:`BinToFrames`). A composition (``tonic.transforms.Compose``, torchvision's, or
    any object with a ``transforms`` list) whose first step is a frame binner (or such a
    composition) counts too.

    Returns:
        ``(binner, rest)``: the binner and a callable applying the remaining steps to its
        frames (``None`` when there are none); ``None`` when ``transform`` does not start by
        binning events.
    """
    if isinstance(getattr(transform, "binning", None), FrameBinning) and callable(
        getattr(transform, "record", None)
    ):
        return transform, None
    steps = getattr(transform, "transforms", None)
    if isinstance(steps, (list, tuple)) and steps:
        head = split_frame_binning(steps[0])
        if head is not None:
            binner, head_rest = head
            rest = ([head_rest] if head_rest is not None else []) + list(steps[1:])
            return binner, (_Steps(rest) if rest else None)
    return None


def apply_event_transform(transform: Callable, events: np.ndarray) -> Any:
    """``transform(events)``, except that a transform starting with a frame binning (see
    :func:`split_frame_binning`) bins even an empty sample.

    ``tonic.transforms.Compose`` stops at an empty sample and returns the raw, empty event
    array, which no frame collation can stack; binned first, it is an all-zero ``(T, C)``
    frame like any other sample.
    """
    split = split_frame_binning(transform)
    if split is None:
        return transform(events)
    binner, rest = split
    frames = binner(events)
    return frames if rest is None else rest(frames)
