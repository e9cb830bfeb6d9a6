"""Small file-system helpers shared by the package (atomic writes, cache folders)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text", "cache_dir"]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it onto ``path`` only on success.

    Readers never see a half-written file: the final ``os.replace`` is atomic on POSIX
    and Windows when source and target live on the same file system, which is why the
    temporary file is created in the target's own folder.

    Args:
        path: final destination.
        suffix: suffix of the temporary file (defaults to the target's suffix, so
            libraries that pick a format from the extension, e.g. ``numpy.savez``, work).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.name}.",
        suffix=suffix if suffix is not None else target.suffix,
        dir=target.parent,
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


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
