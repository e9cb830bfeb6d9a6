"""Plots of training runs and model comparisons (matplotlib, Agg backend, PNG files).

* :func:`plot_training_curves` - training loss and the validation metric against epochs,
  from a run's ``logs/metrics.csv``.
* :func:`plot_metric_vs_bin_size` - a test metric against bin size, one line per model
  (mean and min/max over seeds), like Fig. 5b-d of the paper, with the chance level.
* :func:`plot_metrics_vs_parameters` - test metrics against trainable parameters (log x),
  one marker per model family, like Fig. 3 of the paper.

Files are written atomically (:func:`elm_snn._io.atomic_path`).
"""

from __future__ import annotations

import csv
import math
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from elm_snn._io import atomic_path

__all__ = ["plot_training_curves", "plot_metric_vs_bin_size", "plot_metrics_vs_parameters"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _float(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _save_png(fig, out_png: str | Path) -> Path:
    """Lay out ``fig``, write it atomically as PNG to ``out_png`` and close it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    out = Path(out_png)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return out


def plot_training_curves(
    metrics_csv: str | os.PathLike, out_png: str | os.PathLike, monitor: str = "val_accuracy"
) -> Path:
    """Plot ``train_loss_epoch`` and ``monitor`` (per epoch) from a Lightning CSV log.

    Args:
        metrics_csv: ``logs/metrics.csv`` of a run.
        out_png: output image.
        monitor: validation column to plot on the second axis.

    Returns:
        ``out_png`` as a Path.

    Raises:
        FileNotFoundError: ``metrics_csv`` is missing.
        ValueError: the log holds no per-epoch values.
    """
    path = Path(metrics_csv)
    if not path.is_file():
        raise FileNotFoundError(f"metrics_csv: {str(path)!r} does not exist")
    per_epoch: dict[str, dict[int, float]] = defaultdict(dict)
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            epoch = _float(row.get("epoch"))
            if epoch is None:
                continue
            for key in ("train_loss_epoch", monitor):
                v = _float(row.get(key))
                if v is not None:
                    per_epoch[key][int(epoch)] = v
    if not per_epoch:
        raise ValueError(f"metrics_csv: no per-epoch train_loss_epoch/{monitor} in {str(path)!r}")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    if per_epoch.get("train_loss_epoch"):
        e, v = zip(*sorted(per_epoch["train_loss_epoch"].items()), strict=True)
        ax.plot([x + 1 for x in e], v, "o-", color="tab:blue", label="training loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss", color="tab:blue")
    if per_epoch.get(monitor):
        ax2 = ax.twinx()
        e, v = zip(*sorted(per_epoch[monitor].items()), strict=True)
        ax2.plot([x + 1 for x in e], v, "s-", color="tab:red", label=monitor)
        ax2.set_ylabel(monitor, color="tab:red")
    ax.set_title(path.parent.parent.name)
    return _save_png(fig, out_png)


def plot_metric_vs_bin_size(
    rows: Sequence[Mapping[str, Any]],
    out_png: str | os.PathLike,
    metric: str = "test_accuracy",
    chance: float | None = None,
    title: str | None = None,
) -> Path:
    """Plot ``metric`` against ``bin_size_ms``, one line per model (like paper Fig. 5b-d).

    Args:
        rows: results, each with ``model``, ``bin_size_ms`` and ``metric`` (e.g. the
            ``metrics.json`` of every run of a comparison); several seeds per point are
            shown as mean with a min-max band.
        out_png: output image.
        metric: the column to plot.
        chance: draw the chance level as a dashed line.
        title: figure title.

    Returns:
        ``out_png`` as a Path.

    Raises:
        ValueError: no row holds a finite ``metric``.
    """
    points: dict[str, dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        v = _float(r.get(metric))
        b = _float(r.get("bin_size_ms"))
        if v is not None and b is not None:
            points[str(r.get("model"))][b].append(v)
    if not points:
        raise ValueError(f"rows: no finite {metric!r} values to plot")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for model, by_bin in sorted(points.items()):
        bins = sorted(by_bin)
        means = [sum(by_bin[b]) / len(by_bin[b]) for b in bins]
        (line,) = ax.plot(bins, means, "o-", label=model)
        lo = [min(by_bin[b]) for b in bins]
        hi = [max(by_bin[b]) for b in bins]
        if any(h > low for h, low in zip(hi, lo, strict=True)):
            # the band in its line's colour (the default cycle would give it the next one)
            ax.fill_between(bins, lo, hi, alpha=0.2, color=line.get_color())
    if chance is not None:
        ax.axhline(chance, color="grey", linestyle="--", label="chance")
    all_bins = sorted({b for by_bin in points.values() for b in by_bin})
    if len(all_bins) > 1 and all_bins[0] > 0 and all_bins[-1] / all_bins[0] >= 8:
        ax.set_xscale("log")
    ax.set_xticks(all_bins)
    ax.set_xticklabels([f"{b:g}" for b in all_bins])
    ax.set_xlabel("bin size (ms)")
    ax.set_ylabel(metric.replace("_", " "))
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    return _save_png(fig, out_png)


def plot_metrics_vs_parameters(
    rows: Sequence[Mapping[str, Any]],
    out_png: str | os.PathLike,
    metrics: Sequence[tuple[str, str]],
    family_key: str = "family",
    title: str | None = None,
) -> Path:
    """Test metrics against the number of trainable parameters (log x), like Fig. 3.

    Args:
        rows: one dict per run with ``"num_parameters"``, ``family_key`` (the line/marker
            group, e.g. ``"ELM"``) and the metrics.
        out_png: output file.
        metrics: ``(key, axis label)`` per panel, e.g. ``[("test_auc", "spike AUC")]``.
        family_key: key of the group of a row; rows of a group are joined by a line in
            order of their parameter count.
        title: figure title.

    Raises:
        ValueError: no row has a finite value of any metric.
    """
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.2 * len(metrics), 4.0), squeeze=False)
    plotted = False
    families: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for r in rows:
        families[str(r.get(family_key))].append(r)
    markers = "osD^vP*X"
    for ax, (key, label) in zip(axes[0], metrics, strict=True):
        for i, (fam, rs) in enumerate(sorted(families.items())):
            pts = sorted(
                (float(r["num_parameters"]), _float(r.get(key)))
                for r in rs
                if _float(r.get(key)) is not None and r.get("num_parameters")
            )
            if not pts:
                continue
            xs, ys = zip(*pts, strict=True)
            ax.plot(xs, ys, marker=markers[i % len(markers)], label=fam)
            plotted = True
        ax.set_xscale("log")
        ax.set(xlabel="trainable parameters", ylabel=label)
        ax.grid(alpha=0.3)
    if not plotted:
        plt.close(fig)
        raise ValueError("rows: no finite metric values to plot")
    axes[0][0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return _save_png(fig, out_png)
