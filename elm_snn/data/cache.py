"""Cache of binned SHD digits, so that building an epoch is a cheap copy, not a re-binning.

Every sample of an SHD-layout file is binned once (see :mod:`elm_snn.data.transforms` for
the rule) into a sparse form: the sorted flat indices ``bin * C + channel`` of its non-empty
bins and their spike counts, stored for the whole file in CSR layout (one ``indices``, one
``counts`` array and ``offsets``). A dense ``(T, C)`` frame, or the ``(2T, C)`` frame of an
SHD-Adding pair, is then a zero-filled array plus one scatter per digit.

Caches live in memory (shared by every dataset object in the process that asks for the same
key) and optionally on disk under ``elm_snn._io.cache_dir("shd_frames")``. The key holds the
bin size, the per-digit duration, the number of channels, a cache format version and a
fingerprint of the file (size, modification time and a SHA-256 of its content, whole for
files up to 8 MiB, else of its first 4 MiB and last 1 MiB), so a changed file never hits an
old cache. Counts are cached; ``binary`` is applied when densifying, so the counts and binary
variants share one cache.

Why not Tonic's ``MemoryCachedDataset`` / ``DiskCachedDataset``: they store the transformed
output of each *dataset index*, densely, and cannot tell a changed file or transform from an
old one. SHD-Adding items are pairs that change every epoch, so a per-index cache would
serve stale pairs; here each *digit* is cached once, sparsely, keyed by the file's content.
Tonic's caches do fit around :class:`~elm_snn.data.SHD` with a ``BinToFrames`` transform
(one fixed sample per index), and work there unchanged.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import numpy as np

from elm_snn._io import atomic_path, cache_dir
from elm_snn.data.transforms import bin_indices, events_from_arrays, num_bins

__all__ = ["DigitFrameCache", "file_fingerprint", "clear_memory_cache", "CACHE_FORMAT_VERSION"]

CACHE_FORMAT_VERSION = 1
_WHOLE_FILE_LIMIT = 8 << 20
_HEAD = 4 << 20
_TAIL = 1 << 20

_MEMORY: dict[tuple, DigitFrameCache] = {}
_LOCK = threading.Lock()


def file_fingerprint(path: str | os.PathLike) -> str:
    """Hex fingerprint of a file: size, mtime (ns) and SHA-256 of its content (whole file up
    to 8 MiB, else its first 4 MiB and last 1 MiB)."""
    p = Path(path)
    st = p.stat()
    h = hashlib.sha256()
    h.update(f"{st.st_size}:{st.st_mtime_ns}:".encode())
    with open(p, "rb") as f:
        if st.st_size <= _WHOLE_FILE_LIMIT:
            h.update(f.read())
        else:
            h.update(f.read(_HEAD))
            f.seek(st.st_size - _TAIL)
            h.update(f.read(_TAIL))
    return h.hexdigest()


def clear_memory_cache() -> None:
    """Forget every in-memory digit cache of this process."""
    with _LOCK:
        _MEMORY.clear()


class DigitFrameCache:
    """Binned, sparse copy of every sample of one SHD-layout file.

    Build one with :meth:`get` (memory/disk cached) rather than the constructor.

    Attributes:
        path: the SHD-layout ``.h5`` file.
        bin_size_ms, duration_ms: binning of each sample (``duration_ms`` a multiple of
            ``bin_size_ms``); ``num_bins = duration_ms / bin_size_ms``.
        num_channels: ``C``.
        fingerprint: :func:`file_fingerprint` of the file when it was binned.
        offsets: ``(N + 1,)`` int64 CSR offsets into ``indices`` / ``counts``.
        indices: int32 flat indices ``bin * C + channel`` (sorted within each sample).
        counts: uint16 spike counts of those bins.
        dropped: ``(N,)`` int64 spikes at ``t >= duration_ms`` dropped per sample.
        spikes: ``(N,)`` int64 spikes per sample in the file.
        labels, speakers: ``(N,)`` int64 from the file.
    """

    def __init__(
        self,
        path: Path,
        bin_size_ms: float,
        duration_ms: float,
        num_channels: int,
        fingerprint: str,
        offsets: np.ndarray,
        indices: np.ndarray,
        counts: np.ndarray,
        dropped: np.ndarray,
        spikes: np.ndarray,
        labels: np.ndarray,
        speakers: np.ndarray,
    ) -> None:
        self.path = path
        self.bin_size_ms = float(bin_size_ms)
        self.duration_ms = float(duration_ms)
        self.num_channels = int(num_channels)
        self.num_bins = num_bins(duration_ms, bin_size_ms)
        self.fingerprint = fingerprint
        self.offsets = offsets
        self.indices = indices
        self.counts = counts
        self.dropped = dropped
        self.spikes = spikes
        self.labels = labels
        self.speakers = speakers

    def __len__(self) -> int:
        return len(self.offsets) - 1

    # ------------------------------------------------------------------ construction
    @staticmethod
    def _key(fp: str, bin_size_ms: float, duration_ms: float, num_channels: int) -> tuple:
        return (CACHE_FORMAT_VERSION, fp, float(bin_size_ms), float(duration_ms), int(num_channels))

    @classmethod
    def disk_path(
        cls, path: Path, fp: str, bin_size_ms: float, duration_ms: float, num_channels: int
    ) -> Path:
        """File name of the on-disk cache for this key."""
        name = (
            f"{path.stem}-{fp[:20]}-v{CACHE_FORMAT_VERSION}-bin{float(bin_size_ms):g}ms-"
            f"dur{float(duration_ms):g}ms-c{int(num_channels)}.npz"
        )
        return cache_dir("shd_frames") / name

    @classmethod
    def get(
        cls,
        path: str | os.PathLike,
        bin_size_ms: float,
        duration_ms: float,
        num_channels: int = 700,
        disk: bool = False,
    ) -> DigitFrameCache:
        """Return the cache for ``path`` at this binning, building it if needed.

        Looks in memory first, then (``disk=True``) on disk, else bins the whole file (one
        bulk read of ``spikes/times`` and ``spikes/units``) and stores the result in memory
        (and on disk when ``disk=True``). A changed file (new fingerprint) is re-binned.

        Args:
            path: SHD-layout ``.h5`` file.
            bin_size_ms: bin width (ms).
            duration_ms: per-sample duration (ms), an integer multiple of ``bin_size_ms``;
                spikes at ``t >= duration_ms`` are dropped and counted in :attr:`dropped`.
            num_channels: ``C`` (700 for SHD).
            disk: also read/write an ``.npz`` under ``cache_dir("shd_frames")``.
        """
        n_bins = num_bins(duration_ms, bin_size_ms)
        if n_bins * int(num_channels) >= 2**31:
            raise ValueError(
                f"num_bins * num_channels = {n_bins * int(num_channels)} does not fit the int32 "
                f"flat indices of the cache; use fewer bins or channels"
            )
        p = Path(path).resolve()
        fp = file_fingerprint(p)
        key = cls._key(fp, bin_size_ms, duration_ms, num_channels)
        with _LOCK:
            hit = _MEMORY.get(key)
        if hit is not None:
            return hit
        obj = None
        dpath = cls.disk_path(p, fp, bin_size_ms, duration_ms, num_channels) if disk else None
        if dpath is not None and dpath.is_file():
            obj = cls._load(dpath, p, bin_size_ms, duration_ms, num_channels, fp)
        if obj is None:
            obj = cls._build(p, bin_size_ms, duration_ms, num_channels, fp)
            if dpath is not None:
                obj._save(dpath)
        with _LOCK:
            _MEMORY[key] = obj
        return obj

    @classmethod
    def _build(
        cls, path: Path, bin_size_ms: float, duration_ms: float, num_channels: int, fp: str
    ) -> DigitFrameCache:
        from elm_snn.data.shd_format import SHDFormatError, read_shd_file

        n_bins = num_bins(duration_ms, bin_size_ms)
        # read_shd_file validates the layout, lengths, time order and channel range
        records = read_shd_file(path, num_channels=num_channels)
        labels, speakers = records.labels, records.speakers
        n = len(records)
        offsets = np.zeros(n + 1, dtype=np.int64)
        dropped = np.zeros(n, dtype=np.int64)
        spikes = np.zeros(n, dtype=np.int64)
        idx_parts: list[np.ndarray] = []
        cnt_parts: list[np.ndarray] = []
        for i, (t_s, u) in enumerate(zip(records.times, records.units, strict=True)):
            spikes[i] = len(t_s)
            if len(t_s) == 0:
                offsets[i + 1] = offsets[i]
                continue
            try:
                ev = events_from_arrays(t_s, u)
            except ValueError as exc:
                raise SHDFormatError(f"{path}: sample {i}: {exc}") from None
            flat, n_drop = bin_indices(ev["t"], ev["x"], bin_size_ms, n_bins, num_channels)
            dropped[i] = n_drop
            uniq, cnt = np.unique(flat, return_counts=True)
            if cnt.size and cnt.max() > np.iinfo(np.uint16).max:
                raise SHDFormatError(f"{path}: sample {i} has more than 65535 spikes in one bin")
            idx_parts.append(uniq.astype(np.int32))
            cnt_parts.append(cnt.astype(np.uint16))
            offsets[i + 1] = offsets[i] + uniq.size
        indices = np.concatenate(idx_parts) if idx_parts else np.zeros(0, np.int32)
        counts = np.concatenate(cnt_parts) if cnt_parts else np.zeros(0, np.uint16)
        return cls(
            path,
            bin_size_ms,
            duration_ms,
            num_channels,
            fp,
            offsets,
            indices,
            counts,
            dropped,
            spikes,
            labels,
            speakers,
        )

    def _save(self, dpath: Path) -> None:
        with atomic_path(dpath) as tmp:
            np.savez(
                tmp,
                offsets=self.offsets,
                indices=self.indices,
                counts=self.counts,
                dropped=self.dropped,
                spikes=self.spikes,
                labels=self.labels,
                speakers=self.speakers,
                fingerprint=np.array(self.fingerprint),
                version=np.array(CACHE_FORMAT_VERSION),
            )

    @classmethod
    def _load(
        cls,
        dpath: Path,
        path: Path,
        bin_size_ms: float,
        duration_ms: float,
        num_channels: int,
        fp: str,
    ) -> DigitFrameCache | None:
        try:
            with np.load(dpath, allow_pickle=False) as z:
                if str(z["fingerprint"]) != fp or int(z["version"]) != CACHE_FORMAT_VERSION:
                    return None
                arrays = {
                    k: z[k]
                    for k in (
                        "offsets",
                        "indices",
                        "counts",
                        "dropped",
                        "spikes",
                        "labels",
                        "speakers",
                    )
                }
        except (OSError, ValueError, KeyError):
            return None  # unreadable cache file: rebuild (and overwrite) it
        return cls(path, bin_size_ms, duration_ms, num_channels, fp, **arrays)

    # ------------------------------------------------------------------ access
    def sparse(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Flat indices (int32, ``bin * C + channel``) and counts (uint16) of sample ``i``."""
        a, b = self.offsets[i], self.offsets[i + 1]
        return self.indices[a:b], self.counts[a:b]

    def write_into(self, out: np.ndarray, i: int, binary: bool = False) -> None:
        """Scatter sample ``i`` into ``out``, a zeroed C-contiguous ``(num_bins, C)`` block.

        ``out`` may be a view of a larger frame (e.g. the second half of an SHD-Adding pair).
        """
        if out.shape != (self.num_bins, self.num_channels) or not out.flags.c_contiguous:
            raise ValueError(
                f"out: expected a C-contiguous array of shape ({self.num_bins}, "
                f"{self.num_channels}), got {out.shape}"
            )
        idx, cnt = self.sparse(i)
        flat = out.reshape(-1)
        flat[idx] = 1.0 if binary else cnt

    def dense(self, i: int, binary: bool = False) -> np.ndarray:
        """Float32 ``(num_bins, C)`` frame of sample ``i`` (counts, or 0/1 if ``binary``)."""
        out = np.zeros((self.num_bins, self.num_channels), dtype=np.float32)
        self.write_into(out, i, binary)
        return out
