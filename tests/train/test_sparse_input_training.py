"""``input_format="sparse"`` trains like dense frames (SHD tasks, through the engine)."""

from __future__ import annotations

import pytest

from elm_snn.train.engine import train
from tests.train.conftest import tiny_config


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
