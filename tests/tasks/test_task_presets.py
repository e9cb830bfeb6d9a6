"""Presets carry the paper's hyperparameters; configs validate their input."""

from __future__ import annotations

import json

import pytest

from elm_snn.tasks import RunConfig, build_model, count_parameters, resolve_config


def test_paper_preset_shd():
    cfg = resolve_config("shd-adding", "elm", "paper", synthetic=True)
    assert (cfg.optimizer, cfg.lr, cfg.batch_size, cfg.max_epochs) == ("adamax", 5e-3, 8, 70)
    assert (cfg.input_dropout, cfg.num_memory, cfg.lambda_value) == (0.5, 100, 5.0)
    assert cfg.tau_m_init == (1.0, 150.0) and cfg.tau_m_init_spacing == "linear"
    assert (cfg.tau_m_min, cfg.tau_m_max) == (0.0, 1000.0)
    assert cfg.lr_schedule == "cosine" and cfg.bin_size_ms == 2.0
    b = resolve_config("shd", "branch-elm", "paper", synthetic=True)
    assert (b.num_branches, b.synapses_per_branch, b.routing) == (100, 15, "random")
    lstm = resolve_config("shd", "lstm", "paper", synthetic=True)
    assert (lstm.lstm_hidden, lstm.recurrent_dropout) == (250, 0.3)
    snn = resolve_config("shd", "snn", "paper", synthetic=True)
    assert (snn.lr, snn.input_dropout, snn.snn_l1) == (2e-3, 0.0, 0.01)


def test_paper_preset_neuronio():
    cfg = resolve_config("neuronio", "elm", "paper", synthetic=True)
    assert (cfg.optimizer, cfg.lr, cfg.batch_size) == ("adam", 5e-4, 8)
    assert (cfg.window_ms, cfg.burn_in_ms, cfg.bin_size_ms, cfg.num_memory) == (500, 150, 1.0, 20)
    # the paper's LSTM on NeuronIO has ~266K parameters: hidden 50 with 1278 inputs
    lstm = build_model(resolve_config("neuronio", "lstm", "paper", synthetic=True), 1278, 2, 500)
    assert count_parameters(lstm) == 4 * 50 * (1278 + 50 + 2) + 2 * 51


def test_paper_elm_sizes_on_shd():
    # paper Fig. 5: ELM ~186K parameters on SHD-Adding (d_m = 100, 700 inputs, 19 classes)
    cfg = resolve_config("shd-adding", "elm", "paper", synthetic=True)
    n = count_parameters(build_model(cfg, 700, 19, 200))
    assert 180_000 < n < 200_000


def test_overrides_and_validation():
    cfg = resolve_config("shd", "lstm", "quick", data_root="/x", bin_size_ms=None, seed=3)
    assert cfg.bin_size_ms == 50.0 and cfg.seed == 3  # None keeps the preset's value
    assert RunConfig.from_dict(json.loads(cfg.to_json())) == cfg
    with pytest.raises(ValueError, match="model: expected one of"):
        resolve_config("neuronio", "snn", "paper", synthetic=True)
    with pytest.raises(ValueError, match="preset"):
        resolve_config("shd", "elm", "fast", synthetic=True)
    with pytest.raises(ValueError, match="data_root"):
        resolve_config("shd", "elm", "paper")
    with pytest.raises(ValueError, match="bin_size_ms: NeuronIO"):
        resolve_config("neuronio", "elm", "paper", synthetic=True, bin_size_ms=2)
    with pytest.raises(ValueError, match="unknown config keys"):
        resolve_config("shd", "elm", "paper", synthetic=True, hidden=3)
    with pytest.raises(ValueError, match="input_dropout"):
        resolve_config("shd", "elm", "paper", synthetic=True, input_dropout=1.0)


@pytest.mark.parametrize("preset", ["paper", "quick"])
@pytest.mark.parametrize("model", ["elm", "branch-elm", "lif", "alif", "lstm"])
def test_neuronio_presets_build_for_the_real_input_width(preset, model):
    # 1278 inputs: neuronio routing needs >= ceil(1278 / branches) synapses per branch
    cfg = resolve_config("neuronio", model, preset, synthetic=True)
    net = build_model(cfg, 1278, 2, 500)
    assert count_parameters(net) > 0
