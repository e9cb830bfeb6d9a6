"""SIGTERM and SIGINT during training: exit status 143 / 130, one line on stderr, and a
checkpoint from which the run resumes to the uninterrupted run's metrics."""

from __future__ import annotations

import csv
import json
import os
import signal

import pytest
from lightning.pytorch.callbacks import Callback
from reliability_helpers import run_python, tiny_cli_args

import elm_snn.train.engine as engine
from elm_snn.cli import main
from elm_snn.train.engine import load_checkpoint

# elm-snn's main() in a fresh process, with a callback that sends the signal to the process
# itself in the middle of epoch 1 (as a scheduler or Ctrl-C would)
_KILL_IN_EPOCH_1 = """
import os, signal, sys
from lightning.pytorch.callbacks import Callback
import elm_snn.train.engine as engine
from elm_snn.cli import main

SIG = getattr(signal, sys.argv[1])

class Kill(Callback):
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.current_epoch == 1 and batch_idx == 1:
            os.kill(os.getpid(), SIG)

make = engine._make_trainer
engine._make_trainer = lambda cfg, out, cbs, fit, **kw: make(
    cfg, out, [*cbs, Kill()] if fit else cbs, fit, **kw
)
sys.exit(main(sys.argv[2:]))
"""


def _rows(run):
    with open(run / "logs" / "metrics.csv", newline="") as fh:
        return [{k: v for k, v in row.items() if v} for row in csv.DictReader(fh)]


class _Kill(Callback):
    def __init__(self, signum):
        self.signum = signum

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.current_epoch == 1 and batch_idx == 1:
            os.kill(os.getpid(), self.signum)


def _message(sig, run):
    return (
        f"elm-snn: training interrupted by {sig} in {str(run)!r}; resume with --resume "
        f"(or --resume-from {run / 'checkpoints' / 'interrupted.ckpt'})"
    )


@pytest.mark.parametrize(("sig", "status"), [("SIGTERM", 143), ("SIGINT", 130)])
def test_signal_stops_with_its_status_and_resumes_exactly(
    shd_root, tmp_path, capsys, monkeypatch, sig, status
):
    signum = getattr(signal, sig)
    assert status == 128 + signum
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    make = engine._make_trainer
    monkeypatch.setattr(
        engine,
        "_make_trainer",
        lambda cfg, out, cbs, fit, **kw: make(
            cfg, out, [*cbs, _Kill(signum)] if fit else cbs, fit, **kw
        ),
    )
    run = tmp_path / "run"
    assert main(tiny_cli_args(shd_root, run)) == status
    captured = capsys.readouterr()
    assert [ln for ln in captured.err.splitlines() if ln.startswith("elm-snn")] == [
        _message(sig, run)
    ]
    assert {s: signal.getsignal(s) for s in handlers} == handlers  # restored
    assert not (run / "metrics.json").exists()  # not finished, and not reported as such
    assert load_checkpoint(run / "checkpoints" / "interrupted.ckpt")["epoch"] == 0
    monkeypatch.setattr(engine, "_make_trainer", make)
    # the uninterrupted run, then the interrupted one resumed
    assert main(tiny_cli_args(shd_root, tmp_path / "full")) == 0
    full = json.loads(capsys.readouterr().out)
    assert main(tiny_cli_args(shd_root, run, "--resume")) == 0
    resumed = json.loads(capsys.readouterr().out)
    for key in ("test_accuracy", "test_loss", "best_val_accuracy", "global_steps"):
        assert resumed[key] == full[key], key
    assert _rows(run) == _rows(tmp_path / "full")
    log = "logs/metrics.csv"
    assert (run / log).read_text() == (tmp_path / "full" / log).read_text()


def test_process_exit_status_on_sigterm(shd_root, tmp_path):
    """The real process: what a scheduler sees."""
    run = tmp_path / "run"
    proc = run_python(_KILL_IN_EPOCH_1, "SIGTERM", *tiny_cli_args(shd_root, run), cwd=tmp_path)
    assert proc.returncode == 143, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("elm-snn")]
    assert lines == [_message("SIGTERM", run)]
    assert "Traceback" not in proc.stderr
    assert load_checkpoint(run / "checkpoints" / "interrupted.ckpt")["epoch"] == 0
