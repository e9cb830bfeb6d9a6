"""Fast sequence kernels for the ELM neuron, tested against :mod:`elm_snn.functional`.

:func:`fused_support` is the hook :class:`elm_snn.ELM` calls to pick its fused path.
On CPU the fused kernel's loops are compiled C++ when a compiler is available
(:func:`compiled_available`, :func:`use_compiled`; built once into the elm-snn cache
folder), else pure PyTorch. On any other device (CUDA, ...) the same pure-PyTorch loops
run, optionally captured as CUDA graphs (:func:`step_capture`, ``ELM_SNN_CAPTURE``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ._compiled import compiled_available, use_compiled
from ._device import capture_mode, step_capture
from ._sparse import SparseFrames
from .fused import (
    denormals_flushed,
    flush_denormals,
    front_end_strategy,
    fused_elm_sequence,
)

__all__ = [
    "SUPPORTED_DTYPES",
    "SparseFrames",
    "capture_mode",
    "compiled_available",
    "denormals_flushed",
    "flush_denormals",
    "front_end_strategy",
    "fused_elm_sequence",
    "fused_support",
    "step_capture",
    "use_compiled",
]

#: Floating-point dtypes the fused kernel runs in.
SUPPORTED_DTYPES = (torch.float32, torch.float64)


def fused_support(module: Any) -> tuple[Callable | None, str | None]:
    """Whether the fused kernel supports ``module``'s configuration, device and dtype.

    Args:
        module: an :class:`elm_snn.neurons.elm.ELMCore` (``ELM``/``BranchELM``).

    Returns:
        ``(fn, None)`` with ``fn(x, state, params) -> (y, final_state, None)`` (see
        :func:`fused_elm_sequence`), or ``(None, reason)`` when unsupported.
    """
    try:
        dtype = module.readout.weight.dtype
    except AttributeError:
        return None, f"expected an ELM module with a readout layer, got {type(module).__name__}"
    if dtype not in SUPPORTED_DTYPES:
        return None, f"dtype {dtype} is not supported (float32 or float64)"
    # compiled loops on CPU, the same PyTorch loops elsewhere; on the meta device only
    # shapes, through the custom operator's fake kernel (see ._library)
    return fused_elm_sequence, None
