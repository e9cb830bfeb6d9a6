"""Readers of the real LRA layouts, each on tiny files written in that layout."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from elm_snn.lra.listops import ListOpsConfig, generate_listops
from elm_snn.lra.pathfinder import PathfinderConfig, generate_pathfinder
from elm_snn.lra.readers import (
    LISTOPS_VOCAB,
    CIFAR10Dataset,
    IMDBDataset,
    ListOpsDataset,
    PathfinderDataset,
    RetrievalDataset,
    bin_grey,
    collate_token_pairs,
    collate_tokens,
    load_cifar_batch,
)


def test_listops_reader_lra_nesting(tmp_path):
    folder = tmp_path / "lra_release" / "listops-1000"
    generate_listops(folder, ListOpsConfig(num_train=12, num_val=3, num_test=4, min_length=5,
                                           max_length=40, max_depth=3, max_args=4))  # fmt: skip
    ds = ListOpsDataset(tmp_path, "train")
    assert len(ds) == 12 and len(ListOpsDataset(tmp_path, "validation")) == 3
    rows = (folder / "basic_train.tsv").read_text().splitlines()[1:]
    for (tokens, label), row in zip((ds[i] for i in range(len(ds))), rows, strict=True):
        source, target = row.split("\t")
        kept = [t for t in source.split() if t not in ("(", ")")]
        assert tokens.tolist() == [LISTOPS_VOCAB[t] for t in kept]
        assert tokens.dtype == np.int64 and label == int(target)
    short = ListOpsDataset(folder, "test", max_length=3)
    assert all(len(short[i][0]) <= 3 for i in range(len(short)))


def test_listops_reader_errors(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        ListOpsDataset(tmp_path / "nowhere", "train")
    msg = str(err.value)
    assert "nowhere" in msg and "listops-1000" in msg and "elm-snn data listops" in msg
    (tmp_path / "basic_train.tsv").write_text(
        "Source\tTarget\n( [MAX 1 ) 2 ) ] )\t2\n[FOO 1 ]\t1\n"
    )
    with pytest.raises(ValueError, match="unknown ListOps token '\\[FOO'"):
        ListOpsDataset(tmp_path, "train")
    with pytest.raises(ValueError, match="split"):
        ListOpsDataset(tmp_path, "dev")


def _write_aan(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(b"\t".join(r) + b"\n" for r in rows))


def test_retrieval_reader(tmp_path):
    folder = tmp_path / "lra_release" / "tsv_data"
    rows = [
        [b"1", b"id1", b"id2", "caf\u00e9 text".encode(), b"other doc"],
        [b"0.0", b"id3", b"id4", b"abc", b"xy"],
    ]
    for name in ("train", "eval", "test"):
        _write_aan(folder / f"new_aan_pairs.{name}.tsv", rows)
    ds = RetrievalDataset(tmp_path, "validation", max_length=4)
    (a, b), label = ds[0]
    assert label == 1 and a.tolist() == [c + 1 for c in "caf\u00e9".encode()[:4]]
    assert b.tolist() == [c + 1 for c in b"othe"]
    x, y = collate_token_pairs([ds[0], ds[1]])
    assert x.shape == (4, 2, 2) and y.tolist() == [1, 0]
    assert x[:, 1, 0].tolist() == [0, ord("a") + 1, ord("b") + 1, ord("c") + 1]  # left padding
    _write_aan(folder / "new_aan_pairs.train.tsv", [[b"1", b"a", b"b", b"c"]])
    with pytest.raises(ValueError, match="expected 5 tab-separated fields"):
        RetrievalDataset(tmp_path, "train")
    with pytest.raises(FileNotFoundError, match="tsv_data"):
        RetrievalDataset(tmp_path / "empty", "train")


def test_imdb_reader(tmp_path):
    root = tmp_path / "aclImdb"
    texts = {}
    for split in ("train", "test"):
        for label, name in ((0, "neg"), (1, "pos")):
            (root / split / name).mkdir(parents=True)
            for i in range(10):
                t = f"{split} {name} review {i} " * (i + 1)
                (root / split / name / f"{i}_{3 + label}.txt").write_text(t)
                texts[(split, name, i)] = t
    train, val, test = (IMDBDataset(tmp_path, s, max_length=50) for s in ("train", "validation",
                                                                           "test"))  # fmt: skip
    assert (len(train), len(val), len(test)) == (18, 2, 20)
    tokens, label = test[0]  # neg/0_3.txt comes first
    assert label == 0 and tokens.tolist() == [b + 1 for b in texts[("test", "neg", 0)].encode()]
    assert max(len(train[i][0]) for i in range(len(train))) == 50
    assert sorted(test.labels.tolist()) == [0] * 10 + [1] * 10
    with pytest.raises(FileNotFoundError, match="aclImdb_v1.tar.gz"):
        IMDBDataset(tmp_path / "missing", "train")


def _cifar_files(folder, n=6, seed=0, protocol=2):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n).tolist()
        with open(folder / name, "wb") as f:
            d = {b"batch_label": b"x", b"data": data, b"labels": labels}
            pickle.dump(d, f, protocol=protocol)
        batches[name] = (data, labels)
    return batches


@pytest.mark.parametrize("protocol", [2, 4])
def test_cifar_reader(tmp_path, protocol):
    batches = _cifar_files(tmp_path / "cifar-10-batches-py", protocol=protocol)
    test = CIFAR10Dataset(tmp_path, "test", levels=16)
    data, labels = batches["test_batch"]
    tokens, label = test[2]
    rgb = data[2].reshape(3, 1024).astype(float)
    grey = np.rint(0.2989 * rgb[0] + 0.5870 * rgb[1] + 0.1140 * rgb[2])
    assert label == labels[2] and tokens.shape == (1024,) and tokens.dtype == np.int64
    np.testing.assert_array_equal(tokens, np.floor(grey * 16 / 256).astype(int))
    assert tokens.max() <= 15
    assert len(CIFAR10Dataset(tmp_path, "train")) == 27
    assert len(CIFAR10Dataset(tmp_path, "validation")) == 3


class _Evil:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_cifar_refuses_code_in_pickles(tmp_path, capsys):
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": _Evil(), b"labels": [0]}))
    with pytest.raises(ValueError, match="refusing to load builtins.print"):
        load_cifar_batch(path)
    assert "never run" not in capsys.readouterr().out
    # bytes through another codec than latin-1: refused as well
    path.write_bytes(
        b"\x80\x02}q\x00c_codecs\nencode\nq\x01X\x01\x00\x00\x00aX\x05\x00\x00\x00rot13\x86Rq\x02s."
    )
    with pytest.raises(ValueError, match="codec 'rot13'"):
        load_cifar_batch(path)
    with pytest.raises(FileNotFoundError, match="cifar-10-python.tar.gz"):
        CIFAR10Dataset(tmp_path / "none", "train")


def test_pathfinder_reader_and_splits(tmp_path):
    generate_pathfinder(tmp_path, PathfinderConfig(resolution=32, difficulty="easy",
                                                   num_images=20, per_folder=7))  # fmt: skip
    parts = [PathfinderDataset(tmp_path, s, 32, "easy", 16) for s in ("train", "validation",
                                                                      "test")]  # fmt: skip
    assert [len(p) for p in parts] == [16, 2, 2]
    tokens, label = parts[0][0]
    assert tokens.shape == (1024,) and 0 <= tokens.min() and tokens.max() == 15
    coarse = PathfinderDataset(tmp_path, "train", 32, "easy", levels=8)[0][0]
    np.testing.assert_array_equal(coarse, tokens // 2)
    # the difficulty folder itself is accepted too
    direct = PathfinderDataset(tmp_path / "pathfinder32" / "curv_baseline", "test", 32, "easy")
    assert len(direct) == 2
    with pytest.raises(FileNotFoundError) as err:
        PathfinderDataset(tmp_path, "train", 32, "hard")
    assert "curv_contour_length_14" in str(err.value) and "elm-snn data pathfinder" in str(
        err.value
    )
    with pytest.raises(ValueError, match="resolution"):
        PathfinderDataset(tmp_path, "train", 48)


def test_bin_grey_and_collate():
    assert bin_grey(np.array([0, 15, 16, 255]), 16).tolist() == [0, 0, 1, 15]
    assert bin_grey(np.array([0, 31, 32, 255]), 8).tolist() == [0, 0, 1, 7]
    with pytest.raises(ValueError, match="levels"):
        bin_grey(np.zeros(2), 1)
    x, y = collate_tokens([(np.array([3, 4, 5]), 1), (np.array([7]), 0)])
    assert x.dtype == torch.int64 and x.shape == (3, 2)
    assert x[:, 1].tolist() == [0, 0, 7] and y.tolist() == [1, 0]
    with pytest.raises(ValueError, match="at least one"):
        collate_tokens([])
