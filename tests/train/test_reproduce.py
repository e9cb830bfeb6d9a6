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
