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

import contextlib
from collections.abc import Iterator, Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ..functional import elm as F_elm
from ..functional.elm import ELMParameters, ELMState
from . import _compiled

__all__ = [
    "SPARSE_MAX_DENSITY",
    "SYNAPSE_CHECKPOINT_EVERY",
    "denormals_flushed",
    "flush_denormals",
    "fused_elm_sequence",
    "front_end_strategy",
]

#: Steps between stored per-synapse trace checkpoints in :class:`_SynapseTraceScan`.
SYNAPSE_CHECKPOINT_EVERY = 32

#: Inputs with at most this fraction of nonzero entries are projected by the sparse
#: front end (compiled loops only); denser inputs use one dense matmul.
SPARSE_MAX_DENSITY = 0.05

_TANH_SCALE = 1.7159
_TANH_SLOPE = 2.0 / 3.0


# --------------------------------------------------------------------------- denormals


def denormals_flushed() -> bool:
    """Whether this thread currently flushes float32 subnormals to zero (FTZ/DAZ)."""
    tiny = torch.tensor([1e-39], dtype=torch.float32)  # below the smallest normal 1.18e-38
    return bool((tiny * 1.0).item() == 0.0)


@contextlib.contextmanager
def flush_denormals(enabled: bool = True) -> Iterator[None]:
    """Flush subnormal floats to zero inside the block, then restore the previous setting.

    ``torch.set_flush_denormal`` changes a per-thread CPU flag; it is only switched (and
    switched back) when it was off, so nested use and callers who enabled it globally are
    unaffected. With ``enabled=False`` nothing is changed.
    """
    if not enabled or denormals_flushed():
        yield
        return
    switched = torch.set_flush_denormal(True)
    try:
        yield
    finally:
        if switched:
            torch.set_flush_denormal(False)


# --------------------------------------------------------------------------- helpers


def _ops_for(t: Tensor):
    """The compiled operators if they are usable for ``t`` (CPU float32/float64), else None."""
    if t.device.type != "cpu" or t.dtype not in (torch.float32, torch.float64):
        return None
    return _compiled.compiled_ops()


def _act(z: Tensor, activation: str) -> Tensor:
    return torch.relu(z) if activation == "relu" else F.silu(z)


def _act_grad(z: Tensor, activation: str) -> Tensor:
    """Derivative of the hidden activation at ``z`` (relu: 1 where ``z > 0``)."""
    if activation == "relu":
        return (z > 0).to(z.dtype)
    s = torch.sigmoid(z)
    return s * (1 + z * (1 - s))


def _sum_to(grad: Tensor, shape: torch.Size) -> Tensor:
    """Sum a broadcast gradient ``(T, B, C)`` or ``(B, C)`` back to ``shape``."""
    while grad.dim() > len(shape):
        grad = grad.sum(0)
    for dim, size in enumerate(shape):
        if size == 1 and grad.shape[dim] != 1:
            grad = grad.sum(dim, keepdim=True)
    return grad


def _project(x: Tensor, weight: Tensor) -> Tensor:
    """``x @ weight`` for ``x`` ``(T, B, I)`` -> contiguous ``(T, B, C)``, without copying
    a batch-first input (a ``(B, T, I)`` tensor transposed to time-major)."""
    steps, batch, _ = x.shape
    if x.is_contiguous():
        return (x.reshape(steps * batch, -1) @ weight).view(steps, batch, -1)
    xb = x.transpose(0, 1)
    if xb.is_contiguous():
        out = (xb.reshape(batch * steps, -1) @ weight).view(batch, steps, -1)
        return out.transpose(0, 1).contiguous()
    return (x.reshape(steps * batch, -1) @ weight).view(steps, batch, -1)


class _SparseRows(NamedTuple):
    """Nonzeros of an input ``(T, B, I)`` in CSR form over its ``T * B`` time-major rows."""

    row_ptr: Tensor
    col: Tensor
    val: Tensor
    shape: tuple[int, int, int]


def _sparse_rows(x: Tensor) -> _SparseRows | None:
    """CSR form of ``x`` when it is sparse enough (:data:`SPARSE_MAX_DENSITY`) and the
    compiled loops are available, else ``None``. One pass over ``x``, stopped early once
    it is known to be too dense."""
    ops = _ops_for(x)
    if ops is None or x.numel() == 0 or (x.stride(2) != 1 and x.shape[2] > 1):
        return None
    max_nnz = int(SPARSE_MAX_DENSITY * x.numel())
    row_ptr, col, val = ops.csr_build(x.detach(), max_nnz)
    if row_ptr.numel() == 0:
        return None
    return _SparseRows(row_ptr, col, val, tuple(x.shape))


class _SparseProject(torch.autograd.Function):
    """``x @ weight`` ``(T, B, I) @ (I, C) -> (T, B, C)`` over the nonzeros of ``x``.

    ``rows`` is ``x``'s :class:`_SparseRows`; the weight gradient ``x^T @ grad`` uses the
    same nonzeros, the input gradient (only when ``x`` needs one) is a dense matmul.
    """

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, rows: _SparseRows) -> Tensor:  # type: ignore[override]
        ops = _compiled.compiled_ops()
        steps, batch, _ = rows.shape
        out = ops.csr_mm(rows.row_ptr, rows.col, rows.val, weight.contiguous())
        ctx.rows = rows
        ctx.save_for_backward(weight)
        return out.view(steps, batch, -1)

    @staticmethod
    def backward(ctx, grad_out: Tensor):  # type: ignore[override]
        (weight,) = ctx.saved_tensors
        rows = ctx.rows
        steps, batch, num_inputs = rows.shape
        grad_flat = grad_out.reshape(steps * batch, -1).contiguous()
        grad_x = grad_w = None
        if ctx.needs_input_grad[0]:
            grad_x = (grad_flat @ weight.t()).view(steps, batch, num_inputs)
        if ctx.needs_input_grad[1]:
            ops = _compiled.compiled_ops()
            grad_w = ops.csr_tmm(rows.row_ptr, rows.col, rows.val, grad_flat, num_inputs)
        return grad_x, grad_w, None


class _SparseScanProject(torch.autograd.Function):
    """``P = scan_decay(x @ weight)`` in one pass over the nonzeros of ``x``.

    ``x`` ``(T, B, I)`` with nonzeros ``rows``, ``weight`` ``(I, C)``, ``decay`` ``(1,)``
    (fixed: no gradient), ``init`` ``(B, C)`` the scan's initial value. Same result as
    :class:`_SparseProject` then :class:`_LinearScan` (the folded front end), without
    materialising ``x @ weight``.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx,
        x: Tensor,
        weight: Tensor,
        decay: Tensor,
        init: Tensor,
        rows: _SparseRows,
    ) -> Tensor:
        if ctx.needs_input_grad[2]:
            raise ValueError("decay: the fused sparse scan needs a fixed (no-grad) decay")
        ops = _compiled.compiled_ops()
        width = weight.shape[1]
        batch = rows.shape[1]
        out = ops.csr_mm_scan(
            rows.row_ptr,
            rows.col,
            rows.val,
            weight.contiguous(),
            decay.expand(width).contiguous(),
            init.expand(batch, width).contiguous(),
            batch,
        )
        ctx.rows = rows
        ctx.save_for_backward(weight, decay)
        return out

    @staticmethod
    def backward(ctx, grad_out: Tensor):  # type: ignore[override]
        weight, decay = ctx.saved_tensors
        rows = ctx.rows
        steps, batch, num_inputs = rows.shape
        needs = ctx.needs_input_grad
        with flush_denormals(grad_out.device.type == "cpu"):
            ops = _compiled.compiled_ops()
            grad_out = grad_out.contiguous()
            grad_u = ops.scan_backward(grad_out, decay.expand(grad_out.shape[2]).contiguous())
            grad_flat = grad_u.view(steps * batch, -1)
            grad_x = grad_w = grad_init = None
            if needs[0]:
                grad_x = (grad_flat @ weight.t()).view(steps, batch, num_inputs)
            if needs[1]:
                grad_w = ops.csr_tmm(rows.row_ptr, rows.col, rows.val, grad_flat, num_inputs)
            if needs[3]:
                grad_init = grad_u[0] * decay
        return grad_x, grad_w, None, grad_init, None


def _project_input(x: Tensor, weight: Tensor, rows: _SparseRows | None) -> Tensor:
    """``x @ weight`` ``(T, B, I) @ (I, C)``: sparse when ``rows`` is given, else dense."""
    if rows is not None:
        return _SparseProject.apply(x, weight, rows)
    return _project(x, weight)


# --------------------------------------------------------------------------- linear scan


class _LinearScan(torch.autograd.Function):
    """``out_t = decay * out_{t-1} + u_t`` with ``out_{-1} = init``.

    ``u`` ``(T, B, C)``, ``decay`` ``(C,)`` or ``(1,)``, ``init`` ``(B, C)``. The output
    is saved only when ``decay`` needs a gradient.
    """

    @staticmethod
    def forward(ctx, u: Tensor, decay: Tensor, init: Tensor) -> Tensor:  # type: ignore[override]
        ops = _ops_for(u)
        if ops is not None:
            width = u.shape[2]
            out = ops.scan_forward(
                u.contiguous(),
                decay.expand(width).contiguous(),
                init.expand(u.shape[1], width).contiguous(),
            )
        else:
            out = torch.empty_like(u)
            prev = init
            for t in range(u.shape[0]):
                torch.addcmul(u[t], prev, decay, out=out[t])
                prev = out[t]
        ctx.decay_needs_grad = ctx.needs_input_grad[1]
        ctx.save_for_backward(decay, init, out if ctx.decay_needs_grad else None)
        return out

    @staticmethod
    def backward(ctx, grad_out: Tensor):  # type: ignore[override]
        decay, init, out = ctx.saved_tensors
        with flush_denormals(grad_out.device.type == "cpu"):
            ops = _ops_for(grad_out)
            if ops is not None:
                grad_u = ops.scan_backward(
                    grad_out.contiguous(), decay.expand(grad_out.shape[2]).contiguous()
                )
            else:
                grad_u = torch.empty_like(grad_out)
                steps = grad_out.shape[0]
                grad_u[steps - 1] = grad_out[steps - 1]
                for t in range(steps - 2, -1, -1):
                    torch.addcmul(grad_out[t], grad_u[t + 1], decay, out=grad_u[t])
            grad_decay = grad_init = None
            if ctx.needs_input_grad[2]:
                grad_init = grad_u[0] * decay
            if ctx.decay_needs_grad:
                prev = torch.cat([init.unsqueeze(0), out[:-1]])
                grad_decay = _sum_to(grad_u * prev, decay.shape)
        return grad_u, grad_decay, grad_init


# --------------------------------------------------------------------------- synapse traces


class _SynapseTraceScan(torch.autograd.Function):
    """Per-synapse traces with arbitrary per-synapse decays (trace mode "synapse").

    ``s_t = decay * s_{t-1} + w_eff * x_t[:, index]``; returns the branch sums
    ``b`` ``(T, B, K)`` and the final traces ``s_T`` ``(B, S)``. Only every
    :data:`SYNAPSE_CHECKPOINT_EVERY`-th trace is kept; backward recomputes the rest.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx,
        x: Tensor,
        w_eff: Tensor,
        decay: Tensor,
        init: Tensor,
        index: Tensor | None,
        num_branches: int,
    ) -> tuple[Tensor, Tensor]:
        steps, batch = x.shape[0], x.shape[1]
        every = SYNAPSE_CHECKPOINT_EVERY
        branches = x.new_empty((steps, batch, num_branches))
        checkpoints = []
        s = init
        for t in range(steps):
            if t % every == 0:
                checkpoints.append(s)
            xs = x[t] if index is None else x[t][:, index]
            s = torch.addcmul(s * decay, w_eff, xs)
            torch.sum(s.view(batch, num_branches, -1), dim=-1, out=branches[t])
        ctx.num_branches = num_branches
        ctx.save_for_backward(x, w_eff, decay, index, torch.stack(checkpoints))
        return branches, s

    @staticmethod
    def backward(ctx, grad_b: Tensor, grad_final: Tensor | None):  # type: ignore[override]
        x, w_eff, decay, index, checkpoints = ctx.saved_tensors
        steps, batch = x.shape[0], x.shape[1]
        num_branches, every = ctx.num_branches, SYNAPSE_CHECKPOINT_EVERY
        with flush_denormals(x.device.type == "cpu"):
            gs = torch.zeros_like(checkpoints[0]) if grad_final is None else grad_final.clone()
            grad_w = torch.zeros_like(w_eff)
            grad_decay = torch.zeros_like(decay)
            grad_x = torch.zeros_like(x) if ctx.needs_input_grad[0] else None
            for chunk in range((steps - 1) // every, -1, -1):
                t0, t1 = chunk * every, min(steps, (chunk + 1) * every)
                prev_states = [checkpoints[chunk]]
                inputs = []
                for t in range(t0, t1):
                    xs = x[t] if index is None else x[t][:, index]
                    inputs.append(xs)
                    prev_states.append(torch.addcmul(prev_states[-1] * decay, w_eff, xs))
                for t in range(t1 - 1, t0 - 1, -1):
                    gs = (gs.view(batch, num_branches, -1) + grad_b[t].unsqueeze(-1)).view(
                        batch, -1
                    )
                    xs = inputs[t - t0]
                    grad_w += (gs * xs).sum(0)
                    grad_decay += (gs * prev_states[t - t0]).sum(0)
                    if grad_x is not None:
                        g_in = gs * w_eff
                        if index is None:
                            grad_x[t] += g_in
                        else:
                            grad_x[t].index_add_(1, index, g_in)
                    gs = gs * decay
        return (
            grad_x,
            grad_w if ctx.needs_input_grad[1] else None,
            grad_decay if ctx.needs_input_grad[2] else None,
            gs if ctx.needs_input_grad[3] else None,
            None,
            None,
        )


# --------------------------------------------------------------------------- recurrence


class _ELMRecurrence(torch.autograd.Function):
    """The sequential core: memory-dependent MLP half and memory update.

    Per step (``act`` the hidden activation; the custom tanh's ``2/3`` is folded into the
    last layer, its ``1.7159`` into ``gain``)::

        mk_t  = kappa_m * m_{t-1}
        z1_t  = P_t + b_1 + mk_t @ A^T           (first layer; A = memory half of W_1)
        z_l   = act(z_{l-1}) @ W_l^T + b_l       (further hidden layers)
        o_t   = act(z_L) @ W_o^T + b_o           (o_t = z1_t with no hidden layer)
        m_t   = mk_t + gain * tanh(o_t)

    Inputs: ``P`` ``(T, B, H_1)``, ``m0`` ``(B, M)``, ``kappa_m`` ``(M,)``, ``gain``
    ``(M,)``, ``A`` ``(H_1, M)``, ``b_1`` ``(H_1,)`` or ``None`` (added inside the loop,
    saving a pass over ``P``), then ``(W_l, b_l)`` for the further hidden layers and
    the output layer (``b`` may be ``None``). Output: ``m`` ``(T, B, M)``.
    Saved: ``m`` and each hidden layer's pre-activation (``o`` with no hidden layer).
    """

    @staticmethod
    def forward(
        ctx,
        activation: str,
        num_hidden: int,
        p: Tensor,
        m0: Tensor,  # type: ignore[override]
        kappa_m: Tensor,
        gain: Tensor,
        a: Tensor,
        b1: Tensor | None,
        *layers: Tensor | None,
    ) -> Tensor:
        steps, batch, _ = p.shape
        num_memory = m0.shape[1]
        weights = layers[0::2]
        biases = layers[1::2]
        ctx.activation = activation
        ctx.num_hidden = num_hidden
        ctx.num_layers = len(weights)
        ops = _ops_for(p)
        if ops is not None:
            empty = p.new_empty(0)
            outs = ops.rec_forward(
                p.contiguous(),
                m0.contiguous(),
                kappa_m.contiguous(),
                gain.contiguous(),
                a.t().contiguous(),
                p.new_empty(0) if b1 is None else b1.contiguous(),
                [w.t().contiguous() for w in weights] if num_hidden > 0 else [],
                [empty if b is None else b.contiguous() for b in biases] if num_hidden > 0 else [],
                activation == "relu",
            )
            memory, pre = outs[0], outs[1:]
            ctx.save_for_backward(m0, kappa_m, gain, a, memory, *pre, *weights, *biases)
            return memory
        if b1 is not None:
            p = p + b1
        memory = p.new_empty((steps, batch, num_memory))
        # pre-activation buffers: z_1 (width H_1) and the input of every further layer;
        # with no hidden layer the first layer's output is o itself (width M)
        pre = [p.new_empty((steps, batch, a.shape[0]))]
        pre += [p.new_empty((steps, batch, w.shape[0])) for w in weights[:-1]]
        a_t = a.t().contiguous()  # (M, H_1): a plain (not transposed) GEMM is ~2x faster
        w_t = [w.t().contiguous() for w in weights]
        mk = p.new_empty((batch, num_memory))
        out_buf = p.new_empty((batch, num_memory))
        tanh_buf = p.new_empty((batch, num_memory))
        hidden_buf = [p.new_empty((batch, w.shape[1])) for w in weights]
        act_relu = activation == "relu"
        prev = m0
        for t in range(steps):
            torch.mul(prev, kappa_m, out=mk)
            z = pre[0][t]
            torch.addmm(p[t], mk, a_t, out=z)
            if num_hidden == 0:
                o = z
            else:
                for layer in range(len(weights)):
                    h = hidden_buf[layer]
                    if act_relu:
                        torch.clamp_min(z, 0, out=h)
                    else:
                        torch._C._nn.silu(z, out=h)
                    if layer + 1 < len(weights):
                        z = pre[layer + 1][t]
                    else:
                        z = out_buf
                    if biases[layer] is None:
                        torch.mm(h, w_t[layer], out=z)
                    else:
                        torch.addmm(biases[layer], h, w_t[layer], out=z)
                o = z
            torch.tanh(o, out=tanh_buf)
            torch.addcmul(mk, gain, tanh_buf, out=memory[t])
            prev = memory[t]
        ctx.save_for_backward(m0, kappa_m, gain, a, memory, *pre, *weights, *biases)
        return memory

    @staticmethod
    def backward(ctx, grad_memory: Tensor):  # type: ignore[override]
        saved = ctx.saved_tensors
        m0, kappa_m, gain, a, memory = saved[:5]
        num_hidden = ctx.num_hidden
        num_pre = max(num_hidden, 1)
        pre = saved[5 : 5 + num_pre]
        weights = saved[5 + num_pre : 5 + num_pre + ctx.num_layers]
        biases = saved[5 + num_pre + ctx.num_layers :]
        activation = ctx.activation
        steps, batch, num_memory = memory.shape
        with flush_denormals(memory.device.type == "cpu"):
            flat = steps * batch
            needs = ctx.needs_input_grad
            if num_hidden == 0:
                hidden: list[Tensor] = []
                o_all = pre[0]
            else:
                hidden = [_act(z, activation) for z in pre]
                h_flat = hidden[-1].reshape(flat, -1)
                if biases[-1] is None:
                    o_all = h_flat @ weights[-1].t()
                else:
                    o_all = torch.addmm(biases[-1], h_flat, weights[-1].t())
                o_all = o_all.view(steps, batch, num_memory)
            # o_all is a fresh tensor unless it is the saved pre-activation (no hidden layer)
            tanh_all = torch.tanh(o_all) if num_hidden == 0 else o_all.tanh_()
            ops = _ops_for(memory)
            relu = activation == "relu"
            if ops is not None:
                # the loop forms gain * (1 - tanh^2) and the activation's derivative
                # from the pre-activations itself, step by step
                outs = ops.rec_backward(
                    grad_memory.contiguous(),
                    tanh_all.contiguous(),
                    gain.contiguous(),
                    [z.contiguous() for z in pre[:num_hidden]],
                    list(weights[:num_hidden]),
                    a.contiguous(),
                    kappa_m.contiguous(),
                    relu,
                    bool(needs[4] or needs[5]),
                )
                grad_m_all, grad_o_all, carry = outs[:3]
                grad_pre = list(outs[3:]) if num_hidden > 0 else [grad_o_all]
            else:
                factor = gain * (1 - tanh_all * tanh_all)
                derivs = [_act_grad(z, activation) for z in pre[:num_hidden]]
                grad_m_all, grad_o_all, grad_pre, carry = _recurrence_backward_loop(
                    grad_memory, factor, derivs, list(weights), a.contiguous(), kappa_m, pre, m0
                )
            grad_first = grad_pre[0]
            grad_p = grad_first if needs[2] else None
            grad_m0 = carry if needs[3] else None
            grad_kappa = grad_gain = grad_a = None
            g1_flat = grad_first.reshape(flat, -1)
            if needs[4]:
                prev_memory = torch.cat([m0.unsqueeze(0), memory[:-1]])
                grad_mk_all = grad_m_all + (g1_flat @ a).view(steps, batch, num_memory)
                grad_kappa = (grad_mk_all * prev_memory).sum((0, 1))
            if needs[5]:
                grad_gain = (grad_m_all * tanh_all).sum((0, 1))
            if needs[6]:
                # g1^T @ (kappa * m_{t-1}) = (g1^T @ m_{t-1}) * kappa, without the shifted copy
                grad_a = grad_first[0].t() @ m0
                if steps > 1:
                    rest = grad_first[1:].reshape((steps - 1) * batch, -1)
                    grad_a = grad_a.addmm_(rest.t(), memory[:-1].reshape(-1, num_memory))
                grad_a = grad_a * kappa_m
            grad_layers: list[Tensor | None] = []
            for layer in range(num_hidden):
                g_out = grad_pre[layer + 1] if layer + 1 < num_hidden else grad_o_all
                idx = 8 + 2 * layer
                gw = gb = None
                if needs[idx]:
                    gw = g_out.reshape(flat, -1).t() @ hidden[layer].reshape(flat, -1)
                if needs[idx + 1]:
                    gb = g_out.sum((0, 1))
                grad_layers += [gw, gb]
        grad_b1 = grad_first.sum((0, 1)) if needs[7] else None
        return (
            None,
            None,
            grad_p,
            grad_m0,
            grad_kappa,
            grad_gain,
            grad_a,
            grad_b1,
            *grad_layers,
        )


def _recurrence_backward_loop(
    grad_memory: Tensor,
    factor: Tensor,
    derivs: list[Tensor],
    weights: list[Tensor],
    a: Tensor,
    kappa_m: Tensor,
    pre: Sequence[Tensor],
    m0: Tensor,
) -> tuple[Tensor, Tensor, list[Tensor], Tensor]:
    """Pure-PyTorch reverse loop of :class:`_ELMRecurrence` (the compiled one's fallback).

    Returns ``(grad_m_all, grad_o_all, grad_pre, carry)``: the gradients w.r.t. every
    ``m_t`` (total), ``o_t``, each hidden pre-activation, and ``m0``'s decayed carry.
    """
    num_hidden = len(derivs)
    steps, batch, _ = grad_memory.shape
    grad_m_all = torch.empty_like(grad_memory)
    grad_o_all = torch.empty_like(grad_memory)
    grad_pre = [torch.empty_like(z) for z in pre] if num_hidden > 0 else [grad_o_all]
    carry = torch.zeros_like(m0)
    grad_mk = torch.empty_like(m0)
    gh_bufs = [m0.new_empty((batch, w.shape[1])) for w in weights]
    for t in range(steps - 1, -1, -1):
        gm = grad_m_all[t]
        torch.add(grad_memory[t], carry, out=gm)
        go = grad_o_all[t]
        torch.mul(gm, factor[t], out=go)
        g = go
        for layer in range(num_hidden - 1, -1, -1):
            gh = gh_bufs[layer]
            torch.mm(g, weights[layer], out=gh)
            g = grad_pre[layer][t]
            torch.mul(gh, derivs[layer][t], out=g)
        torch.addmm(gm, g, a, out=grad_mk)
        torch.mul(grad_mk, kappa_m, out=carry)
    return grad_m_all, grad_o_all, grad_pre, carry


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
    x: Tensor, trace0: Tensor | None, params: ELMParameters, w1b: Tensor
) -> tuple[Tensor, Tensor]:
    """First-layer input half ``P`` ``(T, B, H_1)`` (without the bias, which the
    recurrence adds) and the final trace."""
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
    x: Tensor,
    state: ELMState | None,
    params: ELMParameters,
    *,
    flush_denormal: bool = True,
) -> tuple[Tensor, ELMState, None]:
    """Run the ELM over a sequence with the fused kernel (same result as the reference).

    Equivalent to :func:`elm_snn.functional.elm.elm_sequence` with ``record=False``, to
    float round-off, for every configuration the reference supports. Gradients flow to
    ``x``, ``state`` and every tensor in ``params`` (they are the inputs of hand-written
    ``torch.autograd.Function``\\ s or of ordinary differentiable ops).

    Args:
        x: ``(T, B, I)`` time-major inputs (a transposed batch-first tensor is fine).
        state: initial :class:`~elm_snn.functional.elm.ELMState`, or ``None`` for zeros.
        params: :class:`~elm_snn.functional.elm.ELMParameters`.
        flush_denormal: flush float subnormals to zero while the kernel runs on CPU (the
            previous setting is restored); changes results by less than 1.2e-38.

    Returns:
        ``(y, final_state, None)``: ``y`` ``(T, B, O)`` and the final state.
    """
    if x.dim() != 3:
        raise ValueError(f"x: expected a 3-D tensor (T, B, I), got shape {tuple(x.shape)}")
    if x.shape[0] == 0 or x.shape[1] == 0:  # nothing to fuse: empty sequence or batch
        return F_elm.elm_sequence(x, state, params)
    with flush_denormals(flush_denormal and x.device.type == "cpu"):
        return _fused(x, state, params)


def _fused(
    x: Tensor, state: ELMState | None, params: ELMParameters
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
    p, final_trace = _front_end(x, trace0, params, w1b)
    m0 = x.new_zeros((batch, params.num_memory)) if state is None else state.memory
    gain = params.memory_gain * _TANH_SCALE
    memory = _ELMRecurrence.apply(
        params.activation, num_hidden, p, m0, params.memory_decay, gain, a, first_b, *layers
    )
    y = F.linear(memory, params.readout_weight, params.readout_bias)
    return y, ELMState(memory=memory[-1], trace=final_trace), None
