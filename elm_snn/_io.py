"""Small file-system helpers shared by the package (atomic writes, cache folders)."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "DiskFullError",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "cache_dir",
    "default_file_mode",
    "fsync_path",
]


def _umask() -> int:
    """The process's umask, read without changing it where the platform allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # no way to read it without setting it: restore at once
    os.umask(mask)
    return mask


def default_file_mode() -> int:
    """Mode of a newly created file under the current umask (``0o666 & ~umask``, 0644 for
    the usual umask 022), as ``open(path, "w")`` would give it."""
    return 0o666 & ~_umask()


def fsync_path(path: str | os.PathLike) -> None:
    """Flush a file's (or, on POSIX, a folder's) contents to the storage device."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) if Path(path).is_dir() else os.O_RDONLY
    try:
        fd = os.open(path, flags)
    except OSError:  # pragma: no cover - folders cannot be opened on Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse fsync on folders
        if not Path(path).is_dir():
            raise
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it onto ``path`` only on success.

    Readers never see a half-written file: the temporary file is created in the target's
    own folder (so the final ``os.replace`` is atomic on POSIX and Windows), given the
    mode the umask allows (``mkstemp`` would leave 0600), flushed to disk with ``fsync``
    and only then renamed; the folder is fsynced after the rename. On any error (a full
    disk included) the temporary file is removed and ``path`` keeps its previous contents.

    Args:
        path: final destination.
        suffix: suffix of the temporary file (defaults to the target's suffix, so
            libraries that pick a format from the extension, e.g. ``numpy.savez``, work).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with _atomic_path(target, suffix) as tmp:
            yield tmp
    except (OSError, RuntimeError) as exc:
        full = _disk_full(exc, target)
        if full is None:
            raise
        raise full from None


def _free_bytes(folder: Path) -> int | None:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


class DiskFullError(OSError):
    """Writing a file failed because its device is full (or over quota); the previous
    version of the file is intact. The message names the file and the free space."""


def _disk_full(exc: BaseException, target: Path) -> DiskFullError | None:
    """``exc`` as a :class:`DiskFullError` naming ``target`` if it means a full disk (an
    ``ENOSPC``/``EDQUOT`` OSError, or torch's "file write failed" when little space is left);
    None otherwise."""
    if isinstance(exc, DiskFullError):
        return exc
    free = _free_bytes(target.parent)
    if isinstance(exc, OSError):
        if exc.errno not in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            return None
    elif not ("write failed" in str(exc) or "enforce fail" in str(exc)):
        return None
    elif free is None or free > 64 * 2**20:
        return None  # a torch write error with space left: not a full disk
    where = f"{free} bytes ({free / 2**20:.1f} MiB)" if free is not None else "unknown"
    return DiskFullError(
        errno.ENOSPC,
        f"No space left on device: could not write {str(target)!r} (free space on its "
        f"device: {where}); the previous version of the file, if any, is intact",
    )


@contextlib.contextmanager
def _atomic_path(target: Path, suffix: str | None) -> Iterator[Path]:
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.name}.",
        suffix=suffix if suffix is not None else target.suffix,
        dir=target.parent,
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        os.chmod(tmp, default_file_mode())
        yield tmp
        fsync_path(tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    fsync_path(target.parent)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding=encoding)


def cache_dir(*parts: str) -> Path:
    """Return (and create) a writable cache folder for elm-snn.

    The root is ``$ELM_SNN_CACHE`` if set, else ``$XDG_CACHE_HOME/elm-snn``, else
    ``~/.cache/elm-snn``.
    """
    root = os.environ.get("ELM_SNN_CACHE")
    if root is None:
        xdg = os.environ.get("XDG_CACHE_HOME")
        root = (
            os.path.join(xdg, "elm-snn") if xdg else os.path.join(Path.home(), ".cache", "elm-snn")
        )
    folder = Path(root, *parts)
    folder.mkdir(parents=True, exist_ok=True)
    return folder
