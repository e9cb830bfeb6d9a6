"""`elm-snn reproduce shd` (Fig. 5) on tiny band digits: grid, every output file, reuse."""

from __future__ import annotations

import csv
import json

import pytest

from elm_snn.cli import main
from elm_snn.train.reproduce_shd import SHD_CSV_COLUMNS, reproduce_shd, shd_grid
from tests.train.test_learning import write_band_digits

TINY = dict(
    max_epochs=1,
    train_samples_per_epoch=16,
    val_samples=8,
    test_samples=16,
    batch_size=8,
    eval_batch_size=16,
    num_memory=4,
    lstm_hidden=8,
    progress_bar=False,
    accelerator="cpu",
)


def test_grid_has_extra_seeds_only_where_asked():
    grid = shd_grid(("shd", "shd-adding"), ("elm", "lstm", "snn"), (10, 50), (1, 2), 10, ("elm",))
    assert len(grid) == 2 * 3 * 2 + 2 * 2  # seed 0 everywhere, seeds 1, 2 for the ELM at 10 ms
    assert {(t, m, b, s) for t, m, b, s in grid if s} == {
        (t, "elm", 10.0, s) for t in ("shd", "shd-adding") for s in (1, 2)
    }
    assert [b for _, _, b, _ in grid][0] == 50.0  # coarse (cheap) bins first
    # skipped (model, bin) pairs go, with their extra seeds
    skipped = shd_grid(
        ("shd", "shd-adding"),
        ("elm", "snn"),
        (2, 10),
        (1,),
        10,
        ("elm",),
        skip=[(None, "snn", 2), ("shd-adding", "elm", 2)],
    )
    assert ("shd", "snn", 10.0, 0) in skipped and ("shd", "elm", 2.0, 0) in skipped
    assert not {("shd", "snn", 2.0, 0), ("shd-adding", "snn", 2.0, 0)} & set(skipped)
    assert ("shd-adding", "elm", 2.0, 0) not in skipped
    assert len(skipped) == 2 * 3 + 1
    # a seeds bin outside the grid adds nothing
    assert len(shd_grid(("shd",), ("elm",), (50,), (1, 2), 10, ("elm",))) == 1


def test_reproduce_shd_tiny(tmp_path):
    root = write_band_digits(tmp_path / "shd", lambda label: label, 40, 20, band=35)
    out = tmp_path / "res"
    logs: list[str] = []
    rows = reproduce_shd(
        out,
        data_root=root,
        tasks=("shd", "shd-adding"),
        models=("elm", "lstm"),
        bin_sizes=(50.0, 100.0),
        extra_seeds=(1,),
        seeds_bin=100.0,
        overrides=TINY,
        command="test",
        log=logs.append,
    )
    # 2 tasks x 2 models x 2 bins + the extra seed of both models at 100 ms in both tasks
    assert len(rows) == 12
    with open(out / "results.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert list(table[0])[: len(SHD_CSV_COLUMNS)] == list(SHD_CSV_COLUMNS)
    assert {(r["task"], r["model"], float(r["bin_size_ms"]), int(r["seed"])) for r in table} == {
        (r["task"], r["model"], float(r["bin_size_ms"]), int(r["seed"])) for r in rows
    }
    for r in table:
        assert 0.0 <= float(r["test_accuracy"]) <= 1.0
        assert int(r["num_parameters"]) > 0 and float(r["wall_seconds"]) > 0
        assert float(r["cpu_seconds"]) > 0 and r["readout"] in ("last", "mean", "sum", "max")
    page = (out / "results.md").read_text()
    for task in ("shd", "shd-adding"):
        assert f"## {task}" in page and f"{task}_accuracy_vs_bin_size.png" in page
        assert (out / f"{task}_accuracy_vs_bin_size.png").stat().st_size > 1000
    assert "ELM - LSTM =" in page and "Paper (SPEC section 4)" in page
    info = json.loads((out / "run_info.json").read_text())
    assert info["command"] == "test" and info["cpu_seconds_total"] > 0
    assert len(info["grid"]) == 12
    # every run records the commit it started at; the page counts runs per commit
    from elm_snn.train.provenance import git_commit

    assert info["run_commits"] == {str(git_commit() or "not recorded"): 12}
    assert "runs per git commit" in page
    # a second call reuses every finished run
    logs.clear()
    reproduce_shd(
        out,
        data_root=root,
        tasks=("shd",),
        models=("elm",),
        bin_sizes=(100.0,),
        extra_seeds=(),
        overrides=TINY,
        log=logs.append,
    )
    assert logs and all("reusing finished run" in line for line in logs)


def test_reproduce_shd_errors(tmp_path, capsys):
    with pytest.raises(ValueError, match="tasks"):
        reproduce_shd(tmp_path, data_root=tmp_path, tasks=("neuronio",))
    code = main(["reproduce", "shd", "--data-root", str(tmp_path / "nowhere")])
    assert code == 2 and "data_root" in capsys.readouterr().err
    for bad in ("snn", "snn:", ":2", "snn:x", "neuronio/elm:2", "shd/:2"):
        code = main(["reproduce", "shd", "--data-root", str(tmp_path), "--skip", bad])
        assert code == 2 and "--skip: expected [TASK/]MODEL:BIN_MS" in capsys.readouterr().err
