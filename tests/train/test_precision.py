"""``--precision bf16-mixed``: a tiny run trains under autocast, and since every layer runs
its recurrence in float32 (autocast is switched off inside the layers), it matches the
``32-true`` run."""

from __future__ import annotations

import json

import pytest

from elm_snn.cli import main
from tests.tiny import write_tiny_shd

TINY = [
    "--preset",
    "quick",
    "--max-epochs",
    "1",
    "--train-samples",
    "16",
    "--val-samples",
    "8",
    "--test-samples",
    "8",
    "--num-memory",
    "4",
    "--no-progress",
    "--accelerator",
    "cpu",
    "--bin-size",
    "50",
]


@pytest.mark.parametrize("model", ["elm", "norse-lif"])
def test_bf16_mixed_tiny_run_matches_float32(model, tmp_path, capsys):
    root = write_tiny_shd(tmp_path / "shd")
    results = {}
    for precision in ("32-true", "bf16-mixed"):
        out = tmp_path / precision
        args = ["train", "--task", "shd-adding", "--model", model, "--data-root", str(root)]
        rc = main([*args, "--out", str(out), "--precision", precision, *TINY])
        assert rc == 0
        capsys.readouterr()
        results[precision] = json.loads((out / "metrics.json").read_text())
    mixed, full = results["bf16-mixed"], results["32-true"]
    assert json.loads((tmp_path / "bf16-mixed" / "config.json").read_text())["precision"] == (
        "bf16-mixed"
    )
    assert mixed["test_accuracy"] == full["test_accuracy"]
    assert mixed["test_loss"] == pytest.approx(full["test_loss"], rel=1e-6)
