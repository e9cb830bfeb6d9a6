"""The task interface: dataset + head + loss + metrics of one experiment.

A task turns a :class:`~elm_snn.tasks.config.RunConfig` into datasets (``train``,
``validation``, ``test``), a model (:func:`~elm_snn.tasks.models.build_model`), a training
loss, per-batch evaluation records and the metrics computed from all records of a split.
The training engine (:mod:`elm_snn.train.engine`) only talks to this interface.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset

from elm_snn.tasks.config import RunConfig
from elm_snn.tasks.models import SequenceModel, seeded_model

__all__ = ["Task", "TaskData", "NonFiniteLossError", "FirstItems"]


class FirstItems(Dataset):
    """The first ``n`` items of a dataset (all if ``n`` is None): the cap on validation and
    test items (``val_samples``, ``test_samples``)."""

    def __init__(self, base: Any, n: int | None) -> None:
        self.base = base
        self.n = len(base) if n is None else min(int(n), len(base))

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> Any:
        if not 0 <= i < self.n:
            raise IndexError(f"index {i} out of range for {self.n} items")
        return self.base[i]


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite; the run stops with this error."""


@dataclasses.dataclass
class TaskData:
    """The datasets of a run and what the model needs to know about them.

    Attributes:
        train, validation, test: map-style datasets; items go through ``collate``.
        collate: function from a list of items to a batch (time-major tensors).
        num_inputs: input channels; num_outputs: model outputs; num_steps: time steps of
            a training sample.
        data_root: the folder the data came from (generated data: the cache folder).
    """

    train: Dataset
    validation: Dataset
    test: Dataset
    collate: Callable[[list], Any]
    num_inputs: int
    num_outputs: int
    num_steps: int
    data_root: Path
    test_collate: Callable[[list], Any] | None = None


class Task(abc.ABC):
    """One experiment (subclassed by :class:`~elm_snn.tasks.shd.SHDTask`,
    :class:`~elm_snn.tasks.shd.SHDAddingTask`, :class:`~elm_snn.tasks.neuronio.NeuronIOTask`).

    Class attributes:
        name: task name used on the command line.
        models: model names available for the task.
        monitor, monitor_mode: validation metric used for best-checkpoint selection and
            early stopping (e.g. ``"val_accuracy"``, ``"max"``).
        primary_metric: the headline test metric (``"test_accuracy"`` / ``"test_auc"``).
        chance: chance level of the primary metric (``None`` if not meaningful).
    """

    name: str = ""
    models: tuple[str, ...] = ()
    monitor: str = "val_loss"
    monitor_mode: str = "min"
    primary_metric: str = "test_loss"
    chance: float | None = None

    # ---------------------------------------------------------------- data
    @abc.abstractmethod
    def prepare_data(self, cfg: RunConfig) -> Path:
        """Make sure the data exist (generate synthetic data if asked) and return the folder.

        Raises:
            FileNotFoundError: ``cfg.data_root`` is missing or lacks the task's files.
        """

    @abc.abstractmethod
    def build_data(self, cfg: RunConfig, data_root: Path) -> TaskData:
        """Datasets of the three splits (after :meth:`prepare_data`)."""

    # ---------------------------------------------------------------- model
    def build_model(
        self, cfg: RunConfig, num_inputs: int, num_outputs: int, num_steps: int
    ) -> SequenceModel:
        """The model ``cfg.model``, seeded with ``cfg.seed`` (see :func:`build_model`)."""
        return seeded_model(cfg, num_inputs, num_outputs, num_steps)

    def initialise_model(
        self, model: SequenceModel, data: TaskData, cfg: RunConfig
    ) -> dict[str, float]:
        """Data-dependent initialisation of a freshly built model before training (the
        default does nothing). Called once by :func:`elm_snn.train.engine.train`; a
        resumed run then loads its checkpoint over it.

        Returns:
            What was set (plain floats, recorded in ``metrics.json`` as ``"model_init"``).
        """
        return {}

    def report_extras(self, metrics: dict[str, float]) -> dict[str, Any]:
        """Extra entries for ``metrics.json`` / ``elm-snn eval`` output computed from the
        prefixed metrics of a split (the default adds nothing)."""
        return {}

    # ---------------------------------------------------------------- loss and metrics
    @abc.abstractmethod
    def training_loss(self, model: SequenceModel, batch: Any, cfg: RunConfig) -> tuple[Tensor, int]:
        """``(scalar loss, batch size)`` of one training batch (regularisers included)."""

    @abc.abstractmethod
    def eval_records(
        self, model: SequenceModel, batch: Any, cfg: RunConfig, split: str
    ) -> dict[str, Tensor]:
        """Per-sample records of one evaluation batch (concatenated along dim 0 over the
        split, gathered over processes, then passed to :meth:`compute_metrics`)."""

    @abc.abstractmethod
    def compute_metrics(
        self, records: dict[str, Tensor], cfg: RunConfig, split: str
    ) -> dict[str, float]:
        """Metrics (plain names without the split prefix, e.g. ``"accuracy"``)."""

    @staticmethod
    def check_loss(loss: Tensor, where: str) -> None:
        """Raise :class:`NonFiniteLossError` if ``loss`` is NaN/inf."""
        if not bool(torch.isfinite(loss.detach()).all()):
            raise NonFiniteLossError(
                f"the training loss is {loss.detach().float().item()} at {where}. Training "
                f"stopped. Try a lower learning rate (--lr), gradient clipping "
                f"(--gradient-clip), another seed, or check the data for NaN/inf."
            )
