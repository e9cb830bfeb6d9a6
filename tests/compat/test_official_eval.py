"""`elm-snn eval --official-checkpoint`: the authors' model folders on NeuronIO-format files."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from elm_snn.cli import main
from elm_snn.compat import evaluate_official_checkpoint, load_official_checkpoint
from elm_snn.data import neuronio as nio
from elm_snn.data.neuronio_eval import evaluate_neuronio

T = 1200


def _write_files(folder, n_seg: int, n_sims: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    sims = []
    for k in range(n_sims):
        ex = {s: np.sort(rng.choice(T, 4, replace=False)) for s in range(n_seg)}
        inh = {s: np.sort(rng.choice(T, 2, replace=False)) for s in range(0, n_seg, 2)}
        out = np.sort(rng.uniform(520, T - 1, 3 + k))
        sims.append(nio.NeuronIOSimulation(ex, inh, out, rng.normal(-68, 4, T)))
    params = {
        "allSegmentsType": ["basal"] * n_seg,
        "allSegments_DistFromSoma": [0.0] * n_seg,
        "totalSimDurationInSec": T / 1000,
    }
    nio.write_neuronio_pickle(folder / "sim__test__0.p", sims, params)
    return folder


@pytest.fixture(scope="module")
def neuronio_folder(tmp_path_factory):
    return _write_files(tmp_path_factory.mktemp("nio"), nio.NEURONIO_NUM_SEGMENTS)


@pytest.mark.parametrize("protocol", ["official", "plain"])
def test_official_checkpoint_matches_direct_evaluation(
    official_models_dir, neuronio_folder, protocol
):
    folder = official_models_dir / "num_memory_1"
    got = evaluate_official_checkpoint(folder, neuronio_folder, protocol=protocol)
    model = load_official_checkpoint(folder).eval()

    def run(x):
        with torch.no_grad():
            return model(x.transpose(0, 1))[0].transpose(0, 1)

    direct = evaluate_neuronio(run, neuronio_folder, protocol=protocol)
    assert got["test_results"] == direct.metrics
    assert got["test_auc"] == direct.metrics["AUC"]
    assert got["test_auc_at_1pct_fp"] == direct.metrics["AUC @ 0.0100 FP"]
    assert got["num_simulations"] == 3 and got["num_spikes_scored"] == 3 + 4 + 5
    official = json.loads((folder / "eval_results.json").read_text())
    assert set(got["test_results"]) == set(official["test_results"])
    model_stats = json.loads((folder / "model_stats.json").read_text())
    assert got["num_parameters"] == model_stats["model_param_count"]


def test_cli_official_checkpoint(official_models_dir, neuronio_folder, tmp_path, capsys):
    out = tmp_path / "eval.json"
    code = main(
        [
            "eval",
            "--official-checkpoint",
            str(official_models_dir / "num_memory_1"),
            "--data-root",
            str(neuronio_folder),
            "--out",
            str(out),
        ]
    )
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(out.read_text())
    assert printed["protocol"] == "official" and "AUC @ 0.0025 FP" in printed["test_results"]


def test_cli_official_checkpoint_errors(official_models_dir, tmp_path, capsys):
    folder = str(official_models_dir / "num_memory_1")
    assert main(["eval", "--official-checkpoint", folder]) == 2
    assert "needs --data-root" in capsys.readouterr().err
    small = _write_files(tmp_path / "small", 6)
    assert main(["eval", "--official-checkpoint", folder, "--data-root", str(small)]) == 2
    assert "takes 1278 inputs" in capsys.readouterr().err
    assert main(["eval", "--official-checkpoint", str(tmp_path), "--data-root", str(small)]) == 2
    assert "model_config.json" in capsys.readouterr().err
