"""Every task/model pair trains a few steps on tiny data and writes a complete metrics.json."""

from __future__ import annotations

import json
import math

import pytest

from elm_snn.tasks import NEURONIO_MODELS, SHD_MODELS, get_task
from elm_snn.train.engine import train
from tests.tiny import tiny_config

REQUIRED = {"task", "model", "bin_size_ms", "num_parameters", "seed", "wall_seconds"}


def _matrix(models):
    """The ELM runs in every test session; the other models are marked slow (CI runs them)."""
    return [m if m == "elm" else pytest.param(m, marks=pytest.mark.slow) for m in models]


@pytest.mark.parametrize("task", ["shd", "shd-adding"])
@pytest.mark.parametrize("model", _matrix(SHD_MODELS))
def test_shd_tasks_train(task, model, shd_root, tmp_path):
    cfg = tiny_config(task, model, shd_root)
    out = tmp_path / "run"
    result = train(cfg, out)
    saved = json.loads((out / "metrics.json").read_text())
    assert REQUIRED <= set(saved)
    assert saved["task"] == task and saved["model"] == model and saved["bin_size_ms"] == 50.0
    assert 0.0 <= saved["test_accuracy"] <= 1.0
    assert saved["num_parameters"] > 0 and saved["global_steps"] == 4  # 32 samples / batch 8
    assert result["test_accuracy"] == saved["test_accuracy"]
    assert json.loads((out / "config.json").read_text())["model"] == model
    assert (out / "checkpoints" / "last.ckpt").is_file()
    assert (out / "logs" / "metrics.csv").is_file()
    assert (out / "plots" / "training.png").stat().st_size > 1000


@pytest.mark.parametrize("model", _matrix(NEURONIO_MODELS))
def test_neuronio_trains(model, neuronio_root, tmp_path):
    cfg = tiny_config("neuronio", model, neuronio_root)
    out = tmp_path / "run"
    result = train(cfg, out)
    assert REQUIRED <= set(result)
    for key in ("test_auc", "test_soma_rmse_mv", "test_tp_at_1pct_fp"):
        assert key in result
    assert 0.0 <= result["test_auc"] <= 1.0
    assert math.isfinite(result["test_soma_rmse_mv"]) and result["test_soma_rmse_mv"] > 0
    assert result["bin_size_ms"] == 1.0
    assert result["best_val_loss"] is not None


def test_neuronio_tcn_takes_its_sizes_from_the_config(neuronio_root, tmp_path):
    cfg = tiny_config("neuronio", "tcn", neuronio_root, tcn_depth=2, tcn_width=4)
    cfg = cfg.replace(tcn_kernel_first=5, tcn_kernel=3)
    out = tmp_path / "run"
    result = train(cfg, out)
    assert 0.0 <= result["test_auc"] <= 1.0 and result["test_soma_rmse_mv"] > 0
    # 12 inputs (6 segments): convolutions 12x5 -> 4 and 4x3 -> 4, two batch norms, 2 heads
    assert result["num_parameters"] == (12 * 5 * 4 + 4) + (4 * 3 * 4 + 4) + 2 * 8 + 2 * 5
    assert json.loads((out / "config.json").read_text())["tcn_kernel_first"] == 5


def test_task_registry():
    assert get_task("shd-adding").chance == pytest.approx(1 / 19)
    assert get_task("shd").primary_metric == "test_accuracy"
    assert get_task("neuronio").primary_metric == "test_auc"
    with pytest.raises(ValueError, match="task"):
        get_task("mnist")


@pytest.mark.slow
def test_synthetic_spoken_digits_end_to_end(tmp_path):
    """--synthetic generates the offline spoken digits once, then reuses them."""
    from elm_snn.tasks import resolve_config

    cfg = resolve_config(
        "shd",
        "elm",
        "quick",
        synthetic=True,
        synthetic_size=1,
        max_epochs=1,
        num_memory=4,
        progress_bar=False,
        accelerator="cpu",
        bin_size_ms=50.0,
    )
    first = train(cfg, tmp_path / "a")
    assert first["data_root"].startswith(str(tmp_path / "elm_cache"))
    assert 0.0 <= first["test_accuracy"] <= 1.0
    second = train(cfg, tmp_path / "b")  # same data folder, reused
    assert second["data_root"] == first["data_root"]
    assert second["test_accuracy"] == first["test_accuracy"]


def test_unknown_task_lists_the_registered_tasks() -> None:
    from elm_snn.tasks import TASKS, get_task, resolve_config

    with pytest.raises(ValueError, match="task: expected one of") as err:
        get_task("shd-addition")
    for name in TASKS:
        assert repr(name) in str(err.value)
    with pytest.raises(ValueError, match="'neuronio'"):
        resolve_config("nope", "elm")
    assert type(get_task("listops")).__name__ == "LRATask" and get_task("listops").name == "listops"


def test_unknown_model_lists_the_choices() -> None:
    from elm_snn.tasks import MODEL_BUILDERS, build_model, resolve_config
    from elm_snn.tasks.registry import TASKS

    with pytest.raises(ValueError, match="model: expected one of") as err:
        resolve_config("neuronio", "snn")
    for name in TASKS["neuronio"].models:
        assert repr(name) in str(err.value)
    cfg = resolve_config("shd", "elm", "quick", synthetic=True)
    cfg.model = "gru"  # past the config's own check: build_model checks again
    with pytest.raises(ValueError, match="'chrono-lstm'"):
        build_model(cfg, 700, 20, 10)
    for spec in TASKS.values():  # every model a task offers has a builder
        assert set(spec.models) <= set(MODEL_BUILDERS), spec.name


def test_registering_a_model_and_a_task_is_one_entry_each() -> None:
    import dataclasses

    import torch

    from elm_snn.tasks import (
        MODEL_BUILDERS,
        TASKS,
        TaskSpec,
        build_model,
        register_task,
        resolve_config,
    )
    from elm_snn.tasks.models import register_model

    @register_model("test-linear")
    def _linear(cfg, num_inputs, num_outputs, num_steps):
        class Linear(torch.nn.Linear):
            def forward(self, x):
                return super().forward(x), None

        return Linear(num_inputs, num_outputs)

    spec = TaskSpec(
        "test-shd", "elm_snn.tasks.shd:SHDTask", ("test-linear",), digit_duration_ms=1000.0
    )
    try:
        register_task(spec)
        with pytest.raises(ValueError, match="already registered"):
            register_task(spec)
        with pytest.raises(ValueError, match="already registered"):
            register_model("test-linear")(_linear)
        cfg = dataclasses.replace(resolve_config("shd", "elm", "quick", synthetic=True))
        cfg.task, cfg.model = "test-shd", "test-linear"
        model = build_model(cfg, 3, 2, 5)
        assert model(torch.zeros(5, 1, 3)).shape == (5, 1, 2)
    finally:
        TASKS.pop("test-shd", None)
        MODEL_BUILDERS.pop("test-linear", None)
