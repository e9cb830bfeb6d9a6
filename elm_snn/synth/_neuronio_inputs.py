"""Input side of the NeuronIO-style simulator (pure numpy, no NEURON): the channel ->
segment map and the input spike trains (public through :mod:`elm_snn.synth.neuronio_sim`)."""

from __future__ import annotations

import math

import numpy as np

from elm_snn.synth._neuronio_config import N_EXC, N_INH, NeuronIOSimConfig


def input_segment_map(n_inputs: int = N_EXC) -> np.ndarray:
    """Map input channels to dendritic segments of the fixed morphology.

    Each of the ``S`` dendritic segments of :func:`elm_snn.synth._morphology.segment_table`
    receives at least one channel; the remaining ``n_inputs - S`` are apportioned in
    proportion to segment length by largest-remainder rounding (ties go to the earlier
    segment). Channels are assigned to segments in segment order, so channel numbers grow
    from basal over trunk and obliques to the tuft.

    Args:
        n_inputs: number of input channels (>= the number of dendritic segments).

    Returns:
        int64 array of shape (n_inputs,): the segment index of each channel
        (non-decreasing).
    """
    from elm_snn.synth._morphology import segment_table

    table = segment_table()
    n_seg = len(table)
    if isinstance(n_inputs, bool) or not isinstance(n_inputs, (int, np.integer)):
        raise TypeError(f"n_inputs must be an int, got {type(n_inputs).__name__}")
    if n_inputs < n_seg:
        raise ValueError(f"n_inputs must be >= the {n_seg} dendritic segments, got {n_inputs}")
    lengths = np.array([s.length_um for s in table])
    extra = n_inputs - n_seg
    quota = extra * lengths / lengths.sum()
    counts = np.floor(quota).astype(np.int64)
    remainder = quota - counts
    order = np.argsort(-remainder, kind="stable")
    counts[order[: extra - int(counts.sum())]] += 1
    counts += 1
    assert int(counts.sum()) == n_inputs
    return np.repeat(np.arange(n_seg, dtype=np.int64), counts)


def _smoothed_noise(rng: np.random.Generator, n: int, sigma_ms: float) -> np.ndarray:
    """Unit-variance Gaussian noise smoothed by a Gaussian kernel of std ``sigma_ms`` (1 ms
    bins); shape (2, n)."""
    half = int(math.ceil(4 * sigma_ms))
    kernel = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma_ms) ** 2)
    kernel /= math.sqrt(float(np.sum(kernel**2)))  # unit variance of the filtered noise
    white = rng.standard_normal((2, n + 2 * half))
    return np.stack([np.convolve(w, kernel, mode="valid") for w in white])


def draw_input_spikes(
    config: NeuronIOSimConfig, seed: int, sim_index: int
) -> tuple[list[np.ndarray], list[np.ndarray], dict[str, float]]:
    """Draw the input spike trains of one simulation.

    Per ms bin ``t`` input ``i`` spikes with probability ``1 - exp(-r_i(t) * 1 ms)`` (at most
    one spike per ms, the real data's resolution), where
    ``r_i(t) = mean_rate * f_i * exp(sigma z(t) - sigma^2 / 2)``: ``mean_rate`` drawn per
    simulation from the configured range, ``f_i`` gamma distributed with mean 1 and CV
    ``rate_cv``, ``z`` unit-variance smoothed noise (shared by all inputs of one type,
    correlated between the types).

    Args:
        config: data set definition.
        seed: global seed (int >= 0).
        sim_index: index of the simulation (int >= 0).

    Returns:
        (ex, inh, info): two lists of 639 int64 arrays of spike times (ms, sorted), and a dict
        with the drawn ``ex_mean_rate_hz`` and ``inh_mean_rate_hz``.
    """
    for name, value in (("seed", seed), ("sim_index", sim_index)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if value < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
    rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(int(sim_index),)))
    n = config.n_ms
    ex_mean = rng.uniform(*config.ex_rate_hz_range)
    inh_mean = rng.uniform(*config.inh_rate_hz_range)

    def factors(size: int) -> np.ndarray:
        if config.rate_cv == 0:
            return np.ones(size)
        shape = 1.0 / config.rate_cv**2
        return rng.gamma(shape, 1.0 / shape, size)

    f_ex = factors(N_EXC)
    f_inh = factors(N_INH)
    z = _smoothed_noise(rng, n, config.modulation_timescale_ms)
    rho = config.modulation_ex_inh_corr
    z_ex = z[0]
    z_inh = rho * z[0] + math.sqrt(max(0.0, 1.0 - rho * rho)) * z[1]
    s = config.modulation_sigma
    m_ex = np.exp(s * z_ex - 0.5 * s * s)
    m_inh = np.exp(s * z_inh - 0.5 * s * s)

    def trains(mean: float, f: np.ndarray, m: np.ndarray) -> list[np.ndarray]:
        lam = (mean * 1e-3) * f[:, None] * m[None, :]  # expected spikes per 1 ms bin
        spikes = rng.random(lam.shape) < -np.expm1(-lam)
        rows, cols = np.nonzero(spikes)
        splits = np.searchsorted(rows, np.arange(1, f.size))
        return [c.astype(np.int64) for c in np.split(cols, splits)]

    ex = trains(ex_mean, f_ex, m_ex)
    inh = trains(inh_mean, f_inh, m_inh)
    return ex, inh, {"ex_mean_rate_hz": float(ex_mean), "inh_mean_rate_hz": float(inh_mean)}
