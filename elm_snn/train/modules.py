"""The Lightning pieces of the engine: the epoch-seeded sampler, the data module and the
module wrapping a task's model, loss and metrics."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from elm_snn.tasks import RunConfig, get_task
from elm_snn.tasks.base import TaskData
from elm_snn.train.checkpoints import CheckpointError, _first_line, _read_checkpoint_meta

__all__ = [
    "EpochSampler",
    "ELMSNNDataModule",
    "ELMSNNModule",
]

_STEP_SEED_MULT = 1_000_003


class EpochSampler(Sampler[int]):
    """Indices of one process for one epoch, a pure function of ``(seed, epoch, rank)``.

    Shuffled epochs use ``torch.randperm`` with a generator seeded from ``(seed, epoch)``;
    the permutation is cut to ``num_samples``, padded (by wrapping) to a multiple of
    ``num_replicas`` and dealt out as ``indices[rank::num_replicas]``. ``set_epoch`` (called
    by Lightning before every epoch) also calls ``dataset.set_epoch`` when
    ``forward_epoch`` is set (SHD-Adding pairs, NeuronIO windows).

    Args:
        dataset: map-style dataset.
        shuffle: permute every epoch (training) or keep the order (evaluation).
        seed: seed of the permutations.
        num_replicas, rank: data-parallel world size and this process's rank.
        num_samples: items per epoch (default: all).
        forward_epoch: forward ``set_epoch`` to the dataset.
    """

    def __init__(
        self,
        dataset: Dataset,
        *,
        shuffle: bool,
        seed: int = 0,
        num_replicas: int = 1,
        rank: int = 0,
        num_samples: int | None = None,
        forward_epoch: bool = False,
    ) -> None:
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank: expected 0 <= rank < num_replicas={num_replicas}, got {rank}")
        self.dataset = dataset
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        n = len(dataset)  # type: ignore[arg-type]
        self.num_samples = n if num_samples is None else min(int(num_samples), n)
        self.forward_epoch = bool(forward_epoch)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch (and forward it to the dataset if ``forward_epoch``)."""
        self.epoch = int(epoch)
        if self.forward_epoch and hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(self.epoch)

    def _indices(self) -> list[int]:
        n = len(self.dataset)  # type: ignore[arg-type]
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * _STEP_SEED_MULT + self.epoch)
            idx = torch.randperm(n, generator=g)[: self.num_samples].tolist()
        else:
            idx = list(range(self.num_samples))
        total = math.ceil(len(idx) / self.num_replicas) * self.num_replicas
        idx = idx + idx[: total - len(idx)]
        return idx[self.rank :: self.num_replicas]

    def __iter__(self):
        return iter(self._indices())

    def __len__(self) -> int:
        return math.ceil(self.num_samples / self.num_replicas)


class ELMSNNDataModule(L.LightningDataModule):
    """Dataloaders of a task's splits with :class:`EpochSampler` (see module docstring).

    Args:
        cfg: the run configuration.
        data: datasets from ``task.build_data`` (built once, before the trainer starts).
    """

    def __init__(self, cfg: RunConfig, data: TaskData) -> None:
        super().__init__()
        self.cfg = cfg
        self.data = data

    def _world(self) -> tuple[int, int]:
        trainer = getattr(self, "trainer", None)
        if trainer is None:
            return 1, 0
        return int(trainer.world_size), int(trainer.global_rank)

    def _loader(self, ds: Dataset, train: bool, collate: Any) -> DataLoader:
        world, rank = self._world()
        sampler = EpochSampler(
            ds,
            shuffle=train,
            seed=self.cfg.seed,
            num_replicas=world,
            rank=rank,
            num_samples=self.cfg.train_samples_per_epoch if train else None,
            forward_epoch=train,
        )
        return DataLoader(
            ds,
            batch_size=self.cfg.batch_size if train else self.cfg.eval_batch_size,
            sampler=sampler,
            collate_fn=collate,
            num_workers=self.cfg.num_workers,
            persistent_workers=False,
            drop_last=False,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.data.train, True, self.data.collate)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.data.validation, False, self.data.collate)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.data.test, False, self.data.test_collate or self.data.collate)


def _check_weights_fit(cls: Any, ckpt: dict[str, Any], hp: dict[str, Any], path: Path) -> None:
    """Validate a checkpoint's stored config and sizes before any model is built from them.

    The config goes through :class:`RunConfig`'s checks; the model is then built on the
    ``meta`` device (no memory) and its parameter shapes are compared with the stored
    weights, so a tampered config (``num_memory = 3e6``) is refused before it can make the
    real model allocate gigabytes. Models that cannot be built on ``meta`` (they read
    tensor values while being built) skip the shape comparison; ``load_state_dict`` still
    compares them after building.
    """
    where = f"checkpoint: {str(path)!r}"
    try:
        RunConfig.from_dict(dict(hp["config"]))
        sizes = [hp[k] for k in ("num_inputs", "num_outputs", "num_steps")]
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(
            f"{where} holds an invalid run configuration ({type(exc).__name__}: {_first_line(exc)})"
        ) from None
    for name, value in zip(("num_inputs", "num_outputs", "num_steps"), sizes, strict=True):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10**7:
            raise CheckpointError(f"{where}: {name} must be an integer in 1..1e7, got {value!r}")
    state = ckpt.get("state_dict")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{where} holds no state_dict of tensors")
    try:
        with torch.device("meta"):
            probe = cls(hp["config"], *sizes)
    except RuntimeError:
        return  # built from tensor values (e.g. .item()): compared after building
    except (TypeError, ValueError) as exc:
        raise CheckpointError(
            f"{where} holds a configuration no model can be built from ({_first_line(exc)})"
        ) from None
    expected = {k: tuple(v.shape) for k, v in probe.state_dict().items()}
    stored = {k: tuple(v.shape) for k, v in state.items()}
    if expected != stored:
        diffs = [
            f"{k}: config gives {expected.get(k)}, weights are {stored.get(k)}"
            for k in sorted(set(expected) | set(stored))
            if expected.get(k) != stored.get(k)
        ]
        raise CheckpointError(
            f"{where}: its configuration does not match its weights (tampered or damaged): "
            + "; ".join(diffs[:3])
            + (f" and {len(diffs) - 3} more" if len(diffs) > 3 else "")
        )


class ELMSNNModule(L.LightningModule):
    """LightningModule wrapping a task's model, loss and metrics.

    Args:
        config: ``RunConfig.to_dict()`` (stored in checkpoints as hyperparameters).
        num_inputs, num_outputs, num_steps: data dimensions (see :class:`TaskData`).

    Attributes:
        model: the :class:`~elm_snn.tasks.SequenceModel`.
        last_metrics: metrics of the latest validation/test epoch (prefixed names).
    """

    def __init__(
        self, config: dict[str, Any], num_inputs: int, num_outputs: int, num_steps: int
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.cfg = RunConfig.from_dict(dict(config))
        self.task = get_task(self.cfg.task)
        self.model = self.task.build_model(self.cfg, num_inputs, num_outputs, num_steps)
        self._records: dict[str, list[torch.Tensor]] = {}
        self.last_metrics: dict[str, float] = {}

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike) -> ELMSNNModule:
        """The module saved in a checkpoint of :func:`train`, loaded safely (on the CPU).

        Unlike ``load_from_checkpoint`` this never unpickles anything but tensors and plain
        values (:func:`load_checkpoint`): the module is built from the stored
        hyperparameters and its weights are loaded into it.

        Raises:
            FileNotFoundError / CheckpointError: see :func:`load_checkpoint`.
        """
        p = Path(path)
        ckpt, hp = _read_checkpoint_meta(p)
        _check_weights_fit(cls, ckpt, hp, p)
        try:
            module = cls(hp["config"], hp["num_inputs"], hp["num_outputs"], hp["num_steps"])
            module.load_state_dict(ckpt["state_dict"])
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise CheckpointError(
                f"checkpoint: {str(p)!r} does not hold an elm-snn model's weights "
                f"({type(exc).__name__}: {_first_line(exc)})"
            ) from None
        return module

    @classmethod
    def load_from_checkpoint(cls, checkpoint_path: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Lightning's loader, restricted to weights-only loads (``weights_only=False`` is
        refused); :meth:`from_checkpoint` is the simpler entry point."""
        if kwargs.get("weights_only") is False:
            raise ValueError(
                "weights_only: elm-snn checkpoints are loaded weights-only (nothing in a "
                "checkpoint may run code), got False; use ELMSNNModule.from_checkpoint(path)"
            )
        kwargs["weights_only"] = True
        return super().load_from_checkpoint(checkpoint_path, *args, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(T, B, I)`` -> ``(T, B, O)`` model outputs."""
        return self.model(x)

    # -- training
    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        # dropout randomness as a function of (seed, step, rank) only: resumable exactly
        seed = (self.cfg.seed * _STEP_SEED_MULT + self.global_step) * 1009 + self.global_rank
        torch.manual_seed(seed % (2**63 - 1))

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        loss, n = self.task.training_loss(self.model, batch, self.cfg)
        self.task.check_loss(
            loss, f"epoch {self.current_epoch}, step {self.global_step} (batch {batch_idx})"
        )
        self.log("train_loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=n)
        return loss

    # -- evaluation
    def _collect(self, batch: Any, split: str) -> None:
        rec = self.task.eval_records(self.model, batch, self.cfg, split)
        for k, v in rec.items():
            self._records.setdefault(k, []).append(v.detach())

    def _finish(self, split: str) -> dict[str, float]:
        records = {}
        for k, parts in self._records.items():
            t = torch.cat(parts, dim=0)
            if self.trainer is not None and self.trainer.world_size > 1:
                t = self.all_gather(t).flatten(0, 1)
            records[k] = t.cpu()
        self._records = {}
        if not records:
            return {}
        metrics = self.task.compute_metrics(records, self.cfg, split)
        prefix = "val_" if split == "validation" else "test_"
        out = {prefix + k: float(v) for k, v in metrics.items()}
        for k, v in out.items():
            self.log(k, v, prog_bar=k == self.task.monitor, sync_dist=False)
        self.last_metrics.update(out)
        return out

    def on_validation_epoch_start(self) -> None:
        self._records = {}

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self._collect(batch, "validation")

    def on_validation_epoch_end(self) -> None:
        self._finish("validation")

    def on_test_epoch_start(self) -> None:
        self._records = {}

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self._collect(batch, "test")

    def on_test_epoch_end(self) -> None:
        self._finish("test")

    # -- optimisation
    def configure_optimizers(self) -> Any:
        cfg = self.cfg
        params = [p for p in self.model.parameters() if p.requires_grad]
        if cfg.optimizer == "adamax":
            opt = torch.optim.Adamax(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        elif cfg.optimizer == "adam":
            opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        else:
            opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        if cfg.lr_schedule == "constant":
            return opt
        total = max(1, int(self.trainer.estimated_stepping_batches))
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda step: 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total))
        )
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
