"""elm-snn: Expressive Leaky Memory (ELM) neurons for the snnTorch / Norse / Tonic ecosystem.

Layers are time-major ``(T, B, F)`` by default (``batch_first=True`` accepted), times are
in milliseconds, and every fast path is tested against the reference equations in
:mod:`elm_snn.functional`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: Where each re-exported name lives. They load on first use (PEP 562), so that
#: ``import elm_snn.cli`` (the command line's ``--help``) and the torch-free modules
#: (task registry, data generators) do not load torch.
_LAZY: dict[str, str] = {
    "ELMRecord": "elm_snn.functional.elm",
    "ELMState": "elm_snn.functional.elm",
    **dict.fromkeys(("EISNN", "LSTM", "ChronoLSTM", "SequenceClassifier"), "elm_snn.networks"),
    **dict.fromkeys(
        (
            "ALIF",
            "ELM",
            "LIF",
            "ALIFCell",
            "ALIFNeuron",
            "BranchELM",
            "BranchELMCell",
            "ELMCell",
            "LIFCell",
            "LIFNeuron",
            "LinearALIF",
            "LinearLIF",
            "StatefulModule",
            "detach",
            "reset",
        ),
        "elm_snn.neurons",
    ),
}

if TYPE_CHECKING:  # the names as static analysis and IDEs see them
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


#: Subpackages reachable as attributes after a bare ``import elm_snn`` (as when this
#: module imported them eagerly).
_SUBPACKAGES = frozenset(
    ("cli", "compat", "data", "functional", "kernels", "lra", "metrics", "networks", "neurons")
    + ("synth", "tasks", "train", "viz")
)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


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
