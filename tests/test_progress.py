"""The shared progress bar: counts what it is told, silent when disabled."""

from __future__ import annotations

import pytest

from elm_snn._progress import progress, progress_enabled


def test_progress_counts_and_reports_on_stderr(capsys):
    with progress(total=3, desc="items", unit="utt") as bar:
        for _ in range(3):
            bar.update(1)
        assert bar.n == 3
    err = capsys.readouterr().err
    assert "items" in err and "3/3" in err


def test_progress_wraps_an_iterable():
    assert list(progress(range(4), desc="x")) == [0, 1, 2, 3]


def test_disabled_progress_prints_nothing(capsys):
    with progress(total=2, desc="quiet", enabled=False) as bar:
        bar.update(2)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(("value", "expected"), [("0", False), ("no", False), ("1", True)])
def test_progress_enabled_reads_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv("ELM_SNN_PROGRESS", value)
    assert progress_enabled() is expected
    assert progress_enabled(quiet=True) is False


def test_lra_generators_show_progress_and_stay_quiet(tmp_path, capsys):
    from elm_snn.lra.listops import ListOpsConfig, generate_listops
    from elm_snn.lra.pathfinder import PathfinderConfig, generate_pathfinder

    cfg = ListOpsConfig(num_train=3, num_val=1, num_test=1, min_length=5, max_length=30)
    generate_listops(tmp_path / "lo", cfg, progress=True)
    err = capsys.readouterr().err
    assert "listops" in err and "5/5" in err
    generate_listops(tmp_path / "lo2", cfg)  # progress off by default (library calls)
    assert capsys.readouterr().err == ""
    pf = PathfinderConfig(num_images=3, per_folder=3)
    generate_pathfinder(tmp_path / "pf", pf, progress=True)
    err = capsys.readouterr().err
    assert "pathfinder" in err and "3/3" in err


@pytest.mark.parametrize("command", ["listops", "pathfinder", "compare", "reproduce"])
def test_long_commands_take_quiet(command):
    import argparse

    from elm_snn.cli import compare, reproduce
    from elm_snn.cli.data import listops, pathfinder

    module = {"listops": listops, "pathfinder": pathfinder, "compare": compare}.get(
        command, reproduce
    )
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    option = next(a for a in parser._actions if "--quiet" in a.option_strings)
    assert option.default is False


def test_run_points_bar_counts_runs(tmp_path, monkeypatch, capsys):
    from elm_snn.train import grid

    monkeypatch.setattr(
        grid,
        "_run_point",
        lambda cfg, run_dir, resume, threads: {"wall_seconds": 1.0, "num_parameters": 3},
    )

    class Config:
        def to_dict(self):
            return {}

    named = [("a", Config()), ("b", Config())]
    grid.run_points(named, tmp_path, reuse=False)
    err = capsys.readouterr().err
    assert "runs" in err and "2/2" in err and "[2/2] b" in err
    grid.run_points(named, tmp_path, reuse=False, progress=False)
    assert capsys.readouterr().err == ""
