"""Linear scans of the fused ELM kernel: trace recurrences with hand-written backward."""

from __future__ import annotations

import torch
from torch import Tensor

from ._common import _ops_for, _sum_to, flush_denormals
from ._device import run_loop

#: Steps between stored per-synapse trace checkpoints in :class:`_SynapseTraceScan`.
SYNAPSE_CHECKPOINT_EVERY = 32

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
            (out,) = run_loop("scan_forward", _scan_forward_loop, [u, decay, init])
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
                (grad_u,) = run_loop("scan_backward", _scan_backward_loop, [grad_out, decay])
            grad_decay = grad_init = None
            if ctx.needs_input_grad[2]:
                grad_init = grad_u[0] * decay
            if ctx.decay_needs_grad:
                prev = torch.cat([init.unsqueeze(0), out[:-1]])
                grad_decay = _sum_to(grad_u * prev, decay.shape)
        return grad_u, grad_decay, grad_init


def _scan_forward_loop(u: Tensor, decay: Tensor, init: Tensor) -> list[Tensor]:
    """Pure-PyTorch forward loop of :class:`_LinearScan` (any device). Returns ``[out]``."""
    out = torch.empty_like(u)
    prev = init
    for t in range(u.shape[0]):
        torch.addcmul(u[t], prev, decay, out=out[t])
        prev = out[t]
    return [out]


def _scan_backward_loop(grad_out: Tensor, decay: Tensor) -> list[Tensor]:
    """Pure-PyTorch reverse loop of :class:`_LinearScan`: ``g_t = grad_t + decay * g_{t+1}``."""
    grad_u = torch.empty_like(grad_out)
    steps = grad_out.shape[0]
    grad_u[steps - 1] = grad_out[steps - 1]
    for t in range(steps - 2, -1, -1):
        torch.addcmul(grad_out[t], grad_u[t + 1], decay, out=grad_u[t])
    return [grad_u]


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
