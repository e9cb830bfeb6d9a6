"""The parsed, validated, sparse in-memory form of one NeuronIO file (:class:`NeuronIOFile`)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from elm_snn.data.neuronio.layout import (
    NeuronIOFormatError,
    NeuronIOSimulation,
    output_spike_bins,
)
from elm_snn.data.neuronio.unpickle import load_neuronio_pickle
from elm_snn.data.neuronio.writer import _duration_ms_from_params, _validate_simulation

__all__ = [
    "NeuronIOSample",
    "NeuronIOFile",
    "read_neuronio_pickle",
]


@dataclasses.dataclass(frozen=True)
class NeuronIOSample:
    """One simulation as dense arrays (what :func:`iter_neuronio_simulations` yields).

    Attributes:
        source: file the simulation came from.
        index: simulation index within that file.
        inputs: (2 * num_segments, T) bool input raster; excitatory rows first.
        output_spikes: (T,) bool output spike raster (bin ``int(t - 0.5)``).
        soma_voltage_mv: (T,) float32 somatic voltage (mV), raw (not capped).
    """

    source: str
    index: int
    inputs: np.ndarray
    output_spikes: np.ndarray
    soma_voltage_mv: np.ndarray


@dataclasses.dataclass(frozen=True, eq=False)
class NeuronIOFile:
    """All simulations of one NeuronIO file, validated, with sparse input spikes.

    Input spikes of simulation ``s`` are ``input_times_ms[o[s]:o[s+1]]`` and
    ``input_rows[o[s]:o[s+1]]`` with ``o = input_offsets``, sorted by (time, row) and free of
    duplicates; a row is a synapse (``0..n-1`` excitatory on segment ``row``, ``n..2n-1``
    inhibitory on segment ``row - n``). Output spikes are kept as the raw times of the file.

    Attributes:
        source: path of the file read.
        num_segments: n, dendritic segments (639 for NeuronIO).
        duration_ms: T, samples per simulation (1 per ms).
        segment_type: n strings (``"basal"``/``"apical"`` in NeuronIO).
        segment_dist_from_soma_um: (n,) float64 distance of each segment from the soma (um).
        input_offsets: (S+1,) int64.
        input_times_ms: (N,) int32 spike bins (ms).
        input_rows: (N,) int32 input rows.
        output_offsets: (S+1,) int64.
        output_spike_times_ms: (K,) float64 output spike times (ms), per simulation in file
            order.
        soma_voltage_mv: (S, T) float32 somatic voltage (mV).
    """

    source: str
    num_segments: int
    duration_ms: int
    segment_type: tuple[str, ...]
    segment_dist_from_soma_um: np.ndarray
    input_offsets: np.ndarray
    input_times_ms: np.ndarray
    input_rows: np.ndarray
    output_offsets: np.ndarray
    output_spike_times_ms: np.ndarray
    soma_voltage_mv: np.ndarray

    def __post_init__(self) -> None:
        self._validate()

    # -- validation --------------------------------------------------------------------
    def _validate(self) -> None:
        where = self.source
        n, T = self.num_segments, self.duration_ms
        if n < 1 or T < 1:
            raise NeuronIOFormatError(f"{where}: num_segments={n}, duration_ms={T}; need >= 1")
        if len(self.segment_type) != n or self.segment_dist_from_soma_um.shape != (n,):
            raise NeuronIOFormatError(
                f"{where}: segment_type/segment_dist_from_soma_um must have {n} entries, got "
                f"{len(self.segment_type)} and {self.segment_dist_from_soma_um.shape}"
            )
        v = self.soma_voltage_mv
        if v.ndim != 2 or v.shape[1] != T or v.dtype != np.float32:
            raise NeuronIOFormatError(
                f"{where}: soma_voltage_mv must be float32 (S, {T}), got {v.dtype} {v.shape}"
            )
        if not np.all(np.isfinite(v)):
            raise NeuronIOFormatError(f"{where}: soma voltage holds NaN/inf values")
        S = v.shape[0]
        for name, off, size in (
            ("input_offsets", self.input_offsets, self.input_times_ms.shape[0]),
            ("output_offsets", self.output_offsets, self.output_spike_times_ms.shape[0]),
        ):
            if (
                off.shape != (S + 1,)
                or (S >= 0 and off[0] != 0)
                or off[-1] != size
                or np.any(np.diff(off) < 0)
            ):
                raise NeuronIOFormatError(
                    f"{where}: {name} must be non-decreasing, start at 0, end at {size} and "
                    f"have {S + 1} entries"
                )
        if self.input_rows.shape != self.input_times_ms.shape:
            raise NeuronIOFormatError(f"{where}: input_rows and input_times_ms differ in size")
        if self.input_times_ms.size:
            if self.input_times_ms.min() < 0 or self.input_times_ms.max() >= T:
                raise NeuronIOFormatError(
                    f"{where}: input spike times must lie in [0, {T}) ms, got "
                    f"[{self.input_times_ms.min()}, {self.input_times_ms.max()}]"
                )
            if self.input_rows.min() < 0 or self.input_rows.max() >= 2 * n:
                raise NeuronIOFormatError(
                    f"{where}: input rows must lie in [0, {2 * n}), got "
                    f"[{self.input_rows.min()}, {self.input_rows.max()}]"
                )
        out = self.output_spike_times_ms
        if out.size:
            if not np.all(np.isfinite(out)):
                raise NeuronIOFormatError(f"{where}: output spike times hold NaN/inf")
            bins = output_spike_bins(out)
            if bins.min() < 0 or bins.max() >= T:
                raise NeuronIOFormatError(
                    f"{where}: output spikes fall in bins [{bins.min()}, {bins.max()}] "
                    f"(bin = int(t - 0.5)), expected 0 <= bin < {T}"
                )

    # -- accessors ---------------------------------------------------------------------
    @property
    def num_simulations(self) -> int:
        """S, simulations in the file."""
        return int(self.soma_voltage_mv.shape[0])

    @property
    def num_inputs(self) -> int:
        """2 * num_segments input rows (1278 for NeuronIO)."""
        return 2 * self.num_segments

    def _check_sim(self, sim: int) -> int:
        if isinstance(sim, bool) or not isinstance(sim, int | np.integer):
            raise TypeError(f"sim: expected an integer index, got {type(sim).__name__}")
        if not 0 <= int(sim) < self.num_simulations:
            raise IndexError(f"sim: expected 0 <= sim < {self.num_simulations}, got {sim}")
        return int(sim)

    def _check_range(self, start: int, stop: int | None) -> tuple[int, int]:
        stop = self.duration_ms if stop is None else int(stop)
        start = int(start)
        if not 0 <= start <= stop <= self.duration_ms:
            raise ValueError(
                f"start/stop: expected 0 <= start <= stop <= {self.duration_ms} ms, "
                f"got start={start}, stop={stop}"
            )
        return start, stop

    def input_events(
        self, sim: int, start: int = 0, stop: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Input spikes of simulation ``sim`` with ``start <= t < stop`` (ms).

        Returns:
            ``(times, rows)``: int64 times relative to ``start`` (ms) and int64 input rows,
            sorted by time.
        """
        sim = self._check_sim(sim)
        start, stop = self._check_range(start, stop)
        lo, hi = int(self.input_offsets[sim]), int(self.input_offsets[sim + 1])
        times = self.input_times_ms[lo:hi]
        a, b = np.searchsorted(times, [start, stop], side="left")
        return (
            times[a:b].astype(np.int64) - start,
            self.input_rows[lo + a : lo + b].astype(np.int64),
        )

    def input_raster(self, sim: int, start: int = 0, stop: int | None = None) -> np.ndarray:
        """(2 * num_segments, stop - start) bool input raster of simulation ``sim``."""
        start, stop = self._check_range(start, stop)
        times, rows = self.input_events(sim, start, stop)
        raster = np.zeros((self.num_inputs, stop - start), dtype=bool)
        raster[rows, times] = True
        return raster

    def output_spike_times(self, sim: int) -> np.ndarray:
        """(K,) float64 output spike times (ms) of simulation ``sim``, as in the file."""
        sim = self._check_sim(sim)
        return self.output_spike_times_ms[self.output_offsets[sim] : self.output_offsets[sim + 1]]

    def output_raster(self, sim: int, start: int = 0, stop: int | None = None) -> np.ndarray:
        """(stop - start,) bool output spike raster (bin ``int(t - 0.5)``; duplicates merge)."""
        start, stop = self._check_range(start, stop)
        bins = output_spike_bins(self.output_spike_times(sim))
        bins = bins[(bins >= start) & (bins < stop)] - start
        raster = np.zeros(stop - start, dtype=bool)
        raster[bins] = True
        return raster

    def num_output_spikes(self, sim: int) -> int:
        """Number of 1-ms bins holding an output spike (the official per-simulation count)."""
        return int(np.unique(output_spike_bins(self.output_spike_times(sim))).size)

    def simulation(self, sim: int) -> NeuronIOSimulation:
        """Simulation ``sim`` back in the pickle's terms (spike-time dicts)."""
        times, rows = self.input_events(sim)
        n = self.num_segments
        ex: dict[int, np.ndarray] = {}
        inh: dict[int, np.ndarray] = {}
        order = np.argsort(rows, kind="stable")
        rows_sorted, times_sorted = rows[order], times[order]
        uniq, first = np.unique(rows_sorted, return_index=True)
        for r, chunk in zip(uniq, np.split(times_sorted, first[1:]), strict=True):
            (ex if r < n else inh)[int(r % n)] = chunk
        return NeuronIOSimulation(
            ex_spike_times=ex,
            inh_spike_times=inh,
            output_spike_times_ms=self.output_spike_times(sim).copy(),
            soma_voltage_mv=self.soma_voltage_mv[sim].copy(),
        )

    def sample(self, sim: int) -> NeuronIOSample:
        """Simulation ``sim`` as dense arrays."""
        sim = self._check_sim(sim)
        return NeuronIOSample(
            source=self.source,
            index=sim,
            inputs=self.input_raster(sim),
            output_spikes=self.output_raster(sim),
            soma_voltage_mv=self.soma_voltage_mv[sim].copy(),
        )

    def same_content(self, other: NeuronIOFile) -> bool:
        """True when both hold identical data (the source path is not compared)."""
        if not isinstance(other, NeuronIOFile):
            return False
        return (
            self.num_segments == other.num_segments
            and self.duration_ms == other.duration_ms
            and self.segment_type == other.segment_type
            and all(
                np.array_equal(getattr(self, f), getattr(other, f))
                for f in (
                    "segment_dist_from_soma_um",
                    "input_offsets",
                    "input_times_ms",
                    "input_rows",
                    "output_offsets",
                    "output_spike_times_ms",
                    "soma_voltage_mv",
                )
            )
        )


def _segments_of(raw: Mapping[str, Any], source: str) -> tuple[Mapping, Any, tuple, np.ndarray]:
    """``(Params, simulation dicts, segment types, distances from the soma in µm)`` of an
    unpickled NeuronIO dict, checked (NeuronIOFormatError naming ``source``)."""
    try:
        params = raw["Params"]
        sims = raw["Results"]["listOfSingleSimulationDicts"]
    except (KeyError, TypeError):
        raise NeuronIOFormatError(
            f"{source}: expected keys Params and Results.listOfSingleSimulationDicts"
        ) from None
    if not isinstance(params, Mapping):
        raise NeuronIOFormatError(f"{source}: Params must be a dict, got {type(params)}")
    for key in ("allSegmentsType", "totalSimDurationInSec"):
        if key not in params:
            raise NeuronIOFormatError(f"{source}: Params lacks {key!r}")
    if not isinstance(sims, list | tuple):
        raise NeuronIOFormatError(
            f"{source}: Results.listOfSingleSimulationDicts must be a list, got {type(sims)}"
        )
    seg_types = tuple(
        t.decode("latin1") if isinstance(t, bytes) else str(t) for t in params["allSegmentsType"]
    )
    n = len(seg_types)
    if n < 1:
        raise NeuronIOFormatError(f"{source}: Params['allSegmentsType'] is empty")
    dist = params.get("allSegments_DistFromSoma")
    dist_arr = (
        np.full(n, np.nan) if dist is None else np.asarray(dist, dtype=np.float64).reshape(-1)
    )
    if dist_arr.shape != (n,):
        raise NeuronIOFormatError(
            f"{source}: Params['allSegments_DistFromSoma'] has {dist_arr.size} entries, "
            f"expected {n} (one per segment)"
        )
    return params, sims, seg_types, dist_arr


def _input_events(sim: NeuronIOSimulation, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A simulation's input spikes as sorted, de-duplicated ``(times ms, rows)`` int32
    arrays: rows ``0..n-1`` excitatory and ``n..2n-1`` inhibitory segments."""
    rows, times = [], []
    for offset, spikes in ((0, sim.ex_spike_times), (n, sim.inh_spike_times)):
        for seg, t in spikes.items():
            rows.append(np.full(t.shape, offset + seg, dtype=np.int64))
            times.append(t)
    if rows:
        key = np.unique(np.concatenate(times) * (2 * n) + np.concatenate(rows))
    else:
        key = np.zeros(0, dtype=np.int64)
    return (key // (2 * n)).astype(np.int32), (key % (2 * n)).astype(np.int32)


def _file_from_raw(raw: Mapping[str, Any], source: str) -> NeuronIOFile:
    """Validate an unpickled NeuronIO dict and convert it to :class:`NeuronIOFile`."""
    params, sims, seg_types, dist_arr = _segments_of(raw, source)
    n = len(seg_types)
    T = _duration_ms_from_params(params, source)
    S = len(sims)
    # one row per simulation, filled from each simulation's own (validated) voltage array, so
    # the allocation never exceeds what the file holds (T comes from Params alone)
    volt_rows: list[np.ndarray] = []
    in_times: list[np.ndarray] = []
    in_rows: list[np.ndarray] = []
    in_off = np.zeros(S + 1, dtype=np.int64)
    out_times: list[np.ndarray] = []
    out_off = np.zeros(S + 1, dtype=np.int64)
    for k, sim_dict in enumerate(sims):
        where = f"{source}: simulation {k}"
        try:
            sim = NeuronIOSimulation.from_dict(sim_dict)
        except (TypeError, ValueError) as exc:
            raise NeuronIOFormatError(f"{where}: {exc}") from None
        _validate_simulation(sim, n, T, where)
        times, rows = _input_events(sim, n)
        in_times.append(times)
        in_rows.append(rows)
        in_off[k + 1] = in_off[k] + times.size
        out_times.append(sim.output_spike_times_ms.astype(np.float64))
        out_off[k + 1] = out_off[k] + sim.output_spike_times_ms.size
        row = sim.soma_voltage_mv.astype(np.float32)
        if not np.all(np.isfinite(row)):
            raise NeuronIOFormatError(f"{where}: soma voltage overflows float32")
        volt_rows.append(row)
    cat = np.concatenate
    return NeuronIOFile(
        source=source,
        num_segments=n,
        duration_ms=T,
        segment_type=seg_types,
        segment_dist_from_soma_um=dist_arr,
        input_offsets=in_off,
        input_times_ms=cat(in_times) if S else np.zeros(0, np.int32),
        input_rows=cat(in_rows) if S else np.zeros(0, np.int32),
        output_offsets=out_off,
        output_spike_times_ms=cat(out_times) if S else np.zeros(0, np.float64),
        soma_voltage_mv=np.stack(volt_rows) if S else np.zeros((0, T), np.float32),
    )


def read_neuronio_pickle(path: str | os.PathLike, encoding: str | None = None) -> NeuronIOFile:
    """Read and validate one NeuronIO pickle file with the restricted unpickler.

    Args:
        path: pickle file in the NeuronIO layout.
        encoding: see :func:`load_neuronio_pickle`.

    Raises:
        NeuronIOFormatError: unsafe or malformed file; inconsistent content (segment index
            outside ``[0, len(allSegmentsType))``, input spike time outside ``[0, T)`` or not a
            whole ms, output spike bin outside ``[0, T)``, voltage length != T).
    """
    return _file_from_raw(load_neuronio_pickle(path, encoding=encoding), os.fspath(path))
