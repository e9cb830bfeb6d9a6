"""The ``elm-snn`` command line: train, eval, compare (tiny data), and the data commands."""

from __future__ import annotations

import json

import pytest

from elm_snn.cli import build_parser, main
from tests.tiny import write_tiny_shd

TINY_ARGS = [
    "--preset",
    "quick",
    "--max-epochs",
    "1",
    "--train-samples",
    "16",
    "--val-samples",
    "8",
    "--test-samples",
    "8",
    "--num-memory",
    "4",
    "--no-progress",
    "--accelerator",
    "cpu",
]


def test_train_eval(tmp_path, capsys):
    root = write_tiny_shd(tmp_path / "shd")
    out = tmp_path / "run"
    rc = main(
        [
            "train",
            "--task",
            "shd-adding",
            "--model",
            "elm",
            "--bin-size",
            "50",
            "--data-root",
            str(root),
            "--out",
            str(out),
            *TINY_ARGS,
        ]
    )
    assert rc == 0
    printed = json.loads(capsys.readouterr().out)
    assert (
        printed["test_accuracy"] == json.loads((out / "metrics.json").read_text())["test_accuracy"]
    )
    ckpt = out / "checkpoints" / "last.ckpt"
    assert main(["eval", "--checkpoint", str(ckpt), "--out", str(tmp_path / "e.json")]) == 0
    assert json.loads(capsys.readouterr().out)["model"] == "elm"
    # a checkpoint of another model: clear error, exit status 2
    assert main(["eval", "--checkpoint", str(ckpt), "--model", "lstm"]) == 2
    assert "holds a 'elm' model" in capsys.readouterr().err
    rc = main(
        [
            "train",
            "--task",
            "shd-adding",
            "--model",
            "lstm",
            "--bin-size",
            "50",
            "--data-root",
            str(root),
            "--out",
            str(out),
            "--resume",
            *TINY_ARGS,
        ]
    )
    assert rc == 2 and "another model" in capsys.readouterr().err


@pytest.mark.slow
def test_compare_grid(tmp_path, capsys):
    root = write_tiny_shd(tmp_path / "shd")
    cmp_out = tmp_path / "cmp"
    rc = main(
        [
            "compare",
            "--task",
            "shd-adding",
            "--models",
            "elm",
            "lstm",
            "--bin-sizes",
            "50",
            "100",
            "--data-root",
            str(root),
            "--out",
            str(cmp_out),
            *TINY_ARGS,
            "--workers",
            "2",
        ]
    )
    assert rc == 0
    table = capsys.readouterr().out
    assert "| elm | 50 |" in table and "| lstm | 100 |" in table and "Chance level: 0.053" in table
    assert len((cmp_out / "results.csv").read_text().strip().splitlines()) == 5
    assert (cmp_out / "test_accuracy_vs_bin_size.png").stat().st_size > 1000
    # a second call reuses the finished grid points
    assert (
        main(
            [
                "compare",
                "--task",
                "shd-adding",
                "--models",
                "elm",
                "--bin-sizes",
                "50",
                "--data-root",
                str(root),
                "--out",
                str(cmp_out),
                *TINY_ARGS,
            ]
        )
        == 0
    )
    assert "reusing finished run" in capsys.readouterr().err


def test_cli_errors(tmp_path, capsys):
    rc = main(
        [
            "train",
            "--task",
            "shd",
            "--model",
            "elm",
            "--data-root",
            str(tmp_path / "no"),
            *TINY_ARGS,
        ]
    )
    assert rc == 2 and "does not exist" in capsys.readouterr().err
    rc = main(["train", "--task", "neuronio", "--model", "snn", "--synthetic", *TINY_ARGS])
    assert rc == 2 and "model: expected one of" in capsys.readouterr().err
    assert main(["eval", "--checkpoint", str(tmp_path / "missing.ckpt")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_parser_keeps_data_commands():
    p = build_parser()
    a = p.parse_args(["data", "spoken-digits", "--out", "x", "--per-class", "3"])
    assert a._module == "elm_snn.cli.data.spoken_digits" and a.per_class == 3
    a = p.parse_args(["data", "neuronio-sim", "--out", "x", "--n-sims", "2"])
    assert a._module == "elm_snn.cli.data.neuronio_sim"
    a = p.parse_args(
        [
            "train",
            "--task",
            "shd",
            "--model",
            "elm",
            "--synthetic",
            "--devices",
            "2",
            "--strategy",
            "ddp",
            "--num-nodes",
            "2",
        ]
    )
    assert (a.devices, a.strategy, a.num_nodes) == (2, "ddp", 2)
    a = p.parse_args(["demo"])
    assert a._module == "elm_snn.cli.demo" and a.bin_sizes == [20.0]
    # the evidence protocol: every model read at its last step, validation on held-out voices
    assert (a.readout, a.validation_split, a.data_seed) == ("last", "speaker", 0)


def test_train_readout_and_validation_split_flags(tmp_path, capsys):
    root = write_tiny_shd(tmp_path / "shd")
    out = tmp_path / "run"
    args = ["train", "--task", "shd", "--model", "elm", "--bin-size", "50"]
    args += ["--data-root", str(root), "--out", str(out), *TINY_ARGS]
    assert main([*args, "--readout", "max", "--validation-split", "sample"]) == 0
    cfg = json.loads((out / "config.json").read_text())
    assert (cfg["readout"], cfg["validation_split"]) == ("max", "sample")
    printed = json.loads(capsys.readouterr().out)
    assert {f"test_accuracy_speaker{s}" for s in range(4)} <= set(printed)
    with pytest.raises(SystemExit):
        main([*args, "--readout", "median"])
    assert "--readout: invalid choice: 'median'" in capsys.readouterr().err


def test_tau_m_init_flag_reaches_the_model(tmp_path, capsys):
    """``--tau-m-init MIN MAX`` sets the ELM's initial memory time constants; a range
    outside the model's bounds is refused by the model, in one error line."""
    root = write_tiny_shd(tmp_path / "shd")

    def args(out, low, high):
        return ["train", "--task", "shd", "--model", "elm", "--bin-size", "50",
                "--data-root", str(root), "--out", str(tmp_path / out), *TINY_ARGS,
                "--tau-m-init", low, high]  # fmt: skip

    assert main(args("run", "2", "40")) == 0
    cfg = json.loads((tmp_path / "run" / "config.json").read_text())
    assert cfg["tau_m_init"] == [2.0, 40.0]
    capsys.readouterr()
    assert main(args("bad", "1", "5000")) == 2
    assert "tau_m_init: expected a range inside" in capsys.readouterr().err


def test_summary_table_lists_per_speaker_accuracy():
    from elm_snn.train.grid import summary_markdown

    rows = [
        dict(model="elm", bin_size_ms=10.0, seed=s, num_parameters=5, wall_seconds=1.0)
        for s in (0, 1)
    ]
    rows[0].update(test_accuracy=0.5, test_accuracy_speaker10=0.8, test_accuracy_speaker11=0.2)
    rows[1].update(test_accuracy=0.7, test_accuracy_speaker10=0.6, test_accuracy_speaker11=0.4)
    table = summary_markdown(rows, "test_accuracy", chance=0.05)
    assert "test_accuracy per test speaker |" in table.splitlines()[0]
    assert "| elm | 10 | 5 | 0.600 +- 0.141 | 2 | 1 | 10: 0.700, 11: 0.300 |" in table
    plain = summary_markdown(
        [{k: v for k, v in rows[0].items() if "speaker" not in k}], "test_accuracy"
    )
    assert "per test speaker" not in plain
    # the time column is CPU seconds (a run's total over resumes) where a run has them
    rows[0]["cpu_seconds_total"], rows[1]["cpu_seconds_total"] = 30.0, 50.0
    assert "| 0.600 +- 0.141 | 2 | 40 |" in summary_markdown(rows, "test_accuracy")


def test_grid_reuse_tolerates_fields_added_later(tmp_path):
    """A run folder saved before a RunConfig field existed still counts as the same run
    when the field keeps its default; any real difference, or an unreadable file, does not."""
    from elm_snn.tasks.presets import resolve_config
    from elm_snn.train.grid import _saved_config_matches

    cfg = resolve_config("shd", "elm", "quick", synthetic=True)
    saved = cfg.to_dict()
    path = tmp_path / "config.json"
    path.write_text(json.dumps(saved))
    assert _saved_config_matches(path, cfg)
    older = {k: v for k, v in saved.items() if k != "logit_scale"}  # written before it existed
    path.write_text(json.dumps(older))
    assert _saved_config_matches(path, cfg)
    assert not _saved_config_matches(path, cfg.replace(logit_scale=20.0))
    path.write_text(json.dumps({**saved, "lr": saved["lr"] * 2}))
    assert not _saved_config_matches(path, cfg)
    path.write_text(json.dumps({**saved, "no_such_field": 1}))
    assert not _saved_config_matches(path, cfg)
    path.write_text("{not json")
    assert not _saved_config_matches(path, cfg)


def test_building_the_parser_loads_no_torch():
    """``elm-snn --help`` answers without torch: the task choices come from the registry."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from elm_snn.cli import build_parser\n"
        "build_parser()\n"
        "print(sorted(m for m in ('torch', 'lightning') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_errors_are_reported_in_one_place(capsys):
    """The handler: one ``elm-snn: error:`` line and status 2, the traceback only with
    --verbose; an interruption gives its own status."""
    from elm_snn.cli.errors import report

    assert report(ValueError("bad\nvalue")) == 2
    assert capsys.readouterr().err == "elm-snn: error: bad value\n"
    try:
        raise KeyError("x")
    except KeyError as exc:
        assert report(exc, verbose=True) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.splitlines()[-1] == "elm-snn: error: KeyError: 'x'"
    interrupted = KeyboardInterrupt("stopped by SIGTERM")
    interrupted.exit_status = 143
    assert report(interrupted) == 143
    assert capsys.readouterr().err == "elm-snn: stopped by SIGTERM\n"


def test_demo_runs_the_protocol_on_the_chosen_data_seed(tmp_path, monkeypatch):
    """``elm-snn demo --data-seed N`` trains on the set generated with seed N, reads every
    model at its last step and validates on 400 pairs of 2 held-out voices."""
    import elm_snn.tasks.shd as shd
    from elm_snn.cli import demo

    calls = []
    monkeypatch.setattr(
        shd, "synthetic_spoken_digits", lambda n, seed=0: calls.append((n, seed)) or tmp_path
    )
    args = build_parser().parse_args(["demo", "--data-seed", "3", "--per-class", "5"])
    root = demo._spoken_digits(args.per_class, demo._data_seed(args))
    assert calls == [(5, 3)] and root == tmp_path
    overrides = demo._overrides(args, root)
    assert overrides["data_root"] == str(tmp_path) and "synthetic" not in overrides
    assert overrides["readout"] == "last" and overrides["validation_split"] == "speaker"
    assert (overrides["validation_fraction"], overrides["val_samples"]) == (0.2, 400)
    args = build_parser().parse_args(["demo", "--validation-split", "sample"])
    assert "val_samples" not in demo._overrides(args, root)  # the preset's sample split
