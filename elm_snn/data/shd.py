"""The Spiking Heidelberg Digits through ``tonic.datasets.SHD``, usable offline.

Tonic 1.7's ``SHD.__init__`` calls ``download()`` unless *both* the ``.h5.zip`` archive and
an ``.h5`` file are present under ``save_to/SHD/`` (``_check_exists`` ->
``_is_file_present`` + ``_folder_contains_at_least_n_files_of_type``). A user holding only the
extracted files (or files written by ``elm-snn data spoken-digits``) would be sent to the
network. :class:`SHD` subclasses Tonic's class and replaces that check: it looks for the
extracted ``shd_train.h5`` / ``shd_test.h5`` itself and only downloads when asked to.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import tonic

from elm_snn.data.shd_format import (
    SHD_CLASS_NAMES,
    SHD_NUM_CHANNELS,
    SHDFormatError,
    _open_checked,
    integral_ids,
    validate_shd_file,
)
from elm_snn.data.transforms import apply_event_transform, events_from_arrays

__all__ = ["SHD", "find_shd_file", "shd_file_name"]


def shd_file_name(train: bool) -> str:
    """``"shd_train.h5"`` or ``"shd_test.h5"``."""
    return "shd_train.h5" if train else "shd_test.h5"


def _candidates(save_to: str | os.PathLike, train: bool) -> list[Path]:
    root = Path(os.path.expanduser(os.fspath(save_to)))
    name = shd_file_name(train)
    return [root / "SHD" / name, root / name]


def find_shd_file(save_to: str | os.PathLike, train: bool = True) -> Path:
    """Locate an extracted SHD-layout file without touching the network.

    Looks for ``save_to/SHD/<name>`` (Tonic's layout) then ``save_to/<name>``, where name is
    ``shd_train.h5`` or ``shd_test.h5``.

    Raises:
        FileNotFoundError: neither exists; the message lists the paths and how to get files.
    """
    cands = _candidates(save_to, train)
    for c in cands:
        if c.is_file():
            return c
    raise FileNotFoundError(
        f"No {shd_file_name(train)} found; looked for: {', '.join(str(c) for c in cands)}. "
        f"Get the real SHD with elm_snn.data.SHD({os.fspath(save_to)!r}, download=True) "
        f"(needs network: tonic fetches the .h5.zip archive from zenkelab.org), or "
        f"generate an offline spoken-digit dataset in SHD's layout with "
        f"`elm-snn data spoken-digits --out DIR` and pass save_to=DIR."
    )


class SHD(tonic.datasets.SHD):
    """Spiking Heidelberg Digits (Cramer et al. 2020) as a Tonic dataset, offline-friendly.

    Same samples and output as ``tonic.datasets.SHD``: ``(events, label)`` with ``events`` a
    structured array (``t`` in integer microseconds, ``x`` channel 0..699, ``p`` = 1) and
    ``label`` an int 0..19 (0-9 English, 10-19 German; spoken digit ``label % 10``).

    Files are looked for in ``save_to/SHD/`` (Tonic's place, where ``download=True`` puts
    them) and in ``save_to/`` itself. Without ``download=True`` nothing is ever downloaded.

    Args:
        save_to: folder holding ``shd_train.h5`` / ``shd_test.h5`` (directly or in ``SHD/``).
        train: training file if True, else test file.
        transform: applied to the events (e.g. :class:`~elm_snn.data.BinToFrames`).
        target_transform: applied to the label.
        download: fetch the archive with Tonic when the file is missing.

    Attributes:
        labels: ``(N,)`` int64 class labels; ``digits``: ``labels % 10``.
        speakers: ``(N,)`` int64 speaker id of each sample (also ``speaker``, as Tonic).
        classes: class names from ``extra/keys`` (bytes, as Tonic).
        path: the ``.h5`` file in use.

    Raises:
        FileNotFoundError: file missing and ``download`` is False (says where it looked).
        SHDFormatError: the file is truncated, corrupt or lacks SHD's datasets.
    """

    def __init__(
        self,
        save_to: str | os.PathLike,
        train: bool = True,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        download: bool = False,
    ) -> None:
        self._save_to = os.fspath(save_to)
        self._allow_download = bool(download)
        super().__init__(
            self._save_to, train=train, transform=transform, target_transform=target_transform
        )
        self.path = Path(self.location_on_system) / self.data_filename
        self._handle: Any = None
        self._handle_pid: int | None = None
        f = _open_checked(self.path)  # SHDFormatError naming the file, not a raw h5py error
        try:
            try:
                raw_labels = f["labels"][()]
                raw_speakers = f["extra/speaker"][()]
                n_classes = len(f["extra/keys"]) if "extra/keys" in f else len(SHD_CLASS_NAMES)
            except (OSError, RuntimeError, KeyError, TypeError, ValueError) as exc:
                raise SHDFormatError(
                    f"{self.path}: could not read labels/speakers (truncated or corrupt?): {exc}"
                ) from exc
        finally:
            f.close()
        self.labels = integral_ids(raw_labels, f"{self.path}: labels")
        self.speakers = integral_ids(raw_speakers, f"{self.path}: extra/speaker")
        bad = (self.labels < 0) | (self.labels >= n_classes)
        if bad.any():
            k = int(np.argmax(bad))
            raise SHDFormatError(
                f"{self.path}: labels must lie in [0, {n_classes}) (one per class name in "
                f"extra/keys), got {int(self.labels[k])} for sample {k} "
                f"({int(bad.sum())} bad labels)"
            )
        self.digits = self.labels % 10
        self.train = bool(train)

    # Tonic hooks ---------------------------------------------------------------------------
    def _check_exists(self) -> bool:
        for c in _candidates(self._save_to, self.data_filename == "shd_train.h5"):
            if c.is_file():
                validate_shd_file(c)  # clear error for a truncated/corrupt file
                self.location_on_system = str(c.parent)
                return True
        return False

    def download(self) -> None:
        """Download with Tonic if ``download=True`` was given, else raise FileNotFoundError."""
        if not self._allow_download:
            find_shd_file(self._save_to, self.data_filename == "shd_train.h5")  # raises
        super().download()
        if not self._check_exists():
            raise FileNotFoundError(
                f"tonic downloaded {self.filename} but {self.data_filename} was not found "
                f"under {self.location_on_system}"
            )

    # Data access ---------------------------------------------------------------------------
    def _file(self) -> Any:
        import h5py

        if self._handle is None or self._handle_pid != os.getpid():
            self._handle = h5py.File(self.path, "r")
            self._handle_pid = os.getpid()
        return self._handle

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_handle"] = None
        state["_handle_pid"] = None
        return state

    def raw(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Spike times (seconds, as stored: float16 in real SHD) and units of one sample."""
        f = self._file()
        return f["spikes/times"][index], f["spikes/units"][index]

    def events(self, index: int) -> np.ndarray:
        """Events of one sample, without transform (see class docstring for the format)."""
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} out of range for {n} samples")
        i = int(index) % n
        try:
            times, units = self.raw(i)
        except (OSError, RuntimeError, KeyError) as exc:
            raise SHDFormatError(f"{self.path}: could not read sample {i}: {exc}") from exc
        try:
            # t truncated toward zero, as tonic; NaN/negative/huge times and bad ids refused
            return events_from_arrays(times, units)
        except (ValueError, TypeError) as exc:
            raise SHDFormatError(f"{self.path}: sample {i}: {exc}") from None

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        events = self.events(index)
        target: Any = int(self.labels[index])
        if self.transform is not None:
            # a Compose starting with BinToFrames bins empty samples too (tonic's would not)
            events = apply_event_transform(self.transform, events)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return events, target

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def num_channels(self) -> int:
        """700 input channels."""
        return SHD_NUM_CHANNELS

    def __repr__(self) -> str:
        return f"SHD(path={str(self.path)!r}, train={self.train}, samples={len(self)})"
