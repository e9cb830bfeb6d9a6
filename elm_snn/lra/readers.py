"""Readers of the Long Range Arena data in the layouts people have on disk.

Every dataset yields ``(tokens, label)`` with ``tokens`` an ``int64`` array ``(T,)``
(Retrieval: a pair of arrays), ready for :func:`collate_tokens` /
:func:`collate_token_pairs`. Nothing is downloaded; a missing folder raises a
``FileNotFoundError`` that lists where it looked and how to get the data.

* **ListOps** (:class:`ListOpsDataset`): LRA's ``listops-1000/basic_{train,val,test}.tsv``
  (header ``Source<TAB>Target``), also written by ``elm-snn data listops``. Tokens: the
  digits, the four operators and ``]``; LRA's parentheses carry no information (the
  brackets already delimit every argument list) and are dropped, so a sequence is as long
  as LRA's tree length (at most 2000). Vocabulary :data:`LISTOPS_VOCAB` (0 = padding).
* **Text** (:class:`IMDBDataset`): the ``aclImdb/{train,test}/{pos,neg}/*.txt`` folders of
  the Stanford IMDB release, byte-level (UTF-8 byte ``b`` -> token ``b + 1``, 0 = padding),
  truncated to ``max_length`` bytes (the paper preset: 4000).
* **Retrieval** (:class:`RetrievalDataset`): LRA's
  ``tsv_data/new_aan_pairs.{train,eval,test}.tsv`` (columns: label, id 1, id 2, text 1,
  text 2; no header), byte-level like Text, each document truncated to ``max_length``.
* **Image** (:class:`CIFAR10Dataset`): torchvision's ``cifar-10-batches-py`` folder
  (``data_batch_1..5``, ``test_batch``), read through :class:`RestrictedUnpickler` (only
  numpy arrays, lists, dicts, strings and numbers can come out of it: a file can never run
  code). Pixels are turned grey (``0.2989 R + 0.5870 G + 0.1140 B``) and binned to
  ``levels`` grey levels (``level = grey * levels // 256``), 1024 tokens per image.
* **Pathfinder** (:class:`PathfinderDataset`): LRA's
  ``pathfinder{R}/{curv_baseline,curv_contour_length_9,curv_contour_length_14}/`` folders
  with ``imgs/`` and the text metadata files ``metadata/*.npy`` (fields 0, 1: image folder
  and file; field 3: label), also written by ``elm-snn data pathfinder``. Grey levels binned
  like Image (16 levels for Pathfinder, 8 for Pathfinder-X), ``R * R`` tokens.

Splits: LRA's files where it has them (ListOps, Retrieval). Text / Image: validation =
10 % of the training set (``elm_snn.data.split_train_validation``, split seed 0). Pathfinder
(one pool of images in LRA): metadata files in numerical order, lines in file order; the
first 80 % train, the next 10 % validation, the last 10 % test (a documented choice).
"""

from __future__ import annotations

import io
import os
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import Dataset

__all__ = [
    "LISTOPS_VOCAB",
    "BYTE_VOCAB_SIZE",
    "PAD",
    "ListOpsDataset",
    "IMDBDataset",
    "RetrievalDataset",
    "CIFAR10Dataset",
    "PathfinderDataset",
    "RestrictedUnpickler",
    "load_cifar_batch",
    "bin_grey",
    "collate_tokens",
    "collate_token_pairs",
    "listops_tokens",
]

PAD = 0
#: ListOps token -> id (0 is padding)
LISTOPS_VOCAB: dict[str, int] = {
    **{str(d): d + 1 for d in range(10)},
    "[MAX": 11,
    "[MIN": 12,
    "[MED": 13,
    "[SM": 14,
    "]": 15,
}
LISTOPS_VOCAB_SIZE = 16
#: byte-level vocabulary: padding + 256 byte values
BYTE_VOCAB_SIZE = 257
SPLITS = ("train", "validation", "test")
LRA_HINT = (
    "Get the LRA release (lra_release.gz, linked from "
    "https://github.com/google-research/long-range-arena) and extract it"
)


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split: expected one of {SPLITS}, got {split!r}")


def _missing(what: str, looked: Sequence[Path], how: str) -> FileNotFoundError:
    where = "\n".join(f"  {p}" for p in looked)
    return FileNotFoundError(f"data_root: no {what} found. Looked in:\n{where}\n{how}")


def _root(root: str | os.PathLike) -> Path:
    return Path(os.path.expanduser(os.fspath(root)))


def _first_existing(candidates: Sequence[Path], is_ok) -> Path | None:
    for c in candidates:
        if is_ok(c):
            return c
    return None


def _lra_candidates(root: Path, sub: str) -> list[Path]:
    """``root``, ``root/sub``, ``root/lra_release/sub``, ``root/lra_release/lra_release/sub``."""
    return [
        root,
        root / sub,
        root / "lra_release" / sub,
        root / "lra_release" / "lra_release" / sub,
    ]


def _truncate(tokens: np.ndarray, max_length: int | None) -> np.ndarray:
    if max_length is not None and len(tokens) > max_length:
        return tokens[:max_length]
    return tokens


def _check_max_length(max_length: int | None) -> None:
    if max_length is not None and (
        isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1
    ):
        raise ValueError(f"max_length: expected None or an integer >= 1, got {max_length!r}")


def _bytes_to_tokens(data: bytes, max_length: int | None) -> np.ndarray:
    if max_length is not None:
        data = data[:max_length]
    return np.frombuffer(data, dtype=np.uint8).astype(np.int64) + 1


# ------------------------------------------------------------------------------- collate
def collate_tokens(batch: Sequence[tuple[np.ndarray, int]]):
    """``B`` items ``(tokens (T_i,), label)`` -> ``(x (T, B) int64, y (B,) int64)``.

    Shorter sequences are padded with :data:`PAD` at the **start**, so every sequence ends at
    the last step, where the model's output is read.
    """
    import torch

    if len(batch) == 0:
        raise ValueError("batch: expected at least one (tokens, label) pair, got none")
    t_max = max(len(item[0]) for item in batch)
    x = np.full((t_max, len(batch)), PAD, dtype=np.int64)
    for b, (tokens, _) in enumerate(batch):
        if len(tokens):
            x[t_max - len(tokens) :, b] = tokens
    y = torch.tensor([int(item[1]) for item in batch], dtype=torch.long)
    return torch.from_numpy(x), y


def collate_token_pairs(batch: Sequence[tuple[tuple[np.ndarray, np.ndarray], int]]):
    """Retrieval items ``((tokens a, tokens b), label)`` -> ``(x (T, B, 2), y (B,))``, both
    documents padded at the start to the longest of the batch."""
    import torch

    if len(batch) == 0:
        raise ValueError("batch: expected at least one ((tokens, tokens), label) item, got none")
    t_max = max(max(len(a), len(b)) for (a, b), _ in batch)
    x = np.full((t_max, len(batch), 2), PAD, dtype=np.int64)
    for i, ((a, b), _) in enumerate(batch):
        if len(a):
            x[t_max - len(a) :, i, 0] = a
        if len(b):
            x[t_max - len(b) :, i, 1] = b
    y = torch.tensor([int(item[1]) for item in batch], dtype=torch.long)
    return torch.from_numpy(x), y


# ------------------------------------------------------------------------------- ListOps
def listops_tokens(source: str, where: str = "source") -> np.ndarray:
    """Token ids of a ListOps expression (parentheses dropped)."""
    out = []
    for tok in source.split():
        if tok in ("(", ")"):
            continue
        try:
            out.append(LISTOPS_VOCAB[tok])
        except KeyError:
            raise ValueError(
                f"{where}: unknown ListOps token {tok!r} (expected digits, [MAX, [MIN, [MED, "
                f"[SM, ], parentheses)"
            ) from None
    return np.asarray(out, dtype=np.int64)


class ListOpsDataset(Dataset):
    """ListOps from ``basic_{train,val,test}.tsv`` (LRA release or ``elm-snn data listops``).

    Args:
        root: the folder with the TSV files, or one above it (``listops-1000/``,
            ``lra_release/listops-1000/``).
        split: ``"train"``, ``"validation"`` or ``"test"``.
        max_length: keep at most this many tokens of each expression (None: all).
    """

    vocab_size = LISTOPS_VOCAB_SIZE
    num_classes = 10

    def __init__(self, root: str | os.PathLike, split: str, max_length: int | None = None):
        _check_split(split)
        _check_max_length(max_length)
        name = {"train": "basic_train.tsv", "validation": "basic_val.tsv", "test": "basic_test.tsv"}
        cands = _lra_candidates(_root(root), "listops-1000")
        folder = _first_existing(cands, lambda c: (c / name[split]).is_file())
        if folder is None:
            raise _missing(
                f"ListOps file {name[split]}",
                cands,
                f"{LRA_HINT} (ListOps is in lra_release/listops-1000), or generate an offline "
                f"set: elm-snn data listops --out DIR (or train with --synthetic).",
            )
        self.path = folder / name[split]
        self.tokens: list[np.ndarray] = []
        labels = []
        with open(self.path, encoding="utf-8") as f:
            header = f.readline().rstrip("\n").split("\t")
            if header[:2] != ["Source", "Target"]:
                raise ValueError(
                    f"{self.path}: expected the header 'Source<TAB>Target', got {header!r}"
                )
            for n, line in enumerate(f, start=2):
                line = line.rstrip("\n")
                if not line:
                    continue
                parts = line.split("\t")
                if len(parts) != 2:
                    raise ValueError(f"{self.path}:{n}: expected 2 tab-separated fields")
                toks = listops_tokens(parts[0], where=f"{self.path}:{n}")
                self.tokens.append(_truncate(toks, max_length))
                label = int(parts[1])
                if not 0 <= label <= 9:
                    raise ValueError(f"{self.path}:{n}: expected a label 0-9, got {label}")
                labels.append(label)
        self.labels = np.asarray(labels, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
        return self.tokens[i], int(self.labels[i])


# ------------------------------------------------------------------------------- IMDB
class IMDBDataset(Dataset):
    """IMDB reviews from the ``aclImdb`` folder, byte-level (label 1 = positive).

    Args:
        root: the ``aclImdb`` folder or its parent.
        split: ``"train"``, ``"validation"`` (10 % of train) or ``"test"``.
        max_length: keep at most this many bytes of each review (None: all).
    """

    vocab_size = BYTE_VOCAB_SIZE
    num_classes = 2

    def __init__(self, root: str | os.PathLike, split: str, max_length: int | None = 4000):
        from elm_snn.data.adding import split_train_validation

        _check_split(split)
        _check_max_length(max_length)
        base = _root(root)
        cands = [base, base / "aclImdb"]
        sub = "test" if split == "test" else "train"
        folder = _first_existing(
            cands, lambda c: (c / sub / "pos").is_dir() and (c / sub / "neg").is_dir()
        )
        if folder is None:
            raise _missing(
                f"aclImdb/{sub}/pos and aclImdb/{sub}/neg folders",
                cands,
                "Download https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz and "
                "extract it; pass the folder holding aclImdb/ (--data-root DIR).",
            )
        files: list[tuple[Path, int]] = []
        for label, name in ((0, "neg"), (1, "pos")):
            files += [(p, label) for p in sorted((folder / sub / name).glob("*.txt"))]
        if not files:
            raise _missing(f"review files (*.txt) in {folder / sub}", [folder / sub], "")
        if split != "test":
            tr, va = split_train_validation(len(files), 0.1, 0)
            files = [files[i] for i in (tr if split == "train" else va)]
        self.files = files
        self.max_length = max_length
        self.labels = np.asarray([lab for _, lab in files], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
        path, label = self.files[i]
        return _bytes_to_tokens(path.read_bytes(), self.max_length), label


# ------------------------------------------------------------------------------- Retrieval
class RetrievalDataset(Dataset):
    """AAN document pairs from LRA's ``new_aan_pairs.{train,eval,test}.tsv`` (byte-level;
    label 1 = the two papers are linked by a citation).

    Args:
        root: the ``tsv_data`` folder or one above it (``lra_release/tsv_data``).
        split: ``"train"``, ``"validation"`` (LRA's ``eval`` file) or ``"test"``.
        max_length: keep at most this many bytes of each document (LRA: 4000).
    """

    vocab_size = BYTE_VOCAB_SIZE
    num_classes = 2

    def __init__(self, root: str | os.PathLike, split: str, max_length: int | None = 4000):
        _check_split(split)
        _check_max_length(max_length)
        name = {"train": "train", "validation": "eval", "test": "test"}[split]
        fname = f"new_aan_pairs.{name}.tsv"
        cands = _lra_candidates(_root(root), "tsv_data")
        folder = _first_existing(cands, lambda c: (c / fname).is_file())
        if folder is None:
            raise _missing(
                f"Retrieval file {fname}",
                cands,
                f"{LRA_HINT} (Retrieval is in lra_release/tsv_data).",
            )
        self.path = folder / fname
        self.max_length = max_length
        self.docs: list[tuple[bytes, bytes]] = []
        labels = []
        with open(self.path, "rb") as f:
            for n, line in enumerate(f, start=1):
                line = line.rstrip(b"\r\n")
                if not line:
                    continue
                parts = line.split(b"\t")
                if len(parts) != 5:
                    raise ValueError(
                        f"{self.path}:{n}: expected 5 tab-separated fields (label, id, id, "
                        f"text, text), got {len(parts)}"
                    )
                try:
                    label = int(float(parts[0]))
                except ValueError:
                    raise ValueError(
                        f"{self.path}:{n}: expected a numeric label, got {parts[0]!r}"
                    ) from None
                if label not in (0, 1):
                    raise ValueError(f"{self.path}:{n}: expected label 0 or 1, got {label}")
                labels.append(label)
                self.docs.append((parts[3][:max_length], parts[4][:max_length]))
        self.labels = np.asarray(labels, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[tuple[np.ndarray, np.ndarray], int]:
        a, b = self.docs[i]
        pair = (_bytes_to_tokens(a, self.max_length), _bytes_to_tokens(b, self.max_length))
        return pair, int(self.labels[i])


# ------------------------------------------------------------------------------- images
def bin_grey(grey: np.ndarray, levels: int) -> np.ndarray:
    """Grey values 0..255 -> levels ``0..levels - 1`` (``grey * levels // 256``), int64."""
    if isinstance(levels, bool) or not isinstance(levels, int) or not 2 <= levels <= 256:
        raise ValueError(f"levels: expected an integer in 2..256, got {levels!r}")
    g = np.asarray(grey)
    return (g.astype(np.int64) * levels) // 256


def _latin1_bytes(text: str, encoding: str = "latin1") -> bytes:
    if encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"refusing the codec {encoding!r} in a pickle file")
    return text.encode("latin1")


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that only rebuilds numpy arrays and plain containers.

    Pickle files can name any importable callable; this one refuses every name except the
    few numpy uses to store an array (``_reconstruct``, ``ndarray``, ``dtype``) and, for
    protocol-2 files written by Python 3, ``_codecs.encode`` limited to the latin-1 codec
    (replaced by a function that only turns text into bytes), so loading a file never runs
    code of the file's choosing.
    """

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in (
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
        ):
            return np.ndarray.__reduce__(np.zeros(0))[0]  # numpy's own _reconstruct
        if module == "numpy" and name == "ndarray":
            return np.ndarray
        if module == "numpy" and name == "dtype":
            return np.dtype
        if (module, name) == ("_codecs", "encode"):
            return _latin1_bytes  # how protocol-2 pickles written by Python 3 store bytes
        raise pickle.UnpicklingError(
            f"refusing to load {module}.{name} from a pickle file (only numpy arrays are allowed)"
        )


def load_cifar_batch(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """``(images (N, 3072) uint8, labels (N,) int64)`` of one ``cifar-10-batches-py`` file,
    read with :class:`RestrictedUnpickler`."""
    path = Path(path)
    with open(path, "rb") as f:
        raw = f.read()
    try:
        obj = RestrictedUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except pickle.UnpicklingError as exc:
        raise ValueError(f"{path}: {exc}") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected a pickled dict, got {type(obj).__name__}")
    d = {(k.decode() if isinstance(k, bytes) else k): v for k, v in obj.items()}
    if "data" not in d or "labels" not in d:
        raise ValueError(f"{path}: expected keys 'data' and 'labels', got {sorted(d)}")
    data = d["data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2:
        raise ValueError(f"{path}: expected 'data' as a uint8 array (N, 3072)")
    if data.shape[1] != 3072:
        raise ValueError(f"{path}: expected 'data' of shape (N, 3072), got {data.shape}")
    labels = np.asarray(d["labels"], dtype=np.int64)
    if labels.shape != (data.shape[0],) or labels.min() < 0 or labels.max() > 9:
        raise ValueError(f"{path}: expected {data.shape[0]} labels in 0..9")
    return data, labels


class CIFAR10Dataset(Dataset):
    """CIFAR-10 as grey-level pixel sequences (LRA Image).

    Args:
        root: the ``cifar-10-batches-py`` folder or its parent.
        split: ``"train"``, ``"validation"`` (10 % of the 50,000 training images) or
            ``"test"``.
        levels: grey levels (paper: 16).
    """

    num_classes = 10

    def __init__(self, root: str | os.PathLike, split: str, levels: int = 16):
        from elm_snn.data.adding import split_train_validation

        _check_split(split)
        base = _root(root)
        cands = [base, base / "cifar-10-batches-py"]
        names = ["test_batch"] if split == "test" else [f"data_batch_{i}" for i in range(1, 6)]
        folder = _first_existing(cands, lambda c: all((c / n).is_file() for n in names))
        if folder is None:
            raise _missing(
                f"CIFAR-10 files {names}",
                cands,
                "Download https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz (or "
                "torchvision.datasets.CIFAR10(root, download=True)) and extract it; pass the "
                "folder holding cifar-10-batches-py/ (--data-root DIR).",
            )
        parts = [load_cifar_batch(folder / n) for n in names]
        data = np.concatenate([p[0] for p in parts])
        labels = np.concatenate([p[1] for p in parts])
        if split != "test":
            tr, va = split_train_validation(len(labels), 0.1, 0)
            keep = tr if split == "train" else va
            data, labels = data[keep], labels[keep]
        rgb = data.reshape(-1, 3, 1024).astype(np.float32)
        grey = np.rint(0.2989 * rgb[:, 0] + 0.5870 * rgb[:, 1] + 0.1140 * rgb[:, 2])
        self.tokens = bin_grey(np.clip(grey, 0, 255), levels).astype(np.uint8)
        self.labels = labels
        self.levels = levels
        self.vocab_size = levels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
        return self.tokens[i].astype(np.int64), int(self.labels[i])


class PathfinderDataset(Dataset):
    """Pathfinder images (LRA release or ``elm-snn data pathfinder``) as grey-level
    sequences of ``R * R`` tokens; label 1 = the markers are connected.

    Args:
        root: a folder holding ``pathfinder{R}/`` (or ``lra_release/pathfinder{R}``), or the
            difficulty folder itself (with ``metadata/`` and ``imgs/``).
        split: ``"train"`` (first 80 %), ``"validation"`` (next 10 %), ``"test"`` (last 10 %).
        resolution: image side R (32, 64, 128).
        difficulty: ``"easy"``, ``"medium"`` or ``"hard"`` (LRA uses hard).
        levels: grey levels (paper: 16; Pathfinder-X: 8).
    """

    num_classes = 2

    def __init__(
        self,
        root: str | os.PathLike,
        split: str,
        resolution: int = 32,
        difficulty: str = "hard",
        levels: int = 16,
    ):
        from elm_snn.lra.pathfinder import RESOLUTIONS, difficulty_folder

        _check_split(split)
        if resolution not in RESOLUTIONS:
            raise ValueError(f"resolution: expected one of {RESOLUTIONS}, got {resolution!r}")
        bin_grey(np.zeros(1), levels)  # validates levels
        sub = Path(f"pathfinder{resolution}") / difficulty_folder(difficulty)
        base = _root(root)
        cands = [base, base / sub, base / "lra_release" / sub]
        cands.append(base / "lra_release" / "lra_release" / sub)
        folder = _first_existing(
            cands, lambda c: (c / "metadata").is_dir() and any((c / "metadata").glob("*.npy"))
        )
        if folder is None:
            raise _missing(
                f"Pathfinder metadata files ({sub}/metadata/*.npy)",
                cands,
                f"{LRA_HINT} (Pathfinder is in lra_release/pathfinder32 ... pathfinder128), "
                f"or generate an offline set: elm-snn data pathfinder --out DIR --resolution "
                f"{resolution} (or train with --synthetic).",
            )
        meta = sorted(
            (folder / "metadata").glob("*.npy"),
            key=lambda p: (0, int(p.stem)) if p.stem.isdigit() else (1, p.stem),
        )
        entries: list[tuple[Path, int]] = []
        for m in meta:
            for n, line in enumerate(m.read_text().splitlines(), start=1):
                fields = line.split()
                if not fields:
                    continue
                if len(fields) < 4:
                    raise ValueError(
                        f"{m}:{n}: expected at least 4 space-separated fields "
                        f"(folder, file, index, label), got {len(fields)}"
                    )
                label = int(fields[3])
                if label not in (0, 1):
                    raise ValueError(f"{m}:{n}: expected label 0 or 1, got {label}")
                entries.append((folder / fields[0] / fields[1], label))
        n = len(entries)
        n_train, n_val = int(0.8 * n), int(0.1 * n)
        bounds = {
            "train": (0, n_train),
            "validation": (n_train, n_train + n_val),
            "test": (n_train + n_val, n),
        }[split]
        self.entries = entries[bounds[0] : bounds[1]]
        self.folder = folder
        self.resolution = resolution
        self.levels = levels
        self.vocab_size = levels
        self.labels = np.asarray([lab for _, lab in self.entries], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
        from PIL import Image

        path, label = self.entries[i]
        with Image.open(path) as im:
            grey = np.asarray(im.convert("L"))
        if grey.shape != (self.resolution, self.resolution):
            raise ValueError(
                f"{path}: expected a {self.resolution}x{self.resolution} image, got "
                f"{grey.shape[1]}x{grey.shape[0]}"
            )
        return bin_grey(grey.reshape(-1), self.levels), label
