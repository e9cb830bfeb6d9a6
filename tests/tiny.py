"""The one home of the tests' tiny runs: tiny data written in ``tmp_path`` (no network),
tiny run configurations of every task family (:func:`tiny_config`) and the fixtures that
serve them. Conftest modules import the fixtures from here; test modules import the helpers
as ``from tests.tiny import tiny_config``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from elm_snn.tasks import LRA_TASKS, resolve_config

# tiny model sizes so that every task/model pair trains in about a second
TINY = dict(
    num_memory=6,
    num_branches=6,
    synapses_per_branch=5,
    lstm_hidden=8,
    snn_num_neurons=40,
    snn_synapses_per_neuron=10,
    batch_size=8,
    eval_batch_size=16,
    max_epochs=1,
    progress_bar=False,
    accelerator="cpu",
)


def write_tiny_shd(root: Path, n_train: int = 80, n_test: int = 40, seed: int = 0) -> Path:
    """``shd_train.h5`` / ``shd_test.h5`` with class-dependent channels (learnable)."""
    from elm_snn.data.shd_format import write_shd_file

    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for name, n in (("shd_train.h5", n_train), ("shd_test.h5", n_test)):
        times, units, labels = [], [], []
        for i in range(n):
            label = i % 20
            k = 40
            times.append(np.sort(rng.uniform(0.0, 0.95, k)))
            units.append((label * 30 + rng.integers(0, 30, k)) % 700)
            labels.append(label)
        write_shd_file(root / name, times, units, labels, [i % 4 for i in range(n)])
    return root


def write_tiny_neuronio(
    root: Path,
    n_files: int = 3,
    sims_per_file: int = 4,
    seed: int = 0,
    duration_ms: int = 1200,
    n_seg: int = 6,
) -> Path:
    """NeuronIO pickle files with ``2 * n_seg`` inputs and a few output spikes each."""
    from elm_snn.data import neuronio as nio

    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    params = {
        "allSegmentsType": ["basal"] * n_seg,
        "allSegments_DistFromSoma": rng.uniform(0, 500, n_seg).tolist(),
        "totalSimDurationInSec": duration_ms / 1000,
    }
    for f in range(n_files):
        sims = []
        for _ in range(sims_per_file):

            def spikes() -> dict[int, np.ndarray]:
                return {
                    s: np.sort(rng.choice(duration_ms, 40, replace=False)) for s in range(n_seg)
                }

            out = np.sort(rng.uniform(10.0, duration_ms - 1.0, 12))
            sims.append(
                nio.NeuronIOSimulation(spikes(), spikes(), out, rng.normal(-68, 3, duration_ms))
            )
        nio.write_neuronio_pickle(root / f"sim__tiny__{f}.p", sims, params)
    return root


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Own on-disk cache per test and an empty in-memory digit cache.

    The compiled ELM loops (tested in tests/kernels) would be rebuilt in every isolated
    cache, so these tests use the fused kernel's pure-PyTorch loops."""
    monkeypatch.setenv("ELM_SNN_CACHE", str(tmp_path / "elm_cache"))
    monkeypatch.setenv("ELM_SNN_COMPILED", "0")
    from elm_snn.data.cache import clear_memory_cache

    clear_memory_cache()
    yield
    clear_memory_cache()


@pytest.fixture
def shd_root(tmp_path: Path) -> Path:
    return write_tiny_shd(tmp_path / "shd")


@pytest.fixture
def neuronio_root(tmp_path: Path) -> Path:
    return write_tiny_neuronio(tmp_path / "neuronio")


#: LRA tasks: tiny models on a few tokens
TINY_LRA = dict(
    num_memory=4,
    mlp_hidden_size=8,
    num_branches=4,
    synapses_per_branch=4,
    lstm_hidden=6,
    batch_size=4,
    eval_batch_size=8,
    max_epochs=1,
    progress_bar=False,
    accelerator="cpu",
)


def tiny_config(task: str, model: str, data_root: Path | str, **changes: Any):
    """A quick-preset config of ``task`` with tiny models and few samples, then ``changes``."""
    if task in LRA_TASKS:
        values: dict[str, Any] = dict(TINY_LRA, data_root=str(data_root))
    elif task == "neuronio":
        values = dict(TINY, data_root=str(data_root))
        values.update(
            train_samples_per_epoch=16,
            val_samples=8,
            window_ms=200,
            burn_in_ms=50,
            num_branches=3,
            synapses_per_branch=4,
        )
    else:
        values = dict(TINY, data_root=str(data_root))
        values.update(bin_size_ms=50.0, train_samples_per_epoch=32, val_samples=16, test_samples=16)
    values.update(changes)
    return resolve_config(task, model, "quick", **values)
