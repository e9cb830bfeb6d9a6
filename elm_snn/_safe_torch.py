"""Weights-only ``torch.load`` with one-line errors that say what was refused.

``torch.load(weights_only=True)`` refuses a pickle that references a callable or class
outside torch's allow-list, but its message is a paragraph that suggests turning
``weights_only`` off, and its wording differs with the global (``os.system`` is reported as
``posix.system whose module posix is blocked``, ``builtins.exec`` as ``GLOBAL exec``,
``subprocess.Popen`` under another module name). :func:`load_weights_only` reads the
globals the pickle names itself (walking its opcodes; nothing is built or run) and reports
the refused ones as ``module.name``, with the file's path, on one line.
"""

from __future__ import annotations

import io
import os
import pickle
import pickletools
import re
import zipfile
from pathlib import Path
from typing import Any

__all__ = ["UnsafeCheckpointError", "UnreadableCheckpointError", "load_weights_only"]

#: Globals a checkpoint of tensors and plain values legitimately names (torch's own types,
#: the ordered dict of a state dict, codecs of protocol-2 byte strings).
_SAFE_MODULE_PREFIXES = ("torch", "collections", "_codecs", "numpy")
_SAFE_BUILTINS = {"set", "frozenset", "bytearray", "slice", "complex"}
#: Most bytes of a pickle that are walked to name a refused global.
_MAX_WALK_BYTES = 256 * 2**20


class UnsafeCheckpointError(ValueError):
    """The file's pickle references a global that could run code; nothing was run."""


class UnreadableCheckpointError(ValueError):
    """The file is empty, truncated, corrupt or not a torch file."""


def _first_sentence(exc: BaseException, limit: int = 160) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    line = lines[0] if lines else type(exc).__name__
    line = line.split(". ")[0].rstrip(".")
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _pickle_bytes(path: Path) -> bytes:
    """The main pickle of a torch file (``*/data.pkl`` of the zip format; the raw file for
    the legacy format), at most :data:`_MAX_WALK_BYTES`."""
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if info.filename.endswith("data.pkl"):
                    with zf.open(info) as fh:
                        return fh.read(_MAX_WALK_BYTES)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        pass
    with open(path, "rb") as fh:
        return fh.read(_MAX_WALK_BYTES)


def pickled_globals(data: bytes) -> list[str]:
    """``module.name`` of every global the pickle ``data`` references (GLOBAL, INST and
    STACK_GLOBAL opcodes), in order, without duplicates. Only walks the opcodes: nothing is
    built or imported. Stops quietly where the data stop being a pickle."""
    found: list[str] = []
    strings: list[str] = []  # the most recent string pushes (STACK_GLOBAL's operands)
    memo: dict[int, Any] = {}
    last: Any = None  # what the previous opcode pushed, if a string
    try:
        for op, arg, _ in pickletools.genops(io.BytesIO(data)):
            name = op.name
            pushed: Any = None
            if name in ("GLOBAL", "INST"):
                module, _, attr = str(arg).partition(" ")
                found.append(f"{module}.{attr}")
            elif name == "STACK_GLOBAL" and len(strings) >= 2:
                found.append(f"{strings[-2]}.{strings[-1]}")
            elif isinstance(arg, str) and ("UNICODE" in name or name.endswith("STRING")):
                pushed = arg
            elif name in ("BINPUT", "LONG_BINPUT", "PUT", "MEMOIZE"):
                memo[len(memo) if name == "MEMOIZE" else int(arg)] = last
                continue  # stores, pushes nothing: the last push stays the last
            elif name in ("BINGET", "LONG_BINGET", "GET"):
                pushed = memo.get(int(arg))
            if isinstance(pushed, str):
                strings = [*strings[-1:], pushed]
            last = pushed
            if name == "STOP":
                break
    except Exception:  # noqa: BLE001 - a corrupt tail: report what was found before it
        pass
    return list(dict.fromkeys(_python3_name(g) for g in found))


def _python3_name(global_name: str) -> str:
    """Python 2 spellings that protocol-2 pickles use (``__builtin__.exec``,
    ``commands.Popen``) -> the Python 3 names the unpickler would import."""
    import _compat_pickle

    module, _, name = global_name.rpartition(".")
    if (module, name) in _compat_pickle.NAME_MAPPING:
        module, name = _compat_pickle.NAME_MAPPING[(module, name)]
    elif module in _compat_pickle.IMPORT_MAPPING:
        module = _compat_pickle.IMPORT_MAPPING[module]
    return f"{module}.{name}"


def _is_safe(global_name: str) -> bool:
    module, _, name = global_name.rpartition(".")
    if module in ("builtins", "__builtin__"):
        return name in _SAFE_BUILTINS
    return any(module == p or module.startswith(p + ".") for p in _SAFE_MODULE_PREFIXES)


def _torch_named_global(text: str) -> str | None:
    """The global torch's message names, in any of its wordings."""
    for pattern in (
        r"GLOBAL (\S+) whose module (\S+) is blocked",
        r"GLOBAL (\S+) was not an allowed global",
        r"Unsupported global: GLOBAL (\S+)",
        r"Unsupported class (\S+)",
        r"GLOBAL (\S+)",
    ):
        match = re.search(pattern, text)
        if match:
            return match.group(1).rstrip(".")
    return None


def _is_refusal(text: str) -> bool:
    return any(
        key in text
        for key in ("Unsupported global", "allowed global", "Unsupported class", "is blocked")
    ) or bool(re.search(r"GLOBAL \S+", text))


def load_weights_only(path: str | os.PathLike, what: str = "checkpoint") -> Any:
    """``torch.load(path, map_location="cpu", weights_only=True)`` with one-line errors.

    Args:
        path: a file written by ``torch.save``.
        what: the argument or kind of file, for messages (``"checkpoint"``,
            ``"--official-checkpoint"``).

    Raises:
        FileNotFoundError: ``path`` is not a file.
        UnsafeCheckpointError: the pickle references a global outside torch's allow-list
            (named as ``module.name``); nothing from the file ran.
        UnreadableCheckpointError: empty, truncated, corrupt or not a torch file.
    """
    import torch

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{what}: {str(p)!r} does not exist (or is not a file)")
    if p.stat().st_size == 0:
        raise UnreadableCheckpointError(f"{what}: {str(p)!r} is empty (0 bytes)")
    try:
        # weights_only: tensors and plain containers; any other global is refused before it
        # is looked up, so nothing in the file runs
        return torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        if _is_refusal(text):
            unsafe = [g for g in pickled_globals(_pickle_bytes(p)) if not _is_safe(g)]
            if not unsafe:
                named = _torch_named_global(text)
                unsafe = [named] if named else ["a global outside torch's allow-list"]
            # os.system pickles as posix.system (nt.system on Windows): say both
            shown = [
                f"{g} (os.{g.partition('.')[2]})" if g.split(".")[0] in ("posix", "nt") else g
                for g in unsafe[:5]
            ]
            raise UnsafeCheckpointError(
                f"{what}: {str(p)!r} refused: its pickle references "
                f"{', '.join(shown)}, which could run code when loaded; nothing from "
                f"it was run (elm-snn reads only tensors and plain values from such files; "
                f"only load files you trust, and convert them to plain state dicts)"
            ) from None
        raise UnreadableCheckpointError(
            f"{what}: {str(p)!r} is not a readable torch file (truncated, corrupt or "
            f"another format: {_first_sentence(exc)})"
        ) from None
    except (RuntimeError, EOFError, ValueError, OSError, AttributeError, TypeError) as exc:
        raise UnreadableCheckpointError(
            f"{what}: {str(p)!r} is not a readable torch file (truncated, corrupt or another "
            f"format: {type(exc).__name__}: {_first_sentence(exc)})"
        ) from None
