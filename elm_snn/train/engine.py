"""Training and evaluation engine on PyTorch Lightning.

:func:`train` runs one configuration and writes a run folder::

    OUT/
      config.json        resolved RunConfig
      metrics.json       task, model, bin_size_ms, num_parameters, seed, wall_seconds,
                         best validation metric and the test metrics (test_accuracy, or
                         test_auc / test_soma_rmse_mv / ...); written last: a folder with
                         metrics.json holds a *finished* run
      logs/metrics.csv   per-step and per-epoch logs (Lightning's CSVLogger)
      checkpoints/       last.ckpt (every epoch), best-*.ckpt (best validation metric),
                         interrupted.ckpt (on Ctrl-C / SIGTERM / an exception: the state at
                         the start of the interrupted epoch)
      plots/training.png loss and validation metric against epochs

Every file is written atomically (temporary file in the same folder, fsync, rename; the
umask's mode), checkpoints included (:class:`SafeCheckpointIO`). Checkpoints are loaded with
``torch.load(weights_only=True)`` only (:func:`load_checkpoint`): a pickle that would run
code is refused. A new run into a folder holding a run is refused (:class:`RunFolderError`)
unless ``overwrite`` or a resume option is given.

Reproducibility: the model is built from ``cfg.seed``; the training order comes from a
sampler seeded with ``(seed, epoch)``; SHD-Adding pairs and NeuronIO windows come from
``(seed, epoch)``; dropout draws from a generator reseeded at every optimiser step from
``(seed, global step, rank)``. Nothing depends on the RNG history, so a run resumed from
``last.ckpt`` (end of an epoch) reproduces the uninterrupted run's metrics exactly (on the
same hardware and software). ``deterministic=True`` also asks torch for deterministic
kernels. ``interrupted.ckpt`` is a copy of ``last.ckpt`` taken when the run stopped, so
resuming from it re-runs the interrupted epoch from its start (training, validation, logs)
and is exact too; the interrupted epoch's partial work is redone, never half-counted.

Validation and test run in ``eval()`` mode: dropout is off (the official SHD notebook
leaves its input dropout on; we don't).

Multi-GPU / multi-node: ``cfg.devices``, ``cfg.num_nodes``, ``cfg.strategy`` go to
Lightning's ``Trainer`` (e.g. ``strategy="ddp"``). Each process gets a disjoint shard of every
epoch's permutation (padded to equal length like ``DistributedSampler``); validation/test
records are gathered from all processes before the metrics are computed (with padding, up to
``world_size - 1`` items of a split can count twice).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import pickle
import re
import shutil
import signal
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.fabric.loggers.logger import rank_zero_experiment
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint
from lightning.pytorch.core.saving import save_hparams_to_yaml
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.plugins.io import TorchCheckpointIO
from lightning.pytorch.utilities.exceptions import SIGTERMException
from torch.utils.data import DataLoader, Dataset, Sampler

from elm_snn._io import atomic_path, atomic_write_text
from elm_snn.tasks import RunConfig, count_parameters, get_task
from elm_snn.tasks.base import NonFiniteLossError, TaskData
from elm_snn.tasks.sparse_input import with_input_format

__all__ = [
    "ELMSNNModule",
    "ELMSNNDataModule",
    "EpochSampler",
    "CheckpointMismatchError",
    "CheckpointError",
    "RunFolderError",
    "TrainingInterrupted",
    "load_checkpoint",
    "train",
    "evaluate",
    "default_run_dir",
    "NonFiniteLossError",
]

_STEP_SEED_MULT = 1_000_003


class CheckpointMismatchError(ValueError):
    """A checkpoint was made for another task/model/architecture than the one requested."""


class CheckpointError(ValueError):
    """A checkpoint is truncated, corrupt, not a checkpoint, or holds objects that could run
    code when unpickled (refused before anything runs)."""


class RunFolderError(FileExistsError):
    """``out_dir`` holds a finished or unfinished run and neither ``overwrite`` nor ``resume``
    was given (nothing in the folder is touched)."""


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped on SIGINT (Ctrl-C) or SIGTERM; the run can be resumed.

    Attributes:
        signal_name: ``"SIGINT"`` or ``"SIGTERM"``.
        exit_status: ``128 + signal number`` (130 for SIGINT, 143 for SIGTERM), what a shell
            reports for a process killed by that signal.
        out_dir: the run folder.
        checkpoint: the checkpoint to resume from (``interrupted.ckpt``), or ``None`` when
            the first epoch had not finished (``--resume`` then starts the run over).
    """

    def __init__(self, signum: int, out_dir: Path, checkpoint: Path | None, message: str) -> None:
        super().__init__(message)
        self.signal_name = signal.Signals(signum).name
        self.exit_status = 128 + int(signum)
        self.out_dir = out_dir
        self.checkpoint = checkpoint


class _Stop(BaseException):
    """Raised inside ``trainer.fit`` by our signal handler (not a KeyboardInterrupt, which
    Lightning turns into ``sys.exit(1)``)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


# ----------------------------------------------------------------------------- checkpoints
def _first_line(exc: BaseException, limit: int = 160) -> str:
    """The first sentence of an exception's message (torch's run on for paragraphs)."""
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    line = line.split(". ")[0].rstrip(".")
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _refused_global(exc: BaseException) -> str:
    """Name of the global that torch's weights-only unpickler refused, if it says."""
    match = re.search(r"GLOBAL (\S+) was not an allowed global|Unsupported class (\S+)", str(exc))
    if match:
        return f"it references {(match.group(1) or match.group(2)).rstrip('.')!r}"
    return _first_line(exc)


def _readable(path: Path) -> bool:
    try:
        _load_checked(path)
    except (OSError, CheckpointError):
        return False
    return True


def _previous_good(path: Path) -> str:
    """Message fragment naming the newest other readable checkpoint next to ``path``."""
    folder = path.parent
    others = [p for p in folder.glob("*.ckpt") if p.resolve() != path.resolve() and p.is_file()]
    others.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    for other in others:
        if _readable(other):
            return (
                f"; the previous good checkpoint is {str(other)!r} (resume from it with "
                f"--resume-from {other})"
            )
    return "; there is no other readable checkpoint in that folder"


def _load_checked(path: Path) -> dict[str, Any]:
    if path.stat().st_size == 0:
        raise CheckpointError(
            f"checkpoint: {str(path)!r} is empty (0 bytes): not a readable checkpoint"
        )
    try:
        # weights_only: tensors and plain containers only; a pickled global that is not on
        # torch's safe list (os.system, any class) is refused before it is looked up
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        if any(k in text for k in ("Unsupported global", "allowed global", "Unsupported class")):
            raise CheckpointError(
                f"checkpoint: {str(path)!r} refused: it holds Python objects that could run code "
                f"when loaded ({_refused_global(exc)}); nothing from it was run (elm-snn loads "
                f"only tensors and plain values from checkpoints)"
            ) from None
        raise CheckpointError(
            f"checkpoint: {str(path)!r} is not a readable checkpoint (truncated, corrupt or "
            f"another format: {_first_line(exc)})"
        ) from None
    except (RuntimeError, EOFError, ValueError, OSError, AttributeError, TypeError) as exc:
        raise CheckpointError(
            f"checkpoint: {str(path)!r} is not a readable checkpoint (truncated, corrupt or "
            f"another format: {type(exc).__name__}: {_first_line(exc)})"
        ) from None
    if not isinstance(ckpt, dict):
        raise CheckpointError(
            f"checkpoint: {str(path)!r} is not a readable checkpoint (holds a "
            f"{type(ckpt).__name__}, expected a dict)"
        )
    return ckpt


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load a checkpoint safely: ``torch.load(weights_only=True)`` on the CPU.

    Nothing in the file can run code: a pickle that references any callable or class
    outside torch's allow-list of tensor types is refused before anything is called.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        CheckpointError: empty, truncated or corrupt file, or one whose pickle would run code;
            the message names the newest other readable checkpoint in the same folder.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"checkpoint: {str(p)!r} does not exist")
    try:
        return _load_checked(p)
    except CheckpointError as exc:
        raise CheckpointError(str(exc) + _previous_good(p)) from None


class SafeCheckpointIO(TorchCheckpointIO):
    """Lightning checkpoint I/O of elm-snn: atomic saves, weights-only loads.

    Saves go to a temporary file in the checkpoint's own folder, are fsynced and renamed
    over the target (:func:`elm_snn._io.atomic_path`), so a full disk or a kill leaves the
    previous file intact; the file gets the umask's mode. Loads always go through
    :func:`load_checkpoint` (``weights_only=True``), whatever Lightning asks for.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None:
            raise TypeError("storage_options: not supported by elm-snn's checkpoint writer")
        with atomic_path(path) as tmp:
            torch.save(checkpoint, tmp)

    def load_checkpoint(
        self, path: Any, map_location: Any | None = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        return load_checkpoint(path)


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


# ----------------------------------------------------------------------------- callbacks
class _InterruptCheckpoint(Callback):
    """Write ``interrupted.ckpt`` when training stops on an exception or a signal.

    It holds the state at the *start* of the interrupted epoch (a copy of ``last.ckpt``, the
    end of the previous epoch), not a mid-epoch state: resuming from it re-runs the whole
    interrupted epoch (training and validation), which reproduces the uninterrupted run
    exactly (see the module docstring). Interrupted in the first epoch, nothing is written
    (``--resume`` starts the run over).
    """

    def __init__(self, path: Path, last: Path) -> None:
        self.path = path
        self.last = last

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exc: BaseException
    ) -> None:
        if isinstance(exc, NonFiniteLossError) or not trainer.is_global_zero:
            return  # NaN weights are not worth keeping
        if trainer.state.fn != "fit":
            return
        save_interrupted(self.last, self.path)


def save_interrupted(last: Path, target: Path) -> Path | None:
    """Copy ``last`` to ``target`` atomically (``None`` when ``last`` is missing or unreadable)."""
    if not last.is_file() or not _readable(last):
        with contextlib.suppress(FileNotFoundError):
            target.unlink()  # a stale one from an earlier interruption would mislead
        return None
    try:
        with atomic_path(target) as tmp:
            shutil.copyfile(last, tmp)
    except OSError as save_error:  # pragma: no cover - best effort on the way out
        warnings.warn(f"could not save {target}: {save_error}", stacklevel=2)
        return None
    return target


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    """Turn SIGINT and SIGTERM into :class:`_Stop` while training runs (main thread only).

    A second signal while the first is being handled (saving ``interrupted.ckpt``) gets the
    default behaviour at once: a second Ctrl-C or ``kill`` ends the process."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    fired: list[int] = []

    def handler(signum: int, frame: Any) -> None:
        if fired:  # already stopping: the user insists
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        fired.append(signum)
        raise _Stop(signum)

    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)


# ----------------------------------------------------------------------------- logs
class _AtomicExperimentWriter(ExperimentWriter):
    """Lightning's CSV/YAML log writer, but every save rewrites the file atomically (a kill
    or a full disk never leaves a half-written row)."""

    def log_hparams(self, params: dict[str, Any]) -> None:
        self.hparams.update(params)
        with atomic_path(os.path.join(self.log_dir, self.NAME_HPARAMS_FILE)) as tmp:
            save_hparams_to_yaml(tmp, self.hparams)

    def save(self) -> None:
        if not self.metrics:
            return
        import csv
        import io

        self._record_new_keys()
        path = Path(self.metrics_file_path)
        rows = list(csv.DictReader(io.StringIO(path.read_text()))) if path.is_file() else []
        # sorted column names, as Lightning's writer: the same header however the run was cut
        fields = sorted(set(self.metrics_keys).union(*rows))
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows + self.metrics)
        atomic_write_text(path, buf.getvalue())
        self.metrics = []


class _AtomicCSVLogger(CSVLogger):
    """:class:`CSVLogger` with :class:`_AtomicExperimentWriter`."""

    @property
    @rank_zero_experiment
    def experiment(self) -> _AtomicExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _AtomicExperimentWriter(log_dir=self.log_dir)
        return self._experiment


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


def _read_checkpoint_meta(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(checkpoint, hyperparameters)`` of a checkpoint written by :func:`train`."""
    ckpt = load_checkpoint(path)
    hp = ckpt.get("hyper_parameters")
    if not isinstance(hp, dict) or not isinstance(hp.get("config"), dict):
        raise CheckpointError(
            f"checkpoint: {str(path)!r} was not written by elm-snn's training engine "
            f"(no 'config' hyperparameters)"
        )
    return ckpt, hp


#: What a run folder holds; ``--overwrite`` removes exactly these (nothing else in the folder).
RUN_FILES = ("config.json", "metrics.json", "checkpoints", "logs", "plots")


def _launched_as_rank_zero() -> bool:
    """False in the processes that a multi-process launcher (Lightning's ``ddp``, SLURM,
    torchrun) starts for ranks other than 0: they re-run the same command while rank 0 is
    already writing the run folder, and must neither refuse nor clear it."""
    for key in ("RANK", "LOCAL_RANK", "NODE_RANK", "SLURM_PROCID"):
        value = os.environ.get(key, "0")
        if value.strip() not in ("", "0"):
            return False
    return True


def _check_run_folder(out: Path, resume: bool, overwrite: bool) -> None:
    """Refuse to start a new run over a finished or unfinished one (see :func:`train`)."""
    if resume or not out.exists() or not _launched_as_rank_zero():
        return
    if not out.is_dir():
        raise RunFolderError(f"out: {str(out)!r} exists and is not a folder")
    present = [name for name in RUN_FILES if (out / name).exists()]
    if not present:
        return
    if overwrite:
        for name in present:
            target = out / name
            if target.is_dir():
                shutil.rmtree(target)
            else:
                target.unlink()
        return
    if (out / "metrics.json").is_file():
        raise RunFolderError(
            f"out: {str(out)!r} holds a finished run (metrics.json); pass --overwrite to replace "
            f"it, --resume to continue it, or choose another --out"
        )
    raise RunFolderError(
        f"out: {str(out)!r} holds an unfinished run (no metrics.json yet); continue it with "
        f"--resume, start it over with --overwrite, or choose another --out"
    )


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
    # sorted, as Lightning's writer: a resumed run's log has the uninterrupted run's header
    fields = sorted(set().union(*old_rows, *new_rows))
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
    # train() itself refuses a folder holding another run (RunFolderError)
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
        logger=_AtomicCSVLogger(str(out), name="logs", version="") if fit else False,
        plugins=[SafeCheckpointIO()],
        default_root_dir=str(out),
        log_every_n_steps=10,
    )
    kwargs.update(overrides)
    return L.Trainer(**kwargs)


def _weights_only(method: Any) -> dict[str, bool]:
    """``{"weights_only": True}`` where this Lightning's ``fit``/``test`` take it (2.5+);
    older ones load through :class:`SafeCheckpointIO`, which is weights-only anyway."""
    import inspect

    return {"weights_only": True} if "weights_only" in inspect.signature(method).parameters else {}


def _interrupted(signum: int, out: Path) -> TrainingInterrupted:
    """The :class:`TrainingInterrupted` of a run stopped by ``signum``, after saving
    ``interrupted.ckpt`` (the start of the interrupted epoch, when one had finished)."""
    ckpt_dir = out / "checkpoints"
    saved = save_interrupted(ckpt_dir / "last.ckpt", ckpt_dir / "interrupted.ckpt")
    if saved is not None:
        how = f"resume with --resume (or --resume-from {saved})"
    else:
        how = "no epoch had finished: --resume starts the run over"
    name = signal.Signals(signum).name
    return TrainingInterrupted(
        signum, out, saved, f"training interrupted by {name} in {str(out)!r}; {how}"
    )


def train(
    cfg: RunConfig,
    out_dir: str | os.PathLike | None = None,
    *,
    resume: bool = False,
    resume_from: str | os.PathLike | None = None,
    overwrite: bool = False,
    callbacks: Sequence[Callback] = (),
    trainer_overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train ``cfg`` and evaluate the best checkpoint on the test split.

    Args:
        cfg: the run configuration (:func:`elm_snn.tasks.resolve_config`).
        out_dir: run folder (default :func:`default_run_dir` under ``./runs``).
        resume: continue from ``out_dir/checkpoints/last.ckpt`` (the last finished epoch); a
            run interrupted in its first epoch (``config.json`` but no checkpoint yet)
            starts over.
        resume_from: continue from this checkpoint instead (e.g. ``interrupted.ckpt``).
        overwrite: replace the run in ``out_dir`` (its :data:`RUN_FILES`); without it (or
            ``resume``/``resume_from``) a folder holding a run is refused.
        callbacks: extra Lightning callbacks.
        trainer_overrides: extra ``lightning.Trainer`` arguments (tests, debugging).

    Returns:
        The contents of ``metrics.json`` (see module docstring).

    Raises:
        FileNotFoundError: missing data folder/files, or ``resume`` without a run.
        RunFolderError: ``out_dir`` holds a run and neither ``overwrite`` nor a resume option
            was given.
        CheckpointError: the checkpoint to resume is truncated/corrupt or would run code.
        CheckpointMismatchError: the checkpoint to resume was made for another model.
        NonFiniteLossError: the training loss became NaN/inf.
        TrainingInterrupted: SIGINT or SIGTERM; ``interrupted.ckpt`` (when an epoch had
            finished) and ``last.ckpt`` resume the run exactly.
    """
    with _stop_on_signals():
        try:
            return _train(
                cfg,
                out_dir,
                resume=resume,
                resume_from=resume_from,
                overwrite=overwrite,
                callbacks=callbacks,
                trainer_overrides=trainer_overrides,
            )
        except _Stop as exc:  # outside fit/test: preparing data, writing the results
            out = Path(out_dir) if out_dir is not None else default_run_dir(cfg)
            raise _interrupted(exc.signum, out) from None


def _train(
    cfg: RunConfig,
    out_dir: str | os.PathLike | None,
    *,
    resume: bool,
    resume_from: str | os.PathLike | None,
    overwrite: bool,
    callbacks: Sequence[Callback],
    trainer_overrides: dict[str, Any] | None,
) -> dict[str, Any]:
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
            if not (out / "config.json").is_file():
                raise FileNotFoundError(
                    f"resume: no checkpoint {str(ckpt_path)!r} (nothing to resume in "
                    f"{str(out)!r}); run without --resume to start, or pass --out of an earlier "
                    f"run"
                )
            # interrupted in its first epoch: start over (the same run, the same result)
            try:
                saved_cfg = json.loads((out / "config.json").read_text())
            except ValueError as exc:
                raise RunFolderError(
                    f"resume: {str(out / 'config.json')!r} is not readable JSON ({exc}); "
                    f"start the run over with --overwrite"
                ) from None
            _check_compatible(saved_cfg, cfg, f"run {str(out)!r}")
            _check_run_folder(out, resume=False, overwrite=True)
            ckpt_path = None
    _check_run_folder(out, resume or resume_from is not None, overwrite)
    if ckpt_path is not None:
        _, hp = _read_checkpoint_meta(ckpt_path)
        _check_compatible(hp["config"], cfg, f"checkpoint {str(ckpt_path)!r}")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PermissionError(
            f"out: cannot create the run folder {str(out)!r} ({exc.strerror or exc})"
        ) from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise PermissionError(f"out: cannot write into {str(out)!r} (permission denied)")

    task = get_task(cfg.task)
    data_root = task.prepare_data(cfg)
    data = with_input_format(task.build_data(cfg, data_root), cfg)
    if not ckpt_path:
        atomic_write_text(out / "config.json", cfg.to_json() + "\n")
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    module = ELMSNNModule(cfg.to_dict(), data.num_inputs, data.num_outputs, data.num_steps)
    model_init = task.initialise_model(module.model, data, cfg)
    datamodule = ELMSNNDataModule(cfg, data)

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
    interrupted = ckpt_dir / "interrupted.ckpt"
    cbs: list[Callback] = [
        best_cb,
        last_cb,
        _InterruptCheckpoint(interrupted, ckpt_dir / "last.ckpt"),
    ]
    if cfg.early_stopping_patience is not None:
        cbs.append(EarlyStopping(monitor=monitor, mode=mode, patience=cfg.early_stopping_patience))
    cbs.extend(callbacks)
    csv_path = out / "logs" / "metrics.csv"
    earlier_log = csv_path.read_text() if ckpt_path is not None and csv_path.is_file() else None
    trainer = _make_trainer(cfg, out, cbs, fit=True, **(trainer_overrides or {}))
    try:
        with warnings.catch_warnings():
            _quiet_known_warnings()
            trainer.fit(
                module,
                datamodule=datamodule,
                ckpt_path=str(ckpt_path) if ckpt_path else None,
                **_weights_only(trainer.fit),
            )
            best = best_cb.best_model_path or None
            fit_log = csv_path.read_text() if csv_path.is_file() else None
            test_results = trainer.test(
                module,
                datamodule=datamodule,
                ckpt_path=best,
                verbose=False,
                **_weights_only(trainer.test),
            )
    except (_Stop, SIGTERMException) as exc:
        signum = exc.signum if isinstance(exc, _Stop) else int(signal.SIGTERM)
        if earlier_log is not None:
            _merge_logs(earlier_log, csv_path)
        raise _interrupted(signum, out) from None
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
        last_ckpt = load_checkpoint(last_file)
        epochs, steps = int(last_ckpt["epoch"]) + 1, int(last_ckpt["global_step"])
    best_score = best_cb.best_model_score
    if best_score is None and best:
        for state in load_checkpoint(best)["callbacks"].values():
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
        if earlier_log is not None:
            _merge_logs(earlier_log, csv_path)
        # the run counts as finished once metrics.json exists: it is written last
        atomic_write_text(prev, json.dumps(result, indent=2, sort_keys=True) + "\n")
        with contextlib.suppress(FileNotFoundError):
            interrupted.unlink()  # the run finished: nothing is left to resume from
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
    _, hp = _read_checkpoint_meta(path)
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
    data = with_input_format(task.build_data(cfg, task.prepare_data(cfg)), cfg)
    if (data.num_inputs, data.num_outputs) != (hp["num_inputs"], hp["num_outputs"]):
        raise CheckpointMismatchError(
            f"checkpoint {str(path)!r}: model has {hp['num_inputs']} inputs / "
            f"{hp['num_outputs']} outputs but the data have {data.num_inputs} / "
            f"{data.num_outputs}"
        )
    # not load_from_checkpoint: nothing in the file is unpickled beyond tensors and plain values
    module = ELMSNNModule.from_checkpoint(path)
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
