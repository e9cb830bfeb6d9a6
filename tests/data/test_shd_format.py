"""SHD HDF5 layout: writer, reader, validation, and compatibility with tonic's reader."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from elm_snn.data.shd_format import (
    SHD_CLASS_NAMES,
    SHDFormatError,
    read_shd_file,
    validate_shd_file,
    write_shd_file,
)


def _tiny(n: int = 3):
    times = [np.array([0.0, 0.1, 0.1, 0.9]), np.array([]), np.array([0.25, 1.3])][:n]
    units = [np.array([0, 699, 5, 3]), np.array([], dtype=int), np.array([7, 8])][:n]
    return times, units, [0, 19, 7][:n], [0, 1, 2][:n]


def test_roundtrip_layout_and_dtypes(tmp_path: Path) -> None:
    path = tmp_path / "x.h5"
    t, u, y, s = _tiny()
    meta = {"gender": ["f", "m", "f"], "age": [21, 35, 50], "body_height": [1.6, 1.8, 1.7]}
    write_shd_file(path, t, u, y, s, meta_info=meta)
    with h5py.File(path, "r") as f:
        assert h5py.check_vlen_dtype(f["spikes/times"].dtype) == np.float16
        assert h5py.check_vlen_dtype(f["spikes/units"].dtype) == np.uint16
        assert f["labels"].dtype == np.uint16 and f["extra/speaker"].dtype == np.uint16
        assert [k.decode() for k in f["extra/keys"][()]] == list(SHD_CLASS_NAMES)
        assert set(f["extra/meta_info"]) == {"gender", "age", "body_height"}
    r = read_shd_file(path)
    assert len(r) == 3 and r.labels.tolist() == y and r.speakers.tolist() == s
    assert r.num_spikes.tolist() == [4, 0, 2]
    for a, b in zip(r.times, t, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-3)  # float16 on disk, like real SHD
    for a, b in zip(r.units, u, strict=True):
        assert a.tolist() == list(b)
    assert r.meta_info["gender"].tolist() == ["f", "m", "f"]
    assert r.meta_info["age"].tolist() == [21, 35, 50]
    assert r.keys == list(SHD_CLASS_NAMES)
    assert validate_shd_file(path) == 3
    assert [p.name for p in tmp_path.iterdir()] == ["x.h5"]  # no temporary file left


def test_float32_times_are_exact(tmp_path: Path) -> None:
    t, u, y, s = _tiny()
    write_shd_file(tmp_path / "x.h5", t, u, y, s, time_dtype="float32")
    r = read_shd_file(tmp_path / "x.h5")
    for a, b in zip(r.times, t, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-7)


def test_tonic_shd_reads_written_file(tmp_path: Path, no_network: list) -> None:
    """tonic's own __getitem__ (HSD) gives the same events as elm_snn.data.SHD."""
    import tonic

    from elm_snn.data import SHD

    t, u, y, s = _tiny()
    write_shd_file(tmp_path / "SHD" / "shd_train.h5", t, u, y, s)
    ds = SHD(tmp_path, train=True)
    assert isinstance(ds, tonic.datasets.SHD)
    assert len(ds) == 3 and ds.classes[0] in (b"zero", "zero")
    assert list(ds.speaker) == s
    for i in range(3):
        ev_tonic, y_tonic = tonic.datasets.hsd.HSD.__getitem__(ds, i)
        ev, yy = ds[i]
        assert ev.dtype.names == ("t", "x", "p")
        np.testing.assert_array_equal(ev["t"], ev_tonic["t"])
        np.testing.assert_array_equal(ev["x"], ev_tonic["x"])
        assert (ev["p"] == 1).all() and yy == int(y_tonic) == y[i]
    assert no_network == []


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda t, u, y, s: (t, u[:2], y, s), "units: expected one entry per sample"),
        (lambda t, u, y, s: (t, u, y[:2], s), "labels: expected one entry"),
        (
            lambda t, u, y, s: ([np.array([0.2, 0.1])] + t[1:], [np.array([1, 2])] + u[1:], y, s),
            "non-decreasing",
        ),
        (
            lambda t, u, y, s: ([np.array([-0.1])] + t[1:], [np.array([1])] + u[1:], y, s),
            "non-negative",
        ),
        (
            lambda t, u, y, s: ([np.array([0.1])] + t[1:], [np.array([700])] + u[1:], y, s),
            r"channel ids in \[0, 700\)",
        ),
        (
            lambda t, u, y, s: ([np.array([0.1, 0.2])] + t[1:], [np.array([1])] + u[1:], y, s),
            "equal lengths",
        ),
        (lambda t, u, y, s: (t, u, [0, 20, 1], s), r"labels: expected values in \[0, 20\)"),
        (lambda t, u, y, s: (t, u, y, [0, -1, 2]), "speakers"),
    ],
)
def test_writer_rejects_bad_input(tmp_path: Path, mutate, match: str) -> None:
    args = mutate(*_tiny())
    with pytest.raises(ValueError, match=match):
        write_shd_file(tmp_path / "bad.h5", *args)
    assert not (tmp_path / "bad.h5").exists()


def test_writer_rejects_bad_types(tmp_path: Path) -> None:
    t, u, y, s = _tiny()
    with pytest.raises(TypeError, match="units"):
        write_shd_file(tmp_path / "b.h5", t, [x.astype(float) + 0.5 for x in u], y, s)
    with pytest.raises(ValueError, match="time_dtype"):
        write_shd_file(tmp_path / "b.h5", t, u, y, s, time_dtype="int8")
    with pytest.raises(ValueError, match="float16"):
        write_shd_file(tmp_path / "b.h5", [np.array([1e6])], [np.array([1])], [0], [0])


def test_reader_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.h5"):
        read_shd_file(tmp_path / "nope.h5")


def test_reader_truncated_and_garbage(tmp_path: Path) -> None:
    t, u, y, s = _tiny()
    good = tmp_path / "good.h5"
    write_shd_file(good, t, u, y, s)
    data = good.read_bytes()
    (tmp_path / "trunc.h5").write_bytes(data[: len(data) // 2])
    with pytest.raises(SHDFormatError, match="truncated"):
        read_shd_file(tmp_path / "trunc.h5")
    (tmp_path / "junk.h5").write_bytes(b"this is not hdf5" * 10)
    with pytest.raises(SHDFormatError, match="not a readable HDF5"):
        validate_shd_file(tmp_path / "junk.h5")


@pytest.mark.parametrize("drop", ["spikes/units", "labels", "extra/speaker", "extra/keys"])
def test_reader_missing_dataset(tmp_path: Path, drop: str) -> None:
    path = tmp_path / "m.h5"
    write_shd_file(path, *_tiny())
    with h5py.File(path, "a") as f:
        del f[drop]
    with pytest.raises(SHDFormatError, match=f"missing dataset.*{drop}"):
        read_shd_file(path)


def test_reader_inconsistent_lengths(tmp_path: Path) -> None:
    path = tmp_path / "m.h5"
    write_shd_file(path, *_tiny())
    with h5py.File(path, "a") as f:
        del f["labels"]
        f["labels"] = np.zeros(2, dtype=np.uint16)
    with pytest.raises(SHDFormatError, match="one entry per sample"):
        read_shd_file(path)
