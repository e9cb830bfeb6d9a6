"""Constants, data set definition (:class:`NeuronIOSimConfig`) and result type of the
NeuronIO-style simulator (public through :mod:`elm_snn.synth.neuronio_sim`)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Number of excitatory / inhibitory input channels (as in NeuronIO).
N_EXC = 639
N_INH = 639
#: Fixed integration time step (ms); part of the dataset definition.
DT_MS = 0.1
#: Temperature (degC) of the passive cell: the built-in ``hh`` kinetics' reference temperature.
CELSIUS = 6.3
#: The cells: ``"active"`` (Hay et al. 2011 channels, :mod:`elm_snn.synth._active_cell`) and
#: ``"passive"`` (passive dendrites, ``hh`` at soma and axon; the default before issue 24).
CELLS = ("active", "passive")
#: Somatic spike detection threshold (mV, upward crossing).
SPIKE_THRESHOLD_MV = -20.0
#: cell -> default (AMPA, NMDA, GABA-A) peak conductances per input spike (uS). Passive: tuned
#: for that cell before issue 24; active: 1.75 x the passive cell's excitation, measured on
#: seed 0's first 8 simulations of 6 s: 1.35 Hz output, where 1.2 nS gave 0.71 Hz (and the
#: passive cell's 0.8 nS about 0.5 Hz, 1.6 nS several Hz); see datasets/neuronio_sim.md.
SYNAPSE_WEIGHTS_US = {"active": (0.0014, 0.0014, 0.001), "passive": (0.0008, 0.0008, 0.001)}
#: Bumped whenever the model changes in a way that changes the generated data (2: the
#: ``cell`` choice and the active cell).
MODEL_VERSION = 2
#: File name of the manifest written into the output folder.
MANIFEST_NAME = "neuronio_sim_manifest.json"


@dataclass(frozen=True)
class NeuronIOSimConfig:
    """Everything that defines the simulated data set, apart from the seed and the count.

    Times in ms, rates in Hz, conductances (synaptic weights) in uS, voltages in mV.

    Attributes:
        cell: ``"active"`` (default: the L5PC-like cell with the active dendrites, soma and
            axon of Hay et al. 2011, :mod:`elm_snn.synth._active_cell`) or ``"passive"``
            (passive dendrites, ``hh`` at soma and axon). The membrane fields below, from
            ``v_rest_mv`` on, belong to the passive cell; the active cell's membrane is fixed
            (its module) and rests where its channels put it.
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
        ampa_weight_us / nmda_weight_us / gaba_weight_us: peak conductance per input spike;
            None (default): the cell's own (:data:`SYNAPSE_WEIGHTS_US`).
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

    cell: str = "active"
    duration_ms: float = 6000.0
    ex_rate_hz_range: tuple[float, float] = (0.6, 1.0)
    inh_rate_hz_range: tuple[float, float] = (2.0, 4.0)
    rate_cv: float = 0.7
    modulation_sigma: float = 0.5
    modulation_timescale_ms: float = 150.0
    modulation_ex_inh_corr: float = 0.7
    ampa_weight_us: float | None = None
    nmda_weight_us: float | None = None
    gaba_weight_us: float | None = None
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

        if self.cell not in CELLS:
            raise ValueError(f"cell: expected one of {CELLS}, got {self.cell!r}")
        for name, default in zip(
            ("ampa_weight_us", "nmda_weight_us", "gaba_weight_us"),
            SYNAPSE_WEIGHTS_US[self.cell],
            strict=True,
        ):
            if getattr(self, name) is None:
                object.__setattr__(self, name, default)
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
    def celsius(self) -> float:
        """Temperature of the simulation (degC): 34 for the active cell (Hay et al.'s),
        6.3 for the passive one (``hh``'s reference)."""
        from elm_snn.synth._active_cell import ACTIVE_CELSIUS

        return ACTIVE_CELSIUS if self.cell == "active" else CELSIUS

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


def _config_from_dict(d: dict[str, Any]) -> NeuronIOSimConfig:
    names = {f.name for f in dataclasses.fields(NeuronIOSimConfig)}
    unknown = set(d) - names
    if unknown:
        raise ValueError(f"unknown NeuronIOSimConfig fields: {sorted(unknown)}")
    return NeuronIOSimConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})
