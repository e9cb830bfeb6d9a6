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
