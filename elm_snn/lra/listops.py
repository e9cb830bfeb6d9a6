"""Offline ListOps (Nangia & Bowman 2018) with the rules of the Long Range Arena release.

A sample is a nested list expression over the digits 0-9 and four operators; the label is its
value (10 classes):

* ``[MAX`` / ``[MIN``: largest / smallest argument;
* ``[MED``: median of the arguments, rounded down (an even number of arguments gives the
  mean of the two middle values, truncated to an integer);
* ``[SM``: sum of the arguments modulo 10.

Rules (LRA's generator settings): every node below ``max_depth`` is an operator with
probability 0.25, else a digit (at ``max_depth`` always a digit); an operator takes 2 to
``max_args`` arguments (default 10). The *length* of a tree counts one per digit and two per
operator (the operator and its closing ``]``); trees are drawn again until
``min_length <= length <= max_length`` (LRA: 500..2000, depth 10, 96,000 / 2,000 / 2,000
samples). Expressions are written as LRA writes them, with a left-nested pair of parentheses
around each argument, e.g. ``( ( ( [MAX 2 ) 9 ) ] )`` for ``[MAX 2 9 ]``.

Files (LRA's layout, so :class:`elm_snn.lra.readers.ListOpsDataset` reads both):
``OUT/basic_train.tsv``, ``basic_val.tsv``, ``basic_test.tsv``, each a tab-separated table
with the header ``Source<TAB>Target``; plus ``OUT/listops.json`` (parameters and counts), so a
second call with the same parameters reuses the files.

Command line: ``elm-snn data listops --out DIR --seed S [--num-train N ...]``.
"""

from __future__ import annotations

import dataclasses
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

__all__ = [
    "OPERATORS",
    "END",
    "ListOpsConfig",
    "generate_expression",
    "evaluate_tree",
    "tree_to_source",
    "generate_listops",
]

OPERATORS = ("[MAX", "[MIN", "[MED", "[SM")
END = "]"
OPERATOR_P = 0.25  # probability that a node below the maximum depth is an operator
#: the split names in LRA's ListOps file names (``basic_val.tsv``); the readers call the
#: middle split "validation" (:data:`elm_snn.lra.readers.SPLITS`)
FILE_SPLITS = ("train", "val", "test")
FORMAT_VERSION = 1

# a tree is a digit or (operator, [arguments])
Tree = Any  # int (a digit) or tuple[str, list[Tree]] (operator, arguments)


@dataclasses.dataclass(frozen=True)
class ListOpsConfig:
    """Generator settings (defaults: the LRA release)."""

    num_train: int = 96000
    num_val: int = 2000
    num_test: int = 2000
    min_length: int = 500
    max_length: int = 2000
    max_depth: int = 10
    max_args: int = 10
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("num_train", "num_val", "num_test", "min_length", "max_depth"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name}: expected an integer >= 1, got {v!r}")
        if isinstance(self.max_args, bool) or not isinstance(self.max_args, int):
            raise ValueError(f"max_args: expected an integer >= 2, got {self.max_args!r}")
        if self.max_args < 2:
            raise ValueError(f"max_args: expected an integer >= 2, got {self.max_args!r}")
        if not isinstance(self.max_length, int) or self.max_length < self.min_length:
            raise ValueError(
                f"max_length: expected an integer >= min_length = {self.min_length}, "
                f"got {self.max_length!r}"
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed: expected an integer >= 0, got {self.seed!r}")


def _draw_tree(rng: random.Random, depth: int, max_depth: int, max_args: int) -> tuple[Tree, int]:
    """One random tree and its LRA length (digits + 2 per operator)."""
    if depth >= max_depth or rng.random() >= OPERATOR_P:
        return rng.randrange(10), 1
    op = OPERATORS[rng.randrange(len(OPERATORS))]
    args: list[Tree] = []
    length = 2
    for _ in range(rng.randint(2, max_args)):
        sub, n = _draw_tree(rng, depth + 1, max_depth, max_args)
        args.append(sub)
        length += n
    return (op, args), length


def generate_expression(
    rng: random.Random,
    min_length: int = 500,
    max_length: int = 2000,
    max_depth: int = 10,
    max_args: int = 10,
    max_tries: int = 1_000_000,
) -> tuple[Tree, int]:
    """Draw trees until one has ``min_length <= length <= max_length``; return it and its
    length. Raises ``RuntimeError`` after ``max_tries`` draws (impossible settings)."""
    for _ in range(max_tries):
        tree, n = _draw_tree(rng, 0, max_depth, max_args)
        if min_length <= n <= max_length:
            return tree, n
    raise RuntimeError(
        f"no ListOps tree with length in [{min_length}, {max_length}] after {max_tries} draws "
        f"(max_depth={max_depth}, max_args={max_args}); widen the length range or raise the depth"
    )


def evaluate_tree(tree: Tree) -> int:
    """Value of a tree (0-9)."""
    if isinstance(tree, int):
        return tree
    op, args = tree
    values = sorted(evaluate_tree(a) for a in args)
    if op == "[MAX":
        return values[-1]
    if op == "[MIN":
        return values[0]
    if op == "[SM":
        return sum(values) % 10
    if op == "[MED":
        n = len(values)
        if n % 2:
            return values[n // 2]
        return (values[n // 2 - 1] + values[n // 2]) // 2
    raise ValueError(f"tree: unknown operator {op!r}")


def tree_to_source(tree: Tree) -> str:
    """The expression as LRA writes it (left-nested parentheses around each argument)."""
    parts: list[str] = []

    def emit(t: Tree) -> None:
        if isinstance(t, int):
            parts.append(str(t))
            return
        op, args = t
        # LRA's nesting: ((((op a0) a1) ...) END), every pair in parentheses
        parts.extend(["("] * (len(args) + 1))
        parts.append(op)
        for a in args:
            emit(a)
            parts.append(")")
        parts.append(END)
        parts.append(")")

    emit(tree)
    return " ".join(parts)


def _split_file(out: Path, split: str) -> Path:
    return out / f"basic_{split}.tsv"


def generate_listops(
    out: str | Path,
    config: ListOpsConfig | None = None,
    force: bool = False,
    progress: bool = False,
) -> dict[str, Any]:
    """Write ``basic_{train,val,test}.tsv`` and ``listops.json`` to ``out``.

    Every split has its own random stream (``random.Random(3 * seed + k)``, k = 0, 1, 2), so
    the files depend only on the config. An existing folder written with the same config is
    reused unless ``force``. ``progress`` shows a bar with an ETA on stderr (per sample).

    Returns:
        The manifest: config, sample counts, label counts and length statistics per split.
    """
    from elm_snn._locks import GENERATOR_LOCK_WAIT_S, folder_lock

    cfg = config or ListOpsConfig()
    out = Path(out)
    # one generator writes a folder at a time; a second one waits, then reuses its files
    with folder_lock(out, "out", wait=GENERATOR_LOCK_WAIT_S, on_wait=_note):
        return _generate_into(out, cfg, force, progress)


def _note(message: str) -> None:
    print(f"elm-snn: {message}", file=sys.stderr, flush=True)


def _generate_into(out: Path, cfg: ListOpsConfig, force: bool, progress: bool) -> dict[str, Any]:
    """:func:`generate_listops` once ``out`` is locked."""
    from elm_snn._io import atomic_write_text
    from elm_snn._manifest import matching_manifest
    from elm_snn._progress import progress as progress_bar
    from elm_snn._progress import progress_enabled

    manifest_path = out / "listops.json"
    wanted = {"format_version": FORMAT_VERSION, "config": dataclasses.asdict(cfg)}
    files = [_split_file(out, s).name for s in FILE_SPLITS]
    old = None if force else matching_manifest(manifest_path, wanted, files=files)
    if old is not None:
        return {**old, "reused": True}
    t0 = time.perf_counter()
    counts = {"train": cfg.num_train, "val": cfg.num_val, "test": cfg.num_test}
    stats: dict[str, Any] = {}
    bar = progress_bar(
        total=sum(counts.values()),
        desc="listops",
        unit="sample",
        enabled=progress and progress_enabled(),
    )
    for k, split in enumerate(FILE_SPLITS):
        rng = random.Random(3 * cfg.seed + k)
        rows = ["Source\tTarget"]
        labels = [0] * 10
        lengths = []
        for _ in range(counts[split]):
            tree, n = generate_expression(
                rng, cfg.min_length, cfg.max_length, cfg.max_depth, cfg.max_args
            )
            label = evaluate_tree(tree)
            labels[label] += 1
            lengths.append(n)
            rows.append(f"{tree_to_source(tree)}\t{label}")
            bar.update(1)
        atomic_write_text(_split_file(out, split), "\n".join(rows) + "\n")
        stats[split] = {
            "samples": counts[split],
            "label_counts": labels,
            "min_length": min(lengths),
            "max_length": max(lengths),
            "mean_length": sum(lengths) / len(lengths),
        }
    bar.close()
    manifest = {**wanted, "splits": stats, "seconds": round(time.perf_counter() - t0, 3)}
    atomic_write_text(manifest_path, json.dumps(manifest, indent=2) + "\n")
    return {**manifest, "reused": False}
