"""The demo (``elm-snn demo``, ``make demo``): the main job on a fresh clone, CPU only.

1. Generate a small offline spoken-digit set in SHD's layout (eSpeak NG voices through the
   cochlea model; :func:`elm_snn.synth.spoken_digits.generate_spoken_digits`), or reuse it
   from the cache (``$ELM_SNN_CACHE``, default ``~/.cache/elm-snn``).
2. Train the ELM neuron, an LSTM and the paper's recurrent E/I SNN on SHD-Adding at 20 ms
   bins (100 steps per pair) with the ``quick`` preset under the evidence protocol
   (``docs/results/protocol.md``): every model read at its last output step, as in the
   paper; validation on 400 pairs of 2 held-out training voices; same data, same pairs,
   same number of epochs and optimiser steps for every model.
3. Test each model's best-validation checkpoint on held-out test pairs (digits of speakers
   never seen in training), print the table and write ``runs/demo/results.{csv,md}``,
   ``runs/demo/test_accuracy_vs_bin_size.png`` and the at-a-glance figure
   ``runs/demo/demo.png`` (learning curves and test accuracies; its path is printed); print
   the ELM - LSTM gap at the finest bin beside the paper's numbers (no verdict: one seed and
   a small budget cannot decide whether the paper's picture holds; ``docs/results`` has the
   multi-seed evidence) and the runs' CPU time.

Usage::

    elm-snn demo                       # defaults: DEMO_DEFAULTS
    elm-snn demo --bin-sizes 20 50 --models elm lstm --epochs 10 --out runs/demo-small
    elm-snn demo --data-seed 3 --models elm lstm  # the same on another generated data set
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from elm_snn.train.grid import run_name

__all__ = ["DEMO_DEFAULTS", "demo_figure", "majority_baseline", "summary_lines"]

DEMO_DEFAULTS = dict(
    models=("elm", "lstm", "snn"),
    bin_sizes=(20.0,),
    per_class=20,
    epochs=40,
    train_samples=1920,
    readout="last",
    validation_split="speaker",
    validation_fraction=0.2,
    val_samples=400,
    data_seed=0,
)


def majority_baseline(root: Path) -> float:
    """Accuracy of always predicting the most frequent target of the demo's test pairs."""
    import numpy as np

    from elm_snn.data.adding import SHDAdding
    from elm_snn.tasks import resolve_config
    from elm_snn.tasks.shd import EVAL_PAIR_SEED, SPLIT_SEED

    n_test = resolve_config("shd-adding", "elm", "quick", synthetic=True).test_samples
    ds = SHDAdding(root, "test", seed=EVAL_PAIR_SEED, split_seed=SPLIT_SEED, pairs_per_epoch=n_test)
    counts = np.bincount(ds.targets(), minlength=19)
    return float(counts.max() / counts.sum())


def demo_figure(rows: list, out_dir: str | Path, chance: float, majority: float) -> Path:
    """The demo at a glance, ``out_dir/demo.png``: validation accuracy per epoch of every
    run (left) and each run's test accuracy on held-out pairs (right), with chance and the
    most-frequent-sum baseline. Returns the path."""
    from elm_snn.viz import _pyplot, plot_learning_curves, save_figure

    out = Path(out_dir)
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    labels = [f"{r['model']} {float(r['bin_size_ms']):g} ms" for r in rows]
    logs = {
        label: out
        / run_name(r["model"], float(r["bin_size_ms"]), int(r.get("seed", 0)))
        / "logs"
        / "metrics.csv"
        for label, r in zip(labels, rows, strict=True)
    }
    logs = {k: v for k, v in logs.items() if v.is_file()}
    if logs:
        try:
            plot_learning_curves(logs, chance=chance, ax=left, title="validation accuracy")
        except ValueError:
            left.set_axis_off()
    else:
        left.set_axis_off()
    accuracies = [float(r["test_accuracy"]) for r in rows]
    right.bar(range(len(rows)), accuracies, color="tab:blue")
    for i, a in enumerate(accuracies):
        right.annotate(f"{a:.3f}", (i, a), ha="center", va="bottom", fontsize=8)
    right.axhline(chance, color="grey", linestyle="--", label=f"chance {chance:.3f}")
    right.axhline(majority, color="black", linestyle=":", label=f"most frequent sum {majority:.3f}")
    right.set_xticks(range(len(rows)), labels, rotation=20)
    right.set(ylabel="test accuracy", title="held-out pairs of unseen speakers")
    right.set_ylim(0, max(accuracies + [majority, chance]) * 1.2 + 0.02)
    right.legend(fontsize=8)
    fig.suptitle("elm-snn demo: SHD-Adding")
    return save_figure(fig, out / "demo.png")


def _gap_at_finest_bin(
    rows: Sequence[dict[str, Any]], bin_sizes: Sequence[float], data_seed: int = 0
) -> list[str]:
    """The ELM - LSTM gap at the finest bin, when both ran there."""
    finest = min(float(b) for b in bin_sizes)
    at_finest = {r["model"]: r["test_accuracy"] for r in rows if r["bin_size_ms"] == finest}
    if "elm" not in at_finest or "lstm" not in at_finest:
        return []
    gap = at_finest["elm"] - at_finest["lstm"]
    return [
        f"finest bin {finest:g} ms: ELM {at_finest['elm']:.3f}, LSTM "
        f"{at_finest['lstm']:.3f}, ELM - LSTM = {gap:+.3f} (one seed, generated data "
        f"set seed {data_seed}, the demo's small budget)"
    ]


def summary_lines(
    rows: Sequence[dict[str, Any]],
    bin_sizes: Sequence[float],
    chance: float,
    majority: float,
    data_seed: int = 0,
) -> list[str]:
    """The demo's honest summary of its runs (``rows``: their ``metrics.json``): the best
    model per bin size, whether each model learned more than chance and the most frequent
    sum (``majority``), whether the ELM is clearly above chance, the ELM - LSTM gap at the
    finest bin, and the paper's numbers beside them (no verdict: one seed and a small budget
    cannot decide whether the paper's picture holds)."""
    lines = [
        f"chance 1/19 = {chance:.3f}; always answering the most frequent sum of the test "
        f"pairs would score {majority:.3f}"
    ]
    for b in bin_sizes:
        at_b = [r for r in rows if float(r["bin_size_ms"]) == float(b)]
        if not at_b:
            continue
        best = max(at_b, key=lambda r: r["test_accuracy"])
        line = ", ".join(f"{r['model']} {r['test_accuracy']:.3f}" for r in at_b)
        lines.append(f"bin {b:g} ms: {line}; best: {best['model']} (chance {chance:.3f})")
    for model in dict.fromkeys(r["model"] for r in rows):
        accs = [r["test_accuracy"] for r in rows if r["model"] == model]
        if all(a <= chance for a in accs):
            note = "at or below chance: it did not learn the task in this budget"
        elif all(a <= majority + 0.01 for a in accs):
            note = "near the most-frequent-sum baseline: little learned beyond that"
        else:
            note = "above chance and above the most-frequent-sum baseline"
        lines.append(f"{model}: {note}")
    elm = [r for r in rows if r["model"] == "elm"]
    if elm:
        above = all(r["test_accuracy"] > 2 * chance for r in elm)
        verdict = "is" if above else "is NOT"
        lines.append(f"ELM {verdict} clearly above chance (> 2 x 1/19) at every bin size.")
    lines += _gap_at_finest_bin(rows, bin_sizes, data_seed)
    # the paper's numbers beside ours, without a verdict: the settings differ (real SHD,
    # 70 epochs x 2000 batches of 8, d_m = 100); see docs/results for multi-seed evidence
    lines.append(
        "the paper (real SHD-Adding, Spieler et al. 2023, Fig. 5): ELM 0.82 at 1-2 ms bins, "
        "LSTM 0.10 there and at best 0.67 (50 ms), E/I SNN 0.09"
    )
    return lines
