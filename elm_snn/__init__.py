"""elm-snn: Expressive Leaky Memory (ELM) neurons for the snnTorch / Norse / Tonic ecosystem.

Layers are time-major ``(T, B, F)`` by default (``batch_first=True`` accepted), times are
in milliseconds, and every fast path is tested against the reference equations in
:mod:`elm_snn.functional`.
"""

from .functional.elm import ELMRecord, ELMState
from .networks import EISNN, LSTM, ChronoLSTM, SequenceClassifier
from .neurons import (
    ALIF,
    ELM,
    LIF,
    ALIFCell,
    ALIFNeuron,
    BranchELM,
    BranchELMCell,
    ELMCell,
    LIFCell,
    LIFNeuron,
    LinearALIF,
    LinearLIF,
    StatefulModule,
    detach,
    reset,
)

__version__ = "0.1.0"

__all__ = [
    "ALIF",
    "ALIFCell",
    "ALIFNeuron",
    "EISNN",
    "LIF",
    "LIFCell",
    "LIFNeuron",
    "LinearALIF",
    "LinearLIF",
    "LSTM",
    "ChronoLSTM",
    "SequenceClassifier",
    "ELM",
    "BranchELM",
    "BranchELMCell",
    "ELMCell",
    "ELMRecord",
    "ELMState",
    "StatefulModule",
    "__version__",
    "detach",
    "reset",
]
