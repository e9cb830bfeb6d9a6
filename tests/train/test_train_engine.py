"""Training engine: resume determinism, NaN stop, clear errors, evaluation, DDP."""

from __future__ import annotations

import csv
import json

import pytest
import torch
from lightning.pytorch.callbacks import Callback

from elm_snn.tasks import NonFiniteLossError
from elm_snn.tasks.shd import SHDAddingTask
from elm_snn.train.engine import (
    CheckpointMismatchError,
    EpochSampler,
    evaluate,
    train,
)
from tests.tiny import tiny_config


class _Crash(Callback):
    """Simulate a crash in the middle of epoch ``epoch`` (after its second batch)."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.current_epoch == self.epoch and batch_idx == 1:
            raise RuntimeError("simulated crash")


def _log_rows(run):
    with open(run / "logs" / "metrics.csv", newline="") as fh:
        return [{k: v for k, v in row.items() if v} for row in csv.DictReader(fh)]


def _state(path):
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


def test_resume_reproduces_uninterrupted_run(shd_root, tmp_path):
    # dropout on, fresh pairs every epoch, cosine schedule: all must resume exactly
    cfg = tiny_config("shd-adding", "elm", shd_root, max_epochs=3, input_dropout=0.3)
    full = train(cfg, tmp_path / "full")
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(cfg, tmp_path / "cut", callbacks=[_Crash(epoch=1)])
    cut = tmp_path / "cut" / "checkpoints"
    assert (cut / "last.ckpt").is_file() and (cut / "interrupted.ckpt").is_file()
    assert torch.load(cut / "last.ckpt", weights_only=True)["epoch"] == 0
    resumed = train(cfg, tmp_path / "cut", resume=True)
    for key in ("test_accuracy", "test_loss", "best_val_accuracy", "global_steps"):
        assert resumed[key] == full[key], key
    # the log of the resumed run holds every epoch, the interrupted part included
    assert _log_rows(tmp_path / "cut") == _log_rows(tmp_path / "full")
    a = _state(tmp_path / "full" / "checkpoints" / "last.ckpt")
    b = _state(cut / "last.ckpt")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_nan_loss_stops_with_clear_error(shd_root, tmp_path, monkeypatch):
    def nan_loss(self, model, batch, cfg):
        x, y = batch
        return model(x)[-1].sum() * float("nan"), int(y.shape[0])

    monkeypatch.setattr(SHDAddingTask, "training_loss", nan_loss)
    cfg = tiny_config("shd-adding", "elm", shd_root)
    with pytest.raises(NonFiniteLossError, match=r"loss is nan at epoch 0, step 0.*learning rate"):
        train(cfg, tmp_path / "run")
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_missing_data_folder(tmp_path):
    cfg = tiny_config("shd", "elm", tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="does not exist.*--synthetic"):
        train(cfg, tmp_path / "run")
    (tmp_path / "empty").mkdir()
    cfg = tiny_config("shd-adding", "elm", tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="shd_train.h5"):
        train(cfg, tmp_path / "run")
    cfg = tiny_config("neuronio", "lif", tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="NeuronIO"):
        train(cfg, tmp_path / "run")


def test_resume_without_checkpoint(shd_root, tmp_path):
    cfg = tiny_config("shd", "elm", shd_root)
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        train(cfg, tmp_path / "run", resume=True)


def test_checkpoint_of_another_model(shd_root, tmp_path):
    cfg = tiny_config("shd", "elm", shd_root)
    result = train(cfg, tmp_path / "run")
    with pytest.raises(
        CheckpointMismatchError, match="model: checkpoint 'elm' vs requested 'lstm'"
    ):
        train(tiny_config("shd", "lstm", shd_root), tmp_path / "run", resume=True)
    with pytest.raises(CheckpointMismatchError, match="num_memory"):
        train(tiny_config("shd", "elm", shd_root, num_memory=7), tmp_path / "run", resume=True)
    best = result["best_checkpoint"]
    with pytest.raises(CheckpointMismatchError, match="holds a 'elm' model"):
        evaluate(best, expect_model="lstm")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        bad = tmp_path / "bad.ckpt"
        bad.write_bytes(b"not a checkpoint")
        evaluate(bad)
    # evaluating the best checkpoint reproduces the run's test metrics
    ev = evaluate(best, out_json=tmp_path / "eval.json")
    assert ev["test_accuracy"] == result["test_accuracy"]
    assert json.loads((tmp_path / "eval.json").read_text())["model"] == "elm"


def test_epoch_sampler_is_a_function_of_seed_and_epoch():
    data = list(range(10))
    s = EpochSampler(data, shuffle=True, seed=3)
    s.set_epoch(2)
    first = list(s)
    s.set_epoch(0)
    s.set_epoch(2)
    assert list(s) == first and sorted(first) == data
    shards = [
        list(EpochSampler(data, shuffle=True, seed=3, num_replicas=3, rank=r)) for r in range(3)
    ]
    assert all(len(x) == 4 for x in shards)  # padded to 12
    assert set().union(*shards) == set(data)
    with pytest.raises(ValueError, match="rank"):
        EpochSampler(data, shuffle=False, num_replicas=2, rank=2)


@pytest.mark.slow
def test_ddp_two_cpu_processes(shd_root, tmp_path):
    cfg = tiny_config(
        "shd-adding",
        "elm",
        shd_root,
        strategy="ddp_spawn",
        devices=2,
        accelerator="cpu",
        max_epochs=2,
    )
    result = train(cfg, tmp_path / "run")
    # 32 pairs per epoch over 2 processes with batch 8: 2 steps per epoch and process
    assert result["global_steps"] == 4
    assert 0.0 <= result["test_accuracy"] <= 1.0
    assert result["best_val_accuracy"] is not None and result["epochs_trained"] == 2
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["model"] == "elm"
    rows = _log_rows(tmp_path / "run")  # fit and test rows, though test ran in new processes
    assert any("val_accuracy" in r for r in rows) and any("test_accuracy" in r for r in rows)
    assert (tmp_path / "run" / "plots" / "training.png").is_file()
