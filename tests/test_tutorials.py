"""The tutorial notebooks: committed clean, paired with their jupytext ``.py``, and runnable.

Each notebook runs from a fresh kernel with tiny parameters: a cell injected after the
notebook's ``parameters`` cell overrides its defaults (the papermill convention). The kernel
is this interpreter (``sys.executable``, i.e. the project's venv), forced through a
kernelspec written into ``tmp_path``, so no globally registered ``python3`` kernel can be
picked up instead; an appended cell checks that inside the kernel.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from .conftest import _official_models_dir, fail_or_skip, require_module

nbformat = require_module("nbformat")
jupytext = require_module("jupytext")

REPO_ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = REPO_ROOT / "tutorials"
NOTEBOOKS = sorted(TUTORIALS.glob("*.ipynb"))
PARAMETERS_TAG = "parameters"

#: Tiny settings per notebook (stem -> overrides). Every notebook must be listed here.
TEST_PARAMETERS: dict[str, dict[str, object]] = {
    "01_elm_basics": {"N_EPOCHS": 1, "N_TRAIN": 32, "N_TEST": 32, "BATCH_SIZE": 16},
    "02_shd_adding": {
        "SHD_ROOT": None,  # always the generated digits, whatever the environment says
        "PER_CLASS": 1,
        "BIN_SIZES": [50.0, 100.0],
        "DIGIT_MODELS": ["elm", "lstm", "snn"],
        "ADDING_MODELS": ["elm", "lstm", "snn"],
        "MAX_EPOCHS": 1,
        "TRAIN_DIGITS": 16,
        "TRAIN_PAIRS": 16,
        "VAL_ITEMS": 8,
        "TEST_ITEMS": 8,
        "WORKERS": 1,
    },
    "03_neuronio": {
        "NEURONIO_DIR": None,
        "N_SIMS": 7,  # the smallest set the 80/10/10 split accepts
        "MODELS": ["lif", "alif", "elm", "branch-elm"],
        "MAX_EPOCHS": 1,
        "TRAIN_WINDOWS": 8,
    },
    "04_official_checkpoints": {"BATCH": 1, "T_STEPS": 120},
    "05_long_range_arena": {
        "LISTOPS_TRAIN": 40,
        "MAX_EPOCHS": 1,
        "MODELS": ["elm", "chrono-lstm"],
        "PF_IMAGES": 10,
        "EVAL_SAMPLES": 20,
    },
}
#: Notebooks that generate data (eSpeak NG + cochlea, NEURON) take over a minute.
SLOW = {"02_shd_adding", "03_neuronio"}
#: Notebooks that read the authors' checkpoints get MODELS_DIR from the tests' lookup.
NEEDS_OFFICIAL_MODELS = {"04_official_checkpoints"}


def _ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


def _with_slow_marks(paths: list[Path]) -> list:
    return [
        pytest.param(p, id=p.stem, marks=pytest.mark.slow) if p.stem in SLOW else p for p in paths
    ]


def test_tutorials_exist() -> None:
    stems = {p.stem for p in NOTEBOOKS}
    assert {"01_elm_basics", "02_shd_adding", "03_neuronio", "04_official_checkpoints"} <= stems
    assert stems == set(TEST_PARAMETERS), (
        f"every notebook needs test parameters and vice versa: {stems ^ set(TEST_PARAMETERS)}"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_committed_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} cell {i} has outputs"
            assert cell.execution_count is None, f"{path.name} cell {i} has an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_matches_paired_py(path: Path) -> None:
    paired = path.with_suffix(".py")
    assert paired.is_file(), f"{path.name} has no paired jupytext file {paired.name}"
    nb = nbformat.read(path, as_version=4)
    formats = nb.metadata.get("jupytext", {}).get("formats", "")
    assert "py:percent" in formats, f"{path.name}: not paired with a percent-format .py"
    py = jupytext.read(paired, fmt="py:percent")
    got = [(c.cell_type, c.source.strip(), c.metadata.get("tags", [])) for c in py.cells]
    want = [(c.cell_type, c.source.strip(), c.metadata.get("tags", [])) for c in nb.cells]
    assert got == want, f"{path.name} and {paired.name} differ: run `jupytext --sync {path}`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_has_one_parameters_cell(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if PARAMETERS_TAG in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: expected one cell tagged 'parameters'"
    source = tagged[0].source
    for name in TEST_PARAMETERS[path.stem]:
        assert f"{name} =" in source, f"{path.name}: parameters cell does not define {name}"


def _inject(nb, overrides: dict[str, object]):
    """Insert an ``injected-parameters`` cell right after the ``parameters`` cell."""
    index = next(i for i, c in enumerate(nb.cells) if PARAMETERS_TAG in c.metadata.get("tags", []))
    source = "\n".join(f"{name} = {value!r}" for name, value in overrides.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    nb.cells.insert(index + 1, cell)
    return nb


def _kernel_manager(tmp_path: Path):
    """A KernelManager whose only kernelspec runs this interpreter."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    spec_dir = tmp_path / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    env = {
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "ELM_SNN_CACHE": str(tmp_path / "cache"),
    }
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "elm-snn test kernel",
        "language": "python",
        "env": env,
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    ksm = KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")], ensure_native_kernel=False)
    return KernelManager(kernel_name="python3", kernel_spec_manager=ksm)


def _run_notebook(path: Path, overrides: dict[str, object], tmp_path: Path) -> None:
    """Execute ``path`` with ``overrides`` in a fresh venv kernel; raise on any cell error."""
    require_module("nbclient")
    require_module("ipykernel")
    from nbclient import NotebookClient

    nb = _inject(nbformat.read(path, as_version=4), overrides)
    nb.cells.append(
        nbformat.v4.new_code_cell(
            "import sys\n"
            f"assert sys.executable == {sys.executable!r}, sys.executable\n"
            f"assert sys.prefix == {sys.prefix!r}, sys.prefix"
        )
    )
    workdir = tmp_path / "work"
    workdir.mkdir(parents=True)
    client = NotebookClient(
        nb,
        km=_kernel_manager(tmp_path),
        timeout=300,
        allow_errors=False,
        resources={"metadata": {"path": str(workdir)}},
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    errors = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert not errors


def _models_dir_or_skip() -> str:
    models = _official_models_dir()
    if models is None or not models.is_dir():
        fail_or_skip(
            "official ELM checkpoints not found (ELM_SNN_OFFICIAL_MODELS)",
            "ELM_SNN_REQUIRE_FIXTURES",
        )
    return str(models)


@pytest.mark.parametrize("path", _with_slow_marks(NOTEBOOKS), ids=_ids(NOTEBOOKS))
def test_notebook_runs(path: Path, tmp_path: Path) -> None:
    overrides = dict(TEST_PARAMETERS[path.stem])
    if path.stem in NEEDS_OFFICIAL_MODELS:
        overrides["MODELS_DIR"] = _models_dir_or_skip()
    _run_notebook(path, overrides, tmp_path)


def test_kernel_errors_are_reported(tmp_path: Path) -> None:
    """The runner must fail on an error raised inside a notebook cell."""
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "py"}
    nb.cells = [
        nbformat.v4.new_code_cell("X = 1", metadata={"tags": [PARAMETERS_TAG]}),
        nbformat.v4.new_code_cell("assert X == 2, 'overridden'"),
    ]
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    _run_notebook(path, {"X": 2}, tmp_path / "ok")  # the override reaches the kernel
    with pytest.raises(CellExecutionError, match="overridden"):
        _run_notebook(path, {"X": 3}, tmp_path / "bad")


def test_official_checkpoints_notebook_with_neuronio_file(tmp_path: Path) -> None:
    """Tutorial 4 on a small NeuronIO-layout file (random data): targets and metrics path."""
    from elm_snn.data.neuronio import NEURONIO_NUM_SEGMENTS, write_neuronio_pickle

    rng = np.random.default_rng(0)
    n, duration = NEURONIO_NUM_SEGMENTS, 200
    sims = []
    for _ in range(2):
        ex = {k: np.sort(rng.choice(duration, 3, replace=False)) for k in range(0, n, 2)}
        inh = {k: np.sort(rng.choice(duration, 1, replace=False)) for k in range(1, n, 3)}
        soma = (-70 + 5 * rng.standard_normal(duration)).astype(np.float32)
        spike_times = np.array([50.7, 120.2, 180.9])
        soma[[50, 120, 180]] = 20.0
        sims.append(
            {
                "exInputSpikeTimes": ex,
                "inhInputSpikeTimes": inh,
                "outputSpikeTimes": spike_times,
                "somaVoltageLowRes": soma,
            }
        )
    params = {
        "allSegmentsType": ["basal"] * n,
        "allSegments_DistFromSoma": [float(i) for i in range(n)],
        "totalSimDurationInSec": duration / 1000,
    }
    data_file = tmp_path / "sim__tiny.p"
    write_neuronio_pickle(data_file, sims, params)
    overrides = dict(TEST_PARAMETERS["04_official_checkpoints"])
    overrides.update(MODELS_DIR=_models_dir_or_skip(), NEURONIO_FILE=str(data_file))
    _run_notebook(TUTORIALS / "04_official_checkpoints.ipynb", overrides, tmp_path)
