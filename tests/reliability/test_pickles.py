"""NeuronIO pickles: nothing named by the file runs, and a small file cannot make the reader
allocate more than its size allows."""

from __future__ import annotations

import pickle
import resource

import numpy as np
import pytest

from elm_snn.data.neuronio import NeuronIOFormatError, load_neuronio_pickle


class _Call:
    """Pickles as ``func(*args)``."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _reconstruct_call(shape, dtype="b"):
    from numpy._core.multiarray import _reconstruct

    return _Call(_reconstruct, np.ndarray, shape, dtype)


BOMBS = {
    "bytes-300MB": (lambda: _Call(bytes, 300_000_000), r"refusing to allocate 300000000 bytes"),
    "bytes-1PB": (lambda: _Call(bytes, 10**15), r"bytes\(1000000000000000\)"),
    "bytearray-1GB": (lambda: _Call(bytearray, 10**9), r"bytearray\(1000000000\)"),
    "ndarray-8GB": (lambda: _Call(np.ndarray, (10**5, 10**4)), r"numpy.ndarray"),
    "reconstruct-1GB": (lambda: _reconstruct_call((10**5, 10**4)), "numpy array of shape"),
    "reconstruct-bad-shape": (lambda: _reconstruct_call((-1,)), "non-negative ints"),
}


@pytest.mark.parametrize("protocol", [2, 4])
@pytest.mark.parametrize("name", sorted(BOMBS))
def test_allocation_bombs_are_refused_before_allocating(tmp_path, name, protocol):
    make, match = BOMBS[name]
    path = tmp_path / "sim__bomb.p"
    path.write_bytes(pickle.dumps({"Params": {}, "Results": make()}, protocol=protocol))
    assert path.stat().st_size < 200
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(NeuronIOFormatError, match=match) as info:
        load_neuronio_pickle(path)
    assert "bytes in all" in str(info.value) or "non-negative" in str(info.value)
    assert str(path) in str(info.value)
    # nothing near the requested size was allocated (peak RSS grew by < 64 MiB; KiB on Linux)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 64 * 1024


def test_object_array_state_must_match_its_shape(tmp_path):
    arr = np.empty(2, dtype=object)
    arr[:] = [1, 2]
    data = pickle.dumps({"a": arr}, protocol=2)
    # the array state's shape (2,) -> (10**9,) with the same 2-item list
    bad = data.replace(b"K\x02\x85", b"J\x00\xca\x9a;\x85", 1)
    assert bad != data
    path = tmp_path / "sim__obj.p"
    path.write_bytes(bad)
    with pytest.raises(NeuronIOFormatError, match="needs 1000000000 items"):
        load_neuronio_pickle(path)


def test_code_in_a_pickle_never_runs(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "sim__evil.p"
    path.write_bytes(pickle.dumps(_Call(exec, f"open({str(marker)!r}, 'w').write('x')")))
    with pytest.raises(NeuronIOFormatError, match="refusing to load global 'builtins.exec'"):
        load_neuronio_pickle(path)
    assert not marker.exists()


def test_plain_arrays_still_load(tmp_path):
    path = tmp_path / "sim__ok.p"
    obj = {"Params": {"x": np.arange(5.0)}, "Results": [np.zeros((0,)), b"abc", np.float32(2)]}
    path.write_bytes(pickle.dumps(obj, protocol=2))
    out = load_neuronio_pickle(path)
    assert type(out["Params"]["x"]) is np.ndarray and out["Params"]["x"].tolist() == [0, 1, 2, 3, 4]
    assert out["Results"][1] == b"abc" and out["Results"][2] == np.float32(2)


@pytest.mark.parametrize(
    "payload",
    [
        b"\x80\x02]r" + (2**28).to_bytes(4, "little") + b".",  # LONG_BINPUT 2**28
        b"(lp268435456\n.",  # protocol 0 PUT 268435456
    ],
    ids=["long-binput", "put"],
)
def test_memo_index_bombs_are_refused_before_unpickling(tmp_path, payload):
    path = tmp_path / "sim__memo.p"
    path.write_bytes(payload)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(NeuronIOFormatError, match="refusing memo index 268435456"):
        load_neuronio_pickle(path)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 64 * 1024


@pytest.mark.parametrize("protocol", range(6))
def test_memo_scan_agrees_with_pickletools(protocol):
    import pickletools

    from elm_snn.data.neuronio.unpickle import _max_memo_index

    shared = [np.arange(7), "x" * 300, b"y" * 300, 2**2000, -1.5, None, (1, 2), {1}, "\u00e9"]
    obj = {"a": shared, "b": shared, "c": list(range(400)), "d": np.float16(3)}
    data = pickle.dumps(obj, protocol=protocol)
    puts = [
        a for op, a, _ in pickletools.genops(data) if op.name in ("PUT", "BINPUT", "LONG_BINPUT")
    ]
    assert _max_memo_index(data) == max(puts, default=-1)
