"""Tests of the NEURON-based NeuronIO-style generator (elm_snn.synth.neuronio_sim)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import require_module

require_module("neuron")

from elm_snn.synth import _morphology, _nrnmech  # noqa: E402
from elm_snn.synth import neuronio_sim as ns  # noqa: E402

# A busier-than-default input so that even 1 s simulations fire (deterministic anyway); the
# passive cell (cheaper) unless a test is about the active one.
BUSY = dict(cell="passive", ex_rate_hz_range=(1.8, 2.0), inh_rate_hz_range=(3.0, 3.5))
# Busier still for the short file tests: every simulation read back below has output spikes
# (see test_zero_spike_simulation_reads_back for why that matters for now).
FILES = dict(cell="passive", ex_rate_hz_range=(3.0, 3.1), inh_rate_hz_range=(3.0, 3.5))


@pytest.fixture(scope="module", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory):
    """Compile the mechanism once per test module and process into a private cache folder."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ELM_SNN_CACHE", str(tmp_path_factory.mktemp("elm_snn_cache")))
        yield


# ---------------------------------------------------------------------------- pure python


def test_morphology_size_and_types() -> None:
    table = _morphology.segment_table()
    assert 100 <= len(table) <= 250
    kinds = {s.kind for s in table}
    assert kinds == {"basal", "trunk", "oblique", "tuft"}
    assert all(s.dist_from_soma_um > 0 and s.length_um <= 50.0 for s in table)
    trunk = [s.dist_from_soma_um for s in table if s.kind == "trunk"]
    assert np.all(np.diff(trunk) > 0)
    tuft = [s.dist_from_soma_um for s in table if s.kind == "tuft"]
    assert min(tuft) > max(trunk)
    n_total = sum(s.nseg for s in _morphology.section_specs())
    assert n_total <= 250


def test_input_segment_map_proportional_to_length() -> None:
    m = ns.input_segment_map(639)
    table = _morphology.segment_table()
    assert m.shape == (639,) and m.dtype == np.int64
    assert np.all(np.diff(m) >= 0)
    counts = np.bincount(m, minlength=len(table))
    assert counts.min() >= 1 and counts.sum() == 639
    lengths = np.array([s.length_um for s in table])
    expected = 1 + (639 - len(table)) * lengths / lengths.sum()
    assert np.all(np.abs(counts - expected) < 1.0)
    with pytest.raises(ValueError, match="n_inputs"):
        ns.input_segment_map(10)


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="duration_ms"):
        ns.NeuronIOSimConfig(duration_ms=100.5)
    with pytest.raises(ValueError, match="duration_ms"):
        ns.NeuronIOSimConfig(duration_ms=-1)
    with pytest.raises(ValueError, match="ex_rate_hz_range"):
        ns.NeuronIOSimConfig(ex_rate_hz_range=(2.0, 1.0))
    with pytest.raises(ValueError, match="nmda_tau_ms"):
        ns.NeuronIOSimConfig(nmda_tau_ms=(70.0, 2.0))
    with pytest.raises(TypeError, match="gaba_weight_us"):
        ns.NeuronIOSimConfig(gaba_weight_us="big")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="modulation_ex_inh_corr"):
        ns.NeuronIOSimConfig(modulation_ex_inh_corr=1.5)
    cfg = ns.NeuronIOSimConfig(ex_rate_hz_range=[1, 2])  # type: ignore[arg-type]
    assert cfg.ex_rate_hz_range == (1.0, 2.0)
    assert ns._config_from_dict(cfg.to_dict()) == cfg


def test_input_spikes_deterministic_and_in_range() -> None:
    cfg = ns.NeuronIOSimConfig(duration_ms=2000)
    ex, inh, info = ns.draw_input_spikes(cfg, 5, 3)
    ex2, inh2, info2 = ns.draw_input_spikes(cfg, 5, 3)
    assert info == info2
    assert len(ex) == ns.N_EXC and len(inh) == ns.N_INH
    for a, b in zip(ex + inh, ex2 + inh2, strict=True):
        assert np.array_equal(a, b)
        assert a.dtype == np.int64
        if a.size:
            assert a[0] >= 0 and a[-1] < 2000 and np.all(np.diff(a) > 0)
    other, _, _ = ns.draw_input_spikes(cfg, 5, 4)
    assert any(not np.array_equal(a, b) for a, b in zip(ex, other, strict=True))
    lo, hi = cfg.ex_rate_hz_range
    assert lo <= info["ex_mean_rate_hz"] <= hi
    with pytest.raises(ValueError, match="sim_index"):
        ns.draw_input_spikes(cfg, 5, -1)


def test_input_rates_match_poisson_expectation() -> None:
    # No modulation, no heterogeneity: every input spikes per ms with p = 1 - exp(-r * 1 ms).
    rate = 20.0
    cfg = ns.NeuronIOSimConfig(
        duration_ms=1000,
        ex_rate_hz_range=(rate, rate),
        inh_rate_hz_range=(2 * rate, 2 * rate),
        rate_cv=0.0,
        modulation_sigma=0.0,
    )
    ex, inh, _ = ns.draw_input_spikes(cfg, 0, 0)
    for trains, r in ((ex, rate), (inh, 2 * rate)):
        n_bins = len(trains) * 1000
        p = -np.expm1(-r * 1e-3)
        count = sum(t.size for t in trains)
        sd = np.sqrt(n_bins * p * (1 - p))
        assert abs(count - n_bins * p) < 5 * sd


# ---------------------------------------------------------------------------- NEURON


def test_mechanism_cache_and_load_once() -> None:
    lib = _nrnmech.compile_mechanisms()
    assert lib.is_file()
    assert Path(os.environ["ELM_SNN_CACHE"]) in lib.parents
    assert _nrnmech.compile_mechanisms() == lib
    key = _nrnmech.mechanism_key()
    assert key in str(lib) and len(key) == 16
    first = _nrnmech.load_mechanisms()
    assert _nrnmech.load_mechanisms() == first  # second call does not load again
    from neuron import h

    assert hasattr(h, "ElmSnnNMDA")


def _single_compartment(h):
    sec = h.Section(name="probe")
    sec.L = sec.diam = 20.0
    sec.insert("pas")
    sec(0.5).pas.e = -70.0
    sec(0.5).pas.g = 1e-4
    return sec


def test_nmda_kinetics_and_mg_block() -> None:
    _nrnmech.load_mechanisms()
    from neuron import h

    h.load_file("stdrun.hoc")
    sec = _single_compartment(h)
    clamp = h.SEClamp(sec(0.5))
    clamp.dur1, clamp.amp1, clamp.rs = 1e9, -40.0, 1e-3
    syn = h.ElmSnnNMDA(sec(0.5))
    nc = h.NetCon(None, syn)
    nc.weight[0] = 0.002
    g, gb, i = h.Vector(), h.Vector(), h.Vector()
    g.record(syn._ref_g)
    gb.record(syn._ref_gblock)
    i.record(syn._ref_i)
    h.dt, h.secondorder = 0.025, 0
    h.finitialize(-40.0)
    nc.event(5.0)
    h.continuerun(200.0)
    g, gb, i = np.array(g), np.array(gb), np.array(i)
    # peak conductance equals the weight (Exp2Syn normalisation), at t = tau1 tau2/(tau2-tau1)
    # ln(tau2/tau1) after the event
    assert g.max() == pytest.approx(0.002, rel=2e-3)
    t_peak = 2.0 * 70.0 / 68.0 * np.log(35.0)
    assert np.argmax(g) * 0.025 == pytest.approx(5.0 + t_peak, abs=0.1)
    v = -40.0
    block = 1.0 / (1.0 + np.exp(-0.062 * v) * (1.0 / 3.57))
    k = int(np.argmax(g))
    assert gb[k] / g[k] == pytest.approx(block, rel=1e-3)
    assert i[k] == pytest.approx(gb[k] * (v - 0.0), rel=1e-3)
    del nc, syn, clamp, sec


def test_shared_synapse_equals_separate_synapses() -> None:
    # One synapse driven by two NetCons == two synapses on the same segment (NMDA and AMPA).
    _nrnmech.load_mechanisms()
    from neuron import h

    h.load_file("stdrun.hoc")
    keep = []
    traces = []
    for shared in (True, False):
        sec = _single_compartment(h)
        syns = [h.ElmSnnNMDA(sec(0.5)), h.Exp2Syn(sec(0.5))]
        if not shared:
            syns += [h.ElmSnnNMDA(sec(0.5)), h.Exp2Syn(sec(0.5))]
        ncs = []
        for j, (w, times) in enumerate(((0.004, (2.0, 30.0)), (0.006, (10.0, 31.0)))):
            for r in range(2):  # receptor: NMDA, AMPA
                target = syns[r] if shared else syns[2 * j + r]
                nc = h.NetCon(None, target)
                nc.weight[0] = w
                ncs.append((nc, times))
        v = h.Vector()
        v.record(sec(0.5)._ref_v)
        keep.append((sec, syns, ncs))
        traces.append(v)
    h.dt, h.secondorder = 0.1, 2
    h.finitialize(-70.0)
    for _, _, ncs in keep:
        for nc, times in ncs:
            for t in times:
                nc.event(t)
    h.continuerun(150.0)
    a, b = np.array(traces[0]), np.array(traces[1])
    assert a.max() > -60.0  # the inputs did something
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-9)
    keep.clear()


def test_simulation_spikes_and_subthreshold_fluctuations() -> None:
    cfg = ns.NeuronIOSimConfig(duration_ms=1000, **BUSY)
    r = ns.simulate(cfg, 0, 0)
    v = r.soma_voltage_mv
    assert v.shape == (1000,) and v.dtype == np.float64
    assert r.output_spike_times_ms.size >= 1
    assert np.all((r.output_spike_times_ms > 0) & (r.output_spike_times_ms < 1000))
    assert v[0] == pytest.approx(cfg.v_rest_mv, abs=1e-6)  # starts exactly at rest
    capped = np.minimum(v, -55.0)
    assert capped[100:].std() > 1.0  # realistic subthreshold fluctuations, not flat
    assert -80.0 < capped.mean() < -55.0
    assert np.mean(v > -55.0) < 0.3
    assert v.max() > 0.0  # spikes overshoot in the 1 ms samples
    assert r.cpu_s > 0


def test_same_seed_is_bit_identical_and_order_independent() -> None:
    cfg = ns.NeuronIOSimConfig(duration_ms=400, **BUSY)
    a = ns.simulate(cfg, 11, 2)
    ns.simulate(cfg, 11, 7)  # something else in between, same cell reused
    b = ns.simulate(cfg, 11, 2)
    assert np.array_equal(a.soma_voltage_mv, b.soma_voltage_mv)
    assert np.array_equal(a.output_spike_times_ms, b.output_spike_times_ms)
    c = ns.simulate(cfg, 12, 2)
    assert not np.array_equal(a.soma_voltage_mv, c.soma_voltage_mv)


def test_no_input_stays_at_rest() -> None:
    cfg = ns.NeuronIOSimConfig(
        cell="passive", duration_ms=200, ex_rate_hz_range=(0, 0), inh_rate_hz_range=(0, 0)
    )
    r = ns.simulate(cfg, 0, 0)
    assert r.output_spike_times_ms.size == 0
    np.testing.assert_allclose(r.soma_voltage_mv, cfg.v_rest_mv, atol=1e-6)


def test_cells_and_their_synapse_defaults() -> None:
    from elm_snn.synth._neuronio_config import SYNAPSE_WEIGHTS_US

    assert ns.CELLS == ("active", "passive") and ns.NeuronIOSimConfig().cell == "active"
    for cell in ns.CELLS:
        c = ns.NeuronIOSimConfig(cell=cell)
        assert (c.ampa_weight_us, c.nmda_weight_us, c.gaba_weight_us) == SYNAPSE_WEIGHTS_US[cell]
        assert ns._config_from_dict(c.to_dict()) == c
    # the passive cell keeps the weights it had before the active cell existed
    assert SYNAPSE_WEIGHTS_US["passive"] == (0.0008, 0.0008, 0.001)
    assert ns.NeuronIOSimConfig(cell="passive", ampa_weight_us=0.002).ampa_weight_us == 0.002
    with pytest.raises(ValueError, match=r"cell: expected one of \('active', 'passive'\)"):
        ns.NeuronIOSimConfig(cell="hay")
    assert ns.NeuronIOSimConfig().celsius == 34.0
    assert ns.NeuronIOSimConfig(cell="passive").celsius == 6.3


def _steady_gate(h, mech: str, gate: str, v: float) -> float:
    """The gate's value after finitialize(v) (= its steady state at v) in a bare section."""
    sec = h.Section(name=f"probe_{mech}")
    sec.insert(mech)
    h.celsius = 34.0
    h.finitialize(v)
    value = getattr(getattr(sec(0.5), mech), gate)
    del sec
    return float(value)


def test_active_channel_equations() -> None:
    """Steady states of the NMODL channels against Hay et al.'s equations written out here,
    at ordinary voltages and at the removable singularities of the rate functions."""
    from neuron import h

    _nrnmech.load_mechanisms()

    def nat_minf(v: float, vm: float = -38.0) -> float:
        a = 0.182 * (v - vm) / (1 - np.exp(-(v - vm) / 6))
        b = 0.124 * (vm - v) / (1 - np.exp((v - vm) / 6))
        return a / (a + b)

    def hva_minf(v: float) -> float:
        a = 0.055 * (-27 - v) / (np.exp((-27 - v) / 3.8) - 1)
        b = 0.94 * np.exp((-75 - v) / 17)
        return a / (a + b)

    def ih_minf(v: float) -> float:
        a = 0.00643 * (v + 154.9) / (np.exp((v + 154.9) / 11.9) - 1)
        b = 0.193 * np.exp(v / 33.1)
        return a / (a + b)

    for v in (-70.0, -50.0, -20.0):
        assert _steady_gate(h, "ElmSnnNaT", "m", v) == pytest.approx(nat_minf(v), rel=1e-9)
        assert _steady_gate(h, "ElmSnnCaHVA", "m", v) == pytest.approx(hva_minf(v), rel=1e-9)
        assert _steady_gate(h, "ElmSnnIh", "m", v) == pytest.approx(ih_minf(v), rel=1e-9)
        u = v + 10  # K_Tst / Ca_LVAst are shifted by -10 mV
        assert _steady_gate(h, "ElmSnnKTst", "m", v) == pytest.approx(1 / (1 + np.exp(-u / 19)))
        lva = 1 / (1 + np.exp(-(u + 30) / 6))
        assert _steady_gate(h, "ElmSnnCaLVA", "m", v) == pytest.approx(lva)
        kv3 = 1 / (1 + np.exp(-(v - 18.7) / 9.7))
        assert _steady_gate(h, "ElmSnnKv3", "m", v) == pytest.approx(kv3)
    # at the singular points the limits, continuous with the neighbours
    for mech, v0 in (("ElmSnnNaT", -38.0), ("ElmSnnCaHVA", -27.0), ("ElmSnnIh", -154.9)):
        at = _steady_gate(h, mech, "m", v0)
        near = _steady_gate(h, mech, "m", v0 + 1e-3)
        assert np.isfinite(at) and at == pytest.approx(near, abs=1e-4)


def test_active_cell_rests_and_fires() -> None:
    """No input: a steady resting state from the first sample (no start-up transient) and
    no spikes; busy input: spikes that overshoot."""
    quiet = ns.NeuronIOSimConfig(duration_ms=100, ex_rate_hz_range=(0, 0), inh_rate_hz_range=(0, 0))
    r = ns.simulate(quiet, 0, 0)
    v = r.soma_voltage_mv
    assert r.output_spike_times_ms.size == 0
    assert -85.0 < v[0] < -70.0 and np.ptp(v) < 0.05
    busy = ns.NeuronIOSimConfig(
        duration_ms=300, ex_rate_hz_range=(3.0, 3.1), inh_rate_hz_range=(3.0, 3.5)
    )
    r = ns.simulate(busy, 0, 0)
    assert r.output_spike_times_ms.size >= 1 and r.soma_voltage_mv.max() > 0.0


# ---------------------------------------------------------------------------- files


def test_generate_reads_back_and_reuses(tmp_path: Path) -> None:
    from elm_snn.data.neuronio import find_neuronio_files, read_neuronio_file

    cfg = ns.NeuronIOSimConfig(duration_ms=300, **FILES)
    out = tmp_path / "data"
    messages: list[str] = []
    paths = ns.generate_neuronio_sim(
        out, 3, seed=6, config=cfg, sims_per_file=2, progress=messages.append
    )
    assert [p.name for p in find_neuronio_files(out)] == [p.name for p in paths]
    assert len(paths) == 2 and sum("wrote" in m for m in messages) == 2
    files = [read_neuronio_file(p) for p in paths]
    assert [f.num_simulations for f in files] == [2, 1]
    f0 = files[0]
    assert f0.num_segments == 639 and f0.duration_ms == 300
    assert set(f0.segment_type) == {"basal", "apical"}
    assert f0.segment_type[0] == "basal" and f0.segment_type[-1] == "apical"
    assert np.all(f0.segment_dist_from_soma_um > 0)
    for k, f, j in ((0, files[0], 0), (1, files[0], 1), (2, files[1], 0)):
        ref = ns.simulate(cfg, 6, k)
        sample = f.sample(j)
        np.testing.assert_array_equal(
            sample.soma_voltage_mv, ref.soma_voltage_mv.astype(np.float32)
        )
        raster = np.zeros((1278, 300), dtype=bool)
        for i, t in enumerate(ref.ex_spike_times):
            raster[i, t] = True
        for i, t in enumerate(ref.inh_spike_times):
            raster[639 + i, t] = True
        np.testing.assert_array_equal(sample.inputs, raster)
        assert sample.output_spikes.sum() == ref.output_spike_times_ms.size

    manifest = json.loads((out / ns.MANIFEST_NAME).read_text())
    assert [e["name"] for e in manifest["files"]] == [p.name for p in paths]
    mtimes = [p.stat().st_mtime_ns for p in paths]

    # same definition: nothing simulated again
    messages.clear()
    again = ns.generate_neuronio_sim(
        out, 3, seed=6, config=cfg, sims_per_file=2, progress=messages.append
    )
    assert again == paths and all(m.startswith("reused") for m in messages)
    assert [p.stat().st_mtime_ns for p in paths] == mtimes

    # fewer simulations: the file no longer needed disappears
    fewer = ns.generate_neuronio_sim(out, 2, seed=6, config=cfg, sims_per_file=2)
    assert fewer == paths[:1] and not paths[1].exists()

    # other definition: refused unless overwrite
    with pytest.raises(ValueError, match="different definition"):
        ns.generate_neuronio_sim(out, 1, seed=5, config=cfg, sims_per_file=2)
    other = ns.generate_neuronio_sim(out, 1, seed=5, config=cfg, sims_per_file=2, overwrite=True)
    assert [p.name for p in find_neuronio_files(out)] == [other[0].name]


def test_zero_spike_simulation_reads_back(tmp_path: Path) -> None:
    from elm_snn.data.neuronio import read_neuronio_file

    cfg = ns.NeuronIOSimConfig(duration_ms=50, ex_rate_hz_range=(0, 0), inh_rate_hz_range=(0, 0))
    (path,) = ns.generate_neuronio_sim(tmp_path, 1, config=cfg)
    f = read_neuronio_file(path)
    assert f.output_spike_times_ms.size == 0 and f.num_simulations == 1


def test_generate_refuses_foreign_files_and_bad_args(tmp_path: Path) -> None:
    (tmp_path / "sim__real_data.p").write_bytes(b"not ours")
    with pytest.raises(ValueError, match="not written by this generator"):
        ns.generate_neuronio_sim(tmp_path, 1, config=ns.NeuronIOSimConfig(duration_ms=50))
    with pytest.raises(ValueError, match="n_sims"):
        ns.generate_neuronio_sim(tmp_path / "x", 0)
    with pytest.raises(TypeError, match="workers"):
        ns.generate_neuronio_sim(tmp_path / "x", 1, workers=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="config"):
        ns.generate_neuronio_sim(tmp_path / "x", 1, config={"duration_ms": 5})  # type: ignore[arg-type]


def test_params_layout() -> None:
    cfg = ns.NeuronIOSimConfig(duration_ms=1500)
    p = ns.neuronio_params(cfg, 3)
    assert p["totalSimDurationInSec"] == 1.5
    assert ns.neuronio_params(ns.NeuronIOSimConfig(), 3)["totalSimDurationInSec"] == 6
    assert len(p["allSegmentsType"]) == len(p["allSegments_DistFromSoma"]) == 639
    idx = np.array(p["allSegments_ModelSegmentIndex"])
    assert np.array_equal(idx, ns.input_segment_map(639))
    dist = np.array(p["modelSegments"]["dist_from_soma_um"])
    np.testing.assert_allclose(np.array(p["allSegments_DistFromSoma"]), dist[idx])
    assert p["randomSeed"] == 3 and p["simConfig"]["duration_ms"] == 1500


@pytest.mark.slow
def test_workers_do_not_change_results(tmp_path: Path) -> None:
    from elm_snn.data.neuronio import read_neuronio_file

    cfg = ns.NeuronIOSimConfig(duration_ms=200, **FILES)
    one = ns.generate_neuronio_sim(tmp_path / "w1", 3, seed=9, config=cfg, workers=1)
    two = ns.generate_neuronio_sim(tmp_path / "w2", 3, seed=9, config=cfg, workers=2)
    assert one[0].name == two[0].name
    a, b = read_neuronio_file(one[0]), read_neuronio_file(two[0])
    np.testing.assert_array_equal(a.soma_voltage_mv, b.soma_voltage_mv)
    np.testing.assert_array_equal(a.input_times_ms, b.input_times_ms)
    np.testing.assert_array_equal(a.output_spike_times_ms, b.output_spike_times_ms)


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from elm_snn.cli import main
    from elm_snn.cli.data import neuronio_sim

    parser = argparse.ArgumentParser()
    neuronio_sim.add_arguments(parser)
    args = parser.parse_args(
        ["--out", str(tmp_path / "cli"), "--n-sims", "2", "--duration-s", "0.1", "--quiet"]
    )
    assert neuronio_sim.run_from_args(args) == 0
    assert "2 simulations of 100 ms" in capsys.readouterr().out
    # errors: one line through the command line's one handler, exit status 2
    command = ["data", "neuronio-sim"]
    assert main([*command, "--out", str(tmp_path / "bad"), "--n-sims", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("elm-snn: error: ")
    assert "n_sims: expected an int >= 1, got 0" in err[0]
    assert main([*command, "--out", str(tmp_path / "bad2"), "--duration-s", "0.0005"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "duration_ms" in err[0]
