"""The fused ELM kernel as ``torch.library`` custom operators, for ``torch.compile``.

The fused kernel (:func:`~elm_snn.kernels.fused.fused_elm_sequence`) makes data-dependent
choices (are the trace decays equal? is the input sparse enough for the compiled sparse
front end?) and calls compiled C++ loops that cannot run on fake tensors. Under
``torch.compile`` it therefore runs as one opaque operator, ``elm_snn::fused_elm_sequence``,
that Dynamo and AOTAutograd do not look inside:

* a **fake (meta) kernel** gives the output shapes ``y`` ``(T, B, O)``, final memory
  ``(B, M)`` and final trace ``(B, S or K)`` from the input shapes alone, so the op
  traces with ``fullgraph=True`` and works on the ``meta`` device;
* its **autograd** is registered with ``torch.library.register_autograd``: the backward is
  a second opaque operator, ``elm_snn::fused_elm_sequence_backward``, which recomputes the
  forward with autograd on (eager, on real tensors: the fused kernel and its hand-written
  backward) and returns the gradients of the inputs that need one. Only the inputs are
  saved, so the compiled graph holds no per-step tensors, at the price of running the
  forward twice per training step (see ``benchmarks/bench_compile.py`` for what that
  costs).

Eager calls never go through these operators: :func:`fused_elm_sequence` takes them only
while ``torch.compiler.is_compiling()``, so eager numerics are unchanged. Both operators
run the same fused kernel, tested against the reference equations.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence

import torch
from torch import Tensor

from ..functional.elm import ELMParameters, ELMState

__all__ = ["OP_NAMESPACE", "compiled_graph_sequence", "op_arguments", "register_eager_kernel"]

#: ``torch.ops.elm_snn``: the namespace of the custom operators
OP_NAMESPACE = "elm_snn"


def _params_from(
    synapse_weight: Tensor,
    trace_decay: Tensor,
    memory_decay: Tensor,
    memory_gain: Tensor,
    mlp_weights: Sequence[Tensor],
    mlp_biases: Sequence[Tensor],
    readout_weight: Tensor,
    readout_bias: Tensor | None,
    synapse_index: Tensor | None,
    synapse_mask: Tensor | None,
    num_branches: int,
    activation: str,
    trace_mode: str,
) -> ELMParameters:
    """Rebuild :class:`ELMParameters` from the operators' flat arguments (``mlp_biases``
    empty: no layer has a bias)."""
    biases: tuple[Tensor | None, ...] = (
        tuple(mlp_biases) if len(mlp_biases) > 0 else (None,) * len(mlp_weights)
    )
    return ELMParameters(
        synapse_weight=synapse_weight,
        trace_decay=trace_decay,
        memory_decay=memory_decay,
        memory_gain=memory_gain,
        mlp_weights=tuple(mlp_weights),
        mlp_biases=biases,
        readout_weight=readout_weight,
        readout_bias=readout_bias,
        synapse_index=synapse_index,
        synapse_mask=synapse_mask,
        num_branches=num_branches,
        activation=activation,
        trace_mode=trace_mode,
    )


#: The eager fused kernel the operators run, registered by :mod:`.fused` when it loads
#: (this module must not import it: ``fused`` imports this one for the compiled path).
_EAGER_KERNEL: list[Callable[..., tuple]] = []


def register_eager_kernel(kernel: Callable[..., tuple]) -> None:
    """Set the eager ``fused_elm_sequence`` that both operators run (called once by
    :mod:`elm_snn.kernels.fused`)."""
    _EAGER_KERNEL[:] = [kernel]


def _eager_sequence(
    x: Tensor, memory0: Tensor | None, trace0: Tensor | None, params: ELMParameters
) -> tuple[Tensor, Tensor, Tensor]:
    if not _EAGER_KERNEL:  # pragma: no cover - fused registers itself on import
        raise RuntimeError("elm_snn.kernels.fused was not imported: no eager ELM kernel")
    fused_elm_sequence = _EAGER_KERNEL[0]
    state = None
    if memory0 is not None and trace0 is not None:
        state = ELMState(memory=memory0, trace=trace0)
    elif memory0 is not None or trace0 is not None:
        # a half-given state: the missing half starts from zeros, as in the reference
        batch = x.shape[1]
        state = ELMState(
            memory=memory0 if memory0 is not None else x.new_zeros((batch, params.num_memory)),
            trace=trace0 if trace0 is not None else x.new_zeros((batch, params.trace_size)),
        )
    y, final, _ = fused_elm_sequence(x, state, params, _from_operator=True)
    # fresh, contiguous outputs (the fake kernel promises exactly that; no aliasing)
    return y.contiguous(), final.memory.clone(), final.trace.clone()


@torch.library.custom_op(f"{OP_NAMESPACE}::fused_elm_sequence", mutates_args=())
def _fused_op(
    x: Tensor,
    memory0: Tensor | None,
    trace0: Tensor | None,
    synapse_weight: Tensor,
    trace_decay: Tensor,
    memory_decay: Tensor,
    memory_gain: Tensor,
    mlp_weights: list[Tensor],
    mlp_biases: list[Tensor],
    readout_weight: Tensor,
    readout_bias: Tensor | None,
    synapse_index: Tensor | None,
    synapse_mask: Tensor | None,
    num_branches: int,
    activation: str,
    trace_mode: str,
) -> tuple[Tensor, Tensor, Tensor]:
    """The fused ELM kernel over ``x`` ``(T, B, I)``: returns ``(y (T, B, O), final
    memory (B, M), final trace (B, S or K))``."""
    params = _params_from(
        synapse_weight,
        trace_decay,
        memory_decay,
        memory_gain,
        mlp_weights,
        mlp_biases,
        readout_weight,
        readout_bias,
        synapse_index,
        synapse_mask,
        num_branches,
        activation,
        trace_mode,
    )
    with torch.no_grad():
        return _eager_sequence(x, memory0, trace0, params)


@_fused_op.register_fake
def _fused_fake(
    x: Tensor,
    memory0: Tensor | None,
    trace0: Tensor | None,
    synapse_weight: Tensor,
    trace_decay: Tensor,
    memory_decay: Tensor,
    memory_gain: Tensor,
    mlp_weights: list[Tensor],
    mlp_biases: list[Tensor],
    readout_weight: Tensor,
    readout_bias: Tensor | None,
    synapse_index: Tensor | None,
    synapse_mask: Tensor | None,
    num_branches: int,
    activation: str,
    trace_mode: str,
) -> tuple[Tensor, Tensor, Tensor]:
    steps, batch = x.shape[0], x.shape[1]
    y = x.new_empty((steps, batch, readout_weight.shape[0]))
    memory = x.new_empty((batch, memory_decay.shape[0]))
    trace = x.new_empty((batch, trace_decay.shape[0]))
    return y, memory, trace


#: positions of the differentiable tensor arguments of the forward operator, in order
_TENSOR_ARGS = (
    "x",
    "memory0",
    "trace0",
    "synapse_weight",
    "trace_decay",
    "memory_decay",
    "memory_gain",
    "mlp_weights",
    "mlp_biases",
    "readout_weight",
    "readout_bias",
    "synapse_index",
    "synapse_mask",
)


def _flat_inputs(args: Sequence) -> list[Tensor | None]:
    """The forward's tensor arguments flattened (lists expanded), in :data:`_TENSOR_ARGS`
    order."""
    flat: list[Tensor | None] = []
    for value in args[: len(_TENSOR_ARGS)]:
        if isinstance(value, (list, tuple)):
            flat.extend(value)
        else:
            flat.append(value)
    return flat


@torch.library.custom_op(f"{OP_NAMESPACE}::fused_elm_sequence_backward", mutates_args=())
def _fused_backward_op(
    grad_y: Tensor,
    grad_memory: Tensor,
    grad_trace: Tensor,
    needs_grad: list[bool],
    x: Tensor,
    memory0: Tensor | None,
    trace0: Tensor | None,
    synapse_weight: Tensor,
    trace_decay: Tensor,
    memory_decay: Tensor,
    memory_gain: Tensor,
    mlp_weights: list[Tensor],
    mlp_biases: list[Tensor],
    readout_weight: Tensor,
    readout_bias: Tensor | None,
    synapse_index: Tensor | None,
    synapse_mask: Tensor | None,
    num_branches: int,
    activation: str,
    trace_mode: str,
) -> list[Tensor]:
    """Gradients of the flattened tensor inputs marked in ``needs_grad`` (in order), by
    recomputing the fused forward with autograd and running its backward."""
    args = [
        x,
        memory0,
        trace0,
        synapse_weight,
        trace_decay,
        memory_decay,
        memory_gain,
        list(mlp_weights),
        list(mlp_biases),
        readout_weight,
        readout_bias,
        synapse_index,
        synapse_mask,
    ]
    flat = _flat_inputs(args)
    with _autograd_inside_operator():
        # fresh leaves made inside the block, where autograd dispatch is on
        leaves: list[Tensor] = []
        replaced: list[Tensor | None] = []
        for tensor, needed in zip(flat, needs_grad, strict=True):
            if tensor is None:
                replaced.append(None)
                continue
            tensor = tensor.detach()
            if needed:
                tensor.requires_grad_(True)
                leaves.append(tensor)
            replaced.append(tensor)
        rebuilt = _unflatten(replaced, len(mlp_weights), len(mlp_biases))
        params = _params_from(*rebuilt[3:], num_branches, activation, trace_mode)
        outputs = _eager_sequence(rebuilt[0], rebuilt[1], rebuilt[2], params)
        pairs = [
            (out, grad)
            for out, grad in zip(outputs, (grad_y, grad_memory, grad_trace), strict=True)
            if out.requires_grad
        ]
        grads: Sequence[Tensor | None] = [None] * len(leaves)
        if pairs and leaves:
            grads = torch.autograd.grad(
                [p[0] for p in pairs], leaves, [p[1] for p in pairs], allow_unused=True
            )
    return [
        torch.zeros_like(leaf) if grad is None else grad.contiguous()
        for leaf, grad in zip(leaves, grads, strict=True)
    ]


@contextlib.contextmanager
def _autograd_inside_operator() -> Iterator[None]:
    """Record autograd graphs inside an operator's kernel.

    The dispatcher runs a custom operator's kernel below the autograd layer (autograd keys
    excluded from the thread's dispatch set, grad mode off), so the recompute in the
    backward operator would record nothing. This re-enables grad mode and autograd
    dispatch for the block only, and restores the dispatcher's settings afterwards.
    """
    keys = [
        getattr(torch._C.DispatchKey, name)
        for name in ("AutogradFunctionality", "AutogradOther", "AutogradNestedTensor")
    ]
    before = [torch._C._dispatch_tls_is_dispatch_key_excluded(k) for k in keys]
    try:
        for key in keys:
            torch._C._dispatch_tls_set_dispatch_key_excluded(key, False)
        with torch.enable_grad():
            yield
    finally:
        for key, excluded in zip(keys, before, strict=True):
            torch._C._dispatch_tls_set_dispatch_key_excluded(key, excluded)


def _unflatten(flat: list[Tensor | None], num_weights: int, num_biases: int) -> list:
    """Inverse of :func:`_flat_inputs`."""
    head = flat[:7]
    weights = flat[7 : 7 + num_weights]
    biases = flat[7 + num_weights : 7 + num_weights + num_biases]
    tail = flat[7 + num_weights + num_biases :]
    return [*head, weights, biases, *tail]


@_fused_backward_op.register_fake
def _fused_backward_fake(
    grad_y: Tensor, grad_memory: Tensor, grad_trace: Tensor, needs_grad, *args
):
    flat = _flat_inputs(args)
    return [
        torch.empty_like(t, memory_format=torch.contiguous_format)
        for t, needed in zip(flat, needs_grad, strict=True)
        if needed and t is not None
    ]


def _setup_context(ctx, inputs, output) -> None:
    ctx.inputs = inputs
    ctx.num_weights = len(inputs[7])
    ctx.num_biases = len(inputs[8])
    flat = _flat_inputs(inputs)
    ctx.save_for_backward(*[t for t in flat if t is not None])
    ctx.present = [t is not None for t in flat]


def _backward(ctx, grad_y: Tensor, grad_memory: Tensor, grad_trace: Tensor):
    saved = iter(ctx.saved_tensors)
    flat = [next(saved) if present else None for present in ctx.present]
    needs_structured = ctx.needs_input_grad
    needs_flat: list[bool] = []
    for value in needs_structured[: len(_TENSOR_ARGS)]:
        if isinstance(value, (list, tuple)):
            needs_flat.extend(bool(v) for v in value)
        else:
            needs_flat.append(bool(value))
    # integer tensors (synapse_index) and missing arguments never get a gradient
    needs_flat = [
        bool(n) and t is not None and t.is_floating_point()
        for n, t in zip(needs_flat, flat, strict=True)
    ]
    rebuilt = _unflatten(flat, ctx.num_weights, ctx.num_biases)
    options = ctx.inputs[len(_TENSOR_ARGS) :]
    grads = iter(
        _fused_backward_op(grad_y, grad_memory, grad_trace, needs_flat, *rebuilt, *options)
        if any(needs_flat)
        else []
    )
    flat_grads = [next(grads) if needed else None for needed in needs_flat]
    structured = _unflatten(flat_grads, ctx.num_weights, ctx.num_biases)
    # lists of tensors take a list of gradients (None where none is needed)
    return (*structured, None, None, None)


_fused_op.register_autograd(_backward, setup_context=_setup_context)


def op_arguments(x: Tensor, state: ELMState | None, params: ELMParameters) -> tuple | None:
    """The forward operator's arguments for ``x``, ``state`` and ``params``, or ``None``
    when the parameters do not fit its signature (MLP biases neither all present nor all
    absent: only hand-built :class:`ELMParameters` do that)."""
    biases = params.mlp_biases
    present = [b is not None for b in biases]
    if any(present) and not all(present):
        return None
    return (
        x,
        None if state is None else state.memory,
        None if state is None else state.trace,
        params.synapse_weight,
        params.trace_decay,
        params.memory_decay,
        params.memory_gain,
        list(params.mlp_weights),
        [b for b in biases if b is not None],
        params.readout_weight,
        params.readout_bias,
        params.synapse_index,
        params.synapse_mask,
        int(params.num_branches),
        str(params.activation),
        str(params.trace_mode),
    )


def compiled_graph_sequence(
    x: Tensor, state: ELMState | None, params: ELMParameters
) -> tuple[Tensor, ELMState, None] | None:
    """:func:`fused_elm_sequence` through the custom operator (what runs under
    ``torch.compile`` and on the meta device); ``None`` when the parameters do not fit
    the operator (see :func:`op_arguments`)."""
    args = op_arguments(x, state, params)
    if args is None:
        return None
    y, memory, trace = torch.ops.elm_snn.fused_elm_sequence(*args)
    return y, ELMState(memory=memory, trace=trace), None
