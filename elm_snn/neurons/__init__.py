"""Neuron layers users see: ELM / Branch-ELM cells and sequence layers, and LIF / ALIF
neurons (weightless: sequences :class:`LIFNeuron` / :class:`ALIFNeuron`, one step
:class:`LIFCell` / :class:`ALIFCell`) with the NeuronIO fitting
models built on them (:class:`LinearLIF` / :class:`LinearALIF`)."""

from .base import (
    StatefulModule,
    detach,
    detach_state,
    reset,
    runs_in_parameter_dtype,
    state_to,
)
from .elm import ELM, BranchELM, BranchELMCell, ELMCell, ELMCore
from .lif import ALIF, LIF, ALIFCell, ALIFNeuron, LIFCell, LIFNeuron, LinearALIF, LinearLIF

__all__ = [
    "ALIF",
    "ALIFCell",
    "LIF",
    "LIFCell",
    "ALIFNeuron",
    "LIFNeuron",
    "LinearALIF",
    "LinearLIF",
    "ELM",
    "BranchELM",
    "BranchELMCell",
    "ELMCell",
    "ELMCore",
    "StatefulModule",
    "detach",
    "detach_state",
    "reset",
    "runs_in_parameter_dtype",
    "state_to",
]
