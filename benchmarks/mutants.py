"""Plant named bugs in a temporary copy of the repository; report which ones the tests catch.

Each mutant replaces one piece of source text (the text must be there, else the mutant is
reported as ``missing target``: update it after a refactor) and runs the tests chosen to
catch it, in the copy. Caught: the tests fail; survived: they pass.
Before the mutants, the same tests run on the unchanged copy and must pass.

Usage (``make mutants``; a few minutes; not part of CI)::

    python benchmarks/mutants.py                 # all mutants
    python benchmarks/mutants.py --list          # names, files and tests
    python benchmarks/mutants.py --only lr-zero tp-at-fp-origin --no-baseline

The copy is made from ``git ls-files`` (tracked and untracked, not ignored) and imported
through ``PYTHONPATH``; the fixtures come from ``ELM_SNN_FIXTURES`` /
``ELM_SNN_OFFICIAL_MODELS`` or ``../shared`` beside this repository. Exit status 0 when every
mutant is caught.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclasses.dataclass(frozen=True)
class Mutant:
    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]
    what: str


MUTANTS = (
    Mutant(
        "lr-zero",
        "elm_snn/train/modules.py",
        "lr=cfg.lr",
        "lr=0.0",
        ("tests/train/test_learning.py",),
        "every optimiser gets learning rate 0",
    ),
    Mutant(
        "detached-loss",
        "elm_snn/train/modules.py",
        '        self.log("train_loss", loss, prog_bar=True, on_step=True, on_epoch=True, '
        "batch_size=n)\n        return loss\n",
        '        self.log("train_loss", loss, prog_bar=True, on_step=True, on_epoch=True, '
        "batch_size=n)\n        return loss.detach()\n",
        ("tests/train/test_learning.py",),
        "the training step returns a loss without a graph",
    ),
    Mutant(
        "frozen-model",
        "elm_snn/train/modules.py",
        "params = [p for p in self.model.parameters() if p.requires_grad]",
        "params = [torch.nn.Parameter(torch.zeros(1))]",
        ("tests/train/test_learning.py",),
        "the optimiser holds none of the model's parameters",
    ),
    Mutant(
        "tp-at-fp-origin",
        "elm_snn/metrics.py",
        "tpr[max(i, 1)]",
        "tpr[i]",
        ("tests/test_metrics.py",),
        "TP rate at x % FP may take the ROC's (0, 0) point",
    ),
    Mutant(
        "elm-memory-sign",
        "elm_snn/functional/elm.py",
        "return lambda_value * (1 - memory_decay(tau_m, dt))",
        "return lambda_value * (memory_decay(tau_m, dt) - 1)",
        ("tests/compat/test_official_fixtures.py", "tests/neurons/test_elm.py"),
        "sign flip of the ELM memory update gain lambda * (1 - kappa_m)",
    ),
    Mutant(
        "binning-last-bin",
        "elm_snn/data/transforms.py",
        "    keep = b < n_bins\n",
        "    keep = b < n_bins - 1\n",
        ("tests/data/test_transforms.py",),
        "off by one in binning: the events of the last bin are dropped",
    ),
    Mutant(
        "compose-drops-fast-path",
        "elm_snn/data/transforms.py",
        '    steps = getattr(transform, "transforms", None)\n',
        "    steps = None\n",
        ("tests/data/test_tonic_interop.py",),
        "a BinToFrames inside tonic's Compose is no longer found: SHD-Adding re-bins events",
    ),
    Mutant(
        "adding-target",
        "elm_snn/data/adding.py",
        "target: Any = int(self.digits[a] + self.digits[b])",
        "target: Any = int(self.digits[a] + self.digits[a])",
        ("tests/data/test_adding.py",),
        "SHD-Adding target: twice the first digit instead of the sum",
    ),
    Mutant(
        "adding-german-digits",
        "elm_snn/data/shd.py",
        "self.digits = self.labels % 10",
        "self.digits = self.labels",
        ("tests/data/test_adding.py",),
        "SHD-Adding target: German labels 10-19 used as digits",
    ),
    Mutant(
        "routing-stride",
        "elm_snn/functional/routing.py",
        "stride = math.ceil(num_inputs / num_branches)",
        "stride = num_inputs // num_branches",
        ("tests/test_routing.py",),
        "NeuronIO routing windows start every floor(I / K) inputs instead of ceil",
    ),
    Mutant(
        "strict-skips",
        "tests/conftest.py",
        'pytest.fail(f"{name}=1 but {message}", pytrace=False)',
        "pytest.skip(message, allow_module_level=True)",
        ("tests/test_strictness.py",),
        "ELM_SNN_STRICT=1 skips a missing oracle instead of failing",
    ),
)


def _copy_repo(dest: Path) -> None:
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (f.decode() for f in files)):
        src = REPO / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


def _env(copy: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = os.pathsep.join([str(copy), *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("MPLBACKEND", "Agg")
    shared = REPO.parent / "shared"
    if "ELM_SNN_FIXTURES" not in env and (shared / "fixtures").is_dir():
        env["ELM_SNN_FIXTURES"] = str(shared / "fixtures")
    if "ELM_SNN_OFFICIAL_MODELS" not in env and (shared / "official_models").is_dir():
        env["ELM_SNN_OFFICIAL_MODELS"] = str(shared / "official_models")
    return env


def _pytest(copy: Path, env: dict[str, str], tests: tuple[str, ...], timeout: float):
    """``(outcome, seconds, failing tests)``; outcome: passed / failed / timeout / exit N."""
    cmd = [sys.executable, "-m", "pytest", "-q", "-rfE", "-p", "no:cacheprovider", *tests]
    start = time.perf_counter()
    try:
        res = subprocess.run(
            cmd, cwd=copy, env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return "timeout", time.perf_counter() - start, ""
    seconds = time.perf_counter() - start
    out = res.stdout + res.stderr
    failing = re.findall(r"^(?:FAILED|ERROR) (\S+)", out, re.M)
    outcome = {0: "passed", 1: "failed", 2: "failed"}.get(res.returncode, f"exit {res.returncode}")
    if outcome not in ("passed", "failed"):
        print(out[-3000:], file=sys.stderr)
    return outcome, seconds, failing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run these mutants only")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--no-baseline", action="store_true", help="skip the unchanged run")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per pytest run")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTANTS if not args.only or m.name in args.only]
    unknown = set(args.only or ()) - {m.name for m in MUTANTS}
    if unknown:
        parser.error(f"--only: unknown mutants {sorted(unknown)}; see --list")
    if args.list:
        for m in chosen:
            print(f"{m.name:22s} {m.path}: {m.what}\n{'':22s} tests: {' '.join(m.tests)}")
        return 0

    with tempfile.TemporaryDirectory(prefix="elm-snn-mutants-") as tmp:
        copy = Path(tmp) / "repo"
        _copy_repo(copy)
        env = _env(copy)
        where = subprocess.run(
            [sys.executable, "-c", "import elm_snn; print(elm_snn.__file__)"],
            cwd=copy,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if not Path(where).resolve().is_relative_to(copy.resolve()):
            print(f"elm_snn is imported from {where}, not from the copy", file=sys.stderr)
            return 2
        if not args.no_baseline:
            tests = tuple(dict.fromkeys(t for m in chosen for t in m.tests))
            outcome, seconds, failing = _pytest(copy, env, tests, args.timeout)
            print(f"baseline (unchanged copy): {outcome} in {seconds:.0f} s {' '.join(failing)}")
            if outcome != "passed":
                return 2
        rows = []
        for m in chosen:
            target = copy / m.path
            original = target.read_text()
            count = original.count(m.old)
            if count == 0:
                rows.append((m, "missing target", 0.0, []))
                continue
            target.write_text(original.replace(m.old, m.new))
            try:
                outcome, seconds, failing = _pytest(copy, env, m.tests, args.timeout)
            finally:
                target.write_text(original)
            result = {"failed": "caught", "passed": "SURVIVED"}.get(outcome, outcome)
            rows.append((m, result, seconds, failing))
            print(f"{m.name}: {result} ({seconds:.0f} s) {' '.join(failing)}", flush=True)

    print("\n| mutant | file | tests run | result | failing tests | s |")
    print("| --- | --- | --- | --- | --- | --- |")
    for m, result, seconds, failing in rows:
        tests = ", ".join(t.removeprefix("tests/") for t in m.tests)
        shown = ", ".join(f.split("::", 1)[-1] for f in failing[:3])
        more = f" (+{len(failing) - 3} more)" if len(failing) > 3 else ""
        print(
            f"| {m.name} | {m.path} | {tests} | {result} | {len(failing)}: {shown}{more} "
            f"| {seconds:.0f} |"
        )
    caught = sum(r[1] == "caught" for r in rows)
    print(f"\n{caught} of {len(rows)} mutants caught")
    return 0 if caught == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
