"""The fused kernel's time loops off the CPU, with an optional CUDA-graph capture.

Without the compiled loops (any device other than CPU, or no C++ compiler) the fused
kernel runs its time loops as PyTorch ops on preallocated buffers: the same code on every
device, tested on CPU against the reference. On a GPU each step is then a handful of small
kernel launches; with capture on (:func:`step_capture`, or ``ELM_SNN_CAPTURE=cuda_graph``)
a loop over all ``T`` steps is recorded once per shape as a CUDA graph
(``torch.cuda.CUDAGraph``) and replayed with one launch: the inputs are copied into the
graph's static buffers, the outputs copied out. Graphs are cached per loop, shapes, dtype,
device and configuration (the :data:`MAX_GRAPHS` most recent ones are kept).

Capture applies to CUDA tensors only; on other devices the loops run uncaptured.
"""

from __future__ import annotations

import contextlib
import os
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch import Tensor

__all__ = ["CAPTURE_MODES", "MAX_GRAPHS", "capture_mode", "run_loop", "step_capture"]

#: Accepted values of :func:`step_capture` (``None``: run the loops step by step).
CAPTURE_MODES = (None, "cuda_graph")
#: How many captured loops (one per loop, shape and configuration) are kept.
MAX_GRAPHS = 16

_setting: dict[str, str | None] = {"mode": None}
_graphs: OrderedDict[tuple, tuple[Callable[[], None], list[Tensor | None], Sequence[Tensor]]] = (
    OrderedDict()
)


def _check_mode(mode: str | None, name: str) -> str | None:
    if mode in ("", "0", "none", "None"):
        mode = None
    if mode not in CAPTURE_MODES:
        raise ValueError(f"{name}: expected one of {CAPTURE_MODES}, got {mode!r}")
    return mode


def capture_mode() -> str | None:
    """The capture mode in force: :func:`step_capture`'s, else ``$ELM_SNN_CAPTURE``."""
    if _setting["mode"] is not None:
        return _setting["mode"]
    return _check_mode(os.environ.get("ELM_SNN_CAPTURE") or None, "ELM_SNN_CAPTURE")


@contextlib.contextmanager
def step_capture(mode: str | None = "cuda_graph") -> Iterator[None]:
    """Capture the fused kernel's time loops on CUDA tensors inside the block.

    Args:
        mode: ``"cuda_graph"`` (record each loop once per shape as a CUDA graph and replay
            it) or ``None`` (step by step). Process-wide while the block runs.
    """
    mode = _check_mode(mode, "mode")
    before = _setting["mode"]
    _setting["mode"] = mode
    try:
        yield
    finally:
        _setting["mode"] = before


def clear_graphs() -> None:
    """Drop every captured loop (frees their static buffers)."""
    _graphs.clear()


def _key(name: str, config: tuple, inputs: Sequence[Tensor | None]) -> tuple:
    parts: list[Any] = [name, config]
    for t in inputs:
        parts.append(None if t is None else (tuple(t.shape), t.dtype, t.device, t.stride()))
    return tuple(parts)


def _capturable(device: torch.device | None) -> bool:
    """Whether loops on ``device`` are captured now (capture on, a CUDA device)."""
    return capture_mode() == "cuda_graph" and device is not None and device.type == "cuda"


def _record(
    loop: Callable[..., Sequence[Tensor]],
    static_in: list[Tensor | None],
    config: dict[str, Any],
) -> tuple[Callable[[], None], Sequence[Tensor]]:
    """Record ``loop`` on ``static_in`` as a CUDA graph; returns ``(replay, static_out)``."""
    device = next(t.device for t in static_in if t is not None)
    side = torch.cuda.Stream(device)
    side.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(side):  # warm-up outside the graph (library handles, pools)
        loop(*static_in, **config)
    torch.cuda.current_stream(device).wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        static_out = loop(*static_in, **config)
    return graph.replay, static_out


def run_loop(
    name: str,
    loop: Callable[..., Sequence[Tensor]],
    inputs: Sequence[Tensor | None],
    config: dict[str, Any] | None = None,
) -> Sequence[Tensor]:
    """``loop(*inputs, **config)``, captured as a CUDA graph when capture is on and the
    inputs are on a CUDA device.

    ``loop`` must be a pure function of its tensor inputs and ``config`` (everything else
    it reads must be fixed), allocate only inside itself and never synchronise with the
    host. Returns its outputs (fresh tensors: copies of the graph's static outputs when
    captured).
    """
    config = config or {}
    device = next((t.device for t in inputs if t is not None), None)
    if not _capturable(device):
        return loop(*inputs, **config)
    key = _key(name, tuple(sorted(config.items())), inputs)
    entry = _graphs.get(key)
    if entry is None:
        static_in = [None if t is None else t.detach().clone() for t in inputs]
        replay, static_out = _record(loop, static_in, config)
        entry = (replay, static_in, static_out)
        _graphs[key] = entry
        while len(_graphs) > MAX_GRAPHS:
            _graphs.popitem(last=False)
    else:
        _graphs.move_to_end(key)
    replay, static_in, static_out = entry
    with torch.no_grad():
        for dst, src in zip(static_in, inputs, strict=True):
            if dst is not None:
                dst.copy_(src)
    replay()
    return [t.clone() for t in static_out]
