"""Fixtures for the SHD / SHD-Adding tests: tiny SHD-layout files written in ``tmp_path``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from elm_snn.data.shd_format import write_shd_file

N_TRAIN = 60
N_TEST = 20


def make_samples(
    n: int, rng: np.random.Generator, max_time_s: float = 1.15, spikes: tuple[int, int] = (50, 200)
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Random sorted spike times (s) and channels, some beyond 1 s."""
    times, units = [], []
    for _ in range(n):
        k = int(rng.integers(*spikes))
        times.append(np.sort(rng.uniform(0.0, max_time_s, k)))
        units.append(rng.integers(0, 700, k))
    return times, units


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Each test gets its own on-disk cache folder and an empty in-memory digit cache."""
    monkeypatch.setenv("ELM_SNN_CACHE", str(tmp_path / "elm_cache"))
    from elm_snn.data.cache import clear_memory_cache

    clear_memory_cache()
    yield
    clear_memory_cache()


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list:
    """Make every tonic download attempt fail loudly and record it."""
    import tonic.dataset
    import tonic.download_utils

    calls: list = []

    def _forbidden(*args, **kwargs):
        calls.append((args, kwargs))
        raise AssertionError(f"network download attempted: {args} {kwargs}")

    monkeypatch.setattr(tonic.dataset, "download_and_extract_archive", _forbidden)
    monkeypatch.setattr(tonic.download_utils, "download_url", _forbidden)
    return calls


@pytest.fixture
def shd_dir(tmp_path: Path) -> Path:
    """A folder with ``shd_train.h5`` (60 samples, speakers 0-9, every label 0..19 three
    times) and ``shd_test.h5`` (20 samples, speakers 10-11), float16 times as real SHD."""
    rng = np.random.default_rng(1234)
    root = tmp_path / "shd"
    t, u = make_samples(N_TRAIN, rng)
    labels = np.tile(np.arange(20), N_TRAIN // 20)
    rng.shuffle(labels)
    write_shd_file(
        root / "shd_train.h5",
        t,
        u,
        labels,
        rng.integers(0, 10, N_TRAIN),
        meta_info={
            "gender": ["f", "m"] * 6,
            "age": np.arange(20, 32),
            "body_height": np.linspace(1.6, 1.9, 12),
        },
    )
    t, u = make_samples(N_TEST, rng)
    write_shd_file(root / "shd_test.h5", t, u, np.arange(N_TEST) % 20, 10 + np.arange(N_TEST) % 2)
    return root
