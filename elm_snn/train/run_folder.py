"""The run folder of :func:`elm_snn.train.engine.train`: refusing to overwrite a run, the
atomic CSV logs, merging the logs of a resumed run, the training plot."""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path
from typing import Any

from lightning.fabric.loggers.logger import rank_zero_experiment
from lightning.pytorch.core.saving import save_hparams_to_yaml
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter

from elm_snn._io import atomic_path, atomic_write_text
from elm_snn.tasks.config import RunConfig

__all__ = [
    "RunFolderError",
    "default_run_dir",
    "RUN_FILES",
]


class RunFolderError(FileExistsError):
    """``out_dir`` holds a finished or unfinished run and neither ``overwrite`` nor ``resume``
    was given (nothing in the folder is touched)."""


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


def default_run_dir(cfg: RunConfig, root: str | os.PathLike = "runs") -> Path:
    """``runs/<task>-<model>-bin<B>ms-<preset>-seed<S>`` under ``root``."""
    return Path(root) / (
        f"{cfg.task}-{cfg.model}-bin{cfg.bin_size_ms:g}ms-{cfg.preset}-seed{cfg.seed}"
    )


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
