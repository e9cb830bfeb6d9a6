"""Checkpoints of the training engine: weights-only loading with clear errors, atomic
saving (:class:`SafeCheckpointIO`), and the compatibility check of a resumed run."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from elm_snn._io import atomic_path
from elm_snn._safe_torch import UnreadableCheckpointError, UnsafeCheckpointError, load_weights_only
from elm_snn.tasks.config import RunConfig

__all__ = [
    "CheckpointMismatchError",
    "CheckpointError",
    "load_checkpoint",
    "SafeCheckpointIO",
]


class CheckpointMismatchError(ValueError):
    """A checkpoint was made for another task/model/architecture than the one requested."""


class CheckpointError(ValueError):
    """A checkpoint is truncated, corrupt, not a checkpoint, or holds objects that could run
    code when unpickled (refused before anything runs)."""


def _first_line(exc: BaseException, limit: int = 160) -> str:
    """The first sentence of an exception's message (torch's run on for paragraphs)."""
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    line = line.split(". ")[0].rstrip(".")
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _readable(path: Path) -> bool:
    try:
        _load_checked(path)
    except (OSError, CheckpointError):
        return False
    return True


def _previous_good(path: Path) -> str:
    """Message fragment naming the newest other readable checkpoint next to ``path``."""
    folder = path.parent
    others = [p for p in folder.glob("*.ckpt") if p.resolve() != path.resolve() and p.is_file()]
    others.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    for other in others:
        if _readable(other):
            return (
                f"; the previous good checkpoint is {str(other)!r} (resume from it with "
                f"--resume-from {other})"
            )
    return "; there is no other readable checkpoint in that folder"


def _load_checked(path: Path) -> dict[str, Any]:
    try:
        # weights_only: tensors and plain containers only; a pickled global that is not on
        # torch's safe list (os.system, any class) is refused before it is looked up
        ckpt = load_weights_only(path, "checkpoint")
    except UnsafeCheckpointError as exc:
        raise CheckpointError(str(exc)) from None
    except UnreadableCheckpointError as exc:
        text = str(exc).replace("not a readable torch file", "not a readable checkpoint")
        if "is empty (0 bytes)" in text:
            text += ": not a readable checkpoint"
        raise CheckpointError(text) from None
    if not isinstance(ckpt, dict):
        raise CheckpointError(
            f"checkpoint: {str(path)!r} is not a readable checkpoint (holds a "
            f"{type(ckpt).__name__}, expected a dict)"
        )
    return ckpt


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load a checkpoint safely: ``torch.load(weights_only=True)`` on the CPU.

    Nothing in the file can run code: a pickle that references any callable or class
    outside torch's allow-list of tensor types is refused before anything is called.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        CheckpointError: empty, truncated or corrupt file, or one whose pickle would run code;
            the message names the newest other readable checkpoint in the same folder.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"checkpoint: {str(p)!r} does not exist")
    try:
        return _load_checked(p)
    except CheckpointError as exc:
        raise CheckpointError(str(exc) + _previous_good(p)) from None


class SafeCheckpointIO(TorchCheckpointIO):
    """Lightning checkpoint I/O of elm-snn: atomic saves, weights-only loads.

    Saves go to a temporary file in the checkpoint's own folder, are fsynced and renamed
    over the target (:func:`elm_snn._io.atomic_path`), so a full disk or a kill leaves the
    previous file intact; the file gets the umask's mode. Loads always go through
    :func:`load_checkpoint` (``weights_only=True``), whatever Lightning asks for.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None:
            raise TypeError("storage_options: not supported by elm-snn's checkpoint writer")
        with atomic_path(path) as tmp:
            torch.save(checkpoint, tmp)

    def load_checkpoint(
        self, path: Any, map_location: Any | None = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        return load_checkpoint(path)


def _check_compatible(saved: dict[str, Any], cfg: RunConfig, where: str) -> None:
    diffs = []
    for name in RunConfig.ARCHITECTURE_FIELDS:
        a, b = saved.get(name), cfg.to_dict().get(name)
        if a != b:
            diffs.append(f"{name}: checkpoint {a!r} vs requested {b!r}")
    if diffs:
        raise CheckpointMismatchError(
            f"{where} was made for another model/configuration: " + "; ".join(diffs)
        )


def _read_checkpoint_meta(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(checkpoint, hyperparameters)`` of a checkpoint written by :func:`train`."""
    ckpt = load_checkpoint(path)
    hp = ckpt.get("hyper_parameters")
    if not isinstance(hp, dict) or not isinstance(hp.get("config"), dict):
        raise CheckpointError(
            f"checkpoint: {str(path)!r} was not written by elm-snn's training engine "
            f"(no 'config' hyperparameters)"
        )
    return ckpt, hp
