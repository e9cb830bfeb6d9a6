"""Pure functions: the single reference implementation of each neuron's equations."""

from .elm import (
    ELMParameters,
    ELMRecord,
    ELMState,
    custom_tanh,
    derive_parameters,
    elm_memory_step,
    elm_readout,
    elm_sequence,
    elm_step,
    initial_state,
    memory_decay,
    memory_gain,
    route_inputs,
)
from .routing import (
    explicit_routing,
    interleave_indices,
    neuronio_routing,
    overlapping_window_indices,
    random_routing,
)

__all__ = [
    "ELMParameters",
    "ELMRecord",
    "ELMState",
    "custom_tanh",
    "derive_parameters",
    "elm_memory_step",
    "elm_readout",
    "elm_sequence",
    "elm_step",
    "explicit_routing",
    "initial_state",
    "interleave_indices",
    "memory_decay",
    "memory_gain",
    "neuronio_routing",
    "overlapping_window_indices",
    "random_routing",
    "route_inputs",
]
