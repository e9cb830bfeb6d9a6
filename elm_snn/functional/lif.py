"""Reference step functions of the leaky integrate-and-fire (LIF) and adaptive LIF (ALIF).

Pure functions in Norse's habit (state as NamedTuples, parameters as a NamedTuple, no
module state); :mod:`elm_snn.neurons.lif` and :mod:`elm_snn.networks.eisnn` call them.

Per time step, with ``dt`` the bin size in ms and ``I_t`` the input current (already in
voltage units, see below)::

    decay   = exp(-dt / tau_m)                          membrane decay, (N,)
    v_t     = decay * v_{t-1} + I_t                     integrate (v_{t-1} after reset)
    theta_t = threshold + adapt_strength * a_{t-1}      ALIF only (LIF: theta_t = threshold)
    z_t     = H(v_t - theta_t)                          spike, surrogate gradient in backward
    v_t    <- v_t - reset_amount * z_t                  reset "subtract"
              v_t * (1 - z_t) + reset_value * z_t       reset "zero" (to ``reset_value``)
              v_t                                       reset "none"
    a_t     = adapt_decay * a_{t-1} + z_t               ALIF only, adapt_decay = exp(-dt/tau_a)

So after each spike the ALIF threshold rises by exactly ``adapt_strength`` and then decays
back towards ``threshold`` with the time constant ``tau_a``.

How the current is formed is the caller's choice: :class:`~elm_snn.neurons.lif.LIF` passes
``I_t = (1 - decay) * (W x_t + b)``, the exact solution of ``tau_m dv/dt = -v + W x + b``
for an input held constant over the bin (zero-order hold), so ``W x + b`` is the voltage the
membrane relaxes to; the E/I network of the paper's appendix passes ``I_t = W z_t`` (spikes
kick the membrane by the synaptic weight).

Why not Norse's ``lif_step`` / ``lsnn_step`` or snnTorch's ``Leaky``: Norse's LIF and LSNN
integrate an extra synaptic-current state (a second time constant the paper's LIF does not
have), use a forward-Euler decay ``1 - dt/tau`` instead of ``exp(-dt/tau)`` (unstable for
``dt > tau``, and different from the ELM's decay), and reset to a fixed value only, while
the paper's E/I network needs a subtractive partial reset (``v - 0.9``); snnTorch's
``Leaky`` is parametrised by the decay ``beta`` rather than a bounded time constant in ms
and keeps its state in module buffers. The surrogate spike function is snnTorch's
(``snntorch.surrogate``), as for the spiking ELM.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import torch
from torch import Tensor

__all__ = [
    "RESET_MODES",
    "ALIFParameters",
    "ALIFRecord",
    "ALIFState",
    "LIFParameters",
    "LIFRecord",
    "LIFState",
    "alif_sequence",
    "alif_step",
    "default_spike_fn",
    "heaviside",
    "lif_sequence",
    "lif_step",
    "membrane_decay",
    "spike",
]

RESET_MODES = ("subtract", "zero", "none")

#: Time constants are clamped from below before division (as for the ELM).
TAU_EPS = 1e-6


def heaviside(x: Tensor) -> Tensor:
    """Step function ``H(x) = 1 if x > 0 else 0`` without a gradient (for inference/tests)."""
    return (x > 0).to(x.dtype)


def default_spike_fn() -> Callable[[Tensor], Tensor]:
    """snnTorch's arctan surrogate (``H`` forward, ``1 / (1 + (pi x)^2)`` backward)."""
    from snntorch import surrogate

    return surrogate.atan()


def spike(spike_fn: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """``spike_fn(x)`` in ``x``'s dtype (snnTorch's surrogates return float32 spikes)."""
    z = spike_fn(x)
    return z if z.dtype == x.dtype else z.to(x.dtype)


def membrane_decay(tau: Tensor, dt: float) -> Tensor:
    """``exp(-dt / max(tau, 1e-6))``; ``tau`` and ``dt`` in ms."""
    return torch.exp(-dt / torch.clamp(tau, min=TAU_EPS))


class LIFState(NamedTuple):
    """State of a LIF layer.

    Attributes:
        v: ``(B, N)`` membrane potential after the last step's reset.
    """

    v: Tensor

    def to(self, *args: Any, **kwargs: Any) -> LIFState:
        """The state moved/cast with ``Tensor.to(*args, **kwargs)`` (as Norse's states)."""
        return LIFState(self.v.to(*args, **kwargs))


class ALIFState(NamedTuple):
    """State of an ALIF layer.

    Attributes:
        v: ``(B, N)`` membrane potential after the last step's reset.
        a: ``(B, N)`` adaptation variable (decaying spike count); the threshold at the next
            step is ``threshold + adapt_strength * a``.
    """

    v: Tensor
    a: Tensor

    def to(self, *args: Any, **kwargs: Any) -> ALIFState:
        """Both tensors moved/cast with ``Tensor.to(*args, **kwargs)`` (as Norse's states)."""
        return ALIFState(self.v.to(*args, **kwargs), self.a.to(*args, **kwargs))


class LIFParameters(NamedTuple):
    """Parameters of :func:`lif_step`.

    Attributes:
        decay: ``(N,)`` (or broadcastable) membrane decay ``exp(-dt / tau_m)``.
        threshold: firing threshold (float or tensor broadcastable to ``(B, N)``).
        reset: one of :data:`RESET_MODES`.
        reset_amount: subtracted from ``v`` after a spike with ``reset="subtract"``.
        reset_value: ``v`` after a spike with ``reset="zero"``.
        detach_reset: cut the gradient through the reset (snnTorch's and Norse's default).
        spike_fn: Heaviside with a surrogate gradient, e.g. ``snntorch.surrogate.atan()``.
    """

    decay: Tensor
    threshold: float | Tensor = 1.0
    reset: str = "subtract"
    reset_amount: float | Tensor = 1.0
    reset_value: float | Tensor = 0.0
    detach_reset: bool = True
    spike_fn: Callable[[Tensor], Tensor] = heaviside


class ALIFParameters(NamedTuple):
    """Parameters of :func:`alif_step`: those of :class:`LIFParameters` plus adaptation.

    Attributes:
        adapt_decay: ``(N,)`` decay of the adaptation variable ``exp(-dt / tau_a)``.
        adapt_strength: ``(N,)`` threshold increase per spike (same units as ``v``).
    """

    decay: Tensor
    adapt_decay: Tensor
    adapt_strength: Tensor
    threshold: float | Tensor = 1.0
    reset: str = "subtract"
    reset_amount: float | Tensor = 1.0
    reset_value: float | Tensor = 0.0
    detach_reset: bool = True
    spike_fn: Callable[[Tensor], Tensor] = heaviside


class LIFRecord(NamedTuple):
    """Per-step outputs of :func:`lif_sequence`.

    Attributes:
        spikes: ``(T, B, N)`` spikes ``z_t``.
        voltage: ``(T, B, N)`` membrane potential ``v_t`` before the reset.
        threshold: ``(T, B, N)`` threshold ``theta_t`` the voltage was compared with.
    """

    spikes: Tensor
    voltage: Tensor
    threshold: Tensor


ALIFRecord = LIFRecord


def _apply_reset(v: Tensor, z: Tensor, p: LIFParameters | ALIFParameters) -> Tensor:
    zr = z.detach() if p.detach_reset else z
    if p.reset == "subtract":
        return v - p.reset_amount * zr
    if p.reset == "zero":
        return v * (1 - zr) + p.reset_value * zr
    if p.reset == "none":
        return v
    raise ValueError(f"reset: expected one of {RESET_MODES}, got {p.reset!r}")


def lif_step(current: Tensor, state: LIFState, p: LIFParameters) -> tuple[Tensor, Tensor, LIFState]:
    """One LIF step.

    Args:
        current: ``(B, N)`` input current ``I_t`` in voltage units.
        state: previous :class:`LIFState`.
        p: :class:`LIFParameters`.

    Returns:
        ``(z_t, v_t, new_state)``: spikes ``(B, N)``, the membrane potential before the
        reset ``(B, N)`` and the state after the reset.
    """
    v = p.decay * state.v + current
    z = spike(p.spike_fn, v - p.threshold)
    return z, v, LIFState(_apply_reset(v, z, p))


def alif_step(
    current: Tensor, state: ALIFState, p: ALIFParameters
) -> tuple[Tensor, Tensor, Tensor, ALIFState]:
    """One ALIF step (LIF with one adaptive threshold).

    Args:
        current: ``(B, N)`` input current ``I_t`` in voltage units.
        state: previous :class:`ALIFState`.
        p: :class:`ALIFParameters`.

    Returns:
        ``(z_t, v_t, theta_t, new_state)``: spikes, the membrane potential before the
        reset, the threshold used at this step (all ``(B, N)``) and the new state.
    """
    theta = p.threshold + p.adapt_strength * state.a
    v = p.decay * state.v + current
    z = spike(p.spike_fn, v - theta)
    a = p.adapt_decay * state.a + z
    return z, v, theta, ALIFState(_apply_reset(v, z, p), a)


def lif_sequence(
    current: Tensor, state: LIFState | None, p: LIFParameters
) -> tuple[LIFRecord, LIFState]:
    """Run :func:`lif_step` over a time-major current ``(T, B, N)``.

    ``state=None`` starts from ``v = 0``. Returns ``(record, final_state)`` with the
    :class:`LIFRecord` of every step.
    """
    if state is None:
        state = LIFState(current.new_zeros(current.shape[1:]))
    spikes, volts = [], []
    # unbind once: indexing current[t] would cost a full-size zero gradient per step
    for i_t in current.unbind(0):
        z, v, state = lif_step(i_t, state, p)
        spikes.append(z)
        volts.append(v)
    z_all = torch.stack(spikes)
    thr = torch.as_tensor(p.threshold, dtype=current.dtype, device=current.device)
    return LIFRecord(z_all, torch.stack(volts), thr.expand_as(z_all)), state


def alif_sequence(
    current: Tensor, state: ALIFState | None, p: ALIFParameters
) -> tuple[LIFRecord, ALIFState]:
    """Run :func:`alif_step` over a time-major current ``(T, B, N)``.

    ``state=None`` starts from ``v = 0, a = 0``. Returns ``(record, final_state)``.
    """
    if state is None:
        zeros = current.new_zeros(current.shape[1:])
        state = ALIFState(zeros, zeros)
    spikes, volts, thrs = [], [], []
    for i_t in current.unbind(0):
        z, v, theta, state = alif_step(i_t, state, p)
        spikes.append(z)
        volts.append(v)
        thrs.append(theta)
    return LIFRecord(torch.stack(spikes), torch.stack(volts), torch.stack(thrs)), state
