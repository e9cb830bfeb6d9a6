"""The NEURON cell of the NeuronIO-style simulator (one per process), :func:`simulate` and
the process-pool workers (public through :mod:`elm_snn.synth.neuronio_sim`)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from elm_snn.synth._neuronio_config import (
    DT_MS,
    N_EXC,
    SPIKE_THRESHOLD_MV,
    NeuronIOSimConfig,
    SimResult,
    _config_from_dict,
)
from elm_snn.synth._neuronio_inputs import draw_input_spikes, input_segment_map


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
        self.active = c.cell == "active"
        self.celsius = c.celsius
        if self.active:
            from elm_snn.synth._active_cell import insert_active_membrane
            from elm_snn.synth._morphology import section_specs

            # Ra 100 ohm cm and cm 1 uF/cm2 (2 in the dendrites, set by the membrane)
            self.sections = build_cell(h, {"ra_ohm_cm": 100.0, "cm_uf_cm2": 1.0}, False)
            insert_active_membrane(h, self.sections, {s.name: s.kind for s in section_specs()})
            self.v_rest = -75.0  # a start for the resting-state search of _rest_state
        else:
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
        h.celsius = self.celsius
        h.finitialize(self.v_rest)
        h.fcurrent()
        for sec in self.sections.values():
            if not hasattr(sec(0.5), "hh"):
                continue
            for seg in sec:
                seg.hh.el = seg.v + (seg.ina + seg.ik) / seg.hh.gl

    def _rest_state(self) -> None:
        """Bring the active cell to its resting state without input: fully implicit steps
        of ``REST_DT_MS`` (stable at that step; the channels' and the Ca2+ shell's slowest
        time constants are a few hundred ms), then time is reset to 0 with the recorders
        restarted. Runs after ``finitialize`` and before any input event is queued."""
        from elm_snn.synth._active_cell import REST_DT_MS, REST_STEPS

        h = self.h
        h.secondorder = 0
        h.dt = REST_DT_MS
        for _ in range(REST_STEPS):
            h.fadvance()
        h.t = 0.0
        h.fcurrent()
        h.frecord_init()
        self.spike_rec.resize(0)

    def run(
        self, ex: Sequence[np.ndarray], inh: Sequence[np.ndarray], n_ms: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Simulate ``n_ms`` ms with the given input spike times; return (v at 1 ms, spikes)."""
        h = self.h
        h.celsius = self.celsius
        h.finitialize(self.v_rest)
        if self.active:
            self._rest_state()
        h.secondorder = 2
        h.dt = DT_MS
        h.steps_per_ms = 1.0 / DT_MS
        h.tstop = float(n_ms)
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
