"""Training learns: one run through :func:`elm_snn.train.engine.train` per task on tiny,
easy data written in the real file formats, checked against a threshold well above chance.

The data are built so that a small ELM learns them in a few hundred steps while an
untrained (or frozen, or zero-learning-rate) model stays near chance:

* ``shd``: each of the 20 classes fires its own band of 35 channels (plus a few spikes on
  random channels). Chance is 1/20; the threshold is 0.6 test accuracy (measured 0.95-0.98
  over seeds 0-3; untrained: 0.05).
* ``shd-adding``: each digit ``label % 10`` fires its own band of 70 channels, so the sum
  needs both digits of a pair (seeing only the second one gives about 1/10). Chance is
  1/19 (a constant guess of the most frequent sum: 0.1); the threshold is 0.3 (measured
  0.49-0.59 over seeds 0-3; untrained: 0.02-0.10).
* ``neuronio``: the output neuron spikes 2 ms after every spike of the first excitatory
  input, and the soma voltage is that input filtered with a 10 ms exponential (+ noise).
  Chance AUC is 0.5; thresholds: test AUC >= 0.9 and explained soma variance >= 60 %
  (measured AUC 0.98-1.0 and 93-96 % over seeds 0-3; untrained: AUC 0.43-0.66 and
  -13..6 %).

Measured = the settings below with ``seed`` changed; untrained = the same with lr 1e-12.
Each test takes 2-6 s of training on one CPU thread.

Every test also fails (with an error) when the loss is detached or no parameter can
train; ``make mutants`` plants those bugs and a zero learning rate to check it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from elm_snn.tasks import resolve_config
from elm_snn.train.engine import train

# the same small ELM and engine settings for the three tasks
COMMON = dict(
    num_memory=16,
    lr=2e-2,
    lr_schedule="constant",
    input_dropout=0.0,
    eval_batch_size=64,
    progress_bar=False,
    accelerator="cpu",
    num_workers=0,
)


@pytest.fixture(autouse=True)
def _one_thread():
    """These models are tiny: extra threads only cost time (a lot on a busy machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def write_band_digits(
    root: Path, classes_of, n_train: int, n_test: int, band: int, seed: int = 0
) -> Path:
    """SHD-format ``shd_train.h5``/``shd_test.h5``: sample ``i`` has label ``i % 20`` and
    fires 30 spikes in channels ``classes_of(label) * band + [0, band)`` plus 10 spikes on
    random channels, at uniform times in [0, 0.9) s."""
    from elm_snn.data.shd_format import write_shd_file

    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for name, n in (("shd_train.h5", n_train), ("shd_test.h5", n_test)):
        times, units, labels = [], [], []
        for i in range(n):
            label = i % 20
            u = np.concatenate(
                [classes_of(label) * band + rng.integers(0, band, 30), rng.integers(0, 700, 10)]
            )
            t = rng.uniform(0.0, 0.9, u.size)
            order = np.argsort(t)
            times.append(t[order])
            units.append(u[order])
            labels.append(label)
        # four speakers, each with every label (the quick preset validates on held-out
        # speakers: a speaker holding only some labels would take those out of training)
        write_shd_file(root / name, times, units, labels, [(i // 20) % 4 for i in range(n)])
    return root


def write_echo_neuronio(
    root: Path, n_files: int = 3, sims_per_file: int = 6, duration_ms: int = 1200, seed: int = 0
) -> Path:
    """NeuronIO pickles with 6 segments (12 inputs, 40 spikes each per simulation); the
    output spikes 2 ms after each spike of excitatory input 0, the soma voltage is
    -70 mV + 8 mV x (that input filtered with exp(-t / 10 ms)) + N(0, 0.5 mV)."""
    from elm_snn.data import neuronio as nio

    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    n_seg = 6
    params = {
        "allSegmentsType": ["basal"] * n_seg,
        "allSegments_DistFromSoma": rng.uniform(0, 500, n_seg).tolist(),
        "totalSimDurationInSec": duration_ms / 1000,
    }
    kernel = np.exp(-np.arange(60) / 10.0)
    for f in range(n_files):
        sims = []
        for _ in range(sims_per_file):

            def spikes() -> dict[int, np.ndarray]:
                return {
                    s: np.sort(rng.choice(duration_ms - 5, 40, replace=False)) for s in range(n_seg)
                }

            ex, inh = spikes(), spikes()
            drive = np.zeros(duration_ms)
            drive[ex[0]] = 1.0
            soma = -70.0 + 8.0 * np.convolve(drive, kernel)[:duration_ms]
            soma += rng.normal(0.0, 0.5, duration_ms)
            # a spike at t ms falls in bin int(t - 0.5): bin (input time + 2)
            out = ex[0].astype(np.float64) + 2.5
            sims.append(nio.NeuronIOSimulation(ex, inh, out, soma))
        nio.write_neuronio_pickle(root / f"sim__echo__{f}.p", sims, params)
    return root


def test_shd_learns_through_the_engine(tmp_path: Path) -> None:
    root = write_band_digits(tmp_path / "shd", lambda label: label, 160, 60, band=35)
    cfg = resolve_config(
        "shd",
        "elm",
        "quick",
        data_root=str(root),
        **COMMON,
        bin_size_ms=50.0,
        batch_size=16,
        max_epochs=15,
        train_samples_per_epoch=None,
        val_samples=None,
        test_samples=None,
    )
    result = train(cfg, tmp_path / "run")
    assert result["chance"] == pytest.approx(1 / 20)
    assert result["test_accuracy"] >= 0.6, result


def test_shd_adding_learns_through_the_engine(tmp_path: Path) -> None:
    root = write_band_digits(tmp_path / "shd", lambda label: label % 10, 160, 60, band=70)
    cfg = resolve_config(
        "shd-adding",
        "elm",
        "quick",
        data_root=str(root),
        **COMMON,
        bin_size_ms=100.0,
        batch_size=16,
        max_epochs=20,
        train_samples_per_epoch=512,
        val_samples=64,
        test_samples=200,
    )
    result = train(cfg, tmp_path / "run")
    assert result["chance"] == pytest.approx(1 / 19)
    assert result["test_accuracy"] >= 0.3, result


def test_neuronio_learns_through_the_engine(tmp_path: Path) -> None:
    root = write_echo_neuronio(tmp_path / "neuronio")
    cfg = resolve_config(
        "neuronio",
        "elm",
        "quick",
        data_root=str(root),
        **{**COMMON, "num_memory": 8, "lr": 1e-2},
        window_ms=200,
        burn_in_ms=50,
        batch_size=8,
        max_epochs=20,
        train_samples_per_epoch=64,
        val_samples=16,
    )
    result = train(cfg, tmp_path / "run")
    assert result["chance"] == 0.5
    assert result["test_num_simulations"] >= 1
    assert result["test_auc"] >= 0.9, result
    assert result["test_soma_explained_variance_percent"] >= 60.0, result
