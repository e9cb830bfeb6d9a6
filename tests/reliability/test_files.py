"""Files: a zero-byte, random, truncated or inconsistent SHD file gives one SHDFormatError
naming the file (library, task and command line); files we write get the umask's mode."""

from __future__ import annotations

import json
import os
import stat

import h5py
import numpy as np
import pytest
from reliability_helpers import tiny_cli_args

from elm_snn.cli import main
from elm_snn.data import SHD
from elm_snn.data.shd_format import SHDFormatError
from elm_snn.train.engine import train
from tests.tiny import tiny_config, write_tiny_shd


def _corrupt(path, how):
    data = path.read_bytes()
    if how == "zero-byte":
        path.write_bytes(b"")
    elif how == "random":
        path.write_bytes(np.random.default_rng(0).bytes(len(data)))
    elif how == "truncated":
        path.write_bytes(data[: len(data) // 3])
    elif how == "labels-length":
        with h5py.File(path, "r+") as f:
            labels = f["labels"][()]
            del f["labels"]
            f.create_dataset("labels", data=labels[:-3])
    elif how == "label-25":
        with h5py.File(path, "r+") as f:
            f["labels"][5] = 25
    elif how == "inf-time":
        with h5py.File(path, "r+") as f:
            times = f["spikes/times"]
            t = np.array(times[2])
            t[-1] = np.inf
            times[2] = t


KINDS = ["zero-byte", "random", "truncated", "labels-length", "label-25"]


@pytest.mark.parametrize("how", KINDS)
def test_shd_dataset_refuses_a_bad_file(tmp_path, how):
    root = write_tiny_shd(tmp_path / "shd", n_train=20, n_test=10)
    _corrupt(root / "shd_train.h5", how)
    with pytest.raises(SHDFormatError, match="shd_train.h5"):
        SHD(root, train=True)


def test_shd_dataset_refuses_a_time_it_cannot_represent(tmp_path):
    root = write_tiny_shd(tmp_path / "shd", n_train=20, n_test=10)
    _corrupt(root / "shd_train.h5", "inf-time")
    ds = SHD(root, train=True)
    ds[0]
    with pytest.raises(SHDFormatError, match=r"shd_train.h5: sample 2: times_s: expected finite"):
        ds[2]


@pytest.mark.parametrize("how", KINDS)
def test_shd_task_refuses_a_bad_file(tmp_path, how):
    root = write_tiny_shd(tmp_path / "shd", n_train=40, n_test=20)
    _corrupt(root / "shd_train.h5", how)
    with pytest.raises(SHDFormatError, match="shd_train.h5"):
        train(tiny_config("shd", "elm", root), tmp_path / "run")
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_command_line_reports_a_bad_file_on_one_line(tmp_path, capsys):
    root = write_tiny_shd(tmp_path / "shd", n_train=40, n_test=20)
    _corrupt(root / "shd_test.h5", "truncated")
    args = tiny_cli_args(root, tmp_path / "run")
    args[args.index("shd-adding")] = "shd"
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("elm-snn: error: ")
    assert "shd_test.h5" in err[0] and "Traceback" not in err[0]


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_files_we_write_follow_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        root = write_tiny_shd(tmp_path / "shd", n_train=40, n_test=20)
        train(tiny_config("shd", "elm", root), tmp_path / "run")
    finally:
        os.umask(old)
    expected = 0o666 & ~umask
    run = tmp_path / "run"
    files = [
        root / "shd_train.h5",
        run / "config.json",
        run / "metrics.json",
        run / "checkpoints" / "last.ckpt",
        run / "logs" / "metrics.csv",
        run / "plots" / "training.png",
        run / ".elm-snn-run",
    ]
    files += list((run / "checkpoints").glob("best-*.ckpt"))
    assert {str(p.relative_to(tmp_path)): oct(_mode(p)) for p in files} == {
        str(p.relative_to(tmp_path)): oct(expected) for p in files
    }
    assert json.loads((run / "metrics.json").read_text())["model"] == "elm"
    # no temporary files (nor the run's lock) are left behind; the run's marker stays
    assert [p.name for p in tmp_path.rglob(".*") if p.is_file()] == [".elm-snn-run"]
