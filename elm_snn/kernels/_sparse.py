"""Sparse front end of the fused ELM kernel: input projections over the nonzeros only.

Spike inputs are mostly zeros. When at most :data:`SPARSE_MAX_DENSITY` of the entries of
``x`` are nonzero (checked in the same pass that collects them, stopped early for dense
inputs), the input projection and its weight gradient run over the nonzeros only (CSR rows
over ``T * B``), and for the folded front end the projection and the trace scan are one pass
(:class:`_SparseScanProject`). The nonzeros (8 bytes per row plus 16 bytes per nonzero in
float64, 12 in float32) are kept for backward instead of the dense input.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from . import _compiled
from ._common import _ops_for, _project, flush_denormals

#: Inputs with at most this fraction of nonzero entries are projected by the sparse
#: front end (compiled loops only); denser inputs use one dense matmul.
SPARSE_MAX_DENSITY = 0.05


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
