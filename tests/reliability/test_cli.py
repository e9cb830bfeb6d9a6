"""Command line: every error is one ``elm-snn: error:`` line with exit status 2 (the
traceback only with --verbose); a run folder is never overwritten by accident."""

from __future__ import annotations

import json

import pytest
from reliability_helpers import tiny_cli_args

from elm_snn.cli import main


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("elm-snn: error: ")
    return err[0]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--bin-size", "3"], "--bin-size 2.5 or --bin-size 4"),
        (["--precision", "bogus"], "precision: expected one of"),
        (["--resume", "--overwrite"], "cannot be combined"),
    ],
)
def test_bad_options_give_one_line(shd_root, tmp_path, capsys, extra, expected):
    assert main(tiny_cli_args(shd_root, tmp_path / "run", *extra)) == 2
    line = _one_error_line(capsys)
    assert expected in line and "duration_for_bins" not in line


def test_unwritable_out_gives_one_line(shd_root, tmp_path, capsys):
    (tmp_path / "a-file").write_text("")
    assert main(tiny_cli_args(shd_root, tmp_path / "a-file" / "run")) == 2
    assert "out: cannot create the run folder" in _one_error_line(capsys)


def test_traceback_only_with_verbose(tmp_path, capsys):
    (tmp_path / "shd_train.h5").write_bytes(b"")
    (tmp_path / "shd_test.h5").write_bytes(b"")
    args = tiny_cli_args(tmp_path, tmp_path / "run")
    assert main(args) == 2
    assert "not a readable HDF5 file" in _one_error_line(capsys)
    assert main([*args, "--verbose"]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert err.strip().splitlines()[-1].startswith("elm-snn: error: ")


def test_a_finished_run_is_not_overwritten(shd_root, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(tiny_cli_args(shd_root, run)) == 0
    capsys.readouterr()
    before = (run / "metrics.json").read_bytes()
    stale = run / "checkpoints" / "best-epoch099.ckpt"
    stale.write_bytes(b"left over by an earlier run")
    other = tiny_cli_args(shd_root, run, "--seed", "3")
    assert main(other) == 2
    line = _one_error_line(capsys)
    assert "holds a finished run" in line and "--overwrite" in line and "--resume" in line
    assert (run / "metrics.json").read_bytes() == before and stale.exists()
    # --overwrite replaces the whole run, its old checkpoints included
    assert main([*other, "--overwrite"]) == 0
    assert json.loads((run / "metrics.json").read_text())["seed"] == 3
    assert not stale.exists()
    # --resume of a finished run is allowed (nothing left to train: tests again)
    assert main(tiny_cli_args(shd_root, run, "--seed", "3", "--resume")) == 0


def test_an_unfinished_run_suggests_resume(shd_root, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(tiny_cli_args(shd_root, run)) == 0
    (run / "metrics.json").unlink()
    capsys.readouterr()
    assert main(tiny_cli_args(shd_root, run)) == 2
    line = _one_error_line(capsys)
    assert "unfinished run" in line and "--resume" in line


def test_missing_data_gives_one_line(tmp_path, capsys):
    args = ["train", "--task", "listops", "--model", "elm", "--preset", "quick"]
    args += ["--data-root", str(tmp_path), "--out", str(tmp_path / "run")]
    assert main(args) == 2
    line = _one_error_line(capsys)
    assert "no ListOps file basic_train.tsv found" in line and str(tmp_path) in line


def test_a_listops_file_with_bad_bytes_names_file_and_line(tmp_path, capsys):
    folder = tmp_path / "listops-1000"
    folder.mkdir()
    for split in ("train", "val", "test"):
        (folder / f"basic_{split}.tsv").write_bytes(b"Source\tTarget\n[MAX 1 2 ]\t2\n")
    (folder / "basic_train.tsv").write_bytes(b"Source\tTarget\n[MAX 1 2 ]\t2\n[MAX \xff ]\t1\n")
    args = ["train", "--task", "listops", "--model", "elm", "--preset", "quick"]
    args += ["--data-root", str(tmp_path), "--out", str(tmp_path / "run")]
    assert main(args) == 2
    line = _one_error_line(capsys)
    assert "basic_train.tsv:3: not UTF-8 text" in line


def test_neuronio_convert_errors_exit_2_on_one_line(tmp_path, capsys):
    bad = tmp_path / "src"
    bad.mkdir()
    (bad / "sim__x.p").write_bytes(b"not a pickle")
    assert main(["data", "neuronio-convert", str(bad), str(tmp_path / "dst"), "--quiet"]) == 2
    assert "sim__x.p" in _one_error_line(capsys)
