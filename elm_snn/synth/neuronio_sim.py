"""NeuronIO-style data from a NEURON simulation of a small pyramidal-like cell of our own.

The real NeuronIO data (Beniaguev, Segev & London 2021) are 6 s NEURON simulations of the
Hay et al. (2011) layer-5 pyramidal cell driven by 639 excitatory and 639 inhibitory inputs;
they are not reachable from our machines. This module makes data of the same shape and file
format with a model of its own, so the same reader, training and evaluation code run on both.

The model (fixed; see ``datasets/neuronio_sim.md`` for the card):

* Morphology (:mod:`elm_snn.synth._morphology`): soma, axon stub, five basal trees, an apical
  trunk with eight obliques and a tuft; 238 dendritic segments of at most 50 um (246 in all).
* Membrane: passive dendrites (``pas``); NEURON's built-in Hodgkin-Huxley ``hh`` at soma and
  axon (sodium 0.3 S/cm2, 1.5 S/cm2 in the initial segment) at 6.3 degC. The leak
  reversal of ``hh`` is set so that the whole cell rests at exactly ``v_rest_mv`` (no
  initial transient).
* Synapses: every excitatory input drives an AMPA conductance (NEURON's ``Exp2Syn``,
  0.3/3 ms, 0 mV) and an NMDA conductance with Jahr-Stevens Mg2+ block (our NMODL mechanism
  ``ElmSnnNMDA``, 2/70 ms, 0 mV, 1 mM Mg2+); every inhibitory input a GABA-A conductance
  (``Exp2Syn``, 0.2/8 ms, -80 mV). Synapse objects are shared per segment and receptor (each
  input keeps its own ``NetCon`` and weight): exact, because all three mechanisms add the
  events' conductances linearly (the Mg block multiplies the summed NMDA conductance).
* Input mapping: the 639 input channels are spread over the 238 dendritic segments in
  proportion to segment length (largest-remainder rounding, at least one per segment), in
  segment order (basal first, then trunk, obliques, tuft); excitatory input ``i`` and
  inhibitory input ``i`` land on the same segment, as in the real data.
* Inputs: per-ms Bernoulli (Poisson-like) spike trains on an integer-ms grid. Per simulation
  a mean excitatory and inhibitory rate per input are drawn uniformly from configured ranges;
  per input a gamma-distributed factor (mean 1) sets its own rate; a slow shared modulation
  ``exp(sigma z(t) - sigma^2/2)`` (``z`` unit-variance Gaussian-smoothed noise, correlated
  between excitation and inhibition) multiplies all rates.
* Integration: fixed dt = 0.1 ms with ``secondorder = 2`` (Crank-Nicolson); output soma
  voltage sampled every 1 ms (``somaVoltageLowRes``, value at t = 0, 1, ..., T - 1 ms); output
  spikes are the times (ms, float) at which the soma voltage crosses -20 mV upwards (the
  first 0.1 ms step at or above it).

Determinism: simulation ``k`` of a run with global seed ``s`` draws its inputs from
``numpy.random.SeedSequence(s, spawn_key=(k,))``, so results do not depend on the number of
workers or on which other simulations run in the same process.

The generator writes NeuronIO pickle files (up to 128 simulations each, names containing
``sim__``) through :func:`elm_snn.data.neuronio.write_neuronio_pickle`, plus a JSON manifest
that lets a later call with the same parameters reuse the files instead of simulating again.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from elm_snn._validation import check_int

__all__ = [
    "N_EXC",
    "N_INH",
    "DT_MS",
    "MODEL_VERSION",
    "MANIFEST_NAME",
    "NeuronIOSimConfig",
    "SimResult",
    "input_segment_map",
    "draw_input_spikes",
    "neuronio_params",
    "simulate",
    "generate_neuronio_sim",
    "add_arguments",
    "run_from_args",
]

#: Number of excitatory / inhibitory input channels (as in NeuronIO).
N_EXC = 639
N_INH = 639
#: Fixed integration time step (ms); part of the dataset definition.
DT_MS = 0.1
#: Temperature (degC) at which the built-in ``hh`` kinetics run (its reference temperature).
CELSIUS = 6.3
#: Somatic spike detection threshold (mV, upward crossing).
SPIKE_THRESHOLD_MV = -20.0
#: Bumped whenever the model changes in a way that changes the generated data.
MODEL_VERSION = 1
#: File name of the manifest written into the output folder.
MANIFEST_NAME = "neuronio_sim_manifest.json"


@dataclass(frozen=True)
class NeuronIOSimConfig:
    """Everything that defines the simulated data set, apart from the seed and the count.

    Times in ms, rates in Hz, conductances (synaptic weights) in uS, voltages in mV.

    Attributes:
        duration_ms: simulated time per simulation; a positive whole number of ms.
        ex_rate_hz_range: (low, high) of the per-simulation mean excitatory rate per input,
            drawn uniformly.
        inh_rate_hz_range: same for the inhibitory inputs.
        rate_cv: coefficient of variation of the per-input rate factors (gamma distributed,
            mean 1) across inputs within a simulation.
        modulation_sigma: standard deviation of the log of the shared slow rate modulation.
        modulation_timescale_ms: standard deviation of the Gaussian kernel that smooths the
            modulating noise.
        modulation_ex_inh_corr: correlation of the excitatory and inhibitory modulations.
        ampa_weight_us / nmda_weight_us / gaba_weight_us: peak conductance per input spike.
        ampa_tau_ms / nmda_tau_ms / gaba_tau_ms: (rise, decay) time constants.
        ampa_e_mv / nmda_e_mv / gaba_e_mv: reversal potentials.
        mg_mm: extracellular Mg2+ concentration for the NMDA block.
        v_rest_mv: resting potential of the whole cell (dendritic leak reversal; the soma's
            ``hh`` leak reversal is solved so the cell rests there).
        ra_ohm_cm, cm_uf_cm2, dend_g_pas_s_cm2: axial resistance, membrane capacitance,
            dendritic leak conductance.
        soma_gnabar_s_cm2, axon_gnabar_s_cm2, gkbar_s_cm2, hh_gl_s_cm2: ``hh`` densities
            (axon_gnabar applies to the axon initial segment).
    """

    duration_ms: float = 6000.0
    ex_rate_hz_range: tuple[float, float] = (0.6, 1.0)
    inh_rate_hz_range: tuple[float, float] = (2.0, 4.0)
    rate_cv: float = 0.7
    modulation_sigma: float = 0.5
    modulation_timescale_ms: float = 150.0
    modulation_ex_inh_corr: float = 0.7
    ampa_weight_us: float = 0.0008
    nmda_weight_us: float = 0.0008
    gaba_weight_us: float = 0.001
    ampa_tau_ms: tuple[float, float] = (0.3, 3.0)
    nmda_tau_ms: tuple[float, float] = (2.0, 70.0)
    gaba_tau_ms: tuple[float, float] = (0.2, 8.0)
    ampa_e_mv: float = 0.0
    nmda_e_mv: float = 0.0
    gaba_e_mv: float = -80.0
    mg_mm: float = 1.0
    v_rest_mv: float = -72.0
    ra_ohm_cm: float = 100.0
    cm_uf_cm2: float = 1.0
    dend_g_pas_s_cm2: float = 4e-5
    soma_gnabar_s_cm2: float = 0.3
    axon_gnabar_s_cm2: float = 1.5
    gkbar_s_cm2: float = 0.036
    hh_gl_s_cm2: float = 0.0003

    def __post_init__(self) -> None:
        def positive(name: str) -> None:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{name} must be a number, got {type(value).__name__}")
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be a finite positive number, got {value!r}")

        def finite(name: str) -> None:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{name} must be a number, got {type(value).__name__}")
            if not math.isfinite(value):
                raise ValueError(f"{name} must be finite, got {value!r}")

        def pair(name: str, strictly_increasing: bool) -> None:
            value = getattr(self, name)
            if not isinstance(value, (tuple, list)) or len(value) != 2:
                raise TypeError(f"{name} must be a (low, high) pair, got {value!r}")
            lo, hi = value
            for v in (lo, hi):
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                    raise ValueError(f"{name} must hold finite numbers, got {value!r}")
            if lo < 0 or (lo >= hi if strictly_increasing else lo > hi):
                rel = "low < high" if strictly_increasing else "low <= high"
                raise ValueError(f"{name} must satisfy 0 <= {rel}, got {value!r}")
            object.__setattr__(self, name, (float(lo), float(hi)))

        positive("duration_ms")
        if abs(self.duration_ms - round(self.duration_ms)) > 1e-9:
            raise ValueError(f"duration_ms must be a whole number of ms, got {self.duration_ms}")
        pair("ex_rate_hz_range", strictly_increasing=False)
        pair("inh_rate_hz_range", strictly_increasing=False)
        for name in ("ampa_tau_ms", "nmda_tau_ms", "gaba_tau_ms"):
            pair(name, strictly_increasing=True)
            if getattr(self, name)[0] <= 0:
                raise ValueError(f"{name} rise time must be > 0, got {getattr(self, name)!r}")
        finite("modulation_sigma")
        if self.modulation_sigma < 0:
            raise ValueError(f"modulation_sigma must be >= 0, got {self.modulation_sigma}")
        finite("modulation_ex_inh_corr")
        if not -1.0 <= self.modulation_ex_inh_corr <= 1.0:
            raise ValueError(
                f"modulation_ex_inh_corr must lie in [-1, 1], got {self.modulation_ex_inh_corr}"
            )
        finite("rate_cv")
        if self.rate_cv < 0:
            raise ValueError(f"rate_cv must be >= 0, got {self.rate_cv}")
        for name in (
            "modulation_timescale_ms",
            "mg_mm",
            "ra_ohm_cm",
            "cm_uf_cm2",
            "dend_g_pas_s_cm2",
            "hh_gl_s_cm2",
        ):
            positive(name)
        for name in (
            "ampa_weight_us",
            "nmda_weight_us",
            "gaba_weight_us",
            "soma_gnabar_s_cm2",
            "axon_gnabar_s_cm2",
            "gkbar_s_cm2",
        ):
            finite(name)
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("ampa_e_mv", "nmda_e_mv", "gaba_e_mv", "v_rest_mv"):
            finite(name)

    @property
    def n_ms(self) -> int:
        """Number of 1 ms bins per simulation."""
        return int(round(self.duration_ms))

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as JSON-friendly builtins (tuples become lists)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = list(v) if isinstance(v, tuple) else v
        return out

    def model_dict(self) -> dict[str, Any]:
        """The fields that define the NEURON model itself (everything except input statistics
        and duration); a change here needs a new cell."""
        skip = {
            "duration_ms",
            "ex_rate_hz_range",
            "inh_rate_hz_range",
            "rate_cv",
            "modulation_sigma",
            "modulation_timescale_ms",
            "modulation_ex_inh_corr",
        }
        return {k: v for k, v in self.to_dict().items() if k not in skip}


@dataclass(frozen=True)
class SimResult:
    """One simulated trial.

    Attributes:
        ex_spike_times: length-639 list; entry ``i`` holds the int64 spike times (ms, sorted,
            unique, in ``[0, n_ms)``) of excitatory input ``i``.
        inh_spike_times: the same for the 639 inhibitory inputs.
        output_spike_times_ms: float64 array of somatic spike times (ms, upward crossings of
            -20 mV).
        soma_voltage_mv: float64 array of shape (n_ms,): soma voltage at t = 0, 1, ... ms.
        cpu_s: CPU seconds spent on this simulation (input drawing + NEURON run).
    """

    ex_spike_times: list[np.ndarray]
    inh_spike_times: list[np.ndarray]
    output_spike_times_ms: np.ndarray
    soma_voltage_mv: np.ndarray
    cpu_s: float


# ----------------------------------------------------------------------------------------
# Inputs (pure numpy, no NEURON)


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


# ----------------------------------------------------------------------------------------
# The NEURON model (one per process)


class _Model:
    """The cell, its synapses and recorders in this process's NEURON."""

    def __init__(self, config: NeuronIOSimConfig) -> None:
        from neuron import h

        from elm_snn.synth._morphology import build_cell, segment_table
        from elm_snn.synth._nrnmech import load_mechanisms

        load_mechanisms()
        h.load_file("stdrun.hoc")
        self.h = h
        self.model_key = json.dumps(config.model_dict(), sort_keys=True)
        c = config
        self.sections = build_cell(
            h,
            {
                "ra_ohm_cm": c.ra_ohm_cm,
                "cm_uf_cm2": c.cm_uf_cm2,
                "dend_g_pas_s_cm2": c.dend_g_pas_s_cm2,
                "e_pas_mv": c.v_rest_mv,
                "soma_gnabar_s_cm2": c.soma_gnabar_s_cm2,
                "axon_gnabar_s_cm2": c.axon_gnabar_s_cm2,
                "gkbar_s_cm2": c.gkbar_s_cm2,
                "hh_gl_s_cm2": c.hh_gl_s_cm2,
                "hh_el_mv": -54.3,  # replaced below so that the cell rests at v_rest_mv
            },
        )
        self.v_rest = c.v_rest_mv
        self._set_rest()
        table = segment_table()
        mapping = input_segment_map(N_EXC)
        self.ampa: dict[int, Any] = {}
        self.nmda: dict[int, Any] = {}
        self.gaba: dict[int, Any] = {}
        for k in np.unique(mapping).tolist():
            seg = self.sections[table[k].section](table[k].x)
            ampa = h.Exp2Syn(seg)
            ampa.tau1, ampa.tau2 = c.ampa_tau_ms
            ampa.e = c.ampa_e_mv
            nmda = h.ElmSnnNMDA(seg)
            nmda.tau1, nmda.tau2 = c.nmda_tau_ms
            nmda.e = c.nmda_e_mv
            nmda.mg = c.mg_mm
            gaba = h.Exp2Syn(seg)
            gaba.tau1, gaba.tau2 = c.gaba_tau_ms
            gaba.e = c.gaba_e_mv
            self.ampa[k], self.nmda[k], self.gaba[k] = ampa, nmda, gaba

        def netcon(target: Any, weight: float) -> Any:
            nc = h.NetCon(None, target)
            nc.weight[0] = weight
            nc.delay = 0.0
            return nc

        seg_of = mapping.tolist()
        self.nc_ampa = [netcon(self.ampa[k], c.ampa_weight_us) for k in seg_of]
        self.nc_nmda = [netcon(self.nmda[k], c.nmda_weight_us) for k in seg_of]
        self.nc_gaba = [netcon(self.gaba[k], c.gaba_weight_us) for k in seg_of]
        soma = self.sections["soma"]
        self.v_rec = h.Vector()
        self.v_rec.record(soma(0.5)._ref_v, 1.0)
        self.spike_rec = h.Vector()
        self.detector = h.NetCon(soma(0.5)._ref_v, None, sec=soma)
        self.detector.threshold = SPIKE_THRESHOLD_MV
        self.detector.record(self.spike_rec)

    def _set_rest(self) -> None:
        """Solve the ``hh`` leak reversal per segment so that v = v_rest is a steady state."""
        h = self.h
        h.celsius = CELSIUS
        h.finitialize(self.v_rest)
        h.fcurrent()
        for sec in self.sections.values():
            if not hasattr(sec(0.5), "hh"):
                continue
            for seg in sec:
                seg.hh.el = seg.v + (seg.ina + seg.ik) / seg.hh.gl

    def run(
        self, ex: Sequence[np.ndarray], inh: Sequence[np.ndarray], n_ms: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Simulate ``n_ms`` ms with the given input spike times; return (v at 1 ms, spikes)."""
        h = self.h
        h.celsius = CELSIUS
        h.secondorder = 2
        h.dt = DT_MS
        h.steps_per_ms = 1.0 / DT_MS
        h.tstop = float(n_ms)
        h.finitialize(self.v_rest)
        for i, times in enumerate(ex):
            a, m = self.nc_ampa[i], self.nc_nmda[i]
            for t in times.tolist():
                a.event(float(t))
                m.event(float(t))
        for i, times in enumerate(inh):
            g = self.nc_gaba[i]
            for t in times.tolist():
                g.event(float(t))
        h.continuerun(float(n_ms))
        v = self.v_rec.as_numpy()
        if v.size < n_ms:
            raise RuntimeError(f"NEURON recorded {v.size} voltage samples, expected {n_ms}")
        return np.array(v[:n_ms], dtype=np.float64), np.array(self.spike_rec, dtype=np.float64)


_MODEL: _Model | None = None


def _get_model(config: NeuronIOSimConfig) -> _Model:
    global _MODEL
    key = json.dumps(config.model_dict(), sort_keys=True)
    if _MODEL is not None and _MODEL.model_key == key:
        return _MODEL
    if _MODEL is not None:
        _MODEL = None  # drop every reference so NEURON deletes the old cell
        from neuron import h

        left = sum(1 for _ in h.allsec())
        if left:
            raise RuntimeError(
                f"{left} NEURON sections are still alive in this process; cannot build a cell "
                "with different parameters next to them"
            )
    _MODEL = _Model(config)
    return _MODEL


def simulate(config: NeuronIOSimConfig, seed: int, sim_index: int) -> SimResult:
    """Run simulation ``sim_index`` of the data set ``(config, seed)`` in this process.

    The first call compiles/loads the NMDA mechanism and builds the cell (about a second);
    later calls with the same model parameters reuse the cell.

    Args:
        config: data set definition.
        seed: global seed (int >= 0).
        sim_index: simulation index (int >= 0); inputs come from
            ``SeedSequence(seed, spawn_key=(sim_index,))``.

    Returns:
        :class:`SimResult` (times in ms, voltage in mV sampled every ms).
    """
    if not isinstance(config, NeuronIOSimConfig):
        raise TypeError(f"config must be a NeuronIOSimConfig, got {type(config).__name__}")
    cpu0 = time.process_time()
    ex, inh, _ = draw_input_spikes(config, seed, sim_index)
    model = _get_model(config)
    v, spikes = model.run(ex, inh, config.n_ms)
    return SimResult(
        ex_spike_times=ex,
        inh_spike_times=inh,
        output_spike_times_ms=spikes,
        soma_voltage_mv=v,
        cpu_s=time.process_time() - cpu0,
    )


def _worker_init(config_dict: dict[str, Any]) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _get_model(_config_from_dict(config_dict))


def _worker_run(job: tuple[dict[str, Any], int, int]) -> tuple[int, SimResult]:
    config_dict, seed, sim_index = job
    return sim_index, simulate(_config_from_dict(config_dict), seed, sim_index)


def _config_from_dict(d: dict[str, Any]) -> NeuronIOSimConfig:
    names = {f.name for f in dataclasses.fields(NeuronIOSimConfig)}
    unknown = set(d) - names
    if unknown:
        raise ValueError(f"unknown NeuronIOSimConfig fields: {sorted(unknown)}")
    return NeuronIOSimConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


# ----------------------------------------------------------------------------------------
# NeuronIO Params and file generation


def neuronio_params(config: NeuronIOSimConfig, seed: int) -> dict[str, Any]:
    """Return the ``Params`` dict written into every generated NeuronIO file.

    The real-data keys describe the 639 input channels (there, one per segment):

    * ``allSegmentsType``: ``"basal"`` or ``"apical"`` (the real data's vocabulary) for the
      segment where input channel ``i`` lands (trunk, obliques and tuft count as apical);
    * ``allSegments_DistFromSoma``: path distance (um) of that segment's centre from the soma;
    * ``totalSimDurationInSec``.

    Generator-specific keys: ``allSegmentsSubType`` (basal/trunk/oblique/tuft per channel),
    ``allSegments_ModelSegmentIndex`` (the model segment of each channel, see
    :func:`input_segment_map`), ``modelSegments`` (section, x, kind, length_um,
    dist_from_soma_um of the model's dendritic segments), ``inputMapping`` (text),
    ``generator``, ``generatorModelVersion``, ``randomSeed``, ``simConfig`` (the
    :class:`NeuronIOSimConfig` fields), ``dt_ms``, ``celsius``, ``spikeThreshold_mV``,
    ``somaVoltageSampling`` and ``neuronVersion``.
    """
    import neuron

    from elm_snn.synth._morphology import segment_table

    table = segment_table()
    mapping = input_segment_map(N_EXC)
    seconds = config.n_ms / 1000.0
    return {
        "totalSimDurationInSec": int(seconds) if seconds == int(seconds) else seconds,
        "allSegmentsType": ["basal" if table[k].kind == "basal" else "apical" for k in mapping],
        "allSegments_DistFromSoma": [float(table[k].dist_from_soma_um) for k in mapping],
        "allSegmentsSubType": [table[k].kind for k in mapping],
        "allSegments_ModelSegmentIndex": [int(k) for k in mapping],
        "modelSegments": {
            "section": [s.section for s in table],
            "x": [float(s.x) for s in table],
            "kind": [s.kind for s in table],
            "length_um": [float(s.length_um) for s in table],
            "dist_from_soma_um": [float(s.dist_from_soma_um) for s in table],
        },
        "inputMapping": (
            f"{N_EXC} excitatory and {N_INH} inhibitory input channels on {len(table)} dendritic "
            "segments; channel i (excitatory i and inhibitory i alike) lands on model segment "
            "allSegments_ModelSegmentIndex[i]; each segment gets at least one channel, the rest "
            "in proportion to segment length (largest remainder), in segment order"
        ),
        "generator": "elm_snn.synth.neuronio_sim",
        "generatorModelVersion": MODEL_VERSION,
        "randomSeed": int(seed),
        "simConfig": config.to_dict(),
        "dt_ms": DT_MS,
        "celsius": CELSIUS,
        "spikeThreshold_mV": SPIKE_THRESHOLD_MV,
        "somaVoltageSampling": "instantaneous soma(0.5) voltage at t = 0, 1, ..., T-1 ms",
        "neuronVersion": str(neuron.__version__),
    }


def _to_neuronio(result: SimResult) -> Any:
    from elm_snn.data.neuronio import NeuronIOSimulation

    return NeuronIOSimulation(
        ex_spike_times={i: t for i, t in enumerate(result.ex_spike_times) if t.size},
        inh_spike_times={i: t for i, t in enumerate(result.inh_spike_times) if t.size},
        output_spike_times_ms=result.output_spike_times_ms,
        soma_voltage_mv=result.soma_voltage_mv,
    )


def _definition(config: NeuronIOSimConfig, seed: int, sims_per_file: int) -> dict[str, Any]:
    import neuron

    from elm_snn.synth._nrnmech import mechanism_sources

    mods = hashlib.sha256()
    for f in mechanism_sources():
        mods.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return {
        "generator": "elm_snn.synth.neuronio_sim",
        "model_version": MODEL_VERSION,
        "config": config.to_dict(),
        "seed": int(seed),
        "sims_per_file": int(sims_per_file),
        "dt_ms": DT_MS,
        "neuron_version": str(neuron.__version__),
        "mechanisms_sha256": mods.hexdigest(),
    }


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_manifest(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list):
            raise ValueError("no 'files' list")
        for entry in manifest["files"]:
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                raise ValueError("malformed file entry")
            if Path(entry["name"]).name != entry["name"] or "sim__" not in entry["name"]:
                raise ValueError(f"unexpected file name {entry['name']!r}")
        return manifest
    except (ValueError, json.JSONDecodeError) as exc:
        raise ValueError(
            f"out_dir: {path} is not a valid manifest of this generator ({exc}); remove it or "
            "use another folder"
        ) from None


def generate_neuronio_sim(
    out_dir: str | os.PathLike,
    n_sims: int,
    *,
    seed: int = 0,
    config: NeuronIOSimConfig | None = None,
    workers: int = 1,
    sims_per_file: int = 128,
    overwrite: bool = False,
    progress: Callable[[str], None] | None = None,
) -> list[Path]:
    """Simulate ``n_sims`` trials and write them as NeuronIO pickle files into ``out_dir``.

    Simulation ``k`` (0-based) goes into file ``k // sims_per_file``; files are named
    ``sim__neuronio_sim__<definition hash>__<first>-<last>.p`` and read back with
    :func:`elm_snn.data.neuronio.read_neuronio_file` like real NeuronIO files. A manifest
    (``neuronio_sim_manifest.json``) records the data set definition (config, seed,
    sims_per_file, model version, NEURON version, mechanism sources) and each file's size and
    SHA-256. A later call with the same definition reuses every intact file it still needs
    and simulates only the rest (also after an interrupted run); files of the same
    definition that are no longer needed (a smaller ``n_sims``) are removed.

    With ``workers > 1`` the simulations run in a ``spawn`` process pool (each worker
    compiles nothing, loads the mechanism and builds the cell once); the results do not
    depend on ``workers``. Scripts calling this with ``workers > 1`` need the usual
    ``if __name__ == "__main__":`` guard.

    Args:
        out_dir: output folder (created if missing).
        n_sims: number of simulations (>= 1).
        seed: global seed (>= 0).
        config: data set definition (default :class:`NeuronIOSimConfig`, 6 s simulations).
        workers: worker processes (>= 1).
        sims_per_file: simulations per file (>= 1; the real data uses 128).
        overwrite: if the folder holds data of a different definition, delete those files
            (only files listed in its manifest) instead of raising.
        progress: called with a one-line message after each finished or reused file.

    Returns:
        Paths of the data files, in simulation order.

    Raises:
        ValueError: bad arguments; the folder holds data of another definition (without
            ``overwrite``), or ``sim__`` files not listed in its manifest.
        RuntimeError: NEURON's ``nrnivmodl`` or a C compiler is missing.
    """
    n_sims = check_int("n_sims", n_sims, 1)
    seed = check_int("seed", seed, 0)
    workers = check_int("workers", workers, 1)
    sims_per_file = check_int("sims_per_file", sims_per_file, 1)
    if config is None:
        config = NeuronIOSimConfig()
    if not isinstance(config, NeuronIOSimConfig):
        raise TypeError(f"config must be a NeuronIOSimConfig, got {type(config).__name__}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out_dir must be a folder, got the file {out}")
    out.mkdir(parents=True, exist_ok=True)
    say = progress if progress is not None else (lambda _msg: None)

    from elm_snn._io import atomic_write_text
    from elm_snn.data.neuronio import write_neuronio_pickle
    from elm_snn.synth._nrnmech import compile_mechanisms

    definition = _definition(config, seed, sims_per_file)
    def_hash = hashlib.sha256(json.dumps(definition, sort_keys=True).encode()).hexdigest()
    manifest_path = out / MANIFEST_NAME
    old = _read_manifest(manifest_path)
    listed = {e["name"]: e for e in old["files"]} if old is not None else {}
    foreign = sorted(
        f.name
        for f in out.iterdir()
        if "sim__" in f.name and not f.name.startswith(".") and f.name not in listed
    )
    if foreign:
        raise ValueError(
            f"out_dir: {out} holds NeuronIO files not written by this generator "
            f"({foreign[:3]}{'...' if len(foreign) > 3 else ''}); use an empty folder"
        )
    same = old is not None and old.get("definition_hash") == def_hash
    if old is not None and not same:
        if not overwrite:
            raise ValueError(
                f"out_dir: {out} holds simulated data of a different definition (other config, "
                "seed, sims_per_file or software version); pass overwrite=True (--overwrite) "
                "or use another folder"
            )
        for name in listed:
            (out / name).unlink(missing_ok=True)
        manifest_path.unlink()
        listed = {}

    plan = []
    for first in range(0, n_sims, sims_per_file):
        count = min(sims_per_file, n_sims - first)
        name = f"sim__neuronio_sim__{def_hash[:10]}__{first:06d}-{first + count - 1:06d}.p"
        plan.append({"name": name, "first_sim": first, "n_sims": count})
    planned = {p["name"] for p in plan}
    kept: dict[str, dict[str, Any]] = {}
    for name, entry in listed.items():
        path = out / name
        if (
            name in planned
            and path.is_file()
            and path.stat().st_size == entry.get("bytes")
            and _sha256_file(path) == entry.get("sha256")
        ):
            kept[name] = entry
        else:
            path.unlink(missing_ok=True)

    def write_manifest(entries: dict[str, dict[str, Any]]) -> None:
        manifest = {
            "format": "elm-snn/neuronio-sim-manifest",
            "format_version": 1,
            "definition_hash": def_hash,
            "definition": definition,
            "n_sims": n_sims,
            "files": [entries[p["name"]] for p in plan if p["name"] in entries],
        }
        atomic_write_text(manifest_path, json.dumps(manifest, indent=1, sort_keys=True) + "\n")

    todo = [p for p in plan if p["name"] not in kept]
    for p in plan:
        if p["name"] in kept:
            say(f"reused {p['name']} ({p['n_sims']} simulations)")
    write_manifest(kept)
    if todo:
        compile_mechanisms()  # once, here, so workers only load the library
        params = neuronio_params(config, seed)
        jobs = [
            (config.to_dict(), seed, k)
            for p in todo
            for k in range(p["first_sim"], p["first_sim"] + p["n_sims"])
        ]
        pool = None
        if workers > 1:
            import multiprocessing

            ctx = multiprocessing.get_context("spawn")
            pool = ctx.Pool(
                processes=min(workers, len(jobs)),
                initializer=_worker_init,
                initargs=(config.to_dict(),),
            )
            results_iter = pool.imap(_worker_run, jobs, chunksize=1)
        else:
            results_iter = (_worker_run(job) for job in jobs)
        try:
            for p in todo:
                t0 = time.perf_counter()
                results: list[SimResult] = []
                for expected in range(p["first_sim"], p["first_sim"] + p["n_sims"]):
                    sim_index, result = next(results_iter)
                    if sim_index != expected:  # pragma: no cover - imap keeps order
                        raise RuntimeError(f"simulation {sim_index} arrived, {expected} expected")
                    results.append(result)
                path = out / p["name"]
                write_neuronio_pickle(path, [_to_neuronio(r) for r in results], params)
                n_spikes = int(sum(r.output_spike_times_ms.size for r in results))
                kept[p["name"]] = {
                    **p,
                    "bytes": path.stat().st_size,
                    "sha256": _sha256_file(path),
                    "cpu_s": float(sum(r.cpu_s for r in results)),
                    "output_spikes": n_spikes,
                }
                write_manifest(kept)
                rate = n_spikes / (len(results) * config.n_ms / 1000.0)
                say(
                    f"wrote {p['name']} ({p['n_sims']} simulations, "
                    f"{time.perf_counter() - t0:.1f} s, output rate {rate:.2f} Hz)"
                )
        finally:
            if pool is not None:
                pool.terminate()
                pool.join()
    return [out / p["name"] for p in plan]


# ----------------------------------------------------------------------------------------
# command line: elm-snn data neuronio-sim


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``elm-snn data neuronio-sim`` to ``parser``."""
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--n-sims", type=int, default=128, help="number of simulations")
    parser.add_argument(
        "--duration-s", type=float, default=6.0, help="seconds per simulation (whole ms)"
    )
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--seed", type=int, default=0, help="global random seed")
    parser.add_argument(
        "--sims-per-file", type=int, default=128, help="simulations per file (real data: 128)"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace data of a different definition in --out (only files in its manifest)",
    )
    parser.add_argument("--quiet", action="store_true", help="print only the final summary")


def run_from_args(args: argparse.Namespace) -> int:
    """Run ``elm-snn data neuronio-sim`` with parsed arguments; return the exit code."""
    try:
        config = NeuronIOSimConfig(duration_ms=round(args.duration_s * 1000.0, 6))
        t0 = time.perf_counter()
        paths = generate_neuronio_sim(
            args.out,
            args.n_sims,
            seed=args.seed,
            config=config,
            workers=args.workers,
            sims_per_file=args.sims_per_file,
            overwrite=args.overwrite,
            progress=None if args.quiet else (lambda msg: print(msg, file=sys.stderr)),
        )
    except (ValueError, TypeError, RuntimeError) as exc:
        print(f"elm-snn data neuronio-sim: error: {exc}", file=sys.stderr)
        return 2
    manifest = json.loads((Path(args.out) / MANIFEST_NAME).read_text(encoding="utf-8"))
    spikes = sum(e["output_spikes"] for e in manifest["files"])
    cpu = sum(e["cpu_s"] for e in manifest["files"])
    print(
        f"{len(paths)} file(s), {args.n_sims} simulations of {config.n_ms} ms in {args.out} "
        f"({time.perf_counter() - t0:.1f} s now); output rate "
        f"{spikes / (args.n_sims * config.n_ms / 1000.0):.2f} Hz; "
        f"{cpu / args.n_sims:.2f} CPU s per simulation when generated"
    )
    return 0
