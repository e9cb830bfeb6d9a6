"""elm-snn's compact HDF5 form of a NeuronIO file (no code execution on read)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from elm_snn._io import atomic_path
from elm_snn.data.neuronio.container import NeuronIOFile
from elm_snn.data.neuronio.layout import (
    COMPACT_FORMAT_NAME,
    COMPACT_FORMAT_VERSION,
    NeuronIOFormatError,
)

__all__ = [
    "write_neuronio_compact",
    "read_neuronio_compact",
]


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
