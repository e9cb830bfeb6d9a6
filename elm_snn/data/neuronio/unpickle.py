"""Restricted, allocation-bounded unpickling of NeuronIO pickle files (see the **Safety** note of
:mod:`elm_snn.data.neuronio`)."""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from elm_snn.data.neuronio.layout import NeuronIOFormatError

__all__ = [
    "load_neuronio_pickle",
]


def _allowed_globals() -> dict[tuple[str, str], Any]:
    """(module, name) -> object for every global a NeuronIO pickle may reference."""
    reconstruct = np.ndarray.__reduce__(np.zeros(1))[0]  # numpy's _reconstruct
    scalar = np.float64(0.0).__reduce__()[0]  # numpy's scalar
    frombuffer = np.zeros(2).__reduce_ex__(5)[0]  # numpy's _frombuffer (protocol 5)
    import _codecs
    import builtins

    allowed: dict[tuple[str, str], Any] = {}
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(mod, "_reconstruct")] = reconstruct
        allowed[(mod, "scalar")] = scalar
    for mod in ("numpy.core.numeric", "numpy._core.numeric"):
        allowed[(mod, "_frombuffer")] = frombuffer
    allowed[("numpy", "ndarray")] = np.ndarray
    allowed[("numpy", "dtype")] = np.dtype
    allowed[("_codecs", "encode")] = _codecs.encode
    for mod in ("builtins", "__builtin__"):
        # bytes: protocol 2 pickles the (empty) buffer of a 0-length array as bytes()
        for name in ("set", "frozenset", "bytes", "bytearray"):
            allowed[(mod, name)] = getattr(builtins, name)
    return allowed


#: A file of ``n`` bytes may make the reader allocate at most this many bytes per file byte
#: (plus :data:`_ALLOC_SLACK`) through the constructors it calls: numpy arrays hold about one
#: byte per file byte, object arrays 8 (a pointer) per element of at least one file byte.
_ALLOC_PER_FILE_BYTE = 16
_ALLOC_SLACK = 16 * 2**20


class _AllocationBudget:
    """What one file may still make the restricted unpickler allocate (bytes)."""

    def __init__(self, file_size: int) -> None:
        self.file_size = int(file_size)
        self.limit = _ALLOC_PER_FILE_BYTE * self.file_size + _ALLOC_SLACK
        self.left = self.limit

    def charge(self, nbytes: int, what: str) -> None:
        if nbytes > self.left:
            raise NeuronIOFormatError(
                f"refusing to allocate {nbytes} bytes for {what}: a {self.file_size}-byte file "
                f"may make the reader allocate at most {self.limit} bytes in all "
                f"({_ALLOC_PER_FILE_BYTE} per file byte + {_ALLOC_SLACK}); the file is "
                f"malformed or not a NeuronIO pickle"
            )
        self.left -= nbytes


def _shape_elements(shape: Any, what: str) -> int:
    if isinstance(shape, int | np.integer):
        shape = (shape,)
    if not isinstance(shape, tuple) or not all(
        isinstance(d, int | np.integer) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise NeuronIOFormatError(f"{what}: expected a shape of non-negative ints, got {shape!r}")
    n = 1
    for d in shape:
        n *= int(d)
    return n


class _GuardedArray(np.ndarray):
    """ndarray made by the restricted unpickler: its ``__setstate__`` (the pickle's BUILD)
    charges the array's size to the file's budget before numpy allocates it. Converted back
    to plain ``np.ndarray`` before the loaded object is returned."""

    def __setstate__(self, state: Any) -> None:
        budget: _AllocationBudget = self.__dict__.get("_budget")  # type: ignore[assignment]
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise NeuronIOFormatError(f"malformed numpy array state ({type(state).__name__})")
        shape, dtype, rawdata = state[-4], state[-3], state[-1]
        n = _shape_elements(shape, "numpy array state")
        if not isinstance(dtype, np.dtype):
            raise NeuronIOFormatError(f"numpy array state: expected a dtype, got {dtype!r}")
        if dtype.hasobject:
            if not isinstance(rawdata, list) or len(rawdata) != n:
                raise NeuronIOFormatError(
                    f"numpy object array state: shape {shape} needs {n} items, the file holds "
                    f"{len(rawdata) if isinstance(rawdata, list) else type(rawdata).__name__}"
                )
        if budget is not None:
            budget.charge(n * dtype.itemsize, f"a numpy array of shape {shape} and dtype {dtype}")
        super().__setstate__(state)


def _plain_arrays(obj: Any, seen: dict[int, Any] | None = None) -> Any:
    """``obj`` with every :class:`_GuardedArray` replaced by a plain ndarray view."""
    seen = {} if seen is None else seen
    key = id(obj)
    if key in seen:
        return seen[key]
    if isinstance(obj, _GuardedArray):
        out = obj.view(np.ndarray)
        seen[key] = out
        if out.dtype.hasobject:
            flat = out.reshape(-1)
            for i in range(flat.size):
                flat[i] = _plain_arrays(flat[i], seen)
        return out
    if isinstance(obj, dict):
        seen[key] = obj
        for k in list(obj):
            obj[k] = _plain_arrays(obj[k], seen)
        return obj
    if isinstance(obj, list):
        seen[key] = obj
        for i, v in enumerate(obj):
            obj[i] = _plain_arrays(v, seen)
        return obj
    if isinstance(obj, tuple):
        out = tuple(_plain_arrays(v, seen) for v in obj)
        seen[key] = out
        return out
    return obj


def _expanded_size(root: Any, limit: int) -> int:
    """Bytes the loaded object takes once every reference is expanded, as ``np.asarray``
    expands a nested list: a list shared 1,000 times through the pickle's memo costs 1,000
    times its contents. Computed once per distinct object (memoised by id), so the walk is
    cheap however large the expansion; refused as soon as it passes ``limit``. A container
    that contains itself is refused too (``np.asarray`` would recurse forever)."""
    sizes: dict[int, int] = {}
    in_progress: set[int] = set()
    keep_alive: list[Any] = []

    def size(obj: Any) -> int:
        key = id(obj)
        known = sizes.get(key)
        if known is not None:
            return known
        if isinstance(obj, np.ndarray):
            total = int(obj.nbytes)
            if obj.dtype.hasobject:
                total += sum(size(v) for v in obj.reshape(-1).tolist())
        elif isinstance(obj, list | tuple | set | frozenset | dict):
            if key in in_progress:
                raise NeuronIOFormatError("a container of the file contains itself")
            in_progress.add(key)
            items = obj.items() if isinstance(obj, dict) else ((v, None) for v in obj)
            total = 8 * (len(obj) + 1)
            for k, v in items:
                total += size(k) + (size(v) if v is not None else 0)
                if total > limit:
                    break
            in_progress.discard(key)
        elif isinstance(obj, bytes | bytearray | str):
            total = 8 + len(obj)
        else:
            total = 8
        if total > limit:
            raise NeuronIOFormatError(
                f"its content expands to more than {limit} bytes (containers shared through "
                f"the pickle's memo and expanded, e.g. by numpy, would need that much memory)"
            )
        sizes[key] = total
        keep_alive.append(obj)  # ids stay unique while the walk runs
        return total

    return size(root)


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only numpy array/scalar/dtype globals and builtin containers,
    and bounds what the constructors it calls may allocate (see :class:`_AllocationBudget`)."""

    _ALLOWED: dict[tuple[str, str], Any] | None = None

    def __init__(self, file: Any, *, encoding: str, file_size: int) -> None:
        super().__init__(file, encoding=encoding)
        self.budget = _AllocationBudget(file_size)
        self._guarded = self._guarded_constructors()

    def _guarded_constructors(self) -> dict[Any, Any]:
        """Wrappers of the allowed constructors whose size comes from the file."""
        budget = self.budget
        allowed = self._allowed()
        reconstruct = allowed[("numpy.core.multiarray", "_reconstruct")]
        scalar = allowed[("numpy.core.multiarray", "scalar")]

        def sized(kind: type) -> Any:
            def make(*args: Any) -> Any:
                if args and isinstance(args[0], int | np.integer) and not isinstance(args[0], bool):
                    if args[0] < 0:
                        raise NeuronIOFormatError(f"{kind.__name__}({args[0]}): negative size")
                    budget.charge(int(args[0]), f"{kind.__name__}({args[0]})")
                return kind(*args)

            return make

        def guarded_ndarray(shape: Any, dtype: Any = float, *args: Any, **kwargs: Any) -> Any:
            n = _shape_elements(shape, "numpy.ndarray")
            dt = np.dtype(dtype)
            budget.charge(n * dt.itemsize, f"numpy.ndarray({shape}, {dt})")
            return np.ndarray(shape, dt, *args, **kwargs)

        def guarded_reconstruct(subtype: Any, shape: Any, dtype: Any) -> Any:
            if subtype is not np.ndarray and subtype is not guarded_ndarray:
                raise NeuronIOFormatError(f"refusing to reconstruct a {subtype!r}, not an ndarray")
            n = _shape_elements(shape, "numpy array")
            dt = np.dtype(dtype)
            budget.charge(n * dt.itemsize, f"a numpy array of shape {shape} and dtype {dt}")
            arr = reconstruct(_GuardedArray, shape, dt)
            arr.__dict__["_budget"] = budget
            return arr

        def guarded_scalar(dtype: Any, *args: Any) -> Any:
            if not isinstance(dtype, np.dtype):
                raise NeuronIOFormatError(f"numpy scalar: expected a dtype, got {dtype!r}")
            budget.charge(dtype.itemsize, f"a numpy scalar of dtype {dtype}")
            return scalar(dtype, *args)

        def guarded_encode(obj: Any, encoding: str = "utf-8", errors: str = "strict") -> Any:
            # Python 3 pickles bytes for protocol 2 as _codecs.encode(str, "latin1")
            if not isinstance(obj, str) or str(encoding).lower().replace("_", "-") not in (
                "latin1",
                "latin-1",
                "iso-8859-1",
                "ascii",
                "utf-8",
                "utf8",
            ):
                raise NeuronIOFormatError(
                    f"refusing _codecs.encode of a {type(obj).__name__} with codec {encoding!r}"
                )
            return allowed[("_codecs", "encode")](obj, encoding, errors)

        return {
            reconstruct: guarded_reconstruct,
            scalar: guarded_scalar,
            allowed[("_codecs", "encode")]: guarded_encode,
            np.ndarray: guarded_ndarray,
            bytes: sized(bytes),
            bytearray: sized(bytearray),
        }

    @classmethod
    def _allowed(cls) -> dict[tuple[str, str], Any]:
        if cls._ALLOWED is None:
            cls._ALLOWED = _allowed_globals()
        return cls._ALLOWED

    def find_class(self, module: str, name: str) -> Any:
        obj = self._allowed().get((module, name))
        if obj is None:
            raise NeuronIOFormatError(
                f"refusing to load global '{module}.{name}': NeuronIO files may only reference "
                "numpy arrays, numpy scalars/dtypes and builtin containers (the file is "
                "malformed or not safe to unpickle)"
            )
        return self._guarded.get(obj, obj)

    def persistent_load(self, pid: Any) -> Any:
        raise NeuronIOFormatError("refusing to load a persistent id: not a NeuronIO file")


_OPCODE_ARGS: dict[int, int] | None = None
_TWO_LINES = -10  # GLOBAL and INST: module and name, each up to a newline


def _opcode_args() -> dict[int, int]:
    """Opcode byte -> argument size (``>= 0`` fixed, negative: pickletools' variable kinds)."""
    global _OPCODE_ARGS
    if _OPCODE_ARGS is None:
        import pickletools

        table = {}
        for op in pickletools.opcodes:
            n = 0 if op.arg is None else op.arg.n
            if op.name in ("GLOBAL", "INST"):
                n = _TWO_LINES
            table[op.code.encode("latin-1")[0]] = n
        _OPCODE_ARGS = table
    return _OPCODE_ARGS


def _max_memo_index(data: bytes) -> int:
    """Largest memo index the PUT/BINPUT/LONG_BINPUT opcodes of ``data`` ask for (-1: none).

    The unpickler grows its memo to twice the index it is given (8 bytes per slot, all
    written), so a 40-byte file with ``LONG_BINPUT 2**28`` would cost 4 GiB. A pickler
    numbers memo entries 0, 1, 2, ..., so an index is never above the number of opcodes,
    i.e. the file's size. The walk only steps over the opcodes (it builds nothing); it stops
    at the first STOP or at anything it does not know, which the unpickler then reports.
    """
    args = _opcode_args()
    pos, end, worst = 0, len(data), -1
    number = int.from_bytes
    while pos < end:
        code = data[pos]
        pos += 1
        n = args.get(code)
        if n is None:
            break
        if n > 0:
            if code in (0x71, 0x72):  # BINPUT, LONG_BINPUT
                worst = max(worst, number(data[pos : pos + n], "little"))
            pos += n
        elif n == 0:
            if code == 0x2E:  # STOP
                break
        elif n == -1:  # argument up to a newline
            stop = data.find(b"\n", pos)
            if stop < 0:
                break
            if code == 0x70:  # PUT
                try:
                    worst = max(worst, int(data[pos:stop]))
                except ValueError:
                    break
            pos = stop + 1
        elif n == _TWO_LINES:
            stop = data.find(b"\n", data.find(b"\n", pos) + 1)
            if stop < 0:
                break
            pos = stop + 1
        elif n == -2:  # length in one byte
            pos += 1 + data[pos] if pos < end else 1
        elif n == -3:  # length in four bytes, signed
            pos += 4 + number(data[pos : pos + 4], "little", signed=True)
        elif n == -4:  # four bytes, unsigned
            pos += 4 + number(data[pos : pos + 4], "little")
        elif n == -5:  # eight bytes, unsigned
            pos += 8 + number(data[pos : pos + 8], "little")
        else:  # pragma: no cover - a new pickletools argument kind
            break
    return worst


def _restricted_loads(data: bytes, encoding: str) -> Any:
    memo = _max_memo_index(data)
    if memo >= max(len(data), 1024):
        raise NeuronIOFormatError(
            f"refusing memo index {memo}: the unpickler would allocate {16 * memo} bytes for a "
            f"{len(data)}-byte file (a pickler numbers memo entries from 0, never beyond the "
            f"file's size); the file is malformed or not a NeuronIO pickle"
        )
    unpickler = _RestrictedUnpickler(io.BytesIO(data), encoding=encoding, file_size=len(data))
    try:
        obj = _plain_arrays(unpickler.load())
        # what reading it may allocate afterwards (np.asarray of shared nested lists, arrays
        # referenced many times) is bounded like the unpickling itself
        _expanded_size(obj, unpickler.budget.limit)
        return obj
    except MemoryError:
        raise NeuronIOFormatError(
            f"the file asks for more memory than is available (a {len(data)}-byte file); it is "
            f"malformed or not a NeuronIO pickle"
        ) from None
    except RecursionError:
        raise NeuronIOFormatError("the file nests containers too deeply") from None


def load_neuronio_pickle(path: str | os.PathLike, encoding: str | None = None) -> dict[str, Any]:
    """Unpickle one NeuronIO file safely and return the raw dict (no validation).

    Args:
        path: the pickle file.
        encoding: decoding of Python 2 ``str`` objects; by default ``"ASCII"``, then
            ``"latin1"`` on a ``UnicodeDecodeError`` (as the official loader does).

    Raises:
        NeuronIOFormatError: the file references a global outside the allow-list (named in
            the message), is not a pickle, or is truncated.
    """
    data = Path(path).read_bytes()
    encodings = [encoding] if encoding is not None else ["ASCII", "latin1"]
    for i, enc in enumerate(encodings):
        try:
            obj = _restricted_loads(data, enc)
            break
        except UnicodeDecodeError:
            if i == len(encodings) - 1:
                raise NeuronIOFormatError(
                    f"{path}: cannot decode Python 2 strings with encoding {enc!r}"
                ) from None
        except NeuronIOFormatError as exc:
            raise NeuronIOFormatError(f"{path}: {exc}") from None
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
            raise NeuronIOFormatError(
                f"{path}: not a readable NeuronIO pickle ({type(exc).__name__}: {exc})"
            ) from None
    if not isinstance(obj, dict):
        raise NeuronIOFormatError(
            f"{path}: expected a dict with 'Params' and 'Results', got {type(obj).__name__}"
        )
    return obj
