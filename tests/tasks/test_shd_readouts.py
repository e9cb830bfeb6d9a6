"""SHD tasks: readouts, validation by speaker, per-speaker test accuracy, and that every
model learns a tiny generated set with its default (quick preset) readout."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from elm_snn.networks.readout import aggregate
from elm_snn.tasks import SHD_MODELS, get_task, resolve_config
from elm_snn.tasks.shd import collate_with_speakers, per_speaker_accuracy
from elm_snn.train.engine import train
from tests.tiny import tiny_config


def test_readout_choices_in_config_and_presets() -> None:
    paper = resolve_config("shd", "snn", "paper", synthetic=True)
    assert (paper.readout, paper.validation_split) == ("last", "sample")
    for task in ("shd", "shd-adding"):
        for model in SHD_MODELS:
            quick = resolve_config(task, model, "quick", synthetic=True)
            expected = "last" if model in ("elm", "branch-elm") else "mean"  # see config.py
            assert (quick.readout, quick.validation_split) == (expected, "speaker")
            paper = resolve_config(task, model, "paper", synthetic=True)
            assert (paper.readout, paper.validation_split) == ("last", "sample")
    assert resolve_config("shd", "elm", "quick", synthetic=True, readout="max").readout == "max"
    with pytest.raises(ValueError, match="readout: expected one of .* got 'median'"):
        resolve_config("shd", "elm", "quick", synthetic=True, readout="median")
    with pytest.raises(ValueError, match="validation_split: expected one of .* got 'voice'"):
        resolve_config("shd", "elm", "quick", synthetic=True, validation_split="voice")


def test_logit_scale_in_config_and_presets() -> None:
    for task in ("shd", "shd-adding"):
        for model in SHD_MODELS:
            assert resolve_config(task, model, "paper", synthetic=True).logit_scale == 1.0
            quick = resolve_config(task, model, "quick", synthetic=True)
            # the quick E/I SNN's bounded spike-count logits get a temperature (config.py)
            assert quick.logit_scale == (20.0 if model == "snn" else 1.0), (task, model)
    assert resolve_config("shd", "snn", "quick", synthetic=True, logit_scale=3).logit_scale == 3
    for bad in (0.0, -1.0, float("inf"), float("nan"), "2", True):
        with pytest.raises(ValueError, match="logit_scale: expected a finite number > 0"):
            resolve_config("shd", "snn", "quick", synthetic=True, logit_scale=bad)


@pytest.mark.parametrize(
    ("readout", "logit_scale"), [("last", 1.0), ("mean", 1.0), ("sum", 1.0), ("max", 2.5)]
)
def test_task_logits_use_the_readout(readout, logit_scale, shd_root) -> None:
    cfg = tiny_config("shd", "elm", shd_root, readout=readout, logit_scale=logit_scale)
    task = get_task("shd")
    data = task.build_data(cfg, task.prepare_data(cfg))
    model = task.build_model(cfg, data.num_inputs, data.num_outputs, data.num_steps).eval()
    x, y = data.collate([data.train[i] for i in range(4)])
    with torch.no_grad():
        out = model(x)
        records = task.eval_records(model, (x, y), cfg, "validation")
    expected = aggregate(out, readout) * logit_scale
    ce = torch.nn.functional.cross_entropy(expected, y, reduction="none")
    torch.testing.assert_close(records["loss"], ce)


def test_per_speaker_accuracy_by_hand() -> None:
    correct = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0])
    speakers = torch.tensor([[10, 10], [10, 11], [11, 11], [11, 10], [11, 11]])
    got = per_speaker_accuracy(correct, speakers)
    # speaker 10 is in items 0, 1, 3 -> 2/3 right; speaker 11 in items 1..4 -> 2/4 right
    assert got == {"accuracy_speaker10": pytest.approx(2 / 3), "accuracy_speaker11": 0.5}
    assert per_speaker_accuracy(correct, None) == {}
    with pytest.raises(ValueError, match=r"speakers: expected shape \(5, 2\)"):
        per_speaker_accuracy(correct, speakers[:4])


def test_collate_with_speakers() -> None:
    items = [(np.ones((3, 4), np.float32), 2, np.array([5, 6])) for _ in range(2)]
    x, y, spk = collate_with_speakers(items)
    assert x.shape == (3, 2, 4) and y.tolist() == [2, 2] and spk.tolist() == [[5, 6], [5, 6]]


@pytest.mark.parametrize("task", ["shd", "shd-adding"])
def test_validation_by_speaker_and_per_speaker_metrics(task, shd_root, tmp_path) -> None:
    cfg = tiny_config(task, "elm", shd_root, validation_split="speaker")
    t = get_task(task)
    data = t.build_data(cfg, t.prepare_data(cfg))
    import h5py

    with h5py.File(shd_root / "shd_train.h5", "r") as f:
        file_speakers = np.asarray(f["extra/speaker"][()])
    if task == "shd":
        train_spk = set(file_speakers[data.train.indices].tolist())
        val_spk = set(file_speakers[data.validation.base.indices].tolist())
    else:
        train_spk = set(data.train.pair_speakers().ravel().tolist())
        val_spk = set(data.validation.pair_speakers().ravel().tolist())
    assert len(val_spk) == 1 and not train_spk & val_spk  # 10 % of 4 speakers -> 1
    result = train(cfg, tmp_path / "run")
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    per = {k: v for k, v in saved.items() if k.startswith("test_accuracy_speaker")}
    assert set(per) == {f"test_accuracy_speaker{s}" for s in range(4)}  # the fixture's 4
    assert all(0.0 <= v <= 1.0 for v in per.values())
    assert result["test_accuracy"] == saved["test_accuracy"]
    if task == "shd":  # one speaker per item: the overall accuracy is the weighted mean
        counts = np.bincount(np.arange(16) % 4, minlength=4)  # 16 test items, speaker i % 4
        weighted = sum(per[f"test_accuracy_speaker{s}"] * counts[s] for s in range(4)) / 16
        assert saved["test_accuracy"] == pytest.approx(weighted)


def write_dense_digits(root, n: int = 80, spikes: int = 1500, seed: int = 0):
    """A tiny SHD-like set: 20 classes, each ``spikes`` spikes on the class's 30 channels in
    the first half of the 1 s slot (like a digit that ends before its slot does), dense
    enough for the E/I SNN to reach its threshold, 4 speakers."""
    from elm_snn.data.shd_format import write_shd_file

    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for name in ("shd_train.h5", "shd_test.h5"):
        times, units, labels = [], [], []
        for i in range(n):
            times.append(np.sort(rng.uniform(0.0, 0.5, spikes)))
            units.append((i % 20) * 30 + rng.integers(0, 30, spikes))
            labels.append(i % 20)
        write_shd_file(root / name, times, units, labels, [i % 4 for i in range(n)])
    return root


def _learns(model: str, root) -> tuple[float, float]:
    """Train ``model`` (quick preset, its default readout, tiny sizes) on the dense tiny set
    for 25 epochs of 5 batches; return the training-set loss before and after."""
    cfg = tiny_config(
        "shd", model, root, max_epochs=1, snn_num_neurons=100, snn_synapses_per_neuron=50
    )
    task = get_task("shd")
    data = task.build_data(cfg, task.prepare_data(cfg))
    torch.manual_seed(0)
    net = task.build_model(cfg, data.num_inputs, data.num_outputs, data.num_steps)
    items = [data.train[i] for i in range(len(data.train))]
    batches = [data.collate(items[i : i + 16]) for i in range(0, len(items), 16)]

    def mean_loss() -> float:
        net.eval()
        with torch.no_grad():
            losses = [task.eval_records(net, b, cfg, "validation")["loss"] for b in batches]
        net.train()
        return float(torch.cat(losses).mean())

    before = mean_loss()
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr * 2)
    for _ in range(25):
        for b in batches:
            opt.zero_grad()
            loss, _ = task.training_loss(net, b, cfg)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
    return before, mean_loss()


@pytest.mark.parametrize("model", SHD_MODELS)
def test_every_model_learns_with_its_default_readout(model, tmp_path) -> None:
    before, after = _learns(model, write_dense_digits(tmp_path / "dense"))
    assert after < math.log(20) - 0.3, (model, before, after)
    assert after < before
