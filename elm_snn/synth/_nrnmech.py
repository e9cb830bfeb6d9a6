"""Compile (once, cached) and load elm-snn's NMODL mechanisms into NEURON.

The ``.mod`` files shipped in ``elm_snn/synth/mechanisms`` are compiled with NEURON's
``nrnivmodl`` into ``cache_dir("nrnmech", <key>)``, where the key hashes the ``.mod``
sources, the NEURON version and install location, and the machine architecture. The build
runs in a private temporary folder that is renamed into place when finished, under a file
lock, so parallel first uses neither collide nor see half-built libraries. Loading is guarded
so that one process loads the library at most once (NEURON refuses to register a mechanism
name twice).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from elm_snn._io import cache_dir

__all__ = [
    "MECHANISM_NAMES",
    "mechanism_sources",
    "mechanism_key",
    "compile_mechanisms",
    "load_mechanisms",
]

#: Point processes defined by the shipped ``.mod`` files (checked after loading).
MECHANISM_NAMES = ("ElmSnnNMDA",)

_MOD_DIR = Path(__file__).with_name("mechanisms")
_LOCK = threading.Lock()
_LOADED: Path | None = None


def mechanism_sources() -> list[Path]:
    """Return the shipped ``.mod`` files, sorted by name."""
    files = sorted(_MOD_DIR.glob("*.mod"))
    if not files:
        raise RuntimeError(f"no .mod files found in {_MOD_DIR}; the installation is incomplete")
    return files


def mechanism_key() -> str:
    """Return the cache key (16 hex digits) of the compiled mechanism library.

    It hashes the ``.mod`` file names and contents, NEURON's version and install folder (the
    compiled library links against that install), the OS and the CPU architecture.
    """
    import neuron

    digest = hashlib.sha256()
    for f in mechanism_sources():
        digest.update(f.name.encode())
        digest.update(b"\0")
        digest.update(f.read_bytes())
        digest.update(b"\0")
    for part in (
        neuron.__version__,
        str(Path(neuron.__file__).resolve().parent),
        sys.platform,
        platform.machine(),
    ):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def _find_nrnivmodl() -> str:
    candidates = [Path(sys.executable).parent / "nrnivmodl"]
    which = shutil.which("nrnivmodl")
    if which:
        candidates.append(Path(which))
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return str(c)
    raise RuntimeError(
        "NEURON's 'nrnivmodl' was not found (looked next to the Python interpreter "
        f"{sys.executable} and on PATH). Install NEURON with 'pip install neuron' "
        "(or 'pip install elm-snn[synth]') in this environment."
    )


def _library_in(build: Path) -> Path | None:
    for name in ("libnrnmech.so", "libnrnmech.dylib", "nrnmech.dll"):
        hits = sorted(build.glob(f"*/{name}")) + sorted(build.glob(f"*/.libs/{name}"))
        if hits:
            return hits[0]
    return None


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - non-POSIX: fall back to the atomic rename only
        yield
        return
    with open(path, "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def compile_mechanisms() -> Path:
    """Compile the shipped mechanisms if needed; return the path of the shared library.

    Needs a C/C++ compiler (``gcc``/``cc``) and NEURON's ``nrnivmodl``.

    Raises:
        RuntimeError: ``nrnivmodl`` is missing or the compilation fails (the compiler output
            is included in the message).
    """
    root = cache_dir("nrnmech", mechanism_key())
    final = root / "build"
    lib = _library_in(final)
    if lib is not None:
        return lib
    with _file_lock(root / "build.lock"):
        lib = _library_in(final)
        if lib is not None:  # another process finished meanwhile
            return lib
        nrnivmodl = _find_nrnivmodl()
        if shutil.which("gcc") is None and shutil.which("cc") is None:
            raise RuntimeError(
                "compiling NEURON mechanisms needs a C compiler (gcc or cc) on PATH; none found"
            )
        tmp = Path(tempfile.mkdtemp(prefix="build-", dir=root))
        try:
            for f in mechanism_sources():
                shutil.copyfile(f, tmp / f.name)
            env = dict(os.environ)
            env["PATH"] = os.pathsep.join([str(Path(nrnivmodl).parent), env.get("PATH", "")])
            proc = subprocess.run(
                [nrnivmodl], cwd=tmp, env=env, capture_output=True, text=True, check=False
            )
            if proc.returncode != 0 or _library_in(tmp) is None:
                raise RuntimeError(
                    f"nrnivmodl failed (exit code {proc.returncode}) in {tmp}:\n"
                    f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
                )
            if final.exists():  # a stale, incomplete folder (no library inside)
                shutil.rmtree(final)
            os.replace(tmp, final)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    lib = _library_in(final)
    if lib is None:  # pragma: no cover - defensive
        raise RuntimeError(f"compiled mechanism library missing in {final}")
    return lib


def load_mechanisms() -> Path:
    """Compile (if needed) and load the mechanisms into this process's NEURON, once.

    Returns:
        Path of the loaded shared library. Later calls return the same path without
        loading again.

    Raises:
        RuntimeError: the mechanisms are already registered in NEURON from another library
            (e.g. a ``nrnmech`` folder auto-loaded from the working directory) with a
            different origin, or loading fails.
    """
    global _LOADED
    with _LOCK:
        if _LOADED is not None:
            return _LOADED
        from neuron import h

        lib = compile_mechanisms()
        if all(hasattr(h, name) for name in MECHANISM_NAMES):
            raise RuntimeError(
                f"NEURON already defines {MECHANISM_NAMES} from a library elm-snn did not load; "
                "refusing to load a second copy (start a fresh Python process)"
            )
        ok = h.nrn_load_dll(str(lib))
        if not ok or not all(hasattr(h, name) for name in MECHANISM_NAMES):
            raise RuntimeError(f"loading the NEURON mechanism library {lib} failed")
        _LOADED = lib
        return lib
