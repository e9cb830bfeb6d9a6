"""Experiments: SHD, SHD-Adding, NeuronIO and the six Long Range Arena tasks, each bundling
dataset, head, loss and metrics, with the paper's hyperparameters as named presets
(:mod:`elm_snn.tasks.presets`).

Example:
    >>> from elm_snn.tasks import get_task, resolve_config
    >>> cfg = resolve_config("shd-adding", "elm", "quick", synthetic=True)
    >>> task = get_task(cfg.task)          # SHDAddingTask
    >>> task.primary_metric, task.chance
    ('test_accuracy', 0.05263157894736842)

Training goes through :func:`elm_snn.train.engine.train`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from elm_snn.tasks.registry import (
    NEURONIO_MODELS,
    SHD_MODELS,
    TASKS,
    TaskSpec,
    register_task,
    task_spec,
)

if TYPE_CHECKING:
    from elm_snn.tasks.base import NonFiniteLossError, Task, TaskData
    from elm_snn.tasks.config import PRESETS, TASK_NAMES, RunConfig
    from elm_snn.tasks.lra_presets import LRA_MODELS, LRA_TASKS
    from elm_snn.tasks.models import MODEL_BUILDERS, SequenceModel, build_model, count_parameters
    from elm_snn.tasks.presets import resolve_config

#: Where the names of the modules that import torch live (the configuration reads its
#: defaults from the ELM layer). They load on first use (PEP 562), so that the registry,
#: and with it the command line's task choices, imports without torch.
_LAZY = {
    **dict.fromkeys(("NonFiniteLossError", "Task", "TaskData"), "elm_snn.tasks.base"),
    **dict.fromkeys(("PRESETS", "TASK_NAMES", "RunConfig"), "elm_snn.tasks.config"),
    **dict.fromkeys(("LRA_MODELS", "LRA_TASKS"), "elm_snn.tasks.lra_presets"),
    "resolve_config": "elm_snn.tasks.presets",
    **dict.fromkeys(
        ("MODEL_BUILDERS", "SequenceModel", "build_model", "count_parameters"),
        "elm_snn.tasks.models",
    ),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "LRA_MODELS",
    "MODEL_BUILDERS",
    "LRA_TASKS",
    "NEURONIO_MODELS",
    "PRESETS",
    "SHD_MODELS",
    "TASK_NAMES",
    "TASKS",
    "TaskSpec",
    "NonFiniteLossError",
    "RunConfig",
    "SequenceModel",
    "Task",
    "TaskData",
    "build_model",
    "count_parameters",
    "get_task",
    "register_task",
    "resolve_config",
    "task_spec",
]


def get_task(name: str) -> Task:
    """The task object of ``name`` (``"shd"``, ``"shd-adding"``, ``"neuronio"`` or an LRA task:
    ``"listops"``, ``"text"``, ``"retrieval"``, ``"image"``, ``"pathfinder"``,
    ``"pathfinder-x"``; see :data:`elm_snn.tasks.registry.TASKS`).

    Raises:
        ValueError: an unknown name (the message lists the registered tasks).
    """
    return task_spec(name).build()
