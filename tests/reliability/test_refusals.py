"""Refusals say what they refused: a checkpoint whose pickle would run code is refused on
one line naming the global's module and name and the file, for every wording torch uses,
and never suggests turning weights-only loading off; a checkpoint's stored config is checked
against its weights before any model is built."""

from __future__ import annotations

import importlib
import json

import pytest
import torch

from elm_snn._safe_torch import UnsafeCheckpointError, load_weights_only
from elm_snn.cli import main
from elm_snn.train.engine import CheckpointError, evaluate, train
from tests.tiny import tiny_config

PAYLOADS = [
    ("os", "system", ("true",), ("system", "posix", "os.system")),
    ("posix", "system", ("true",), ("posix.system",)),
    ("subprocess", "Popen", (["true"],), ("subprocess.Popen",)),
    ("builtins", "exec", ("1",), ("builtins.exec",)),
    ("builtins", "eval", ("1",), ("builtins.eval",)),
]


class _Call:
    """Pickles as a call of ``module.name(*args)``: what a hostile checkpoint holds."""

    def __init__(self, module, name, args):
        self.module, self.name, self.args = module, name, args

    def __reduce__(self):
        return getattr(importlib.import_module(self.module), self.name), self.args


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("elm-snn: error: ")
    return err[0]


@pytest.fixture(scope="module")
def finished_checkpoint(tmp_path_factory):
    from tests.tiny import write_tiny_shd

    root = tmp_path_factory.mktemp("data")
    shd = write_tiny_shd(root / "shd")
    run = root / "run"
    train(tiny_config("shd-adding", "elm", shd, max_epochs=1), run)
    return run / "checkpoints" / "last.ckpt"


@pytest.mark.parametrize(("module", "name", "args", "named"), PAYLOADS)
def test_eval_names_the_refused_global_on_one_line(
    finished_checkpoint, tmp_path, capsys, module, name, args, named
):
    ckpt = torch.load(finished_checkpoint, map_location="cpu", weights_only=True)
    ckpt["hyper_parameters"]["payload"] = _Call(module, name, args)
    evil = tmp_path / "evil.ckpt"
    torch.save(ckpt, evil)
    assert main(["eval", "--checkpoint", str(evil)]) == 2
    line = _one_error_line(capsys)
    assert str(evil) in line and "refused" in line
    for text in named:
        assert text in line, line
    assert "weights_only" not in line and "not a readable" not in line
    with pytest.raises(UnsafeCheckpointError, match=name):
        load_weights_only(evil)


@pytest.mark.parametrize(("module", "name", "args", "named"), PAYLOADS)
def test_official_checkpoint_refusal_names_file_and_global(
    tmp_path, capsys, module, name, args, named
):
    folder = tmp_path / "official"
    folder.mkdir()
    (folder / "model_config.json").write_text("{}")
    torch.save({"w": _Call(module, name, args)}, folder / "neuronio_best_model_state.pt")
    (tmp_path / "data").mkdir()
    code = main(
        ["eval", "--official-checkpoint", str(folder), "--data-root", str(tmp_path / "data")]
    )
    assert code == 2
    line = _one_error_line(capsys)
    assert "neuronio_best_model_state.pt" in line and named[-1] in line, line
    assert "weights_only" not in line and len(line) < 500


def test_a_tampered_config_is_refused_before_a_model_is_built(
    finished_checkpoint, tmp_path, capsys
):
    ckpt = torch.load(finished_checkpoint, map_location="cpu", weights_only=True)
    ckpt["hyper_parameters"]["config"]["num_memory"] = 3_000_000
    bad = tmp_path / "tampered.ckpt"
    torch.save(ckpt, bad)
    import resource

    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    with pytest.raises(CheckpointError, match="does not match its weights"):
        evaluate(bad)
    # built for real, 3e6 memory units would ask for gigabytes; the meta probe for nothing
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 200 * 1024
    assert main(["eval", "--checkpoint", str(bad)]) == 2
    line = _one_error_line(capsys)
    assert str(bad) in line and "does not match its weights" in line


def test_an_invalid_stored_config_is_named(finished_checkpoint, tmp_path, capsys):
    ckpt = torch.load(finished_checkpoint, map_location="cpu", weights_only=True)
    ckpt["hyper_parameters"]["config"]["num_memory"] = -4
    bad = tmp_path / "bad-config.ckpt"
    torch.save(ckpt, bad)
    assert main(["eval", "--checkpoint", str(bad)]) == 2
    line = _one_error_line(capsys)
    assert str(bad) in line and "num_memory: expected an int >= 1, got -4" in line
    json.dumps(line)
