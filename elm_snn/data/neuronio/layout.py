"""NeuronIO format constants and one simulation in the file's own terms.

See :mod:`elm_snn.data.neuronio` for the layout.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = [
    "NEURONIO_NUM_SEGMENTS",
    "NEURONIO_NUM_INPUTS",
    "NEURONIO_SIM_DURATION_MS",
    "NEURONIO_SIMS_PER_FILE",
    "COMPACT_FORMAT_NAME",
    "COMPACT_FORMAT_VERSION",
    "NeuronIOFormatError",
    "NeuronIOSimulation",
    "output_spike_bins",
    "synapse_types",
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
