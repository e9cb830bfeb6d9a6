"""Stopping a run on SIGINT/SIGTERM or an exception: :class:`TrainingInterrupted`, the
signal handler and ``interrupted.ckpt``."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback

from elm_snn._io import atomic_path
from elm_snn.tasks.base import NonFiniteLossError
from elm_snn.train.checkpoints import _readable

__all__ = [
    "TrainingInterrupted",
    "save_interrupted",
]


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped on SIGINT (Ctrl-C) or SIGTERM; the run can be resumed.

    Attributes:
        signal_name: ``"SIGINT"`` or ``"SIGTERM"``.
        exit_status: ``128 + signal number`` (130 for SIGINT, 143 for SIGTERM), what a shell
            reports for a process killed by that signal.
        out_dir: the run folder.
        checkpoint: the checkpoint to resume from (``interrupted.ckpt``), or ``None`` when
            the first epoch had not finished (``--resume`` then starts the run over).
    """

    def __init__(self, signum: int, out_dir: Path, checkpoint: Path | None, message: str) -> None:
        super().__init__(message)
        self.signal_name = signal.Signals(signum).name
        self.exit_status = 128 + int(signum)
        self.out_dir = out_dir
        self.checkpoint = checkpoint


class _Stop(BaseException):
    """Raised inside ``trainer.fit`` by our signal handler (not a KeyboardInterrupt, which
    Lightning turns into ``sys.exit(1)``)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class _InterruptCheckpoint(Callback):
    """Write ``interrupted.ckpt`` when training stops on an exception or a signal.

    It holds the state at the *start* of the interrupted epoch (a copy of ``last.ckpt``, the
    end of the previous epoch), not a mid-epoch state: resuming from it re-runs the whole
    interrupted epoch (training and validation), which reproduces the uninterrupted run
    exactly (see the module docstring). Interrupted in the first epoch, nothing is written
    (``--resume`` starts the run over).
    """

    def __init__(self, path: Path, last: Path) -> None:
        self.path = path
        self.last = last

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exc: BaseException
    ) -> None:
        if isinstance(exc, NonFiniteLossError) or not trainer.is_global_zero:
            return  # NaN weights are not worth keeping
        if trainer.state.fn != "fit":
            return
        save_interrupted(self.last, self.path)


def save_interrupted(last: Path, target: Path) -> Path | None:
    """Copy ``last`` to ``target`` atomically (``None`` when ``last`` is missing or unreadable)."""
    if not last.is_file() or not _readable(last):
        with contextlib.suppress(FileNotFoundError):
            target.unlink()  # a stale one from an earlier interruption would mislead
        return None
    try:
        with atomic_path(target) as tmp:
            shutil.copyfile(last, tmp)
    except OSError as save_error:  # pragma: no cover - best effort on the way out
        warnings.warn(f"could not save {target}: {save_error}", stacklevel=2)
        return None
    return target


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    """Turn SIGINT and SIGTERM into :class:`_Stop` while training runs (main thread only).

    A second signal while the first is being handled (saving ``interrupted.ckpt``) gets the
    default behaviour at once: a second Ctrl-C or ``kill`` ends the process."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    fired: list[int] = []

    def handler(signum: int, frame: Any) -> None:
        if fired:  # already stopping: the user insists
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        fired.append(signum)
        raise _Stop(signum)

    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)


def _interrupted(signum: int, out: Path) -> TrainingInterrupted:
    """The :class:`TrainingInterrupted` of a run stopped by ``signum``, after saving
    ``interrupted.ckpt`` (the start of the interrupted epoch, when one had finished)."""
    ckpt_dir = out / "checkpoints"
    saved = save_interrupted(ckpt_dir / "last.ckpt", ckpt_dir / "interrupted.ckpt")
    if saved is not None:
        how = f"resume with --resume (or --resume-from {saved})"
    else:
        how = "no epoch had finished: --resume starts the run over"
    name = signal.Signals(signum).name
    return TrainingInterrupted(
        signum, out, saved, f"training interrupted by {name} in {str(out)!r}; {how}"
    )
