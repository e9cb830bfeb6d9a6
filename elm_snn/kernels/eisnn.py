"""Fused time loop of the E/I SNN (:class:`elm_snn.networks.EISNN`) with hand-written BPTT.

The reference path of :class:`~elm_snn.networks.EISNN` lets autograd record every step:
about fifteen small operations per step, each with its own backward node, and a
``(N, B) x (B, N)`` weight-gradient product per step and weight matrix. Here the forward
loop runs without autograd and keeps only what backward needs (the pre-reset membrane of
every step, the spikes, and the post-reset membrane of the previous step); backward runs one
reverse loop over time for the membrane and spike gradients and then forms the weight and
decay gradients for **all steps at once** (one large matrix product per weight matrix).

The surrogate spike derivative is taken from the network's own ``spike_grad`` callable,
evaluated once on the whole ``(T, B, N)`` pre-reset membrane (so any elementwise snnTorch
surrogate works, with the same values as on the reference path).

Equations (per step ``t``; ``k`` membrane decays, ``a`` pre-reset membrane, ``q`` the reset
amount, ``alpha`` the output low-pass decay)::

    a_r(t) = k_r v_r(t-1) + I(t) + z_r(t-1) W_rr^T        z_r(t) = H(a_r(t) - thr)
    v_r(t) = a_r(t) - q z_r(t)
    a_o(t) = k_o v_o(t-1) + [z_r(t), z_o(t-1)] W_out^T     z_o(t) = H(a_o(t) - thr)
    v_o(t) = a_o(t) - q z_o(t)
    f(t)   = alpha f(t-1) + z_o(t)

The reset is not differentiated when ``detach_reset`` (the default), otherwise
``dv/da = 1 - q s'(a - thr)``.

Two implementations: :func:`eisnn_fused_sequence` (pure PyTorch, dense weight matrices, any
device and any spike function) and the compiled, event-driven and synapse-sparse loops of
:mod:`._cpp_eisnn` (CPU, Heaviside spikes). :func:`eisnn_sequence` picks the compiled one
when it can.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..functional.lif import spike

__all__ = ["eisnn_fused_sequence", "eisnn_sequence", "heaviside_forward"]


def _surrogate_derivative(spike_fn: Callable[[Tensor], Tensor], u: Tensor) -> Tensor:
    """Elementwise ``d spike_fn(u) / du`` through the surrogate's own backward."""
    with torch.enable_grad():
        x = u.detach().requires_grad_(True)
        z = spike(spike_fn, x)
        (grad,) = torch.autograd.grad(z, x, torch.ones_like(z))
    return grad.to(u.dtype)


class _EISNNFused(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx,
        cur_in: Tensor,
        w_rr: Tensor,
        w_out: Tensor,
        k_r: Tensor,
        k_o: Tensor,
        v_r: Tensor,
        z_r: Tensor,
        v_o: Tensor,
        z_o: Tensor,
        f: Tensor,
        thr: float,
        amount: float,
        alpha: float,
        spike_fn: Callable[[Tensor], Tensor],
        detach_reset: bool,
    ):
        steps, batch, n_r = cur_in.shape
        n_o = w_out.shape[0]
        dtype = cur_in.dtype
        pre_r = cur_in.new_empty(steps, batch, n_r)  # a_r(t)
        pre_o = cur_in.new_empty(steps, batch, n_o)
        z_rs = cur_in.new_empty(steps + 1, batch, n_r)  # z_r(t-1) at index t, z_r(t) at t+1
        z_os = cur_in.new_empty(steps + 1, batch, n_o)
        v_rs = cur_in.new_empty(steps, batch, n_r)  # v_r(t-1) (post-reset) at index t
        v_os = cur_in.new_empty(steps, batch, n_o)
        ys = cur_in.new_empty(steps, batch, n_o)
        z_rs[0] = z_r
        z_os[0] = z_o
        w_rr_t = w_rr.t()
        w_out_r_t = w_out[:, :n_r].t()
        w_out_o_t = w_out[:, n_r:].t()
        for t in range(steps):
            v_rs[t] = v_r
            a_r = torch.addmm(cur_in[t], z_r, w_rr_t)
            a_r.addcmul_(k_r.expand_as(v_r), v_r)
            pre_r[t] = a_r
            z_r = spike(spike_fn, a_r - thr).to(dtype)
            z_rs[t + 1] = z_r
            v_r = a_r - amount * z_r
            v_os[t] = v_o
            a_o = torch.addmm(torch.mm(z_r, w_out_r_t), z_o, w_out_o_t)
            a_o.addcmul_(k_o.expand_as(v_o), v_o)
            pre_o[t] = a_o
            z_o = spike(spike_fn, a_o - thr).to(dtype)
            z_os[t + 1] = z_o
            v_o = a_o - amount * z_o
            f = alpha * f + z_o
            ys[t] = f
        ctx.save_for_backward(w_rr, w_out, k_r, k_o, pre_r, pre_o, z_rs, z_os, v_rs, v_os)
        ctx.constants = (thr, amount, alpha, spike_fn, detach_reset)
        return z_rs[1:], z_os[1:], ys, v_r, v_o

    @staticmethod
    def backward(ctx, g_zr_seq, g_zo_seq, g_y, g_vr_final, g_vo_final):
        w_rr, w_out, k_r, k_o, pre_r, pre_o, z_rs, z_os, v_rs, v_os = ctx.saved_tensors
        thr, amount, alpha, spike_fn, detach_reset = ctx.constants
        steps, batch, n_r = pre_r.shape
        n_o = pre_o.shape[2]
        like = pre_r
        # missing gradients are zeros
        g_zr_seq = like.new_zeros(steps, batch, n_r) if g_zr_seq is None else g_zr_seq
        g_zo_seq = pre_o.new_zeros(steps, batch, n_o) if g_zo_seq is None else g_zo_seq
        g_y = pre_o.new_zeros(steps, batch, n_o) if g_y is None else g_y
        s_r = _surrogate_derivative(spike_fn, pre_r - thr)
        s_o = _surrogate_derivative(spike_fn, pre_o - thr)
        # d v / d a through the reset
        dv_da_r = None if detach_reset else 1.0 - amount * s_r
        dv_da_o = None if detach_reset else 1.0 - amount * s_o
        w_out_r = w_out[:, :n_r]
        w_out_o = w_out[:, n_r:]
        ga_r = like.new_empty(steps, batch, n_r)
        ga_o = pre_o.new_empty(steps, batch, n_o)
        g_vr = like.new_zeros(batch, n_r) if g_vr_final is None else g_vr_final.clone()
        g_vo = pre_o.new_zeros(batch, n_o) if g_vo_final is None else g_vo_final.clone()
        g_zr_next = like.new_zeros(batch, n_r)  # from step t+1 through W_rr
        g_zo_next = pre_o.new_zeros(batch, n_o)  # from step t+1 through W_out (own layer)
        g_f = pre_o.new_zeros(batch, n_o)
        for t in range(steps - 1, -1, -1):
            g_f = g_y[t] + alpha * g_f
            g_zo = g_zo_seq[t] + g_f + g_zo_next
            if detach_reset:
                g_ao = g_vo + g_zo * s_o[t]
            else:
                g_ao = g_vo * dv_da_o[t] + g_zo * s_o[t]
            ga_o[t] = g_ao
            g_zr = torch.addmm(g_zr_seq[t] + g_zr_next, g_ao, w_out_r)
            if detach_reset:
                g_ar = g_vr + g_zr * s_r[t]
            else:
                g_ar = g_vr * dv_da_r[t] + g_zr * s_r[t]
            ga_r[t] = g_ar
            g_vr = k_r * g_ar
            g_vo = k_o * g_ao
            g_zr_next = torch.mm(g_ar, w_rr)
            g_zo_next = torch.mm(g_ao, w_out_o)
        flat_r = ga_r.reshape(steps * batch, n_r)
        flat_o = ga_o.reshape(steps * batch, n_o)
        g_w_rr = g_w_out = g_k_r = g_k_o = None
        if ctx.needs_input_grad[1]:
            g_w_rr = flat_r.t() @ z_rs[:-1].reshape(steps * batch, n_r)
        if ctx.needs_input_grad[2]:
            pre_syn = torch.cat([z_rs[1:], z_os[:-1]], dim=2).reshape(steps * batch, -1)
            g_w_out = flat_o.t() @ pre_syn
        if ctx.needs_input_grad[3]:
            g_k_r = (ga_r * v_rs).sum(dim=(0, 1)).reshape(k_r.shape)
        if ctx.needs_input_grad[4]:
            g_k_o = (ga_o * v_os).sum(dim=(0, 1)).reshape(k_o.shape)
        return (
            ga_r if ctx.needs_input_grad[0] else None,
            g_w_rr,
            g_w_out,
            g_k_r,
            g_k_o,
            g_vr,  # d v_r(0) = k_r * ga_r(first step)
            g_zr_next,
            g_vo,
            g_zo_next,
            alpha * g_f,
            None,
            None,
            None,
            None,
            None,
        )


def eisnn_fused_sequence(
    cur_in: Tensor,
    w_rr: Tensor,
    w_out: Tensor,
    k_r: Tensor,
    k_o: Tensor,
    state: tuple[Tensor, Tensor, Tensor, Tensor, Tensor],
    *,
    threshold: float,
    reset_amount: float,
    alpha: float,
    spike_fn: Callable[[Tensor], Tensor],
    detach_reset: bool = True,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Run the E/I SNN's recurrence for all steps (see the module docstring).

    Args:
        cur_in: ``(T, B, N_r)`` input current of the recurrent layer (``x W_in^T``).
        w_rr: ``(N_r, N_r)`` dense recurrent weights; w_out: ``(N_o, N_r + N_o)``.
        k_r, k_o: ``(N_r,)`` / ``(N_o,)`` membrane decays per step.
        state: ``(v_r, z_r, v_o, z_o, f)`` initial state, each ``(B, n)``.
        threshold: firing threshold; reset_amount: subtracted after a spike (absolute).
        alpha: decay per step of the output low-pass.
        spike_fn: surrogate spike function (elementwise).
        detach_reset: no gradient through the reset.

    Returns:
        ``(z_r (T, B, N_r), z_o (T, B, N_o), y (T, B, N_o), v_r (B, N_r), v_o (B, N_o))``:
        spikes of both layers, the filtered output, and the final membranes (the final
        spikes and low-pass are ``z_r[-1]``, ``z_o[-1]`` and ``y[-1]``).
    """
    v_r, z_r, v_o, z_o, f = state
    return _EISNNFused.apply(
        cur_in,
        w_rr,
        w_out,
        k_r,
        k_o,
        v_r,
        z_r,
        v_o,
        z_o,
        f,
        float(threshold),
        float(reset_amount),
        float(alpha),
        spike_fn,
        bool(detach_reset),
    )


def heaviside_forward(spike_fn: Callable[[Tensor], Tensor], dtype: torch.dtype) -> bool:
    """Whether ``spike_fn`` spikes exactly when its argument is > 0 (every snnTorch surrogate
    does), probed on a few values around 0."""
    probe = torch.tensor([-1.0, -1e-6, 0.0, 1e-6, 1.0], dtype=dtype)
    with torch.no_grad():
        out = spike(spike_fn, probe)
    return bool(torch.equal(out, torch.tensor([0.0, 0.0, 0.0, 1.0, 1.0], dtype=dtype)))


def _grouped(keys: Tensor, num_keys: int) -> tuple[Tensor, Tensor]:
    """``(order, ptr)``: a stable order of ``keys`` grouping equal keys, and the start of each
    key's group (``ptr`` has ``num_keys + 1`` entries)."""
    order = torch.argsort(keys, stable=True)
    ptr = torch.zeros(num_keys + 1, dtype=torch.long, device=keys.device)
    ptr[1:] = torch.cumsum(torch.bincount(keys, minlength=num_keys), 0)
    return order, ptr


class _SynapseTables:
    """Index tables of the two layers for the compiled loops (built per call: a few ms)."""

    def __init__(self, src_r: Tensor, src_o: Tensor, num_inputs: int) -> None:
        n_r, syn = src_r.shape
        n_o, syn_o = src_o.shape
        flat = src_r.reshape(-1)
        post = torch.arange(n_r).repeat_interleave(syn)
        is_in = flat < num_inputs
        in_all = torch.nonzero(is_in).reshape(-1)
        order, self.in_ptr = _grouped(flat[in_all], num_inputs)
        self.in_idx = in_all[order]  # flat synapse indices, by input channel
        self.in_post = post[self.in_idx]
        own_all = torch.nonzero(~is_in).reshape(-1)
        order, self.rr_ptr = _grouped(flat[own_all] - num_inputs, n_r)
        self.rr_idx = own_all[order]  # by presynaptic neuron
        self.rr_post = post[self.rr_idx]
        flat_o = src_o.reshape(-1)
        order, self.out_ptr = _grouped(flat_o, n_r + n_o)
        self.out_idx = order
        self.out_post = torch.arange(n_o).repeat_interleave(syn_o)[order]
        self.num_inputs = num_inputs
        self.shape_r = (n_r, syn)
        self.shape_o = (n_o, syn_o)


class _EISNNCompiled(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w_r, w_o, k_r, k_o, v_r0, z_r0, v_o0, z_o0, f0, tables, consts):
        from ._compiled import compiled_ops

        ops = compiled_ops()
        thr, amount, alpha, spike_fn, detach_reset = consts
        tb: _SynapseTables = tables
        wr_flat = w_r.detach().reshape(-1)
        wo_flat = w_o.detach().reshape(-1)
        x_rows = ops.csr_build(x.detach().contiguous(), x.numel())
        k_r_c, k_o_c = k_r.detach().contiguous(), k_o.detach().contiguous()
        init = [t.detach().contiguous() for t in (v_r0, z_r0, v_o0, z_o0, f0)]
        pre_r, pre_o, z_r, z_o, y, v_r, v_o = ops.eisnn_forward(
            *x_rows, x.shape[0],
            tb.in_ptr, tb.in_post, wr_flat[tb.in_idx].contiguous(),
            tb.rr_ptr, tb.rr_post, wr_flat[tb.rr_idx].contiguous(),
            tb.out_ptr, tb.out_post, wo_flat[tb.out_idx].contiguous(),
            k_r_c, k_o_c, *init, thr, amount, alpha,
        )  # fmt: skip
        ctx.save_for_backward(
            pre_r, pre_o, z_r, z_o, w_r.detach(), wr_flat[tb.rr_idx].contiguous(),
            wo_flat[tb.out_idx].contiguous(), k_r_c, k_o_c, *init[:4], *x_rows,
        )  # fmt: skip
        ctx.consts = consts
        ctx.tables = tb
        return z_r, z_o, y, v_r, v_o

    @staticmethod
    def backward(ctx, g_zr, g_zo, g_y, g_vr, g_vo):
        from ._compiled import compiled_ops

        ops = compiled_ops()
        (
            pre_r, pre_o, z_r, z_o, w_r, rr_w, out_w, k_r, k_o, v_r0, z_r0, v_o0, z_o0,
            x_ptr, x_col, x_val,
        ) = ctx.saved_tensors  # fmt: skip
        thr, amount, alpha, spike_fn, detach_reset = ctx.consts
        tb: _SynapseTables = ctx.tables

        def grad_or_zeros(g: Tensor | None, like: Tensor) -> Tensor:
            return torch.zeros_like(like) if g is None else g.contiguous()

        s_r = _surrogate_derivative(spike_fn, pre_r - thr).contiguous()
        s_o = _surrogate_derivative(spike_fn, pre_o - thr).contiguous()
        want_x = ctx.needs_input_grad[0]
        g_in, g_rr, g_out, g_kr, g_ko, g_vr0, g_zr0, g_vo0, g_zo0, g_f0, g_a = (
            ops.eisnn_backward(
                grad_or_zeros(g_zr, z_r), grad_or_zeros(g_zo, z_o), grad_or_zeros(g_y, z_o),
                grad_or_zeros(g_vr, v_r0), grad_or_zeros(g_vo, v_o0),
                pre_r, pre_o, z_r, z_o, s_r, s_o, bool(detach_reset),
                x_ptr, x_col, x_val, tb.in_ptr, tb.in_post, tb.rr_ptr, tb.rr_post, rr_w,
                tb.out_ptr, tb.out_post, out_w, k_r, k_o, v_r0, z_r0, v_o0, z_o0,
                float(amount), float(alpha),
                bool(want_x),
            )
        )  # fmt: skip
        g_wr = g_in.new_zeros(w_r.numel())
        g_wr[tb.in_idx] = g_in
        g_wr[tb.rr_idx] = g_rr
        g_wo = g_out.new_zeros(out_w.numel())
        g_wo[tb.out_idx] = g_out
        g_x = None
        if want_x:
            n_r, syn = tb.shape_r
            flat = torch.arange(n_r).repeat_interleave(syn)
            src = torch.zeros(n_r * syn, dtype=torch.long)
            src[tb.in_idx] = torch.repeat_interleave(torch.arange(tb.num_inputs), tb.in_ptr.diff())
            w_in = w_r.new_zeros(n_r, tb.num_inputs).index_put(
                (flat[tb.in_idx], src[tb.in_idx]), w_r.reshape(-1)[tb.in_idx], accumulate=True
            )
            g_x = g_a @ w_in
        return (g_x, g_wr.reshape(w_r.shape), g_wo.reshape(tb.shape_o), g_kr.reshape(k_r.shape),
                g_ko.reshape(k_o.shape), g_vr0, g_zr0, g_vo0, g_zo0, g_f0, None, None)  # fmt: skip


def _dense_from_synapses(src: Tensor, w: Tensor, num_pre: int) -> Tensor:
    rows = torch.arange(src.shape[0], device=src.device).unsqueeze(1).expand_as(src)
    return w.new_zeros(src.shape[0], num_pre).index_put((rows, src), w, accumulate=True)


def eisnn_sequence(
    x: Tensor,
    rec_src: Tensor,
    rec_w: Tensor,
    out_src: Tensor,
    out_w: Tensor,
    k_r: Tensor,
    k_o: Tensor,
    state: tuple[Tensor, Tensor, Tensor, Tensor, Tensor],
    *,
    threshold: float,
    reset_amount: float,
    alpha: float,
    spike_fn: Callable[[Tensor], Tensor],
    detach_reset: bool = True,
    compiled: bool | None = None,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """The E/I SNN over a sequence from its synapse tables (see the module docstring).

    Args:
        x: ``(T, B, I)`` input.
        rec_src: ``(N_r, S)`` int64 presynaptic sources of the recurrent layer, indices
            into ``[inputs (I), recurrent (N_r)]``; rec_w: ``(N_r, S)`` effective weights.
        out_src: ``(N_o, S_o)`` sources of the output layer into ``[recurrent, output]``;
            out_w: its effective weights.
        k_r, k_o: membrane decays per step; state: ``(v_r, z_r, v_o, z_o, f)``.
        threshold, reset_amount (absolute), alpha, spike_fn, detach_reset: see
            :func:`eisnn_fused_sequence`.
        compiled: force (True) or forbid (False) the compiled loops; None: use them when
            available (CPU, float32/float64, Heaviside spikes).

    Returns:
        As :func:`eisnn_fused_sequence`.
    """
    from ._compiled import compiled_ops

    n_in = x.shape[2]
    n_r = rec_w.shape[0]
    can = (
        x.device.type == "cpu"
        and x.dtype in (torch.float32, torch.float64)
        and rec_w.dtype == x.dtype
        and heaviside_forward(spike_fn, x.dtype)
    )
    if compiled is None:
        compiled = can and compiled_ops() is not None
    elif compiled and not (can and compiled_ops() is not None):
        raise RuntimeError(
            "compiled: the compiled E/I SNN loops need CPU float32/float64 tensors, Heaviside "
            "spikes and a working C++ build"
        )
    if compiled:
        return _EISNNCompiled.apply(
            x, rec_w, out_w, k_r, k_o, *state,
            _SynapseTables(rec_src, out_src, n_in),
            (float(threshold), float(reset_amount), float(alpha), spike_fn, bool(detach_reset)),
        )  # fmt: skip
    w_rec = _dense_from_synapses(rec_src, rec_w, n_in + n_r)
    w_out = _dense_from_synapses(out_src, out_w, n_r + out_w.shape[0])
    return eisnn_fused_sequence(
        torch.matmul(x, w_rec[:, :n_in].t()),
        w_rec[:, n_in:],
        w_out,
        k_r,
        k_o,
        state,
        threshold=threshold,
        reset_amount=reset_amount,
        alpha=alpha,
        spike_fn=spike_fn,
        detach_reset=detach_reset,
    )
