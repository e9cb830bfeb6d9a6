"""NeuronIO files: a safe reader and a writer of the original pickle layout, and a compact format.

NeuronIO (Beniaguev, Segev & London 2021) is distributed as folders of Python pickle files
whose names contain ``sim__``. One file unpickles to::

    {"Params":  {"allSegmentsType": [...],          # one entry per dendritic segment
                 "allSegments_DistFromSoma": [...],  # um, one per segment
                 "totalSimDurationInSec": 6, ...},
     "Results": {"listOfSingleSimulationDicts": [     # 128 simulations per real file
                   {"exInputSpikeTimes":  {segment: [t_ms, ...], ...},  # integer ms
                    "inhInputSpikeTimes": {segment: [t_ms, ...], ...},
                    "outputSpikeTimes":   float array, ms,
                    "somaVoltageLowRes":  float array, one value per ms (mV), ...}, ...]}}

The model input is a binary raster of ``2 * num_segments`` rows (1278 for the 639-segment
L5PC): rows ``0..num_segments-1`` excitatory, then inhibitory, one column per ms. An output
spike at time ``t`` ms falls into bin ``int(t - 0.5)`` (truncation toward zero, as the
official code does with ``(t.astype(float) - 0.5).astype(int)``).

**Safety.** Unpickling runs code named by the file. :func:`load_neuronio_pickle` uses a
restricted unpickler that admits only the globals numpy arrays, numpy scalars and dtypes
pickle to, plus ``set``/``frozenset``/``bytearray`` and ``_codecs.encode`` (how Python 3
writes ``bytes`` in protocol 2); everything else raises :class:`NeuronIOFormatError` naming
the refused ``module.name`` before anything runs. What the file can make the reader
allocate is bounded by its size (16 bytes per file byte + 16 MiB: ``bytes(n)``,
``bytearray(n)``, numpy arrays and scalars are charged before they are made, and memo
indices above the file's size are refused before unpickling), so a tiny hostile file cannot
ask for gigabytes. Python-2-era files are read with encoding
``"ASCII"`` and, on a decode error, ``"latin1"`` (the official code's rule).

**Compact format.** :func:`convert_neuronio_folder` turns each pickle file into one HDF5 file
(sparse input spikes, raw output spike times, float32 soma voltage; no code execution on
read) so that big folders are parsed once. :func:`read_neuronio_file` reads either kind.

Soma voltages are held as float32 in memory (the real files store float16, so nothing is
lost for them). Only numpy is imported at module level; h5py is imported when needed.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import os
import pickle
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from elm_snn._io import atomic_path

__all__ = [
    "NEURONIO_NUM_SEGMENTS",
    "NEURONIO_NUM_INPUTS",
    "NEURONIO_SIM_DURATION_MS",
    "NEURONIO_SIMS_PER_FILE",
    "COMPACT_FORMAT_NAME",
    "COMPACT_FORMAT_VERSION",
    "NeuronIOFormatError",
    "NeuronIOSimulation",
    "NeuronIOSample",
    "NeuronIOFile",
    "synapse_types",
    "output_spike_bins",
    "write_neuronio_pickle",
    "load_neuronio_pickle",
    "read_neuronio_pickle",
    "read_neuronio_file",
    "find_neuronio_files",
    "iter_neuronio_simulations",
    "write_neuronio_compact",
    "read_neuronio_compact",
    "convert_neuronio_folder",
    "add_arguments",
    "run_from_args",
]

NEURONIO_NUM_SEGMENTS = 639
"""Dendritic segments of the L5PC model of NeuronIO."""
NEURONIO_NUM_INPUTS = 2 * NEURONIO_NUM_SEGMENTS
"""Model inputs: 639 excitatory then 639 inhibitory synapses (1278)."""
NEURONIO_SIM_DURATION_MS = 6000
"""Length of one real NeuronIO simulation (ms, at 1 ms resolution)."""
NEURONIO_SIMS_PER_FILE = 128
"""Simulations per real NeuronIO file."""

COMPACT_FORMAT_NAME = "elm-snn/neuronio-compact"
COMPACT_FORMAT_VERSION = 1
_PICKLE_PROTOCOL = 2


class NeuronIOFormatError(ValueError):
    """A NeuronIO file (pickle or compact) is malformed, inconsistent or unsafe to load."""


# --------------------------------------------------------------------------------------
# one simulation, in the file's own terms
# --------------------------------------------------------------------------------------


def _as_spike_time_dict(name: str, value: Any) -> dict[int, np.ndarray]:
    if not isinstance(value, Mapping):
        raise TypeError(
            f"{name}: expected a mapping segment index -> spike times (ms), "
            f"got {type(value).__name__}"
        )
    out: dict[int, np.ndarray] = {}
    for key, times in value.items():
        if isinstance(key, bool) or not isinstance(key, int | np.integer):
            raise TypeError(f"{name}: segment indices must be integers, got {key!r}")
        arr = np.asarray(times)
        if arr.ndim == 0:
            arr = arr.reshape(1)
        if arr.ndim != 1:
            raise ValueError(
                f"{name}[{int(key)}]: expected a 1-D sequence of spike times (ms), "
                f"got shape {arr.shape}"
            )
        if arr.size and not (
            np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
        ):
            raise TypeError(
                f"{name}[{int(key)}]: expected numeric spike times (ms), got dtype {arr.dtype}"
            )
        if arr.size and np.issubdtype(arr.dtype, np.floating):
            if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
                bad = arr[~np.isfinite(arr) | (arr != np.round(arr))][:3]
                raise ValueError(
                    f"{name}[{int(key)}]: input spike times must be whole ms "
                    f"(the raster has 1 ms bins), got e.g. {bad.tolist()}"
                )
        out[int(key)] = np.sort(arr.astype(np.int64))
    return out


@dataclasses.dataclass(frozen=True)
class NeuronIOSimulation:
    """One NeuronIO simulation as stored in the pickle files.

    Attributes:
        ex_spike_times: segment index -> integer spike times (ms) of its excitatory synapse.
            Segments without input may be missing.
        inh_spike_times: the same for the inhibitory synapse of each segment.
        output_spike_times_ms: (K,) float somatic spike times (ms); bin ``int(t - 0.5)``.
        soma_voltage_mv: (T,) somatic voltage (mV), one value per ms (``somaVoltageLowRes``).
    """

    ex_spike_times: Mapping[int, np.ndarray]
    inh_spike_times: Mapping[int, np.ndarray]
    output_spike_times_ms: np.ndarray
    soma_voltage_mv: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "ex_spike_times", _as_spike_time_dict("ex_spike_times", self.ex_spike_times)
        )
        object.__setattr__(
            self, "inh_spike_times", _as_spike_time_dict("inh_spike_times", self.inh_spike_times)
        )
        out = np.asarray(self.output_spike_times_ms)
        if out.ndim == 0:
            out = out.reshape(1)
        if out.ndim != 1 or (out.size and not np.issubdtype(out.dtype, np.number)):
            raise ValueError(
                "output_spike_times_ms: expected a 1-D numeric array of spike times (ms), "
                f"got shape {out.shape} dtype {out.dtype}"
            )
        if out.size and not np.all(np.isfinite(out)):
            raise ValueError("output_spike_times_ms: expected finite spike times (ms)")
        object.__setattr__(self, "output_spike_times_ms", out)
        v = np.asarray(self.soma_voltage_mv)
        if v.ndim != 1 or not np.issubdtype(v.dtype, np.floating):
            raise ValueError(
                "soma_voltage_mv: expected a 1-D float array (one value per ms, mV), "
                f"got shape {v.shape} dtype {v.dtype}"
            )
        if not np.all(np.isfinite(v)):
            raise ValueError("soma_voltage_mv: expected finite voltages (mV), got NaN/inf")
        object.__setattr__(self, "soma_voltage_mv", v)

    @property
    def duration_ms(self) -> int:
        """Simulation length T (ms) = number of voltage samples."""
        return int(self.soma_voltage_mv.shape[0])

    @classmethod
    def from_dict(cls, sim: Mapping[str, Any]) -> NeuronIOSimulation:
        """Build from one entry of ``Results.listOfSingleSimulationDicts``."""
        if not isinstance(sim, Mapping):
            raise NeuronIOFormatError(f"a simulation must be a dict, got {type(sim).__name__}")
        missing = [
            k
            for k in (
                "exInputSpikeTimes",
                "inhInputSpikeTimes",
                "outputSpikeTimes",
                "somaVoltageLowRes",
            )
            if k not in sim
        ]
        if missing:
            raise NeuronIOFormatError(f"simulation dict lacks keys {missing}")
        return cls(
            ex_spike_times=sim["exInputSpikeTimes"],
            inh_spike_times=sim["inhInputSpikeTimes"],
            output_spike_times_ms=sim["outputSpikeTimes"],
            soma_voltage_mv=np.asarray(sim["somaVoltageLowRes"]),
        )

    def to_dict(
        self, voltage_dtype: Any = np.float32, spike_time_dtype: Any = np.float64
    ) -> dict[str, Any]:
        """Return the simulation dict in the pickle layout (spike times as lists of ints)."""
        return {
            "exInputSpikeTimes": {
                int(k): [int(t) for t in v] for k, v in sorted(self.ex_spike_times.items())
            },
            "inhInputSpikeTimes": {
                int(k): [int(t) for t in v] for k, v in sorted(self.inh_spike_times.items())
            },
            "outputSpikeTimes": np.asarray(self.output_spike_times_ms, dtype=spike_time_dtype),
            "somaVoltageLowRes": np.asarray(self.soma_voltage_mv, dtype=voltage_dtype),
        }


def output_spike_bins(spike_times_ms: np.ndarray) -> np.ndarray:
    """1-ms bin of each output spike time: ``int(t - 0.5)`` (truncation toward zero).

    This is the official rule (``(t.astype(float) - 0.5).astype(int)``); a spike at
    0 <= t < 1.5 ms lands in bin 0, one at 1.5 <= t < 2.5 in bin 1.

    Args:
        spike_times_ms: (K,) spike times in ms.

    Returns:
        (K,) int64 bin indices (not deduplicated, not range-checked).
    """
    t = np.asarray(spike_times_ms, dtype=np.float64)
    return np.trunc(t - 0.5).astype(np.int64)


def synapse_types(num_segments: int = NEURONIO_NUM_SEGMENTS) -> np.ndarray:
    """(2 * num_segments,) float32 sign of each input: +1 excitatory rows, then -1 inhibitory."""
    return np.concatenate([np.ones(num_segments, np.float32), -np.ones(num_segments, np.float32)])


# --------------------------------------------------------------------------------------
# writer
# --------------------------------------------------------------------------------------

_PLAIN_SCALARS = (str, bytes, int, float, bool, complex, type(None), np.generic)


def _check_plain(name: str, value: Any, depth: int = 0) -> None:
    """Require ``value`` to contain only types the restricted unpickler admits."""
    if depth > 50:
        raise ValueError(f"{name}: nested too deeply")
    if isinstance(value, _PLAIN_SCALARS):
        if isinstance(value, np.generic) and value.dtype.hasobject:
            raise TypeError(f"{name}: numpy object scalars cannot be written")
        return
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise TypeError(f"{name}: object arrays cannot be written (use numeric dtypes)")
        return
    if isinstance(value, dict):
        for k, v in value.items():
            _check_plain(f"{name} key", k, depth + 1)
            _check_plain(f"{name}[{k!r}]", v, depth + 1)
        return
    if isinstance(value, list | tuple | set | frozenset):
        for i, v in enumerate(value):
            _check_plain(f"{name}[{i}]", v, depth + 1)
        return
    raise TypeError(
        f"{name}: only builtin containers, numbers, strings and numpy arrays can be written "
        f"(so that the restricted reader can load the file), got {type(value).__module__}."
        f"{type(value).__qualname__}"
    )


def _duration_ms_from_params(params: Mapping[str, Any], where: str) -> int:
    try:
        seconds = float(params["totalSimDurationInSec"])
    except (TypeError, ValueError):
        raise NeuronIOFormatError(
            f"{where}: Params['totalSimDurationInSec'] must be a number, "
            f"got {params['totalSimDurationInSec']!r}"
        ) from None
    ms = seconds * 1000.0
    if not np.isfinite(ms) or ms <= 0 or abs(ms - round(ms)) > 1e-6:
        raise NeuronIOFormatError(
            f"{where}: Params['totalSimDurationInSec'] must give a positive whole number of ms, "
            f"got {seconds!r} s"
        )
    return int(round(ms))


def _validate_simulation(
    sim: NeuronIOSimulation, num_segments: int, duration_ms: int, where: str
) -> None:
    if sim.duration_ms != duration_ms:
        raise NeuronIOFormatError(
            f"{where}: somaVoltageLowRes has {sim.duration_ms} samples, expected one per ms "
            f"= {duration_ms} (Params['totalSimDurationInSec'] * 1000)"
        )
    for label, spikes in (
        ("exInputSpikeTimes", sim.ex_spike_times),
        ("inhInputSpikeTimes", sim.inh_spike_times),
    ):
        for seg, times in spikes.items():
            if not 0 <= seg < num_segments:
                raise NeuronIOFormatError(
                    f"{where}: {label} has segment index {seg}, expected 0 <= index < "
                    f"{num_segments} (len(Params['allSegmentsType']))"
                )
            if times.size and (times[0] < 0 or times[-1] >= duration_ms):
                raise NeuronIOFormatError(
                    f"{where}: {label}[{seg}] has spike times in [{times[0]}, {times[-1]}] ms, "
                    f"expected 0 <= t < {duration_ms}"
                )
    bins = output_spike_bins(sim.output_spike_times_ms)
    if bins.size and (bins.min() < 0 or bins.max() >= duration_ms):
        raise NeuronIOFormatError(
            f"{where}: outputSpikeTimes fall in bins [{bins.min()}, {bins.max()}] "
            f"(bin = int(t - 0.5)), expected 0 <= bin < {duration_ms}"
        )


def write_neuronio_pickle(
    path: str | os.PathLike,
    simulations: Sequence[NeuronIOSimulation | Mapping[str, Any]],
    params: Mapping[str, Any],
    *,
    voltage_dtype: Any = np.float32,
    protocol: int = _PICKLE_PROTOCOL,
) -> None:
    """Write simulations to one file in the NeuronIO pickle layout (atomically).

    The file unpickles to ``{"Params": dict(params), "Results": {"listOfSingleSimulationDicts":
    [...]}}``. Spike-time dicts map ``int`` segment index -> list of ``int`` ms (the real files
    hold numpy int64 scalars; both read back as integers), ``outputSpikeTimes`` is a float64
    array (ms), ``somaVoltageLowRes`` an array of ``voltage_dtype`` (the real files use
    float16, i.e. ~0.03 mV steps; float32 is the default here to keep simulated detail).

    Pickle protocol 2 is the default: it is the highest protocol Python 2 reads, as the
    original files were written by Python 2, and every Python 3 reads it, including the
    official loader (``pickle.load(f, encoding="ASCII")``).

    Args:
        path: output file; its name should contain ``sim__`` so folder readers find it.
        simulations: :class:`NeuronIOSimulation` objects or simulation dicts in the pickle
            layout (keys ``exInputSpikeTimes``, ``inhInputSpikeTimes``, ``outputSpikeTimes``,
            ``somaVoltageLowRes``; extra keys are not kept).
        params: the ``Params`` dict. Must hold ``allSegmentsType`` (one entry per segment),
            ``allSegments_DistFromSoma`` (um, one per segment) and ``totalSimDurationInSec``;
            other keys are written as given (builtin containers, numbers, strings, numpy
            arrays only).
        voltage_dtype: float dtype of ``somaVoltageLowRes``.
        protocol: pickle protocol (2 to ``pickle.HIGHEST_PROTOCOL``).

    Raises:
        NeuronIOFormatError: inconsistent simulations/params (segment index or spike time out
            of range, wrong voltage length, missing Params keys).
    """
    if not isinstance(params, Mapping):
        raise TypeError(f"params: expected a mapping (the Params dict), got {type(params)}")
    missing = [
        k
        for k in ("allSegmentsType", "allSegments_DistFromSoma", "totalSimDurationInSec")
        if k not in params
    ]
    if missing:
        raise NeuronIOFormatError(f"params: missing required keys {missing}")
    if not 2 <= int(protocol) <= pickle.HIGHEST_PROTOCOL:
        raise ValueError(f"protocol: expected 2..{pickle.HIGHEST_PROTOCOL}, got {protocol}")
    if not np.issubdtype(np.dtype(voltage_dtype), np.floating):
        raise TypeError(f"voltage_dtype: expected a float dtype, got {voltage_dtype!r}")
    num_segments = len(params["allSegmentsType"])
    if num_segments < 1:
        raise NeuronIOFormatError("params['allSegmentsType']: expected at least one segment")
    if len(params["allSegments_DistFromSoma"]) != num_segments:
        raise NeuronIOFormatError(
            f"params['allSegments_DistFromSoma']: expected {num_segments} entries (one per "
            f"segment), got {len(params['allSegments_DistFromSoma'])}"
        )
    duration_ms = _duration_ms_from_params(params, "params")
    if isinstance(simulations, Mapping) or not isinstance(simulations, Sequence):
        raise TypeError(
            f"simulations: expected a sequence of simulations, got {type(simulations).__name__}"
        )
    sims = [
        s if isinstance(s, NeuronIOSimulation) else NeuronIOSimulation.from_dict(s)
        for s in simulations
    ]
    for i, s in enumerate(sims):
        _validate_simulation(s, num_segments, duration_ms, f"simulations[{i}]")
    params_out = dict(params)
    _check_plain("params", params_out)
    payload = {
        "Params": params_out,
        "Results": {
            "listOfSingleSimulationDicts": [s.to_dict(voltage_dtype=voltage_dtype) for s in sims]
        },
    }
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        pickle.dump(payload, fh, protocol=int(protocol))


# --------------------------------------------------------------------------------------
# restricted unpickling
# --------------------------------------------------------------------------------------


def _allowed_globals() -> dict[tuple[str, str], Any]:
    """(module, name) -> object for every global a NeuronIO pickle may reference."""
    reconstruct = np.ndarray.__reduce__(np.zeros(1))[0]  # numpy's _reconstruct
    scalar = np.float64(0.0).__reduce__()[0]  # numpy's scalar
    frombuffer = np.zeros(2).__reduce_ex__(5)[0]  # numpy's _frombuffer (protocol 5)
    import _codecs
    import builtins

    allowed: dict[tuple[str, str], Any] = {}
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(mod, "_reconstruct")] = reconstruct
        allowed[(mod, "scalar")] = scalar
    for mod in ("numpy.core.numeric", "numpy._core.numeric"):
        allowed[(mod, "_frombuffer")] = frombuffer
    allowed[("numpy", "ndarray")] = np.ndarray
    allowed[("numpy", "dtype")] = np.dtype
    allowed[("_codecs", "encode")] = _codecs.encode
    for mod in ("builtins", "__builtin__"):
        # bytes: protocol 2 pickles the (empty) buffer of a 0-length array as bytes()
        for name in ("set", "frozenset", "bytes", "bytearray"):
            allowed[(mod, name)] = getattr(builtins, name)
    return allowed


#: A file of ``n`` bytes may make the reader allocate at most this many bytes per file byte
#: (plus :data:`_ALLOC_SLACK`) through the constructors it calls: numpy arrays hold about one
#: byte per file byte, object arrays 8 (a pointer) per element of at least one file byte.
_ALLOC_PER_FILE_BYTE = 16
_ALLOC_SLACK = 16 * 2**20


class _AllocationBudget:
    """What one file may still make the restricted unpickler allocate (bytes)."""

    def __init__(self, file_size: int) -> None:
        self.file_size = int(file_size)
        self.limit = _ALLOC_PER_FILE_BYTE * self.file_size + _ALLOC_SLACK
        self.left = self.limit

    def charge(self, nbytes: int, what: str) -> None:
        if nbytes > self.left:
            raise NeuronIOFormatError(
                f"refusing to allocate {nbytes} bytes for {what}: a {self.file_size}-byte file "
                f"may make the reader allocate at most {self.limit} bytes in all "
                f"({_ALLOC_PER_FILE_BYTE} per file byte + {_ALLOC_SLACK}); the file is "
                f"malformed or not a NeuronIO pickle"
            )
        self.left -= nbytes


def _shape_elements(shape: Any, what: str) -> int:
    if isinstance(shape, int | np.integer):
        shape = (shape,)
    if not isinstance(shape, tuple) or not all(
        isinstance(d, int | np.integer) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise NeuronIOFormatError(f"{what}: expected a shape of non-negative ints, got {shape!r}")
    n = 1
    for d in shape:
        n *= int(d)
    return n


class _GuardedArray(np.ndarray):
    """ndarray made by the restricted unpickler: its ``__setstate__`` (the pickle's BUILD)
    charges the array's size to the file's budget before numpy allocates it. Converted back
    to plain ``np.ndarray`` before the loaded object is returned."""

    def __setstate__(self, state: Any) -> None:
        budget: _AllocationBudget = self.__dict__.get("_budget")  # type: ignore[assignment]
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise NeuronIOFormatError(f"malformed numpy array state ({type(state).__name__})")
        shape, dtype, rawdata = state[-4], state[-3], state[-1]
        n = _shape_elements(shape, "numpy array state")
        if not isinstance(dtype, np.dtype):
            raise NeuronIOFormatError(f"numpy array state: expected a dtype, got {dtype!r}")
        if dtype.hasobject:
            if not isinstance(rawdata, list) or len(rawdata) != n:
                raise NeuronIOFormatError(
                    f"numpy object array state: shape {shape} needs {n} items, the file holds "
                    f"{len(rawdata) if isinstance(rawdata, list) else type(rawdata).__name__}"
                )
        if budget is not None:
            budget.charge(n * dtype.itemsize, f"a numpy array of shape {shape} and dtype {dtype}")
        super().__setstate__(state)


def _plain_arrays(obj: Any, seen: dict[int, Any] | None = None) -> Any:
    """``obj`` with every :class:`_GuardedArray` replaced by a plain ndarray view."""
    seen = {} if seen is None else seen
    key = id(obj)
    if key in seen:
        return seen[key]
    if isinstance(obj, _GuardedArray):
        out = obj.view(np.ndarray)
        seen[key] = out
        if out.dtype.hasobject:
            flat = out.reshape(-1)
            for i in range(flat.size):
                flat[i] = _plain_arrays(flat[i], seen)
        return out
    if isinstance(obj, dict):
        seen[key] = obj
        for k in list(obj):
            obj[k] = _plain_arrays(obj[k], seen)
        return obj
    if isinstance(obj, list):
        seen[key] = obj
        for i, v in enumerate(obj):
            obj[i] = _plain_arrays(v, seen)
        return obj
    if isinstance(obj, tuple):
        out = tuple(_plain_arrays(v, seen) for v in obj)
        seen[key] = out
        return out
    return obj


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only numpy array/scalar/dtype globals and builtin containers,
    and bounds what the constructors it calls may allocate (see :class:`_AllocationBudget`)."""

    _ALLOWED: dict[tuple[str, str], Any] | None = None

    def __init__(self, file: Any, *, encoding: str, file_size: int) -> None:
        super().__init__(file, encoding=encoding)
        self.budget = _AllocationBudget(file_size)
        self._guarded = self._guarded_constructors()

    def _guarded_constructors(self) -> dict[Any, Any]:
        """Wrappers of the allowed constructors whose size comes from the file."""
        budget = self.budget
        allowed = self._allowed()
        reconstruct = allowed[("numpy.core.multiarray", "_reconstruct")]
        scalar = allowed[("numpy.core.multiarray", "scalar")]

        def sized(kind: type) -> Any:
            def make(*args: Any) -> Any:
                if args and isinstance(args[0], int | np.integer) and not isinstance(args[0], bool):
                    if args[0] < 0:
                        raise NeuronIOFormatError(f"{kind.__name__}({args[0]}): negative size")
                    budget.charge(int(args[0]), f"{kind.__name__}({args[0]})")
                return kind(*args)

            return make

        def guarded_ndarray(shape: Any, dtype: Any = float, *args: Any, **kwargs: Any) -> Any:
            n = _shape_elements(shape, "numpy.ndarray")
            dt = np.dtype(dtype)
            budget.charge(n * dt.itemsize, f"numpy.ndarray({shape}, {dt})")
            return np.ndarray(shape, dt, *args, **kwargs)

        def guarded_reconstruct(subtype: Any, shape: Any, dtype: Any) -> Any:
            if subtype is not np.ndarray and subtype is not guarded_ndarray:
                raise NeuronIOFormatError(f"refusing to reconstruct a {subtype!r}, not an ndarray")
            n = _shape_elements(shape, "numpy array")
            dt = np.dtype(dtype)
            budget.charge(n * dt.itemsize, f"a numpy array of shape {shape} and dtype {dt}")
            arr = reconstruct(_GuardedArray, shape, dt)
            arr.__dict__["_budget"] = budget
            return arr

        def guarded_scalar(dtype: Any, *args: Any) -> Any:
            if not isinstance(dtype, np.dtype):
                raise NeuronIOFormatError(f"numpy scalar: expected a dtype, got {dtype!r}")
            budget.charge(dtype.itemsize, f"a numpy scalar of dtype {dtype}")
            return scalar(dtype, *args)

        def guarded_encode(obj: Any, encoding: str = "utf-8", errors: str = "strict") -> Any:
            # Python 3 pickles bytes for protocol 2 as _codecs.encode(str, "latin1")
            if not isinstance(obj, str) or str(encoding).lower().replace("_", "-") not in (
                "latin1",
                "latin-1",
                "iso-8859-1",
                "ascii",
                "utf-8",
                "utf8",
            ):
                raise NeuronIOFormatError(
                    f"refusing _codecs.encode of a {type(obj).__name__} with codec {encoding!r}"
                )
            return allowed[("_codecs", "encode")](obj, encoding, errors)

        return {
            reconstruct: guarded_reconstruct,
            scalar: guarded_scalar,
            allowed[("_codecs", "encode")]: guarded_encode,
            np.ndarray: guarded_ndarray,
            bytes: sized(bytes),
            bytearray: sized(bytearray),
        }

    @classmethod
    def _allowed(cls) -> dict[tuple[str, str], Any]:
        if cls._ALLOWED is None:
            cls._ALLOWED = _allowed_globals()
        return cls._ALLOWED

    def find_class(self, module: str, name: str) -> Any:
        obj = self._allowed().get((module, name))
        if obj is None:
            raise NeuronIOFormatError(
                f"refusing to load global '{module}.{name}': NeuronIO files may only reference "
                "numpy arrays, numpy scalars/dtypes and builtin containers (the file is "
                "malformed or not safe to unpickle)"
            )
        return self._guarded.get(obj, obj)

    def persistent_load(self, pid: Any) -> Any:
        raise NeuronIOFormatError("refusing to load a persistent id: not a NeuronIO file")


_OPCODE_ARGS: dict[int, int] | None = None
_TWO_LINES = -10  # GLOBAL and INST: module and name, each up to a newline


def _opcode_args() -> dict[int, int]:
    """Opcode byte -> argument size (``>= 0`` fixed, negative: pickletools' variable kinds)."""
    global _OPCODE_ARGS
    if _OPCODE_ARGS is None:
        import pickletools

        table = {}
        for op in pickletools.opcodes:
            n = 0 if op.arg is None else op.arg.n
            if op.name in ("GLOBAL", "INST"):
                n = _TWO_LINES
            table[op.code.encode("latin-1")[0]] = n
        _OPCODE_ARGS = table
    return _OPCODE_ARGS


def _max_memo_index(data: bytes) -> int:
    """Largest memo index the PUT/BINPUT/LONG_BINPUT opcodes of ``data`` ask for (-1: none).

    The unpickler grows its memo to twice the index it is given (8 bytes per slot, all
    written), so a 40-byte file with ``LONG_BINPUT 2**28`` would cost 4 GiB. A pickler
    numbers memo entries 0, 1, 2, ..., so an index is never above the number of opcodes,
    i.e. the file's size. The walk only steps over the opcodes (it builds nothing); it stops
    at the first STOP or at anything it does not know, which the unpickler then reports.
    """
    args = _opcode_args()
    pos, end, worst = 0, len(data), -1
    number = int.from_bytes
    while pos < end:
        code = data[pos]
        pos += 1
        n = args.get(code)
        if n is None:
            break
        if n > 0:
            if code in (0x71, 0x72):  # BINPUT, LONG_BINPUT
                worst = max(worst, number(data[pos : pos + n], "little"))
            pos += n
        elif n == 0:
            if code == 0x2E:  # STOP
                break
        elif n == -1:  # argument up to a newline
            stop = data.find(b"\n", pos)
            if stop < 0:
                break
            if code == 0x70:  # PUT
                try:
                    worst = max(worst, int(data[pos:stop]))
                except ValueError:
                    break
            pos = stop + 1
        elif n == _TWO_LINES:
            stop = data.find(b"\n", data.find(b"\n", pos) + 1)
            if stop < 0:
                break
            pos = stop + 1
        elif n == -2:  # length in one byte
            pos += 1 + data[pos] if pos < end else 1
        elif n == -3:  # length in four bytes, signed
            pos += 4 + number(data[pos : pos + 4], "little", signed=True)
        elif n == -4:  # four bytes, unsigned
            pos += 4 + number(data[pos : pos + 4], "little")
        elif n == -5:  # eight bytes, unsigned
            pos += 8 + number(data[pos : pos + 8], "little")
        else:  # pragma: no cover - a new pickletools argument kind
            break
    return worst


def _restricted_loads(data: bytes, encoding: str) -> Any:
    memo = _max_memo_index(data)
    if memo >= max(len(data), 1024):
        raise NeuronIOFormatError(
            f"refusing memo index {memo}: the unpickler would allocate {16 * memo} bytes for a "
            f"{len(data)}-byte file (a pickler numbers memo entries from 0, never beyond the "
            f"file's size); the file is malformed or not a NeuronIO pickle"
        )
    unpickler = _RestrictedUnpickler(io.BytesIO(data), encoding=encoding, file_size=len(data))
    try:
        return _plain_arrays(unpickler.load())
    except MemoryError:
        raise NeuronIOFormatError(
            f"the file asks for more memory than is available (a {len(data)}-byte file); it is "
            f"malformed or not a NeuronIO pickle"
        ) from None
    except RecursionError:
        raise NeuronIOFormatError("the file nests containers too deeply") from None


def load_neuronio_pickle(path: str | os.PathLike, encoding: str | None = None) -> dict[str, Any]:
    """Unpickle one NeuronIO file safely and return the raw dict (no validation).

    Args:
        path: the pickle file.
        encoding: decoding of Python 2 ``str`` objects; by default ``"ASCII"``, then
            ``"latin1"`` on a ``UnicodeDecodeError`` (as the official loader does).

    Raises:
        NeuronIOFormatError: the file references a global outside the allow-list (named in
            the message), is not a pickle, or is truncated.
    """
    data = Path(path).read_bytes()
    encodings = [encoding] if encoding is not None else ["ASCII", "latin1"]
    for i, enc in enumerate(encodings):
        try:
            obj = _restricted_loads(data, enc)
            break
        except UnicodeDecodeError:
            if i == len(encodings) - 1:
                raise NeuronIOFormatError(
                    f"{path}: cannot decode Python 2 strings with encoding {enc!r}"
                ) from None
        except NeuronIOFormatError as exc:
            raise NeuronIOFormatError(f"{path}: {exc}") from None
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
            raise NeuronIOFormatError(
                f"{path}: not a readable NeuronIO pickle ({type(exc).__name__}: {exc})"
            ) from None
    if not isinstance(obj, dict):
        raise NeuronIOFormatError(
            f"{path}: expected a dict with 'Params' and 'Results', got {type(obj).__name__}"
        )
    return obj


# --------------------------------------------------------------------------------------
# parsed, validated, sparse in-memory form of one file
# --------------------------------------------------------------------------------------


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


def _file_from_raw(raw: Mapping[str, Any], source: str) -> NeuronIOFile:
    """Validate an unpickled NeuronIO dict and convert it to :class:`NeuronIOFile`."""
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
    T = _duration_ms_from_params(params, source)
    S = len(sims)
    volt = np.empty((S, T), dtype=np.float32)
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
        rows, times = [], []
        for offset, spikes in ((0, sim.ex_spike_times), (n, sim.inh_spike_times)):
            for seg, t in spikes.items():
                rows.append(np.full(t.shape, offset + seg, dtype=np.int64))
                times.append(t)
        if rows:
            key = np.unique(np.concatenate(times) * (2 * n) + np.concatenate(rows))
        else:
            key = np.zeros(0, dtype=np.int64)
        in_times.append((key // (2 * n)).astype(np.int32))
        in_rows.append((key % (2 * n)).astype(np.int32))
        in_off[k + 1] = in_off[k] + key.size
        out_times.append(sim.output_spike_times_ms.astype(np.float64))
        out_off[k + 1] = out_off[k] + sim.output_spike_times_ms.size
        volt[k] = sim.soma_voltage_mv
        if not np.all(np.isfinite(volt[k])):
            raise NeuronIOFormatError(f"{where}: soma voltage overflows float32")
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
        soma_voltage_mv=volt,
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


_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def read_neuronio_file(path: str | os.PathLike, encoding: str | None = None) -> NeuronIOFile:
    """Read one NeuronIO file, either a pickle or our compact HDF5 (detected from the bytes)."""
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head == _HDF5_SIGNATURE:
        return read_neuronio_compact(path)
    return read_neuronio_pickle(path, encoding=encoding)


def find_neuronio_files(sources: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Path]:
    """Files of one or more folders (names containing ``sim__``), or the given files, sorted.

    Args:
        sources: a folder, a file, or a list of folders/files. Folders are searched
            non-recursively for regular files whose names contain ``sim__`` (the official rule),
            pickle or compact alike; files are taken as given.

    Raises:
        FileNotFoundError: a source does not exist, or nothing was found.
    """
    if isinstance(sources, str | os.PathLike):
        sources = [sources]
    found: list[Path] = []
    for src in sources:
        p = Path(src)
        if p.is_dir():
            found.extend(
                sorted(
                    f
                    for f in p.iterdir()
                    if "sim__" in f.name and f.is_file() and not f.name.startswith(".")
                )
            )
        elif p.is_file():
            found.append(p)
        else:
            raise FileNotFoundError(f"sources: {p} is neither a folder nor a file")
    if not found:
        raise FileNotFoundError(
            f"sources: no NeuronIO files (names containing 'sim__') in {[str(s) for s in sources]}"
        )
    return found


def iter_neuronio_simulations(
    sources: str | os.PathLike | Iterable[str | os.PathLike], encoding: str | None = None
) -> Iterator[NeuronIOSample]:
    """Yield every simulation of every file as dense arrays (see :class:`NeuronIOSample`).

    Files are read one at a time (pickle or compact), in :func:`find_neuronio_files` order.
    """
    for path in find_neuronio_files(sources):
        f = read_neuronio_file(path, encoding=encoding)
        for k in range(f.num_simulations):
            yield f.sample(k)


# --------------------------------------------------------------------------------------
# compact HDF5 format
# --------------------------------------------------------------------------------------


def _smallest_uint(max_value: int) -> type:
    for dt in (np.uint16, np.uint32):
        if max_value <= np.iinfo(dt).max:
            return dt
    return np.int64


def write_neuronio_compact(path: str | os.PathLike, data: NeuronIOFile) -> None:
    """Write one :class:`NeuronIOFile` to our compact HDF5 format (atomically).

    Layout (gzip-compressed datasets)::

        attrs: format="elm-snn/neuronio-compact", version=1, num_segments, duration_ms,
               num_simulations, source_name
        /segment_type                  (n,) utf-8 strings
        /segment_dist_from_soma_um     (n,) float64
        /input_spikes/offsets          (S+1,) int64
        /input_spikes/times_ms         (N,) uint16/uint32, sorted by (time, row) per sim
        /input_spikes/rows             (N,) uint16/uint32
        /output_spikes/offsets         (S+1,) int64
        /output_spikes/times_ms        (K,) float64, raw times of the source file
        /soma_voltage_mv               (S, T) float32

    Only the Params entries above are kept.
    """
    import h5py

    if not isinstance(data, NeuronIOFile):
        raise TypeError(f"data: expected a NeuronIOFile, got {type(data).__name__}")
    comp = {"compression": "gzip", "compression_opts": 4, "shuffle": True}
    with atomic_path(path, suffix=".h5") as tmp, h5py.File(tmp, "w") as h5:
        h5.attrs["format"] = COMPACT_FORMAT_NAME
        h5.attrs["version"] = COMPACT_FORMAT_VERSION
        h5.attrs["num_segments"] = data.num_segments
        h5.attrs["duration_ms"] = data.duration_ms
        h5.attrs["num_simulations"] = data.num_simulations
        h5.attrs["source_name"] = Path(data.source).name
        h5.create_dataset(
            "segment_type",
            data=np.array(data.segment_type, dtype=object),
            dtype=h5py.string_dtype("utf-8"),
        )
        h5.create_dataset("segment_dist_from_soma_um", data=data.segment_dist_from_soma_um)
        g = h5.create_group("input_spikes")
        g.create_dataset("offsets", data=data.input_offsets.astype(np.int64))
        n_in = max(data.input_times_ms.size, 1)
        g.create_dataset(
            "times_ms",
            data=data.input_times_ms.astype(_smallest_uint(data.duration_ms)),
            chunks=(min(n_in, 1 << 16),),
            **comp,
        )
        g.create_dataset(
            "rows",
            data=data.input_rows.astype(_smallest_uint(data.num_inputs)),
            chunks=(min(n_in, 1 << 16),),
            **comp,
        )
        g = h5.create_group("output_spikes")
        g.create_dataset("offsets", data=data.output_offsets.astype(np.int64))
        g.create_dataset("times_ms", data=data.output_spike_times_ms.astype(np.float64))
        S, T = data.soma_voltage_mv.shape
        h5.create_dataset(
            "soma_voltage_mv",
            data=data.soma_voltage_mv,
            chunks=(max(min(S, 8), 1), max(T, 1)),
            **comp,
        )


def read_neuronio_compact(path: str | os.PathLike) -> NeuronIOFile:
    """Read a file written by :func:`write_neuronio_compact` (validated; runs no code)."""
    import h5py

    source = os.fspath(path)
    try:
        with h5py.File(path, "r") as h5:
            if h5.attrs.get("format") != COMPACT_FORMAT_NAME:
                raise NeuronIOFormatError(
                    f"{source}: not an elm-snn NeuronIO compact file (attribute format="
                    f"{h5.attrs.get('format')!r}, expected {COMPACT_FORMAT_NAME!r})"
                )
            version = int(h5.attrs.get("version", -1))
            if version != COMPACT_FORMAT_VERSION:
                raise NeuronIOFormatError(
                    f"{source}: compact format version {version}, this reader reads "
                    f"{COMPACT_FORMAT_VERSION}"
                )
            seg_type = tuple(
                s.decode("utf-8") if isinstance(s, bytes) else str(s)
                for s in h5["segment_type"][()]
            )
            return NeuronIOFile(
                source=source,
                num_segments=int(h5.attrs["num_segments"]),
                duration_ms=int(h5.attrs["duration_ms"]),
                segment_type=seg_type,
                segment_dist_from_soma_um=np.asarray(
                    h5["segment_dist_from_soma_um"][()], np.float64
                ),
                input_offsets=np.asarray(h5["input_spikes/offsets"][()], np.int64),
                input_times_ms=np.asarray(h5["input_spikes/times_ms"][()], np.int32),
                input_rows=np.asarray(h5["input_spikes/rows"][()], np.int32),
                output_offsets=np.asarray(h5["output_spikes/offsets"][()], np.int64),
                output_spike_times_ms=np.asarray(h5["output_spikes/times_ms"][()], np.float64),
                soma_voltage_mv=np.asarray(h5["soma_voltage_mv"][()], np.float32),
            )
    except KeyError as exc:
        raise NeuronIOFormatError(f"{source}: compact file lacks an entry ({exc})") from None
    except OSError as exc:
        raise NeuronIOFormatError(f"{source}: not a readable HDF5 file ({exc})") from None


def convert_neuronio_folder(
    src: str | os.PathLike | Iterable[str | os.PathLike],
    dst: str | os.PathLike,
    *,
    overwrite: bool = False,
    encoding: str | None = None,
    verbose: bool = False,
) -> list[Path]:
    """Convert NeuronIO pickle files to the compact HDF5 format, one output per input.

    ``<dst>/<input name without suffix>.h5`` is written for each input (the name keeps
    ``sim__``, so the output folder is itself a NeuronIO folder for every reader here).
    Existing outputs are skipped unless ``overwrite``; writes are atomic, so an interrupted
    run can simply be restarted.

    Args:
        src: folder(s) or file(s), as for :func:`find_neuronio_files`.
        dst: output folder (created).
        overwrite: rewrite outputs that exist.
        encoding: see :func:`load_neuronio_pickle`.
        verbose: print one line per file.

    Returns:
        The output paths, in input order (skipped ones included).
    """
    files = find_neuronio_files(src)
    out_dir = Path(dst)
    out_dir.mkdir(parents=True, exist_ok=True)
    outputs: list[Path] = []
    names: set[str] = set()
    for f in files:
        out = out_dir / (f.stem + ".h5") if f.suffix else out_dir / (f.name + ".h5")
        if out.name in names:
            raise ValueError(f"src: two inputs map to the same output name {out.name}")
        names.add(out.name)
        if out.resolve() == f.resolve():
            raise ValueError(f"dst: output {out} would overwrite its input")
        outputs.append(out)
        if out.exists() and not overwrite:
            if verbose:
                print(f"skip {out} (exists)")
            continue
        data = read_neuronio_file(f, encoding=encoding)
        write_neuronio_compact(out, data)
        if verbose:
            print(
                f"{f.name} -> {out.name}: {data.num_simulations} simulations x "
                f"{data.duration_ms} ms, {data.input_times_ms.size} input spikes"
            )
    return outputs


# --------------------------------------------------------------------------------------
# command line: elm-snn data neuronio-convert SRC DST
# --------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``elm-snn data neuronio-convert``."""
    parser.add_argument("src", nargs="+", help="NeuronIO folder(s) or pickle file(s)")
    parser.add_argument("dst", help="output folder for the compact HDF5 files")
    parser.add_argument("--overwrite", action="store_true", help="rewrite existing outputs")
    parser.add_argument(
        "--encoding",
        default=None,
        help="encoding for Python 2 strings (default: ASCII, then latin1 on error)",
    )
    parser.add_argument("--quiet", action="store_true", help="print nothing per file")


def run_from_args(args: argparse.Namespace) -> int:
    """Run ``elm-snn data neuronio-convert``; returns the exit status."""
    try:
        outs = convert_neuronio_folder(
            args.src,
            args.dst,
            overwrite=args.overwrite,
            encoding=args.encoding,
            verbose=not args.quiet,
        )
    except (NeuronIOFormatError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not args.quiet:
        print(f"{len(outs)} file(s) in {args.dst}")
    return 0
