"""The run folder of :func:`elm_snn.train.engine.train`: refusing to overwrite a run, the
atomic CSV logs, merging the logs of a resumed run, the training plot."""

from __future__ import annotations

import contextlib
import json
import os
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
    "RUN_MARKER",
    "mark_run_folder",
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

#: Marker file that :func:`train` writes into every run folder it makes: ``--overwrite``
#: deletes files only in a folder holding it (or, for folders written before the marker
#: existed, a ``config.json`` of a run).
RUN_MARKER = ".elm-snn-run"

#: The files a run writes (glob patterns relative to the run folder); ``--overwrite`` removes
#: these and nothing else. The ``.NAME.*`` patterns are temporary files of atomic writes that
#: a SIGKILL may leave behind.
_RUN_WRITES = (
    "config.json",
    ".config.json.*",
    "metrics.json",
    ".metrics.json.*",
    "checkpoints/*.ckpt",
    "checkpoints/.*.ckpt",
    "logs/metrics.csv",
    "logs/.metrics.csv.*",
    "logs/hparams.yaml",
    "logs/.hparams.yaml.*",
    "plots/training.png",
    "plots/.training.png.*",
)


def _launched_as_rank_zero() -> bool:
    """False in the processes that a multi-process launcher (Lightning's ``ddp``, SLURM,
    torchrun) starts for ranks other than 0: they re-run the same command while rank 0 is
    already writing the run folder, and must neither refuse nor clear it."""
    for key in ("RANK", "LOCAL_RANK", "NODE_RANK", "SLURM_PROCID"):
        value = os.environ.get(key, "0")
        if value.strip() not in ("", "0"):
            return False
    return True


def _made_by_a_run(out: Path) -> bool:
    """Whether ``out`` is a run folder: it holds :data:`RUN_MARKER`, or (folders of
    versions before the marker) a ``config.json`` with a task and a model."""
    if (out / RUN_MARKER).is_file():
        return True
    try:
        cfg = json.loads((out / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(cfg, dict) and "task" in cfg and "model" in cfg


def _files_a_run_wrote(out: Path) -> list[Path]:
    """The files in ``out`` that a run writes (:data:`_RUN_WRITES`), sorted."""
    found: set[Path] = set()
    for pattern in _RUN_WRITES:
        found.update(p for p in out.glob(pattern) if p.is_file() or p.is_symlink())
    return sorted(found)


def _other_files(out: Path) -> list[str]:
    """Files under the run's sub-folders that a run did not write (kept by --overwrite)."""
    kept = []
    for sub in ("checkpoints", "logs", "plots"):
        folder = out / sub
        if folder.is_dir():
            kept += [str(p.relative_to(out)) for p in sorted(folder.rglob("*"))]
    return kept


def mark_run_folder(out: Path) -> bool:
    """Write :data:`RUN_MARKER` into ``out`` if absent; True if this call wrote it."""
    marker = out / RUN_MARKER
    if marker.is_file():
        return False
    atomic_write_text(
        marker,
        "This folder was made by `elm-snn train`. `--overwrite` deletes in it only the files "
        "a run writes (config.json, metrics.json, checkpoints/*.ckpt, logs/metrics.csv, "
        "logs/hparams.yaml, plots/training.png); everything else is kept.\n",
    )
    return True


def _names(paths: list[str], limit: int = 5) -> str:
    shown = ", ".join(paths[:limit])
    return shown + (f" and {len(paths) - limit} more" if len(paths) > limit else "")


def _check_run_folder(out: Path, resume: bool, overwrite: bool) -> None:
    """Refuse to start a new run over a finished or unfinished one (see :func:`train`);
    with ``overwrite``, remove what a run wrote (only in a run's folder) and keep the rest."""
    if resume or not out.exists() or not _launched_as_rank_zero():
        return
    if not out.is_dir():
        raise RunFolderError(f"out: {str(out)!r} exists and is not a folder")
    written = _files_a_run_wrote(out)
    if not written:
        return  # nothing a run writes: other files (logs/notes.txt, ...) stay as they are
    rel = [str(p.relative_to(out)) for p in written]
    if not _made_by_a_run(out):
        raise RunFolderError(
            f"out: {str(out)!r} was not made by an elm-snn run (no {RUN_MARKER} marker, no "
            f"run's config.json) but holds files a run would write ({_names(rel)}); elm-snn "
            f"deletes only files it wrote, even with --overwrite: move them away or choose "
            f"another --out"
        )
    if overwrite:
        for path in written:
            path.unlink()
        for sub in ("checkpoints", "logs", "plots"):
            with contextlib.suppress(OSError):  # only if empty: other files are kept
                (out / sub).rmdir()
        kept = _other_files(out)
        if kept:
            warnings.warn(
                f"out: --overwrite removed the previous run from {str(out)!r} and kept the "
                f"files it did not write: {_names(kept)}",
                stacklevel=3,
            )
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
