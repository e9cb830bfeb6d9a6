"""Checkpoints: nothing in one runs code; truncated ones are refused naming the previous good
one; a failed write (full disk) leaves the previous file intact; resume is exact."""

from __future__ import annotations

import csv
import errno
import json

import pytest
import torch
from lightning.pytorch.callbacks import Callback

import elm_snn.train.engine as engine
from elm_snn.cli import main
from elm_snn.train.engine import (
    CheckpointError,
    ELMSNNModule,
    evaluate,
    load_checkpoint,
    train,
)
from tests.tiny import tiny_config


class _Marker:
    """Pickles as a call that creates ``path``: what a tampered checkpoint would do."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return exec, (f"open({self.path!r}, 'w').write('ran')",)


def _tamper(src, dst, marker):
    ckpt = torch.load(src, map_location="cpu", weights_only=True)
    ckpt["hyper_parameters"]["payload"] = _Marker(marker)
    torch.save(ckpt, dst)


class _Crash(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.current_epoch == self.epoch and batch_idx == 1:
            raise RuntimeError("simulated crash")


def _rows(run):
    with open(run / "logs" / "metrics.csv", newline="") as fh:
        return [{k: v for k, v in row.items() if v} for row in csv.DictReader(fh)]


@pytest.fixture
def finished(shd_root, tmp_path):
    cfg = tiny_config("shd-adding", "elm", shd_root, max_epochs=2)
    return cfg, train(cfg, tmp_path / "run"), tmp_path / "run"


@pytest.mark.filterwarnings("ignore:You defined a `validation_step`")
def test_code_in_a_checkpoint_never_runs(finished, tmp_path, capsys):
    cfg, result, run = finished
    marker = tmp_path / "marker"
    evil = tmp_path / "evil.ckpt"
    _tamper(run / "checkpoints" / "last.ckpt", evil, marker)
    # elm-snn eval
    assert main(["eval", "--checkpoint", str(evil)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "refused" in err[0] and "builtins.exec" in err[0]
    # the library entry points
    for call in (
        lambda: evaluate(evil),
        lambda: load_checkpoint(evil),
        lambda: ELMSNNModule.from_checkpoint(evil),
        lambda: train(cfg, run, resume_from=evil),
    ):
        with pytest.raises(CheckpointError, match="could run code"):
            call()
    # Lightning's loader: weights-only, weights_only=False refused
    with pytest.raises(Exception, match="Weights only load failed"):
        ELMSNNModule.load_from_checkpoint(evil, map_location="cpu")
    with pytest.raises(ValueError, match="weights_only: elm-snn checkpoints are loaded"):
        ELMSNNModule.load_from_checkpoint(evil, weights_only=False)
    # train --resume with a tampered last.ckpt, and Lightning's own fit(ckpt_path=...)
    _tamper(run / "checkpoints" / "last.ckpt", run / "checkpoints" / "last.ckpt", marker)
    with pytest.raises(CheckpointError, match="previous good checkpoint is .*best-epoch"):
        train(cfg, run, resume=True)
    trainer = engine._make_trainer(cfg, tmp_path / "other", [], fit=True)
    module = ELMSNNModule(cfg.to_dict(), 700, 19, 40)
    with pytest.raises(CheckpointError, match="could run code"):
        trainer.fit(module, ckpt_path=str(evil))
    assert not marker.exists()


@pytest.mark.parametrize("damage", ["truncated", "zero-bytes", "garbage"])
def test_a_damaged_checkpoint_is_refused_naming_the_previous_good_one(finished, damage, capsys):
    cfg, result, run = finished
    last = run / "checkpoints" / "last.ckpt"
    metrics = (run / "metrics.json").read_bytes()
    data = last.read_bytes()
    last.write_bytes(
        {"truncated": data[: len(data) // 2], "zero-bytes": b"", "garbage": b"x" * 99}[damage]
    )
    with pytest.raises(
        CheckpointError,
        match=r"not a readable checkpoint.*previous good checkpoint is '.*best-epoch\d+\.ckpt'",
    ):
        train(cfg, run, resume=True)
    args = ["train", "--task", "shd-adding", "--model", "elm", "--out", str(run), "--resume"]
    args += [
        "--data-root",
        cfg.data_root,
        "--preset",
        "quick",
        "--bin-size",
        "50",
        "--num-memory",
        "6",
    ]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--resume-from" in err[0] and "best-epoch" in err[0]
    assert (run / "metrics.json").read_bytes() == metrics


def test_a_failed_checkpoint_write_keeps_the_previous_file(shd_root, tmp_path, monkeypatch):
    cfg = tiny_config("shd-adding", "elm", shd_root, max_epochs=3)
    full = train(cfg, tmp_path / "full")
    saves = []
    real_save = torch.save

    def disk_full(obj, f, *args, **kwargs):
        saves.append(str(f))
        if len(saves) > 2:  # the epoch-0 best and last checkpoints go through
            with open(f, "wb") as fh:
                fh.write(b"partial")  # what a full disk leaves in the temporary file
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(OSError, match="No space left"):
        train(cfg, tmp_path / "cut")
    monkeypatch.setattr(torch, "save", real_save)
    ckpts = tmp_path / "cut" / "checkpoints"
    assert not [p for p in ckpts.iterdir() if p.name.startswith(".")]  # no temporary files
    assert load_checkpoint(ckpts / "last.ckpt")["epoch"] == 0  # the previous good state
    assert load_checkpoint(ckpts / "interrupted.ckpt")["epoch"] == 0
    resumed = train(cfg, tmp_path / "cut", resume_from=ckpts / "interrupted.ckpt")
    for key in ("test_accuracy", "test_loss", "best_val_accuracy", "global_steps"):
        assert resumed[key] == full[key], key


def test_resume_from_interrupted_checkpoint_is_exact(shd_root, tmp_path):
    cfg = tiny_config("shd-adding", "elm", shd_root, max_epochs=3, input_dropout=0.3)
    full = train(cfg, tmp_path / "full")
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(cfg, tmp_path / "cut", callbacks=[_Crash(epoch=1)])
    ckpts = tmp_path / "cut" / "checkpoints"
    interrupted = load_checkpoint(ckpts / "interrupted.ckpt")
    assert interrupted["epoch"] == 0  # the start of the interrupted epoch 1
    resumed = train(cfg, tmp_path / "cut", resume_from=ckpts / "interrupted.ckpt")
    for key in (
        "test_accuracy",
        "test_loss",
        "best_val_accuracy",
        "global_steps",
        "epochs_trained",
    ):
        assert resumed[key] == full[key], key
    assert resumed["best_checkpoint"].split("/")[-1] == full["best_checkpoint"].split("/")[-1]
    # every epoch's rows, the interrupted epoch's validation included
    rows = _rows(tmp_path / "cut")
    assert rows == _rows(tmp_path / "full")
    log = "logs/metrics.csv"
    assert (tmp_path / "cut" / log).read_text() == (tmp_path / "full" / log).read_text()
    assert [r["epoch"] for r in rows if "val_accuracy" in r] == ["0", "1", "2"]
    assert not (ckpts / "interrupted.ckpt").exists()  # finished: nothing left to resume
    a = load_checkpoint(tmp_path / "full" / "checkpoints" / "last.ckpt")["state_dict"]
    b = load_checkpoint(ckpts / "last.ckpt")["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_interrupted_in_the_first_epoch_resume_starts_over(shd_root, tmp_path):
    cfg = tiny_config("shd-adding", "elm", shd_root, max_epochs=2)
    full = train(cfg, tmp_path / "full")
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(cfg, tmp_path / "cut", callbacks=[_Crash(epoch=0)])
    assert not (tmp_path / "cut" / "checkpoints" / "interrupted.ckpt").exists()
    resumed = train(cfg, tmp_path / "cut", resume=True)
    assert resumed["test_loss"] == full["test_loss"]
    assert _rows(tmp_path / "cut") == _rows(tmp_path / "full")


def test_eval_cli_accepts_a_good_checkpoint(finished, capsys):
    cfg, result, run = finished
    assert main(["eval", "--checkpoint", result["best_checkpoint"], "--accelerator", "cpu"]) == 0
    assert json.loads(capsys.readouterr().out)["test_accuracy"] == result["test_accuracy"]
