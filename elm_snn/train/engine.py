"""Training and evaluation engine on PyTorch Lightning.

:func:`train` runs one configuration and writes a run folder::

    OUT/
      config.json        resolved RunConfig
      metrics.json       task, model, bin_size_ms, num_parameters, seed, wall_seconds,
                         best validation metric and the test metrics (test_accuracy, or
                         test_auc / test_soma_rmse_mv / ...), git_commit (of the package's
                         checkout when the run started, "-dirty" with uncommitted
                         changes; None outside git); written last: a folder with
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
unless ``overwrite`` or a resume option is given; ``overwrite`` deletes only the files a run
writes, only in a folder a run made (marker ``.elm-snn-run``). While :func:`train` runs, the
folder is locked (``.elm-snn.lock``, :func:`elm_snn._locks.folder_lock`): a second
:func:`train` into it raises :class:`FolderLockedError`.

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

The pieces live beside this module and are re-exported here: checkpoints
(:mod:`elm_snn.train.checkpoints`), signals and ``interrupted.ckpt``
(:mod:`elm_snn.train.interrupts`), run folder and logs (:mod:`elm_snn.train.run_folder`),
the Lightning sampler/data module/module (:mod:`elm_snn.train.modules`).

Multi-GPU / multi-node: ``cfg.devices``, ``cfg.num_nodes``, ``cfg.strategy`` go to
Lightning's ``Trainer`` (e.g. ``strategy="ddp"``). Each process gets a disjoint shard of every
epoch's permutation (padded to equal length like ``DistributedSampler``); validation/test
records are gathered from all processes before the metrics are computed (with padding, up to
``world_size - 1`` items of a split can count twice).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint
from lightning.pytorch.utilities.exceptions import SIGTERMException

from elm_snn._io import atomic_write_text
from elm_snn._locks import FolderLockedError, folder_lock
from elm_snn.tasks import RunConfig, count_parameters, get_task
from elm_snn.tasks.base import NonFiniteLossError
from elm_snn.train.checkpoints import (
    CheckpointError,
    CheckpointMismatchError,
    SafeCheckpointIO,
    _check_compatible,
    _read_checkpoint_meta,
    load_checkpoint,
)
from elm_snn.train.interrupts import (
    TrainingInterrupted,
    _InterruptCheckpoint,
    _interrupted,
    _Stop,
    _stop_on_signals,
    save_interrupted,
)
from elm_snn.train.modules import ELMSNNDataModule, ELMSNNModule, EpochSampler
from elm_snn.train.provenance import git_commit
from elm_snn.train.quiet import quiet_known_warnings
from elm_snn.train.run_folder import (
    RUN_FILES,
    RUN_MARKER,
    RunFolderError,
    _AtomicCSVLogger,
    _check_run_folder,
    _launched_as_rank_zero,
    _merge_logs,
    _plot_training,
    default_run_dir,
    mark_run_folder,
)

__all__ = [
    "ELMSNNModule",
    "ELMSNNDataModule",
    "EpochSampler",
    "CheckpointMismatchError",
    "CheckpointError",
    "RunFolderError",
    "FolderLockedError",
    "TrainingInterrupted",
    "load_checkpoint",
    "train",
    "evaluate",
    "default_run_dir",
    "NonFiniteLossError",
    "RUN_FILES",
    "SafeCheckpointIO",
    "save_interrupted",
]


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
        overwrite: replace the run in ``out_dir``: delete the files a run writes (only in a
            folder a run made; other files are kept); without it (or
            ``resume``/``resume_from``) a folder holding a run is refused.
        callbacks: extra Lightning callbacks.
        trainer_overrides: extra ``lightning.Trainer`` arguments (tests, debugging).

    Returns:
        The contents of ``metrics.json`` (see module docstring).

    Raises:
        FileNotFoundError: missing data folder/files, or ``resume`` without a run.
        RunFolderError: ``out_dir`` holds a run and neither ``overwrite`` nor a resume option
            was given, or holds files a run writes but was not made by a run.
        FolderLockedError: another process is writing ``out_dir``.
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


def _checkpoint_to_resume(
    cfg: RunConfig,
    out: Path,
    resume: bool,
    resume_from: str | os.PathLike | None,
    overwrite: bool,
) -> Path | None:
    """The checkpoint a resumed run continues from (``None``: start from scratch, also for a
    run interrupted in its first epoch), after the folder and compatibility checks."""
    ckpt_path: Path | None = None
    if resume_from is not None:
        ckpt_path = Path(resume_from)
    elif resume:
        ckpt_path = out / "checkpoints" / "last.ckpt"
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
    return ckpt_path


def _make_run_folder(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PermissionError(
            f"out: cannot create the run folder {str(out)!r} ({exc.strerror or exc})"
        ) from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise PermissionError(f"out: cannot write into {str(out)!r} (permission denied)")


def _run_callbacks(
    cfg: RunConfig, task: Any, ckpt_dir: Path, extra: Sequence[Callback]
) -> tuple[ModelCheckpoint, list[Callback]]:
    """``(best_checkpoint_callback, all_callbacks)``: best and last checkpoints, the
    interrupt checkpoint, early stopping when asked, then ``extra``."""
    best_cb = ModelCheckpoint(
        dirpath=ckpt_dir,
        filename="best-epoch{epoch:03d}",
        auto_insert_metric_name=False,
        monitor=task.monitor,
        mode=task.monitor_mode,
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
        _InterruptCheckpoint(ckpt_dir / "interrupted.ckpt", ckpt_dir / "last.ckpt"),
    ]
    if cfg.early_stopping_patience is not None:
        cbs.append(
            EarlyStopping(
                monitor=task.monitor, mode=task.monitor_mode, patience=cfg.early_stopping_patience
            )
        )
    cbs.extend(extra)
    return best_cb, cbs


def _progress(
    trainer: L.Trainer, ckpt_dir: Path, best_cb: ModelCheckpoint, best: str | None, monitor: str
) -> tuple[int, int, Any]:
    """``(epochs, global_steps, best_score)`` of the finished fit, read from the checkpoint
    files (with ddp_spawn this process never ran the loops)."""
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
    return epochs, steps, best_score


def _add_run_totals(result: dict[str, Any], previous: Path, resumed: bool) -> None:
    """``wall_seconds_total`` / ``cpu_seconds_total``: a resumed run reports the time of all
    its parts (read from the ``metrics.json`` of the earlier part, if any)."""
    if resumed and previous.is_file():
        try:
            earlier = json.loads(previous.read_text())
            for key in ("wall_seconds", "cpu_seconds"):
                before = earlier.get(f"{key}_total")
                if before is not None:
                    result[f"{key}_total"] = round(before + result[key], 3)
        except (ValueError, OSError):
            pass
    result.setdefault("wall_seconds_total", result["wall_seconds"])
    result.setdefault("cpu_seconds_total", result["cpu_seconds"])


def _fit_and_test(
    trainer: L.Trainer,
    module: ELMSNNModule,
    datamodule: ELMSNNDataModule,
    ckpt_path: Path | None,
    best_cb: ModelCheckpoint,
    out: Path,
    earlier_log: str | None,
    monitor: str,
) -> tuple[str | None, list[dict[str, Any]]]:
    """Fit (from ``ckpt_path`` if resuming), then test the best checkpoint:
    ``(best_checkpoint_path, test_results)``. A signal becomes :class:`TrainingInterrupted`."""
    csv_path = out / "logs" / "metrics.csv"
    try:
        with warnings.catch_warnings():
            quiet_known_warnings()
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
    return best, test_results


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
    commit = git_commit()  # the code this run starts with
    start = time.perf_counter()
    cpu_start = time.process_time()
    out = Path(out_dir) if out_dir is not None else default_run_dir(cfg)
    run = functools.partial(
        _train_in_folder,
        cfg,
        out,
        resume,
        resume_from,
        overwrite,
        callbacks,
        trainer_overrides,
        commit,
        start,
        cpu_start,
    )
    if not _launched_as_rank_zero():  # rank 0 holds the folder's lock for all ranks
        _make_run_folder(out)
        return run()
    created = not out.exists()
    _make_run_folder(out)
    started = False
    try:
        with folder_lock(out, "out"):
            try:
                return run()
            except BaseException:
                started = (out / "config.json").is_file() or (out / "checkpoints").is_dir()
                if not started:  # refused before it began: leave nothing behind
                    with contextlib.suppress(FileNotFoundError):
                        (out / RUN_MARKER).unlink()
                raise
    except BaseException:
        if created and not started:
            with contextlib.suppress(OSError):
                out.rmdir()  # only if empty
        raise


def _train_in_folder(
    cfg: RunConfig,
    out: Path,
    resume: bool,
    resume_from: str | os.PathLike | None,
    overwrite: bool,
    callbacks: Sequence[Callback],
    trainer_overrides: dict[str, Any] | None,
    commit: str | None,
    start: float,
    cpu_start: float,
) -> dict[str, Any]:
    """:func:`train` once the run folder is this process's (locked, on rank 0)."""
    ckpt_dir = out / "checkpoints"
    ckpt_path = _checkpoint_to_resume(cfg, out, resume, resume_from, overwrite)
    if _launched_as_rank_zero():
        mark_run_folder(out)

    task = get_task(cfg.task)
    data_root = task.prepare_data(cfg)
    data = task.build_data(cfg, data_root)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    module = ELMSNNModule(cfg.to_dict(), data.num_inputs, data.num_outputs, data.num_steps)
    model_init = task.initialise_model(module.model, data, cfg)
    datamodule = ELMSNNDataModule(cfg, data)
    if not ckpt_path and _launched_as_rank_zero():
        # written once the data and the model are built: a run refused before it begins
        # leaves no config.json to be taken for an unfinished run
        atomic_write_text(out / "config.json", cfg.to_json() + "\n")

    monitor = task.monitor
    best_cb, cbs = _run_callbacks(cfg, task, ckpt_dir, callbacks)
    csv_path = out / "logs" / "metrics.csv"
    earlier_log = csv_path.read_text() if ckpt_path is not None and csv_path.is_file() else None
    trainer = _make_trainer(cfg, out, cbs, fit=True, **(trainer_overrides or {}))
    best, test_results = _fit_and_test(
        trainer, module, datamodule, ckpt_path, best_cb, out, earlier_log, monitor
    )
    test_metrics = {k: float(v) for k, v in (test_results[0] if test_results else {}).items()}
    epochs, steps, best_score = _progress(trainer, ckpt_dir, best_cb, best, monitor)
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
        result["git_commit"] = commit
        prev = out / "metrics.json"
        _add_run_totals(result, prev, resumed=ckpt_path is not None)
        if earlier_log is not None:
            _merge_logs(earlier_log, csv_path)
        # the run counts as finished once metrics.json exists: it is written last
        atomic_write_text(prev, json.dumps(result, indent=2, sort_keys=True) + "\n")
        with contextlib.suppress(FileNotFoundError):
            (ckpt_dir / "interrupted.ckpt").unlink()  # finished: nothing left to resume from
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
    # built (and its stored config checked against its weights) before any data are read
    # not load_from_checkpoint: nothing in the file is unpickled beyond tensors and plain values
    module = ELMSNNModule.from_checkpoint(path)
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
    dm = ELMSNNDataModule(cfg, data)
    trainer = _make_trainer(cfg, path.parent, [], fit=False)
    with warnings.catch_warnings():
        quiet_known_warnings()
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
