"""The summary table of ``make bench`` (``benchmarks/summary.py``, ``benchmarks/run.py``) and
the NEURON generation benchmark (``benchmarks/bench_neuron.py``)."""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, require_module

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

import bench_neuron  # noqa: E402
import summary  # noqa: E402

_spec = importlib.util.spec_from_file_location("bench_run_script", REPO_ROOT / "benchmarks/run.py")
bench_run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_run)


def _timing(forward: float, train: float) -> dict:
    return {"forward": {"cpu_ms": forward}, "train": {"cpu_ms": train}}


def _fake_results() -> dict:
    """The shape of what each benchmark returns, with made-up numbers."""
    shd = {"fused": _timing(10.0, 20.0), "reference": _timing(100.0, 400.0)}
    shd["lstm"] = _timing(50.0, 160.0)
    nio = {"fused": _timing(5.0, 8.0), "reference": _timing(60.0, 90.0)}
    thread_row = {"ms_1": 100.0, "ms_2": 64.0, "ratio_2_over_1": 0.64}
    return {
        "elm": {
            "machine": {"torch_threads": 2},
            "shd_adding_T1000": shd,
            "shd_adding_T200": shd,
            "neuronio_branch_elm_T500": nio,
            "memory": {
                "saved_bytes": {"500": 6 * 2**20, "1000": 12 * 2**20},
                "slope_floats_per_step_per_sample": 300.0,
            },
        },
        "eisnn": {"snn_fused_ms": 300.0, "snn_dense_ms": 1500.0, "elm_fused_ms": 150.0},
        "threads": {
            "steps": 1000,
            "rows": {"8": {"elm_train": thread_row}, "16": {"elm_train": thread_row}},
        },
        "cochlea": {
            "prepare": 0.01,
            "fused (all)": 0.45,
            "reference_over_fused": 1.25,
            "shd_sized_cpu_minutes": 80.0,
            "speech_cpu_s_per_utterance": 0.007,
        },
        "neuron": {
            "cell": "active",
            "n_sims": 2,
            "duration_s": 6.0,
            "cpu_s_per_simulated_s": 1.1,
            "sim_cpu_s_per_simulated_s": 1.0,
            "output_rate_hz": 4.0,
        },
    }


INFO = {
    "cpu_model": "Test CPU",
    "cpu_count": 2,
    "torch": "2.x",
    "commit": "abc1234 + uncommitted changes",
    "start_utc": "2026-01-01 00:00:00 UTC",
    "end_utc": "2026-01-01 00:10:00 UTC",
    "load_avg_1min_before": 0.25,
    "load_avg_1min_after": 1.5,
}


def _quantities(rows: list[tuple[str, str, str, str]]) -> set[str]:
    return {r[0] for r in rows}


EXPECTED_QUANTITIES = {
    "official vs ours, forward",
    "official vs ours, train",
    "ours / our reference loop, train",
    "ours / nn.LSTM, train",
    "memory saved for backward, ours",
    "memory saved for backward, official",
    "memory saved for backward, nn.LSTM",
    "E/I SNN train step / ELM train step",
    "2 threads / 1 thread, train step",
    "spoken-digit generation, CPU s per utterance (fast path)",
    "spoken-digit generation, SHD-sized set",
    "NEURON generation, CPU s per simulated second",
}


def _row(rows: list, quantity: str) -> tuple[str, str, str, str]:
    """The first row of ``quantity``."""
    return next(r for r in rows if r[0] == quantity)


def test_every_row_from_full_results() -> None:
    rows = summary.table_rows(_fake_results())
    assert EXPECTED_QUANTITIES <= _quantities(rows)
    by_key = {(r[0], r[1]): r for r in rows}
    lstm = by_key[("ours / nn.LSTM, train", "SHD-Adding ELM, T = 1000, B = 8")]
    assert lstm[3] == "0.125" and "LSTM(700, 250) 160.0" in lstm[2]
    # the official benchmark did not run: said so, no number
    for config in summary.OFFICIAL_CONFIGS:
        for mode in ("forward", "train"):
            assert by_key[(f"official vs ours, {mode}", config)][2] == summary.NOT_RUN
    assert _row(rows, "E/I SNN train step / ELM train step")[3] == "2.000"
    threads = [r for r in rows if r[0].startswith("2 threads")]
    assert [r[3] for r in threads] == ["0.640", "0.640", "—"]  # no LSTM row measured
    assert "not measured" in threads[2][2]
    cochlea = by_key[("spoken-digit generation, SHD-sized set", "10,420 utterances")]
    assert cochlea[2].startswith("80 CPU-minutes")
    neuron = _row(rows, "NEURON generation, CPU s per simulated second")
    assert "1.10" in neuron[2] and "4.00 Hz" in neuron[2]
    assert "12.00 MiB" in _row(rows, "memory saved for backward, ours")[2]


def test_missing_benchmarks_give_not_measured_rows() -> None:
    full = summary.table_rows(_fake_results())
    empty = summary.table_rows({})
    assert EXPECTED_QUANTITIES <= _quantities(empty)
    for quantity, _config, value, ratio in empty:
        assert value.startswith("not measured"), quantity
        assert ratio == "—"
    assert len(empty) <= len(full)
    skipped = summary.table_rows({"neuron": {"skipped": "NEURON not installed"}})
    assert skipped[-1][2] == "not measured (skipped: NEURON not installed)"


def test_markdown_header_and_atomic_write(tmp_path: Path) -> None:
    path = tmp_path / "TABLE.md"
    text = summary.write_summary(path, _fake_results(), INFO)
    assert path.read_text() == text
    for expected in (
        "Test CPU, 2 cores",
        "torch 2.x",
        "Commit: abc1234 + uncommitted changes",
        "2026-01-01 00:00:00 UTC to 2026-01-01 00:10:00 UTC",
        "0.25 before, 1.50 after",
        "| quantity | configuration | value | ratio |",
    ):
        assert expected in text, expected
    table = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(table) == 2 + len(summary.table_rows(_fake_results()))  # + header, rule
    assert all(line.count(" | ") == 3 for line in table if "---" not in line)
    # JSON round trip (integer keys become strings) reads the same
    again = summary.summary_markdown(json.loads(json.dumps(_fake_results())), INFO)
    assert again == text


def test_run_info_has_commit_and_load() -> None:
    info = summary.finish_run_info(summary.run_info(REPO_ROOT, ["--quick"]))
    assert info["commit"] and info["cpu_count"] >= 1
    assert isinstance(info["load_avg_1min_before"], float)
    assert isinstance(info["load_avg_1min_after"], float)
    assert info["start_utc"].endswith("UTC") and info["end_utc"].endswith("UTC")
    assert info["command"] == "benchmarks/run.py --quick"


def test_git_commit_marks_uncommitted_changes(tmp_path: Path) -> None:
    import subprocess

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "a.txt").write_text("a\n")
    git("add", "a.txt")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "a")
    (tmp_path / "untracked.txt").write_text("ignored for the mark\n")
    clean = summary.git_commit(tmp_path)
    assert len(clean) >= 7 and "uncommitted" not in clean
    (tmp_path / "a.txt").write_text("b\n")
    assert summary.git_commit(tmp_path) == clean + " + uncommitted changes"
    assert summary.git_commit(tmp_path / "nowhere").startswith("unknown")


def _args(**kw) -> argparse.Namespace:
    base = {"table": None, "out": str(bench_run.DEFAULT_OUT), "quick": False, "only": None}
    return argparse.Namespace(**{**base, **kw})


def test_table_path_only_full_runs_write_the_committed_table(tmp_path: Path) -> None:
    assert bench_run.table_path(_args()) == bench_run.TABLE
    out = str(tmp_path / "q.json")
    assert bench_run.table_path(_args(quick=True)).name == "results-TABLE.md"
    assert bench_run.table_path(_args(only="elm")) != bench_run.TABLE
    assert bench_run.table_path(_args(quick=True, out=out)) == tmp_path / "q-TABLE.md"
    assert bench_run.table_path(_args(out=out)) == tmp_path / "q-TABLE.md"
    assert bench_run.table_path(_args(table=str(tmp_path / "t.md"))) == tmp_path / "t.md"


def test_bench_neuron_arguments() -> None:
    args = bench_neuron.parse_args([])
    assert (args.n_sims, args.duration_s, args.cell) == (2, 6.0, "active")
    args = bench_neuron.parse_args(["--quick"])
    assert (args.n_sims, args.duration_s) == (1, bench_neuron.QUICK_DURATION_S)
    args = bench_neuron.parse_args(["--quick", "--duration-s", "0.5", "--n-sims", "3"])
    assert (args.n_sims, args.duration_s) == (3, 0.5)
    with pytest.raises(SystemExit):
        bench_neuron.parse_args(["--n-sims", "0"])


def test_bench_neuron_skips_without_neuron(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench_neuron, "skip_reason", lambda: "NEURON not installed (test)")
    assert bench_neuron.main(["--quick"]) == {"skipped": "NEURON not installed (test)"}


def test_bench_neuron_quick() -> None:
    require_module("neuron")
    res = bench_neuron.main(["--quick", "--duration-s", "1"])
    assert res["n_sims"] == 1 and res["simulated_s"] == 1.0
    assert res["cpu_s"] >= res["sim_cpu_s"] > 0
    assert res["cpu_s_per_simulated_s"] == pytest.approx(res["cpu_s"])
    assert res["output_rate_hz"] == res["output_spikes"] >= 0
