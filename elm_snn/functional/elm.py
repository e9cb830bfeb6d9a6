"""Reference implementation of the Expressive Leaky Memory (ELM) neuron.

This module is the single source of truth for the ELM equations (Spieler et al., 2023,
arXiv 2306.16922, and the official code's v1/v2 variants). Every faster path in elm-snn
is tested against :func:`elm_sequence`. It is pure: no module state, no parameters; the
modules in :mod:`elm_snn.neurons` turn their learnable parameters into an
:class:`ELMParameters` bundle with :func:`derive_parameters` and call the functions here.

Notation (per time step, ``dt`` the bin size in ms)::

    kappa_m = exp(-dt / tau_m)                       memory decay, (M,)
    kappa_s = exp(-dt / tau_s)                       trace decay, (S,) or (K,)
    x_syn   = x_t[index] * mask                      routing inputs to S synapses
    trace mode "synapse" (official v1):
        s_t = kappa_s * s_{t-1} + w_s * x_syn        (B, S)
        b_t = sum of the S/K traces of each branch   (B, K)
    trace mode "branch" (official v2):
        b_t = kappa_s * b_{t-1} + branch-sum(w_s * x_syn)   (B, K)
    dm_t = f(MLP([b_t, kappa_m * m_{t-1}])),         f(z) = 1.7159 tanh(2 z / 3)
    m_t  = kappa_m * m_{t-1} + gain * dm_t
        gain = lambda * (1 - kappa_m)                memory update "paper" (v1)
        gain = 1 - exp(-dt * lambda / tau_m)         memory update "stable" (v2)
    y_t  = W_y m_t + b_y

Shapes: ``B`` batch, ``I`` inputs, ``S`` synapses, ``K`` branches (``S`` is a multiple of
``K``; branch ``k`` owns synapses ``k*S/K .. (k+1)*S/K - 1``), ``M`` memory units,
``O`` outputs, ``T`` time steps. Sequences are time-major ``(T, B, F)``.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "ACTIVATIONS",
    "MEMORY_UPDATES",
    "TRACE_MODES",
    "ELMParameters",
    "ELMRecord",
    "ELMState",
    "custom_tanh",
    "derive_parameters",
    "elm_memory_step",
    "elm_readout",
    "elm_sequence",
    "elm_step",
    "initial_state",
    "inverse_scaled_sigmoid",
    "memory_decay",
    "memory_gain",
    "mlp_forward",
    "route_inputs",
    "scaled_sigmoid",
    "tau_m_initial_values",
]

ACTIVATIONS = ("relu", "silu")
MEMORY_UPDATES = ("paper", "stable")
TRACE_MODES = ("synapse", "branch")

#: Time constants are clamped from below before division (as in the official code).
TAU_EPS = 1e-6


class ELMState(NamedTuple):
    """Hidden state of an ELM neuron layer.

    Attributes:
        memory: ``(B, M)`` memory units ``m_t``.
        trace: ``(B, S)`` per-synapse traces (trace mode "synapse") or ``(B, K)``
            per-branch traces (trace mode "branch").
    """

    memory: Tensor
    trace: Tensor

    def to(self, *args: Any, **kwargs: Any) -> ELMState:
        """Both tensors moved/cast with ``Tensor.to(*args, **kwargs)`` (as Norse's states)."""
        return ELMState(self.memory.to(*args, **kwargs), self.trace.to(*args, **kwargs))


class ELMRecord(NamedTuple):
    """Per-step internals recorded by :func:`elm_sequence` with ``record=True``.

    Attributes:
        memory: ``(T, B, M)`` memory ``m_t`` after each step.
        trace: ``(T, B, S)`` or ``(T, B, K)`` synaptic/branch traces after each step.
        branch_input: ``(T, B, K)`` summed branch trace fed to the MLP at each step.
    """

    memory: Tensor
    trace: Tensor
    branch_input: Tensor


class ELMParameters(NamedTuple):
    """Everything :func:`elm_step` needs, in the form the equations use.

    Attributes:
        synapse_weight: ``(S,)`` effective synapse weights ``w_s`` (>= 0 after relu).
        trace_decay: ``(S,)`` (trace mode "synapse") or ``(K,)`` ("branch") decays.
        memory_decay: ``(M,)`` ``kappa_m``.
        memory_gain: ``(M,)`` gain applied to ``dm_t`` (see module docstring).
        mlp_weights: weights of the MLP's Linear layers, first ``(H, K + M)``, last ``(M, H)``.
        mlp_biases: matching biases (``None`` for a layer without bias).
        readout_weight: ``(O, M)``.
        readout_bias: ``(O,)`` or ``None``.
        synapse_index: ``(S,)`` int64 input channel of each synapse, or ``None`` when
            synapses are the inputs themselves (``S == I``).
        synapse_mask: ``(S,)`` float mask (0 for padding synapses), or ``None``.
        num_branches: ``K``.
        activation: MLP hidden activation, one of :data:`ACTIVATIONS`.
        trace_mode: one of :data:`TRACE_MODES`.
    """

    synapse_weight: Tensor
    trace_decay: Tensor
    memory_decay: Tensor
    memory_gain: Tensor
    mlp_weights: tuple[Tensor, ...]
    mlp_biases: tuple[Tensor | None, ...]
    readout_weight: Tensor
    readout_bias: Tensor | None
    synapse_index: Tensor | None
    synapse_mask: Tensor | None
    num_branches: int
    activation: str
    trace_mode: str

    @property
    def num_synapses(self) -> int:
        """``S``, the number of synapses."""
        return self.synapse_weight.shape[0]

    @property
    def num_memory(self) -> int:
        """``M``, the number of memory units."""
        return self.memory_decay.shape[0]

    @property
    def trace_size(self) -> int:
        """Width of the trace state: ``S`` or ``K``."""
        return self.trace_decay.shape[0]


# --------------------------------------------------------------------------- helpers


def custom_tanh(z: Tensor) -> Tensor:
    """LeCun's scaled tanh ``1.7159 * tanh(2 z / 3)`` used on the MLP output."""
    return torch.tanh(z * 2 / 3) * 1.7159


def scaled_sigmoid(raw: Tensor, lower: float, upper: float) -> Tensor:
    """Map an unconstrained ``raw`` value into ``(lower, upper)``."""
    return (upper - lower) * torch.sigmoid(raw) + lower


def inverse_scaled_sigmoid(value: Tensor, lower: float, upper: float) -> Tensor:
    """Inverse of :func:`scaled_sigmoid`, after clamping into ``[lower+1e-6, upper-1e-6]``.

    Computed in float64 and returned in ``value``'s dtype: in float32 the ``1e-6`` margin
    rounds away at the upper bound (e.g. ``1000 - 1e-6 == 1000``), which gives ``inf`` (the
    official code's initial ``_proto_tau_m`` has this ``inf``); float64 keeps it finite,
    and ``scaled_sigmoid`` of the result still gives the bound in float32.
    """
    wide = torch.clamp(value.to(torch.float64), lower + 1e-6, upper - 1e-6)
    return torch.log((wide - lower) / (upper - wide)).to(value.dtype)


def tau_m_initial_values(
    num_memory: int, low: float, high: float, spacing: str = "log", dtype=torch.float32
) -> Tensor:
    """Initial memory time constants in ms: ``num_memory`` values from ``low`` to ``high``.

    ``spacing="log"`` is the official code's choice (``logspace`` from ``low + 1e-6`` to
    ``high - 1e-6``); ``"linear"`` spaces them evenly (the paper's SHD setting).
    """
    if spacing == "log":
        return torch.logspace(
            math.log10(low + 1e-6), math.log10(high - 1e-6), num_memory, dtype=dtype
        )
    if spacing == "linear":
        return torch.linspace(low + 1e-6, high - 1e-6, num_memory, dtype=dtype)
    raise ValueError(f"tau_m_init_spacing: expected 'log' or 'linear', got {spacing!r}")


def memory_decay(tau_m: Tensor, dt: float) -> Tensor:
    """``kappa_m = exp(-dt / max(tau_m, 1e-6))``; ``tau_m`` and ``dt`` in ms."""
    return torch.exp(-dt / torch.clamp(tau_m, min=TAU_EPS))


def memory_gain(tau_m: Tensor, dt: float, lambda_value: float, update: str) -> Tensor:
    """Gain on ``dm_t`` in the memory update.

    ``"paper"``: ``lambda * (1 - kappa_m)``; ``"stable"``: ``1 - exp(-dt * lambda / tau_m)``
    (never exceeds 1, so the memory stays bounded for any ``lambda``).
    """
    if update == "paper":
        return lambda_value * (1 - memory_decay(tau_m, dt))
    if update == "stable":
        return 1 - torch.exp(-dt * lambda_value / torch.clamp(tau_m, min=TAU_EPS))
    raise ValueError(f"memory_update: expected one of {MEMORY_UPDATES}, got {update!r}")


def derive_parameters(
    *,
    w_s_raw: Tensor,
    tau_s: Tensor,
    tau_m: Tensor,
    dt: float,
    lambda_value: float,
    memory_update: str,
    mlp_weights: tuple[Tensor, ...],
    mlp_biases: tuple[Tensor | None, ...],
    readout_weight: Tensor,
    readout_bias: Tensor | None,
    synapse_index: Tensor | None,
    synapse_mask: Tensor | None,
    num_branches: int,
    activation: str,
    trace_mode: str,
) -> ELMParameters:
    """Build :class:`ELMParameters` from raw learnable quantities.

    Args:
        w_s_raw: ``(S,)`` raw synapse weights; the effective weight is ``relu(w_s_raw)``.
        tau_s: ``(S,)`` or ``(K,)`` trace time constants in ms.
        tau_m: ``(M,)`` memory time constants in ms (already mapped into their bounds).
        dt: time step in ms.
        lambda_value: memory update scale ``lambda``.
        memory_update: ``"paper"`` or ``"stable"``.
        other arguments: passed through, see :class:`ELMParameters`.
    """
    return ELMParameters(
        synapse_weight=torch.relu(w_s_raw),
        trace_decay=torch.exp(-dt / torch.clamp(tau_s, min=TAU_EPS)),
        memory_decay=memory_decay(tau_m, dt),
        memory_gain=memory_gain(tau_m, dt, lambda_value, memory_update),
        mlp_weights=tuple(mlp_weights),
        mlp_biases=tuple(mlp_biases),
        readout_weight=readout_weight,
        readout_bias=readout_bias,
        synapse_index=synapse_index,
        synapse_mask=synapse_mask,
        num_branches=num_branches,
        activation=activation,
        trace_mode=trace_mode,
    )


def initial_state(params: ELMParameters, batch_size: int, like: Tensor) -> ELMState:
    """Zero state for ``batch_size`` samples, on ``like``'s device and dtype."""
    zeros = like.new_zeros
    return ELMState(
        memory=zeros((batch_size, params.num_memory)),
        trace=zeros((batch_size, params.trace_size)),
    )


def route_inputs(x: Tensor, params: ELMParameters) -> Tensor:
    """Map inputs ``(..., I)`` to synapse inputs ``(..., S)``: ``x[..., index] * mask``."""
    if params.synapse_index is None:
        return x
    routed = x[..., params.synapse_index]  # advanced indexing: much faster than index_select
    if params.synapse_mask is not None:
        routed = routed * params.synapse_mask
    return routed


def mlp_forward(h: Tensor, params: ELMParameters) -> Tensor:
    """Apply the MLP: hidden Linear layers with the activation, then a final Linear."""
    act = torch.relu if params.activation == "relu" else F.silu
    last = len(params.mlp_weights) - 1
    for i, (weight, bias) in enumerate(zip(params.mlp_weights, params.mlp_biases, strict=True)):
        h = F.linear(h, weight, bias)
        if i < last:
            h = act(h)
    return h


def _branch_sum(values: Tensor, num_branches: int) -> Tensor:
    """Sum ``(B, S)`` over the consecutive synapses of each of ``K`` branches -> ``(B, K)``."""
    if values.shape[-1] == num_branches:
        return values
    per_branch = values.shape[-1] // num_branches  # explicit: -1 is ambiguous for B = 0
    return values.reshape(*values.shape[:-1], num_branches, per_branch).sum(dim=-1)


def elm_memory_step(
    synapse_input: Tensor, state: ELMState, params: ELMParameters
) -> tuple[ELMState, Tensor]:
    """One step of the trace and memory dynamics on already-routed input.

    Args:
        synapse_input: ``(B, S)`` input at each synapse (after :func:`route_inputs`).
        state: previous :class:`ELMState`.
        params: :class:`ELMParameters`.

    Returns:
        ``(new_state, branch_input)`` with ``branch_input`` the ``(B, K)`` MLP branch input.
    """
    weighted = params.synapse_weight * synapse_input
    if params.trace_mode == "synapse":
        trace = params.trace_decay * state.trace + weighted
        branch_input = _branch_sum(trace, params.num_branches)
    else:
        trace = params.trace_decay * state.trace + _branch_sum(weighted, params.num_branches)
        branch_input = trace
    decayed_memory = params.memory_decay * state.memory
    delta = custom_tanh(mlp_forward(torch.cat([branch_input, decayed_memory], dim=-1), params))
    memory = decayed_memory + params.memory_gain * delta
    return ELMState(memory=memory, trace=trace), branch_input


def elm_readout(memory: Tensor, params: ELMParameters) -> Tensor:
    """Readout ``y = W_y m + b_y``: ``(..., M) -> (..., O)``."""
    return F.linear(memory, params.readout_weight, params.readout_bias)


def elm_step(x_t: Tensor, state: ELMState | None, params: ELMParameters) -> tuple[Tensor, ELMState]:
    """One full ELM step: route, update traces and memory, read out.

    Args:
        x_t: ``(B, I)`` input at this time step.
        state: previous state, or ``None`` for zeros.
        params: :class:`ELMParameters`.

    Returns:
        ``(y_t, new_state)`` with ``y_t`` of shape ``(B, O)``.
    """
    if state is None:
        state = initial_state(params, x_t.shape[0], x_t)
    new_state, _ = elm_memory_step(route_inputs(x_t, params), state, params)
    return elm_readout(new_state.memory, params), new_state


def elm_sequence(
    x: Tensor,
    state: ELMState | None,
    params: ELMParameters,
    record: bool = False,
) -> tuple[Tensor, ELMState, ELMRecord | None]:
    """Run the ELM over a whole time-major sequence (reference loop).

    Args:
        x: ``(T, B, I)`` inputs.
        state: initial state, or ``None`` for zeros.
        params: :class:`ELMParameters`.
        record: also return the per-step memory, traces and branch inputs.

    Returns:
        ``(y, final_state, record)``: ``y`` is ``(T, B, O)``; ``record`` is an
        :class:`ELMRecord` or ``None``.
    """
    steps, batch = x.shape[0], x.shape[1]
    if state is None:
        state = initial_state(params, batch, x)
    synapse_input = route_inputs(x, params)
    memories, traces, branches = [], [], []
    for t in range(steps):
        state, branch_input = elm_memory_step(synapse_input[t], state, params)
        memories.append(state.memory)
        if record:
            traces.append(state.trace)
            branches.append(branch_input)
    if steps == 0:
        memory_seq = x.new_zeros((0, batch, params.num_memory))
    else:
        memory_seq = torch.stack(memories)
    y = elm_readout(memory_seq, params)
    rec = None
    if record:
        if steps == 0:
            rec = ELMRecord(
                memory_seq,
                x.new_zeros((0, batch, params.trace_size)),
                x.new_zeros((0, batch, params.num_branches)),
            )
        else:
            rec = ELMRecord(memory_seq, torch.stack(traces), torch.stack(branches))
    return y, state, rec
