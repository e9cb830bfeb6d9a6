"""The Norse baselines (norse-lif, norse-lsnn): built from Norse's modules, stable at long
bins, trainable, selectable in the tasks and in ``elm-snn compare``."""

from __future__ import annotations

import json
import warnings

import pytest
import torch

from elm_snn.networks.norse_baselines import NorseSNN, norse_time_constants
from elm_snn.tasks import NEURONIO_MODELS, SHD_MODELS, resolve_config
from elm_snn.tasks.models import build_model, count_parameters

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import norse.torch as norse


@pytest.mark.parametrize(
    ("neuron", "layer"), [("lif", norse.LIFRecurrent), ("lsnn", norse.LSNNRecurrent)]
)
def test_built_from_norse_modules(neuron, layer):
    torch.manual_seed(0)
    model = NorseSNN(7, 3, hidden_size=5, neuron=neuron, dt=2.0)
    assert isinstance(model.network, norse.SequentialState)
    assert isinstance(model.network[0], layer) and isinstance(model.network[2], norse.LI)
    assert model.network[0].dt == pytest.approx(0.002)  # Norse counts in seconds
    # Norse's input + recurrent weights, then the Linear readout
    assert count_parameters(model) == 5 * (7 + 5) + 3 * (5 + 1)
    y, states = model(torch.rand(9, 2, 7))
    assert y.shape == (9, 2, 3) and len(states) == 3
    # continuing from the returned states differs from a fresh start
    y2, _ = model(torch.rand(9, 2, 7), states)
    assert y2.shape == (9, 2, 3)


def test_time_constants_stay_above_the_step():
    assert norse_time_constants(1.0) == (5.0, 10.0)  # Norse's defaults at 1 ms bins
    assert norse_time_constants(50.0) == (50.0, 50.0)
    model = NorseSNN(4, 2, hidden_size=8, dt=50.0)
    dt_s = model.network[0].dt
    p = model.network[0].p
    assert float(dt_s * p.tau_mem_inv) <= 1.0 and float(dt_s * p.tau_syn_inv) <= 1.0
    torch.manual_seed(0)
    y, _ = model(5 * torch.rand(40, 3, 4))  # forward Euler would diverge at tau < dt / 2
    assert torch.isfinite(y).all() and y.abs().max() < 1e3


def test_norse_baseline_learns_a_tiny_task():
    torch.manual_seed(0)
    model = NorseSNN(4, 2, hidden_size=16, neuron="lsnn", dt=1.0)
    target = torch.tensor([0, 1] * 4)
    x = (torch.rand(30, 8, 4) < 0.3).float() * 5
    x[:, target == 0, :2] = 0  # class 0 drives channels 2-3, class 1 channels 0-1
    x[:, target == 1, 2:] = 0
    opt = torch.optim.Adam(model.parameters(), lr=2e-2)
    losses = []
    for _ in range(30):
        y, _ = model(x)
        loss = torch.nn.functional.cross_entropy(y[-1], target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert model.network[0].input_weights.grad.abs().sum() > 0
    assert losses[-1] < 0.5 * losses[0]


def test_bad_input():
    model = NorseSNN(4, 2, hidden_size=3)
    with pytest.raises(ValueError, match="num_inputs = 4"):
        model(torch.rand(5, 2, 3))
    with pytest.raises(ValueError, match="neuron"):
        NorseSNN(4, 2, neuron="adex")


@pytest.mark.parametrize("task", ["shd", "neuronio"])
def test_selectable_in_the_tasks(task):
    models = SHD_MODELS if task == "shd" else NEURONIO_MODELS
    assert {"norse-lif", "norse-lsnn"} <= set(models)
    cfg = resolve_config(task, "norse-lsnn", "quick", synthetic=True)
    inputs, outputs = (700, 20) if task == "shd" else (1278, 2)
    model = build_model(cfg, inputs, outputs, num_steps=10)
    assert isinstance(model.backbone, NorseSNN) and model.backbone.neuron == "lsnn"
    assert model.backbone.hidden_size == cfg.lstm_hidden
    assert model(torch.zeros(3, 1, inputs)).shape == (3, 1, outputs)


@pytest.mark.slow
def test_norse_baselines_train_in_compare(tmp_path, capsys):
    from elm_snn.cli import main
    from tests.tiny import write_tiny_shd

    root = write_tiny_shd(tmp_path / "shd")
    out = tmp_path / "cmp"
    args = ["compare", "--task", "shd-adding", "--models", "norse-lif", "norse-lsnn"]
    args += ["--bin-sizes", "50", "--data-root", str(root), "--out", str(out)]
    args += ["--preset", "quick", "--max-epochs", "1", "--train-samples", "16"]
    args += ["--val-samples", "8", "--test-samples", "8", "--no-progress"]
    args += ["--accelerator", "cpu"]
    assert main(args) == 0
    table = capsys.readouterr().out
    assert "| norse-lif | 50 |" in table and "| norse-lsnn | 50 |" in table
    for model in ("norse-lif", "norse-lsnn"):
        metrics = list(out.rglob("metrics.json"))
        assert any(json.loads(m.read_text())["model"] == model for m in metrics)
