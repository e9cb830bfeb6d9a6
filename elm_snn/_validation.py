"""Argument checks that give one clear message: the argument, what was expected, what came."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

__all__ = [
    "check_bool",
    "check_bounds",
    "check_choice",
    "check_finite",
    "check_float_tensor",
    "check_int",
    "check_layer_input",
    "check_positive",
    "check_shape",
    "check_state_tensor",
    "check_time_steps",
    "debug_checks_enabled",
    "set_debug_checks",
]


def check_float_tensor(name: str, value: object) -> torch.Tensor:
    """Require a real floating-point tensor (float16/bfloat16/float32/float64)."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(value).__name__}")
    if not value.dtype.is_floating_point:
        raise TypeError(
            f"{name}: expected a real floating-point tensor (e.g. torch.float32), got dtype "
            f"{value.dtype}; convert it with .float()"
        )
    return value


#: environment switch for the finiteness checks on accelerator tensors (see :func:`check_finite`)
DEBUG_CHECKS_ENV = "ELM_SNN_DEBUG_CHECKS"
_debug_checks: bool | None = None


def set_debug_checks(enabled: bool | None) -> None:
    """Turn the finiteness checks of inputs on accelerators on (``True``) or off (``False``);
    ``None`` goes back to the environment variable ``ELM_SNN_DEBUG_CHECKS`` (``1`` = on)."""
    global _debug_checks
    if enabled is not None and not isinstance(enabled, bool):
        raise TypeError(f"enabled: expected True, False or None, got {type(enabled).__name__}")
    _debug_checks = enabled


def debug_checks_enabled() -> bool:
    """Whether :func:`check_finite` also checks tensors on accelerators (a host sync)."""
    if _debug_checks is not None:
        return _debug_checks
    return os.environ.get(DEBUG_CHECKS_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def check_finite(name: str, value: torch.Tensor) -> None:
    """Require every entry of ``value`` to be finite (no NaN or inf).

    Reading the answer back is a host sync for a tensor on an accelerator; layers call this
    on every input, i.e. on every step of a cell, so there it is a **debug check**, off
    unless :func:`set_debug_checks` or ``ELM_SNN_DEBUG_CHECKS=1`` turns it on. CPU tensors
    are always checked (their data are already on the host; nothing waits on a device).

    The fast path is one reduction: NaN and inf propagate through a sum, so a finite sum
    proves every entry finite. Only a non-finite sum (a bad entry, or a float overflow of
    huge but finite values) pays for the element-wise check.
    """
    if value.numel() == 0 or value.device.type == "meta":  # meta tensors hold no values
        return
    if value.device.type != "cpu" and not debug_checks_enabled():
        return
    if bool(torch.isfinite(value.sum())):
        return
    if not bool(torch.isfinite(value).all()):
        n_nan = int(torch.isnan(value).sum())
        n_inf = int(torch.isinf(value).sum())
        raise ValueError(
            f"{name}: expected finite values, got {n_nan} NaN and {n_inf} inf entries "
            f"(shape {tuple(value.shape)})"
        )


def check_shape(name: str, value: torch.Tensor, expected: Sequence[int | None], what: str) -> None:
    """Require ``value.shape`` to match ``expected`` (``None`` matches any size).

    ``what`` names the axes, e.g. ``"(T, B, num_inputs)"``, for the error message.
    """
    shape = tuple(value.shape)
    ok = len(shape) == len(expected) and all(
        e is None or s == e for s, e in zip(shape, expected, strict=True)
    )
    if not ok:
        exp = tuple("*" if e is None else e for e in expected)
        raise ValueError(f"{name}: expected shape {what} = {exp}, got {shape}")


def check_positive(name: str, value: float, allow_zero: bool = False) -> float:
    """Require a finite number > 0 (or >= 0 with ``allow_zero``)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__}") from None
    if not (v == v and abs(v) != float("inf")) or v < 0 or (v == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name}: expected a finite number {bound}, got {value!r}")
    return v


def check_bounds(name_low: str, low: float, name_high: str, high: float) -> tuple[float, float]:
    """Require ``0 <= low < high`` (finite), e.g. the bounds of a time constant in ms."""
    low = check_positive(name_low, low, allow_zero=True)
    high = check_positive(name_high, high)
    if high <= low:
        raise ValueError(f"{name_high}: expected a value > {name_low} = {low}, got {high}")
    return low, high


def check_choice(name: str, value: object, choices: Sequence[object]) -> None:
    """Require ``value`` to be one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name}: expected one of {list(choices)}, got {value!r}")


def check_int(name: str, value: Any, minimum: int | None = 1) -> int:
    """Require an integer (a Python or NumPy int, not a ``bool``) that is at least
    ``minimum`` (no bound with ``None``); returns it as a Python ``int``.

    A value of the wrong type raises ``TypeError``, an integer out of range ``ValueError``
    (the one rule for every integer argument of the package).
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__} {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value!r}")
    return int(value)


def check_bool(name: str, value: Any) -> bool:
    """Require a ``bool`` (``1`` or ``"yes"`` are refused: they often mean another argument)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name}: expected a bool, got {type(value).__name__} {value!r}")
    return value


def _is_compiling() -> bool:
    compiler = getattr(torch, "compiler", None)
    return bool(compiler is not None and compiler.is_compiling())


def check_layer_input(
    name: str, x: Any, *, rank: int, num_features: int, dtype: torch.dtype, axes: str
) -> torch.Tensor:
    """The checks every layer applies to its input, in one place.

    Requires a real floating-point tensor of ``rank`` dimensions whose last dimension is
    ``num_features``, of the layer's parameter ``dtype``, with finite entries (the
    finiteness check is skipped while ``torch.compile`` traces, where it would break the
    graph, and on accelerators unless debug checks are on: see :func:`check_finite`).
    ``axes`` names the expected layout for messages, e.g. ``"(T, B, num_inputs)"``.
    """
    check_float_tensor(name, x)
    if x.dim() != rank:
        raise ValueError(
            f"{name}: expected a {rank}-D tensor {axes}, got {x.dim()}-D with shape "
            f"{tuple(x.shape)}"
        )
    if x.shape[-1] != num_features:
        raise ValueError(
            f"{name}: expected num_inputs = {num_features} features in the last dimension "
            f"{axes}, got {x.shape[-1]} (shape {tuple(x.shape)})"
        )
    if x.dtype != dtype:
        raise TypeError(
            f"{name}: dtype {x.dtype} does not match the layer's parameters ({dtype}); "
            f"convert the input or call .to(dtype) on the layer"
        )
    if not _is_compiling():
        check_finite(name, x)
    return x


def check_time_steps(name: str, x: torch.Tensor, time_dim: int, axes: str) -> None:
    """Require at least one time step along ``time_dim`` of a sequence input.

    Every sequence layer follows the same rule: an empty batch (``B = 0``) is valid and gives
    empty outputs, an empty sequence (``T = 0``) is refused (there is no last step to read
    out, and ``torch.nn.LSTM`` refuses it too).
    """
    if x.shape[time_dim] == 0:
        raise ValueError(
            f"{name}: expected at least one time step (T >= 1), got shape {tuple(x.shape)} "
            f"{axes}; an empty batch (B = 0) is fine, an empty sequence is not"
        )


def check_state_tensor(
    name: str, value: Any, shape: tuple[int, ...], like: torch.Tensor, axes: str = "(B, N)"
) -> None:
    """Require a state tensor of ``shape`` (named ``axes``) with ``like``'s dtype and device."""
    check_float_tensor(name, value)
    if tuple(value.shape) != tuple(shape):
        raise ValueError(
            f"{name}: expected shape {axes} = {tuple(shape)}, got {tuple(value.shape)}"
        )
    if value.dtype != like.dtype or value.device != like.device:
        raise TypeError(
            f"{name}: expected dtype {like.dtype} on {like.device}, got {value.dtype} on "
            f"{value.device}"
        )
