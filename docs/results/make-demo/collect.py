"""Collect ``elm-snn demo`` runs on several generated data sets into one table.

Each demo was run as ``elm-snn demo --data-seed N [--models ...] --out DEMO_N``; this script
reads every finished run (``metrics.json``) under the given demo folders and writes
``results.csv`` (one row per run, with the data seed, CPU seconds and git commit) and
``results.md`` (the test accuracy of each model per data set, mean +- std over data sets,
and the ELM - LSTM gap per data set) into ``OUT_DIR``.

Usage: ``python docs/results/make-demo/collect.py OUT_DIR DEMO_0 DEMO_1 ...``
"""

from __future__ import annotations

import csv
import json
import statistics
import sys
from pathlib import Path

FIELDS = ("data_seed", "generator_version", "model", "bin_size_ms", "seed", "num_parameters",
          "best_val_accuracy", "test_accuracy", "cpu_seconds", "git_commit")  # fmt: skip


def _data_set(run: Path) -> tuple[int, int]:
    """The generator seed and version of the data set a run read (its manifest)."""
    config = json.loads((run / "config.json").read_text())
    spec = json.loads((Path(config["data_root"]) / "spoken_digits.json").read_text())
    return int(spec["params"]["seed"]), int(spec["params"]["format_version"])


def main(out: Path, demos: list[Path]) -> None:
    rows = []
    for demo in demos:
        for run in sorted(p for p in demo.iterdir() if (p / "metrics.json").is_file()):
            metrics = json.loads((run / "metrics.json").read_text())
            seed, version = _data_set(run)
            rows.append({"data_seed": seed, "generator_version": version,
                         **{k: metrics.get(k) for k in FIELDS[2:]}})  # fmt: skip
    if not rows:
        raise SystemExit("no finished demo run found")
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    seeds = sorted({r["data_seed"] for r in rows})
    models = list(dict.fromkeys(r["model"] for r in rows))
    acc = {(r["model"], r["data_seed"]): float(r["test_accuracy"]) for r in rows}
    lines = ["| model | " + " | ".join(f"data seed {s}" for s in seeds) + " | mean +- std |",
             "| --- |" + " ---: |" * (len(seeds) + 1)]  # fmt: skip
    for m in models:
        values = [acc.get((m, s)) for s in seeds]
        known = [v for v in values if v is not None]
        spread = (
            f"{statistics.mean(known):.3f} +- {statistics.stdev(known):.3f}"
            if len(known) > 1
            else "-"
        )
        cells = " | ".join("not run" if v is None else f"{v:.3f}" for v in values)
        lines.append(f"| {m} | {cells} | {spread} |")
    gaps = [
        f"data seed {s}: {acc[('elm', s)] - acc[('lstm', s)]:+.3f}"
        for s in seeds
        if ("elm", s) in acc and ("lstm", s) in acc
    ]
    cpu = sum(float(r["cpu_seconds"] or 0) for r in rows)
    commits = sorted({str(r["git_commit"]) for r in rows})
    versions = sorted({r["generator_version"] for r in rows})
    text = [
        "# `elm-snn demo` on three generated data sets",
        "",
        f"- runs: {len(rows)}, git commit(s): {', '.join(f'`{c}`' for c in commits)}",
        f"- spoken-digit generator version(s): {', '.join(map(str, versions))}",
        f"- training and testing CPU time: {cpu / 60:.1f} min",
        "",
        *lines,
        "",
        "ELM - LSTM at 20 ms: " + ", ".join(gaps) + ".",
        "",
    ]
    (out / "results.md").write_text("\n".join(text))
    print("\n".join(text))


if __name__ == "__main__":
    main(Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]])
