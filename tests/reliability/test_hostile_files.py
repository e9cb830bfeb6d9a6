"""Hostile data files: every reader bounds what a file can make it allocate, before it
allocates, and refuses on one line naming the file, within seconds.

The memory cases run in a child process, which reports the growth of its peak resident set
while reading (``ru_maxrss`` after the imports vs after the read): importing torch alone
costs hundreds of MB on this machine, so the bound is on what the file made the reader take.
"""

from __future__ import annotations

import json
import os
import pickle
import stat
import time

import numpy as np
import pytest
from reliability_helpers import run_python

from elm_snn.cli import main

#: what a hostile file may make a reader allocate (the promise is "under 500 MB")
MAX_EXTRA_MB = 500
MAX_SECONDS = 20

_MEASURE = """
import json, resource, sys, time
from elm_snn.lra import readers
from elm_snn.data import neuronio
calls = json.loads(sys.argv[1])
results = {}
for name, call in calls.items():
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    error = None
    try:
        eval(call)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
    results[name] = dict(
        error=error,
        extra_mb=(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024,
        seconds=time.perf_counter() - start,
    )
print(json.dumps(results))
"""


def _measure(calls: dict[str, str], cwd) -> dict:
    """Run each ``name: expression`` in one child process (one import of torch for all);
    ``name -> {error, extra_mb, seconds}``."""
    proc = run_python(_MEASURE, json.dumps(calls), cwd=cwd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> dict:
    """The hostile files of the memory cases, read in one child process."""
    calls: dict[str, str] = {}
    root = tmp_path_factory.mktemp("cifar")
    _cifar_root(root, _zero_stride_batch(200_000))
    calls["cifar"] = f"readers.CIFAR10Dataset({str(root)!r}, 'test')"
    path = tmp_path_factory.mktemp("neuronio") / "sim__shared.p"
    path.write_bytes(pickle.dumps(_neuronio_dict(_shared_lists(4, 1000)), protocol=2))
    calls["neuronio-shared"] = f"neuronio.read_neuronio_pickle({str(path)!r})"
    path = path.parent / "sim__many.p"
    path.write_bytes(pickle.dumps(_neuronio_dict(None, [_SIM] * 100_000), protocol=2))
    calls["neuronio-many"] = f"neuronio.read_neuronio_pickle({str(path)!r})"
    if os.path.exists("/dev/zero"):
        root = tmp_path_factory.mktemp("zero")
        os.symlink("/dev/zero", _imdb(root) / "test" / "pos" / "99_9.txt")
        calls["dev-zero"] = f"readers.IMDBDataset({str(root)!r}, 'test')"
    if hasattr(os, "mkfifo"):
        root = tmp_path_factory.mktemp("fifo")
        os.mkfifo(_imdb(root) / "test" / "neg" / "98_1.txt")
        calls["fifo"] = f"readers.IMDBDataset({str(root)!r}, 'test')"
    return _measure(calls, root)


def _bounded(got: dict) -> None:
    assert got["error"] is not None, got
    assert got["extra_mb"] < MAX_EXTRA_MB and got["seconds"] < MAX_SECONDS, got


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("elm-snn: error: ")
    return err[0]


# ----------------------------------------------------------------------------- CIFAR
class _ZeroStride:
    """Pickles as ``numpy.ndarray(shape, dtype, b"\\0", 0, strides=0...)``: an array that
    claims ``shape`` over a one-byte buffer."""

    def __init__(self, shape, dtype):
        self.shape, self.dtype = shape, np.dtype(dtype)

    def __reduce__(self):
        return np.ndarray, (self.shape, self.dtype, b"\0" * self.dtype.itemsize, 0,
                            (0,) * len(self.shape))  # fmt: skip


def _zero_stride_batch(images: int) -> bytes:
    return pickle.dumps(
        {b"data": _ZeroStride((images, 3072), np.uint8), b"labels": _ZeroStride((images,), int)},
        protocol=2,
    )


def _cifar_root(tmp_path, test_batch: bytes):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / name).write_bytes(test_batch)
    return folder


def test_a_tiny_cifar_batch_declaring_200000_images_is_refused(tmp_path, hostile):
    assert len(_zero_stride_batch(200_000)) < 400  # the file: about 150 bytes
    got = hostile["cifar"]
    _bounded(got)
    assert "test_batch" in got["error"] and "buffer, offset or strides" in got["error"]
    # 3,000,000 images: refused the same way
    from elm_snn.lra.readers import load_cifar_batch

    (tmp_path / "test_batch").write_bytes(_zero_stride_batch(3_000_000))
    with pytest.raises(ValueError, match="test_batch: refusing numpy.ndarray with a buffer"):
        load_cifar_batch(tmp_path / "test_batch")


def test_cifar_arrays_larger_than_the_file_are_refused(tmp_path):
    """Plain arrays (no views) within the budget but declaring more images than the file
    holds pixels for, or an array beyond the budget: refused before any copy."""
    from elm_snn.lra.readers import load_cifar_batch

    class _Huge:
        def __reduce__(self):
            return np.ndarray, ((3_000_000, 3072), np.dtype(np.uint8))

    path = tmp_path / "test_batch"
    path.write_bytes(pickle.dumps({b"data": _Huge(), b"labels": [0]}, protocol=2))
    with pytest.raises(ValueError, match=r"test_batch: refusing to allocate 9216000000 bytes"):
        load_cifar_batch(path)


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ([0, 1, 10**30], r"label 2: expected an integer in 0..9, got 1000000000000000000"),
        ([0, 1, 2.5], r"label 2: expected an integer in 0..9, got 2.5"),
        ([0, 1], r"expected 'labels' as a list of 3 integers"),
        ([0, 1, [3]], r"label 2: expected an integer in 0..9, got list"),
    ],
)
def test_cifar_labels_are_checked_naming_the_file(tmp_path, labels, expected):
    from elm_snn.lra.readers import load_cifar_batch

    path = tmp_path / "test_batch"
    data = np.zeros((3, 3072), np.uint8)
    path.write_bytes(pickle.dumps({b"data": data, b"labels": labels}, protocol=2))
    with pytest.raises(ValueError, match=rf"test_batch: {expected}"):
        load_cifar_batch(path)


def test_cifar_empty_or_truncated_files_name_the_file(tmp_path):
    from elm_snn.lra.readers import load_cifar_batch

    path = tmp_path / "test_batch"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=r"test_batch: empty file"):
        load_cifar_batch(path)
    good = pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [1, 2]}, protocol=2)
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match=r"test_batch: .*truncated"):
        load_cifar_batch(path)


def test_cli_reports_a_hostile_cifar_batch_on_one_line(tmp_path, capsys):
    _cifar_root(tmp_path, _zero_stride_batch(200_000))
    args = ["train", "--task", "image", "--model", "elm", "--preset", "quick"]
    args += ["--data-root", str(tmp_path), "--out", str(tmp_path / "run")]
    assert main(args) == 2
    line = _one_error_line(capsys)
    assert "data_batch_1" in line and "refusing numpy.ndarray" in line
    assert not (tmp_path / "run").exists()


# ----------------------------------------------------------------------------- NeuronIO
def _shared_lists(levels: int, width: int):
    """Nested lists sharing one child per level: ``width ** levels`` numbers once
    expanded, about ``levels * width * 2`` bytes pickled (the memo shares each child)."""
    node: list = [1.5] * width
    for _ in range(levels - 1):
        node = [node] * width
    return node


def _neuronio_dict(dist, sims=()):
    return {
        "Params": {
            "allSegmentsType": ["basal"] * 4,
            "totalSimDurationInSec": 1,
            "allSegments_DistFromSoma": dist,
        },
        "Results": {"listOfSingleSimulationDicts": list(sims)},
    }


_SIM = {
    "exInputSpikeTimes": {},
    "inhInputSpikeTimes": {},
    "outputSpikeTimes": np.zeros(0),
    "somaVoltageLowRes": np.full(1000, -70.0),
}


def test_a_12kb_neuronio_file_of_shared_nested_lists_is_refused(tmp_path, hostile):
    size = len(pickle.dumps(_neuronio_dict(_shared_lists(4, 1000)), protocol=2))
    assert 5_000 < size < 20_000, size  # ~15 KB, expanding to 1e12 numbers
    got = hostile["neuronio-shared"]
    _bounded(got)
    assert "sim__shared.p" in got["error"] and "expands to more than" in got["error"]


def test_a_neuronio_simulation_shared_many_times_is_refused(hostile):
    """One simulation dict referenced 100,000 times: 100,000 voltage rows of 1000 ms would
    be allocated from a file of a few hundred KB."""
    got = hostile["neuronio-many"]
    _bounded(got)
    assert "sim__many.p" in got["error"] and "expands to more than" in got["error"]


def test_a_neuronio_container_that_contains_itself_is_refused(tmp_path):
    from elm_snn.data.neuronio import NeuronIOFormatError, read_neuronio_pickle

    loop: list = []
    loop.append(loop)
    path = tmp_path / "sim__loop.p"
    path.write_bytes(pickle.dumps(_neuronio_dict(loop), protocol=2))
    with pytest.raises(NeuronIOFormatError, match="sim__loop.p: .*contains itself"):
        read_neuronio_pickle(path)


def test_neuronio_convert_reports_a_hostile_file_on_one_line(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    (src / "sim__shared.p").write_bytes(
        pickle.dumps(_neuronio_dict(_shared_lists(4, 1000)), protocol=2)
    )
    assert main(["data", "neuronio-convert", str(src), str(tmp_path / "dst"), "--quiet"]) == 2
    line = _one_error_line(capsys)
    assert "sim__shared.p" in line and "expands to more than" in line


# ----------------------------------------------------------------------------- aclImdb
def _imdb(tmp_path, n=3):
    for split in ("train", "test"):
        for name in ("pos", "neg"):
            folder = tmp_path / "aclImdb" / split / name
            folder.mkdir(parents=True)
            for i in range(n):
                (folder / f"{i}_7.txt").write_text(f"review {split} {name} {i} " * 5)
    return tmp_path / "aclImdb"


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_review_linking_to_dev_zero_is_refused_at_once(hostile):
    got = hostile["dev-zero"]
    _bounded(got)
    assert "99_9.txt" in got["error"] and "character device" in got["error"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_review_is_refused_without_hanging(hostile):
    got = hostile["fifo"]
    _bounded(got)
    assert "98_1.txt" in got["error"] and "FIFO" in got["error"]


def test_a_fifo_swapped_in_after_the_check_is_refused_on_read(tmp_path):
    from elm_snn.lra.readers import IMDBDataset

    root = _imdb(tmp_path)
    ds = IMDBDataset(tmp_path, "test", max_length=10)
    path = ds.files[0][0]
    path.unlink()
    os.mkfifo(path)
    start = time.perf_counter()
    with pytest.raises(ValueError, match=rf"{path.name}: expected a regular file, got a FIFO"):
        ds[0]
    assert time.perf_counter() - start < MAX_SECONDS
    assert root.is_dir()


def test_reviews_linking_outside_the_root_are_refused_unless_asked(tmp_path):
    from elm_snn.lra.readers import IMDBDataset

    root = _imdb(tmp_path / "data")
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0")
    os.symlink(secret, root / "test" / "pos" / "97_8.txt")
    with pytest.raises(ValueError, match=r"97_8.txt: links to .*secret.txt.*outside the data"):
        IMDBDataset(tmp_path / "data", "test")
    ds = IMDBDataset(tmp_path / "data", "test", allow_links_outside=True)
    assert len(ds) == 7
    # links that stay inside the data folder are fine
    (root / "test" / "pos" / "97_8.txt").unlink()
    os.symlink(root / "test" / "neg" / "0_7.txt", root / "test" / "pos" / "97_8.txt")
    assert len(IMDBDataset(tmp_path / "data", "test")) == 7


def test_at_most_max_length_bytes_of_a_review_are_read(tmp_path, monkeypatch):
    from elm_snn.lra import readers

    root = _imdb(tmp_path)
    big = root / "test" / "pos" / "0_7.txt"
    big.write_bytes(b"a" * 5_000_000)
    ds = readers.IMDBDataset(tmp_path, "test", max_length=100)
    reads = []
    real_open = readers._open_regular

    class _Spy:
        def __init__(self, fh):
            self.fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def fileno(self):
            return self.fh.fileno()

        def read(self, n=-1):
            reads.append(n)
            return self.fh.read(n)

    monkeypatch.setattr(readers, "_open_regular", lambda *a: _Spy(real_open(*a)))
    tokens, _ = ds[[str(p) for p, _ in ds.files].index(str(big))]
    assert len(tokens) == 100 and reads == [100]


def test_cli_reports_a_dev_zero_review_on_one_line(tmp_path, capsys):
    root = _imdb(tmp_path)
    os.symlink("/dev/zero", root / "train" / "pos" / "99_9.txt")
    args = ["train", "--task", "text", "--model", "elm", "--preset", "quick"]
    args += ["--data-root", str(tmp_path), "--out", str(tmp_path / "run")]
    assert main(args) == 2
    line = _one_error_line(capsys)
    assert "99_9.txt" in line and "character device" in line


# ----------------------------------------------------------------------------- Pathfinder
def _pathfinder(tmp_path, num_images=20):
    from elm_snn.lra.pathfinder import PathfinderConfig, generate_pathfinder

    generate_pathfinder(
        tmp_path, PathfinderConfig(resolution=32, difficulty="easy", num_images=num_images)
    )
    return tmp_path / "pathfinder32" / "curv_baseline"


def _rewrite_metadata(folder, line_no, fields):
    meta = sorted((folder / "metadata").glob("*.npy"))[0]
    lines = meta.read_text().splitlines()
    parts = lines[line_no].split()
    parts[: len(fields)] = fields
    lines[line_no] = " ".join(parts)
    meta.write_text("\n".join(lines) + "\n")
    return meta


@pytest.mark.parametrize(
    "where", [["..", "..", "etc"], ["/etc", "passwd"], ["imgs/../../..", "outside.png"]]
)
def test_pathfinder_paths_may_not_leave_the_data_folder(tmp_path, where):
    from elm_snn.lra.readers import PathfinderDataset

    folder = _pathfinder(tmp_path / "data")
    (tmp_path / "outside.png").write_bytes(b"not read")
    meta = _rewrite_metadata(folder, 0, where)
    with pytest.raises(ValueError, match=rf"{meta.name}:1: image path .* leaves the data folder"):
        PathfinderDataset(tmp_path / "data", "train", 32, "easy")


def test_pathfinder_images_linking_outside_are_refused(tmp_path):
    from elm_snn.lra.readers import PathfinderDataset

    folder = _pathfinder(tmp_path / "data")
    (tmp_path / "outside.png").write_bytes(b"x")
    meta = sorted((folder / "metadata").glob("*.npy"))[0]
    first = meta.read_text().split()
    image = folder / first[0] / first[1]
    image.unlink()
    os.symlink(tmp_path / "outside.png", image)
    with pytest.raises(ValueError, match=r"links to .*outside.png.*outside the data folder"):
        PathfinderDataset(tmp_path / "data", "train", 32, "easy")


def test_a_missing_test_image_is_found_before_training(tmp_path, capsys):
    folder = _pathfinder(tmp_path / "data", num_images=40)
    meta = sorted((folder / "metadata").glob("*.npy"))
    last = [ln for ln in meta[-1].read_text().splitlines() if ln.strip()][-1].split()
    (folder / last[0] / last[1]).unlink()  # the last image: in the test split
    args = ["train", "--task", "pathfinder", "--model", "elm", "--preset", "quick"]
    args += ["--data-root", str(tmp_path / "data"), "--out", str(tmp_path / "run")]
    # the quick preset trains Pathfinder at the "easy" difficulty, generated above
    start = time.perf_counter()
    assert main(args) == 2
    line = _one_error_line(capsys)
    assert "1 image(s) listed" in line and last[1] in line
    assert time.perf_counter() - start < 60
    assert not (tmp_path / "run" / "checkpoints").exists()  # nothing was trained


def test_pathfinder_metadata_errors_name_file_and_line(tmp_path):
    from elm_snn.lra.readers import PathfinderDataset

    folder = _pathfinder(tmp_path / "data")
    meta = _rewrite_metadata(folder, 2, [])
    lines = meta.read_text().splitlines()
    parts = lines[2].split()
    parts[3] = "0.5"
    lines[2] = " ".join(parts)
    meta.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=rf"{meta.name}:3: expected an integer label, got '0.5'"):
        PathfinderDataset(tmp_path / "data", "train", 32, "easy")
    meta.write_bytes(b"\xff\xfe bad\n")
    with pytest.raises(ValueError, match=rf"{meta.name}: not UTF-8 text"):
        PathfinderDataset(tmp_path / "data", "train", 32, "easy")


# ----------------------------------------------------------------------------- LRA TSVs
def test_a_tsv_line_longer_than_the_cap_is_refused(tmp_path, monkeypatch):
    from elm_snn.lra import readers

    monkeypatch.setattr(readers, "MAX_TSV_LINE_BYTES", 1000)
    folder = tmp_path / "listops-1000"
    folder.mkdir()
    (folder / "basic_train.tsv").write_text("Source\tTarget\n( [MAX 1 2 ] )\t2\n" + "1 " * 5000)
    with pytest.raises(ValueError, match=r"basic_train.tsv:3: line longer than 1000 bytes"):
        readers.ListOpsDataset(tmp_path, "train")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"[MAX 1 2 ]\tseven\n", r"basic_train.tsv:2: expected an integer label, got 'seven'"),
        (b"[MAX 1 2 ]\t2.5\n", r"basic_train.tsv:2: expected an integer label, got '2.5'"),
        (b"[MAX 1 2 ]\t12\n", r"basic_train.tsv:2: expected a label in 0..9, got '12'"),
        (b"[MAX 1 \xff ]\t1\n", r"basic_train.tsv:2: not UTF-8 text"),
    ],
)
def test_listops_errors_name_file_and_line(tmp_path, line, expected):
    from elm_snn.lra.readers import ListOpsDataset

    folder = tmp_path / "listops-1000"
    folder.mkdir()
    (folder / "basic_train.tsv").write_bytes(b"Source\tTarget\n" + line)
    with pytest.raises(ValueError, match=expected):
        ListOpsDataset(tmp_path, "train")


@pytest.mark.parametrize("label", ["1.5", "inf", "nan", "-1", "2"])
def test_retrieval_labels_must_be_0_or_1(tmp_path, label):
    from elm_snn.lra.readers import RetrievalDataset

    folder = tmp_path / "tsv_data"
    folder.mkdir()
    good = "1\ta\tb\ttext one\ttext two\n"
    (folder / "new_aan_pairs.train.tsv").write_text(good + f"{label}\ta\tb\tx\ty\n")
    with pytest.raises(ValueError, match=r"new_aan_pairs.train.tsv:2: expected"):
        RetrievalDataset(tmp_path, "train")
    (folder / "new_aan_pairs.train.tsv").write_text(good + "0.0\ta\tb\tx\ty\n")
    assert RetrievalDataset(tmp_path, "train").labels.tolist() == [1, 0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_tsv_is_refused_without_hanging(tmp_path):
    from elm_snn.lra.readers import ListOpsDataset

    folder = tmp_path / "listops-1000"
    folder.mkdir()
    os.mkfifo(folder / "basic_train.tsv")
    assert stat.S_ISFIFO(os.stat(folder / "basic_train.tsv").st_mode)
    with pytest.raises(ValueError, match=r"basic_train.tsv: expected a regular file, got a FIFO"):
        ListOpsDataset(tmp_path, "train")


# ----------------------------------------------------------------------------- SHD
def test_fractional_unit_ids_and_labels_are_refused(tmp_path):
    import h5py

    from elm_snn.data import SHD
    from elm_snn.data.shd_format import SHDFormatError, read_shd_file

    path = tmp_path / "shd_train.h5"
    with h5py.File(path, "w") as f:
        spikes = f.create_group("spikes")
        t = spikes.create_dataset("times", (1,), dtype=h5py.vlen_dtype(np.float64))
        u = spikes.create_dataset("units", (1,), dtype=h5py.vlen_dtype(np.float64))
        t[0] = np.array([0.1, 0.2])
        u[0] = np.array([3.0, 4.5])
        f.create_dataset("labels", data=np.array([1.0]))
        extra = f.create_group("extra")
        extra.create_dataset("speaker", data=np.array([0]))
        extra.create_dataset("keys", data=np.array([b"a", b"b"]))
    with pytest.raises(SHDFormatError, match=r"shd_train.h5: sample 0: units: expected integers"):
        read_shd_file(path)
    with h5py.File(path, "r+") as f:
        f["labels"][0] = 1.5
    with pytest.raises(SHDFormatError, match=r"shd_train.h5: labels: expected integers, got 1\.5 "):
        SHD(tmp_path, train=True)
