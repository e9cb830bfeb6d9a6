"""Collect the Pathfinder-32 search (issue 24 item 5) into this folder: ``results.md`` (the
page: setup, commands, one line per run, provenance), ``results.csv`` (the runs as CSV),
``curves.csv`` (validation accuracy and training loss per epoch of every run) and
``curves.png``.

A run is one ``elm-snn train --task pathfinder`` folder (``metrics.json``, ``config.json``,
``logs/metrics.csv``) under ``RUNS_ROOT/<setting>/<run>``. A run **leaves the constant
answer** when its best validation accuracy is above the validation split's majority-class
share by more than three binomial standard errors of a proportion near 0.5,
``3 * sqrt(0.25 / n)`` (0.047 for the 1,000 validation images); the split's class shares are
read from the data itself. Test accuracy is shown beside it and decides nothing.

Usage: ``python docs/results/lra/pathfinder-search/collect.py RUNS_ROOT OUT_DIR``
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from datetime import datetime, timezone
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LN2 = math.log(2.0)

PREAMBLE = """# Pathfinder-32 (generated): where does either model leave the constant answer?

Issue 24, item 5: within about one CPU-hour, the smallest generated Pathfinder setting
(difficulty, images, epochs) at which the ELM or the Chrono-LSTM leaves the constant answer.

- **Data**: `elm-snn data pathfinder` at 32 x 32, the `easy` difficulty (target contours of 6
  paddles; LRA's Pathfinder uses 14), generator seed 0, two pools: 10,000 images (8,000
  training / 1,000 validation / 1,000 test, the reader's 80/10/10 split in file order) and
  25,000 images (20,000 / 2,500 / 2,500). Validation and test are capped at their first
  1,000 images. Pixels are binned to 16 grey levels, one token per pixel: 1,024 steps.
- **Models and budget**: the `quick` LRA preset, unchanged: ELM `d_m = 32`, `d_mlp = 64`
  (5,330 parameters), Chrono-LSTM with 64 hidden units (21,122), Adam lr 3e-3 with cosine
  decay over the run, batch 32, gradient clipping at 1, last-output readout. Each epoch
  draws `--train-samples` images from the training pool (all of it here). One more run
  checks the model size: the `paper` preset's ELM (`d_m = 150`, `d_mlp = 384`, 122,346
  parameters, Adam lr 2e-4, batch 8, as in the paper's Table S2) for 5 epochs, as many as
  the hour had left (about 21 ms of CPU per training image, evaluation included, against
  the quick ELM's 1.9 ms).
- **Search**: the easiest difficulty first; along the image and epoch axes as far as the
  hour allowed (one run gives every shorter epoch count through its curve, though the
  cosine schedule of a shorter run would differ).
- **Criterion**: a run leaves the constant answer when its best validation accuracy is above
  the validation split's majority share by more than 3 binomial standard errors (0.047 on
  1,000 images). The training loss is shown too: a model that learns anything, even by
  memorising, takes it below ln 2 = 0.6931.

Commands (`D10` and `D25` the two pools; one run per line):

```bash
elm-snn data pathfinder --out D10 --resolution 32 --difficulty easy --num 10000
elm-snn data pathfinder --out D25 --resolution 32 --difficulty easy --num 25000
elm-snn train --task pathfinder --model elm --preset quick --difficulty easy --data-root D10 --train-samples 8000 --max-epochs 40 --val-samples 1000 --test-samples 1000 --out RUNS/easy-10k/elm-e40
elm-snn train --task pathfinder --model elm --preset quick --difficulty easy --data-root D25 --train-samples 20000 --max-epochs 20 --val-samples 1000 --test-samples 1000 --out RUNS/easy-25k/elm-e20
elm-snn train --task pathfinder --model chrono-lstm --preset quick --difficulty easy --data-root D10 --train-samples 8000 --max-epochs 20 --val-samples 1000 --test-samples 1000 --out RUNS/easy-10k/chrono-lstm-e20
elm-snn train --task pathfinder --model elm --preset paper --difficulty easy --data-root D10 --train-samples 8000 --max-epochs 5 --val-samples 1000 --test-samples 1000 --out RUNS/easy-10k/elm-paper-e5
python docs/results/lra/pathfinder-search/collect.py RUNS docs/results/lra/pathfinder-search
```
"""  # noqa: E501 - the commands are shown whole


def _curves(run: Path) -> tuple[list[float], list[float]]:
    """Per-epoch validation accuracy and mean training loss of a run."""
    with open(run / "logs" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    val = [float(r["val_accuracy"]) for r in rows if r.get("val_accuracy")]
    train = [float(r["train_loss_epoch"]) for r in rows if r.get("train_loss_epoch")]
    return val, train


def _dataset(config: dict, split: str):
    from elm_snn.lra.readers import PathfinderDataset

    return PathfinderDataset(
        config["data_root"], split, resolution=32, difficulty=config["difficulty"]
    )


def _train_pool(config: dict) -> int:
    """Images in the training split (each epoch draws ``train_samples_per_epoch`` of them)."""
    return len(_dataset(config, "train"))


def _split_shares(config: dict) -> dict[str, tuple[int, float]]:
    """``split -> (items scored, share of the majority class)`` for validation and test,
    with the run's caps on the number of items (the first items of a split are kept)."""
    out = {}
    for split, cap in (("validation", config["val_samples"]), ("test", config["test_samples"])):
        labels = _dataset(config, split).labels
        labels = labels[: cap or len(labels)]
        positive = float(labels.mean())
        out[split] = (len(labels), max(positive, 1 - positive))
    return out


def _row(run: Path) -> dict:
    metrics = json.loads((run / "metrics.json").read_text())
    config = json.loads((run / "config.json").read_text())
    val, train = _curves(run)
    shares = _split_shares(config)
    n_val, majority = shares["validation"]
    margin = 3 * math.sqrt(0.25 / n_val)
    first = next((i + 1 for i, v in enumerate(val) if v > majority + margin), None)
    return {
        "setting": run.parent.name,
        "run": run.name,
        "model": metrics["model"],
        "preset": metrics["preset"],
        "difficulty": config["difficulty"],
        "train_images": _train_pool(config),
        "images_per_epoch": config["train_samples_per_epoch"],
        "epochs": metrics["epochs_trained"],
        "lr": config["lr"],
        "parameters": metrics["num_parameters"],
        "val_majority": majority,
        "val_margin": margin,
        "best_val_accuracy": metrics["best_val_accuracy"],
        "left_constant": first is not None,
        "first_epoch_above": first or "",
        "min_train_loss": min(train) if train else float("nan"),
        "test_majority": shares["test"][1],
        "test_accuracy": metrics["test_accuracy"],
        "cpu_seconds": metrics["cpu_seconds_total"],
        "git_commit": str(metrics["git_commit"])[:7],
        "curves": (val, train),
    }


COLUMNS = (
    "setting", "run", "model", "preset", "difficulty", "train_images", "images_per_epoch", "epochs",
    "lr", "parameters", "val_majority", "best_val_accuracy", "left_constant",
    "first_epoch_above", "min_train_loss", "test_majority", "test_accuracy", "cpu_seconds",
    "git_commit",
)  # fmt: skip


def _plot(rows: list[dict], out: Path) -> None:
    fig, (acc, loss) = plt.subplots(1, 2, figsize=(11, 3.8))
    for r in rows:
        val, train = r["curves"]
        label = f"{r['model']} ({r['preset']}), {r['train_images']:,} images, {r['epochs']} epochs"
        acc.plot(range(1, len(val) + 1), val, marker="o", ms=2, label=label)
        loss.plot(range(1, len(train) + 1), train, marker="o", ms=2, label=label)
    pools = sorted({(r["train_images"], r["val_majority"], r["val_margin"]) for r in rows})
    colours = ("dimgray", "darkgray", "silver")
    for (images, majority, margin), colour in zip(pools, colours, strict=False):
        acc.axhline(majority, color=colour, ls=":", label=f"constant answer ({images:,} images)")
        acc.axhline(majority + margin, color=colour, ls="--", label="  + 3 standard errors")
    loss.axhline(LN2, color="gray", ls=":", label="ln 2")
    acc.set(xlabel="epoch", ylabel="validation accuracy", title="generated Pathfinder-32, easy")
    loss.set(xlabel="epoch", ylabel="training loss (epoch mean)", title="training loss")
    acc.legend(fontsize=7)
    loss.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


HEADER = (
    "model (preset)", "training images", "images per epoch", "epochs", "lr", "parameters",
    "best val. accuracy (constant answer)", "left the constant answer", "lowest training loss",
    "test accuracy (constant answer)", "CPU min",
)  # fmt: skip


def _table(rows: list[dict]) -> list[str]:
    lines = [
        "| " + " | ".join(HEADER) + " |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |",
    ]
    for r in rows:
        cells = (
            f"{r['model']} ({r['preset']})",
            f"{r['train_images']:,}",
            f"{r['images_per_epoch']:,}",
            str(r["epochs"]),
            f"{r['lr']:g}",
            f"{r['parameters']:,}",
            f"{r['best_val_accuracy']:.3f} ({r['val_majority']:.3f})",
            f"yes, epoch {r['first_epoch_above']}" if r["left_constant"] else "no",
            f"{r['min_train_loss']:.5f}",
            f"{r['test_accuracy']:.3f} ({r['test_majority']:.3f})",
            f"{r['cpu_seconds'] / 60:.1f}",
        )
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def main(root: Path, out: Path) -> None:
    runs = sorted(p.parent for p in root.glob("*/*/metrics.json"))
    rows = sorted(
        (_row(run) for run in runs),
        key=lambda r: (r["model"], r["preset"] != "quick", r["train_images"]),
    )
    if not rows:
        raise SystemExit(f"no finished runs under {root}")
    out.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(("setting", "run", "epoch", "val_accuracy", "train_loss_epoch"))
    for r in rows:
        val, train = r["curves"]
        for epoch in range(max(len(val), len(train))):
            v = f"{val[epoch]:.4f}" if epoch < len(val) else ""
            t = f"{train[epoch]:.5f}" if epoch < len(train) else ""
            writer.writerow((r["setting"], r["run"], epoch + 1, v, t))
    (out / "curves.csv").write_text(buf.getvalue())
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    (out / "results.csv").write_text(buf.getvalue())
    _plot(rows, out / "curves.png")
    cpu = sum(r["cpu_seconds"] for r in rows) / 60
    commits = sorted({r["git_commit"] for r in rows})
    mtimes = [(root / r["setting"] / r["run"] / "metrics.json").stat().st_mtime for r in rows]
    finished = datetime.fromtimestamp(max(mtimes), tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page = (
        [PREAMBLE, "## Runs", ""]
        + _table(rows)
        + [
            "",
            "Accuracies are fractions of the split; in brackets the split's majority-class share, "
            "what a constant answer scores. Test accuracy decided nothing.",
            "",
            "![validation accuracy and training loss per epoch](curves.png)",
            "",
            "Per-epoch values: [curves.csv](curves.csv); per run: [results.csv](results.csv).",
            "",
            "## Provenance",
            "",
            f"- git commit of the runs: {', '.join(f'`{c}`' for c in commits)}",
            "- machine: AMD EPYC, 2 cores, no GPU, shared with other jobs (one thread per run, "
            "`OMP_NUM_THREADS=1`)",
            f"- last run finished: {finished}",
            f"- CPU time of the {len(rows)} runs: {cpu:.1f} min (`cpu_seconds_total` of their "
            "metrics.json, training and evaluation)",
            "",
        ]
    )
    (out / "results.md").write_text("\n".join(page))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
