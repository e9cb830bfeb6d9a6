"""Builders of input-to-synapse routing for Branch-ELM neurons.

A routing is a pair ``(index, mask)``: ``index`` is an ``(S,)`` int64 tensor naming the
input channel that feeds each synapse, ``mask`` an ``(S,)`` float tensor that is 0 for
padding synapses. Synapse ``j`` belongs to branch ``j // synapses_per_branch``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .._validation import check_int

__all__ = [
    "explicit_routing",
    "interleave_indices",
    "neuronio_routing",
    "overlapping_window_indices",
    "random_routing",
]


def interleave_indices(num_inputs: int) -> Tensor:
    """Interleave the two halves of the inputs: position ``p`` -> channel
    ``(p mod 2) * (I // 2) + p // 2`` (exc 0, inh 0, exc 1, inh 1, ... for NeuronIO).

    Returns:
        ``(I,)`` int64 tensor.
    """
    check_int("num_inputs", num_inputs)
    positions = torch.arange(num_inputs)
    return (positions % 2) * (num_inputs // 2) + torch.div(positions, 2, rounding_mode="floor")


def overlapping_window_indices(
    num_inputs: int, num_branches: int, synapses_per_branch: int
) -> tuple[Tensor, Tensor]:
    """Windows of ``synapses_per_branch`` positions starting every ``ceil(I / K)``.

    Neighbouring windows overlap when ``synapses_per_branch > ceil(I / K)``. Positions past
    the last input are clamped to ``I - 1`` and marked invalid.

    Returns:
        ``(positions, valid)``: ``(K * S_b,)`` int64 positions and a bool validity mask.
    """
    check_int("num_inputs", num_inputs)
    check_int("num_branches", num_branches)
    check_int("synapses_per_branch", synapses_per_branch)
    stride = math.ceil(num_inputs / num_branches)
    positions = torch.arange(num_branches).unsqueeze(1) * stride + torch.arange(
        synapses_per_branch
    ).unsqueeze(0)
    valid = positions < num_inputs
    positions = torch.clamp(positions, max=num_inputs - 1)
    return positions.flatten(), valid.flatten()


def neuronio_routing(
    num_inputs: int, num_branches: int, synapses_per_branch: int
) -> tuple[Tensor, Tensor]:
    """The official NeuronIO routing: interleave exc/inh inputs, then overlapping windows.

    Requires ``synapses_per_branch >= ceil(num_inputs / num_branches)`` so every input
    reaches at least one synapse.

    Returns:
        ``(index, mask)``: ``(K * S_b,)`` int64 channel per synapse, float 0/1 mask.
    """
    stride = math.ceil(num_inputs / check_int("num_branches", num_branches))
    if check_int("synapses_per_branch", synapses_per_branch) < stride:
        raise ValueError(
            f"synapses_per_branch: neuronio routing needs at least ceil(num_inputs / "
            f"num_branches) = {stride} synapses per branch so every input is used, "
            f"got {synapses_per_branch}"
        )
    positions, valid = overlapping_window_indices(num_inputs, num_branches, synapses_per_branch)
    return interleave_indices(num_inputs)[positions], valid.to(torch.float32)


def random_routing(
    num_inputs: int,
    num_synapses: int,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Each synapse draws its input channel uniformly (with replacement), as the
    official ``random_routing``.

    Args:
        num_inputs: ``I``.
        num_synapses: ``S = K * synapses_per_branch``.
        generator: optional seeded generator (default: torch's global RNG).

    Returns:
        ``(index, mask)`` with an all-ones mask.
    """
    check_int("num_inputs", num_inputs)
    check_int("num_synapses", num_synapses)
    index = torch.randint(num_inputs, (num_synapses,), generator=generator)
    return index, torch.ones(num_synapses)


def explicit_routing(
    index: Tensor, num_inputs: int, num_synapses: int, mask: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """Validate a user-given routing ``index`` (and optional ``mask``).

    Raises:
        TypeError: ``index`` is not an integer tensor.
        ValueError: wrong shape, or an index outside ``[0, num_inputs)``.
    """
    if not isinstance(index, Tensor):
        raise TypeError(f"routing: expected a torch.Tensor of int64, got {type(index).__name__}")
    if index.dtype.is_floating_point or index.dtype.is_complex or index.dtype == torch.bool:
        raise TypeError(f"routing: expected an integer tensor, got dtype {index.dtype}")
    if tuple(index.shape) != (num_synapses,):
        raise ValueError(
            f"routing: expected shape (num_synapses,) = ({num_synapses},), got {tuple(index.shape)}"
        )
    if index.numel() and (int(index.min()) < 0 or int(index.max()) >= num_inputs):
        raise ValueError(
            f"routing: indices must lie in [0, num_inputs) = [0, {num_inputs}), got min "
            f"{int(index.min())}, max {int(index.max())}"
        )
    if mask is None:
        mask = torch.ones(num_synapses)
    else:
        if tuple(mask.shape) != (num_synapses,):
            raise ValueError(
                f"routing_mask: expected shape ({num_synapses},), got {tuple(mask.shape)}"
            )
        mask = mask.to(torch.float32)
    return index.to(torch.int64).clone(), mask.clone()
