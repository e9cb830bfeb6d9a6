"""Task registry: the name of every task, the models it offers, what its data require of a
run's configuration, and where its :class:`~elm_snn.tasks.base.Task` class lives.

:class:`~elm_snn.tasks.config.RunConfig` checks a configuration against the
:class:`TaskSpec` of its task, and :func:`~elm_snn.tasks.get_task` builds the task from
it, so no other module branches on a task's name. The Task class is named as
``"module:Class"`` and imported on first use, which keeps this table (and the config
module) free of the datasets' imports.

Adding a task: :func:`register_task` with its spec. Adding a model to a task: its builder in
:data:`elm_snn.tasks.models.MODEL_BUILDERS` and its name in the task's ``models`` below.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any

from elm_snn.tasks.lra_presets import LRA_MODELS, LRA_TASKS

__all__ = [
    "NEURONIO_MODELS",
    "SHD_MODELS",
    "TASKS",
    "TaskSpec",
    "register_task",
    "task_spec",
]

# Norse's own LIF / LSNN neurons as extra baselines (elm_snn.networks.norse_baselines)
SHD_MODELS = ("elm", "branch-elm", "lstm", "chrono-lstm", "snn", "norse-lif", "norse-lsnn")
NEURONIO_MODELS = ("elm", "branch-elm", "lif", "alif", "lstm", "tcn", "norse-lif", "norse-lsnn")


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """What the rest of elm-snn needs to know about a task without loading it.

    Attributes:
        name: task name (``--task``).
        task_class: ``"module:Class"`` of its :class:`~elm_snn.tasks.base.Task`.
        models: model names it offers (see :data:`elm_snn.tasks.models.MODEL_BUILDERS`).
        task_args: positional arguments of the Task class (LRA: the task name).
        fixed_bin_size_ms: the data's own step (ms) when ``bin_size_ms`` cannot be chosen,
            with ``fixed_bin_reason`` saying why in the error message; ``None``: free.
        digit_duration_ms: SHD tasks: the bin size must divide this (ms).
        synthetic: whether ``--synthetic`` can generate its data offline.
    """

    name: str
    task_class: str
    models: tuple[str, ...]
    task_args: tuple[Any, ...] = ()
    fixed_bin_size_ms: float | None = None
    fixed_bin_reason: str = ""
    digit_duration_ms: float | None = None
    synthetic: bool = True

    def build(self) -> Any:
        """A new Task object of this spec."""
        module, _, cls = self.task_class.partition(":")
        return getattr(importlib.import_module(module), cls)(*self.task_args)


#: name -> spec of every task, in ``--task`` order
TASKS: dict[str, TaskSpec] = {}


def register_task(spec: TaskSpec) -> TaskSpec:
    """Add ``spec`` to :data:`TASKS` (a name can be registered once)."""
    if spec.name in TASKS:
        raise ValueError(f"task: {spec.name!r} is already registered")
    TASKS[spec.name] = spec
    return spec


def task_spec(name: str) -> TaskSpec:
    """The spec of task ``name``; ``ValueError`` listing the registered names otherwise."""
    spec = TASKS.get(name) if isinstance(name, str) else None
    if spec is None:
        raise ValueError(f"task: expected one of {tuple(TASKS)}, got {name!r}")
    return spec


register_task(TaskSpec("shd", "elm_snn.tasks.shd:SHDTask", SHD_MODELS, digit_duration_ms=1000.0))
register_task(
    TaskSpec("shd-adding", "elm_snn.tasks.shd:SHDAddingTask", SHD_MODELS, digit_duration_ms=1000.0)
)
register_task(
    TaskSpec(
        "neuronio",
        "elm_snn.tasks.neuronio:NeuronIOTask",
        NEURONIO_MODELS,
        fixed_bin_size_ms=1.0,
        fixed_bin_reason="NeuronIO is sampled at 1 ms",
    )
)
for _name in LRA_TASKS:
    register_task(
        TaskSpec(
            _name,
            "elm_snn.tasks.lra:LRATask",
            LRA_MODELS,
            task_args=(_name,),
            fixed_bin_size_ms=1.0,
            fixed_bin_reason="LRA tasks take one token per 1 ms step",
            # only ListOps and the two Pathfinders have an offline generator
            synthetic=_name in ("listops", "pathfinder", "pathfinder-x"),
        )
    )
del _name
