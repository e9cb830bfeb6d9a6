"""SHD-Adding (Spieler et al. 2023): two SHD digits in a row, target = the sum of the digits.

A sample is a pair ``(a, b)`` of SHD samples drawn uniformly and independently (with
replacement) from the split's pool. Each digit is cut to ``digit_duration_ms`` (1 s in the
paper; its spikes at ``t >= digit_duration_ms`` are dropped and counted), and digit ``b``'s
events are shifted by ``digit_duration_ms``, so a sample spans ``2 * digit_duration_ms``.
The target is ``label_a % 10 + label_b % 10`` in ``0..18`` (19 classes, chance 1/19),
whatever the language of either digit.

Splits (all deterministic):

* ``"train"`` / ``"validation"``: with ``validation_split="sample"`` (default) the samples
  of ``shd_train.h5`` are permuted with ``numpy.random.default_rng(split_seed)``; the first
  ``round(validation_fraction * N)`` samples of the permutation form the validation pool,
  the rest the training pool, so no validation pair ever uses a training-pool sample
  (speakers do overlap: SHD's training speakers are in both). With
  ``validation_split="speaker"`` whole speakers are held out instead
  (:func:`split_by_speaker`), so validation, like the test file, measures unseen voices.
* ``"test"``: pairs of ``shd_test.h5`` samples only (includes SHD's two test-only speakers).

Pairs of epoch ``e`` come from ``numpy.random.default_rng([seed, split_code, e])``;
``fresh_pairs=True`` (default for training) draws new pairs each epoch (call
:meth:`SHDAdding.set_epoch`), ``False`` (default for validation/test) keeps epoch 0's pairs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from elm_snn.data.cache import DigitFrameCache
from elm_snn.data.shd import SHD
from elm_snn.data.transforms import (
    BinningStats,
    apply_event_transform,
    bin_events,
    num_bins,
    split_frame_binning,
)

__all__ = ["SHDAdding", "split_train_validation", "split_by_speaker", "ADDING_NUM_CLASSES"]

ADDING_NUM_CLASSES = 19
_SPLIT_CODES = {"train": 0, "validation": 1, "test": 2}


def split_train_validation(
    num_samples: int, validation_fraction: float, split_seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic by-sample split of ``range(num_samples)``.

    Returns:
        ``(train_indices, validation_indices)``, sorted int64 arrays, disjoint, covering all
        samples; ``len(validation) == round(validation_fraction * num_samples)``.
    """
    if not 0.0 <= float(validation_fraction) < 1.0:
        raise ValueError(
            f"validation_fraction: expected a number in [0, 1), got {validation_fraction!r}"
        )
    perm = np.random.default_rng(int(split_seed)).permutation(int(num_samples))
    n_val = int(round(float(validation_fraction) * num_samples))
    return np.sort(perm[n_val:]).astype(np.int64), np.sort(perm[:n_val]).astype(np.int64)


def split_by_speaker(
    speakers: np.ndarray, validation_fraction: float, split_seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Deterministic split that holds out whole speakers.

    ``max(1, round(validation_fraction * S))`` of the ``S`` distinct speakers, drawn with
    ``numpy.random.default_rng(split_seed)``, give every one of their samples to validation.

    Args:
        speakers: ``(N,)`` speaker id of each sample.
        validation_fraction: share of the speakers held out, in ``(0, 1)``.
        split_seed: seed of the speaker draw.

    Returns:
        ``(train_indices, validation_indices, validation_speakers)``, sorted int64 arrays.

    Raises:
        ValueError: fewer than two speakers, or a fraction outside ``(0, 1)``.
    """
    if not 0.0 < float(validation_fraction) < 1.0:
        raise ValueError(
            f"validation_fraction: expected a number in (0, 1) for a split by speaker, got "
            f"{validation_fraction!r}"
        )
    spk = np.asarray(speakers).astype(np.int64).reshape(-1)
    unique = np.unique(spk)
    if len(unique) < 2:
        raise ValueError(
            f"speakers: a split by speaker needs at least 2 speakers, got {len(unique)} "
            f"({unique.tolist()})"
        )
    n_val = min(len(unique) - 1, max(1, int(round(float(validation_fraction) * len(unique)))))
    held = np.sort(np.random.default_rng(int(split_seed)).permutation(unique)[:n_val])
    is_val = np.isin(spk, held)
    return (
        np.flatnonzero(~is_val).astype(np.int64),
        np.flatnonzero(is_val).astype(np.int64),
        held.astype(np.int64),
    )


def _resolve_split(split: Any, train: Any) -> Any:
    """``split`` from Tonic's ``train=`` (True: "train", False: "test") or ``split=``
    (default "train"); both given must agree."""
    if train is None:
        return "train" if split is None else split
    if not isinstance(train, bool):
        raise TypeError(f"train: expected a bool (as in Tonic), got {type(train).__name__}")
    implied = "train" if train else "test"
    if split is not None and split != implied:
        raise ValueError(
            f"train={train} means split={implied!r}, but split={split!r} was given; pass "
            f"one of them (split='validation' has no train= spelling)"
        )
    return implied


def _frames_with_layout(sample: Any) -> Any:
    """Binned frames ``(T, C)`` (a 2-D float array) as :class:`~elm_snn.data.layout.Frames`
    that know they are one time-major sample; anything else (events, a user transform's
    output) unchanged."""
    if isinstance(sample, np.ndarray) and sample.ndim == 2 and sample.dtype.kind == "f":
        import torch

        from elm_snn.data.layout import frames

        return frames(torch.from_numpy(sample), "TC")
    return sample


def _check_options(
    split: str,
    validation_split: str,
    cache: str | None,
    digit_duration_ms: float,
    bin_size_ms: float | None,
) -> int:
    """Check :class:`SHDAdding`'s options; return the digit duration in whole µs."""
    if split not in _SPLIT_CODES:
        raise ValueError(f"split: expected 'train', 'validation' or 'test', got {split!r}")
    if validation_split not in ("sample", "speaker"):
        raise ValueError(
            f"validation_split: expected 'sample' or 'speaker', got {validation_split!r}"
        )
    if cache not in ("memory", "disk", None):
        raise ValueError(f"cache: expected 'memory', 'disk' or None, got {cache!r}")
    if not (isinstance(digit_duration_ms, (int, float)) and digit_duration_ms > 0):
        raise ValueError(f"digit_duration_ms: expected a number > 0, got {digit_duration_ms!r}")
    dur_us = float(digit_duration_ms) * 1000.0
    if not dur_us.is_integer():
        raise ValueError(
            f"digit_duration_ms: expected a whole number of microseconds, got {digit_duration_ms!r}"
        )
    if bin_size_ms is not None:
        num_bins(digit_duration_ms, bin_size_ms)  # raises with the valid durations
    return int(dur_us)


def _split_pool(
    source: SHD, split: str, validation_split: str, validation_fraction: float, split_seed: int
) -> np.ndarray:
    """File indices of ``split``'s digits: all of the test file, or the training file's
    share of training or validation samples (by sample or by speaker)."""
    if split == "test":
        return np.arange(len(source), dtype=np.int64)
    if validation_split == "speaker":
        tr, va, _ = split_by_speaker(source.speakers, validation_fraction, split_seed)
    else:
        tr, va = split_train_validation(len(source), validation_fraction, split_seed)
    return tr if split == "train" else va


class SHDAdding:
    """The SHD-Adding task as a map-style dataset (works with ``torch.utils.data.DataLoader``).

    Args:
        save_to: folder holding ``shd_train.h5`` / ``shd_test.h5`` (directly or in ``SHD/``),
            as for :class:`~elm_snn.data.SHD`.
        split: ``"train"`` (default), ``"validation"`` or ``"test"`` (see module docstring).
        train: Tonic's spelling: ``True`` is ``split="train"``, ``False`` is
            ``split="test"`` (keyword only in practice; both given must agree).
        transform: applied to each sample. Without ``bin_size_ms`` the sample is a Tonic event
            array (``t`` in us over ``[0, 2 * digit_duration_ms)``, ``x`` channel, ``p`` = 1)
            and ``transform`` gets it, as with Tonic datasets; a
            :class:`~elm_snn.data.BinToFrames` with ``duration_ms == 2 * digit_duration_ms``
            whose bin size divides ``digit_duration_ms`` is served from the binned-digit cache
            (same frames, much faster) and its ``stats`` are updated, also when it is the
            first step of a ``tonic.transforms.Compose`` (the later steps then get the
            frames; see :func:`~elm_snn.data.transforms.split_frame_binning`). An empty
            pair is binned to zeros even inside a ``Compose``. With ``bin_size_ms``
            the sample is already a float32 frame and ``transform`` gets the frame.
        target_transform: applied to the integer target (0..18).
        bin_size_ms: if given, return float32 frames ``(2 * T, 700)``,
            ``T = digit_duration_ms / bin_size_ms`` (must be an integer). Frames (from
            ``bin_size_ms`` or a ``BinToFrames`` transform) come as
            :class:`~elm_snn.data.layout.Frames` tensors that know their layout, so a
            batch stacked batch-first and fed to a time-major layer raises.
        binary: with ``bin_size_ms``: 0/1 frames instead of spike counts.
        digit_duration_ms: fixed length of each digit (ms); the paper uses 1000.
        pairs_per_epoch: samples per epoch; default 16000 for ``"train"`` (paper: 2000
            batches of 8) and the pool size for ``"validation"`` / ``"test"``.
        fresh_pairs: new pairs every epoch; default True for ``"train"``, else False.
        seed: seed of the pair draws.
        validation_fraction: share of ``shd_train.h5`` held out for validation (default 0.1).
        split_seed: seed of the train/validation permutation (independent of ``seed``).
        validation_split: ``"sample"`` (default) or ``"speaker"`` (see module docstring).
        cache: ``"memory"`` (default), ``"disk"`` (also ``.npz`` under
            ``elm_snn._io.cache_dir("shd_frames")``) or ``None`` (bin every item anew).
        download: let Tonic download SHD if the file is missing.
        num_channels: 700 for SHD.

    Attributes:
        pool: file indices of the split's samples.
        pairs: ``(pairs_per_epoch, 2)`` file indices of the current epoch's pairs.
        stats: :class:`BinningStats` of the items served by this object (per process).
        source: the underlying :class:`~elm_snn.data.SHD` file.
    """

    num_classes = ADDING_NUM_CLASSES

    def __init__(
        self,
        save_to: str | os.PathLike,
        split: Literal["train", "validation", "test"] | None = None,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        *,
        bin_size_ms: float | None = None,
        binary: bool = False,
        digit_duration_ms: float = 1000.0,
        pairs_per_epoch: int | None = None,
        fresh_pairs: bool | None = None,
        seed: int = 0,
        validation_fraction: float = 0.1,
        split_seed: int = 0,
        validation_split: Literal["sample", "speaker"] = "sample",
        cache: Literal["memory", "disk"] | None = "memory",
        download: bool = False,
        num_channels: int = 700,
        train: bool | None = None,
    ) -> None:
        split = _resolve_split(split, train)
        dur_us = _check_options(split, validation_split, cache, digit_duration_ms, bin_size_ms)
        self.split = split
        self.transform = transform
        self.target_transform = target_transform
        self.bin_size_ms = None if bin_size_ms is None else float(bin_size_ms)
        self.binary = bool(binary)
        self.digit_duration_ms = float(digit_duration_ms)
        self._digit_us = int(dur_us)
        self.seed = int(seed)
        self.validation_fraction = float(validation_fraction)
        self.split_seed = int(split_seed)
        self.cache_mode = cache
        self.num_channels = int(num_channels)
        self.stats = BinningStats()

        self.source = SHD(save_to, train=split != "test", download=download)
        n_file = len(self.source)
        self.pool = _split_pool(
            self.source, split, validation_split, validation_fraction, split_seed
        )
        self.validation_split = validation_split
        if len(self.pool) == 0:
            raise ValueError(
                f"split={split!r}: no samples in the pool ({n_file} samples in "
                f"{self.source.path.name}, validation_fraction={validation_fraction})"
            )
        self.digits = self.source.digits  # per file sample
        if pairs_per_epoch is None:
            pairs_per_epoch = 16000 if split == "train" else len(self.pool)
        if isinstance(pairs_per_epoch, bool) or not isinstance(pairs_per_epoch, (int, np.integer)):
            raise TypeError(
                f"pairs_per_epoch: expected an int, got {type(pairs_per_epoch).__name__}"
            )
        if pairs_per_epoch < 1:
            raise ValueError(f"pairs_per_epoch: expected >= 1, got {pairs_per_epoch}")
        self.pairs_per_epoch = int(pairs_per_epoch)
        self.fresh_pairs = (split == "train") if fresh_pairs is None else bool(fresh_pairs)
        self._digit_cache: DigitFrameCache | None = None
        self.epoch = 0
        self.pairs = self.pairs_for_epoch(0)

    # ------------------------------------------------------------------ pairs
    def pairs_for_epoch(self, epoch: int) -> np.ndarray:
        """``(pairs_per_epoch, 2)`` int64 file indices of epoch ``epoch``'s pairs
        (epoch 0's pairs whenever ``fresh_pairs`` is False)."""
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise ValueError(f"epoch: expected an int >= 0, got {epoch!r}")
        e = int(epoch) if self.fresh_pairs else 0
        rng = np.random.default_rng([self.seed, _SPLIT_CODES[self.split], e])
        k = rng.integers(0, len(self.pool), size=(self.pairs_per_epoch, 2))
        return self.pool[k]

    def set_epoch(self, epoch: int) -> None:
        """Select epoch ``epoch``'s pairs (call before each epoch, before the DataLoader
        starts its workers; with ``persistent_workers=True`` workers keep the old pairs)."""
        self.pairs = self.pairs_for_epoch(epoch)
        self.epoch = int(epoch)

    def pair_speakers(self) -> np.ndarray:
        """``(pairs_per_epoch, 2)`` int64 speaker ids of both digits of the current pairs."""
        return self.source.speakers[self.pairs]

    def targets(self) -> np.ndarray:
        """``(pairs_per_epoch,)`` int64 targets (digit sums) of the current epoch."""
        return self.digits[self.pairs[:, 0]] + self.digits[self.pairs[:, 1]]

    # ------------------------------------------------------------------ frames
    def _fast_binning(self) -> tuple[float, bool, Any, Callable | None] | None:
        """``(bin_ms, binary, binner, rest)`` when items can be served from the digit cache:
        with ``bin_size_ms`` (``binner`` and ``rest`` None), or when the transform starts
        with a compatible frame binning (a ``BinToFrames``, alone or first in a ``Compose``;
        ``rest`` = the steps after it)."""
        if self.bin_size_ms is not None:
            return self.bin_size_ms, self.binary, None, None
        split = split_frame_binning(self.transform) if self.cache_mode is not None else None
        if split is None:
            return None
        binner, rest = split
        spec = binner.binning
        if (
            spec.num_channels == self.num_channels
            and abs(spec.duration_ms - 2 * self.digit_duration_ms) < 1e-9 * spec.duration_ms
        ):
            ratio = self.digit_duration_ms / spec.bin_size_ms
            if abs(ratio - round(ratio)) <= 1e-9 * max(ratio, 1.0):
                return spec.bin_size_ms, spec.binary, binner, rest
        return None

    def digit_cache(self) -> DigitFrameCache:
        """The binned-digit cache of the source file (built on first call; call it before
        creating DataLoader workers so they share it)."""
        fast = self._fast_binning()
        if fast is None or self.cache_mode is None:
            raise RuntimeError(
                "digit_cache: this dataset bins on the fly (no bin_size_ms, no compatible "
                "BinToFrames transform, or cache=None)"
            )
        bin_ms = fast[0]
        c = self._digit_cache
        if c is None or c.bin_size_ms != bin_ms:
            c = DigitFrameCache.get(
                self.source.path,
                bin_ms,
                self.digit_duration_ms,
                self.num_channels,
                disk=self.cache_mode == "disk",
            )
            self._digit_cache = c
        return c

    def prepare(self) -> DigitFrameCache | None:
        """Build the cache now if this dataset uses one (else do nothing and return None)."""
        if self._fast_binning() is None or self.cache_mode is None:
            return None
        return self.digit_cache()

    @property
    def num_bins(self) -> int | None:
        """Time bins per sample (``2 * digit_duration_ms / bin``) when frames are produced."""
        fast = self._fast_binning()
        if fast is None:
            split = split_frame_binning(self.transform)
            return None if split is None else split[0].binning.num_bins
        return 2 * num_bins(self.digit_duration_ms, fast[0])

    # ------------------------------------------------------------------ items
    def _digit_events(self, i: int) -> tuple[np.ndarray, int, int]:
        ev = self.source.events(int(i))
        keep = ev["t"] < self._digit_us
        n_in = ev.size
        if not keep.all():
            ev = ev[keep]
        return ev, n_in, n_in - ev.size

    def events(self, index: int) -> np.ndarray:
        """Events of pair ``index`` (see the class docstring), without any transform."""
        a, b = self.pairs[self._check_index(index)]
        ev_a, n_a, d_a = self._digit_events(a)
        ev_b, n_b, d_b = self._digit_events(b)
        ev_b = ev_b.copy()
        ev_b["t"] += self._digit_us
        self.stats.record(n_a + n_b, d_a + d_b)
        return np.concatenate([ev_a, ev_b])

    def _check_index(self, index: int) -> int:
        n = self.pairs_per_epoch
        if not -n <= int(index) < n:
            raise IndexError(f"index {index} out of range for {n} pairs")
        return int(index) % n

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        """Return ``(sample, target)`` for pair ``index`` of the current epoch."""
        i = self._check_index(index)
        a, b = self.pairs[i]
        target: Any = int(self.digits[a] + self.digits[b])
        fast = self._fast_binning()
        if fast is None:
            sample: Any = self.events(i)
            if self.transform is not None:
                sample = apply_event_transform(self.transform, sample)
        else:
            bin_ms, binary, binner, rest = fast
            t_digit = num_bins(self.digit_duration_ms, bin_ms)
            out = np.zeros((2 * t_digit, self.num_channels), dtype=np.float32)
            if self.cache_mode is not None:
                c = self.digit_cache()
                c.write_into(out[:t_digit], a, binary)
                c.write_into(out[t_digit:], b, binary)
                n_in = int(c.spikes[a] + c.spikes[b])
                n_drop = int(c.dropped[a] + c.dropped[b])
            else:
                n_in = n_drop = 0
                for k, j in enumerate((a, b)):
                    ev = self.source.events(int(j))
                    fr, d = bin_events(
                        ev, bin_ms, self.digit_duration_ms, binary, self.num_channels
                    )
                    out[k * t_digit : (k + 1) * t_digit] = fr
                    n_in += ev.size
                    n_drop += d
            self.stats.record(n_in, n_drop)
            if binner is not None:
                binner.record(n_in, n_drop)
                sample = out if rest is None else rest(out)
            else:
                sample = out if self.transform is None else self.transform(out)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return _frames_with_layout(sample), target

    def __len__(self) -> int:
        return self.pairs_per_epoch

    def __repr__(self) -> str:
        return (
            f"SHDAdding(split={self.split!r}, pairs_per_epoch={self.pairs_per_epoch}, "
            f"pool={len(self.pool)}, bin_size_ms={self.bin_size_ms}, "
            f"digit_duration_ms={self.digit_duration_ms}, epoch={self.epoch}, "
            f"file={str(self.source.path)!r})"
        )
