"""Writer of the NeuronIO pickle layout (see :mod:`elm_snn.data.neuronio`)."""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from elm_snn._io import atomic_path
from elm_snn.data.neuronio.layout import (
    _PICKLE_PROTOCOL,
    NeuronIOFormatError,
    NeuronIOSimulation,
    output_spike_bins,
)

__all__ = [
    "write_neuronio_pickle",
]

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
