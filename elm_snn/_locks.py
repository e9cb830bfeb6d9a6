"""One writer per folder: an advisory lock file that names its holder.

Two commands writing the same folder at once (two ``elm-snn train --out D``, two data
generators into one ``--out``) would interleave their files. :func:`folder_lock` lets one
process own a folder at a time: it creates ``FOLDER/.elm-snn.lock`` atomically (written in
full to a temporary file, then hard-linked into place, which fails if the lock exists), and
removes it when the block ends, however it ends (an exception, Ctrl-C, SIGTERM turned into
an exception). A process killed with SIGKILL or a power cut leaves the file behind; the next
process finds that the recorded process no longer runs (same host, pid gone or started at
another time than recorded) and takes the lock over. A lock held by a live process is
refused with :class:`FolderLockedError`, naming the holder's pid, command and start time.
A lock held by the parent of a ``multiprocessing`` worker is refused at once, never waited
for (:class:`ParentHoldsLockError`): with the ``spawn`` start method a worker re-runs the top
level of a script that has no ``if __name__ == "__main__":`` guard, and would otherwise wait
for its own parent forever.

The lock is advisory: it keeps elm-snn commands apart, not other programs.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "GENERATOR_LOCK_WAIT_S",
    "LOCK_NAME",
    "FolderLockedError",
    "ParentHoldsLockError",
    "folder_lock",
]

#: Name of the lock file inside the locked folder.
LOCK_NAME = ".elm-snn.lock"
#: How long a data generator waits for another one writing the same folder (seconds).
GENERATOR_LOCK_WAIT_S = 6 * 3600.0


class FolderLockedError(FileExistsError):
    """Another live process holds the folder's lock (nothing in the folder was touched)."""


class ParentHoldsLockError(FolderLockedError):
    """This process is a ``multiprocessing`` worker and its parent holds the lock: waiting
    would never end (the parent waits for its workers)."""


def _is_worker_of(info: dict[str, Any]) -> bool:
    """Whether this process is a ``multiprocessing`` worker whose parent is the lock's
    recorded holder (same host, the holder's pid is our parent's)."""
    import multiprocessing

    # a spawn worker imports the parent's main script before its bootstrap sets
    # parent_process(); meanwhile multiprocessing marks it as "inheriting"
    inheriting = getattr(multiprocessing.current_process(), "_inheriting", False)
    if multiprocessing.parent_process() is None and not inheriting:
        return False
    return info.get("host") == socket.gethostname() and info.get("pid") == os.getppid()


def _process_start_ticks(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot (Linux ``/proc``), None if unknown.
    Recorded in the lock so that a recycled pid is not mistaken for the holder."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            stat = fh.read()
        return int(stat[stat.rindex(")") + 2 :].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return False
    return True


def _holder_is_alive(info: dict[str, Any]) -> bool:
    """Whether the process recorded in a lock still runs (True when it cannot be told:
    another host, or an unreadable record)."""
    if info.get("host") != socket.gethostname():
        return True
    pid = info.get("pid")
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        return True
    if not _pid_alive(pid):
        return False
    recorded, now = info.get("start_ticks"), _process_start_ticks(pid)
    return recorded is None or now is None or recorded == now


def _read_lock(path: Path) -> dict[str, Any] | None:
    """The lock's record; None if it vanished; {} if it cannot be parsed."""
    try:
        with open(path, "rb") as fh:
            text = fh.read(64 * 1024)
    except FileNotFoundError:
        return None
    except OSError:
        return {}
    try:
        info = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def _describe(info: dict[str, Any]) -> str:
    if not info:
        return "an unknown process (the lock file cannot be read)"
    started = info.get("started")
    when = (
        time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started))
        if isinstance(started, int | float)
        else "?"
    )
    command = str(info.get("command", "?"))
    if len(command) > 120:
        command = command[:117] + "..."
    return f"process {info.get('pid', '?')} on {info.get('host', '?')} (started {when}: {command})"


def _try_create(lock: Path, record: bytes) -> bool:
    """Create ``lock`` holding ``record`` in one step; False if it exists."""
    fd, tmp = tempfile.mkstemp(prefix=".elm-snn.lock.", dir=lock.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(record)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, lock)  # atomic: fails if the lock exists, never half-written
        except FileExistsError:
            return False
        except OSError:  # file systems without hard links: exclusive create instead
            try:
                fd2 = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                return False
            with os.fdopen(fd2, "wb") as fh:
                fh.write(record)
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _acquire(folder: Path, what: str) -> Path:
    lock = folder / LOCK_NAME
    record = json.dumps(
        {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "start_ticks": _process_start_ticks(os.getpid()),
            "started": time.time(),
            "command": " ".join(sys.argv) or sys.executable,
        }
    ).encode("utf-8")
    for _ in range(5):
        if _try_create(lock, record):
            return lock
        info = _read_lock(lock)
        if info is None:
            continue  # released between our two steps: try again
        if info and _holder_is_alive(info):
            if _is_worker_of(info):
                raise ParentHoldsLockError(
                    f"{what}: {str(folder)!r} is in use by this worker's own parent, "
                    f"{_describe(info)}. A multiprocessing worker started with 'spawn' re-runs "
                    "the top level of the script it came from; put the script's work under "
                    "'if __name__ == \"__main__\":' so that only the parent runs it"
                )
            raise FolderLockedError(
                f"{what}: {str(folder)!r} is in use by {_describe(info)}; wait for it to "
                f"finish or choose another folder (if no such process runs, delete "
                f"{str(lock)!r})"
            )
        if not info:
            # unreadable: a lock is written in full before it appears, so this is not a
            # lock being created; an old one is stale, a fresh one may be someone's
            try:
                age = time.time() - lock.stat().st_mtime
            except FileNotFoundError:
                continue
            if age < 60:
                raise FolderLockedError(
                    f"{what}: {str(folder)!r} holds an unreadable lock file {str(lock)!r} "
                    f"written {age:.0f} s ago; if no elm-snn command is writing there, delete it"
                )
        # stale (its process is gone): move it aside atomically, so that of two processes
        # that both found it stale only one removes it
        aside = folder / f"{LOCK_NAME}.stale.{os.getpid()}"
        try:
            os.replace(lock, aside)
        except FileNotFoundError:
            continue
        if _read_lock(aside) != info:  # another process took the lock meanwhile: give it back
            with contextlib.suppress(OSError):
                os.link(aside, lock)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(aside)
    raise FolderLockedError(
        f"{what}: could not take the lock {str(lock)!r} (other processes keep taking it)"
    )


@contextlib.contextmanager
def folder_lock(
    folder: str | os.PathLike,
    what: str = "out",
    *,
    wait: float = 0.0,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[Path]:
    """Hold ``FOLDER/.elm-snn.lock`` for the duration of the ``with`` block.

    The folder is created if needed (with its parents). Yields the lock's path.

    Args:
        folder: the folder to own.
        what: the argument that named the folder, for messages (``"out"``, ``"--out"``).
        wait: seconds to wait for a live holder to finish before refusing (0: refuse at
            once). Data generators wait, so two of them writing one folder run in turn.
        on_wait: called once with a message naming the holder when waiting starts.

    Raises:
        FolderLockedError: another live process holds the lock (its pid, host, start time
            and command are named), after ``wait`` seconds.
        ParentHoldsLockError: this process is a ``multiprocessing`` worker and its parent
            holds the lock (at once, whatever ``wait`` is).
        PermissionError: the folder cannot be created or written.

    Example::

        with folder_lock(out_dir, "--out"):
            ...  # write the folder's files
    """
    path = Path(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PermissionError(
            f"{what}: cannot create the folder {str(path)!r} ({exc.strerror or exc})"
        ) from None
    deadline = time.monotonic() + max(0.0, float(wait))
    try:
        while True:
            try:
                lock = _acquire(path, what)
                break
            except FolderLockedError as exc:
                if isinstance(exc, ParentHoldsLockError) or time.monotonic() >= deadline:
                    raise
                if on_wait is not None:
                    on_wait(f"waiting: {exc}".split("; wait for it")[0])
                    on_wait = None
                time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
    except PermissionError as exc:
        raise PermissionError(
            f"{what}: cannot write the lock file into {str(path)!r} ({exc.strerror or exc})"
        ) from None
    try:
        yield lock
    finally:
        info = _read_lock(lock)
        if info and info.get("pid") == os.getpid():
            with contextlib.suppress(FileNotFoundError):
                lock.unlink()
