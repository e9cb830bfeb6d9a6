"""Reading NeuronIO files of either kind, finding them in folders, and converting folders
to the compact format."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from elm_snn.data.neuronio.compact import read_neuronio_compact, write_neuronio_compact
from elm_snn.data.neuronio.container import NeuronIOFile, NeuronIOSample, read_neuronio_pickle

__all__ = [
    "read_neuronio_file",
    "find_neuronio_files",
    "iter_neuronio_simulations",
    "convert_neuronio_folder",
]

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def read_neuronio_file(path: str | os.PathLike, encoding: str | None = None) -> NeuronIOFile:
    """Read one NeuronIO file, either a pickle or our compact HDF5 (detected from the bytes)."""
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head == _HDF5_SIGNATURE:
        return read_neuronio_compact(path)
    return read_neuronio_pickle(path, encoding=encoding)


def find_neuronio_files(sources: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Path]:
    """Files of one or more folders (names containing ``sim__``), or the given files, sorted.

    Args:
        sources: a folder, a file, or a list of folders/files. Folders are searched
            non-recursively for regular files whose names contain ``sim__`` (the official rule),
            pickle or compact alike; files are taken as given.

    Raises:
        FileNotFoundError: a source does not exist, or nothing was found.
    """
    if isinstance(sources, str | os.PathLike):
        sources = [sources]
    found: list[Path] = []
    for src in sources:
        p = Path(src)
        if p.is_dir():
            found.extend(
                sorted(
                    f
                    for f in p.iterdir()
                    if "sim__" in f.name and f.is_file() and not f.name.startswith(".")
                )
            )
        elif p.is_file():
            found.append(p)
        else:
            raise FileNotFoundError(f"sources: {p} is neither a folder nor a file")
    if not found:
        raise FileNotFoundError(
            f"sources: no NeuronIO files (names containing 'sim__') in {[str(s) for s in sources]}"
        )
    return found


def iter_neuronio_simulations(
    sources: str | os.PathLike | Iterable[str | os.PathLike], encoding: str | None = None
) -> Iterator[NeuronIOSample]:
    """Yield every simulation of every file as dense arrays (see :class:`NeuronIOSample`).

    Files are read one at a time (pickle or compact), in :func:`find_neuronio_files` order.
    """
    for path in find_neuronio_files(sources):
        f = read_neuronio_file(path, encoding=encoding)
        for k in range(f.num_simulations):
            yield f.sample(k)


def convert_neuronio_folder(
    src: str | os.PathLike | Iterable[str | os.PathLike],
    dst: str | os.PathLike,
    *,
    overwrite: bool = False,
    encoding: str | None = None,
    verbose: bool = False,
) -> list[Path]:
    """Convert NeuronIO pickle files to the compact HDF5 format, one output per input.

    ``<dst>/<input name without suffix>.h5`` is written for each input (the name keeps
    ``sim__``, so the output folder is itself a NeuronIO folder for every reader here).
    Existing outputs are skipped unless ``overwrite``; writes are atomic, so an interrupted
    run can simply be restarted.

    Args:
        src: folder(s) or file(s), as for :func:`find_neuronio_files`.
        dst: output folder (created).
        overwrite: rewrite outputs that exist.
        encoding: see :func:`load_neuronio_pickle`.
        verbose: print one line per file.

    Returns:
        The output paths, in input order (skipped ones included).
    """
    files = find_neuronio_files(src)
    out_dir = Path(dst)
    out_dir.mkdir(parents=True, exist_ok=True)
    outputs: list[Path] = []
    names: set[str] = set()
    for f in files:
        out = out_dir / (f.stem + ".h5") if f.suffix else out_dir / (f.name + ".h5")
        if out.name in names:
            raise ValueError(f"src: two inputs map to the same output name {out.name}")
        names.add(out.name)
        if out.resolve() == f.resolve():
            raise ValueError(f"dst: output {out} would overwrite its input")
        outputs.append(out)
        if out.exists() and not overwrite:
            if verbose:
                print(f"skip {out} (exists)")
            continue
        data = read_neuronio_file(f, encoding=encoding)
        write_neuronio_compact(out, data)
        if verbose:
            print(
                f"{f.name} -> {out.name}: {data.num_simulations} simulations x "
                f"{data.duration_ms} ms, {data.input_times_ms.size} input spikes"
            )
    return outputs
