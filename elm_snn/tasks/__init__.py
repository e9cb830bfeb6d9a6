"""Experiments: SHD, SHD-Adding and NeuronIO, each bundling dataset, head, loss, metrics and
the paper's hyperparameters as named presets.

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
from elm_snn.tasks.config import (
    LRA_MODELS,
    LRA_TASKS,
    NEURONIO_MODELS,
    PRESETS,
    SHD_MODELS,
    TASK_NAMES,
    RunConfig,
    resolve_config,
)
from elm_snn.tasks.models import SequenceModel, build_model, count_parameters

__all__ = [
    "LRA_MODELS",
    "LRA_TASKS",
    "NEURONIO_MODELS",
    "PRESETS",
    "SHD_MODELS",
    "TASK_NAMES",
    "NonFiniteLossError",
    "RunConfig",
    "SequenceModel",
    "Task",
    "TaskData",
    "build_model",
    "count_parameters",
    "get_task",
    "resolve_config",
]


def get_task(name: str) -> Task:
    """The task object of ``name`` (``"shd"``, ``"shd-adding"``, ``"neuronio"`` or an LRA task:
    ``"listops"``, ``"text"``, ``"retrieval"``, ``"image"``, ``"pathfinder"``,
    ``"pathfinder-x"``)."""
    if name == "shd":
        from elm_snn.tasks.shd import SHDTask

        return SHDTask()
    if name == "shd-adding":
        from elm_snn.tasks.shd import SHDAddingTask

        return SHDAddingTask()
    if name == "neuronio":
        from elm_snn.tasks.neuronio import NeuronIOTask

        return NeuronIOTask()
    if name in LRA_TASKS:
        from elm_snn.tasks.lra import LRATask

        return LRATask(name)
    raise ValueError(f"task: expected one of {TASK_NAMES}, got {name!r}")
