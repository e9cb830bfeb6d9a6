"""Hidden-state protocol shared by every stateful elm-snn layer, and :func:`reset`.

snnTorch habit: a layer built with ``init_hidden=True`` keeps its state inside the module
and returns only its output; ``reset_hidden()`` forgets the state (the next call starts
from zeros) and ``detach_hidden()`` cuts the graph for truncated BPTT. Unlike snnTorch,
the protocol is per instance (no class-level registry), and :func:`reset` walks the
whole module tree, resetting our layers and snnTorch's.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["StatefulModule", "detach_state", "reset"]


def detach_state(state: Any) -> Any:
    """Detach every tensor in a (possibly nested) tuple/NamedTuple/list/dict state."""
    if isinstance(state, torch.Tensor):
        return state.detach()
    if isinstance(state, tuple) and hasattr(state, "_fields"):  # NamedTuple
        return type(state)(*(detach_state(s) for s in state))
    if isinstance(state, (tuple, list)):
        return type(state)(detach_state(s) for s in state)
    if isinstance(state, dict):
        return {k: detach_state(v) for k, v in state.items()}
    return state


class StatefulModule(nn.Module):
    """Base class of layers with hidden state.

    Args:
        init_hidden: keep the state inside the module between calls; ``forward`` then
            returns only the output (snnTorch convention) for cells, or
            ``(output, state)`` for sequence layers, continuing from the stored state.

    Subclasses store their state with :meth:`_store_hidden` and read it with
    :attr:`hidden`.
    """

    def __init__(self, init_hidden: bool = False) -> None:
        super().__init__()
        if not isinstance(init_hidden, bool):
            raise TypeError(f"init_hidden: expected a bool, got {type(init_hidden).__name__}")
        self.init_hidden = init_hidden
        self._hidden: Any = None

    @property
    def hidden(self) -> Any:
        """The stored hidden state (``None`` after :meth:`reset_hidden`)."""
        return self._hidden

    def _register_tensor(self, name: str, value: torch.Tensor, learnable: bool) -> None:
        """Register ``value`` as a Parameter if ``learnable`` else as a buffer (snnTorch's
        habit), under the same name either way so state dicts stay interchangeable."""
        if learnable:
            self.register_parameter(name, nn.Parameter(value))
        else:
            self.register_buffer(name, value)

    def _store_hidden(self, state: Any) -> None:
        self._hidden = state

    def reset_hidden(self) -> None:
        """Forget the stored state: the next call starts from the zero state."""
        self._hidden = None

    def detach_hidden(self) -> None:
        """Detach the stored state from the autograd graph (truncated BPTT)."""
        self._hidden = detach_state(self._hidden)

    def __getstate__(self) -> dict:
        # Pickle the module without a live autograd graph hanging off the hidden state.
        state = self.__dict__.copy()
        state["_hidden"] = detach_state(state.get("_hidden"))
        return state


# snnTorch keeps hidden state in these buffers (names as of snnTorch 0.9-1.0).
_SNNTORCH_STATE_NAMES = ("mem", "syn", "spk", "c", "b", "h")


def _reset_snntorch_neuron(module: nn.Module) -> bool:
    try:
        from snntorch import SpikingNeuron
    except ImportError:  # pragma: no cover - snntorch is a core dependency
        return False
    if not isinstance(module, SpikingNeuron):
        return False
    for name in _SNNTORCH_STATE_NAMES:
        value = module._buffers.get(name)
        if isinstance(value, torch.Tensor):
            # zeros_like keeps snnTorch's lazily-broadcast shapes valid; detach drops the graph
            module._buffers[name] = torch.zeros_like(value).detach()
    return True


def reset(module: nn.Module) -> nn.Module:
    """Reset the hidden state of every stateful layer inside ``module`` (recursively).

    Handles elm-snn layers (:class:`StatefulModule`), snnTorch neurons (zeroing their
    membrane/synaptic state buffers) and any module with a ``reset_hidden()`` method
    that is an instance method. Returns ``module`` for chaining.
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module: expected a torch.nn.Module, got {type(module).__name__}")
    for sub in module.modules():
        if isinstance(sub, StatefulModule):
            sub.reset_hidden()
        elif _reset_snntorch_neuron(sub):
            continue
        else:
            method = getattr(type(sub), "reset_hidden", None)
            # snnTorch's reset_hidden is a classmethod acting on all instances: skip those
            if callable(method) and not isinstance(
                type(sub).__dict__.get("reset_hidden"), classmethod
            ):
                sub.reset_hidden()
    return module
