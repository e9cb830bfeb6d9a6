"""A full disk: the error names the file that could not be written and the free space on
its device, on one line from the command line, and the previous file is intact."""

from __future__ import annotations

import errno
import shutil
from collections import namedtuple

import pytest
import torch
from reliability_helpers import tiny_cli_args

from elm_snn._io import DiskFullError, atomic_path, atomic_write_text
from elm_snn.cli import main

_Usage = namedtuple("_Usage", "total used free")
TORCH_WORDING = (
    "[enforce fail at inline_container.cc:672] . PytorchStreamWriter failed writing file "
    "data/0: file write failed"
)


def test_enospc_names_the_file_and_free_space_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "metrics.json"
    atomic_write_text(target, "old")
    with pytest.raises(DiskFullError) as err, atomic_path(target) as tmp:
        tmp.write_text("partial")
        raise OSError(errno.ENOSPC, "No space left on device")
    text = str(err.value)
    assert "No space left on device" in text and str(target) in text and "free space" in text
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]  # no temporary file


def test_torchs_write_failure_on_a_full_disk_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "disk_usage", lambda _p: _Usage(10**9, 10**9, 4096))
    with pytest.raises(DiskFullError, match=r"could not write '.*last.ckpt' .*4096 bytes"):
        with atomic_path(tmp_path / "last.ckpt"):
            raise RuntimeError(TORCH_WORDING)


def test_torchs_write_failure_with_space_left_is_not_called_a_full_disk(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "disk_usage", lambda _p: _Usage(10**12, 0, 10**11))
    with pytest.raises(RuntimeError, match="enforce fail"):
        with atomic_path(tmp_path / "last.ckpt"):
            raise RuntimeError(TORCH_WORDING)


def test_train_on_a_full_disk_gives_one_line_naming_the_checkpoint(
    shd_root, tmp_path, monkeypatch, capsys
):
    real_save = torch.save
    monkeypatch.setattr(shutil, "disk_usage", lambda _p: _Usage(10**9, 10**9, 1024))

    def full(obj, f, *args, **kwargs):
        real_save(obj, f, *args, **kwargs)
        raise RuntimeError(TORCH_WORDING)

    monkeypatch.setattr(torch, "save", full)
    assert main(tiny_cli_args(shd_root, tmp_path / "run")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("elm-snn: error: "), err
    assert ".ckpt" in err[0] and "free space on its device: 1024 bytes" in err[0]
    assert "enforce fail" not in err[0]
