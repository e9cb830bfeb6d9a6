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


class SparseFrames(NamedTuple):
    """A time-major spike batch ``(T, B, C)`` given by its nonzeros (no dense frames).

    CSR over the ``T * B`` time-major rows (row ``t * B + b``): ``row_ptr`` ``(T * B + 1,)``
    int64 offsets, ``col`` ``(nnz,)`` int64 channels (ascending within a row), ``val``
    ``(nnz,)`` float values (spike counts, or 1 for binary spikes), ``shape`` ``(T, B, C)``.
    Build one with :func:`elm_snn.data.sparse.collate_sparse`; ELM / Branch-ELM modules
    (and :func:`~elm_snn.kernels.fused_elm_sequence`) take it in place of a dense batch.
    As a ``NamedTuple`` of tensors it moves between devices like any batch
    (:meth:`to`, Lightning's batch transfer).
    """

    row_ptr: Tensor
    col: Tensor
    val: Tensor
    shape: tuple[int, int, int]

    @property
    def dtype(self) -> torch.dtype:
        """The values' dtype."""
        return self.val.dtype

    @property
    def device(self) -> torch.device:
        """The device of the tensors."""
        return self.val.device

    def to(self, *args, **kwargs) -> SparseFrames:
        """Move to a device; a floating dtype applies to ``val`` only."""
        val = self.val.to(*args, **kwargs)
        return SparseFrames(
            self.row_ptr.to(device=val.device), self.col.to(device=val.device), val, self.shape
        )

    def with_values(self, val: Tensor) -> SparseFrames:
        """The same nonzero pattern with new values ``(nnz,)`` (e.g. after dropout)."""
        return SparseFrames(self.row_ptr, self.col, val, self.shape)

    def to_dense(self) -> Tensor:
        """The dense ``(T, B, C)`` tensor (differentiable w.r.t. ``val``)."""
        steps, batch, channels = self.shape
        counts = self.row_ptr.diff()
        rows = torch.repeat_interleave(torch.arange(steps * batch, device=self.device), counts)
        dense = self.val.new_zeros((steps * batch, channels))
        dense = dense.index_put((rows, self.col), self.val, accumulate=True)
        return dense.view(steps, batch, channels)

    def check(self, name: str = "x") -> None:
        """Raise ``ValueError`` (naming ``name``) unless this is a well-formed CSR batch."""
        if len(self.shape) != 3 or any(int(n) < 0 for n in self.shape):
            raise ValueError(f"{name}.shape: expected (T, B, C) sizes >= 0, got {self.shape}")
        steps, batch, channels = (int(n) for n in self.shape)
        rp, col, val = self.row_ptr, self.col, self.val
        if rp.dtype != torch.int64 or col.dtype != torch.int64:
            raise ValueError(
                f"{name}: expected int64 row_ptr and col, got {rp.dtype} and {col.dtype}"
            )
        if not val.is_floating_point():
            raise ValueError(f"{name}.val: expected a floating dtype, got {val.dtype}")
        if rp.dim() != 1 or rp.numel() != steps * batch + 1:
            raise ValueError(
                f"{name}.row_ptr: expected shape ({steps * batch + 1},) for T * B + 1 rows, "
                f"got {tuple(rp.shape)}"
            )
        nnz = col.numel()
        if col.dim() != 1 or val.shape != col.shape:
            raise ValueError(
                f"{name}: col and val must be 1-D of equal length, got {tuple(col.shape)} and "
                f"{tuple(val.shape)}"
            )
        if int(rp[0]) != 0 or int(rp[-1]) != nnz or bool((rp.diff() < 0).any()):
            raise ValueError(
                f"{name}.row_ptr: expected non-decreasing offsets from 0 to nnz = {nnz}"
            )
        if nnz and (int(col.min()) < 0 or int(col.max()) >= channels):
            raise ValueError(
                f"{name}.col: expected channels in [0, {channels}), got "
                f"[{int(col.min())}, {int(col.max())}]"
            )
        if not bool(torch.isfinite(val).all()):
            raise ValueError(f"{name}.val: expected finite values (found NaN or inf)")


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
