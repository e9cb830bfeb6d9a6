"""Offline ListOps: LRA's rules and layout; labels checked by an independent evaluator."""

from __future__ import annotations

import json
import statistics

import pytest

from elm_snn.cli import main
from elm_snn.lra.listops import ListOpsConfig, generate_listops


def _value_of(source: str) -> int:
    """Evaluate a ListOps string with an explicit stack (no use of the generator's code):
    parentheses are ignored, an operator opens a frame, ``]`` closes it."""
    stack: list[tuple[str, list[int]]] = [("ROOT", [])]
    for tok in source.split():
        if tok in ("(", ")"):
            continue
        if tok.startswith("["):
            stack.append((tok, []))
        elif tok == "]":
            op, args = stack.pop()
            assert len(args) >= 2, source
            if op == "[MAX":
                v = max(args)
            elif op == "[MIN":
                v = min(args)
            elif op == "[SM":
                v = sum(args) % 10
            elif op == "[MED":
                v = int(statistics.median(args))  # int() truncates x.5 like LRA's int(median)
            else:
                raise AssertionError(f"unknown operator {op}")
            stack[-1][1].append(v)
        else:
            stack[-1][1].append(int(tok))
    assert len(stack) == 1 and len(stack[0][1]) == 1, source
    return stack[0][1][0]


def _depth_and_length(source: str) -> tuple[int, int, int]:
    """(max nesting depth of operators, LRA length, largest argument count)."""
    depth = best = length = most = 0
    counts: list[int] = []
    for tok in source.split():
        if tok in ("(", ")"):
            continue
        length += 1
        if tok.startswith("["):
            if counts:
                counts[-1] += 1
            counts.append(0)
            depth += 1
            best = max(best, depth)
        elif tok == "]":
            most = max(most, counts.pop())
            depth -= 1
            length += 0
        elif counts:
            counts[-1] += 1
    return best, length, most


def _rows(path):
    lines = path.read_text().splitlines()
    assert lines[0] == "Source\tTarget"
    return [line.split("\t") for line in lines[1:]]


def test_labels_rules_and_layout(tmp_path):
    cfg = ListOpsConfig(
        num_train=300, num_val=20, num_test=20, min_length=10, max_length=80, max_depth=4,
        max_args=6, seed=3,
    )  # fmt: skip
    manifest = generate_listops(tmp_path, cfg)
    assert not manifest["reused"]
    ops = set()
    labels = set()
    for split, n in (("train", 300), ("val", 20), ("test", 20)):
        rows = _rows(tmp_path / f"basic_{split}.tsv")
        assert len(rows) == n
        for source, target in rows:
            assert _value_of(source) == int(target)
            depth, length, most = _depth_and_length(source)
            assert 10 <= length <= 80 and depth <= 4 and 2 <= most <= 6
            ops |= {t for t in source.split() if t.startswith("[")}
            labels.add(int(target))
            # LRA's parenthesised form: balanced, one "(" per argument plus one per operator
            assert source.count("(") == source.count(")")
    assert ops == {"[MAX", "[MIN", "[MED", "[SM"}
    assert len(labels) >= 8
    counts = manifest["splits"]["train"]["label_counts"]
    assert sum(counts) == 300


def test_lra_defaults_produce_long_sequences(tmp_path):
    generate_listops(tmp_path, ListOpsConfig(num_train=3, num_val=1, num_test=1, seed=1))
    for source, target in _rows(tmp_path / "basic_train.tsv"):
        depth, length, most = _depth_and_length(source)
        assert 500 <= length <= 2000 and depth <= 10 and most <= 10
        assert _value_of(source) == int(target)


def test_median_of_even_count_rounds_down(tmp_path):
    # a hand-made check of the evaluator used above against the stated rule
    assert _value_of("( ( ( [MED 1 ) 4 ) ] )") == 2
    assert _value_of("( ( ( ( ( [MED 9 ) 8 ) 1 ) 0 ) ] )") == 4
    assert _value_of("( ( ( ( [SM 9 ) 8 ) 7 ) ] )") == 4


def test_deterministic_and_reused(tmp_path):
    cfg = ListOpsConfig(num_train=50, num_val=5, num_test=5, min_length=5, max_length=40,
                        max_depth=3, max_args=4, seed=7)  # fmt: skip
    generate_listops(tmp_path / "a", cfg)
    generate_listops(tmp_path / "b", cfg)
    for split in ("train", "val", "test"):
        a = (tmp_path / "a" / f"basic_{split}.tsv").read_bytes()
        assert a == (tmp_path / "b" / f"basic_{split}.tsv").read_bytes()
    assert generate_listops(tmp_path / "a", cfg)["reused"]
    other = generate_listops(tmp_path / "c", ListOpsConfig(**{**cfg.__dict__, "seed": 8}))
    assert not other["reused"]
    assert (tmp_path / "c" / "basic_train.tsv").read_bytes() != (
        tmp_path / "a" / "basic_train.tsv"
    ).read_bytes()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(num_train=0), "num_train"),
        (dict(max_args=1), "max_args"),
        (dict(min_length=50, max_length=10), "max_length"),
        (dict(seed=-1), "seed"),
    ],
)
def test_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ListOpsConfig(**kwargs)


def test_cli(tmp_path, capsys):
    args = ["data", "listops", "--out", str(tmp_path), "--seed", "2", "--num-train", "20"]
    args += ["--num-val", "4", "--num-test", "4", "--min-length", "5", "--max-length", "30"]
    args += ["--max-depth", "3"]
    assert main(args) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["config"]["seed"] == 2 and len(_rows(tmp_path / "basic_train.tsv")) == 20
    assert main([*args[:4], "--min-length", "0"]) == 2
    assert "min_length" in capsys.readouterr().err
