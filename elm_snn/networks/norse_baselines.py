"""Baselines built from Norse's own neurons: ``norse-lif`` and ``norse-lsnn``.

So that a Norse user can compare the ELM with the library they know, these models are
assembled from Norse modules, composed the Norse way (``norse.torch.SequentialState``)::

    x (T, B, I) -> LIFRecurrent(I, H) or LSNNRecurrent(I, H)   recurrent spiking layer
                -> nn.Linear(H, O)                                weights on its spikes
                -> LI(O)                                          leaky-integrator readout
                -> y (T, B, O)                                    membrane of the readout

``LSNNRecurrent`` is Norse's adaptive LIF (Bellec et al. 2018: each spike raises the
neuron's threshold, which decays back with ``tau_adapt``). The trainable parameters are
Norse's input and recurrent weights (``H (I + H)``; no self-connections) and the Linear's
``O (H + 1)``; the neuron parameters are Norse's defaults except the time constants below.

Where Norse does not fit the task code as is (also in ``docs/interop.md``):

* Norse's time step is in seconds, ours in ms: the model passes ``dt / 1000``.
* Norse integrates its ODEs with forward Euler, ``v += dt / tau (...)``, which oscillates
  for ``dt > tau`` and diverges for ``dt > 2 tau``. The SHD tasks run at bins up to 50 ms,
  far above Norse's 5 ms synaptic and 10 ms membrane defaults, so every time constant is
  raised to at least ``dt`` (:func:`norse_time_constants`); at 1-2 ms bins (NeuronIO, the
  paper's SHD) Norse's defaults are kept.
* The readout's offset is not an additive output bias (it feeds the leaky integrator), so
  the NeuronIO task's data-dependent output initialisation leaves these models alone.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import Tensor, nn

from .._validation import (
    check_choice,
    check_int,
    check_layer_input,
    check_positive,
    check_time_steps,
)
from ..neurons.base import runs_in_parameter_dtype

with warnings.catch_warnings():
    # norse decorates functions with torch.jit.script, which torch 2.x reports as deprecated
    warnings.simplefilter("ignore", FutureWarning)
    warnings.simplefilter("ignore", DeprecationWarning)
    import norse.torch as norse

__all__ = ["NORSE_NEURONS", "NorseSNN", "norse_time_constants"]

#: neuron models of :class:`NorseSNN`: Norse's LIF and its adaptive LSNN
NORSE_NEURONS = ("lif", "lsnn")

#: Norse's default time constants in ms (``norse.torch.LIFParameters``/``LSNNParameters``)
_NORSE_TAU_SYN_MS = 5.0
_NORSE_TAU_MEM_MS = 10.0


def norse_time_constants(dt: float) -> tuple[float, float]:
    """``(tau_syn, tau_mem)`` in ms for a step of ``dt`` ms: Norse's defaults (5, 10 ms),
    each raised to at least ``dt`` so that Norse's forward-Euler update stays stable."""
    dt = check_positive("dt", dt)
    return max(_NORSE_TAU_SYN_MS, dt), max(_NORSE_TAU_MEM_MS, dt)


class NorseSNN(nn.Module):
    """A recurrent spiking network of Norse neurons with a leaky-integrator readout.

    Args:
        num_inputs: input channels ``I``.
        num_outputs: outputs ``O`` (classes, or 2 for NeuronIO: spike logit and voltage).
        hidden_size: spiking neurons ``H`` of the recurrent layer.
        neuron: ``"lif"`` (``norse.torch.LIFRecurrent``) or ``"lsnn"``
            (``norse.torch.LSNNRecurrent``, adaptive threshold).
        dt: time step in ms (the bin size).

    Call: ``forward(x, state=None)`` with ``x`` ``(T, B, I)`` returns ``(y, state)``, ``y``
    ``(T, B, O)`` the readout's membrane at every step and ``state`` the list of the
    Norse layers' states (``norse.torch.SequentialState``'s convention).
    """

    def __init__(
        self,
        num_inputs: int,
        num_outputs: int,
        *,
        hidden_size: int = 128,
        neuron: str = "lif",
        dt: float = 1.0,
    ) -> None:
        super().__init__()
        self.num_inputs = check_int("num_inputs", num_inputs)
        self.num_outputs = check_int("num_outputs", num_outputs)
        self.hidden_size = check_int("hidden_size", hidden_size)
        check_choice("neuron", neuron, NORSE_NEURONS)
        self.neuron = neuron
        self.dt = check_positive("dt", dt)
        tau_syn, tau_mem = norse_time_constants(self.dt)
        dt_s = self.dt / 1000.0  # Norse's time unit is the second
        rates = dict(tau_syn_inv=torch.as_tensor(1000.0 / tau_syn))
        rates["tau_mem_inv"] = torch.as_tensor(1000.0 / tau_mem)
        recurrent: nn.Module
        if neuron == "lif":
            recurrent = norse.LIFRecurrent(
                self.num_inputs, self.hidden_size, p=norse.LIFParameters(**rates), dt=dt_s
            )
        else:
            recurrent = norse.LSNNRecurrent(
                self.num_inputs, self.hidden_size, p=norse.LSNNParameters(**rates), dt=dt_s
            )
        self.network = norse.SequentialState(
            recurrent,
            nn.Linear(self.hidden_size, self.num_outputs),
            norse.LI(p=norse.LIParameters(**rates), dt=dt_s),
        )

    def _param_dtype(self) -> torch.dtype:
        return self.network[1].weight.dtype

    @runs_in_parameter_dtype
    def forward(self, x: Tensor, state: list[Any] | None = None) -> tuple[Tensor, list[Any]]:
        """Run the network: ``x`` ``(T, B, I)`` -> ``(y, states)``, ``y`` ``(T, B, O)``
        (under autocast in the parameters' dtype, as every elm-snn layer)."""
        dtype = self._param_dtype()
        axes = "(T, B, num_inputs)"
        check_layer_input("x", x, rank=3, num_features=self.num_inputs, dtype=dtype, axes=axes)
        check_time_steps("x", x, 0, axes)
        return self.network(x, state)

    def extra_repr(self) -> str:
        return (
            f"num_inputs={self.num_inputs}, hidden_size={self.hidden_size}, "
            f"num_outputs={self.num_outputs}, neuron={self.neuron!r}, dt={self.dt}"
        )
