"""NeuronIO output initialisation: the spike logit starts at the training data's log-odds."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from elm_snn.tasks import get_task
from elm_snn.tasks.models import output_offset, seeded_model
from elm_snn.tasks.neuronio import (
    CALIBRATION_SEED,
    CALIBRATION_WINDOWS,
    _collate_windows,
    training_targets,
)
from elm_snn.train.engine import train
from tests.tiny import tiny_config

MODELS = ("elm", "branch-elm", "lstm", "lif", "alif")


def _data_and_model(neuronio_root, model, **changes):
    cfg = tiny_config("neuronio", model, neuronio_root, **changes)
    task = get_task("neuronio")
    data = task.build_data(cfg, task.prepare_data(cfg))
    net = seeded_model(cfg, data.num_inputs, data.num_outputs, data.num_steps)
    return cfg, task, data, net


def _calibration_outputs(data, net, cfg):
    from elm_snn.data.neuronio_datasets import NeuronIOWindowDataset

    ds = NeuronIOWindowDataset(
        data.train.files,
        data.train.simulations,
        num_windows=CALIBRATION_WINDOWS,
        window_ms=cfg.window_ms,
        seed=CALIBRATION_SEED,
    )
    x, _, _ = _collate_windows([ds[i] for i in range(len(ds))])
    net.eval()
    with torch.no_grad():
        return net(x)[cfg.burn_in_ms :].double()


def test_training_targets_by_hand(neuronio_root):
    cfg, task, data, _ = _data_and_model(neuronio_root, "elm")
    files, refs = data.train.files, data.train.simulations
    spikes, volts = [], []
    for fi, si in refs:
        spikes.append(files[fi].output_raster(si)[500:])
        v = np.asarray(files[fi].soma_voltage_mv[si], dtype=np.float64)[500:]
        volts.append((np.minimum(v, -55.0) + 67.7) / 10.0)
    rate = np.concatenate(spikes).mean()
    got = training_targets(files, refs, 500)
    assert got["spike_rate"] == pytest.approx(rate, rel=1e-12)
    assert got["spike_log_odds"] == pytest.approx(math.log(rate / (1 - rate)), rel=1e-12)
    assert got["voltage_mean"] == pytest.approx(np.concatenate(volts).mean(), rel=1e-6)


@pytest.mark.parametrize("model", MODELS)
def test_data_init_sets_mean_outputs(model, neuronio_root):
    cfg, task, data, net = _data_and_model(neuronio_root, model)
    before = _calibration_outputs(data, net, cfg)
    info = task.initialise_model(net, data, cfg)
    after = _calibration_outputs(data, net, cfg)
    targets = training_targets(data.train.files, data.train.simulations, 500)
    assert info["spike_log_odds"] == targets["spike_log_odds"]
    # the mean spike logit moved exactly onto the log-odds of the training spike rate
    assert float(after[..., 0].mean()) == pytest.approx(targets["spike_log_odds"], abs=1e-4)
    assert float(before[..., 0].mean()) != pytest.approx(targets["spike_log_odds"], abs=0.1)
    if model in ("lif", "alif"):
        # the voltage output of LIF/ALIF is the membrane itself: no free offset, untouched
        assert output_offset(net, 1) is None and "voltage_shift" not in info
        torch.testing.assert_close(after[..., 1], before[..., 1])
    else:
        assert float(after[..., 1].mean()) == pytest.approx(targets["voltage_mean"], abs=1e-4)
    # only constant offsets moved: the logit's variation over time/samples is unchanged
    torch.testing.assert_close(
        after[..., 0] - after[..., 0].mean(),
        before[..., 0] - before[..., 0].mean(),
        atol=1e-5,
        rtol=0,
    )


def test_none_keeps_constructor_init(neuronio_root):
    cfg, task, data, net = _data_and_model(neuronio_root, "elm", output_init="none")
    state = {k: v.clone() for k, v in net.state_dict().items()}
    assert task.initialise_model(net, data, cfg) == {}
    for k, v in net.state_dict().items():
        torch.testing.assert_close(v, state[k])


def test_output_init_validated_and_recorded(neuronio_root, tmp_path):
    with pytest.raises(ValueError, match="output_init: expected one of"):
        tiny_config("neuronio", "elm", neuronio_root, output_init="zeros")
    from elm_snn.tasks import resolve_config

    assert resolve_config("neuronio", "elm", "paper", synthetic=True).output_init == "none"
    assert resolve_config("neuronio", "elm", "quick", synthetic=True).output_init == "data"
    result = train(tiny_config("neuronio", "elm", neuronio_root), tmp_path / "run")
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["model_init"]["spike_log_odds"] == pytest.approx(
        result["model_init"]["spike_log_odds"]
    )
    assert saved["model_init"]["spike_log_odds"] < -2  # a few spikes per second at 1 ms bins
    # official names beside ours, from one map
    assert saved["test_results"]["AUC"] == saved["test_auc"]
    assert saved["test_results"]["AUC @ 0.0100 FP"] == saved["test_auc_at_1pct_fp"]
    assert saved["test_results"]["TP @ 0.0025 FP"] == saved["test_tp_at_0.25pct_fp"]
    assert saved["test_results"]["soma_RMSE"] == saved["test_soma_rmse_mv"]
    assert saved["test_num_spikes_scored"] >= 1
