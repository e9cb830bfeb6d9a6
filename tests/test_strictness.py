"""The CI switch ``ELM_SNN_STRICT=1``: every oracle package of the ``test`` extra is
required, and a missing one fails the run instead of skipping (see tests/conftest.py)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import (
    REPO_ROOT,
    STRICT_ENV,
    TEST_EXTRA_MODULES,
    fail_or_skip,
    require_module,
)

# imports these modules as missing, then runs pytest with the remaining arguments
_BLOCKED_PYTEST = """\
import sys

BLOCKED = set(sys.argv[1].split(","))


class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (hidden by the test)", name=name)
        return None


sys.meta_path.insert(0, Blocker())
import pytest  # noqa: E402

sys.exit(pytest.main(sys.argv[2:]))
"""

# one test that needs scikit-learn, one that needs lauscher, one that needs neither
_SELECTED = [
    "tests/test_metrics.py::test_voltage_metrics_match_sklearn",
    "tests/synth/test_cochlea.py::test_bushy_lif_matches_lauscher_exactly",
    "tests/test_metrics.py::test_tp_rate_at_fp_never_takes_the_origin",
]


def _extra_requirements(pyproject: str) -> dict[str, list[str]]:
    """``[project.optional-dependencies]`` of pyproject.toml: extra -> requirement strings."""
    section = pyproject.split("[project.optional-dependencies]", 1)[1].split("\n[", 1)[0]
    return {
        name: re.findall(r'"([^"]+)"', body)
        for name, body in re.findall(r"^([\w-]+)\s*=\s*\[(.*?)\]\s*$", section, re.M | re.S)
    }


def _distributions(extras: dict[str, list[str]], extra: str) -> set[str]:
    """Distribution names installed by ``.[extra]``, following ``elm-snn[...]``."""
    out: set[str] = set()
    for req in extras[extra]:
        name = re.match(r"[A-Za-z0-9_.-]+", req).group(0).lower()
        if name == "elm-snn":
            for inner in re.search(r"\[(.*?)\]", req).group(1).split(","):
                out |= _distributions(extras, inner.strip())
        else:
            out.add(name)
    return out


def test_required_modules_are_the_test_extra() -> None:
    extras = _extra_requirements((REPO_ROOT / "pyproject.toml").read_text())
    assert set(TEST_EXTRA_MODULES) == _distributions(extras, "test")


@pytest.mark.parametrize("module", sorted(TEST_EXTRA_MODULES.values()))
def test_test_extra_is_importable(module: str) -> None:
    """Skips locally with the reason when a package is missing; fails with the switch."""
    assert require_module(module).__name__ == module


def test_fail_or_skip(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (STRICT_ENV, "ELM_SNN_REQUIRE_FIXTURES"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(pytest.skip.Exception, match="thing is missing"):
        fail_or_skip("thing is missing", "ELM_SNN_REQUIRE_FIXTURES")
    monkeypatch.setenv("ELM_SNN_REQUIRE_FIXTURES", "1")
    with pytest.raises(pytest.fail.Exception, match="ELM_SNN_REQUIRE_FIXTURES=1 but thing"):
        fail_or_skip("thing is missing", "ELM_SNN_REQUIRE_FIXTURES")
    monkeypatch.delenv("ELM_SNN_REQUIRE_FIXTURES")
    monkeypatch.setenv(STRICT_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="ELM_SNN_STRICT=1 but thing"):
        fail_or_skip("thing is missing", "ELM_SNN_REQUIRE_FIXTURES")
    with pytest.raises(pytest.fail.Exception, match="no_such_module_elm_snn cannot be imported"):
        require_module("no_such_module_elm_snn")


def _run_hidden(tmp_path: Path, strict: bool) -> subprocess.CompletedProcess:
    script = tmp_path / "blocked_pytest.py"
    script.write_text(_BLOCKED_PYTEST)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "ELM_SNN_REQUIRE_")) and k != STRICT_ENV
    }
    if strict:
        env[STRICT_ENV] = "1"
    args = [sys.executable, str(script), "sklearn,lauscher", "-q", "-rs", "-p", "no:cacheprovider"]
    return subprocess.run(
        [*args, *_SELECTED],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_hidden_oracles_fail_a_strict_run(tmp_path: Path) -> None:
    res = _run_hidden(tmp_path, strict=True)
    out = res.stdout + res.stderr
    assert res.returncode == 1, out
    assert "ELM_SNN_STRICT=1 but sklearn.metrics cannot be imported" in out, out
    assert "ELM_SNN_STRICT=1 but lauscher cannot be imported" in out, out
    # the sklearn fixture's failure counts as an error, the lauscher test's as a failure
    assert re.search(r"\b1 failed, 1 passed, 1 error\b", out), out


def test_hidden_oracles_skip_with_the_reason_otherwise(tmp_path: Path) -> None:
    res = _run_hidden(tmp_path, strict=False)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    assert re.search(r"SKIPPED .*sklearn\.metrics cannot be imported", out), out
    assert re.search(r"SKIPPED .*lauscher cannot be imported", out), out
    assert re.search(r"\b1 passed, 2 skipped\b", out), out
