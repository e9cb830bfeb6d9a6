"""Neuron layers users see: ELM / Branch-ELM cells and sequence layers, LIF, ALIF."""

from .base import StatefulModule, detach_state, reset
from .elm import ELM, BranchELM, BranchELMCell, ELMCell, ELMCore
from .lif import ALIF, LIF

__all__ = [
    "ALIF",
    "LIF",
    "ELM",
    "BranchELM",
    "BranchELMCell",
    "ELMCell",
    "ELMCore",
    "StatefulModule",
    "detach_state",
    "reset",
]
