"""``input_format="sparse"`` trains like dense frames (SHD tasks, through the engine)."""

from __future__ import annotations

import pytest

from elm_snn.train.engine import train
from tests.tiny import tiny_config


@pytest.mark.parametrize(("task", "model"), [("shd-adding", "elm"), ("shd", "lstm")])
def test_sparse_input_trains_like_dense_frames(shd_root, tmp_path, task, model) -> None:
    """Without input dropout both formats see the same numbers: same metrics."""
    common = dict(input_dropout=0.0, max_epochs=1)
    dense = train(tiny_config(task, model, shd_root, **common), tmp_path / "dense")
    sparse = train(
        tiny_config(task, model, shd_root, input_format="sparse", **common), tmp_path / "sparse"
    )
    for key in ("test_accuracy", "best_val_accuracy", "global_steps"):
        assert sparse[key] == dense[key], key
    assert sparse["test_loss"] == pytest.approx(dense["test_loss"], rel=1e-5)


def test_sparse_input_with_dropout_runs(shd_root, tmp_path) -> None:
    cfg = tiny_config("shd-adding", "elm", shd_root, input_format="sparse", input_dropout=0.5)
    out = train(cfg, tmp_path / "run")
    assert out["global_steps"] > 0


def test_sparse_input_is_for_shd_tasks(neuronio_root) -> None:
    with pytest.raises(ValueError, match="input_format: 'sparse' is for the SHD tasks"):
        tiny_config("neuronio", "elm", neuronio_root, input_format="sparse")


def test_cli_input_format_flag_trains_and_evaluates(shd_root, tmp_path, capsys) -> None:
    import json

    from elm_snn.cli import main

    out = tmp_path / "run"
    args = ["train", "--task", "shd", "--model", "elm", "--bin-size", "50"]
    args += ["--data-root", str(shd_root), "--out", str(out), "--preset", "quick"]
    args += ["--max-epochs", "1", "--train-samples", "16", "--val-samples", "8"]
    args += ["--test-samples", "8", "--num-memory", "4", "--no-progress", "--accelerator", "cpu"]
    assert main([*args, "--input-format", "sparse"]) == 0
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["input_format"] == "sparse"
    printed = json.loads(capsys.readouterr().out)
    ckpt = out / "checkpoints" / "last.ckpt"
    assert main(["eval", "--checkpoint", str(ckpt), "--out", str(tmp_path / "e.json")]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["test_accuracy"] == printed["test_accuracy"]
