"""NeuronIO preprocessing, splits, training windows and the stitched evaluation protocol."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from elm_snn.data import neuronio as nio
from elm_snn.data import neuronio_datasets as nd
from elm_snn.data import neuronio_eval as ne
from tests.conftest import require_module

T = 1000
N_SEG = nio.NEURONIO_NUM_SEGMENTS


def _write(path, seed: int, n_sims: int, spike_counts) -> None:
    rng = np.random.default_rng(seed)
    sims = []
    for k in range(n_sims):
        ex = {s: rng.choice(T, 3, replace=False) for s in range(0, N_SEG, 3)}
        inh = {s: rng.choice(T, 2, replace=False) for s in range(1, N_SEG, 4)}
        out = np.sort(rng.uniform(1, T - 1, spike_counts[k]))
        v = rng.normal(-66, 5, T)  # some values above -55 mV, so the cap matters
        sims.append(nio.NeuronIOSimulation(ex, inh, out, v))
    params = {
        "allSegmentsType": ["basal"] * N_SEG,
        "allSegments_DistFromSoma": [0.0] * N_SEG,
        "totalSimDurationInSec": T / 1000,
    }
    nio.write_neuronio_pickle(path, sims, params)


@pytest.fixture()
def files(tmp_path):
    _write(tmp_path / "a_sim__0.p", 0, 3, [2, 30, 5])  # 30 spikes: dropped by "official"
    _write(tmp_path / "b_sim__1.p", 1, 2, [1, 8])
    return nd.load_neuronio_files(tmp_path)


def test_preprocess_soma():
    v = np.array([-80.0, -67.7, -55.0, -40.0, 20.0], dtype=np.float32)
    expected = (np.array([-80.0, -67.7, -55.0, -55.0, -55.0]) + 67.7) / 10
    np.testing.assert_allclose(nd.preprocess_soma(v), expected, rtol=1e-6)
    torch.testing.assert_close(
        nd.preprocess_soma(torch.from_numpy(v)), torch.from_numpy(expected).float()
    )
    np.testing.assert_allclose(nd.soma_from_training_units(nd.preprocess_soma(v))[:3], v[:3])


def test_window_dataset(files):
    ds = nd.NeuronIOWindowDataset(files, num_windows=6, ignore_start_ms=200, seed=3)
    assert len(ds) == 6
    sample = {
        (i, k): files[i].sample(k) for i, f in enumerate(files) for k in range(f.num_simulations)
    }
    signs = nio.synapse_types(N_SEG)
    draws = []
    for i in range(len(ds)):
        x, spk, volt = ds[i]
        (fi, si), start = ds.draw(i)
        draws.append(((fi, si), start))
        assert 200 <= start <= T - 500
        s = sample[(fi, si)]
        assert x.shape == (500, 1278) and x.dtype == torch.float32
        np.testing.assert_array_equal(x.numpy(), s.inputs[:, start : start + 500].T * signs)
        np.testing.assert_array_equal(spk.numpy(), s.output_spikes[start : start + 500])
        v = s.soma_voltage_mv[start : start + 500].astype(np.float64)
        np.testing.assert_allclose(volt.numpy(), (np.minimum(v, -55) + 67.7) / 10, atol=1e-5)
    again = nd.NeuronIOWindowDataset(files, num_windows=6, ignore_start_ms=200, seed=3)
    assert [again.draw(i) for i in range(6)] == draws
    torch.testing.assert_close(again[4][0], ds[4][0])
    again.set_epoch(1)
    assert [again.draw(i) for i in range(6)] != draws
    with pytest.raises(ValueError, match="exceeds the shortest"):
        nd.NeuronIOWindowDataset(files, num_windows=2, ignore_start_ms=600)
    with pytest.raises(IndexError, match="out of range"):
        nd.NeuronIOWindowDataset(files, [(0, 3)], num_windows=2, ignore_start_ms=0)


def test_split(files):
    sp = nd.split_neuronio(files, (0.5, 0.5, 0.0), seed=1)
    assert sp.test == ()
    for part in (sp.train, sp.valid):  # whole files only
        assert len({fi for fi, _ in part}) == 1
        fi = part[0][0]
        assert sorted(part) == [(fi, k) for k in range(files[fi].num_simulations)]
    assert nd.split_neuronio(files, (0.5, 0.5, 0.0), seed=1) == sp
    sp2 = nd.split_neuronio(files, (0.6, 0.2, 0.2), seed=0, by="simulation")
    allrefs = sorted(sp2.train + sp2.valid + sp2.test)
    assert allrefs == nd.all_simulations(files) and (len(sp2.train), len(sp2.valid)) == (3, 1)
    with pytest.raises(ValueError, match="gets no file"):
        nd.split_neuronio(files, (0.8, 0.1, 0.1))
    with pytest.raises(ValueError, match="summing to 1"):
        nd.split_neuronio(files, (0.8, 0.1, 0.2))


def test_window_starts_official_count():
    starts = ne.evaluation_window_starts(6000)
    assert len(starts) == 17 and starts[-1] == 16 * 350
    assert list(ne.evaluation_window_starts(1000)) == [0, 350, 700]
    assert list(ne.evaluation_window_starts(850)) == [0, 350, 700]


class _LocalTime:
    """Outputs the time index within the window (restarts each window)."""

    def __call__(self, x):
        W, B, _ = x.shape
        t = torch.arange(W, dtype=torch.float32)[:, None].expand(W, B)
        return torch.sigmoid(torch.zeros(W, B)), t.clone()


@pytest.mark.parametrize("T_total", [1000, 6000, 850, 400])
def test_stitching_keeps_the_right_window_samples(T_total):
    x = torch.zeros(T_total, 2, 3)
    prob, soma = ne.predict_stitched(_LocalTime(), x, outputs="probability_mv")
    t = np.arange(T_total)
    W, B, S = 500, 150, 350
    expected = np.where(t < W, t, t - ((t - B) // S) * S)  # independent of the implementation
    np.testing.assert_array_equal(soma[:, 0].numpy(), expected)
    np.testing.assert_array_equal(soma[:, 1].numpy(), expected)


class _CausalBox:
    """Causal model with a 100 ms memory: y[t] = sum of w.x over the last 100 steps (fresh state
    per call). Its stitched output equals a single run over the whole sequence exactly when the
    memory (100 ms) is shorter than the burn-in (150 ms)."""

    def __init__(self, n_in: int) -> None:
        self.w = torch.linspace(-1, 1, n_in, dtype=torch.float64)
        self.calls = 0

    def __call__(self, x):
        self.calls += 1
        drive = x.double() @ self.w  # (W, B)
        c = torch.cumsum(drive, 0)
        y = c.clone()
        y[100:] -= c[:-100]
        return torch.stack([y * 0.05, y], dim=-1).float()


def test_stitched_equals_full_run_for_short_memory_model(files):
    f = files[0]
    x = torch.from_numpy(
        np.stack([nd.simulation_inputs(f, k) for k in range(f.num_simulations)], axis=1)
    )
    model = _CausalBox(x.shape[-1])
    prob, soma = ne.predict_stitched(model, x, outputs="raw", max_windows_per_call=4)
    assert model.calls == 3  # 3 windows x 3 sims in chunks of 4
    full = model(x).double()
    torch.testing.assert_close(prob, torch.sigmoid(full[..., 0].float()).double())
    torch.testing.assert_close(soma, full[..., 1] / 0.1 - 67.7, rtol=1e-6, atol=1e-4)


def _direct_official(files, model, refs, official=True):
    """The protocol of the format document, computed directly over whole runs."""
    spikes, prob, true_rel, pred_rel, groups = [], [], [], [], []
    for fi, si in refs:
        f = files[fi]
        full = model(torch.from_numpy(nd.simulation_inputs(f, si))[:, None]).double()[:, 0]
        spikes.append(f.output_raster(si).astype(float))
        prob.append(torch.sigmoid(full[:, 0].float()).double().numpy())
        true_rel.append(np.minimum(f.soma_voltage_mv[si].astype(float), -55.0) + 67.7)
        pred_rel.append(full[:, 1].numpy() * 10)
        groups.append(fi)
    spikes, prob, true_rel, pred_rel = map(np.array, (spikes, prob, true_rel, pred_rel))
    groups = np.array(groups)
    keep = np.ones(len(refs), bool)
    if official:
        for g in np.unique(groups):
            m = groups == g
            z = (pred_rel[m] - pred_rel[m].mean()) / pred_rel[m].std()
            pred_rel[m] = z * true_rel[m].std() + true_rel[m].mean()
        keep = spikes.sum(1) <= 24
    sk = require_module("sklearn.metrics")  # the oracle
    sl = np.s_[keep, 500:]
    y, s, a, b = spikes[sl].ravel(), prob[sl].ravel(), true_rel[sl].ravel(), pred_rel[sl].ravel()
    return {
        "AUC": sk.roc_auc_score(y, s),
        "soma_RMSE": np.sqrt(sk.mean_squared_error(a, b)),
        "soma_MAE": sk.mean_absolute_error(a, b),
        "soma_explained_variance_percent": 100 * sk.explained_variance_score(a, b),
    }, int(keep.sum())


@pytest.mark.parametrize("protocol", ["official", "plain"])
def test_evaluate_matches_direct_computation(files, protocol):
    model = _CausalBox(1278)
    res = ne.evaluate_neuronio(model, files, protocol=protocol, sims_per_call=2)
    refs = nd.all_simulations(files)
    direct, kept = _direct_official(files, model, refs, official=protocol == "official")
    assert res.num_simulations == 5 and res.num_kept == kept == (4 if protocol == "official" else 5)
    for key, val in direct.items():
        assert res.metrics[key] == pytest.approx(val, rel=1e-6, abs=1e-9), key
    # subsets: the official rescaling groups the selected simulations of each file
    sub = [(0, 0), (0, 2), (1, 1)]
    res = ne.evaluate_neuronio(model, files, sub, protocol=protocol)
    direct, _ = _direct_official(files, model, sub, official=protocol == "official")
    assert res.metrics["soma_RMSE"] == pytest.approx(direct["soma_RMSE"], rel=1e-6)


def test_metrics_from_predictions_errors():
    S, T_ = 2, 600
    z = np.zeros((S, T_))
    with pytest.raises(ValueError, match="protocol"):
        ne.neuronio_metrics_from_predictions(z, z, z, z, protocol="nope")
    spikes = np.zeros((S, T_))
    spikes[:, 550:] = 1  # 50 spikes each: the official filter keeps nothing
    with (
        pytest.raises(ValueError, match="no simulation"),
        pytest.warns(UserWarning, match="constant"),
    ):
        ne.neuronio_metrics_from_predictions(spikes, z, z - 70, z - 70)
    v = np.random.default_rng(0).normal(-70, 2, (S, T_))
    with pytest.warns(UserWarning, match="undefined"):
        res = ne.neuronio_metrics_from_predictions(np.zeros((S, T_)), z, v, v, protocol="plain")
    assert np.isnan(res.metrics["AUC"]) and res.metrics["soma_RMSE"] == 0.0
