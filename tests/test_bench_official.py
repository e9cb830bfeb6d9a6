"""``benchmarks/bench_official.py`` (the official ELM code against ours) without the
official code: the skip path, its arguments, the import of a checkout, the saved-tensor
count, and the summary-table rows it fills (from a made-up result)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

from tests.conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

import bench_official  # noqa: E402
import summary  # noqa: E402

_spec = importlib.util.spec_from_file_location("bench_run_script", REPO_ROOT / "benchmarks/run.py")
bench_run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_run)


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(bench_official.ENV_VAR, raising=False)


@pytest.fixture
def clean_src_package():
    """Forget any ``src`` package a test imported (the official code's package name)."""
    yield
    for name in [n for n in sys.modules if n == "src" or n.startswith("src.")]:
        del sys.modules[name]


def _timing(cpu: float) -> dict:
    return {"cpu_ms": cpu, "wall_ms": cpu + 1.0}


def _fake_official() -> dict:
    """The shape of ``bench_official.main``'s result, with made-up numbers."""

    def config(label: str, off: tuple[float, float], ours: tuple[float, float]) -> dict:
        return {
            "label": label,
            "max_abs_diff_float64": 5e-13,
            "official": {"forward": _timing(off[0]), "train": _timing(off[1])},
            "ours": {"forward": _timing(ours[0]), "train": _timing(ours[1])},
        }

    mib = 2**20
    return {
        "threads": 1,
        "dtype": "float32",
        "configs": {
            "shd_adding": config("SHD-Adding ELM, T = 1000, B = 8", (180.0, 780.0), (30.0, 100.0)),
            "neuronio_branch_elm": config(
                "NeuronIO Branch-ELM, T = 500, B = 8", (372.0, 565.0), (20.0, 50.0)
            ),
        },
        "memory": {
            "config": "SHD config",
            "official": {"bytes": 40 * mib, "tensors": 5006, "saves": 12000},
            "ours": {"bytes": 10 * mib, "tensors": 13, "saves": 16},
            "lstm": {"bytes": 210 * mib, "tensors": 11, "saves": 13},
        },
    }


def _rows_of(rows: list, prefix: str) -> list:
    return [r for r in rows if r[0].startswith(prefix)]


def test_arguments(no_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    args = bench_official.parse_args([])
    assert args.official_src is None
    assert (args.repeats, args.batch, args.steps_shd, args.steps_nio) == (5, 8, 1000, 500)
    args = bench_official.parse_args(["--quick"])
    assert (args.repeats, args.steps_shd, args.steps_nio) == (1, 100, 100)
    args = bench_official.parse_args(["--quick", "--repeats", "3", "--official-src", "/a"])
    assert (args.repeats, args.official_src) == (3, "/a")
    monkeypatch.setenv(bench_official.ENV_VAR, "/from/env")
    assert bench_official.parse_args([]).official_src == "/from/env"
    assert bench_official.parse_args(["--official-src", "/x"]).official_src == "/x"
    with pytest.raises(SystemExit):
        bench_official.parse_args(["--repeats", "0"])


def test_no_source_is_skipped(no_env: None, tmp_path: Path) -> None:
    assert bench_official.main([]) == {"skipped": bench_official.SKIP_NO_SOURCE}
    res = bench_official.main(["--official-src", str(tmp_path)])
    assert "official code not found" in res["skipped"] and str(tmp_path) in res["skipped"]


def test_import_with_seaborn_stub(tmp_path: Path, clean_src_package: None) -> None:
    pkg = tmp_path / "src"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "expressive_leaky_memory_neuron.py").write_text("import seaborn\nELM = 'fake'\n")
    had_seaborn = "seaborn" in sys.modules
    module = bench_official.import_official(tmp_path)
    assert module.ELM == "fake"
    assert str(tmp_path.resolve()) not in sys.path  # only for the import
    assert ("seaborn" in sys.modules) == had_seaborn  # the stub is gone again


def test_broken_checkout_is_skipped(tmp_path: Path, clean_src_package: None) -> None:
    pkg = tmp_path / "src"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "expressive_leaky_memory_neuron.py").write_text("import no_such_module_here\n")
    res = bench_official.main(["--official-src", str(tmp_path)])
    assert "could not be imported" in res["skipped"] and "no_such_module_here" in res["skipped"]


def test_saved_for_backward_counts_storages_once() -> None:
    x = torch.randn(4, 5, requires_grad=True)
    w = torch.randn(5, 5, requires_grad=True)

    def fn() -> torch.Tensor:
        h = x @ w  # saves x (excluded) and w
        return (h * h[:, :1]).sum()  # saves h and a view of it: one storage

    res = bench_official.saved_for_backward(fn, exclude=x)
    assert res["tensors"] == 2
    assert res["bytes"] == 4 * (25 + 20)
    assert res["saves"] >= 4


def test_summary_rows_from_official_result() -> None:
    rows = summary.table_rows({"official": _fake_official()})
    versus = _rows_of(rows, "official vs ours")
    assert [r[3] for r in versus] == ["6.000", "7.800", "18.600", "11.300"]
    assert versus[0][1] == "SHD-Adding ELM, T = 1000, B = 8"
    assert "official 180.0, ours 30.0 (CPU ms, 1 thread, float32)" in versus[0][2]
    assert "agree to 5.0e-13" in versus[0][2]
    memory = {r[0]: r for r in _rows_of(rows, "memory saved for backward")}
    official = memory["memory saved for backward, official"]
    assert official[2] == "40.0 MiB in 5,006 tensors (ours 10.0 MiB in 13 tensors)"
    assert official[3] == "4.000 x ours"
    assert memory["memory saved for backward, nn.LSTM"][3] == "21.000 x ours"
    # a JSON round trip reads the same
    again = summary.table_rows(json.loads(json.dumps({"official": _fake_official()})))
    assert again == rows


def test_summary_rows_say_why_official_is_missing() -> None:
    reason = bench_official.SKIP_NO_SOURCE
    rows = summary.table_rows({"official": {"skipped": reason}})
    for row in _rows_of(rows, "official vs ours") + _rows_of(rows, "memory saved for backward"):
        if row[0].endswith("ours"):
            continue  # ours: from bench_elm, not run here
        assert row[2].startswith("not measured (") and reason in row[2], row
        assert row[3] == "—"
    assert len(_rows_of(rows, "official vs ours")) == 4
    not_run = summary.table_rows({})
    assert all(r[2] == summary.NOT_RUN for r in _rows_of(not_run, "official vs ours"))


def test_run_only_official_without_source(no_env: None, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    assert bench_run.main(["--only", "official", "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    assert results["official"] == {"skipped": bench_official.SKIP_NO_SOURCE}
    table = (tmp_path / "r-TABLE.md").read_text()
    assert "| official vs ours, train | SHD-Adding ELM, T = 1000, B = 8 | not measured (" in table


def test_run_passes_official_arguments() -> None:
    parsed = bench_run.argparse.Namespace(official_src="/src", quick=False, repeats=3)
    assert bench_run.official_argv(parsed) == ["--official-src", "/src", "--repeats", "3"]
    parsed = bench_run.argparse.Namespace(official_src=None, quick=True, repeats=5)
    assert bench_run.official_argv(parsed) == ["--quick"]
