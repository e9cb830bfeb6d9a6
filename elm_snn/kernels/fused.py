"""Fused ELM / Branch-ELM sequence kernel with a hand-written backward (BPTT).

The reference loop in :mod:`elm_snn.functional.elm` runs the whole neuron (routing,
traces, MLP, readout) once per time step and lets autograd record every operation. This
module splits the equations into the parts that are linear in the input and the part
that is truly sequential:

1. **Front end (all time steps at once).** Routing, synapse weights and the branch sum
   are one linear map ``W_in`` ``(I, K)`` from inputs to branches. The traces are a
   linear recurrence with a per-channel decay, so the first MLP layer's input half,
   ``P_t = W_1b b_t`` ``(T, B, H_1)`` (the bias ``b_1`` is added in the recurrence), is
   computed with one large matmul plus a cheap linear scan (:class:`_LinearScan`). When
   all trace decays are equal and fixed, the matmul is folded further:
   ``P = scan_kappa(x @ (W_in W_1b^T))``.
2. **Recurrence (sequential).** Only the memory-dependent half of the MLP and the memory
   update run per step, on preallocated buffers (:class:`_ELMRecurrence`). Its backward
   is a reverse loop of a few small matmuls per step; every weight gradient is one large
   matmul over all ``T * B`` rows after the loop.
3. **Readout** ``y = W_y m + b_y``: one matmul over the whole sequence.

Saved for backward: the memory sequence ``m`` ``(T, B, M)`` and the pre-activations of
each hidden layer ``(T, B, H)`` (the readout and the first layer share ``m``), plus the
inputs. Nothing per synapse and per step is stored: the general per-synapse trace path
(:class:`_SynapseTraceScan`, only for non-uniform or learnable per-synapse ``tau_s``)
keeps checkpoints every :data:`SYNAPSE_CHECKPOINT_EVERY` steps and recomputes in between.

Float32 traces and memories decay into subnormal numbers on CPU, which slows every
elementwise op several-fold; the kernel flushes subnormals to zero while it runs (forward
and backward) and restores the caller's setting afterwards (see :func:`flush_denormals`).

Layout: this module holds the front end and the entry point; the pieces live in
:mod:`._common` (denormals, activations), :mod:`._sparse` (sparse front end),
:mod:`._scans` (trace scans) and :mod:`._recurrence` (the sequential core).

**Compiled loops.** On CPU, the time loops (recurrence forward and backward, trace scans)
and the sparse front end run in a small C++ operator library built on first use
(:mod:`._compiled`; ``ELM_SNN_COMPILED=0`` disables it). Without a compiler the same
equations run as pure-PyTorch loops (one ``RuntimeWarning``); both give the reference's
results to float round-off.

**Sparse front end.** Spike inputs are mostly zeros. When at most
:data:`SPARSE_MAX_DENSITY` of the entries of ``x`` are nonzero (checked in the same pass
that collects them, stopped early for dense inputs), the input projection and its weight
gradient run over the nonzeros only (CSR rows over ``T * B``), and for the folded front
end the projection and the trace scan are one pass (:class:`_SparseScanProject`). The
nonzeros (8 bytes per row plus 16 bytes per nonzero in float64, 12 in float32) are kept
for backward instead of the dense input.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ..functional import elm as F_elm
from ..functional.elm import ELMParameters, ELMState
from . import _compiled
from ._common import (
    _TANH_SCALE,
    _TANH_SLOPE,
    _ops_for,
    _project,
    denormals_flushed,
    flush_denormals,
)
from ._library import compiled_graph_sequence, register_eager_kernel
from ._recurrence import _ELMRecurrence
from ._scans import SYNAPSE_CHECKPOINT_EVERY, _LinearScan, _SynapseTraceScan
from ._sparse import (
    SPARSE_MAX_DENSITY,
    SparseFrames,
    _project_input,
    _sparse_rows,
    _SparseProject,  # noqa: F401 - the tests reach it as fused._SparseProject
    _SparseRows,
    _SparseScanProject,
)

__all__ = [
    "SPARSE_MAX_DENSITY",
    "SparseFrames",
    "SYNAPSE_CHECKPOINT_EVERY",
    "denormals_flushed",
    "flush_denormals",
    "fused_elm_sequence",
    "front_end_strategy",
]

# --------------------------------------------------------------------------- front end


def _uniform_decay(decay: Tensor) -> Tensor | None:
    """The common decay as a ``(1,)`` tensor if all entries are equal and fixed, else None."""
    if decay.requires_grad or decay.numel() == 0:
        return None
    first = decay[:1]
    if bool(torch.all(decay == first)):
        return first
    return None


def _is_diagonal(params: ELMParameters, num_inputs: int) -> bool:
    """Synapses are the inputs and each branch holds one synapse (``W_in`` is diagonal)."""
    return params.synapse_index is None and params.num_branches == num_inputs


def _input_to_branch(params: ELMParameters, num_inputs: int) -> Tensor:
    """Dense ``(I, K)`` map from inputs to branch sums of weighted synapse inputs."""
    num_synapses = params.num_synapses
    per_branch = num_synapses // params.num_branches
    w_eff = _effective_weight(params)
    device = w_eff.device
    rows = (
        torch.arange(num_synapses, device=device)
        if params.synapse_index is None
        else params.synapse_index
    )
    cols = torch.arange(num_synapses, device=device) // per_branch
    w_in = w_eff.new_zeros((num_inputs, params.num_branches))
    return w_in.index_put((rows, cols), w_eff, accumulate=True)


def _effective_weight(params: ELMParameters) -> Tensor:
    """``w_s * mask`` ``(S,)``."""
    if params.synapse_mask is None:
        return params.synapse_weight
    return params.synapse_weight * params.synapse_mask.to(params.synapse_weight.dtype)


def front_end_strategy(params: ELMParameters, num_inputs: int) -> str:
    """How the fused kernel computes the first layer's input half for these parameters.

    Returns one of:

    * ``"folded"``: all trace decays equal and fixed, and ``x @ (W_in W_1b^T)`` is
      cheaper than going through the ``K`` branches: one ``(T*B, I) @ (I, H_1)`` matmul
      and a scalar-decay scan over ``H_1``.
    * ``"branch"``: ``x @ W_in`` ``(T*B, K)``, a per-branch decay scan, then
      ``b @ W_1b^T``; used in trace mode "branch" and in "synapse" mode with equal fixed
      decays.
    * ``"synapse"``: per-synapse traces with checkpoints (per-synapse decays differ or are
      learnable).
    """
    uniform = _uniform_decay(params.trace_decay)
    if params.trace_mode == "synapse" and uniform is None:
        return "synapse"
    if uniform is None:
        return "branch"
    hidden = params.mlp_weights[0].shape[0]
    k = params.num_branches
    via_branches = (num_inputs if _is_diagonal(params, num_inputs) else num_inputs * k) + k * hidden
    return "folded" if num_inputs * hidden <= via_branches else "branch"


def _branch_sum_state(trace: Tensor, params: ELMParameters) -> Tensor:
    """Branch input ``(B, K)`` of a trace state ``(B, S)`` or ``(B, K)``."""
    if params.trace_mode == "synapse" and trace.shape[-1] != params.num_branches:
        per_branch = trace.shape[-1] // params.num_branches
        return trace.reshape(trace.shape[0], params.num_branches, per_branch).sum(-1)
    return trace


def _decayed_input_sum(x: Tensor, kappa: Tensor, rows: _SparseRows | None = None) -> Tensor:
    """``r = sum_t kappa^(T-1-t) x_t`` ``(B, I)`` for a scalar decay ``kappa`` ``(1,)``.

    With ``rows`` (the nonzeros of ``x``) and no gradient needed for ``x``, the sum runs
    over the nonzeros only.
    """
    steps, batch, num_inputs = x.shape
    exponents = torch.arange(steps - 1, -1, -1, device=x.device, dtype=x.dtype)
    powers = torch.pow(kappa, exponents)
    if rows is not None and not x.requires_grad and not kappa.requires_grad:
        ops = _compiled.compiled_ops()
        return ops.csr_decayed_sum(
            rows.row_ptr, rows.col, rows.val, powers.contiguous(), batch, num_inputs
        )
    return torch.einsum("t,tbi->bi", powers, x)


def _final_trace_uniform(
    x: Tensor,
    kappa: Tensor,
    trace0: Tensor | None,
    params: ELMParameters,
    w_in: Tensor | None,
    rows: _SparseRows | None = None,
) -> Tensor:
    """Final trace state for a scalar decay, from the decayed input sum."""
    steps = x.shape[0]
    r = _decayed_input_sum(x, kappa, rows)
    if params.trace_mode == "synapse":
        routed = r if params.synapse_index is None else r[:, params.synapse_index]
        final = routed * _effective_weight(params)
    elif w_in is None:  # diagonal
        final = r * _effective_weight(params)
    else:
        final = r @ w_in
    if trace0 is not None:
        final = final + torch.pow(kappa, steps) * trace0
    return final


def _front_end(
    x: Tensor,
    trace0: Tensor | None,
    params: ELMParameters,
    w1b: Tensor,
    given_rows: _SparseRows | None = None,
) -> tuple[Tensor, Tensor]:
    """First-layer input half ``P`` ``(T, B, H_1)`` (without the bias, which the
    recurrence adds) and the final trace. With ``given_rows`` (a sparse batch, see
    :func:`_sparse_input`) ``x`` is a zero placeholder and only the rows are read."""
    steps, batch, num_inputs = x.shape
    strategy = front_end_strategy(params, num_inputs)
    diagonal = _is_diagonal(params, num_inputs)
    hidden = w1b.shape[0]
    if strategy == "synapse":
        if trace0 is None:
            trace0 = x.new_zeros((batch, params.trace_size))
        branches, final = _SynapseTraceScan.apply(
            x,
            _effective_weight(params),
            params.trace_decay,
            trace0,
            params.synapse_index,
            params.num_branches,
        )
        p = _project(branches, w1b.t())
    else:
        # the nonzeros of a spike input, when it is sparse (compiled loops only)
        if given_rows is not None:
            rows = given_rows
        else:
            rows = None if diagonal and strategy == "branch" else _sparse_rows(x)
        w_in = None if diagonal else _input_to_branch(params, num_inputs)
        b0 = None if trace0 is None else _branch_sum_state(trace0, params)
        uniform = _uniform_decay(params.trace_decay)
        if strategy == "folded":
            assert uniform is not None
            w_eff_first = (
                _effective_weight(params).unsqueeze(1) * w1b.t() if diagonal else w_in @ w1b.t()
            )
            r0 = x.new_zeros((batch, hidden)) if b0 is None else b0 @ w1b.t()
            if rows is not None:  # sparse input: projection and scan in one pass
                p = _SparseScanProject.apply(x, w_eff_first, uniform, r0, rows)
            else:
                p = _LinearScan.apply(_project(x, w_eff_first), uniform, r0)
            final = _final_trace_uniform(x, uniform, trace0, params, w_in, rows)
        else:
            u = x * _effective_weight(params) if diagonal else _project_input(x, w_in, rows)
            decay = params.trace_decay if uniform is None else uniform
            init = x.new_zeros((batch, params.num_branches)) if b0 is None else b0
            branches = _LinearScan.apply(u, decay, init)
            p = _project(branches, w1b.t())
            if params.trace_mode == "branch":
                final = branches[-1]
            else:
                final = _final_trace_uniform(x, uniform, trace0, params, w_in, rows)
    return p, final


# --------------------------------------------------------------------------- entry point


def fused_elm_sequence(
    x: Tensor | SparseFrames,
    state: ELMState | None,
    params: ELMParameters,
    *,
    flush_denormal: bool = True,
    _from_operator: bool = False,
) -> tuple[Tensor, ELMState, None]:
    """Run the ELM over a sequence with the fused kernel (same result as the reference).

    Equivalent to :func:`elm_snn.functional.elm.elm_sequence` with ``record=False``, to
    float round-off, for every configuration the reference supports. Gradients flow to
    ``x``, ``state`` and every tensor in ``params`` (they are the inputs of hand-written
    ``torch.autograd.Function``\\ s or of ordinary differentiable ops).

    Args:
        x: ``(T, B, I)`` time-major inputs (a transposed batch-first tensor is fine), or a
            :class:`~elm_snn.kernels.SparseFrames` spike batch: its nonzeros feed the sparse
            front end directly, no dense frames are built (densified instead without the
            compiled loops, for front ends that do not project the input, or when its
            values need a gradient).
        state: initial :class:`~elm_snn.functional.elm.ELMState`, or ``None`` for zeros.
        params: :class:`~elm_snn.functional.elm.ELMParameters`.
        flush_denormal: flush float subnormals to zero while the kernel runs on CPU (the
            previous setting is restored); changes results by less than 1.2e-38.

    Returns:
        ``(y, final_state, None)``: ``y`` ``(T, B, O)`` and the final state.

    Under ``torch.compile`` and on the meta device a dense ``x`` goes through the
    ``torch.ops.elm_snn.fused_elm_sequence`` custom operator (:mod:`._library`), which
    runs this same function eagerly inside.
    """
    if (
        not _from_operator
        and isinstance(x, Tensor)
        and (torch.compiler.is_compiling() or x.device.type == "meta")
    ):
        result = compiled_graph_sequence(x, state, params)
        if result is not None:
            return result
    rows = None
    if isinstance(x, SparseFrames):
        x, rows = _sparse_input(x, params)
    if x.dim() != 3:
        raise ValueError(f"x: expected a 3-D tensor (T, B, I), got shape {tuple(x.shape)}")
    if x.shape[0] == 0 or x.shape[1] == 0:  # nothing to fuse: empty sequence or batch
        return F_elm.elm_sequence(x, state, params)
    with flush_denormals(flush_denormal and x.device.type == "cpu"):
        return _fused(x, state, params, rows)


def _sparse_input(frames: SparseFrames, params: ELMParameters) -> tuple[Tensor, _SparseRows | None]:
    """``(x, rows)`` for a sparse batch: a zero placeholder ``(T, B, C)`` (no memory, an
    expanded scalar) and the nonzeros as the kernel's rows, when the front end runs on rows
    (compiled loops, and a strategy that projects the input; else the dense batch, None)."""
    frames.check("x")
    weight = params.readout_weight
    frames = frames.to(device=weight.device, dtype=weight.dtype)
    num_inputs = frames.shape[2]
    strategy = front_end_strategy(params, num_inputs)
    on_rows = (
        _ops_for(frames.val) is not None
        and not frames.val.requires_grad
        and strategy != "synapse"
        and not (strategy == "branch" and _is_diagonal(params, num_inputs))
    )
    if not on_rows:
        return frames.to_dense(), None
    placeholder = frames.val.new_zeros(()).expand(frames.shape)
    rows = _SparseRows(frames.row_ptr, frames.col, frames.val, tuple(frames.shape))
    return placeholder, rows


def _fused(
    x: Tensor, state: ELMState | None, params: ELMParameters, rows: _SparseRows | None = None
) -> tuple[Tensor, ELMState, None]:
    batch = x.shape[1]
    k = params.num_branches
    weights: Sequence[Tensor] = params.mlp_weights
    biases: Sequence[Tensor | None] = params.mlp_biases
    num_hidden = len(weights) - 1
    first_w, first_b = weights[0], biases[0]
    w1b, a = first_w[:, :k], first_w[:, k:]
    if num_hidden == 0:  # the first layer is the output layer: fold the tanh slope in
        w1b, a = w1b * _TANH_SLOPE, a * _TANH_SLOPE
        first_b = None if first_b is None else first_b * _TANH_SLOPE
    layers: list[Tensor | None] = []
    for i in range(1, len(weights)):
        w, b = weights[i], biases[i]
        if i == len(weights) - 1:
            w = w * _TANH_SLOPE
            b = None if b is None else b * _TANH_SLOPE
        layers += [w, b]
    trace0 = None if state is None else state.trace
    p, final_trace = _front_end(x, trace0, params, w1b, rows)
    m0 = x.new_zeros((batch, params.num_memory)) if state is None else state.memory
    gain = params.memory_gain * _TANH_SCALE
    memory = _ELMRecurrence.apply(
        params.activation, num_hidden, p, m0, params.memory_decay, gain, a, first_b, *layers
    )
    y = F.linear(memory, params.readout_weight, params.readout_bias)
    return y, ELMState(memory=memory[-1], trace=final_trace), None


register_eager_kernel(fused_elm_sequence)  # what the torch.compile operators run
