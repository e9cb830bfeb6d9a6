"""LIF and ALIF neuron layers (baselines of the paper's Table S4), over whole sequences.

Both layers integrate ``W x_t + b`` with a learnable, bounded membrane time constant and
evaluate the equations of :mod:`elm_snn.functional.lif`. For fitting single-neuron
input/output data (NeuronIO) they output, like the ELM layers, two channels per neuron:
a spike logit (for BCE against the target spikes) and the membrane voltage (for MSE against
the scaled soma voltage).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._validation import (
    check_bounds,
    check_choice,
    check_int,
    check_layer_input,
    check_positive,
    check_state_tensor,
    check_time_steps,
)
from ..functional import lif as F_lif
from ..functional.elm import inverse_scaled_sigmoid, scaled_sigmoid
from ..functional.lif import ALIFParameters, ALIFState, LIFParameters, LIFRecord, LIFState
from .base import StatefulModule

__all__ = ["ALIF", "LIF", "OUTPUT_MODES"]

OUTPUT_MODES = ("logit_voltage", "spikes")


def _check_sequence(
    x: Any, num_inputs: int, dtype: torch.dtype, batch_first: bool, name: str = "x"
) -> Tensor:
    """Check a sequence input and return it time-major ``(T, B, num_inputs)``."""
    axes = "(B, T, num_inputs)" if batch_first else "(T, B, num_inputs)"
    check_layer_input(name, x, rank=3, num_features=num_inputs, dtype=dtype, axes=axes)
    check_time_steps(name, x, 1 if batch_first else 0, axes)
    return x.transpose(0, 1) if batch_first else x


def _check_state_tensors(state: Any, cls: type, batch: int, width: int, like: Tensor) -> Any:
    fields = cls._fields
    if not isinstance(state, tuple) or len(state) != len(fields):
        raise TypeError(
            f"state: expected a {cls.__name__}({', '.join(fields)}), got {type(state).__name__}"
        )
    for field, value in zip(fields, state, strict=True):
        check_state_tensor(f"state.{field}", value, (batch, width), like)
    return cls(*state)


def _check_range(name: str, value: float, low: float, high: float) -> float:
    value = check_positive(name, value)
    if not (low < value < high):
        raise ValueError(f"{name}: expected a value strictly inside ({low}, {high}), got {value}")
    return value


class _LIFBase(StatefulModule):
    """Parameters and plumbing shared by :class:`LIF` and :class:`ALIF`."""

    _state_cls: type = LIFState

    def __init__(
        self,
        num_inputs: int,
        num_neurons: int = 1,
        *,
        dt: float = 1.0,
        tau_m_init: float = 20.0,
        tau_m_min: float = 1.0,
        tau_m_max: float = 500.0,
        learn_tau_m: bool = True,
        threshold: float = 1.0,
        reset: str = "zero",
        reset_value: float = 0.0,
        reset_amount: float | None = None,
        detach_reset: bool = True,
        spike_grad: Callable[[Tensor], Tensor] | None = None,
        output: str = "logit_voltage",
        spike_logit_scale: float = 10.0,
        learn_spike_logit: bool = False,
        bias: bool = True,
        batch_first: bool = False,
        init_hidden: bool = False,
    ) -> None:
        super().__init__(init_hidden=init_hidden)
        self.num_inputs = check_int("num_inputs", num_inputs)
        self.num_neurons = check_int("num_neurons", num_neurons)
        self.dt = check_positive("dt", dt)
        self.tau_m_min, self.tau_m_max = check_bounds(
            "tau_m_min", tau_m_min, "tau_m_max", tau_m_max
        )
        _check_range("tau_m_init", tau_m_init, self.tau_m_min, self.tau_m_max)
        check_choice("reset", reset, F_lif.RESET_MODES)
        check_choice("output", output, OUTPUT_MODES)
        self.threshold = float(threshold)
        if self.threshold != self.threshold or abs(self.threshold) == float("inf"):
            raise ValueError(f"threshold: expected a finite number, got {threshold!r}")
        self.reset = reset
        self.reset_value = float(reset_value)
        self.reset_amount = float(threshold if reset_amount is None else reset_amount)
        self.detach_reset = bool(detach_reset)
        self.output = output
        self.batch_first = bool(batch_first)
        if spike_grad is None:
            spike_grad = F_lif.default_spike_fn()
        if not callable(spike_grad):
            raise TypeError(
                f"spike_grad: expected a callable such as snntorch.surrogate.atan(), got "
                f"{type(spike_grad).__name__}"
            )
        self.spike_grad = spike_grad

        self.linear = nn.Linear(num_inputs, num_neurons, bias=bias)
        raw = inverse_scaled_sigmoid(
            torch.full((num_neurons,), float(tau_m_init)), self.tau_m_min, self.tau_m_max
        )
        self._register_tensor("tau_m_raw", raw, bool(learn_tau_m))
        scale = check_positive("spike_logit_scale", spike_logit_scale)
        self.learn_spike_logit = bool(learn_spike_logit)
        self._register_tensor(
            "spike_logit_scale", torch.full((num_neurons,), scale), learn_spike_logit
        )
        self._register_tensor("spike_logit_offset", torch.zeros(num_neurons), learn_spike_logit)

    @property
    def tau_m(self) -> Tensor:
        """``(N,)`` membrane time constants in ms, ``(max - min) sigmoid(raw) + min``."""
        return scaled_sigmoid(self.tau_m_raw, self.tau_m_min, self.tau_m_max)

    @property
    def decay(self) -> Tensor:
        """``(N,)`` membrane decay per step ``exp(-dt / tau_m)``."""
        return F_lif.membrane_decay(self.tau_m, self.dt)

    def _current(self, x: Tensor) -> Tensor:
        # zero-order hold: v relaxes towards W x + b with time constant tau_m
        return (1 - self.decay) * self.linear(x)

    def _run(self, current: Tensor, state: Any) -> tuple[LIFRecord, Any]:
        raise NotImplementedError

    def _format_output(self, record: LIFRecord) -> Tensor:
        if self.output == "spikes":
            return record.spikes
        logit = self.spike_logit_scale * (record.voltage - record.threshold)
        logit = logit + self.spike_logit_offset
        return torch.cat([logit, record.voltage], dim=-1)

    def forward(self, x: Tensor, state: Any = None, return_states: bool = False):
        """Run the sequence.

        Args:
            x: ``(T, B, num_inputs)`` input (``(B, T, num_inputs)`` with ``batch_first``).
            state: initial state (default: zeros, or the stored state with
                ``init_hidden=True``).
            return_states: also return the :class:`~elm_snn.functional.lif.LIFRecord`
                (spikes, pre-reset voltage, threshold; each ``(T, B, N)``).

        Returns:
            ``(y, final_state)`` or ``(y, final_state, record)``. With
            ``output="logit_voltage"``, ``y`` is ``(T, B, 2 N)``: ``y[..., :N]`` spike
            logits ``spike_logit_scale * (v - theta) + spike_logit_offset`` and
            ``y[..., N:]`` the membrane voltage ``v`` before the reset; with
            ``output="spikes"``, ``y`` is the ``(T, B, N)`` spike train.
        """
        x = _check_sequence(x, self.num_inputs, self.linear.weight.dtype, self.batch_first)
        batch = x.shape[1]
        if self.init_hidden and state is None:
            state = self._hidden
            if state is not None and state[0].shape[0] != batch:
                state = None
        if state is not None:
            state = _check_state_tensors(state, self._state_cls, batch, self.num_neurons, x)
        record, final = self._run(self._current(x), state)
        y = self._format_output(record)
        if self.init_hidden:
            self._store_hidden(final)
        if self.batch_first:
            y = y.transpose(0, 1)
            record = LIFRecord(*(r.transpose(0, 1) for r in record))
        if return_states:
            return y, final, record
        return y, final

    def extra_repr(self) -> str:
        return (
            f"num_inputs={self.num_inputs}, num_neurons={self.num_neurons}, dt={self.dt}, "
            f"threshold={self.threshold}, reset={self.reset!r}, output={self.output!r}"
        )


class LIF(_LIFBase):
    """Leaky integrate-and-fire neurons with learnable input weights, bias and tau_m.

    Per step (``dt`` in ms, :mod:`elm_snn.functional.lif`)::

        v_t = kappa v_{t-1} + (1 - kappa) (W x_t + b),   kappa = exp(-dt / tau_m)
        z_t = H(v_t - threshold)             (surrogate gradient ``spike_grad``)
        reset "zero": v_t <- reset_value after a spike (classic LIF, default);
              "subtract": v_t <- v_t - reset_amount; "none": no reset

    ``tau_m = (tau_m_max - tau_m_min) sigmoid(tau_m_raw) + tau_m_min`` stays inside its
    bounds whatever the optimiser does. ``W x + b`` is the voltage the membrane relaxes to
    (the update is the exact solution for an input held constant over a bin).

    Parameter count (paper Table S4, NeuronIO with 1278 inputs): ``LIF(1278)`` has
    ``1278`` weights + ``1`` bias + ``1`` ``tau_m_raw`` = **1280** trainable parameters.
    The spike logit ``spike_logit_scale * (v - threshold) + spike_logit_offset`` uses a
    fixed scale (default 10 per voltage unit, i.e. a sigmoid about 1 mV wide for NeuronIO's
    voltage scaled by 1/10) and offset 0 (buffers); ``learn_spike_logit=True`` makes both
    learnable (+2 parameters per neuron). The threshold is fixed (not counted).

    For NeuronIO's preprocessing (soma voltage capped at -55 mV, minus -67.7 mV, times
    1/10) rest is ``0`` and the cap ``1.27``: ``LIF(1278, threshold=1.27)`` fires where the
    target is capped.

    Args:
        num_inputs: input channels ``I``.
        num_neurons: neurons ``N`` (default 1, a single-neuron model).
        dt: time step in ms (default 1).
        tau_m_init: initial membrane time constant in ms (default 20).
        tau_m_min, tau_m_max: bounds of ``tau_m`` in ms (default 1, 500).
        learn_tau_m: learn ``tau_m`` (default True).
        threshold: firing threshold in voltage units (default 1).
        reset: ``"zero"`` (default), ``"subtract"`` or ``"none"``.
        reset_value: voltage after a spike with ``reset="zero"`` (default 0).
        reset_amount: subtracted with ``reset="subtract"`` (default ``threshold``).
        detach_reset: no gradient through the reset (default True, as snnTorch/Norse).
        spike_grad: surrogate spike function (default ``snntorch.surrogate.atan()``).
        output: ``"logit_voltage"`` (default; ``(T, B, 2N)`` logits then voltages) or
            ``"spikes"`` (``(T, B, N)``).
        spike_logit_scale: slope of the spike logit per voltage unit (default 10).
        learn_spike_logit: learn the logit's slope and offset (default False).
        bias: learn a bias ``b`` (default True).
        batch_first: inputs/outputs ``(B, T, F)``.
        init_hidden: keep the final state and continue from it on the next call.

    Call: ``forward(x, state=None, return_states=False) -> (y, LIFState)``; see
    :meth:`forward`. ``LIFState.v`` is ``(B, N)``.
    """

    _state_cls = LIFState

    def parameters_for_step(self) -> LIFParameters:
        """The :class:`~elm_snn.functional.lif.LIFParameters` for the functional API."""
        return LIFParameters(
            decay=self.decay,
            threshold=self.threshold,
            reset=self.reset,
            reset_amount=self.reset_amount,
            reset_value=self.reset_value,
            detach_reset=self.detach_reset,
            spike_fn=self.spike_grad,
        )

    def _run(self, current: Tensor, state: LIFState | None) -> tuple[LIFRecord, LIFState]:
        return F_lif.lif_sequence(current, state, self.parameters_for_step())


class ALIF(_LIFBase):
    """Adaptive LIF: :class:`LIF` plus one adaptive threshold with its own timescale.

    Per step, in addition to the LIF equations (:mod:`elm_snn.functional.lif`)::

        theta_t = threshold + beta a_{t-1}          threshold compared with v_t
        a_t     = rho a_{t-1} + z_t,   rho = exp(-dt / tau_a)

    so each spike raises the threshold by ``beta`` (voltage units), and the raise decays
    with ``tau_a``. ``tau_a`` is bounded like ``tau_m`` (scaled sigmoid of ``tau_a_raw``);
    ``beta = softplus(beta_raw)`` stays positive (spike-frequency adaptation, never
    facilitation) without a dead zone.

    Parameter count with 1278 inputs: the LIF's 1280 + ``tau_a_raw`` + ``beta_raw`` =
    **1282** trainable parameters (per neuron: ``I + 4``).

    Args (besides those of :class:`LIF`):
        tau_a_init: initial adaptation time constant in ms (default 200).
        tau_a_min, tau_a_max: bounds of ``tau_a`` in ms (default 1, 2000).
        learn_tau_a: learn ``tau_a`` (default True).
        adapt_strength_init: initial ``beta`` in voltage units (default 0.1).
        learn_adapt_strength: learn ``beta`` (default True).

    Call: ``forward(x, state=None, return_states=False) -> (y, ALIFState)`` with
    ``ALIFState(v, a)``, both ``(B, N)``; the spike logit uses the adaptive threshold.
    """

    _state_cls = ALIFState

    def __init__(
        self,
        num_inputs: int,
        num_neurons: int = 1,
        *,
        tau_a_init: float = 200.0,
        tau_a_min: float = 1.0,
        tau_a_max: float = 2000.0,
        learn_tau_a: bool = True,
        adapt_strength_init: float = 0.1,
        learn_adapt_strength: bool = True,
        **options: Any,
    ) -> None:
        super().__init__(num_inputs, num_neurons, **options)
        self.tau_a_min = check_positive("tau_a_min", tau_a_min, allow_zero=True)
        self.tau_a_max = check_positive("tau_a_max", tau_a_max)
        if self.tau_a_max <= self.tau_a_min:
            raise ValueError(
                f"tau_a_max: expected a value > tau_a_min = {tau_a_min}, got {tau_a_max}"
            )
        _check_range("tau_a_init", tau_a_init, self.tau_a_min, self.tau_a_max)
        beta0 = check_positive("adapt_strength_init", adapt_strength_init)
        raw = inverse_scaled_sigmoid(
            torch.full((num_neurons,), float(tau_a_init)), self.tau_a_min, self.tau_a_max
        )
        self._register_tensor("tau_a_raw", raw, bool(learn_tau_a))
        # inverse softplus: log(exp(beta) - 1), written stably
        beta_raw = torch.full((num_neurons,), beta0)
        beta_raw = beta_raw + torch.log(-torch.expm1(-beta_raw))
        self._register_tensor("beta_raw", beta_raw, bool(learn_adapt_strength))

    @property
    def tau_a(self) -> Tensor:
        """``(N,)`` adaptation time constants in ms."""
        return scaled_sigmoid(self.tau_a_raw, self.tau_a_min, self.tau_a_max)

    @property
    def adapt_strength(self) -> Tensor:
        """``(N,)`` threshold increase per spike ``beta = softplus(beta_raw)``."""
        return F.softplus(self.beta_raw)

    def parameters_for_step(self) -> ALIFParameters:
        """The :class:`~elm_snn.functional.lif.ALIFParameters` for the functional API."""
        return ALIFParameters(
            decay=self.decay,
            adapt_decay=F_lif.membrane_decay(self.tau_a, self.dt),
            adapt_strength=self.adapt_strength,
            threshold=self.threshold,
            reset=self.reset,
            reset_amount=self.reset_amount,
            reset_value=self.reset_value,
            detach_reset=self.detach_reset,
            spike_fn=self.spike_grad,
        )

    def _run(self, current: Tensor, state: ALIFState | None) -> tuple[LIFRecord, ALIFState]:
        return F_lif.alif_sequence(current, state, self.parameters_for_step())
