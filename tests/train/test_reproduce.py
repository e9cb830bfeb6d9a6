"""`elm-snn reproduce neuronio` on tiny data: every output file, reuse of finished points."""

from __future__ import annotations

import csv
import json

import pytest

from elm_snn.cli import main
from elm_snn.train.reproduce_neuronio import NEURONIO_POINTS, reproduce_neuronio

TINY = dict(
    max_epochs=1,
    train_samples_per_epoch=16,
    val_samples=8,
    window_ms=200,
    burn_in_ms=50,
    batch_size=8,
    eval_batch_size=16,
    progress_bar=False,
    accelerator="cpu",
)


def test_points_cover_the_paper_grid():
    names = [p[0] for p in NEURONIO_POINTS]
    assert {"lif", "alif", "elm-linear-dm1", "branch-elm-dm20"} <= set(names)
    assert {f"elm-dm{d}" for d in (1, 2, 5, 10, 20, 50, 100)} <= set(names)
    assert sum(n.startswith("lstm-") for n in names) >= 3


def test_reproduce_neuronio_tiny(neuronio_root, tmp_path):
    out = tmp_path / "res"
    logs: list[str] = []
    rows = reproduce_neuronio(
        out,
        data_root=neuronio_root,
        points=["lif", "elm-linear-dm1", "elm-dm2"],
        overrides=TINY,
        command="test",
        log=logs.append,
    )
    assert [r["point"] for r in rows] == ["lif", "elm-linear-dm1", "elm-dm2"]
    # the linear one-unit ELM has no hidden MLP layer: fewer parameters than the d_m = 2 ELM
    assert rows[1]["num_parameters"] < rows[2]["num_parameters"]
    with open(out / "results.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert [r["point"] for r in table] == ["lif", "elm-linear-dm1", "elm-dm2"]
    for r in table:
        assert 0.0 <= float(r["test_auc"]) <= 1.0 and float(r["test_soma_rmse_mv"]) > 0
        assert float(r["cpu_seconds_total"]) > 0
    page = (out / "results.md").read_text()
    assert "| elm-dm2 |" in page and "metrics_vs_parameters.png" in page
    assert (out / "metrics_vs_parameters.png").stat().st_size > 1000
    info = json.loads((out / "run_info.json").read_text())
    assert info["command"] == "test" and info["cpu_seconds_total"] > 0
    assert info["points"] == ["lif", "elm-linear-dm1", "elm-dm2"] and info["data_description"]
    from elm_snn.train.provenance import git_commit

    assert info["run_commits"] == {str(git_commit() or "not recorded"): 3}
    assert "runs per git commit" in page and "- data: `" in page
    # a second call reuses every finished point
    logs.clear()
    reproduce_neuronio(
        out, data_root=neuronio_root, points=["lif"], overrides=TINY, log=logs.append
    )
    assert any("reusing finished run" in line for line in logs)


def test_reproduce_errors(neuronio_root, tmp_path, capsys):
    with pytest.raises(ValueError, match="points: unknown"):
        reproduce_neuronio(tmp_path, data_root=neuronio_root, points=["gru"])
    code = main(["reproduce", "neuronio", "--data-root", str(neuronio_root), "--points", "x"])
    assert code == 2 and "points: unknown" in capsys.readouterr().err


def test_reproduce_neuronio_seeds_give_mean_and_std(neuronio_root, tmp_path):
    """Two seeds of a point: one run folder each (seed 0 keeps the point's name), one CSV row
    each, and one page row with mean +- std equal to the runs' metrics."""
    from elm_snn.train.grid import _mean_std

    out = tmp_path / "seeds"
    rows = reproduce_neuronio(
        out, data_root=neuronio_root, points=["lif"], seeds=[0, 3], overrides=TINY,
        command="test", progress=False,
    )  # fmt: skip
    assert [(r["point"], r["seed"]) for r in rows] == [("lif", 0), ("lif", 3)]
    assert (out / "runs" / "lif").is_dir() and (out / "runs" / "lif-seed3").is_dir()
    with open(out / "results.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert [(r["point"], r["seed"]) for r in table] == [("lif", "0"), ("lif", "3")]
    aucs = [float(r["test_auc"]) for r in table]
    assert aucs[0] != aucs[1]  # the seed reaches the model and the window draws
    mean, std = _mean_std(aucs)
    page = (out / "results.md").read_text()
    assert f"| lif | {int(rows[0]['num_parameters']):,} | {mean:.4f} +- {std:.4f} |" in page
    assert "lowest validation loss" in page
    info = json.loads((out / "run_info.json").read_text())
    assert info["seeds"] == [0, 3]
    with pytest.raises(ValueError, match="seeds: expected distinct"):
        reproduce_neuronio(out, data_root=neuronio_root, points=["lif"], seeds=[1, 1])


def test_aggregate_seeds_keeps_point_order_and_skips_missing_metrics():
    from elm_snn.train.reproduce_neuronio import aggregate_seeds

    rows = [
        {"point": "b", "seed": 0, "family": "B", "num_parameters": 5, "test_auc": 0.6},
        {"point": "a", "seed": 0, "family": "A", "num_parameters": 3, "test_auc": "nan"},
        {"point": "b", "seed": 1, "family": "B", "num_parameters": 5, "test_auc": 0.8},
    ]
    agg = aggregate_seeds(rows)
    assert [r["point"] for r in agg] == ["b", "a"]
    assert agg[0]["test_auc"] == pytest.approx(0.7) and agg[0]["num_seeds"] == 2
    assert agg[0]["test_auc_std"] == pytest.approx(0.1414213562, rel=1e-6)
    assert "test_auc" not in agg[1] and agg[1]["seeds"] == [0]
