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

from elm_snn.tasks.base import NonFiniteLossError, Task, TaskData
from elm_snn.tasks.config import PRESETS, TASK_NAMES, RunConfig
from elm_snn.tasks.lra_presets import LRA_MODELS, LRA_TASKS
from elm_snn.tasks.models import MODEL_BUILDERS, SequenceModel, build_model, count_parameters
from elm_snn.tasks.presets import resolve_config
from elm_snn.tasks.registry import (
    NEURONIO_MODELS,
    SHD_MODELS,
    TASKS,
    TaskSpec,
    register_task,
    task_spec,
)

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
