"""Argument checks that give one clear message: the argument, what was expected, what came."""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["check_float_tensor", "check_finite", "check_positive", "check_shape", "check_choice"]


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


def check_finite(name: str, value: torch.Tensor) -> None:
    """Require every entry of ``value`` to be finite (no NaN or inf).

    The fast path is one reduction: NaN and inf propagate through a sum, so a finite sum
    proves every entry finite. Only a non-finite sum (a bad entry, or a float overflow of
    huge but finite values) pays for the element-wise check.
    """
    if value.numel() == 0 or bool(torch.isfinite(value.sum())):
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


def check_choice(name: str, value: object, choices: Sequence[object]) -> None:
    """Require ``value`` to be one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name}: expected one of {list(choices)}, got {value!r}")
