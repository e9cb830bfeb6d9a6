"""The fast cochlea against ``lauscher`` (the model SHD was made with), stage by stage.

Clips are 40 ms at 48 kHz and the basilar membrane has 100 channels (same places model,
``linspace(0, 3.5, 100)``) so ``lauscher`` runs in seconds. Deterministic stages must agree
to floating-point precision; the stochastic fibre sampling must agree in spike statistics.
"""

from __future__ import annotations

import numpy as np
import pytest

from elm_snn.synth.cochlea import (
    BushyCellParameters,
    Cochlea,
    basilar_membrane_transfer,
    clear_transfer_cache,
    hann_window,
    rms_normalize,
)
from tests.conftest import require_module

FS = 48_000
OUT_FS = FS // 2


def _clip(n: int = 1920, seed: int = 0) -> np.ndarray:
    t = np.arange(n) / FS
    rng = np.random.default_rng(seed)
    return np.sin(2 * np.pi * (300 + 4000 * t / t[-1]) * t) + 0.3 * rng.standard_normal(n)


@pytest.fixture(scope="module")
def lauscher_bm():
    """lauscher's preprocessing + basilar membrane on the 40 ms clip."""
    require_module("lauscher")
    from lauscher.audiowaves import MonoAudioWave
    from lauscher.helpers import CommandLineArguments
    from lauscher.transformations import BasilarMembrane, HanningWindow, RmsNormalizer

    CommandLineArguments().num_concurrent_jobs = 1
    wave = MonoAudioWave(_clip().copy(), FS).transform(RmsNormalizer(0.3))
    wave = wave.transform(HanningWindow())
    return wave.samples.copy(), BasilarMembrane(channels=100)(wave)


def test_preprocessing_matches_lauscher(lauscher_bm) -> None:
    ref, _ = lauscher_bm
    ours = Cochlea().preprocess(_clip())
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-15)
    # odd length: the middle sample is untouched, the ramps are mirror images
    w = hann_window(np.ones(7))
    assert w[3] == 1.0 and np.allclose(w[:3], w[-3:][::-1]) and w[0] == 0.0
    np.testing.assert_allclose(np.sqrt(np.mean(rms_normalize(_clip(), 0.5) ** 2)), 0.5)


def test_basilar_membrane_matches_lauscher(lauscher_bm) -> None:
    _, ref = lauscher_bm
    clear_transfer_cache()
    cochlea = Cochlea(num_channels=100)
    velocity, rate = cochlea.basilar_membrane(cochlea.preprocess(_clip()), FS)
    assert rate == ref.sample_rate == OUT_FS
    assert velocity.shape == ref.channels.shape == (100, 961)
    # single-precision inverse FFT: per-channel error relative to the channel's peak
    peak = np.abs(ref.channels).max(axis=1)
    err = np.abs(velocity - ref.channels).max(axis=1) / peak
    assert err.max() < 2e-6, err.max()


def test_band_limited_transfer_is_a_prefix() -> None:
    full = basilar_membrane_transfer(960, FS, num_channels=20)
    part = basilar_membrane_transfer(960, FS, num_channels=20, max_frequency_hz=11025.0)
    assert part.shape == (20, 11025 * 960 // FS + 1)
    np.testing.assert_array_equal(part, full[:, : part.shape[1]])


def test_hair_cell_matches_lauscher_exactly(lauscher_bm) -> None:
    from lauscher.membranevelocity import MembraneVelocity
    from lauscher.transformations import HairCell

    _, bm = lauscher_bm
    sub = bm.channels[::5]  # 20 channels keep lauscher's Python loop short
    ref = HairCell()(MembraneVelocity(sub, bm.sample_rate)).channels
    ours = Cochlea().hair_cell(sub, bm.sample_rate)
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=0)
    assert ours.max() > 1.1 * ours[:, 0].max()  # the clip drives the cells above rest


def test_bushy_lif_matches_lauscher_exactly() -> None:
    """Same fibre spikes in -> the same bushy-cell spikes out."""
    require_module("lauscher")
    from lauscher.transformations import BushyCell

    cell = BushyCell()
    cochlea = Cochlea()
    np.random.seed(1)  # noqa: NPY002 - lauscher samples from the global RNG
    t = 960
    total = 0
    for gain in np.linspace(0.2, 1.5, 8):
        prob = gain * (0.003 + 0.05 * np.sin(np.linspace(0, 3 * np.pi, t)) ** 2)
        fibres = cell._sample(prob, OUT_FS)  # (T, 40) bool, lauscher's own sampling
        ref = cell._lif(fibres.astype(float), OUT_FS).astype(bool)
        ours = cochlea.bushy_cells(fibres.sum(axis=1)[None, :].astype(np.int64), OUT_FS)[0]
        np.testing.assert_array_equal(ours, ref)
        total += int(ref.sum())
    assert total > 50  # the comparison covered many spikes and refractory periods


def test_fibre_sampling_statistics_match_lauscher() -> None:
    """Fibre spike counts (refractory Bernoulli process) agree in mean with lauscher's.

    8 channels x 40 fibres x 960 steps, 60 repeats: each channel's mean count over repeats has
    a standard error of ~1.5 % of the mean; the tolerance is 6 % per channel and 2 % overall.
    """
    require_module("lauscher")
    from lauscher.transformations import BushyCell

    cell = BushyCell()
    cochlea = Cochlea()
    t = 960
    prob = (0.003 + 0.05 * np.sin(np.linspace(0, 3 * np.pi, t)) ** 2)[None, :] * np.linspace(
        0.2, 1.5, 8
    )[:, None]
    reps = 60
    np.random.seed(2)  # noqa: NPY002 - lauscher samples from the global RNG
    ref = np.zeros(8)
    for _ in range(reps):
        for ch in range(8):
            ref[ch] += cell._sample(prob[ch], OUT_FS).sum()
    ours = np.zeros(8)
    for rep in range(reps):
        counts = cochlea.auditory_nerve(prob, OUT_FS, seed=rep)
        assert counts.dtype == np.uint8 and counts.max() <= 40
        ours += counts.sum(axis=1)
    np.testing.assert_allclose(ours / reps, ref / reps, rtol=0.06)
    assert abs(ours.sum() / ref.sum() - 1) < 0.02
    # refractoriness: with p = 1 every fibre fires exactly every 24 steps
    sure = cochlea.auditory_nerve(np.ones((1, 100)), OUT_FS, seed=0)[0]
    np.testing.assert_array_equal(np.flatnonzero(sure), np.arange(0, 100, 24))
    assert set(sure[sure > 0]) == {40}


def _bernoulli_fibres(prob: np.ndarray, n_fibres: int, dead: int, reps: int, seed: int):
    """Brute force of stage 5a's model: every fibre draws a uniform at every step and fires
    with probability ``prob[t]`` unless it fired in the last ``dead - 1`` steps."""
    rng = np.random.default_rng(seed)
    counts = np.zeros((reps, prob.size), dtype=np.int64)
    ready = np.zeros((reps, n_fibres), dtype=np.int64)  # first step each fibre may fire
    for t, p in enumerate(prob):
        fire = (rng.random((reps, n_fibres)) < p) & (ready <= t)
        ready[fire] = t + dead
        counts[:, t] = fire.sum(axis=1)
    return counts


def test_fibre_race_has_the_per_step_bernoulli_process_distribution() -> None:
    """The race of exponential clocks (one variate per spike) against per-fibre, per-step
    Bernoulli draws, beyond the mean: a quiet stretch, a surge (p = 0.3: several fibres per
    step, then the whole pool refractory and back 24 steps later, which rings) and a
    moderate stretch. Each 8-step window's mean count and, per stretch, the count
    distribution (P(k) for k = 0..4) and its variance agree within 4.5 standard errors
    (400 channels of 40 fibres on each side)."""
    prob = np.concatenate([np.full(160, 0.003), np.full(80, 0.3), np.full(240, 0.01)])
    reps = 400
    ours = Cochlea().auditory_nerve(np.tile(prob, (reps, 1)), OUT_FS, seed=7).astype(np.int64)
    ref = _bernoulli_fibres(prob, 40, 24, reps, seed=1)

    def close(a: np.ndarray, b: np.ndarray, what: str) -> None:
        # a, b: (reps, n) samples of n statistics; compare the means over reps
        se = np.sqrt(a.var(axis=0) / len(a) + b.var(axis=0) / len(b)) + 1e-12
        z = np.abs(a.mean(axis=0) - b.mean(axis=0)) / se
        assert z.max() < 4.5, (what, z.max(), int(z.argmax()))

    windows = lambda c: c.reshape(reps, -1, 8).mean(axis=2)  # noqa: E731
    close(windows(ours), windows(ref), "windowed mean")
    assert windows(ref)[:, 20:30].mean() > 3 * windows(ref)[:, 30:33].mean()  # the surge rings
    for lo, hi in ((40, 160), (160, 240), (300, 480)):
        a, b = ours[:, lo:hi], ref[:, lo:hi]
        for k in range(5):
            close((a == k).mean(axis=1)[:, None], (b == k).mean(axis=1)[:, None], f"P({k}) {lo}")
        close(a.var(axis=1)[:, None], b.var(axis=1)[:, None], f"variance in {lo}-{hi}")


def test_bushy_stage_spike_counts_match_lauscher() -> None:
    """Fibres + bushy cells from the same firing probabilities: lauscher's whole stage
    (``BushyCell()(...)``) against ours, in spike counts per channel and in total.

    12 channels x 960 steps; lauscher gives ~220 spikes per run (4 runs pooled, standard
    error ~3 %), ours is averaged over 40 runs. Tolerances: 12 % in total, and every
    channel within 35 % (channels have 7-25 spikes per run).
    """
    require_module("lauscher")
    from lauscher.firing_probability import FiringProbability
    from lauscher.helpers import CommandLineArguments
    from lauscher.transformations import BushyCell

    CommandLineArguments().num_concurrent_jobs = 1
    t = 960
    prob = (0.003 + 0.05 * np.sin(np.linspace(0, 3 * np.pi, t)) ** 2)[None, :] * np.linspace(
        0.2, 1.5, 12
    )[:, None]
    np.random.seed(3)  # noqa: NPY002 - lauscher samples from the global RNG
    reps = 4
    ref = np.zeros(12)
    for _ in range(reps):
        st = BushyCell()(FiringProbability(prob, OUT_FS))
        assert np.allclose(st.spike_times * OUT_FS, np.round(st.spike_times * OUT_FS))
        ref += np.bincount(st.spike_labels.astype(int), minlength=12)
    cochlea = Cochlea()
    ours = np.zeros(12)
    for rep in range(40):
        counts = cochlea.auditory_nerve(prob, OUT_FS, seed=100 + rep)
        ours += cochlea.bushy_cells(counts, OUT_FS).sum(axis=1)
    ref_mean, ours_mean = ref / reps, ours / 40
    assert ref_mean.sum() > 100
    assert abs(ours_mean.sum() / ref_mean.sum() - 1) < 0.12, (ours_mean, ref_mean)
    np.testing.assert_allclose(ours_mean, ref_mean, rtol=0.35)


def test_full_call_output_and_reproducibility() -> None:
    cochlea = Cochlea(num_channels=64)
    x = _clip()
    a = cochlea(x, FS, seed=5)
    b = cochlea(x, FS, seed=5)
    c = cochlea(x, FS, seed=6)
    assert len(a) > 0 and a.sample_rate_hz == OUT_FS and a.num_steps == 961
    np.testing.assert_array_equal(a.steps, b.steps)
    np.testing.assert_array_equal(a.units, b.units)
    assert not (len(a) == len(c) and np.array_equal(a.units, c.units))
    assert np.all(np.diff(a.steps) >= 0) and a.units.max() < 64
    np.testing.assert_allclose(a.times_ms, a.steps / 24.0)
    np.testing.assert_array_equal(a.times_seconds, a.steps / OUT_FS)


def _stage_by_stage(cochlea: Cochlea, velocity: np.ndarray, out_rate: int, seed: int):
    """(steps, units) of the public stage methods run one after the other."""
    prob = cochlea.hair_cell(velocity, out_rate)
    raster = cochlea.bushy_cells(cochlea.auditory_nerve(prob, out_rate, seed), out_rate)
    steps, units = np.nonzero(raster.T)
    return steps, units, raster.shape[1]


@pytest.mark.parametrize("num_channels", [1, 7, 32, 33, 64])
def test_fused_stages_match_the_stage_by_stage_reference_bit_for_bit(num_channels) -> None:
    """Stages 4-5 fused (channels in SIMD blocks, in time order) give the very spikes of the
    public stage methods run one after the other on the same velocity, for channel counts
    below, at and not a multiple of the fused block."""
    cochlea = Cochlea(num_channels=num_channels)
    for seed, clip_seed in ((0, 0), (11, 3)):
        velocity, out_rate = cochlea.basilar_membrane(cochlea.preprocess(_clip(seed=clip_seed)), FS)
        fast = cochlea._fused_spikes([(0, velocity)], velocity.shape[1], out_rate, seed)
        steps, units, num_steps = _stage_by_stage(cochlea, velocity, out_rate, seed)
        assert len(steps) > 0 or num_channels < 64  # few channels: a 40 ms clip may not fire
        np.testing.assert_array_equal(fast.steps, steps)
        np.testing.assert_array_equal(fast.units, units)
        assert (fast.num_steps, fast.sample_rate_hz) == (num_steps, OUT_FS)
        assert fast.steps.dtype == fast.units.dtype == np.int64


def test_fused_stages_match_the_reference_where_the_hazard_needs_log1p() -> None:
    """A velocity 300 times too loud drives the firing probability above the series' range
    (p > 1/16: the fused kernel's scalar ``log1p`` branch) in some steps; the spikes still
    equal the stage-by-stage reference's bit for bit."""
    cochlea = Cochlea(num_channels=33)
    velocity, out_rate = cochlea.basilar_membrane(cochlea.preprocess(_clip(seed=0)), FS)
    loud = (velocity * 300).astype(np.float32)
    assert (cochlea.hair_cell(loud, out_rate) > 1 / 16).sum() > 10
    fast = cochlea._fused_spikes([(0, loud)], loud.shape[1], out_rate, 3)
    steps, units, _ = _stage_by_stage(cochlea, loud, out_rate, 3)
    assert len(steps) > 20
    np.testing.assert_array_equal(fast.steps, steps)
    np.testing.assert_array_equal(fast.units, units)


def test_a_channels_spikes_depend_on_the_seed_and_its_index_only() -> None:
    """Every channel draws from its own stream: blocks of any size, in any order, and a
    subset of the channels give each channel the same spikes as the whole run."""
    cochlea = Cochlea(num_channels=40)
    velocity, out_rate = cochlea.basilar_membrane(cochlea.preprocess(_clip(24000, seed=4)), FS)
    whole = cochlea._fused_spikes([(0, velocity)], velocity.shape[1], out_rate, 9)
    blocks = [(start, velocity[start : start + 7]) for start in range(0, 40, 7)][::-1]
    split = cochlea._fused_spikes(blocks, velocity.shape[1], out_rate, 9)
    np.testing.assert_array_equal(split.steps, whole.steps)
    np.testing.assert_array_equal(split.units, whole.units)
    lo = int(np.median(whole.units)) - 4  # nine channels around the busiest
    part = cochlea._fused_spikes([(lo, velocity[lo : lo + 9])], velocity.shape[1], out_rate, 9)
    inside = (whole.units >= lo) & (whole.units < lo + 9)
    assert inside.sum() >= 5 and len(whole) > 20
    np.testing.assert_array_equal(part.steps, whole.steps[inside])
    np.testing.assert_array_equal(part.units, whole.units[inside])
    prob = cochlea.hair_cell(velocity, out_rate)
    np.testing.assert_array_equal(
        cochlea.auditory_nerve(prob[lo : lo + 9], out_rate, 9, first_channel=lo),
        cochlea.auditory_nerve(prob, out_rate, 9)[lo : lo + 9],
    )


@pytest.mark.parametrize("num_samples", [1920, 1919])
@pytest.mark.parametrize("max_frequency_hz", [None, 6000.0, 20000.0])
def test_fast_basilar_membrane_is_the_reference_to_single_precision(
    num_samples, max_frequency_hz
) -> None:
    """The fast path's real inverse FFT of the Hermitian part, block by block, gives the
    reference's complex inverse FFT's real part to single-precision rounding (even and
    odd output lengths; band limits below, at about and above a quarter of the rate)."""
    cochlea = Cochlea(num_channels=70, max_frequency_hz=max_frequency_hz)
    x = cochlea.preprocess(_clip(num_samples))
    ref, _ = cochlea.basilar_membrane(x, FS)
    blocks = list(cochlea._fast_velocity(x, FS))
    assert [start for start, _ in blocks] == [0, 32, 64]
    fast = np.concatenate([rows for _, rows in blocks])
    assert fast.dtype == np.float32 and fast.shape == ref.shape
    peak = np.abs(ref).max(axis=1)
    err = np.abs(fast - ref).max(axis=1) / peak
    assert err.max() < 2e-6, err.max()


@pytest.mark.parametrize("num_channels", [7, 64])
def test_full_call_is_the_fused_stages_on_the_fast_velocity(num_channels) -> None:
    """``__call__`` = stage 3's fast path + the fused stages 4-5; against the all-reference
    path (complex inverse FFT) the rounding of stage 3 may move a rare spike, no more."""
    cochlea = Cochlea(num_channels=num_channels)
    for seed, clip_seed in ((0, 0), (11, 3)):
        clip = _clip(seed=clip_seed)
        fast = cochlea(clip, FS, seed=seed)
        x = cochlea.preprocess(clip)
        velocity = np.concatenate([rows for _, rows in cochlea._fast_velocity(x, FS)])
        steps, units, num_steps = _stage_by_stage(cochlea, velocity, OUT_FS, seed)
        np.testing.assert_array_equal(fast.steps, steps)
        np.testing.assert_array_equal(fast.units, units)
        assert (fast.num_steps, fast.sample_rate_hz) == (num_steps, OUT_FS)
        ref = cochlea.reference_spikes(clip, FS, seed=seed)
        assert len(ref) > 0 or num_channels < 64
        pairs = lambda sp: set(zip(sp.steps.tolist(), sp.units.tolist(), strict=True))  # noqa: E731
        shared = pairs(fast) & pairs(ref)
        assert len(fast) - len(shared) <= 0.01 * len(ref) + 1
        assert len(ref) - len(shared) <= 0.01 * len(ref) + 1


def test_legacy_spikes_are_the_version_2_cochleas_bit_for_bit() -> None:
    """``legacy_spikes`` gives the spikes elm-snn's cochlea gave before generator version 3.
    ``tests/synth/data/cochlea_v2_spikes.npz`` holds the output of ``Cochlea(channels)(
    _clip(n, seed=clip_seed), 48_000, seed=seed)`` at commit d127f50 for the two cases
    below (written by that commit's code, not by hand)."""
    from pathlib import Path

    cases = [(24000, 0, 0, 200), (23999, 3, 11, 97)]
    with np.load(Path(__file__).parent / "data" / "cochlea_v2_spikes.npz") as pinned:
        for i, (n, clip_seed, seed, channels) in enumerate(cases):
            spikes = Cochlea(channels).legacy_spikes(_clip(n, seed=clip_seed), FS, seed=seed)
            assert len(spikes) > 50
            np.testing.assert_array_equal(spikes.steps, pinned[f"steps_{i}"])
            np.testing.assert_array_equal(spikes.units, pinned[f"units_{i}"])


def test_hazard_series_is_log1p_to_two_ulp() -> None:
    from elm_snn.synth.cochlea import _SERIES_MAX_P, _kernels

    increment = _kernels()["hazard_increment"]
    rng = np.random.default_rng(0)
    grid = np.concatenate(
        [rng.uniform(0, _SERIES_MAX_P, 20_000), np.geomspace(1e-300, _SERIES_MAX_P, 400)]
    )
    ours = np.array([increment(p) for p in grid])
    exact = -np.log1p(-grid)
    assert np.all(np.abs(ours - exact) <= 2 * np.spacing(exact))
    # generator version 2's 16-term power series: as close, other doubles for many p
    legacy = np.array([_kernels()["legacy_hazard_increment"](p) for p in grid])
    assert np.all(np.abs(legacy - exact) <= 2 * np.spacing(exact))
    assert np.mean(legacy != ours) > 0.1
    above = np.nextafter(_SERIES_MAX_P, 1.0)
    assert increment(above) == -np.log1p(-above)  # log1p itself above the series' range
    assert increment(0.0) == 0.0 and increment(-0.1) == 0.0 and increment(1.0) == 1000.0


def test_fused_call_keeps_a_spike_list_that_outgrows_its_first_buffer(monkeypatch) -> None:
    from elm_snn.synth import cochlea as cochlea_module

    monkeypatch.setattr(cochlea_module, "_FUSED_FIRST_CAPACITY", 2)
    cochlea = Cochlea(num_channels=64)
    velocity, out_rate = cochlea.basilar_membrane(cochlea.preprocess(_clip()), FS)
    fast = cochlea._fused_spikes([(0, velocity)], velocity.shape[1], out_rate, 2)
    steps, units, _ = _stage_by_stage(cochlea, velocity, out_rate, 2)
    assert len(steps) > 8  # the list doubled at least twice
    np.testing.assert_array_equal(fast.steps, steps)
    np.testing.assert_array_equal(fast.units, units)


def test_disk_cache_round_trip(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ELM_SNN_CACHE", str(tmp_path))
    clear_transfer_cache()
    cochlea = Cochlea(num_channels=16, disk_cache=True)
    x = cochlea.preprocess(_clip(960))
    v1, _ = cochlea.basilar_membrane(x, FS)
    files = list((tmp_path / "cochlea").glob("bm_*.npy"))
    assert len(files) == 1
    clear_transfer_cache()
    v2, _ = cochlea.basilar_membrane(x, FS)  # loaded from disk
    np.testing.assert_array_equal(v1, v2)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda c: c(np.zeros((2, 10)), FS), "audio: expected a 1-D"),
        (lambda c: c(np.zeros(100), FS), "silent"),
        (lambda c: c(np.array([1.0, np.nan, 0, 1]), FS), "finite"),
        (lambda c: c(np.ones(100), 48000.0), "sample_rate_hz: expected an int"),
        (lambda c: c(np.ones(100), FS, seed=-1), "seed"),
        (lambda c: c.auditory_nerve(-np.ones((2, 5)), OUT_FS, 0), "probability"),
        (lambda c: c.bushy_cells(np.ones((2, 5)), OUT_FS), "fibre_counts"),
        (lambda c: Cochlea(num_channels=0), "num_channels"),
        (lambda c: Cochlea(max_frequency_hz=-1.0), "max_frequency_hz"),
        (lambda c: Cochlea(bushy_cell=BushyCellParameters(n_convergence=300)), "n_convergence"),
    ],
)
def test_bad_arguments(call, match) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        call(Cochlea(num_channels=8))
