"""LRA tasks: registry and CLI, paper presets, models on tokens, tiny training runs."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch

from elm_snn.cli import build_parser, main
from elm_snn.cli.options import TASK_CHOICES
from elm_snn.lra.models import OneHotInput
from elm_snn.tasks import LRA_TASKS, TASK_NAMES, count_parameters, get_task, resolve_config
from elm_snn.train.engine import train
from tests.tiny import tiny_config

SIX = ("listops", "text", "retrieval", "image", "pathfinder", "pathfinder-x")


def test_registry_and_help(capsys):
    assert LRA_TASKS == SIX and set(SIX) <= set(TASK_NAMES)
    assert TASK_CHOICES == TASK_NAMES
    parser = build_parser()
    for command in ("train", "compare"):  # both read the registry's names
        sub = parser._subparsers._group_actions[0].choices[command]
        task = next(a for a in sub._actions if "--task" in a.option_strings)
        assert tuple(task.choices) == TASK_NAMES
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    text = capsys.readouterr().out
    for name in SIX:
        assert name in text
    for name in SIX:
        assert get_task(name).name == name


@pytest.mark.parametrize("task", SIX)
def test_paper_presets(task):
    elm = resolve_config(task, "elm", "paper", data_root="x")
    assert (elm.optimizer, elm.lr, elm.num_memory, elm.lr_schedule) == ("adam", 2e-4, 150, "cosine")
    assert elm.bin_size_ms == 1.0 and elm.input_dropout == 0.0 and elm.batch_size == 8
    length = {"image": 1024, "pathfinder": 1024, "pathfinder-x": 16384, "listops": 2000}
    L = length.get(task, 4000)
    assert (elm.tau_m_min, elm.tau_m_max) == (1.0, L) and elm.tau_m_init == (1.0, L)
    assert elm.tau_s == (150.0 if task == "pathfinder-x" else 5.0)
    assert elm.mlp_hidden_size == (768 if task == "pathfinder-x" else 384)
    assert elm.max_epochs == (300 if task in ("image", "pathfinder", "pathfinder-x") else 150)
    lstm = resolve_config(task, "chrono-lstm", "paper", data_root="x")
    assert (lstm.lstm_hidden, lstm.lr, lstm.optimizer) == (150, 1e-3, "adam")
    # the quick preset uses one learning rate for all models
    q = [resolve_config(task, m, "quick", data_root="x").lr for m in ("elm", "chrono-lstm")]
    assert q[0] == q[1]


def test_paper_elm_size_matches_the_paper():
    # "150 memory units and typically ~100k parameters"
    task = get_task("pathfinder")
    cfg = resolve_config("pathfinder", "elm", "paper", data_root="x")
    n = count_parameters(task.build_model(cfg, 16, 2, 1024))
    assert 90_000 < n < 140_000


def test_config_errors():
    with pytest.raises(ValueError, match="bin_size_ms: LRA tasks"):
        resolve_config("listops", "elm", "quick", synthetic=True, bin_size_ms=2.0)
    with pytest.raises(ValueError, match="model: expected one of"):
        resolve_config("listops", "snn", "quick", synthetic=True)
    with pytest.raises(ValueError, match="no offline generator"):
        resolve_config("text", "elm", "quick", synthetic=True)
    with pytest.raises(ValueError, match="difficulty"):
        resolve_config("pathfinder", "elm", "quick", synthetic=True, difficulty="extreme")
    with pytest.raises(ValueError, match="seq_len"):
        resolve_config("listops", "elm", "quick", synthetic=True, seq_len=0)


@pytest.mark.parametrize("model", ["elm", "branch-elm", "chrono-lstm", "lstm"])
@pytest.mark.parametrize("task", ["listops", "retrieval", "pathfinder"])
def test_models_on_tokens(task, model):
    cfg = tiny_config(task, model, "x")
    t = get_task(task)
    vocab = t.vocab_size()
    net = t.build_model(cfg, vocab, t.num_classes, 12)
    shape = (12, 3, 2) if task == "retrieval" else (12, 3)
    x = torch.randint(0, vocab, shape)
    y = net(x)
    assert y.shape[-2:] == (3, t.num_classes)
    # the same seed gives the same model
    again = t.build_model(cfg, vocab, t.num_classes, 12)
    torch.testing.assert_close(again(x), y)


def test_one_hot_input_checks():
    net = OneHotInput(torch.nn.LSTM(5, 3), 5)
    with pytest.raises(TypeError, match="integer"):
        net(torch.zeros(4, 2))
    with pytest.raises(ValueError, match="0..4"):
        net(torch.full((4, 2), 5))
    with pytest.raises(ValueError, match="\\(T, B\\)"):
        net(torch.zeros(4, 2, 1, dtype=torch.long))


def test_train_eval_listops_synthetic_cli(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ELM_SNN_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "run"
    args = ["train", "--task", "listops", "--model", "elm", "--preset", "quick", "--synthetic"]
    args += ["--synthetic-size", "60", "--max-epochs", "1", "--num-memory", "4"]
    args += ["--val-samples", "20", "--test-samples", "20", "--no-progress", "--out", str(out)]
    args += ["--accelerator", "cpu"]
    assert main(args) == 0
    printed = json.loads(capsys.readouterr().out)
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0.0 <= metrics["test_accuracy"] <= 1.0
    assert printed["test_accuracy"] == metrics["test_accuracy"]
    assert (tmp_path / "cache" / "lra" / "listops-n60-len60-seed0" / "basic_test.tsv").is_file()
    ckpt = out / "checkpoints" / "last.ckpt"
    assert main(["eval", "--checkpoint", str(ckpt), "--out", str(tmp_path / "e.json")]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["test_accuracy"] == pytest.approx(metrics["test_accuracy"])


def test_train_pathfinder_synthetic_cli(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ELM_SNN_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "run"
    args = ["train", "--task", "pathfinder", "--model", "chrono-lstm", "--preset", "quick"]
    args += ["--synthetic", "--synthetic-size", "20", "--max-epochs", "1", "--batch-size", "8"]
    args += ["--no-progress", "--out", str(out), "--accelerator", "cpu"]
    assert main(args) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0.0 <= metrics["test_accuracy"] <= 1.0 and metrics["task"] == "pathfinder"
    capsys.readouterr()


def test_missing_data_folder_cli(tmp_path, capsys):
    args = ["train", "--task", "retrieval", "--model", "elm", "--preset", "quick"]
    assert main([*args, "--data-root", str(tmp_path / "nope"), "--no-progress"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main([*args, "--data-root", str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "new_aan_pairs.train.tsv" in err and "lra_release" in err
    assert main(["train", "--task", "image", "--model", "elm", "--synthetic"]) == 2
    assert "no offline generator" in capsys.readouterr().err


def _tiny_retrieval(root):
    folder = root / "tsv_data"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in ("train", "eval", "test"):
        rows = []
        for i in range(12):
            a = bytes(rng.integers(97, 123, size=int(rng.integers(3, 9))).astype(np.uint8))
            rows.append(b"\t".join([str(i % 2).encode(), b"x", b"y", a, a[::-1]]))
        (folder / f"new_aan_pairs.{name}.tsv").write_bytes(b"\n".join(rows) + b"\n")


def _tiny_cifar(root):
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        d = {b"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8), b"labels": [0, 1, 2, 3]}
        (folder / name).write_bytes(pickle.dumps(d, protocol=4))


def _tiny_imdb(root):
    for split in ("train", "test"):
        for name in ("neg", "pos"):
            (root / "aclImdb" / split / name).mkdir(parents=True)
            for i in range(6):
                (root / "aclImdb" / split / name / f"{i}_1.txt").write_text(f"{name} {i} " * 3)


@pytest.mark.parametrize(
    "task, make", [("retrieval", _tiny_retrieval), ("image", _tiny_cifar), ("text", _tiny_imdb)]
)
def test_train_on_real_layouts(tmp_path, task, make):
    make(tmp_path / "data")
    cfg = tiny_config(task, "elm", tmp_path / "data")
    result = train(cfg, tmp_path / "run")
    assert 0.0 <= result["test_accuracy"] <= 1.0 and result["task"] == task


def test_generated_pathfinder_trains_with_the_generators_default(tmp_path, capsys):
    """`elm-snn data pathfinder --out D --resolution 32` then `elm-snn train --task
    pathfinder --preset quick --data-root D` (the generator's default difficulty, hard, is
    found without --difficulty; with it too)."""
    data = tmp_path / "pf"
    generate = ["data", "pathfinder", "--out", str(data), "--resolution", "32", "--num", "20"]
    assert main(generate) == 0
    capsys.readouterr()
    args = ["train", "--task", "pathfinder", "--model", "elm", "--preset", "quick"]
    args += ["--data-root", str(data), "--max-epochs", "1", "--batch-size", "8"]
    args += ["--num-memory", "4", "--no-progress", "--accelerator", "cpu"]
    for extra, name in (([], "auto"), (["--difficulty", "hard"], "explicit")):
        out = tmp_path / name
        assert main([*args, *extra, "--out", str(out)]) == 0, capsys.readouterr().err
        metrics = json.loads((out / "metrics.json").read_text())
        assert 0.0 <= metrics["test_accuracy"] <= 1.0
        assert json.loads((out / "config.json").read_text())["difficulty"] == "hard"
    capsys.readouterr()
    # a difficulty that is not there: the error names the folder that is, and the option
    assert main([*args, "--difficulty", "easy", "--out", str(tmp_path / "easy")]) == 2
    err = capsys.readouterr().err
    assert "curv_baseline" in err and "curv_contour_length_14" in err
    assert "--difficulty hard" in err


def test_pathfinder_difficulty_resolution(tmp_path):
    from elm_snn.lra.pathfinder import PathfinderConfig, generate_pathfinder
    from elm_snn.tasks.lra import resolve_pathfinder_difficulty

    with pytest.raises(FileNotFoundError, match="found no Pathfinder difficulty folder"):
        resolve_pathfinder_difficulty(tmp_path, 32, None)
    for d in ("easy", "medium"):
        generate_pathfinder(tmp_path, PathfinderConfig(difficulty=d, num_images=2))
    generate_pathfinder(tmp_path, PathfinderConfig(resolution=64, difficulty="hard", num_images=2))
    # the hardest at the asked resolution; an explicit one is kept
    assert resolve_pathfinder_difficulty(tmp_path, 32, None) == "medium"
    assert resolve_pathfinder_difficulty(tmp_path, 32, "easy") == "easy"
    with pytest.raises(FileNotFoundError) as err:
        resolve_pathfinder_difficulty(tmp_path, 32, "hard")
    assert "--difficulty hard, resolution 64" in str(err.value)
    assert "--difficulty easy)" in str(err.value)
    # a difficulty folder given directly
    folder = tmp_path / "pathfinder32" / "curv_baseline"
    assert resolve_pathfinder_difficulty(folder, 32, None) == "easy"
    # --synthetic without a difficulty: the preset's
    cfg = resolve_config("pathfinder", "elm", "quick", synthetic=True)
    assert cfg.difficulty is None
    from elm_snn.tasks.lra_presets import SYNTHETIC_DIFFICULTY

    assert SYNTHETIC_DIFFICULTY == {"paper": "hard", "quick": "easy"}
