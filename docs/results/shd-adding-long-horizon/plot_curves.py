"""Learning curves of the long-horizon SHD-Adding grid: training loss and validation
accuracy per epoch, one line per run (colour: model and bin size; line style: seed).

Usage: ``python docs/results/shd-adding-long-horizon/plot_curves.py GRID_DIR OUT.png`` where
``GRID_DIR`` is the ``elm-snn compare --out`` folder, holding one run folder per point
(``<model>-bin<B>ms-seed<S>/logs/metrics.csv``); unfinished runs are drawn as far as they got.
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# per model, one shade per bin size (finest darkest)
COLOURS = {
    "elm": {"1": "navy", "2": "royalblue", "4": "deepskyblue"},
    "lstm": {"1": "saddlebrown", "2": "darkorange", "4": "gold"},
    "branch-elm": {"4": "seagreen"},
    "chrono-lstm": {"4": "crimson"},
    "snn": {"4": "purple"},
}
STYLES = ("-", "--", ":", "-.")


def per_epoch(metrics_csv: Path, column: str) -> dict[int, float]:
    """``{epoch: value}`` of ``column`` in a Lightning CSV log (rows without it skipped)."""
    out: dict[int, float] = {}
    with open(metrics_csv, newline="") as f:
        for row in csv.DictReader(f):
            if row.get(column) and row.get("epoch"):
                out[int(float(row["epoch"]))] = float(row[column])
    return out


def main(grid: Path, out: Path) -> None:
    fig, (ax_loss, ax_val) = plt.subplots(1, 2, figsize=(10, 3.8))
    for run in sorted(p for p in grid.iterdir() if (p / "logs" / "metrics.csv").is_file()):
        m = re.fullmatch(r"(.+)-bin([\d.]+)ms-seed(\d+)", run.name)
        if not m:
            continue
        model, bin_ms, seed = m.group(1), m.group(2), int(m.group(3))
        log = run / "logs" / "metrics.csv"
        colour = COLOURS.get(model, {}).get(f"{float(bin_ms):g}", "black")
        style = dict(color=colour, ls=STYLES[seed % len(STYLES)])
        label = f"{model} {bin_ms} ms seed {seed}"
        for ax, column in ((ax_loss, "train_loss_epoch"), (ax_val, "val_accuracy")):
            points = per_epoch(log, column)
            if points:
                epochs, values = zip(*sorted(points.items()), strict=True)
                ax.plot([e + 1 for e in epochs], values, label=label, **style)
    ax_loss.set(xlabel="epoch", ylabel="training loss (cross-entropy)")
    ax_val.set(xlabel="epoch", ylabel="validation accuracy (2 held-out voices)")
    ax_val.axhline(1 / 19, color="grey", lw=0.8, ls=":", label="chance 1/19")
    ax_val.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
