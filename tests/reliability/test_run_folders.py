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
from elm_snn.cli import main
from elm_snn.train.run_folder import RUN_MARKER
from tests.tiny import tiny_config


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


_UNGUARDED_SCRIPT = """
import concurrent.futures, multiprocessing, sys
from elm_snn._locks import folder_lock

def echo(x):
    return x

# no `if __name__ == "__main__":` guard: a spawn worker re-runs these lines
with folder_lock(sys.argv[1], "out", wait=3600):
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as pool:
        print(list(pool.map(echo, [1])))
"""


def test_a_spawn_worker_of_the_lock_holder_fails_at_once_instead_of_waiting(tmp_path):
    """A script without a __main__ guard that holds a folder's lock and starts spawn
    workers: each worker re-runs the script and reaches the lock its own parent holds. It
    must say so and stop (the parent then sees a broken pool), not wait for the hour the
    script allows (which, the parent waiting for its workers, would never end)."""
    script = tmp_path / "unguarded.py"
    script.write_text(_UNGUARDED_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "ParentHoldsLockError" in proc.stderr
    assert "in use by this worker's own parent" in proc.stderr
    assert 'if __name__ == "__main__":' in proc.stderr
    assert not (tmp_path / "out" / LOCK_NAME).exists()  # the parent released it


def test_a_lock_held_by_an_unrelated_live_process_is_still_waited_for(tmp_path):
    """The parent check does not fire for a holder that is not this worker's parent."""
    import socket

    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        record = {"pid": holder.pid, "host": socket.gethostname(), "started": 0, "command": "x"}
        (tmp_path / LOCK_NAME).write_text(json.dumps(record))
        with pytest.raises(FolderLockedError) as info, folder_lock(tmp_path, wait=0.3):
            pass
        assert type(info.value) is FolderLockedError
    finally:
        holder.kill()
        holder.wait()


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


@pytest.mark.slow  # two fresh processes importing torch and Lightning: 120 s on a loaded VM
def test_two_concurrent_trainings_never_mix_one_folder(shd_root, tmp_path):
    """Two ``elm-snn train --out D`` at once: one refuses (exit 2, naming the other) or they
    run one after the other; the folder holds one run (config, metrics, CSV agree)."""
    run = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "elm_snn.cli"]
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


# ----------------------------------------------------------------------------- grids
def _another_grids_folder(tmp_path):
    folder = tmp_path / "results"
    folder.mkdir()
    info = {"command": "elm-snn reproduce neuronio --out results --preset quick"}
    (folder / "run_info.json").write_text(json.dumps(info))
    (folder / "results.csv").write_text("point,test_auc\nelm-1,0.9\n")
    return folder


def test_reproduce_refuses_another_grids_folder(tmp_path, capsys):
    folder = _another_grids_folder(tmp_path)
    args = ["reproduce", "shd", "--out", str(folder), "--data-root", str(tmp_path / "none")]
    assert main(args) == 2
    line = _one_error_line(capsys)
    assert "holds the results of another grid ('reproduce neuronio'" in line
    assert "--overwrite" in line
    assert (folder / "results.csv").read_text() == "point,test_auc\nelm-1,0.9\n"
    assert sorted(p.name for p in folder.iterdir()) == ["results.csv", "run_info.json"]


def test_grid_folder_marks_locks_and_allows_another_grid_only_with_overwrite(tmp_path):
    from elm_snn.train.grid import GRID_MARKER, GridFolderError, grid_folder

    folder = _another_grids_folder(tmp_path)
    with pytest.raises(GridFolderError, match="another grid"):
        with grid_folder(folder, "reproduce shd"):
            pass
    with grid_folder(folder, "reproduce shd", overwrite=True) as out:
        assert (out / LOCK_NAME).is_file()
        with pytest.raises(FolderLockedError, match="in use by process"):
            with grid_folder(folder, "reproduce shd"):
                pass
    assert json.loads((folder / GRID_MARKER).read_text()) == {"grid": "reproduce shd"}
    assert not (folder / LOCK_NAME).exists()
    with grid_folder(folder, "reproduce shd"):  # the same grid again: fine
        pass
    # the same grid from a folder written before the marker existed
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "run_info.json").write_text('{"command": "elm-snn reproduce shd --out legacy"}')
    with grid_folder(legacy, "reproduce shd"):
        pass


def test_compare_refuses_a_folder_in_use(shd_root, tmp_path, capsys):
    out = tmp_path / "grid"
    args = ["compare", "--task", "shd-adding", "--models", "elm", "--bin-sizes", "50"]
    args += ["--data-root", str(shd_root), "--preset", "quick", "--out", str(out)]
    with folder_lock(out, "--out"):
        assert main(args) == 2
        line = _one_error_line(capsys)
    assert "is in use by process" in line and str(out) in line
    assert [p.name for p in out.iterdir()] == []


# ----------------------------------------------------------------------------- generators
def test_two_generators_into_one_folder_run_in_turn(tmp_path, capsys):
    """A second ListOps generator waits for the first (it names it once), then reuses its
    files instead of interleaving with them."""
    import threading
    import time

    from elm_snn.lra.listops import ListOpsConfig, generate_listops

    cfg = ListOpsConfig(num_train=20, num_val=5, num_test=5, min_length=5, max_length=40)
    out = tmp_path / "listops"
    result = {}
    with folder_lock(out, "out"):  # the "first generator"
        worker = threading.Thread(target=lambda: result.update(generate_listops(out, cfg)))
        worker.start()
        time.sleep(1.0)
        assert worker.is_alive() and not (out / "listops.json").exists()  # waiting
    worker.join(timeout=60)
    assert not worker.is_alive() and result["config"]["num_train"] == 20
    assert "waiting: out:" in capsys.readouterr().err
    again = generate_listops(out, cfg)
    assert again["reused"] is True
    assert not (out / LOCK_NAME).exists()


def test_a_model_that_fails_to_build_leaves_no_config_to_block_the_rerun(
    shd_root, tmp_path, monkeypatch
):
    """A configuration refused when the model is built (after the data were read) leaves
    no ``config.json``: the corrected rerun is not refused as an 'unfinished run'."""
    from elm_snn.train import engine

    real_module = engine.ELMSNNModule

    def refuse(*args, **kwargs):
        raise ValueError("num_memory: refused by the model")

    monkeypatch.setattr(engine, "ELMSNNModule", refuse)
    run = tmp_path / "run"
    with pytest.raises(ValueError, match="refused by the model"):
        engine.train(tiny_config("shd-adding", "elm", shd_root), run)
    assert not run.exists()
    monkeypatch.setattr(engine, "ELMSNNModule", real_module)
    assert engine.train(tiny_config("shd-adding", "elm", shd_root), run)["model"] == "elm"
