"""Training and evaluation engine on PyTorch Lightning.

:func:`train` runs one configuration and writes a run folder::

    OUT/
      config.json        resolved RunConfig
      metrics.json       task, model, bin_size_ms, num_parameters, seed, wall_seconds,
                         best validation metric and the test metrics (test_accuracy, or
                         test_auc / test_soma_rmse_mv / ...), written atomically
      logs/metrics.csv   per-step and per-epoch logs (Lightning's CSVLogger)
      checkpoints/       last.ckpt (every epoch), best-*.ckpt (best validation metric),
                         interrupted.ckpt (written on Ctrl-C / SIGTERM / an exception)
      plots/training.png loss and validation metric against epochs

Reproducibility: the model is built from ``cfg.seed``; the training order comes from a
sampler seeded with ``(seed, epoch)``; SHD-Adding pairs and NeuronIO windows come from
``(seed, epoch)``; dropout draws from a generator reseeded at every optimiser step from
``(seed, global step, rank)``. Nothing depends on the RNG history, so a run resumed from
``last.ckpt`` (end of an epoch) reproduces the uninterrupted run's metrics exactly (on the
same hardware and software). ``deterministic=True`` also asks torch for deterministic
kernels. Resuming from ``interrupted.ckpt`` (mid-epoch) restarts that epoch's data from the
beginning (Lightning's behaviour for non-stateful loaders) and is not bit-identical.

Validation and test run in ``eval()`` mode: dropout is off (the official SHD notebook
leaves its input dropout on; we don't).

Multi-GPU / multi-node: ``cfg.devices``, ``cfg.num_nodes``, ``cfg.strategy`` go to
Lightning's ``Trainer`` (e.g. ``strategy="ddp"``). Each process gets a disjoint shard of every
epoch's permutation (padded to equal length like ``DistributedSampler``); validation/test
records are gathered from all processes before the metrics are computed (with padding, up to
``world_size - 1`` items of a split can count twice).
"""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from torch.utils.data import DataLoader, Dataset, Sampler

from elm_snn._io import atomic_write_text
from elm_snn.tasks import RunConfig, count_parameters, get_task
from elm_snn.tasks.base import NonFiniteLossError, TaskData

__all__ = [
    "ELMSNNModule",
    "ELMSNNDataModule",
    "EpochSampler",
    "CheckpointMismatchError",
    "train",
    "evaluate",
    "default_run_dir",
    "NonFiniteLossError",
]

_STEP_SEED_MULT = 1_000_003


class CheckpointMismatchError(ValueError):
    """A checkpoint was made for another task/model/architecture than the one requested."""


# ----------------------------------------------------------------------------- data
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


# ----------------------------------------------------------------------------- model
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


# ----------------------------------------------------------------------------- callbacks
class _InterruptCheckpoint(Callback):
    """Save ``interrupted.ckpt`` when training stops on an exception or a signal."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exc: BaseException
    ) -> None:
        if isinstance(exc, NonFiniteLossError) or trainer.world_size > 1:
            return  # NaN weights are not worth keeping; saving under DDP needs every rank
        if trainer.state.fn != "fit":
            return
        try:
            trainer.save_checkpoint(self.path)
        except Exception as save_error:  # pragma: no cover - best effort on the way out
            warnings.warn(f"could not save {self.path}: {save_error}", stacklevel=2)


# ----------------------------------------------------------------------------- run folders
def default_run_dir(cfg: RunConfig, root: str | os.PathLike = "runs") -> Path:
    """``runs/<task>-<model>-bin<B>ms-<preset>-seed<S>`` under ``root``."""
    return Path(root) / (
        f"{cfg.task}-{cfg.model}-bin{cfg.bin_size_ms:g}ms-{cfg.preset}-seed{cfg.seed}"
    )


def _check_compatible(saved: dict[str, Any], cfg: RunConfig, where: str) -> None:
    diffs = []
    for name in RunConfig.ARCHITECTURE_FIELDS:
        a, b = saved.get(name), cfg.to_dict().get(name)
        if a != b:
            diffs.append(f"{name}: checkpoint {a!r} vs requested {b!r}")
    if diffs:
        raise CheckpointMismatchError(
            f"{where} was made for another model/configuration: " + "; ".join(diffs)
        )


def _read_checkpoint_meta(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint: {str(path)!r} does not exist")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise ValueError(f"checkpoint: {str(path)!r} is not a readable checkpoint ({exc})") from exc
    hp = ckpt.get("hyper_parameters") if isinstance(ckpt, dict) else None
    if not isinstance(hp, dict) or "config" not in hp:
        raise ValueError(
            f"checkpoint: {str(path)!r} was not written by elm-snn's training engine "
            f"(no 'config' hyperparameters)"
        )
    return hp


def _merge_logs(earlier: str, csv_path: Path, keep_all: bool = False) -> None:
    """Prepend the rows of the interrupted part (epochs before the resumed one; all rows
    with ``keep_all``) to the log that Lightning's CSVLogger rewrote."""
    import csv
    import io

    new_rows = list(csv.DictReader(io.StringIO(csv_path.read_text()))) if csv_path.is_file() else []
    old_rows = list(csv.DictReader(io.StringIO(earlier)))
    first_new = min((int(r["epoch"]) for r in new_rows if r.get("epoch")), default=None)
    if first_new is not None and not keep_all:
        old_rows = [r for r in old_rows if r.get("epoch") and int(r["epoch"]) < first_new]
    fields: list[str] = []
    for r in old_rows + new_rows:
        fields.extend(k for k in r if k not in fields)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    w.writerows(old_rows + new_rows)
    atomic_write_text(csv_path, buf.getvalue())


def _plot_training(csv_path: Path, out_png: Path, monitor: str) -> None:
    try:
        from elm_snn.viz import plot_training_curves

        plot_training_curves(csv_path, out_png, monitor=monitor)
    except Exception as exc:  # plots must never fail a finished run
        warnings.warn(f"training plot not written: {exc}", stacklevel=2)


def _quiet_known_warnings() -> None:
    """Silence Lightning warnings that do not apply to these runs (num_workers=0 is the
    intended default for in-memory data; short epochs log less often than requested)."""
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*smaller than the logging interval.*")
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")
    warnings.filterwarnings("ignore", message=".*exists and is not empty.*")


def _make_trainer(
    cfg: RunConfig, out: Path, callbacks: list[Callback], fit: bool, **overrides: Any
) -> L.Trainer:
    kwargs: dict[str, Any] = dict(
        accelerator=cfg.accelerator,
        devices=cfg.devices,
        num_nodes=cfg.num_nodes,
        strategy=cfg.strategy,
        precision=cfg.precision,
        max_epochs=cfg.max_epochs,
        deterministic=cfg.deterministic,
        gradient_clip_val=cfg.gradient_clip_val,
        enable_progress_bar=cfg.progress_bar,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        use_distributed_sampler=False,
        callbacks=callbacks,
        logger=CSVLogger(str(out), name="logs", version="") if fit else False,
        default_root_dir=str(out),
        log_every_n_steps=10,
    )
    kwargs.update(overrides)
    return L.Trainer(**kwargs)


def train(
    cfg: RunConfig,
    out_dir: str | os.PathLike | None = None,
    *,
    resume: bool = False,
    resume_from: str | os.PathLike | None = None,
    callbacks: Sequence[Callback] = (),
    trainer_overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train ``cfg`` and evaluate the best checkpoint on the test split.

    Args:
        cfg: the run configuration (:func:`elm_snn.tasks.resolve_config`).
        out_dir: run folder (default :func:`default_run_dir` under ``./runs``).
        resume: continue from ``out_dir/checkpoints/last.ckpt`` (the last finished epoch).
        resume_from: continue from this checkpoint instead (e.g. ``interrupted.ckpt``).
        callbacks: extra Lightning callbacks.
        trainer_overrides: extra ``lightning.Trainer`` arguments (tests, debugging).

    Returns:
        The contents of ``metrics.json`` (see module docstring).

    Raises:
        FileNotFoundError: missing data folder/files, or ``resume`` without a checkpoint.
        CheckpointMismatchError: the checkpoint to resume was made for another model.
        NonFiniteLossError: the training loss became NaN/inf.
    """
    if not isinstance(cfg, RunConfig):
        raise TypeError(f"cfg: expected a RunConfig, got {type(cfg).__name__}")
    start = time.perf_counter()
    cpu_start = time.process_time()
    out = Path(out_dir) if out_dir is not None else default_run_dir(cfg)
    ckpt_dir = out / "checkpoints"
    ckpt_path: Path | None = None
    if resume_from is not None:
        ckpt_path = Path(resume_from)
    elif resume:
        ckpt_path = ckpt_dir / "last.ckpt"
        if not ckpt_path.is_file():
            raise FileNotFoundError(
                f"resume: no checkpoint {str(ckpt_path)!r} (nothing to resume in {str(out)!r}); "
                f"run without --resume to start, or pass --out of an earlier run"
            )
    if ckpt_path is not None:
        hp = _read_checkpoint_meta(ckpt_path)
        _check_compatible(hp["config"], cfg, f"checkpoint {str(ckpt_path)!r}")

    task = get_task(cfg.task)
    data_root = task.prepare_data(cfg)
    data = task.build_data(cfg, data_root)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    module = ELMSNNModule(cfg.to_dict(), data.num_inputs, data.num_outputs, data.num_steps)
    model_init = task.initialise_model(module.model, data, cfg)
    datamodule = ELMSNNDataModule(cfg, data)
    out.mkdir(parents=True, exist_ok=True)
    if not ckpt_path:
        atomic_write_text(out / "config.json", cfg.to_json() + "\n")

    monitor, mode = task.monitor, task.monitor_mode
    best_cb = ModelCheckpoint(
        dirpath=ckpt_dir,
        filename="best-epoch{epoch:03d}",
        auto_insert_metric_name=False,
        monitor=monitor,
        mode=mode,
        save_top_k=1,
        every_n_epochs=1,
    )
    # the state at the end of every epoch, whatever the metric did (what --resume uses)
    last_cb = ModelCheckpoint(
        dirpath=ckpt_dir,
        filename="last",
        enable_version_counter=False,
        save_top_k=1,
        every_n_epochs=1,
    )
    cbs: list[Callback] = [
        best_cb,
        last_cb,
        _InterruptCheckpoint(ckpt_dir / "interrupted.ckpt"),
    ]
    if cfg.early_stopping_patience is not None:
        cbs.append(EarlyStopping(monitor=monitor, mode=mode, patience=cfg.early_stopping_patience))
    cbs.extend(callbacks)
    csv_path = out / "logs" / "metrics.csv"
    earlier_log = csv_path.read_text() if ckpt_path is not None and csv_path.is_file() else None
    trainer = _make_trainer(cfg, out, cbs, fit=True, **(trainer_overrides or {}))
    with warnings.catch_warnings():
        _quiet_known_warnings()
        trainer.fit(module, datamodule=datamodule, ckpt_path=str(ckpt_path) if ckpt_path else None)
        best = best_cb.best_model_path or None
        if trainer.interrupted:
            raise KeyboardInterrupt("training interrupted; resume with --resume")
        fit_log = csv_path.read_text() if csv_path.is_file() else None
        test_results = trainer.test(module, datamodule=datamodule, ckpt_path=best, verbose=False)
    if (
        trainer.is_global_zero
        and fit_log is not None
        and csv_path.is_file()
        and monitor not in csv_path.read_text().splitlines()[0].split(",")
    ):
        # spawn strategies start a fresh logger for the test run, which rewrites the file
        _merge_logs(fit_log, csv_path, keep_all=True)
    test_metrics = {k: float(v) for k, v in (test_results[0] if test_results else {}).items()}
    # read progress from the files: with ddp_spawn this process never ran the loops
    epochs, steps = int(trainer.current_epoch), int(trainer.global_step)
    last_file = ckpt_dir / "last.ckpt"
    if last_file.is_file():
        last_ckpt = torch.load(last_file, map_location="cpu", weights_only=False)
        epochs, steps = int(last_ckpt["epoch"]) + 1, int(last_ckpt["global_step"])
    best_score = best_cb.best_model_score
    if best_score is None and best:
        for state in torch.load(best, map_location="cpu", weights_only=False)["callbacks"].values():
            if isinstance(state, dict) and state.get("monitor") == monitor:
                best_score = state.get("best_model_score")
    result: dict[str, Any] = {
        "task": cfg.task,
        "model": cfg.model,
        "preset": cfg.preset,
        "bin_size_ms": cfg.bin_size_ms,
        "seed": cfg.seed,
        "num_parameters": count_parameters(module.model),
        "epochs_trained": epochs,
        "global_steps": steps,
        "best_checkpoint": str(best) if best else None,
        f"best_{monitor}": float(best_score) if best_score is not None else None,
        "chance": task.chance,
        "model_init": model_init,
        "data_root": str(data_root),
        "wall_seconds": None,
        **test_metrics,
        **task.report_extras(test_metrics),
    }
    result["wall_seconds"] = round(time.perf_counter() - start, 3)
    # CPU time of this process (all its threads; data-loader workers not included)
    result["cpu_seconds"] = round(time.process_time() - cpu_start, 3)
    if trainer.is_global_zero:
        prev = out / "metrics.json"
        if ckpt_path is not None and prev.is_file():
            try:  # a resumed run reports the wall and CPU time of all its parts
                earlier = json.loads(prev.read_text())
                for key in ("wall_seconds", "cpu_seconds"):
                    before = earlier.get(f"{key}_total")
                    if before is not None:
                        result[f"{key}_total"] = round(before + result[key], 3)
            except (ValueError, OSError):
                pass
        result.setdefault("wall_seconds_total", result["wall_seconds"])
        result.setdefault("cpu_seconds_total", result["cpu_seconds"])
        atomic_write_text(prev, json.dumps(result, indent=2, sort_keys=True) + "\n")
        if earlier_log is not None:
            _merge_logs(earlier_log, csv_path)
        _plot_training(csv_path, out / "plots" / "training.png", monitor)
    return result


def evaluate(
    checkpoint: str | os.PathLike,
    *,
    data_root: str | os.PathLike | None = None,
    split: str = "test",
    out_json: str | os.PathLike | None = None,
    accelerator: str = "auto",
    devices: int | str = 1,
    expect_task: str | None = None,
    expect_model: str | None = None,
) -> dict[str, Any]:
    """Evaluate a checkpoint written by :func:`train` on its task's test (or validation) split.

    Args:
        checkpoint: ``.ckpt`` file (``best-*.ckpt``, ``last.ckpt``...).
        data_root: data folder (default: the one recorded in the checkpoint's config).
        split: ``"test"`` or ``"validation"``.
        out_json: also write the metrics there (atomically).
        accelerator, devices: where to run.
        expect_task, expect_model: raise :class:`CheckpointMismatchError` if the checkpoint
            was made for another task/model.

    Returns:
        ``{"task", "model", "bin_size_ms", "seed", "num_parameters", "checkpoint",
        "<split>_<metric>": ...}``.
    """
    if split not in ("test", "validation"):
        raise ValueError(f"split: expected 'test' or 'validation', got {split!r}")
    path = Path(checkpoint)
    hp = _read_checkpoint_meta(path)
    saved = dict(hp["config"])
    for what, expected in (("task", expect_task), ("model", expect_model)):
        if expected is not None and saved.get(what) != expected:
            raise CheckpointMismatchError(
                f"checkpoint {str(path)!r} holds a {saved.get(what)!r} {what}, expected "
                f"{expected!r}"
            )
    if data_root is not None:
        saved["data_root"] = os.fspath(data_root)
        saved["synthetic"] = False
    saved.update(accelerator=accelerator, devices=devices, num_nodes=1, strategy="auto")
    cfg = RunConfig.from_dict(saved)
    task = get_task(cfg.task)
    data = task.build_data(cfg, task.prepare_data(cfg))
    if (data.num_inputs, data.num_outputs) != (hp["num_inputs"], hp["num_outputs"]):
        raise CheckpointMismatchError(
            f"checkpoint {str(path)!r}: model has {hp['num_inputs']} inputs / "
            f"{hp['num_outputs']} outputs but the data have {data.num_inputs} / "
            f"{data.num_outputs}"
        )
    module = ELMSNNModule.load_from_checkpoint(path, map_location="cpu", weights_only=False)
    dm = ELMSNNDataModule(cfg, data)
    trainer = _make_trainer(cfg, path.parent, [], fit=False)
    with warnings.catch_warnings():
        _quiet_known_warnings()
        if split == "test":
            res = trainer.test(module, datamodule=dm, verbose=False)
        else:
            res = trainer.validate(module, datamodule=dm, verbose=False)
    result: dict[str, Any] = {
        "task": cfg.task,
        "model": cfg.model,
        "bin_size_ms": cfg.bin_size_ms,
        "seed": cfg.seed,
        "num_parameters": count_parameters(module.model),
        "checkpoint": str(path),
        **{k: float(v) for k, v in (res[0] if res else {}).items()},
    }
    result.update(task.report_extras(result))
    if out_json is not None:
        atomic_write_text(out_json, json.dumps(result, indent=2, sort_keys=True) + "\n")
    return result
