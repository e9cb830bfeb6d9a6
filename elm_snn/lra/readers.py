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
import stat
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


#: Longest line a ListOps / Retrieval TSV may hold (LRA's longest are a few hundred KB).
MAX_TSV_LINE_BYTES = 16 * 2**20
#: Largest file the readers load whole (a CIFAR batch is 31 MB, a Pathfinder metadata file
#: a few hundred KB).
MAX_WHOLE_FILE_BYTES = 512 * 2**20


def _file_kind(mode: int) -> str:
    for test, kind in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return "not a regular file"


def _open_regular(path: Path, what: str = "") -> Any:
    """Open ``path`` for binary reading if it is a regular file (after links).

    Opened non-blocking and checked on the open descriptor: a FIFO, a device (a link to
    ``/dev/zero``), a socket or a folder is refused at once instead of hanging or being read
    forever.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise FileNotFoundError(f"{what}{path}: does not exist (or is a broken link)") from None
    except OSError as exc:
        raise ValueError(f"{what}{path}: cannot be opened ({exc.strerror or exc})") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise ValueError(f"{what}{path}: expected a regular file, got {_file_kind(mode)}")
    return os.fdopen(fd, "rb")


def _read_whole(path: Path, limit: int = MAX_WHOLE_FILE_BYTES, what: str = "") -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (refused otherwise)."""
    with _open_regular(path, what) as fh:
        size = os.fstat(fh.fileno()).st_size
        if size > limit:
            raise ValueError(
                f"{what}{path}: {size} bytes, more than the {limit} bytes such a file can have"
            )
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{what}{path}: grew beyond {limit} bytes while being read")
    return data


def _tsv_lines(path: Path) -> Any:
    """``(line_number, line_bytes)`` of a TSV file, each line at most
    :data:`MAX_TSV_LINE_BYTES` (a longer one is refused, naming the file and line, before
    it is held in memory)."""
    with _open_regular(path) as fh:
        n = 0
        while True:
            line = fh.readline(MAX_TSV_LINE_BYTES + 1)
            if not line:
                return
            n += 1
            if len(line) > MAX_TSV_LINE_BYTES:
                raise ValueError(
                    f"{path}:{n}: line longer than {MAX_TSV_LINE_BYTES} bytes (the limit of "
                    f"elm_snn.lra.readers.MAX_TSV_LINE_BYTES): not an LRA TSV file"
                )
            yield n, line.rstrip(b"\r\n")


def _decode(line: bytes, where: str) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{where}: not UTF-8 text (byte {exc.start}: {line[exc.start : exc.start + 1]!r})"
        ) from None


def _integral_label(text: str | bytes, allowed: Sequence[int], where: str) -> int:
    """A class label written as an integer (``"3"``, or ``"1.0"`` as LRA's Retrieval files
    do); fractional, non-finite or out-of-range labels are refused."""
    raw = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    raw = raw.strip()
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{where}: expected an integer label, got {raw[:40]!r}") from None
    if not np.isfinite(value) or value != int(value):
        raise ValueError(f"{where}: expected an integer label, got {raw[:40]!r}")
    label = int(value)
    if label not in allowed:
        raise ValueError(
            f"{where}: expected a label in {min(allowed)}..{max(allowed)}, got {raw[:40]!r}"
        )
    return label


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
        # exists, not is_file: a FIFO or a folder in its place is refused by name when read
        folder = _first_existing(cands, lambda c: (c / name[split]).exists())
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
        lines = _tsv_lines(self.path)
        first = next(lines, None)
        header = _decode(first[1], f"{self.path}:1").split("\t") if first else []
        if header[:2] != ["Source", "Target"]:
            raise ValueError(
                f"{self.path}: expected the header 'Source<TAB>Target', got {header!r}"
            )
        for n, raw in lines:
            if not raw:
                continue
            where = f"{self.path}:{n}"
            parts = _decode(raw, where).split("\t")
            if len(parts) != 2:
                raise ValueError(f"{where}: expected 2 tab-separated fields, got {len(parts)}")
            toks = listops_tokens(parts[0], where=where)
            self.tokens.append(_truncate(toks, max_length))
            labels.append(_integral_label(parts[1], range(10), where))
        self.labels = np.asarray(labels, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
        return self.tokens[i], int(self.labels[i])


# ------------------------------------------------------------------------------- IMDB
class IMDBDataset(Dataset):
    """IMDB reviews from the ``aclImdb`` folder, byte-level (label 1 = positive).

    Each review must be a regular file (a FIFO, a device or a folder named ``*.txt`` is
    refused) inside the data folder: a link pointing outside it (to ``/etc/passwd``, to
    ``/dev/zero``) is refused unless ``allow_links_outside=True``. Every file is checked when
    the dataset is built, and at most ``max_length`` bytes of a review are ever read.

    Args:
        root: the ``aclImdb`` folder or its parent.
        split: ``"train"``, ``"validation"`` (10 % of train) or ``"test"``.
        max_length: keep at most this many bytes of each review (None: all).
        allow_links_outside: accept reviews that are links to files outside the folder.
    """

    vocab_size = BYTE_VOCAB_SIZE
    num_classes = 2

    def __init__(
        self,
        root: str | os.PathLike,
        split: str,
        max_length: int | None = 4000,
        allow_links_outside: bool = False,
    ):
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
        inside = folder.resolve()
        real_parents: dict[Path, Path] = {}  # review folder -> its real path (links resolved)
        for path, _ in files:
            _check_review(path, inside, allow_links_outside, real_parents)
        self.files = files
        self.max_length = max_length
        self.labels = np.asarray([lab for _, lab in files], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
        path, label = self.files[i]
        with _open_regular(path, "review ") as fh:  # checked again: files can change
            if self.max_length is None:
                data = fh.read(os.fstat(fh.fileno()).st_size)
            else:
                data = fh.read(self.max_length)
        return _bytes_to_tokens(data, self.max_length), label


def _check_review(
    path: Path, inside: Path, allow_links_outside: bool, real_parents: dict[Path, Path]
) -> None:
    """Refuse a review that is not a regular file, or a link leaving the data folder."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(
            f"review {path}: a broken link (its target does not exist)"
        ) from None
    if not stat.S_ISREG(mode):
        raise ValueError(f"review {path}: expected a regular file, got {_file_kind(mode)}")
    if not allow_links_outside:
        parent = real_parents.get(path.parent)
        if parent is None:
            parent = real_parents[path.parent] = path.parent.resolve()
        target = path.resolve() if path.is_symlink() else parent / path.name
        if not target.is_relative_to(inside):
            raise ValueError(
                f"review {path}: links to {str(target)!r}, outside the data folder "
                f"{str(inside)!r}; refused (pass allow_links_outside=True to accept such links)"
            )


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
        folder = _first_existing(cands, lambda c: (c / fname).exists())
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
        for n, line in _tsv_lines(self.path):
            if not line:
                continue
            parts = line.split(b"\t")
            if len(parts) != 5:
                raise ValueError(
                    f"{self.path}:{n}: expected 5 tab-separated fields (label, id, id, "
                    f"text, text), got {len(parts)}"
                )
            labels.append(_integral_label(parts[0], (0, 1), f"{self.path}:{n}"))
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


class _ChargedArray(np.ndarray):
    """ndarray rebuilt by :class:`RestrictedUnpickler`: its ``__setstate__`` (the pickle's
    BUILD, which sets the real shape) charges the array's size before numpy allocates it.
    Viewed as a plain ndarray before it is handed out."""

    def __setstate__(self, state: Any) -> None:
        charge = self.__dict__.get("_charge")
        if charge is not None:
            if not isinstance(state, tuple) or len(state) not in (4, 5):
                raise pickle.UnpicklingError(
                    f"malformed numpy array state ({type(state).__name__})"
                )
            charge(state[-4], state[-3])
        super().__setstate__(state)


def _plain(obj: Any) -> Any:
    return obj.view(np.ndarray) if isinstance(obj, _ChargedArray) else obj


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that only rebuilds numpy arrays and plain containers, within a size budget.

    Pickle files can name any importable callable; this one refuses every name except the
    few numpy uses to store an array (``_reconstruct``, ``ndarray``, ``dtype``) and, for
    protocol-2 files written by Python 3, ``_codecs.encode`` limited to the latin-1 codec
    (replaced by a function that only turns text into bytes), so loading a file never runs
    code of the file's choosing.

    ``max_bytes`` bounds what the array constructors may allocate in all (each array's size
    is charged before numpy allocates it), and ``numpy.ndarray`` may not be called with a
    buffer, an offset or strides: a zero-stride array over a one-byte buffer cannot pose as
    millions of images.
    """

    def __init__(self, file: Any, *, max_bytes: int | None = None, **kwargs: Any) -> None:
        super().__init__(file, **kwargs)
        self.bytes_left = max_bytes
        self.max_bytes = max_bytes

    def _charge(self, shape: Any, dtype: Any) -> tuple[tuple[int, ...], np.dtype]:
        if isinstance(shape, int | np.integer):
            shape = (shape,)
        if not isinstance(shape, tuple) or not all(
            isinstance(d, int | np.integer) and not isinstance(d, bool) and d >= 0 for d in shape
        ):
            raise pickle.UnpicklingError(
                f"numpy array: expected a shape of ints >= 0, got {shape!r}"
            )
        dt = np.dtype(dtype)
        nbytes = int(np.prod([int(d) for d in shape], dtype=object)) * dt.itemsize
        if self.bytes_left is not None:
            if nbytes > self.bytes_left:
                raise pickle.UnpicklingError(
                    f"refusing to allocate {nbytes} bytes for a numpy array of shape "
                    f"{tuple(int(d) for d in shape)}: the file may make the reader allocate "
                    f"at most {self.max_bytes} bytes (twice its size + 1 MiB)"
                )
            self.bytes_left -= nbytes
        return tuple(int(d) for d in shape), dt

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in (
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
        ):
            reconstruct = np.ndarray.__reduce__(np.zeros(0))[0]  # numpy's own _reconstruct

            def guarded_reconstruct(subtype: Any, shape: Any, dtype: Any) -> Any:
                # the pickle names numpy.ndarray, which find_class turned into guarded_ndarray
                if subtype is not np.ndarray and not getattr(subtype, "_stands_for_ndarray", 0):
                    raise pickle.UnpicklingError(f"refusing to rebuild a {subtype!r}")
                arr = reconstruct(_ChargedArray, *self._charge(shape, dtype))
                arr.__dict__["_charge"] = self._charge
                return arr

            return guarded_reconstruct
        if module == "numpy" and name == "ndarray":

            def guarded_ndarray(shape: Any, dtype: Any = float, *args: Any, **kwargs: Any) -> Any:
                if args or kwargs:  # buffer, offset, strides: views of any size over any bytes
                    raise pickle.UnpicklingError(
                        "refusing numpy.ndarray with a buffer, offset or strides (views such as "
                        "zero-stride arrays can pose as arrays of any size)"
                    )
                return np.ndarray(*self._charge(shape, dtype))

            guarded_ndarray._stands_for_ndarray = True  # type: ignore[attr-defined]
            return guarded_ndarray
        if module == "numpy" and name == "dtype":
            return np.dtype
        if (module, name) == ("_codecs", "encode"):
            return _latin1_bytes  # how protocol-2 pickles written by Python 3 store bytes
        raise pickle.UnpicklingError(
            f"refusing to load {module}.{name} from a pickle file (only numpy arrays are allowed)"
        )


def load_cifar_batch(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """``(images (N, 3072) uint8, labels (N,) int64)`` of one ``cifar-10-batches-py`` file,
    read with :class:`RestrictedUnpickler`.

    What the file can make the reader allocate is bounded by its size: arrays at most twice
    the file's size in all, and the images must be stored in the file (``N * 3072`` bytes
    of pixels at most the file's size, a plain C-ordered array), checked before any copy.
    """
    path = Path(path)
    raw = _read_whole(path)
    if not raw:
        raise ValueError(f"{path}: empty file (0 bytes), not a CIFAR-10 batch")
    try:
        obj = RestrictedUnpickler(
            io.BytesIO(raw), encoding="bytes", max_bytes=2 * len(raw) + 2**20
        ).load()
    except pickle.UnpicklingError as exc:
        raise ValueError(f"{path}: {exc}") from None
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            OverflowError, MemoryError, RecursionError, UnicodeDecodeError) as exc:  # fmt: skip
        raise ValueError(
            f"{path}: not a readable CIFAR-10 batch ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else 'truncated or corrupt'})"
        ) from None
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected a pickled dict, got {type(obj).__name__}")
    d = {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in obj.items()}
    if "data" not in d or "labels" not in d:
        raise ValueError(f"{path}: expected keys 'data' and 'labels', got {sorted(map(str, d))}")
    data = _plain(d["data"])
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2:
        raise ValueError(f"{path}: expected 'data' as a uint8 array (N, 3072)")
    if data.shape[1] != 3072:
        raise ValueError(f"{path}: expected 'data' of shape (N, 3072), got {data.shape}")
    if data.shape[0] * 3072 > len(raw) or data.strides != (3072, 1):
        raise ValueError(
            f"{path}: 'data' declares {data.shape[0]} images ({data.shape[0] * 3072} bytes of "
            f"pixels) with strides {data.strides}, but the file holds {len(raw)} bytes: "
            f"not a CIFAR-10 batch"
        )
    n = data.shape[0]
    labels_in = _plain(d["labels"])
    if isinstance(labels_in, np.ndarray):
        labels_in = labels_in.tolist() if labels_in.ndim == 1 and labels_in.size <= n else None
    if not isinstance(labels_in, list) or len(labels_in) != n:
        raise ValueError(f"{path}: expected 'labels' as a list of {n} integers (one per image)")
    for i, lab in enumerate(labels_in):
        if isinstance(lab, bool) or not isinstance(lab, int | np.integer) or not 0 <= lab <= 9:
            shown = repr(lab) if isinstance(lab, int | float | np.number) else type(lab).__name__
            raise ValueError(f"{path}: label {i}: expected an integer in 0..9, got {shown[:40]}")
    return data, np.asarray(labels_in, dtype=np.int64)


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
        inside = folder.resolve()
        for m in meta:
            text = _decode(_read_whole(m, what="metadata "), str(m))
            for n, line in enumerate(text.splitlines(), start=1):
                fields = line.split()
                if not fields:
                    continue
                where = f"{m}:{n}"
                if len(fields) < 4:
                    raise ValueError(
                        f"{where}: expected at least 4 space-separated fields "
                        f"(folder, file, index, label), got {len(fields)}"
                    )
                label = _integral_label(fields[3], (0, 1), where)
                entries.append((_image_path(folder, fields[0], fields[1], where), label))
        n = len(entries)
        n_train, n_val = int(0.8 * n), int(0.1 * n)
        bounds = {
            "train": (0, n_train),
            "validation": (n_train, n_train + n_val),
            "test": (n_train + n_val, n),
        }[split]
        self.entries = entries[bounds[0] : bounds[1]]
        _check_images(self.entries, inside, folder)
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


def _image_path(folder: Path, sub: str, name: str, where: str) -> Path:
    """``folder/sub/name`` of a metadata line; absolute paths and ``..`` are refused (an
    image path may not leave the data folder)."""
    from pathlib import PurePosixPath

    rel = PurePosixPath(sub) / name
    if rel.is_absolute() or ".." in rel.parts or "\\" in str(rel):
        raise ValueError(
            f"{where}: image path {str(rel)!r} leaves the data folder (absolute or with '..'); "
            f"Pathfinder metadata name images relative to {str(folder)!r}"
        )
    return folder / rel


def _check_images(entries: Sequence[tuple[Path, int]], inside: Path, folder: Path) -> None:
    """Every listed image is a regular file inside the data folder (links included), checked
    when the dataset is built: a missing test image is reported before training, not after."""
    missing: list[str] = []
    real_parents: dict[Path, Path] = {}  # image folder -> its real path (links resolved)
    for path, _ in entries:
        try:
            mode = os.stat(path).st_mode
        except OSError:
            missing.append(str(path.relative_to(folder)))
            continue
        if not stat.S_ISREG(mode):
            raise ValueError(f"image {path}: expected a regular file, got {_file_kind(mode)}")
        parent = real_parents.get(path.parent)
        if parent is None:
            parent = real_parents[path.parent] = path.parent.resolve()
        target = path.resolve() if path.is_symlink() else parent / path.name
        if not target.is_relative_to(inside):
            raise ValueError(
                f"image {path}: links to {str(target)!r}, outside the data folder "
                f"{str(inside)!r}; refused"
            )
    if missing:
        shown = ", ".join(missing[:3]) + (
            f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        )
        raise FileNotFoundError(
            f"data_root: {len(missing)} image(s) listed in {str(folder / 'metadata')!r} do not "
            f"exist: {shown}"
        )
