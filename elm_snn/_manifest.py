"""Reuse a generator's output when its manifest matches: the one check behind every
offline data maker (spoken digits, NeuronIO simulations, ListOps, Pathfinder).

A generator writes, next to its files, a JSON manifest holding what defines the output
(its parameters, a format version) and, where it pays, each file's SHA-256. A later call
with the same definition finds the manifest, checks it and the files, and keeps them
instead of generating again. Imports only the standard library.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["file_sha256", "file_intact", "read_manifest", "matching_manifest"]


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_intact(path: str | os.PathLike, sha256: Any, size: Any = None) -> bool:
    """Whether ``path`` is a file with this SHA-256 (and, when ``size`` is given, this many
    bytes, checked first since it costs nothing)."""
    path = Path(path)
    if not path.is_file():
        return False
    if size is not None and path.stat().st_size != size:
        return False
    return file_sha256(path) == sha256


def read_manifest(path: str | os.PathLike) -> dict[str, Any] | None:
    """The manifest at ``path`` as a dict; ``None`` when it is missing, unreadable, not
    JSON or not a JSON object (then the output is generated again)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def matching_manifest(
    path: str | os.PathLike,
    wanted: Mapping[str, Any],
    *,
    files: Sequence[str] = (),
    hashes: str | None = None,
) -> dict[str, Any] | None:
    """The manifest at ``path`` if the output it describes can be reused, else ``None``.

    Args:
        path: the manifest file.
        wanted: keys that define the output and the values they must have (e.g.
            ``{"format_version": 1, "config": {...}}``); other keys are not compared.
        files: names of output files, in the manifest's folder, that must exist.
        hashes: key of the manifest's ``{file name: SHA-256}`` map; when given, each of
            ``files`` must still have its recorded hash.
    """
    manifest = read_manifest(path)
    if manifest is None or {k: manifest.get(k) for k in wanted} != dict(wanted):
        return None
    folder = Path(path).parent
    recorded = manifest.get(hashes) if hashes is not None else None
    if hashes is not None and not isinstance(recorded, dict):
        return None
    for name in files:
        if not (folder / name).is_file():
            return None
        if recorded is not None and not file_intact(folder / name, recorded.get(name)):
            return None
    return manifest
