"""The sequential core of the fused ELM kernel (memory-dependent MLP half, memory update).

On CPU its time loops are the compiled ones (:mod:`._cpp_recurrence`, batch blocks on
torch's threads); elsewhere, or without a compiler, :func:`_recurrence_forward_loop` and
:func:`_recurrence_backward_loop` run them as PyTorch ops on any device, through
:func:`._device.run_loop` (which can capture them as CUDA graphs).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from ._common import _act, _act_grad, _ops_for, flush_denormals
from ._device import run_loop

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
        outs = run_loop(
            "rec_forward",
            _recurrence_forward_loop,
            [p, m0, kappa_m, gain, a, b1, *layers],
            {"relu": activation == "relu", "num_hidden": num_hidden},
        )
        memory, pre = outs[0], list(outs[1:])
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
        needs = ctx.needs_input_grad
        with flush_denormals(memory.device.type == "cpu"):
            hidden, tanh_all = _hidden_and_tanh(
                pre, weights, biases, ctx.activation, memory, num_hidden
            )
            grad_m_all, grad_o_all, carry, grad_pre = _backward_loop(
                grad_memory, tanh_all, gain, pre, weights, a, kappa_m, m0, ctx.activation, needs,
                num_hidden,
            )  # fmt: skip
            grad_first = grad_pre[0]
            grad_kappa, grad_gain, grad_a = _decay_gain_coupling_grads(
                needs, grad_first, grad_m_all, tanh_all, m0, memory, a, kappa_m
            )
            grad_layers = _layer_grads(needs, grad_pre, grad_o_all, hidden)
        return (
            None,
            None,
            grad_first if needs[2] else None,
            carry if needs[3] else None,
            grad_kappa,
            grad_gain,
            grad_a,
            grad_first.sum((0, 1)) if needs[7] else None,
            *grad_layers,
        )


def _hidden_and_tanh(
    pre: Sequence[Tensor],
    weights: Sequence[Tensor],
    biases: Sequence[Tensor | None],
    activation: str,
    memory: Tensor,
    num_hidden: int,
) -> tuple[list[Tensor], Tensor]:
    """The MLP's hidden activations ``(T, B, H_l)`` recomputed from the saved
    pre-activations, and ``tanh`` of its output ``(T, B, M)``."""
    steps, batch, num_memory = memory.shape
    if num_hidden == 0:
        return [], torch.tanh(pre[0])
    hidden = [_act(z, activation) for z in pre]
    h_flat = hidden[-1].reshape(steps * batch, -1)
    if biases[-1] is None:
        o_all = h_flat @ weights[-1].t()
    else:
        o_all = torch.addmm(biases[-1], h_flat, weights[-1].t())
    # o_all is a fresh tensor here (not a saved one): tanh in place
    return hidden, o_all.view(steps, batch, num_memory).tanh_()


def _backward_loop(
    grad_memory: Tensor,
    tanh_all: Tensor,
    gain: Tensor,
    pre: Sequence[Tensor],
    weights: Sequence[Tensor],
    a: Tensor,
    kappa_m: Tensor,
    m0: Tensor,
    activation: str,
    needs: Sequence[bool],
    num_hidden: int,
) -> tuple[Tensor, Tensor, Tensor, list[Tensor]]:
    """The backward recurrence over time (compiled loop, else the PyTorch one):
    ``dL/dm_t`` for every step, ``dL/do_t``, the carry into ``m0`` and the gradients of the
    MLP's pre-activations (the first is ``dL/dp``)."""
    ops = _ops_for(tanh_all)
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
            activation == "relu",
            bool(needs[4] or needs[5]),
        )
        grad_m_all, grad_o_all, carry = outs[:3]
        return grad_m_all, grad_o_all, carry, list(outs[3:]) if num_hidden > 0 else [grad_o_all]
    factor = gain * (1 - tanh_all * tanh_all)
    derivs = [_act_grad(z, activation) for z in pre[:num_hidden]]
    outs = run_loop(
        "rec_backward",
        _recurrence_backward_loop,
        [grad_memory, factor, a.contiguous(), kappa_m, m0, *derivs, *weights],
        {"num_hidden": num_hidden},
    )
    return outs[0], outs[1], outs[2], list(outs[3:])


def _decay_gain_coupling_grads(
    needs: Sequence[bool],
    grad_first: Tensor,
    grad_m_all: Tensor,
    tanh_all: Tensor,
    m0: Tensor,
    memory: Tensor,
    a: Tensor,
    kappa_m: Tensor,
) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
    """Gradients of the memory decay ``kappa_m`` (M,), the gain (M,) and the coupling ``A``
    (H_1, M), each ``None`` unless asked for."""
    steps, batch, num_memory = memory.shape
    grad_kappa = grad_gain = grad_a = None
    # G = sum_t g1_t^T m_{t-1} (H_1, M), shared by the gradients of kappa_m and A
    g1_prev = None
    if needs[4] or needs[6]:
        g1_prev = grad_first[0].t() @ m0
        if steps > 1:
            rest = grad_first[1:].reshape((steps - 1) * batch, -1)
            g1_prev = g1_prev.addmm_(rest.t(), memory[:-1].reshape(-1, num_memory))
    if needs[4]:
        # dL/dkappa_j = sum_{t,b} (dL/dm_t + g1_t @ A)_j m_{t-1,j}; the second term
        # is sum_h A_hj G_hj (no (T, B, M) product, no shifted copy of m)
        grad_kappa = (grad_m_all[0] * m0).sum(0) + (g1_prev * a).sum(0)
        if steps > 1:
            grad_kappa = grad_kappa + (grad_m_all[1:] * memory[:-1]).sum((0, 1))
    if needs[5]:
        grad_gain = (grad_m_all * tanh_all).sum((0, 1))
    if needs[6]:
        # g1^T @ (kappa * m_{t-1}) = (g1^T @ m_{t-1}) * kappa
        grad_a = g1_prev * kappa_m
    return grad_kappa, grad_gain, grad_a


def _layer_grads(
    needs: Sequence[bool], grad_pre: Sequence[Tensor], grad_o_all: Tensor, hidden: Sequence[Tensor]
) -> list[Tensor | None]:
    """Weight and bias gradients of the MLP's later layers, in ``forward``'s argument order."""
    grads: list[Tensor | None] = []
    num_hidden = len(hidden)
    for layer in range(num_hidden):
        g_out = grad_pre[layer + 1] if layer + 1 < num_hidden else grad_o_all
        idx = 8 + 2 * layer
        flat = g_out.shape[0] * g_out.shape[1]
        gw = gb = None
        if needs[idx]:
            gw = g_out.reshape(flat, -1).t() @ hidden[layer].reshape(flat, -1)
        if needs[idx + 1]:
            gb = g_out.sum((0, 1))
        grads += [gw, gb]
    return grads


def _recurrence_forward_loop(
    p: Tensor,
    m0: Tensor,
    kappa_m: Tensor,
    gain: Tensor,
    a: Tensor,
    b1: Tensor | None,
    *layers: Tensor | None,
    relu: bool,
    num_hidden: int,
) -> list[Tensor]:
    """Pure-PyTorch forward loop of :class:`_ELMRecurrence` (any device; the compiled one's
    fallback). Arguments as there. Returns ``[memory, pre_0, ...]``."""
    steps, batch, _ = p.shape
    num_memory = m0.shape[1]
    weights = layers[0::2]
    biases = layers[1::2]
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
                if relu:
                    torch.clamp_min(z, 0, out=h)
                else:
                    torch._C._nn.silu(z, out=h)
                z = pre[layer + 1][t] if layer + 1 < len(weights) else out_buf
                if biases[layer] is None:
                    torch.mm(h, w_t[layer], out=z)
                else:
                    torch.addmm(biases[layer], h, w_t[layer], out=z)
            o = z
        torch.tanh(o, out=tanh_buf)
        torch.addcmul(mk, gain, tanh_buf, out=memory[t])
        prev = memory[t]
    return [memory, *pre]


def _recurrence_backward_loop(
    grad_memory: Tensor,
    factor: Tensor,
    a: Tensor,
    kappa_m: Tensor,
    m0: Tensor,
    *derivs_and_weights: Tensor,
    num_hidden: int,
) -> list[Tensor]:
    """Pure-PyTorch reverse loop of :class:`_ELMRecurrence` (any device; the compiled one's
    fallback).

    ``factor = gain * (1 - tanh(o)^2)`` ``(T, B, M)``, then the activation's derivative at
    each hidden pre-activation ``(T, B, H_l)`` and the weights ``(out_l, in_l)`` of the
    layers after the first. Returns ``[grad_m_all, grad_o_all, carry, grad_pre_0, ...]``:
    the gradients w.r.t. every ``m_t`` (total), ``o_t``, ``m0``'s decayed carry and each
    hidden pre-activation (``[grad_o_all]`` with no hidden layer).
    """
    derivs = derivs_and_weights[:num_hidden]
    weights = derivs_and_weights[num_hidden:]
    steps, batch, _ = grad_memory.shape
    grad_m_all = torch.empty_like(grad_memory)
    grad_o_all = torch.empty_like(grad_memory)
    grad_pre = [torch.empty_like(d) for d in derivs] if num_hidden > 0 else [grad_o_all]
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
    return [grad_m_all, grad_o_all, carry, *grad_pre]
