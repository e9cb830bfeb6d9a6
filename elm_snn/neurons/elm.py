"""ELM and Branch-ELM neuron layers: per-step cells and whole-sequence layers.

All four classes share one parameter layout (:class:`ELMCore`), so a state dict moves
freely between a cell and its sequence layer, and all of them evaluate the equations
through :mod:`elm_snn.functional.elm` (the reference) or, for sequences, a fused kernel
that is tested against it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from .._validation import check_bool, check_bounds, check_choice, check_int, check_positive
from ..functional import elm as F_elm
from ..functional.elm import ELMParameters, ELMRecord, ELMState
from ..functional.routing import explicit_routing, neuronio_routing, random_routing
from .base import NOT_GIVEN, StatefulModule, runs_in_parameter_dtype

__all__ = ["ELM", "BranchELM", "BranchELMCell", "ELMCell", "ELMCore", "BACKENDS"]

BACKENDS = ("auto", "reference", "fused")
ROUTINGS = ("neuronio", "random")


class ELMCore(StatefulModule):
    """Parameters and configuration shared by :class:`ELMCell` and :class:`ELM`.

    Not used directly; see :class:`ELM` for the meaning of every argument.

    Parameters and buffers (names are stable across cells and sequence layers):

    * ``w_s_raw`` ``(S,)``: raw synapse weights, effective ``w_s = relu(w_s_raw)``.
    * ``tau_s`` ``(S,)`` (trace mode "synapse") or ``(K,)`` ("branch"): trace time
      constants in ms (buffer unless ``learn_tau_s``).
    * ``tau_m_raw`` ``(M,)``: memory time constants before the bounded map
      ``tau_m = (tau_m_max - tau_m_min) * sigmoid(tau_m_raw) + tau_m_min`` (ms).
    * ``mlp.{0,2,...}``: Linear layers of the MLP (hidden layers then output layer).
    * ``readout``: ``Linear(M, O)``, the paper's ``W_y``.
    * ``synapse_index`` ``(S,)`` int64 / ``synapse_mask`` ``(S,)`` float: routing buffers
      (only with routing).

    The constructor checks and stores the configuration, then builds, in this order (the
    order of the draws from torch's global RNG, which fixes the initial values): the
    routing, the synapse and memory parameters, the MLP and the readout.
    """

    _state_type = ELMState
    _state_axes = ("(B, M)", "(B, S or K)")

    def __init__(
        self,
        num_inputs: int,
        num_memory: int,
        num_outputs: int,
        *,
        init_hidden: bool = False,
        num_branches: int | None = None,
        synapses_per_branch: int | None = None,
        routing: str | Tensor | None = None,
        routing_mask: Tensor | None = None,
        routing_seed: int | None = None,
        mlp_hidden_size: int | None = None,
        mlp_num_layers: int = 1,
        mlp_activation: str = "relu",
        lambda_value: float = 5.0,
        tau_m_min: float = 1.0,
        tau_m_max: float = 1000.0,
        tau_m_init: tuple[float, float] | None = None,
        tau_m_init_spacing: str = "log",
        learn_tau_m: bool = False,
        tau_s: float = 5.0,
        learn_tau_s: bool = False,
        w_s_init: float = 0.5,
        learn_w_s: bool = True,
        dt: float = 1.0,
        memory_update: str = "paper",
        trace_mode: str = "synapse",
        bias: bool = True,
        spiking: bool = False,
        spike_threshold: float = 0.0,
        spike_grad: Callable[[Tensor], Tensor] | None = None,
    ) -> None:
        super().__init__(init_hidden=init_hidden)
        self._init_sizes(num_inputs, num_memory, num_outputs, mlp_hidden_size, mlp_num_layers)
        self._init_options(
            mlp_activation,
            memory_update,
            trace_mode,
            tau_m_init_spacing,
            lambda_value=lambda_value,
            dt=dt,
            tau_m_min=tau_m_min,
            tau_m_max=tau_m_max,
            learn_tau_m=learn_tau_m,
            learn_tau_s=learn_tau_s,
            learn_w_s=learn_w_s,
        )
        self._init_branches(num_branches, synapses_per_branch, routing)
        self._init_routing(routing, routing_mask, routing_seed)
        self._init_synapses(w_s_init, tau_s)
        self._init_memory(tau_m_init, tau_m_init_spacing)
        self._init_mlp_and_readout(bias)
        self._init_spiking(spiking, spike_threshold, spike_grad)

    # ------------------------------------------------------------------ construction
    def _init_sizes(
        self,
        num_inputs: int,
        num_memory: int,
        num_outputs: int,
        mlp_hidden_size: int | None,
        mlp_num_layers: int,
    ) -> None:
        self.num_inputs = check_int("num_inputs", num_inputs)
        self.num_memory = check_int("num_memory", num_memory)
        self.num_outputs = check_int("num_outputs", num_outputs)
        self.mlp_num_layers = check_int("mlp_num_layers", mlp_num_layers, minimum=0)
        self.mlp_hidden_size = check_int(
            "mlp_hidden_size",
            mlp_hidden_size if mlp_hidden_size is not None else 2 * self.num_memory,
        )

    def _init_options(
        self,
        mlp_activation: str,
        memory_update: str,
        trace_mode: str,
        tau_m_init_spacing: str,
        *,
        lambda_value: float,
        dt: float,
        tau_m_min: float,
        tau_m_max: float,
        learn_tau_m: bool,
        learn_tau_s: bool,
        learn_w_s: bool,
    ) -> None:
        check_choice("mlp_activation", mlp_activation, F_elm.ACTIVATIONS)
        check_choice("memory_update", memory_update, F_elm.MEMORY_UPDATES)
        check_choice("trace_mode", trace_mode, F_elm.TRACE_MODES)
        check_choice("tau_m_init_spacing", tau_m_init_spacing, ("log", "linear"))
        self.mlp_activation = mlp_activation
        self.memory_update = memory_update
        self.trace_mode = trace_mode
        self.lambda_value = check_positive("lambda_value", lambda_value)
        self.dt = check_positive("dt", dt)
        self.tau_m_min, self.tau_m_max = check_bounds(
            "tau_m_min", tau_m_min, "tau_m_max", tau_m_max
        )
        self.learn_tau_m = bool(learn_tau_m)
        self.learn_tau_s = bool(learn_tau_s)
        self.learn_w_s = bool(learn_w_s)

    def _init_branches(
        self,
        num_branches: int | None,
        synapses_per_branch: int | None,
        routing: str | Tensor | None,
    ) -> None:
        """Resolve ``K`` and ``S/K``: one branch per input by default; without routing the
        synapses are the inputs (``K * S/K == I``); with routing both are required."""
        num_inputs = self.num_inputs
        if num_branches is None and synapses_per_branch is None and routing is None:
            num_branches, synapses_per_branch = num_inputs, 1
        elif routing is None:
            if num_branches is None:
                raise ValueError("num_branches: required when synapses_per_branch is given")
            check_int("num_branches", num_branches)
            if synapses_per_branch is None:
                synapses_per_branch = num_inputs // num_branches
            if num_branches * synapses_per_branch != num_inputs:
                raise ValueError(
                    f"num_branches: without routing the synapses are the inputs, so "
                    f"num_branches * synapses_per_branch must equal num_inputs = {num_inputs}, "
                    f"got {num_branches} * {synapses_per_branch}"
                )
        elif num_branches is None or synapses_per_branch is None:
            raise ValueError(
                "num_branches, synapses_per_branch: both are required with routing, got "
                f"{num_branches!r} and {synapses_per_branch!r}"
            )
        self.num_branches = check_int("num_branches", num_branches)
        self.synapses_per_branch = check_int("synapses_per_branch", synapses_per_branch)
        self.num_synapses = self.num_branches * self.synapses_per_branch

    def _init_routing(
        self, routing: str | Tensor | None, routing_mask: Tensor | None, routing_seed: int | None
    ) -> None:
        """Register ``synapse_index``/``synapse_mask`` (only with routing)."""
        self.routing: str | None = None
        if routing is None:
            return
        if isinstance(routing, str):
            check_choice("routing", routing, ROUTINGS)
            if routing == "neuronio":
                index, mask = neuronio_routing(
                    self.num_inputs, self.num_branches, self.synapses_per_branch
                )
            else:
                gen = None
                if routing_seed is not None:
                    gen = torch.Generator().manual_seed(int(routing_seed))
                index, mask = random_routing(self.num_inputs, self.num_synapses, gen)
            self.routing = routing
        elif isinstance(routing, Tensor):
            index, mask = explicit_routing(
                routing, self.num_inputs, self.num_synapses, routing_mask
            )
            self.routing = "explicit"
        else:
            raise TypeError(
                f"routing: expected None, 'neuronio', 'random' or an int64 index tensor, "
                f"got {type(routing).__name__}"
            )
        self.register_buffer("synapse_index", index)
        self.register_buffer("synapse_mask", mask)

    def _init_synapses(self, w_s_init: float, tau_s: float) -> None:
        """``w_s_raw`` ``(S,)`` and ``tau_s`` ``(S,)`` or ``(K,)`` (float32 like torch.nn)."""
        w_s = torch.full((self.num_synapses,), float(w_s_init))
        self._register_tensor("w_s_raw", w_s, self.learn_w_s)
        trace_size = self.num_synapses if self.trace_mode == "synapse" else self.num_branches
        self._register_tensor(
            "tau_s", torch.full((trace_size,), check_positive("tau_s", tau_s)), self.learn_tau_s
        )

    def _init_memory(self, tau_m_init: tuple[float, float] | None, spacing: str) -> None:
        """``tau_m_raw`` ``(M,)``: initial time constants spread over ``tau_m_init``."""
        low, high = tau_m_init if tau_m_init is not None else (self.tau_m_min, self.tau_m_max)
        if not (self.tau_m_min <= low < high <= self.tau_m_max):
            raise ValueError(
                f"tau_m_init: expected a range inside [tau_m_min, tau_m_max] = "
                f"[{self.tau_m_min}, {self.tau_m_max}], got {tau_m_init!r}"
            )
        tau0 = F_elm.tau_m_initial_values(self.num_memory, low, high, spacing)
        self._register_tensor(
            "tau_m_raw",
            F_elm.inverse_scaled_sigmoid(tau0, self.tau_m_min, self.tau_m_max),
            self.learn_tau_m,
        )

    def _init_mlp_and_readout(self, bias: bool) -> None:
        """``mlp``: ``mlp_num_layers`` hidden Linear+activation layers, then ``Linear(., M)``;
        ``readout``: ``Linear(M, O)``."""
        layers: list[nn.Module] = []
        width = self.num_branches + self.num_memory
        for _ in range(self.mlp_num_layers):
            layers.append(nn.Linear(width, self.mlp_hidden_size, bias=bias))
            layers.append(nn.ReLU() if self.mlp_activation == "relu" else nn.SiLU())
            width = self.mlp_hidden_size
        layers.append(nn.Linear(width, self.num_memory, bias=bias))
        self.mlp = nn.Sequential(*layers)
        self.readout = nn.Linear(self.num_memory, self.num_outputs, bias=bias)

    def _init_spiking(
        self,
        spiking: bool,
        spike_threshold: float,
        spike_grad: Callable[[Tensor], Tensor] | None,
    ) -> None:
        self.spiking = bool(spiking)
        self.spike_threshold = float(spike_threshold)
        if spiking and spike_grad is None:
            from snntorch import surrogate

            spike_grad = surrogate.atan()
        if spike_grad is not None and not callable(spike_grad):
            raise TypeError(
                f"spike_grad: expected a callable such as snntorch.surrogate.atan(), got "
                f"{type(spike_grad).__name__}"
            )
        self.spike_grad = spike_grad

    # ------------------------------------------------------------------ derived values
    @property
    def tau_m(self) -> Tensor:
        """``(M,)`` memory time constants in ms."""
        return F_elm.scaled_sigmoid(self.tau_m_raw, self.tau_m_min, self.tau_m_max)

    @property
    def w_s(self) -> Tensor:
        """``(S,)`` effective synapse weights ``relu(w_s_raw)``."""
        return torch.relu(self.w_s_raw)

    @property
    def kappa_m(self) -> Tensor:
        """``(M,)`` memory decay per step."""
        return F_elm.memory_decay(self.tau_m, self.dt)

    def functional_parameters(self) -> ELMParameters:
        """The :class:`~elm_snn.functional.elm.ELMParameters` for the functional API
        (:func:`~elm_snn.functional.elm.elm_step`, ``elm_sequence`` and the kernels)."""
        linears = [m for m in self.mlp if isinstance(m, nn.Linear)]
        return F_elm.derive_parameters(
            w_s_raw=self.w_s_raw,
            tau_s=self.tau_s,
            tau_m=self.tau_m,
            dt=self.dt,
            lambda_value=self.lambda_value,
            memory_update=self.memory_update,
            mlp_weights=tuple(m.weight for m in linears),
            mlp_biases=tuple(m.bias for m in linears),
            readout_weight=self.readout.weight,
            readout_bias=self.readout.bias,
            synapse_index=getattr(self, "synapse_index", None),
            synapse_mask=getattr(self, "synapse_mask", None),
            num_branches=self.num_branches,
            activation=self.mlp_activation,
            trace_mode=self.trace_mode,
        )

    def elm_parameters(self) -> ELMParameters:
        """Deprecated name of :meth:`functional_parameters`."""
        warnings.warn(
            "elm_parameters() is deprecated; use functional_parameters() (the same name on "
            "every elm-snn layer)",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.functional_parameters()

    # ------------------------------------------------------------------ checks
    def _param_dtype(self) -> torch.dtype:
        return self.readout.weight.dtype

    def _state_widths(self) -> tuple[int, int]:
        return (self.num_memory, self.tau_s.shape[0])

    def _spikes(self, y: Tensor) -> Tensor:
        return self.spike_grad(y - self.spike_threshold)

    def extra_repr(self) -> str:
        parts = [
            f"num_inputs={self.num_inputs}",
            f"num_memory={self.num_memory}",
            f"num_outputs={self.num_outputs}",
        ]
        if self.num_branches != self.num_inputs or self.routing is not None:
            parts.append(f"num_branches={self.num_branches}")
            parts.append(f"synapses_per_branch={self.synapses_per_branch}")
        if self.routing is not None:
            parts.append(f"routing={self.routing!r}")
        parts += [
            f"memory_update={self.memory_update!r}",
            f"trace_mode={self.trace_mode!r}",
            f"dt={self.dt}",
        ]
        if self.spiking:
            parts.append("spiking=True")
        return ", ".join(parts)


class ELMCell(ELMCore):
    """One time step of the Expressive Leaky Memory neuron (snnTorch / Norse cell).

    Arguments as for :class:`ELM` (except ``batch_first`` and ``backend``, which only
    concern sequences), plus ``output``.

    Shapes: ``x_t`` ``(B, num_inputs)``; ``y_t`` ``(B, num_outputs)`` (spikes in {0, 1}
    when ``spiking=True``); ``state`` an :class:`~elm_snn.functional.elm.ELMState` with
    ``memory`` ``(B, num_memory)`` and ``trace`` ``(B, S)`` or ``(B, K)``.

    Calls:

    * ``cell(x_t, state)`` (Norse, ``torch.nn.RNNCell``-like) returns ``(y_t, new_state)``
      in every mode; ``state=None`` starts from zeros, or with ``init_hidden=True`` from
      the stored state. This is how ``norse.torch.SequentialState`` and ``Lift`` call it.
    * ``cell(x_t)`` (snnTorch): ``(y_t, new_state)`` without ``init_hidden``; with
      ``init_hidden=True`` the state stays inside and only ``y_t`` comes back (so the
      cell sits in an ``nn.Sequential``), or with ``output=True`` the tensors
      ``(y_t, mem)``, ``mem`` the memory ``(B, num_memory)``, as snnTorch's ``output``
      flag returns ``(spk, mem)`` (so ``torch.stack`` of the recorded ``mem`` works and
      ``snntorch.backprop.BPTT`` takes the cell last). The full state (memory and
      trace) is :attr:`hidden`.

    Args:
        output: with ``init_hidden=True``, ``cell(x_t)`` also returns the memory
            (snnTorch's ``output``); a bool, default False.
    """

    def __init__(
        self,
        num_inputs: int,
        num_memory: int,
        num_outputs: int,
        *,
        init_hidden: bool = False,
        output: bool = False,
        **options: Any,
    ) -> None:
        super().__init__(num_inputs, num_memory, num_outputs, init_hidden=init_hidden, **options)
        self.output = check_bool("output", output)

    @runs_in_parameter_dtype
    def forward(self, x_t: Tensor, state: ELMState | None = NOT_GIVEN):
        """Advance one time step; see the class docstring for shapes and return values."""
        x_t = self._step_input(x_t, self.num_inputs)
        start = self._initial_state(None if state is NOT_GIVEN else state, x_t.shape[0], x_t)
        y_t, new_state = F_elm.elm_step(x_t, start, self.functional_parameters())
        if self.spiking:
            y_t = self._spikes(y_t)
        self._keep(new_state)
        return self._step_result(y_t, new_state, state_given=state is not NOT_GIVEN)


class ELM(ELMCore):
    """Expressive Leaky Memory neuron over whole sequences.

    A single ELM "neuron" has ``num_memory`` leaky memory units updated by an MLP from
    its synaptic input and its own decayed memory, and a linear readout of
    ``num_outputs`` channels (Spieler et al., 2023; equations in
    :mod:`elm_snn.functional.elm`).

    Args:
        num_inputs: input channels ``I``.
        num_memory: memory units ``M`` (paper ``d_m``).
        num_outputs: readout channels ``O``.
        num_branches: branches ``K`` (Branch-ELM); default: one branch per input.
        synapses_per_branch: synapses per branch ``S/K``.
        routing: ``None`` (synapses are the inputs), ``"neuronio"`` (interleave
            excitatory/inhibitory halves, overlapping windows), ``"random"`` (each
            synapse draws an input uniformly), or an ``(S,)`` int64 index tensor.
        routing_mask: optional ``(S,)`` 0/1 mask with an explicit routing tensor.
        routing_seed: seed for ``routing="random"`` (default: torch's global RNG).
        mlp_hidden_size: MLP width (default ``2 * num_memory``).
        mlp_num_layers: hidden layers of the MLP (default 1).
        mlp_activation: ``"relu"`` (default) or ``"silu"``.
        lambda_value: memory update scale ``lambda`` (default 5).
        tau_m_min, tau_m_max: bounds of the memory time constants in ms (default 1, 1000).
        tau_m_init: ``(low, high)`` range of the initial time constants in ms (default:
            the bounds); the paper's SHD setting is ``tau_m_init=(1, 150)`` with bounds
            ``(0, 1000)`` and ``tau_m_init_spacing="linear"``.
        tau_m_init_spacing: ``"log"`` (official) or ``"linear"``.
        learn_tau_m: learn the memory time constants (default False, as official).
        tau_s: synaptic trace time constant in ms (default 5).
        learn_tau_s: learn the trace time constants (default False).
        w_s_init: initial synapse weight (default 0.5).
        learn_w_s: learn the synapse weights (default True).
        dt: time step in ms (the bin size; default 1).
        memory_update: ``"paper"`` (``lambda * (1 - kappa_m)``, official v1) or
            ``"stable"`` (``1 - exp(-dt lambda / tau_m)``, official v2).
        trace_mode: ``"synapse"`` (one trace per synapse, v1) or ``"branch"`` (one per
            branch, v2; identical when all ``tau_s`` are equal).
        bias: biases in the MLP and readout (default True).
        spiking: turn the readout into spikes ``spike_grad(y - spike_threshold)``.
        spike_threshold: threshold for ``spiking=True`` (default 0).
        spike_grad: surrogate spike function, e.g. ``snntorch.surrogate.atan()``
            (default when spiking).
        batch_first: inputs/outputs ``(B, T, F)`` instead of ``(T, B, F)``.
        init_hidden: keep the final state and continue from it on the next call.
        backend: ``"auto"`` (fused kernel when it supports the configuration),
            ``"reference"`` (the Python loop of :mod:`elm_snn.functional.elm`) or
            ``"fused"`` (error if unsupported).

    Call: ``forward(x, state=None, return_states=False)`` with ``x`` ``(T, B, I)``
    returns ``(y, final_state)``, ``y`` ``(T, B, O)``; with ``return_states=True``,
    ``(y, final_state, record)`` where ``record`` is an
    :class:`~elm_snn.functional.elm.ELMRecord` with per-step ``memory`` ``(T, B, M)``,
    ``trace`` and ``branch_input`` (batch-first too when ``batch_first``).

    With ``init_hidden=True`` the call ``layer(x)`` (no state argument) returns only ``y``
    and keeps the final state inside (:attr:`hidden`), as every elm-snn layer and
    snnTorch's neurons do, so the layer sits in an ``nn.Sequential``; ``layer(x, state)``
    (Norse's call, ``state`` may be ``None``) still returns ``(y, final_state)``.

    ``x`` may also be a :class:`~elm_snn.kernels.SparseFrames` spike batch ``(T, B, I)``
    (the nonzeros only, e.g. ``input_format="sparse"`` batches of the SHD tasks); the
    layer feeds them to the fused kernel as they are when it would run that kernel, else
    runs on the dense batch. Same results either way.
    """

    #: ``forward`` accepts :class:`~elm_snn.kernels.SparseFrames` batches
    takes_sparse_frames = True

    def __init__(
        self,
        num_inputs: int,
        num_memory: int,
        num_outputs: int,
        *,
        batch_first: bool = False,
        init_hidden: bool = False,
        backend: str = "auto",
        **options: Any,
    ) -> None:
        super().__init__(num_inputs, num_memory, num_outputs, init_hidden=init_hidden, **options)
        check_choice("backend", backend, BACKENDS)
        self.batch_first = bool(batch_first)
        self.backend = backend

    def _fused_kernel(self):
        """Return the fused sequence function if available for this configuration."""
        if self.backend == "reference":
            return None
        try:
            from ..kernels import fused_support
        except ImportError:
            fused_support = None
        reason = "the fused kernel is not available" if fused_support is None else None
        fn = None
        if fused_support is not None:
            fn, reason = fused_support(self)
        if fn is None and self.backend == "fused":
            raise RuntimeError(f"backend='fused': {reason}")
        return fn

    def _sparse_forward(self, frames: Any, state: ELMState | None, return_states: bool) -> tuple:
        """:meth:`forward` of a :class:`~elm_snn.kernels.SparseFrames` batch ``(T, B, I)``:
        the one place that chooses its path. The nonzeros go to the fused kernel as they are
        when this call would run that kernel on dense frames (``backend`` not
        ``"reference"``, no recorded states, not spiking, time-major, no ``init_hidden``);
        otherwise the layer runs on the dense batch (in its ``batch_first`` layout). Returns
        ``(y, final_state)`` (or with the record, as :meth:`forward`)."""
        from ..kernels import SparseFrames, fused_elm_sequence

        if not isinstance(frames, SparseFrames):
            raise TypeError(
                f"x: expected a torch.Tensor or elm_snn.kernels.SparseFrames, got "
                f"{type(frames).__name__}"
            )
        frames.check("x")
        if frames.shape[2] != self.num_inputs:
            raise ValueError(
                f"x: expected {self.num_inputs} channels, got a sparse batch of shape "
                f"{tuple(frames.shape)}"
            )
        weight = self.readout.weight
        frames = frames.to(device=weight.device, dtype=weight.dtype)
        direct = (
            not return_states
            and not self.batch_first
            and not self.spiking
            and not self.init_hidden
            and self._fused_kernel() is fused_elm_sequence
        )
        if not direct:
            dense = frames.to_dense()
            return self(dense.transpose(0, 1) if self.batch_first else dense, state, return_states)
        if state is not None:
            placeholder = frames.val.new_zeros(()).expand(frames.shape)
            state = self._check_state(state, frames.shape[1], placeholder)
        y, final, _ = fused_elm_sequence(frames, state, self.functional_parameters())
        return y, final

    @runs_in_parameter_dtype
    def forward(self, x: Tensor, state: ELMState | None = NOT_GIVEN, return_states: bool = False):
        """Run the sequence; see the class docstring for shapes and return values."""
        state_given = state is not NOT_GIVEN
        state = state if state_given else None
        if not isinstance(x, Tensor):  # a sparse spike batch (elm_snn.kernels.SparseFrames)
            return self._call_result(self._sparse_forward(x, state, return_states), state_given)
        x = self._sequence_input(x, self.num_inputs)
        state = self._initial_state(state, x.shape[1], x)
        params = self.functional_parameters()
        kernel = None if return_states else self._fused_kernel()
        if kernel is not None:
            y, final, record = kernel(x, state, params)
        else:
            y, final, record = F_elm.elm_sequence(x, state, params, record=return_states)
        if self.spiking:
            y = self._spikes(y)
        self._keep(final)
        if self.batch_first:
            y = y.transpose(0, 1)
            if record is not None:
                record = ELMRecord(*(r.transpose(0, 1) for r in record))
        if return_states:
            return y, final, record
        return self._call_result((y, final), state_given)


def _branch_options(
    num_branches: int, synapses_per_branch: int, routing: str | Tensor | None, options: dict
) -> dict:
    if "learn_w_s" in options and not options["learn_w_s"]:
        warnings.warn(
            "learn_w_s=False: Branch-ELM synapse weights are learnable in the paper",
            stacklevel=3,
        )
    return dict(
        options,
        num_branches=num_branches,
        synapses_per_branch=synapses_per_branch,
        routing=routing,
    )


class BranchELMCell(ELMCell):
    """One time step of the Branch-ELM neuron (synapses grouped on dendritic branches).

    Args:
        num_inputs, num_memory, num_outputs: as for :class:`ELM`.
        num_branches: branches ``K`` (paper ``d_tree``; NeuronIO 45, SHD 100).
        synapses_per_branch: synapses per branch (paper ``d_brch``; NeuronIO 100, SHD 15).
        routing: ``"random"`` (default, the paper's SHD setting), ``"neuronio"`` or an
            explicit ``(K * synapses_per_branch,)`` index tensor.
        **options: any other :class:`ELM`/:class:`ELMCell` option.
    """

    def __init__(
        self,
        num_inputs: int,
        num_memory: int,
        num_outputs: int,
        *,
        num_branches: int,
        synapses_per_branch: int,
        routing: str | Tensor = "random",
        **options: Any,
    ) -> None:
        super().__init__(
            num_inputs,
            num_memory,
            num_outputs,
            **_branch_options(num_branches, synapses_per_branch, routing, options),
        )


class BranchELM(ELM):
    """Branch-ELM neuron over whole sequences (see :class:`ELM` and :class:`BranchELMCell`).

    Args:
        num_inputs, num_memory, num_outputs: as for :class:`ELM`.
        num_branches: branches ``K`` (paper ``d_tree``).
        synapses_per_branch: synapses per branch (paper ``d_brch``).
        routing: ``"random"`` (default), ``"neuronio"`` or an explicit index tensor.
        **options: any other :class:`ELM` option (``batch_first``, ``backend``, ...).
    """

    def __init__(
        self,
        num_inputs: int,
        num_memory: int,
        num_outputs: int,
        *,
        num_branches: int,
        synapses_per_branch: int,
        routing: str | Tensor = "random",
        **options: Any,
    ) -> None:
        super().__init__(
            num_inputs,
            num_memory,
            num_outputs,
            **_branch_options(num_branches, synapses_per_branch, routing, options),
        )
