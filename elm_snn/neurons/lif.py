"""LIF and ALIF neurons: neuron-only layers, and the single-neuron fitting models built on them.

Two contracts, two names:

* :class:`LIFNeuron` / :class:`ALIFNeuron` are **neurons only**, as snnTorch's ``Leaky`` and
  Norse's ``LIF``: no weights of their own, placed after an ``nn.Linear`` (or any layer),
  ``(T, B, N)`` input drive -> ``(T, B, N)`` spikes. They carry the bounded, learnable time
  constants in ms and evaluate :mod:`elm_snn.functional.lif`.
* :class:`LinearLIF` / :class:`LinearALIF` are the **NeuronIO fitting models** of the paper's
  Table S4: an ``nn.Linear`` followed by one of those neurons, reading out, like the ELM
  layers, two channels per neuron: a spike logit (for BCE against the target spikes) and
  the membrane voltage (for MSE against the scaled soma voltage).

``LIF`` and ``ALIF`` are the old names of ``LinearLIF`` and ``LinearALIF``; they still work
but warn (``DeprecationWarning``), because in snnTorch and Norse ``LIF`` is a weightless
neuron.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._validation import check_bool, check_bounds, check_choice, check_int, check_positive
from ..functional import lif as F_lif
from ..functional.elm import inverse_scaled_sigmoid, scaled_sigmoid
from ..functional.lif import ALIFParameters, ALIFState, LIFParameters, LIFRecord, LIFState
from .base import NOT_GIVEN, StatefulModule, runs_in_parameter_dtype

__all__ = [
    "ALIF",
    "ALIFCell",
    "LIF",
    "LIFCell",
    "OUTPUT_MODES",
    "ALIFNeuron",
    "LIFNeuron",
    "LinearALIF",
    "LinearLIF",
]

OUTPUT_MODES = ("logit_voltage", "spikes")


def _check_range(name: str, value: float, low: float, high: float) -> float:
    value = check_positive(name, value)
    if not (low < value < high):
        raise ValueError(f"{name}: expected a value strictly inside ({low}, {high}), got {value}")
    return value


class LIFNeuron(StatefulModule):
    """Leaky integrate-and-fire neurons without weights (snnTorch / Norse contract).

    Per step (``dt`` in ms, :mod:`elm_snn.functional.lif`), with ``x_t`` the input drive in
    voltage units (e.g. the output of an ``nn.Linear``)::

        v_t = kappa v_{t-1} + (1 - kappa) x_t,   kappa = exp(-dt / tau_m)
        z_t = H(v_t - threshold)             (surrogate gradient ``spike_grad``)
        reset "zero": v_t <- reset_value after a spike (classic LIF, default);
              "subtract": v_t <- v_t - reset_amount; "none": no reset

    ``x_t`` is the voltage the membrane relaxes to (the update is the exact solution of
    ``tau_m dv/dt = -v + x`` for an input held constant over a bin), so the dynamics do not
    change with ``dt``. ``tau_m = (tau_m_max - tau_m_min) sigmoid(tau_m_raw) + tau_m_min``
    stays inside its bounds whatever the optimiser does.

    Args:
        num_neurons: neurons ``N`` (default 1).
        dt: time step in ms (default 1).
        tau_m_init: initial membrane time constant in ms (default 20).
        tau_m_min, tau_m_max: bounds of ``tau_m`` in ms (default 1, 500).
        learn_tau_m: learn ``tau_m`` (default True; one parameter per neuron).
        threshold: firing threshold in voltage units (default 1).
        reset: ``"zero"`` (default), ``"subtract"`` or ``"none"``.
        reset_value: voltage after a spike with ``reset="zero"`` (default 0).
        reset_amount: subtracted with ``reset="subtract"`` (default ``threshold``).
        detach_reset: no gradient through the reset (default True, as snnTorch/Norse).
        spike_grad: surrogate spike function (default ``snntorch.surrogate.atan()``).
        batch_first: inputs/outputs ``(B, T, N)``.
        init_hidden: keep the final state and continue from it on the next call.

    Call: ``forward(x, state=None, return_states=False)`` with ``x`` ``(T, B, N)`` returns
    ``(spikes, final_state)``, ``spikes`` ``(T, B, N)`` and a
    :class:`~elm_snn.functional.lif.LIFState` (``v`` ``(B, N)``); with
    ``return_states=True`` also the :class:`~elm_snn.functional.lif.LIFRecord` (spikes,
    pre-reset voltage, threshold; each ``(T, B, N)``). With ``init_hidden=True``,
    ``layer(x)`` returns only the spikes (the state stays inside). For one step at a
    time (where ``snntorch.Leaky`` goes) use :class:`LIFCell`.
    """

    _state_type = LIFState

    def __init__(
        self,
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
        batch_first: bool = False,
        init_hidden: bool = False,
    ) -> None:
        super().__init__(init_hidden=init_hidden)
        self.num_neurons = check_int("num_neurons", num_neurons)
        self.dt = check_positive("dt", dt)
        self.tau_m_min, self.tau_m_max = check_bounds(
            "tau_m_min", tau_m_min, "tau_m_max", tau_m_max
        )
        _check_range("tau_m_init", tau_m_init, self.tau_m_min, self.tau_m_max)
        check_choice("reset", reset, F_lif.RESET_MODES)
        self.threshold = float(threshold)
        if self.threshold != self.threshold or abs(self.threshold) == float("inf"):
            raise ValueError(f"threshold: expected a finite number, got {threshold!r}")
        self.reset = reset
        self.reset_value = float(reset_value)
        self.reset_amount = float(threshold if reset_amount is None else reset_amount)
        self.detach_reset = bool(detach_reset)
        self.batch_first = bool(batch_first)
        if spike_grad is None:
            spike_grad = F_lif.default_spike_fn()
        if not callable(spike_grad):
            raise TypeError(
                f"spike_grad: expected a callable such as snntorch.surrogate.atan(), got "
                f"{type(spike_grad).__name__}"
            )
        self.spike_grad = spike_grad
        raw = inverse_scaled_sigmoid(
            torch.full((self.num_neurons,), float(tau_m_init)), self.tau_m_min, self.tau_m_max
        )
        self._register_tensor("tau_m_raw", raw, bool(learn_tau_m))

    @property
    def tau_m(self) -> Tensor:
        """``(N,)`` membrane time constants in ms, ``(max - min) sigmoid(raw) + min``."""
        return scaled_sigmoid(self.tau_m_raw, self.tau_m_min, self.tau_m_max)

    @property
    def decay(self) -> Tensor:
        """``(N,)`` membrane decay per step ``exp(-dt / tau_m)``."""
        return F_lif.membrane_decay(self.tau_m, self.dt)

    def functional_parameters(self) -> LIFParameters:
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

    def parameters_for_step(self) -> LIFParameters | ALIFParameters:
        """Deprecated name of :meth:`functional_parameters`."""
        warnings.warn(
            "parameters_for_step() is deprecated; use functional_parameters() (the same "
            "name on every elm-snn layer)",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.functional_parameters()

    def _param_dtype(self) -> torch.dtype:
        return self.tau_m_raw.dtype

    def _state_widths(self) -> tuple[int, ...]:
        return (self.num_neurons,) * len(self._state_type._fields)  # type: ignore[union-attr]

    def _run(self, current: Tensor, state: Any) -> tuple[LIFRecord, Any]:
        return F_lif.lif_sequence(current, state, self.functional_parameters())

    def _integrate(self, drive: Tensor, state: Any) -> tuple[LIFRecord, Any]:
        """Run the neurons on a time-major ``(T, B, N)`` drive (zero-order hold)."""
        start = self._initial_state(state, drive.shape[1], drive)
        record, final = self._run((1 - self.decay) * drive, start)
        self._keep(final)
        return record, final

    def _result(self, y: Tensor, final: Any, record: LIFRecord, return_states: bool):
        if self.batch_first:
            y = y.transpose(0, 1)
            record = LIFRecord(*(r.transpose(0, 1) for r in record))
        if return_states:
            return y, final, record
        return y, final

    @runs_in_parameter_dtype
    def forward(self, x: Tensor, state: Any = NOT_GIVEN, return_states: bool = False):
        """Run the sequence: ``x`` ``(T, B, N)`` drive -> ``(spikes, final_state)``; see
        the class docstring."""
        state_given = state is not NOT_GIVEN
        x = self._sequence_input(x, self.num_neurons)
        record, final = self._integrate(x, state if state_given else None)
        result = self._result(record.spikes, final, record, return_states)
        return self._call_result(result, state_given)

    def extra_repr(self) -> str:
        return (
            f"num_neurons={self.num_neurons}, dt={self.dt}, threshold={self.threshold}, "
            f"reset={self.reset!r}"
        )


class ALIFNeuron(LIFNeuron):
    """Adaptive LIF neurons without weights: :class:`LIFNeuron` plus one adaptive threshold.

    Per step, in addition to the LIF equations (:mod:`elm_snn.functional.lif`)::

        theta_t = threshold + beta a_{t-1}          threshold compared with v_t
        a_t     = rho a_{t-1} + z_t,   rho = exp(-dt / tau_a)

    so each spike raises the threshold by ``beta`` (voltage units), and the raise decays
    with ``tau_a``. ``tau_a`` is bounded like ``tau_m`` (scaled sigmoid of ``tau_a_raw``);
    ``beta = softplus(beta_raw)`` stays positive (spike-frequency adaptation, never
    facilitation) without a dead zone.

    Args (besides those of :class:`LIFNeuron`):
        tau_a_init: initial adaptation time constant in ms (default 200).
        tau_a_min, tau_a_max: bounds of ``tau_a`` in ms (default 1, 2000).
        learn_tau_a: learn ``tau_a`` (default True).
        adapt_strength_init: initial ``beta`` in voltage units (default 0.1).
        learn_adapt_strength: learn ``beta`` (default True).

    Call: ``forward(x, state=None, return_states=False) -> (spikes, ALIFState)`` with
    ``x`` and ``spikes`` ``(T, B, N)`` and ``ALIFState(v, a)``, both ``(B, N)``.
    """

    _state_type = ALIFState

    def __init__(
        self,
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
        super().__init__(num_neurons, **options)
        self.tau_a_min, self.tau_a_max = check_bounds(
            "tau_a_min", tau_a_min, "tau_a_max", tau_a_max
        )
        _check_range("tau_a_init", tau_a_init, self.tau_a_min, self.tau_a_max)
        beta0 = check_positive("adapt_strength_init", adapt_strength_init)
        raw = inverse_scaled_sigmoid(
            torch.full((self.num_neurons,), float(tau_a_init)), self.tau_a_min, self.tau_a_max
        )
        self._register_tensor("tau_a_raw", raw, bool(learn_tau_a))
        # inverse softplus: log(exp(beta) - 1), written stably
        beta_raw = torch.full((self.num_neurons,), beta0)
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

    def functional_parameters(self) -> ALIFParameters:  # type: ignore[override]
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

    def _run(self, current: Tensor, state: Any) -> tuple[LIFRecord, Any]:
        return F_lif.alif_sequence(current, state, self.functional_parameters())


class _NeuronStep:
    """One time step of a weightless neuron (mixed in before :class:`LIFNeuron` or
    :class:`ALIFNeuron`): the same equations, run on a sequence of one step."""

    num_neurons: int

    def __init__(self, num_neurons: int = 1, *, output: bool = False, **options: Any) -> None:
        if "batch_first" in options:
            raise TypeError(
                "batch_first: a cell takes one time step (B, N); batch_first only concerns "
                "the sequence layers (LIFNeuron, ALIFNeuron)"
            )
        super().__init__(num_neurons, **options)  # type: ignore[call-arg]
        self.output = check_bool("output", output)

    @runs_in_parameter_dtype
    def forward(self, x_t: Tensor, state: Any = NOT_GIVEN):
        """Advance one step: ``x_t`` ``(B, N)`` drive -> spikes ``(B, N)``; see the class
        docstring for what comes back."""
        x_t = self._step_input(x_t, self.num_neurons)  # type: ignore[attr-defined]
        given = state is not NOT_GIVEN
        record, final = self._integrate(x_t.unsqueeze(0), state if given else None)  # type: ignore[attr-defined]
        return self._step_result(record.spikes[0], final, state_given=given)  # type: ignore[attr-defined]


class LIFCell(_NeuronStep, LIFNeuron):
    """One time step of :class:`LIFNeuron` (weightless; where ``snntorch.Leaky`` goes).

    Same arguments and equations as :class:`LIFNeuron` (without ``batch_first``), plus
    ``output``. Calls, as :class:`~elm_snn.ELMCell`:

    * ``cell(x_t, state)`` (Norse) returns ``(spikes, LIFState)``; ``state=None`` starts
      at rest, or with ``init_hidden=True`` from the stored state;
    * ``cell(x_t)`` (snnTorch): ``(spikes, LIFState)`` without ``init_hidden``; with
      ``init_hidden=True`` only the spikes ``(B, N)``, or with ``output=True`` the
      tensors ``(spikes, v)``, ``v`` the voltage after the reset ``(B, N)`` (snnTorch's
      ``(spk, mem)``; the full state is :attr:`hidden`).

    ``x_t`` ``(B, N)`` is the drive in voltage units (e.g. an ``nn.Linear``'s output).
    """


class ALIFCell(_NeuronStep, ALIFNeuron):
    """One time step of :class:`ALIFNeuron` (weightless, adaptive threshold).

    Same arguments and equations as :class:`ALIFNeuron` (without ``batch_first``), plus
    ``output``; calls as :class:`LIFCell`, with an ``ALIFState(v, a)`` and, with
    ``init_hidden=True, output=True``, ``(spikes, v)``.
    """


class _LinearFit:
    """The part :class:`LinearLIF` and :class:`LinearALIF` add to their neuron: an input
    ``nn.Linear`` and the spike-logit readout (mixed in before the neuron class)."""

    num_neurons: int

    def __init__(
        self,
        num_inputs: int,
        num_neurons: int = 1,
        *,
        output: str = "logit_voltage",
        spike_logit_scale: float = 10.0,
        learn_spike_logit: bool = False,
        bias: bool = True,
        **neuron_options: Any,
    ) -> None:
        num_inputs = check_int("num_inputs", num_inputs)
        check_choice("output", output, OUTPUT_MODES)
        super().__init__(num_neurons, **neuron_options)  # type: ignore[call-arg]
        self.num_inputs = num_inputs
        self.output = output
        self.linear = nn.Linear(num_inputs, self.num_neurons, bias=bias)
        scale = check_positive("spike_logit_scale", spike_logit_scale)
        self.learn_spike_logit = bool(learn_spike_logit)
        register = self._register_tensor  # type: ignore[attr-defined]
        register("spike_logit_scale", torch.full((self.num_neurons,), scale), learn_spike_logit)
        register("spike_logit_offset", torch.zeros(self.num_neurons), learn_spike_logit)

    def _param_dtype(self) -> torch.dtype:
        return self.linear.weight.dtype

    def _format_output(self, record: LIFRecord) -> Tensor:
        if self.output == "spikes":
            return record.spikes
        logit = self.spike_logit_scale * (record.voltage - record.threshold)
        logit = logit + self.spike_logit_offset
        return torch.cat([logit, record.voltage], dim=-1)

    @runs_in_parameter_dtype
    def forward(self, x: Tensor, state: Any = NOT_GIVEN, return_states: bool = False):
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
            ``output="spikes"``, ``y`` is the ``(T, B, N)`` spike train. With
            ``init_hidden=True`` and no ``state`` argument only ``y`` (the state stays
            inside, as for every elm-snn layer).
        """
        state_given = state is not NOT_GIVEN
        x = self._sequence_input(x, self.num_inputs)  # type: ignore[attr-defined]
        drive = self.linear(x)
        record, final = self._integrate(drive, state if state_given else None)  # type: ignore[attr-defined]
        result = self._result(self._format_output(record), final, record, return_states)  # type: ignore[attr-defined]
        return self._call_result(result, state_given)  # type: ignore[attr-defined]

    def extra_repr(self) -> str:
        return (
            f"num_inputs={self.num_inputs}, "
            + super().extra_repr()  # type: ignore[misc]
            + f", output={self.output!r}"
        )


class LinearLIF(_LinearFit, LIFNeuron):
    """An ``nn.Linear`` followed by :class:`LIFNeuron`: the paper's LIF fitting model.

    Per step: ``v_t = kappa v_{t-1} + (1 - kappa) (W x_t + b)`` and the LIF spike and reset
    of :class:`LIFNeuron` (``W x + b`` is the voltage the membrane relaxes to).

    Parameter count (paper Table S4, NeuronIO with 1278 inputs): ``LinearLIF(1278)`` has
    ``1278`` weights + ``1`` bias + ``1`` ``tau_m_raw`` = **1280** trainable parameters.
    The spike logit ``spike_logit_scale * (v - threshold) + spike_logit_offset`` uses a
    fixed scale (default 10 per voltage unit, i.e. a sigmoid about 1 mV wide for NeuronIO's
    voltage scaled by 1/10) and offset 0 (buffers); ``learn_spike_logit=True`` makes both
    learnable (+2 parameters per neuron). The threshold is fixed (not counted).

    For NeuronIO's preprocessing (soma voltage capped at -55 mV, minus -67.7 mV, times
    1/10) rest is ``0`` and the cap ``1.27``: ``LinearLIF(1278, threshold=1.27)`` fires
    where the target is capped.

    Args:
        num_inputs: input channels ``I``.
        num_neurons: neurons ``N`` (default 1, a single-neuron model).
        output: ``"logit_voltage"`` (default; ``(T, B, 2N)`` logits then voltages) or
            ``"spikes"`` (``(T, B, N)``).
        spike_logit_scale: slope of the spike logit per voltage unit (default 10).
        learn_spike_logit: learn the logit's slope and offset (default False).
        bias: learn a bias ``b`` (default True).
        **neuron_options: the options of :class:`LIFNeuron` (``dt``, ``tau_m_init``,
            ``threshold``, ``reset``, ``batch_first``, ``init_hidden``, ...).

    Call: ``forward(x, state=None, return_states=False) -> (y, LIFState)`` with ``x``
    ``(T, B, num_inputs)``; see :meth:`forward`. ``LIFState.v`` is ``(B, N)``.
    """


class LinearALIF(_LinearFit, ALIFNeuron):
    """An ``nn.Linear`` followed by :class:`ALIFNeuron`: the paper's ALIF fitting model.

    As :class:`LinearLIF`, with the adaptive threshold of :class:`ALIFNeuron` (its
    arguments ``tau_a_init``, ``tau_a_min``, ``tau_a_max``, ``learn_tau_a``,
    ``adapt_strength_init``, ``learn_adapt_strength`` are accepted too); the spike logit
    uses the adaptive threshold.

    Parameter count with 1278 inputs: the LIF's 1280 + ``tau_a_raw`` + ``beta_raw`` =
    **1282** trainable parameters (per neuron: ``I + 4``).

    Call: ``forward(x, state=None, return_states=False) -> (y, ALIFState)`` with ``x``
    ``(T, B, num_inputs)``, ``y`` ``(T, B, 2 N)`` (or ``(T, B, N)`` spikes) and
    ``ALIFState(v, a)``, both ``(B, N)``.
    """


def _warn_renamed(old: str, new: str, neuron: str) -> None:
    warnings.warn(
        f"elm_snn.{old} is renamed {new}: it contains its own nn.Linear and returns a spike "
        f"logit and the voltage. The neuron-only layer, like snnTorch's and Norse's {old}, "
        f"is {neuron}. The old name will be removed in a future release.",
        DeprecationWarning,
        stacklevel=3,
    )


class LIF(LinearLIF):
    """Deprecated name of :class:`LinearLIF` (same arguments, state dict and outputs:
    ``(T, B, num_inputs)`` -> ``(T, B, 2 N)``; warns). For a weightless neuron after an
    ``nn.Linear`` use :class:`LIFNeuron`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _warn_renamed("LIF", "LinearLIF", "LIFNeuron")
        super().__init__(*args, **kwargs)


class ALIF(LinearALIF):
    """Deprecated name of :class:`LinearALIF` (same arguments, state dict and outputs:
    ``(T, B, num_inputs)`` -> ``(T, B, 2 N)``; warns). For a weightless neuron after an
    ``nn.Linear`` use :class:`ALIFNeuron`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _warn_renamed("ALIF", "LinearALIF", "ALIFNeuron")
        super().__init__(*args, **kwargs)
