"""Run folders: one process at a time (an advisory lock that names its holder and is taken
over when its process is gone), ``--overwrite`` that deletes only what a run wrote, and a
refused run that leaves nothing behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from reliability_helpers import REPO, tiny_cli_args

from elm_snn._locks import LOCK_NAME, FolderLockedError, folder_lock
from elm_snn.train.cli import main
from elm_snn.train.run_folder import RUN_MARKER


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("elm-snn: error: ")
    return err[0]


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# ----------------------------------------------------------------------------- the lock
def test_lock_refuses_a_second_holder_and_is_released(tmp_path):
    with folder_lock(tmp_path / "d", "--out") as lock:
        assert lock == tmp_path / "d" / LOCK_NAME and lock.is_file()
        record = json.loads(lock.read_text())
        assert record["pid"] == os.getpid()
        with pytest.raises(FolderLockedError, match=rf"--out: .* in use by process {os.getpid()}"):
            with folder_lock(tmp_path / "d", "--out"):
                pass
    assert not lock.exists()
    with folder_lock(tmp_path / "d"):  # free again
        pass


def test_lock_is_released_when_the_block_fails(tmp_path):
    with pytest.raises(RuntimeError), folder_lock(tmp_path):
        raise RuntimeError("boom")
    assert not (tmp_path / LOCK_NAME).exists()


def test_a_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    import socket

    stale = {"pid": _dead_pid(), "host": socket.gethostname(), "started": 0, "command": "x"}
    (tmp_path / LOCK_NAME).write_text(json.dumps(stale))
    with folder_lock(tmp_path) as lock:
        assert json.loads(lock.read_text())["pid"] == os.getpid()
    assert not (tmp_path / LOCK_NAME).exists()
    assert [p.name for p in tmp_path.iterdir()] == []  # nothing left aside


def test_a_lock_of_a_recycled_pid_is_stale(tmp_path):
    """A live pid whose process started at another time than the lock records is not the
    holder (the pid was reused after the holder died)."""
    import socket

    from elm_snn._locks import _process_start_ticks

    ticks = _process_start_ticks(os.getpid())
    if ticks is None:
        pytest.skip("no /proc start times on this platform")
    record = {"pid": os.getpid(), "host": socket.gethostname(), "start_ticks": ticks + 1}
    (tmp_path / LOCK_NAME).write_text(json.dumps(record))
    with folder_lock(tmp_path):
        pass


def test_a_fresh_unreadable_lock_is_refused(tmp_path):
    (tmp_path / LOCK_NAME).write_text("not json")
    with pytest.raises(FolderLockedError, match="unreadable lock file"):
        with folder_lock(tmp_path):
            pass
    old = os.path.getmtime(tmp_path / LOCK_NAME) - 3600
    os.utime(tmp_path / LOCK_NAME, (old, old))
    with folder_lock(tmp_path):  # an hour old: stale
        pass


# ----------------------------------------------------------------------------- train
def test_train_refuses_a_folder_in_use_on_one_line(shd_root, tmp_path, capsys):
    run = tmp_path / "run"
    with folder_lock(run):  # another "process" (this one) writes the folder
        assert main(tiny_cli_args(shd_root, run)) == 2
        line = _one_error_line(capsys)
    assert "is in use by process" in line and str(run) in line
    assert sorted(p.name for p in run.iterdir()) == []  # nothing written


def test_train_takes_over_a_stale_lock(shd_root, tmp_path, capsys):
    import socket

    run = tmp_path / "run"
    run.mkdir()
    stale = {"pid": _dead_pid(), "host": socket.gethostname()}
    (run / LOCK_NAME).write_text(json.dumps(stale))
    assert main(tiny_cli_args(shd_root, run)) == 0
    assert (run / "metrics.json").is_file() and not (run / LOCK_NAME).exists()


def test_two_concurrent_trainings_never_mix_one_folder(shd_root, tmp_path):
    """Two ``elm-snn train --out D`` at once: one refuses (exit 2, naming the other) or they
    run one after the other; the folder holds one run (config, metrics, CSV agree)."""
    run = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "elm_snn.train.cli"]
    procs = [
        subprocess.Popen(
            [*cmd, *tiny_cli_args(shd_root, run, "--seed", str(seed))],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in (1, 2)
    ]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes in ([0, 0], [0, 2]), results
    for code, err in results:
        if code == 2:
            lines = [x for x in err.splitlines() if x.startswith("elm-snn: error: ")]
            assert len(lines) == 1, err
            assert "in use by process" in lines[0] or "holds a" in lines[0], err
    seed = json.loads((run / "config.json").read_text())["seed"]
    assert json.loads((run / "metrics.json").read_text())["seed"] == seed
    assert len(list((run / "checkpoints").glob("best-*.ckpt"))) == 1
    rows = (run / "logs" / "metrics.csv").read_text().splitlines()
    epochs = [r for r in rows[1:] if r]
    header = rows[0].split(",")
    ep = header.index("epoch")
    # one run of 3 epochs: epochs never go back (a second run's rows would restart at 0)
    seen = [int(r.split(",")[ep]) for r in epochs]
    assert seen == sorted(seen), seen
    assert not (run / LOCK_NAME).exists()


# ----------------------------------------------------------------------------- --overwrite
def test_overwrite_keeps_a_users_notes_in_a_folder_no_run_made(shd_root, tmp_path, capsys):
    folder = tmp_path / "p"
    (folder / "logs").mkdir(parents=True)
    (folder / "logs" / "notes.txt").write_text("x")
    (folder / "plots").mkdir()
    (folder / "plots" / "mine.png").write_bytes(b"png")
    assert main(tiny_cli_args(shd_root, folder, "--overwrite")) == 0
    assert (folder / "logs" / "notes.txt").read_text() == "x"
    assert (folder / "plots" / "mine.png").read_bytes() == b"png"
    assert (folder / "metrics.json").is_file() and (folder / RUN_MARKER).is_file()


def test_a_folder_with_only_user_subfolders_is_not_an_unfinished_run(shd_root, tmp_path):
    folder = tmp_path / "p"
    (folder / "logs").mkdir(parents=True)
    (folder / "logs" / "notes.txt").write_text("x")
    assert main(tiny_cli_args(shd_root, folder)) == 0
    assert (folder / "logs" / "notes.txt").read_text() == "x"


def test_overwrite_of_a_run_removes_only_what_the_run_wrote(shd_root, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(tiny_cli_args(shd_root, run, "--seed", "1")) == 0
    (run / "logs" / "notes.txt").write_text("mine")
    (run / "README.md").write_text("about this run")
    old_best = run / "checkpoints" / "best-epoch099.ckpt"
    old_best.write_bytes(b"an earlier run's checkpoint")
    capsys.readouterr()
    with pytest.warns(UserWarning, match=r"kept the files it did not write: logs/notes.txt"):
        assert main(tiny_cli_args(shd_root, run, "--seed", "2", "--overwrite")) == 0
    assert (run / "logs" / "notes.txt").read_text() == "mine"
    assert (run / "README.md").read_text() == "about this run"
    assert not old_best.exists()
    assert json.loads((run / "metrics.json").read_text())["seed"] == 2


def test_overwrite_never_deletes_in_a_folder_no_run_made(shd_root, tmp_path, capsys):
    """A folder without the marker whose files look like a run's (a user's own
    config.json): refused, with or without --overwrite, and nothing is deleted."""
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "config.json").write_text('{"mine": true}')
    for extra in ((), ("--overwrite",)):
        assert main(tiny_cli_args(shd_root, folder, *extra)) == 2
        line = _one_error_line(capsys)
        assert "was not made by an elm-snn run" in line and "config.json" in line
        assert (folder / "config.json").read_text() == '{"mine": true}'
        assert sorted(p.name for p in folder.iterdir()) == ["config.json"]


# ----------------------------------------------------------------------------- failures
def test_a_run_refused_before_it_begins_leaves_nothing(tmp_path, capsys):
    """Missing data: no folder (it did not exist), no config.json to block the rerun."""
    run = tmp_path / "run"
    assert main(tiny_cli_args(tmp_path / "no-data", run)) == 2
    line = _one_error_line(capsys)
    assert "data_root" in line or "no-data" in line
    assert not run.exists()


def test_a_refused_run_in_an_existing_folder_leaves_it_as_it_was(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "keep.txt").write_text("k")
    assert main(tiny_cli_args(tmp_path / "no-data", run)) == 2
    capsys.readouterr()
    assert sorted(p.name for p in run.iterdir()) == ["keep.txt"]
