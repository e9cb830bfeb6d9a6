"""Read and write HDF5 files in the layout of the Spiking Heidelberg Digits (SHD).

The layout (Cramer et al. 2020, as distributed at zenkelab.org and read by
``tonic.datasets.SHD``)::

    /spikes/times        (N,) variable-length float16   spike times of each sample, seconds
    /spikes/units        (N,) variable-length uint16    channel (cochlea unit) of each spike
    /labels              (N,) uint16                    class 0..19 (0-9 English, 10-19 German)
    /extra/speaker       (N,) uint16                    speaker id of each sample
    /extra/keys          (C,) strings                   name of each class, indexed by label
    /extra/meta_info/*   per-speaker arrays indexed by speaker id (real SHD: ``gender``,
                         ``age``, ``body_height``, ``recording_device``)

Real SHD stores spike times as float16 (spacing 0.49 ms in [0.5 s, 1 s) and 0.98 ms in
[1 s, 2 s)); :func:`write_shd_file` does the same by default so generated files behave like
the real ones, and ``time_dtype="float32"`` keeps full precision when wanted. Tonic reads
the times as ``float64 * 1e6`` cast to integer microseconds (truncation).

Only ``numpy`` and ``h5py`` are imported; the module is cheap to import.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from elm_snn._io import atomic_path

__all__ = [
    "SHD_NUM_CHANNELS",
    "SHD_NUM_CLASSES",
    "SHD_CLASS_NAMES",
    "SHDRecords",
    "SHDFormatError",
    "write_shd_file",
    "read_shd_file",
    "validate_shd_file",
]

SHD_NUM_CHANNELS = 700
SHD_NUM_CLASSES = 20
#: Names of SHD's 20 classes, indexed by label (0-9 English, 10-19 German).
SHD_CLASS_NAMES: tuple[str, ...] = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    "null", "eins", "zwei", "drei", "vier", "fuenf", "sechs", "sieben", "acht", "neun",
)  # fmt: skip

_REQUIRED = ("spikes/times", "spikes/units", "labels", "extra/speaker", "extra/keys")
_TIME_DTYPES = ("float16", "float32", "float64")


def integral_ids(values: Any, what: str) -> np.ndarray:
    """``values`` as int64, refusing fractional or non-finite ones (``np.asarray(...,
    dtype=int64)`` would silently truncate 3.7 to 3). ``what`` names them in the error."""
    arr = np.asarray(values)
    if arr.dtype.kind == "b" or (arr.size and arr.dtype.kind not in "iuf"):
        raise SHDFormatError(f"{what}: expected integers, got dtype {arr.dtype}")
    if arr.dtype.kind == "f" and arr.size:
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if bad.any():
            k = int(np.argmax(bad.reshape(-1)))
            raise SHDFormatError(
                f"{what}: expected integers, got {arr.reshape(-1)[k].item()!r} at index {k} "
                f"({int(bad.sum())} fractional or non-finite)"
            )
        if arr.size and np.abs(arr).max() >= 2**62:
            raise SHDFormatError(f"{what}: values beyond the int64 range")
    return arr.astype(np.int64)


class SHDFormatError(ValueError):
    """A file exists but is not a valid file in SHD's HDF5 layout (truncated, corrupt, or
    with missing/inconsistent datasets)."""


@dataclasses.dataclass(frozen=True)
class SHDRecords:
    """Contents of one SHD-layout file, all in memory.

    Attributes:
        times: N arrays of spike times in **seconds** (float64, non-decreasing, >= 0).
        units: N arrays of channel ids (int64, ``0 <= unit < num_channels``), same lengths
            as ``times``.
        labels: ``(N,)`` int64 class labels.
        speakers: ``(N,)`` int64 speaker ids.
        keys: class names indexed by label (length C, e.g. 20 for SHD).
        meta_info: per-speaker metadata arrays (strings decoded to ``str``), may be empty.
    """

    times: list[np.ndarray]
    units: list[np.ndarray]
    labels: np.ndarray
    speakers: np.ndarray
    keys: list[str]
    meta_info: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def num_spikes(self) -> np.ndarray:
        """``(N,)`` int64 number of spikes per sample."""
        return np.array([len(t) for t in self.times], dtype=np.int64)


def _check_sample(
    i: int, t: Any, u: Any, num_channels: int, time_dtype: np.dtype
) -> tuple[np.ndarray, np.ndarray]:
    t_arr = np.asarray(t)
    u_arr = np.asarray(u)
    if t_arr.ndim != 1 or u_arr.ndim != 1:
        raise ValueError(
            f"times[{i}] / units[{i}]: expected 1-D arrays, got shapes {t_arr.shape} and "
            f"{u_arr.shape}"
        )
    if t_arr.shape != u_arr.shape:
        raise ValueError(
            f"times[{i}] and units[{i}]: expected equal lengths, got {len(t_arr)} times and "
            f"{len(u_arr)} units"
        )
    if t_arr.size and not np.issubdtype(t_arr.dtype, np.floating):
        if not np.issubdtype(t_arr.dtype, np.integer):
            raise TypeError(f"times[{i}]: expected real numbers (seconds), got dtype {t_arr.dtype}")
    if u_arr.size and not np.issubdtype(u_arr.dtype, np.integer):
        raise TypeError(f"units[{i}]: expected integer channel ids, got dtype {u_arr.dtype}")
    t64 = t_arr.astype(np.float64)
    if t64.size:
        if not np.all(np.isfinite(t64)):
            raise ValueError(f"times[{i}]: expected finite spike times, got NaN or inf")
        if t64.min() < 0:
            raise ValueError(
                f"times[{i}]: expected non-negative spike times (seconds), got minimum "
                f"{t64.min()!r}"
            )
        if np.any(np.diff(t64) < 0):
            k = int(np.argmax(np.diff(t64) < 0))
            raise ValueError(
                f"times[{i}]: expected non-decreasing spike times, got {t64[k]!r} followed by "
                f"{t64[k + 1]!r} at position {k}"
            )
        if u_arr.min() < 0 or u_arr.max() >= num_channels:
            raise ValueError(
                f"units[{i}]: expected channel ids in [0, {num_channels}), got range "
                f"[{int(u_arr.min())}, {int(u_arr.max())}]"
            )
    with np.errstate(over="ignore"):
        stored = t64.astype(time_dtype)
    if stored.size and not np.all(np.isfinite(stored)):
        raise ValueError(f"times[{i}]: spike times overflow {time_dtype} (max {t64.max()!r} s)")
    return stored, u_arr.astype(np.uint16)


def _string_array(name: str, values: Sequence[str]) -> np.ndarray:
    out = []
    for j, v in enumerate(values):
        if isinstance(v, bytes):
            v = v.decode("utf-8")
        if not isinstance(v, str):
            raise TypeError(f"{name}[{j}]: expected a string, got {type(v).__name__}")
        out.append(v)
    return np.array(out, dtype=object)


def write_shd_file(
    path: str | os.PathLike,
    times: Sequence[np.ndarray],
    units: Sequence[np.ndarray],
    labels: Sequence[int],
    speakers: Sequence[int],
    keys: Sequence[str] | None = None,
    meta_info: Mapping[str, Any] | None = None,
    num_channels: int = SHD_NUM_CHANNELS,
    time_dtype: str = "float16",
    compression: str | None = "gzip",
) -> None:
    """Write spike samples to ``path`` in SHD's HDF5 layout, atomically.

    Args:
        path: output file (e.g. ``.../shd_train.h5``); written via a temporary file and
            renamed, so readers never see a partial file.
        times: N arrays of spike times in **seconds** (non-negative, non-decreasing).
        units: N integer arrays of channel ids in ``[0, num_channels)``, same lengths as
            ``times``.
        labels: N class labels in ``[0, len(keys))`` (SHD: 0-9 English, 10-19 German digits).
        speakers: N non-negative integer speaker ids.
        keys: class names indexed by label; default :data:`SHD_CLASS_NAMES` (20 classes).
        meta_info: optional per-speaker metadata, each value a 1-D sequence indexed by
            speaker id (real SHD: ``gender`` (str), ``age`` (int), ``body_height`` (float),
            ``recording_device`` (str)). Strings are stored as UTF-8 variable-length
            strings, numbers with their numpy dtype.
        num_channels: number of input channels (700 for SHD).
        time_dtype: on-disk float type of spike times: ``"float16"`` (as real SHD),
            ``"float32"`` or ``"float64"``.
        compression: h5py compression of the fixed-size datasets (``None`` for none).

    Raises:
        ValueError / TypeError: inconsistent lengths, unsorted or negative times, channel
            ids out of range, labels out of range, bad metadata.
    """
    if time_dtype not in _TIME_DTYPES:
        raise ValueError(f"time_dtype: expected one of {_TIME_DTYPES}, got {time_dtype!r}")
    if not isinstance(num_channels, (int, np.integer)) or not 0 < num_channels <= 65536:
        raise ValueError(f"num_channels: expected an integer in [1, 65536], got {num_channels!r}")
    n = len(times)
    for name, seq in (("units", units), ("labels", labels), ("speakers", speakers)):
        if len(seq) != n:
            raise ValueError(
                f"{name}: expected one entry per sample ({n} samples in times), got {len(seq)}"
            )
    keys_arr = _string_array("keys", SHD_CLASS_NAMES if keys is None else keys)
    if len(keys_arr) == 0:
        raise ValueError("keys: expected at least one class name, got an empty sequence")
    labels_arr, speakers_arr = _label_arrays(labels, speakers, len(keys_arr))
    tdt = np.dtype(time_dtype)
    checked = [
        _check_sample(i, t, u, int(num_channels), tdt)
        for i, (t, u) in enumerate(zip(times, units, strict=True))
    ]
    meta_arrays = _meta_arrays(meta_info)
    with atomic_path(path) as tmp:
        _write_h5(
            tmp, checked, labels_arr, speakers_arr, keys_arr, meta_arrays,
            int(num_channels), tdt, compression,
        )  # fmt: skip


def _label_arrays(
    labels: Sequence[int], speakers: Sequence[int], num_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """``labels`` and ``speakers`` as 1-D integer arrays, checked: labels in
    ``[0, num_classes)``, speaker ids in ``[0, 65536)``."""
    labels_arr = np.asarray(labels)
    speakers_arr = np.asarray(speakers)
    for name, arr in (("labels", labels_arr), ("speakers", speakers_arr)):
        if arr.ndim != 1:
            raise ValueError(f"{name}: expected a 1-D sequence of integers, got shape {arr.shape}")
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"{name}: expected integers, got dtype {arr.dtype}")
    if labels_arr.size and (labels_arr.min() < 0 or labels_arr.max() >= num_classes):
        raise ValueError(
            f"labels: expected values in [0, {num_classes}) (one per class name in keys), got "
            f"range [{int(labels_arr.min())}, {int(labels_arr.max())}]"
        )
    if speakers_arr.size and (speakers_arr.min() < 0 or speakers_arr.max() >= 65536):
        raise ValueError(
            f"speakers: expected ids in [0, 65536), got range [{int(speakers_arr.min())}, "
            f"{int(speakers_arr.max())}]"
        )
    return labels_arr, speakers_arr


def _meta_arrays(meta_info: Mapping[str, Any] | None) -> dict[str, np.ndarray]:
    """Per-speaker metadata as arrays: strings as object arrays (stored as UTF-8), numbers
    with their numpy dtype; ValueError on bad names or values."""
    meta_arrays: dict[str, np.ndarray] = {}
    for key, values in (meta_info or {}).items():
        if not isinstance(key, str) or not key or "/" in key:
            raise ValueError(f"meta_info: expected non-empty names without '/', got {key!r}")
        seq = list(values) if not isinstance(values, np.ndarray) else values
        if len(seq) and isinstance(seq[0], (str, bytes)):
            meta_arrays[key] = _string_array(f"meta_info[{key!r}]", seq)
        else:
            arr = np.asarray(seq)
            if arr.ndim != 1 or arr.dtype == object:
                raise ValueError(
                    f"meta_info[{key!r}]: expected a 1-D sequence of numbers or strings, got "
                    f"shape {arr.shape} dtype {arr.dtype}"
                )
            meta_arrays[key] = arr
    return meta_arrays


def _write_h5(
    tmp: Path,
    checked: Sequence[tuple[np.ndarray, np.ndarray]],
    labels_arr: np.ndarray,
    speakers_arr: np.ndarray,
    keys_arr: np.ndarray,
    meta_arrays: Mapping[str, np.ndarray],
    num_channels: int,
    tdt: np.dtype,
    compression: str | None,
) -> None:
    """Write the checked samples and metadata to ``tmp`` in SHD's layout."""
    import h5py

    str_dt = h5py.string_dtype("utf-8")
    n = len(checked)
    with h5py.File(tmp, "w") as f:
        spikes = f.create_group("spikes")
        d_t = spikes.create_dataset("times", (n,), dtype=h5py.vlen_dtype(tdt))
        d_u = spikes.create_dataset("units", (n,), dtype=h5py.vlen_dtype(np.uint16))
        for i, (t, u) in enumerate(checked):
            d_t[i] = t
            d_u[i] = u
        f.create_dataset("labels", data=labels_arr.astype(np.uint16), compression=compression)
        extra = f.create_group("extra")
        extra.create_dataset(
            "speaker", data=speakers_arr.astype(np.uint16), compression=compression
        )
        extra.create_dataset("keys", data=keys_arr, dtype=str_dt)
        meta = extra.create_group("meta_info")
        for key, arr in meta_arrays.items():
            if arr.dtype == object:
                meta.create_dataset(key, data=arr, dtype=str_dt)
            else:
                meta.create_dataset(key, data=arr)
        f.attrs["num_channels"] = int(num_channels)


def _decode(values: np.ndarray) -> np.ndarray:
    if values.dtype == object or values.dtype.kind == "S":
        return np.array(
            [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values.ravel()],
            dtype=object,
        ).reshape(values.shape)
    return values


def _open_checked(path: str | os.PathLike):
    """Open ``path`` read-only and check that SHD's datasets are present and consistent."""
    import h5py

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"SHD-format file not found: {p}")
    try:
        f = h5py.File(p, "r")
    except OSError as exc:
        raise SHDFormatError(
            f"{p}: not a readable HDF5 file (truncated, corrupt or not HDF5): {exc}"
        ) from exc
    try:
        missing = [name for name in _REQUIRED if name not in f]
        if missing:
            raise SHDFormatError(
                f"{p}: not in SHD's layout, missing dataset(s) {missing}; expected "
                f"{list(_REQUIRED)}"
            )
        n = f["labels"].shape[0] if f["labels"].ndim == 1 else -1
        for name in ("spikes/times", "spikes/units", "labels", "extra/speaker"):
            ds = f[name]
            if not isinstance(ds, h5py.Dataset) or ds.ndim != 1 or ds.shape[0] != n:
                raise SHDFormatError(
                    f"{p}: dataset {name!r} must be 1-D with one entry per sample ({n} labels), "
                    f"got shape {getattr(ds, 'shape', None)}"
                )
        for name in ("spikes/times", "spikes/units"):
            if h5py.check_vlen_dtype(f[name].dtype) is None:
                raise SHDFormatError(
                    f"{p}: dataset {name!r} must hold variable-length arrays, got dtype "
                    f"{f[name].dtype}"
                )
    except BaseException:
        f.close()
        raise
    return f


def read_shd_file(path: str | os.PathLike, num_channels: int = SHD_NUM_CHANNELS) -> SHDRecords:
    """Read a whole SHD-layout file into memory, validating it.

    Args:
        path: an ``.h5`` file in SHD's layout (real ``shd_train.h5`` / ``shd_test.h5`` or one
            written by :func:`write_shd_file`).
        num_channels: channel ids must lie in ``[0, num_channels)``.

    Returns:
        :class:`SHDRecords` with times in seconds (float64).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        SHDFormatError: (a ``ValueError``) the file is truncated/corrupt, lacks a dataset,
            or holds inconsistent data (unequal times/units lengths, negative or unsorted
            times, channel ids out of range, labels outside the class names).
    """
    p = Path(path)
    f = _open_checked(p)
    try:
        try:
            raw_t = f["spikes/times"][()]
            raw_u = f["spikes/units"][()]
            labels = integral_ids(f["labels"][()], f"{p}: labels")
            speakers = integral_ids(f["extra/speaker"][()], f"{p}: extra/speaker")
            keys = [str(k) for k in _decode(np.asarray(f["extra/keys"][()]).ravel())]
            meta: dict[str, np.ndarray] = {}
            if "extra/meta_info" in f:
                for key, ds in f["extra/meta_info"].items():
                    meta[key] = _decode(np.asarray(ds[()]))
        except (OSError, RuntimeError, KeyError) as exc:
            raise SHDFormatError(
                f"{p}: could not read the data (truncated or corrupt?): {exc}"
            ) from exc
    finally:
        f.close()
    times: list[np.ndarray] = []
    units: list[np.ndarray] = []
    for i, (t, u) in enumerate(zip(raw_t, raw_u, strict=True)):
        t64 = np.asarray(t, dtype=np.float64)
        u64 = integral_ids(u, f"{p}: sample {i}: units")
        if t64.shape != u64.shape:
            raise SHDFormatError(f"{p}: sample {i} has {t64.size} spike times but {u64.size} units")
        if t64.size:
            if not np.all(np.isfinite(t64)) or t64.min() < 0:
                raise SHDFormatError(f"{p}: sample {i} has negative or non-finite spike times")
            if np.any(np.diff(t64) < 0):
                raise SHDFormatError(f"{p}: sample {i} has unsorted spike times")
            if u64.min() < 0 or u64.max() >= num_channels:
                raise SHDFormatError(
                    f"{p}: sample {i} has channel ids outside [0, {num_channels}): range "
                    f"[{int(u64.min())}, {int(u64.max())}]"
                )
        times.append(t64)
        units.append(u64)
    if labels.size and (labels.min() < 0 or labels.max() >= len(keys)):
        raise SHDFormatError(
            f"{p}: labels outside [0, {len(keys)}) (extra/keys has {len(keys)} class names)"
        )
    return SHDRecords(
        times=times, units=units, labels=labels, speakers=speakers, keys=keys, meta_info=meta
    )


def validate_shd_file(path: str | os.PathLike) -> int:
    """Check the layout of an SHD-format file without loading the spikes.

    Returns:
        The number of samples.

    Raises:
        FileNotFoundError / SHDFormatError: as :func:`read_shd_file`.
    """
    f = _open_checked(path)
    try:
        return int(f["labels"].shape[0])
    finally:
        f.close()
