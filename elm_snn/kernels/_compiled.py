"""Build, cache and load the compiled ELM loops (a small C++ torch operator library).

The source (:mod:`._cpp_source`) is compiled on first use with the system C++ compiler
(``$CXX``, else ``c++``/``g++``/``clang++``) against the *installed* torch's headers and
libraries, directly (no ninja, no pybind11, no Python headers), into
``elm_snn._io.cache_dir("kernels", <key>)`` where ``<key>`` hashes the source, the torch
version and ABI, the compiler and the flags. A file lock serialises concurrent builds of
the same key (e.g. ``pytest -n 2``); the library is written atomically. When compiling or
loading fails (no compiler, an error), :func:`compiled_ops` warns once and returns
``None``: the fused kernel then runs its pure-PyTorch loops.

The first build takes from about 15 s to a few minutes (184 s measured on a shared,
loaded 2-core VM) and says so on stderr: what is built and why, where it
goes, how to skip it, and how long it took (a new user should not think the first forward
pass hangs). Build it ahead of time (after installing, in a Docker image, before a batch
job) with ``python -c "import elm_snn.kernels as k; k.compiled_available()"``; set
``ELM_SNN_COMPILED=0`` to never build or use the compiled loops (the pure-PyTorch loops
then run: the same results, slower on CPU).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from .._io import atomic_path, cache_dir
from ._cpp_source import SOURCE

__all__ = ["compiled_available", "compiled_ops", "library_path", "use_compiled"]

_FLAGS = ["-O3", "-std=c++20", "-fPIC", "-shared", "-fno-math-errno", "-w"]
#: Compiled with OpenMP, ``at::parallel_for`` (inline in ATen's headers) runs the loops' batch
#: blocks on torch's intra-op threads; the library then uses the ``libgomp`` torch already
#: loaded (same soname). A compiler without OpenMP builds a one-thread library instead.
_OPENMP_FLAGS = ["-fopenmp"]
#: Seconds a build may take before it is abandoned (and the fallback used).
BUILD_TIMEOUT_S = 600

_log = logging.getLogger(__name__)
_lock = threading.Lock()
_state: dict[str, Any] = {"ops": None, "tried": False, "enabled": True}


def _compiler() -> str | None:
    explicit = os.environ.get("CXX")
    if explicit:
        return shutil.which(explicit) or (explicit if Path(explicit).is_file() else None)
    for name in ("c++", "g++", "clang++"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _build_key(compiler: str) -> str:
    parts = [
        SOURCE,
        torch.__version__,
        str(torch._C._GLIBCXX_USE_CXX11_ABI),
        compiler,
        " ".join(_FLAGS + _OPENMP_FLAGS),
        platform.system(),
        platform.machine(),
        sys.version.split()[0],
    ]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def library_path() -> Path | None:
    """Where the compiled library for this torch/compiler lives (``None``: no compiler)."""
    compiler = _compiler()
    if compiler is None:
        return None
    key = _build_key(compiler)
    return cache_dir("kernels", key) / f"elm_snn_loops_{key}.so"


def _namespace(path: Path) -> str:
    return path.stem  # elm_snn_loops_<key>: unique per build


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with open(path, "a+") as handle:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no lock, atomic rename still holds
            yield
            return
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _build(path: Path, compiler: str) -> None:
    if platform.system() not in ("Linux", "Darwin"):
        raise RuntimeError(f"compiling is supported on Linux/macOS, not {platform.system()}")
    source = SOURCE.replace("@NS@", _namespace(path))
    src_path = path.with_suffix(".cpp")
    with atomic_path(src_path) as tmp:
        tmp.write_text(source)
    torch_root = Path(torch.__file__).resolve().parent
    includes = [f"-I{torch_root / 'include'}"]
    lib_dirs = [str(torch_root / "lib")]
    link = [f"-L{d}" for d in lib_dirs] + [f"-Wl,-rpath,{d}" for d in lib_dirs]
    link += ["-lc10", "-ltorch_cpu", "-ltorch"]
    abi = f"-D_GLIBCXX_USE_CXX11_ABI={int(torch._C._GLIBCXX_USE_CXX11_ABI)}"
    extra = ["-undefined", "dynamic_lookup"] if platform.system() == "Darwin" else []
    with atomic_path(path) as tmp:
        base = [compiler, *_FLAGS, abi, *includes, str(src_path), "-o", str(tmp), *link, *extra]
        proc = subprocess.run(
            base[:1] + _OPENMP_FLAGS + base[1:],
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT_S,
        )
        if proc.returncode != 0:  # e.g. Apple clang without OpenMP: build for one thread
            _log.info("elm_snn: building without OpenMP (one thread): %s", proc.stderr[-500:])
            proc = subprocess.run(base, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
        if proc.returncode != 0:
            raise RuntimeError(f"{Path(compiler).name} failed:\n{proc.stderr[-2000:]}")


def _load() -> Any:
    compiler = _compiler()
    if compiler is None:
        raise RuntimeError("no C++ compiler found (set $CXX or install g++/clang++)")
    path = library_path()
    assert path is not None
    if not path.is_file():
        with _file_lock(path.with_suffix(".lock")):
            if not path.is_file():
                _log.info("elm_snn: building the compiled ELM loops once into %s", path.parent)
                _announce(
                    "elm-snn: compiling the fused kernel's C++ loops once for this torch and "
                    f"compiler ({Path(compiler).name}); this takes from about 15 s to a few "
                    f"minutes (a busy machine) and is cached in {path.parent}. Set "
                    "ELM_SNN_COMPILED=0 to skip it (pure-PyTorch loops: the same results, "
                    "slower on CPU)."
                )
                start = time.perf_counter()
                try:
                    _build(path, compiler)
                except Exception:
                    _announce(
                        f"elm-snn: the build failed after {time.perf_counter() - start:.0f} s "
                        "(the reason follows as a warning)"
                    )
                    raise
                _announce(f"elm-snn: built in {time.perf_counter() - start:.0f} s")
    torch.ops.load_library(str(path))
    return getattr(torch.ops, _namespace(path))


def _announce(message: str) -> None:
    """One line on stderr (not a log record: shown whatever the logging setup)."""
    print(message, file=sys.stderr, flush=True)


def compiled_ops() -> Any | None:
    """The compiled operators (``torch.ops.<namespace>``), building them on first use.

    Returns ``None`` when they are disabled (:func:`use_compiled`, ``ELM_SNN_COMPILED=0``)
    or cannot be built; the first failure emits one ``RuntimeWarning`` with the reason.
    """
    if not _state["enabled"] or os.environ.get("ELM_SNN_COMPILED", "1") == "0":
        return None
    if _state["tried"]:
        return _state["ops"]
    with _lock:
        if not _state["tried"]:
            try:
                _state["ops"] = _load()
            except Exception as err:  # noqa: BLE001 - any failure means: use the fallback
                warnings.warn(
                    "elm_snn: the compiled ELM loops could not be built or loaded; using the "
                    f"pure-PyTorch fused kernel instead (slower). Reason: {err}",
                    RuntimeWarning,
                    stacklevel=3,
                )
                _state["ops"] = None
            _state["tried"] = True
    return _state["ops"]


def compiled_available() -> bool:
    """Whether the compiled loops are in use (builds them on first call)."""
    return compiled_ops() is not None


@contextlib.contextmanager
def use_compiled(enabled: bool) -> Iterator[None]:
    """Enable or disable the compiled loops inside the block (process-wide, not nested-safe
    across threads); the pure-PyTorch loops give the same results to round-off."""
    before = _state["enabled"]
    _state["enabled"] = enabled
    try:
        yield
    finally:
        _state["enabled"] = before


def _reset_for_tests() -> None:
    """Forget the build attempt (the next :func:`compiled_ops` tries again)."""
    with _lock:
        _state["ops"] = None
        _state["tried"] = False
