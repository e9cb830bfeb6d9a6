"""NeuronIO pickle writer/reader, restricted unpickling, Python 2 files, compact format, CLI."""

from __future__ import annotations

import io
import os
import pickle
import struct

import numpy as np
import pytest

from elm_snn.data import neuronio as nio

T = 1000
N_SEG = nio.NEURONIO_NUM_SEGMENTS


def _params(duration_s: float = 1) -> dict:
    rng = np.random.default_rng(5)
    return {
        "allSegmentsType": ["basal"] * 262 + ["apical"] * (N_SEG - 262),
        "allSegments_DistFromSoma": rng.uniform(0, 1200, N_SEG).tolist(),
        "totalSimDurationInSec": duration_s,
        "numSimulations": 3,
        "excitatorySynapseType": "NMDA",
    }


def _sim(rng: np.random.Generator, n_out: int = 4) -> nio.NeuronIOSimulation:
    def spikes() -> dict[int, np.ndarray]:
        return {
            s: np.sort(rng.choice(T, rng.integers(1, 4), replace=False))
            for s in range(N_SEG)
            if rng.random() < 0.5
        }

    out = np.sort(rng.uniform(0.0, T - 1.0, n_out))
    return nio.NeuronIOSimulation(spikes(), spikes(), out, rng.normal(-70, 4, T))


@pytest.fixture()
def sims() -> list[nio.NeuronIOSimulation]:
    rng = np.random.default_rng(0)
    return [_sim(rng) for _ in range(3)]


def _dense_direct(sim: nio.NeuronIOSimulation) -> tuple[np.ndarray, np.ndarray]:
    x = np.zeros((2 * N_SEG, T), dtype=bool)
    for seg, ts in sim.ex_spike_times.items():
        x[seg, ts] = True
    for seg, ts in sim.inh_spike_times.items():
        x[N_SEG + seg, ts] = True
    y = np.zeros(T, dtype=bool)
    for t in sim.output_spike_times_ms:
        y[int(float(t) - 0.5)] = True  # the format doc's rule, written independently
    return x, y


def test_round_trip(tmp_path, sims):
    path = tmp_path / "data_sim__0.p"
    nio.write_neuronio_pickle(path, sims, _params())
    raw = pickle.loads(path.read_bytes())  # the layout, as a plain unpickler sees it
    assert set(raw) == {"Params", "Results"}
    assert raw["Params"]["totalSimDurationInSec"] == 1
    one = raw["Results"]["listOfSingleSimulationDicts"][0]
    assert set(one) == {
        "exInputSpikeTimes",
        "inhInputSpikeTimes",
        "outputSpikeTimes",
        "somaVoltageLowRes",
    }
    assert one["somaVoltageLowRes"].shape == (T,)
    f = nio.read_neuronio_pickle(path)
    assert (f.num_simulations, f.num_segments, f.duration_ms, f.num_inputs) == (3, N_SEG, T, 1278)
    assert f.segment_type[0] == "basal" and f.segment_type[-1] == "apical"
    samples = list(nio.iter_neuronio_simulations(tmp_path))
    assert len(samples) == 3
    for k, (sim, s) in enumerate(zip(sims, samples, strict=True)):
        x, y = _dense_direct(sim)
        assert s.inputs.shape == (1278, T) and s.inputs.dtype == bool
        np.testing.assert_array_equal(s.inputs, x)
        np.testing.assert_array_equal(s.output_spikes, y)
        np.testing.assert_array_equal(s.soma_voltage_mv, sim.soma_voltage_mv.astype(np.float32))
        assert s.index == k
        back = f.simulation(k)
        assert back.ex_spike_times.keys() == sim.ex_spike_times.keys()
        for seg in sim.inh_spike_times:
            np.testing.assert_array_equal(back.inh_spike_times[seg], sim.inh_spike_times[seg])
    # partial rasters agree with the full one
    np.testing.assert_array_equal(f.input_raster(1, 100, 350), samples[1].inputs[:, 100:350])
    np.testing.assert_array_equal(f.output_raster(2, 10, 990), samples[2].output_spikes[10:990])


def test_simulation_without_output_spikes_round_trips(tmp_path):
    # protocol 2 pickles the empty buffer of a 0-length array through builtins.bytes
    rng = np.random.default_rng(1)
    silent = _sim(rng, n_out=0)
    path = tmp_path / "data_sim__silent.p"
    nio.write_neuronio_pickle(path, [silent, _sim(rng)], _params())
    f = nio.read_neuronio_pickle(path)
    assert f.num_output_spikes(0) == 0 and f.num_output_spikes(1) == 4
    assert not f.output_raster(0, 0, T).any()


def test_output_bin_rule_matches_official_truncation():
    t = np.array([0.0, 0.4, 0.5, 1.49, 1.5, 2.0, 5999.2])
    np.testing.assert_array_equal(nio.output_spike_bins(t), [0, 0, 0, 0, 1, 1, 5998])
    # the official expression, applied literally
    np.testing.assert_array_equal(nio.output_spike_bins(t), (t.astype(float) - 0.5).astype(int))


def test_writer_validates(tmp_path, sims):
    p = tmp_path / "x_sim__.p"
    bad = nio.NeuronIOSimulation({N_SEG: np.array([1])}, {}, np.zeros(0), np.zeros(T))
    with pytest.raises(nio.NeuronIOFormatError, match="segment index 639"):
        nio.write_neuronio_pickle(p, [bad], _params())
    bad = nio.NeuronIOSimulation({0: np.array([T])}, {}, np.zeros(0), np.zeros(T))
    with pytest.raises(nio.NeuronIOFormatError, match="spike times"):
        nio.write_neuronio_pickle(p, [bad], _params())
    bad = nio.NeuronIOSimulation({}, {}, np.array([T + 0.6]), np.zeros(T))
    with pytest.raises(nio.NeuronIOFormatError, match="bins"):
        nio.write_neuronio_pickle(p, [bad], _params())
    with pytest.raises(nio.NeuronIOFormatError, match="samples"):
        nio.write_neuronio_pickle(p, sims, _params(duration_s=2))
    params = _params()
    del params["allSegmentsType"]
    with pytest.raises(nio.NeuronIOFormatError, match="allSegmentsType"):
        nio.write_neuronio_pickle(p, sims, params)
    with pytest.raises(ValueError, match="whole ms"):
        nio.NeuronIOSimulation({0: np.array([1.5])}, {}, np.zeros(0), np.zeros(T))
    params = _params()
    params["weird"] = object()
    with pytest.raises(TypeError, match="weird"):
        nio.write_neuronio_pickle(p, sims, params)
    assert not p.exists()


def test_reader_validates_foreign_files(tmp_path, sims):
    good = [s.to_dict() for s in sims]
    good[1]["inhInputSpikeTimes"] = {700: [3]}  # segment index beyond 639
    p = tmp_path / "bad_sim__.p"
    p.write_bytes(
        pickle.dumps(
            {"Params": _params(), "Results": {"listOfSingleSimulationDicts": good}}, protocol=2
        )
    )
    with pytest.raises(nio.NeuronIOFormatError, match="simulation 1.*segment index 700"):
        nio.read_neuronio_pickle(p)


class _Evil:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_restricted_unpickler_refuses_code(tmp_path):
    marker = tmp_path / "pwned"
    p = tmp_path / "evil_sim__.p"
    p.write_bytes(pickle.dumps({"Params": _Evil(str(marker))}, protocol=2))
    with pytest.raises(
        nio.NeuronIOFormatError, match=r"refusing to load global '(posix|nt)\.system'"
    ):
        nio.read_neuronio_pickle(p)
    assert not marker.exists()
    from collections import OrderedDict

    p.write_bytes(pickle.dumps({"Params": OrderedDict(a=1)}, protocol=4))
    with pytest.raises(nio.NeuronIOFormatError, match="collections.OrderedDict"):
        nio.load_neuronio_pickle(p)
    p.write_bytes(b"not a pickle at all")
    with pytest.raises(nio.NeuronIOFormatError, match="not a readable"):
        nio.load_neuronio_pickle(p)


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_numpy_globals_admitted(tmp_path, protocol):
    obj = {"a": np.arange(5.0), "s": np.int64(3), "set": {1, 2}, "h": np.float16(1.5)}
    p = tmp_path / "x"
    p.write_bytes(pickle.dumps(obj, protocol=protocol))
    back = nio.load_neuronio_pickle(p)
    np.testing.assert_array_equal(back["a"], obj["a"])
    assert back["s"] == 3 and back["set"] == {1, 2} and back["h"] == np.float16(1.5)


class _Py2Pickler(pickle._Pickler):
    """Writes str and bytes as Python 2 ``str`` (BINSTRING), as Python 2's cPickle did."""

    dispatch = pickle._Pickler.dispatch.copy()

    def _save_py2_str(self, obj):
        data = obj.encode("latin1") if isinstance(obj, str) else bytes(obj)
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[str] = _save_py2_str
    dispatch[bytes] = _save_py2_str


def _py2_pickle(obj) -> bytes:
    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump(obj)
    # numpy 1.x / Python 2 module names
    return buf.getvalue().replace(b"numpy._core.multiarray", b"numpy.core.multiarray")


def test_python2_latin1_file(tmp_path, sims):
    # real-file style: numpy int64 segment keys and lists of numpy int64 times, float16 arrays
    rng = np.random.default_rng(1)
    sim_dicts = []
    for s in sims:
        d = s.to_dict(voltage_dtype=np.float16)
        for key in ("exInputSpikeTimes", "inhInputSpikeTimes"):
            d[key] = {np.int64(k): [np.int64(t) for t in v] for k, v in d[key].items()}
        d["outputSpikeTimes"] = d["outputSpikeTimes"].astype(np.float16)
        d["recordingTimeLowRes"] = np.arange(T, dtype=np.float32)
        sim_dicts.append(d)
    params = _params()
    params["Ih_vshift"] = np.float64(rng.normal())
    data = _py2_pickle({"Params": params, "Results": {"listOfSingleSimulationDicts": sim_dicts}})
    assert b"_codecs" not in data and b"numpy.core.multiarray" in data
    p = tmp_path / "py2_sim__.p"
    p.write_bytes(data)
    with pytest.raises(UnicodeDecodeError):  # what makes the latin1 fallback necessary
        pickle.loads(data, encoding="ASCII")
    f = nio.read_neuronio_pickle(p)
    assert f.num_simulations == 3
    for k, s in enumerate(sims):
        x, _ = _dense_direct(s)
        np.testing.assert_array_equal(f.input_raster(k), x)
        np.testing.assert_array_equal(
            f.soma_voltage_mv[k], s.soma_voltage_mv.astype(np.float16).astype(np.float32)
        )
        expect = (s.output_spike_times_ms.astype(np.float16).astype(float) - 0.5).astype(int)
        np.testing.assert_array_equal(np.flatnonzero(f.output_raster(k)), np.unique(expect))


def test_compact_round_trip_and_cli(tmp_path, sims, capsys):
    src = tmp_path / "src"
    nio.write_neuronio_pickle(src / "a_sim__1.p", sims[:2], _params())
    nio.write_neuronio_pickle(src / "b_sim__2.p", sims[2:], _params())
    (src / "README.txt").write_text("not data")
    outs = nio.convert_neuronio_folder(src, tmp_path / "dst")
    assert [o.name for o in outs] == ["a_sim__1.h5", "b_sim__2.h5"]
    for o, name in zip(outs, ["a_sim__1.p", "b_sim__2.p"], strict=True):
        a = nio.read_neuronio_pickle(src / name)
        b = nio.read_neuronio_file(o)
        assert b.same_content(a)
    assert not nio.read_neuronio_file(outs[1]).same_content(nio.read_neuronio_file(outs[0]))
    dense_a = [s.inputs for s in nio.iter_neuronio_simulations(src)]
    dense_b = [s.inputs for s in nio.iter_neuronio_simulations(tmp_path / "dst")]
    assert all(np.array_equal(x, y) for x, y in zip(dense_a, dense_b, strict=True))
    # CLI through the module hooks
    import argparse

    from elm_snn.cli.data import neuronio_convert

    parser = argparse.ArgumentParser()
    neuronio_convert.add_arguments(parser)
    args = parser.parse_args([str(src), str(tmp_path / "dst2"), "--quiet"])
    assert neuronio_convert.run_from_args(args) == 0
    assert sorted(p.name for p in (tmp_path / "dst2").iterdir()) == ["a_sim__1.h5", "b_sim__2.h5"]
    # errors: one line through the command line's handler, exit status 2
    from elm_snn.cli import main

    missing = tmp_path / "missing"
    assert main(["data", "neuronio-convert", str(missing), str(tmp_path / "dst3"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("elm-snn: error: ") and str(missing) in err[0]


def test_compact_rejects_other_hdf5(tmp_path):
    import h5py

    p = tmp_path / "other_sim__.h5"
    with h5py.File(p, "w") as h5:
        h5.attrs["format"] = "something else"
    with pytest.raises(nio.NeuronIOFormatError, match="not an elm-snn NeuronIO compact"):
        nio.read_neuronio_file(p)


def test_find_files_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither a folder nor a file"):
        nio.find_neuronio_files(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="no NeuronIO files"):
        nio.find_neuronio_files(tmp_path)
