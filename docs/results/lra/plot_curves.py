"""Validation-accuracy curves of the offline LRA runs (one panel per task).

Usage: ``python docs/results/lra/plot_curves.py RUNS_DIR OUT.png`` where ``RUNS_DIR`` holds
the ``elm-snn compare`` folders ``listops/`` and ``pathfinder/`` (each with one run folder
per model, ``<model>-bin1ms-seed0/logs/metrics.csv``), and optionally ``listops-elm100/``
(the ELM with ``--num-memory 100``), drawn in the ListOps panel, and ``pathfinder-long/``
(the ELM on 10,000 images for 15 epochs), drawn in the Pathfinder panel.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def curve(run: Path) -> list[float]:
    with open(run / "logs" / "metrics.csv") as f:
        return [float(r["val_accuracy"]) for r in csv.DictReader(f) if r.get("val_accuracy")]


def main(runs: Path, out: Path) -> None:
    tasks = [t for t in ("listops", "pathfinder") if (runs / t).is_dir()]
    fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 3.6), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        folders = [(runs / task, "")]
        if task == "listops":
            folders.append((runs / "listops-elm100", " (d_m = 100)"))
        else:
            folders.append((runs / "pathfinder-long", " (10,000 images, 15 epochs)"))
        for folder, suffix in folders:
            for run in sorted(folder.glob("*-seed0")):
                c = curve(run)
                name = run.name.split("-bin")[0] + suffix
                ax.plot(range(1, len(c) + 1), c, marker="o", ms=3, label=name)
        ax.axhline(0.1 if task == "listops" else 0.5, color="gray", ls=":", label="chance")
        ax.set_title(f"generated {task} (quick preset)")
        ax.set_xlabel("epoch")
        ax.set_ylabel("validation accuracy")
        ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=100)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
