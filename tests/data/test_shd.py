"""elm_snn.data.SHD: tonic's SHD reader, offline, with clear errors and opt-in download."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from elm_snn.data import SHD, BinToFrames, SHDFormatError, find_shd_file, read_shd_file

N_TRAIN, N_TEST = 60, 20  # sizes of the conftest shd_dir files


def test_offline_flat_folder(shd_dir: Path, no_network: list) -> None:
    tr = SHD(shd_dir, train=True)
    te = SHD(shd_dir, train=False)
    assert len(tr) == N_TRAIN and len(te) == N_TEST
    rec = read_shd_file(shd_dir / "shd_train.h5")
    np.testing.assert_array_equal(tr.labels, rec.labels)
    np.testing.assert_array_equal(tr.digits, rec.labels % 10)
    np.testing.assert_array_equal(tr.speakers, rec.speakers)
    assert set(te.speakers.tolist()) == {10, 11}
    ev, y = tr[5]
    assert y == rec.labels[5]
    np.testing.assert_array_equal(ev["x"], rec.units[5])
    np.testing.assert_array_equal(ev["t"], (rec.times[5] * 1e6).astype(np.int64))
    assert no_network == []


def test_offline_tonic_subfolder(shd_dir: Path, tmp_path: Path, no_network: list) -> None:
    root = tmp_path / "root"
    (root / "SHD").mkdir(parents=True)
    shutil.copy(shd_dir / "shd_test.h5", root / "SHD" / "shd_test.h5")
    ds = SHD(root, train=False, transform=BinToFrames(10, 1000))
    assert ds.path == root / "SHD" / "shd_test.h5"
    x, _ = ds[0]
    assert x.shape == (100, 700) and x.dtype == np.float32
    assert no_network == []


def test_missing_file_is_clear_and_offline(tmp_path: Path, no_network: list) -> None:
    with pytest.raises(FileNotFoundError) as info:
        SHD(tmp_path, train=True)
    msg = str(info.value)
    assert "shd_train.h5" in msg and str(tmp_path / "SHD") in msg
    assert "download=True" in msg and "elm-snn data spoken-digits" in msg
    assert no_network == []
    with pytest.raises(FileNotFoundError, match="shd_test.h5"):
        find_shd_file(tmp_path, train=False)


def test_download_only_when_asked(shd_dir: Path, tmp_path: Path, monkeypatch) -> None:
    """download=True goes through tonic's downloader (mocked here: it 'extracts' the file)."""
    import tonic.dataset

    calls = []

    def fake_download(url, location, filename, md5):
        calls.append((url, filename, md5))
        Path(location).mkdir(parents=True, exist_ok=True)
        shutil.copy(shd_dir / "shd_test.h5", Path(location) / "shd_test.h5")

    monkeypatch.setattr(tonic.dataset, "download_and_extract_archive", fake_download)
    ds = SHD(tmp_path / "dl", train=False, download=True)
    assert len(ds) == N_TEST and len(calls) == 1
    assert calls[0][1] == "shd_test.h5.zip" and calls[0][0].startswith("https://")
    SHD(tmp_path / "dl", train=False, download=True)  # present now: no second download
    assert len(calls) == 1


def test_truncated_file_gives_format_error(shd_dir: Path, tmp_path: Path, no_network) -> None:
    data = (shd_dir / "shd_train.h5").read_bytes()
    (tmp_path / "shd_train.h5").write_bytes(data[:2000])
    with pytest.raises(SHDFormatError, match="shd_train.h5"):
        SHD(tmp_path, train=True)


def test_pickle_roundtrip_for_workers(shd_dir: Path) -> None:
    import pickle

    ds = SHD(shd_dir, train=True)
    ev0, _ = ds[0]  # opens the h5 handle
    ds2 = pickle.loads(pickle.dumps(ds))
    np.testing.assert_array_equal(ds2[0][0], ev0)
    with pytest.raises(IndexError):
        ds[N_TRAIN]
