"""Plots of spikes, memories, predictions, training runs and model comparisons (matplotlib).

Looking inside a model (each returns the ``matplotlib.figure.Figure``; pass ``ax=`` to draw
into a panel of your own figure, :func:`save_figure` writes it atomically):

* :func:`plot_spike_raster` - one raster, time in ms against channel; :func:`plot_spike_rasters`
  - input and output rasters stacked on one time axis.
* :func:`plot_memory_traces` - ELM memory units over time, each coloured by its timescale
  ``tau_m`` (log colour scale, with a colour bar in ms).
* :func:`plot_confusion` - the per-class confusion matrix (rows: true class, normalised to
  recall by default).
* :func:`plot_accuracy_by_group` - accuracy per group (e.g. per speaker), one bar each, with
  the overall accuracy.
* :func:`plot_learning_curves` - a validation metric per epoch of several runs (their
  Lightning ``logs/metrics.csv``) on one axis.

Runs and comparisons (PNG files):

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

__all__ = [
    "plot_accuracy_by_group",
    "plot_confusion",
    "plot_learning_curves",
    "plot_memory_traces",
    "plot_metric_vs_bin_size",
    "plot_metrics_vs_parameters",
    "plot_spike_raster",
    "plot_spike_rasters",
    "plot_training_curves",
    "save_figure",
]


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
        rows: one dict per run (or per point) with ``"num_parameters"``, ``family_key``
            (the line/marker group, e.g. ``"ELM"``) and the metrics; a row with
            ``"<metric>_std"`` (e.g. over seeds) gets an error bar of that size.
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
                (
                    (float(r["num_parameters"]), _float(r.get(key)), _float(r.get(f"{key}_std")))
                    for r in rs
                    if _float(r.get(key)) is not None and r.get("num_parameters")
                ),
                key=lambda pt: pt[:2],
            )
            if not pts:
                continue
            xs, ys, errs = zip(*pts, strict=True)
            marker = markers[i % len(markers)]
            if any(e for e in errs):
                ax.errorbar(
                    xs, ys, yerr=[e or 0.0 for e in errs], marker=marker, capsize=3, label=fam
                )
            else:
                ax.plot(xs, ys, marker=marker, label=fam)
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


# --------------------------------------------------------------------------- inside a model


def save_figure(fig: Any, out_png: str | os.PathLike) -> Path:
    """Write ``fig`` atomically as PNG to ``out_png`` (tight layout) and close it."""
    return _save_png(fig, out_png)


def _as_numpy(name: str, value: Any):
    """A tensor (detached, on the CPU) or array-like as a float numpy array."""
    import numpy as np

    try:
        import torch

        if isinstance(value, torch.Tensor):
            value = value.detach().to("cpu", torch.float64).numpy()
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name}: expected a tensor or array of numbers, got {type(value).__name__}"
        ) from None
    return array


def _one_sequence(name: str, value: Any, sample: int, axes: str):
    """``(T, C)`` of ``value`` given as ``(T, C)`` or time-major ``(T, B, C)`` (batch
    element ``sample``)."""
    array = _as_numpy(name, value)
    if array.ndim == 3:
        if not 0 <= sample < array.shape[1]:
            raise ValueError(
                f"sample: expected a batch index in [0, {array.shape[1]}) of {name} "
                f"{axes} = {array.shape}, got {sample}"
            )
        array = array[:, sample]
    if array.ndim != 2:
        raise ValueError(
            f"{name}: expected {axes.replace('B, ', '')} or time-major {axes}, got shape "
            f"{array.shape}"
        )
    return array


def _axes_for(ax: Any, figsize: tuple[float, float]):
    if ax is not None:
        return ax.figure, ax
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=figsize)
    return fig, ax


def plot_spike_raster(
    spikes: Any,
    *,
    dt: float = 1.0,
    sample: int = 0,
    colors: Sequence[Any] | None = None,
    ax: Any = None,
    title: str | None = None,
    ylabel: str = "channel",
    marker_size: float = 4.0,
):
    """A spike raster: one dot per nonzero entry, time (ms) against channel.

    Args:
        spikes: ``(T, C)`` or time-major ``(T, B, C)`` spikes (tensor or array; any nonzero
            entry is a spike, e.g. frames of spike counts).
        dt: time step in ms (the bin size); the x axis is ``t * dt``.
        sample: batch element to show for a ``(T, B, C)`` input.
        colors: optional colour per channel ``(C,)`` (e.g. excitatory red, inhibitory blue).
        ax: draw into this matplotlib Axes (default: a new figure).
        title, ylabel: labels.
        marker_size: dot size (points^2).

    Returns:
        The figure (one scatter collection with a point per spike).
    """
    import numpy as np

    frames = _one_sequence("spikes", spikes, sample, "(T, B, C)")
    if dt <= 0:
        raise ValueError(f"dt: expected a time step > 0 in ms, got {dt!r}")
    steps, channels = np.nonzero(frames)
    fig, ax = _axes_for(ax, (7.0, 2.8))
    color = None
    if colors is not None:
        if len(colors) != frames.shape[1]:
            raise ValueError(
                f"colors: expected one colour per channel ({frames.shape[1]}), got {len(colors)}"
            )
        color = [colors[c] for c in channels]
    ax.scatter(steps * dt, channels, s=marker_size, c=color, marker="|" if color is None else "o")
    ax.set_xlim(0, frames.shape[0] * dt)
    ax.set_ylim(-0.5, frames.shape[1] - 0.5)
    ax.set(xlabel="time (ms)", ylabel=ylabel)
    if title:
        ax.set_title(title)
    return fig


def plot_spike_rasters(
    inputs: Any,
    outputs: Any,
    *,
    dt: float = 1.0,
    sample: int = 0,
    titles: tuple[str, str] = ("input spikes", "output spikes"),
):
    """Input and output rasters of one sequence, stacked on a shared time axis.

    Args:
        inputs: ``(T, C_in)`` or ``(T, B, C_in)`` input spikes.
        outputs: ``(T, C_out)`` or ``(T, B, C_out)`` output spikes (e.g. a spiking ELM's
            or a LIF layer's), with the same ``T``.
        dt: time step in ms; sample: batch element; titles: panel titles.

    Returns:
        The figure (two axes, one scatter collection each).
    """
    x = _one_sequence("inputs", inputs, sample, "(T, B, C)")
    y = _one_sequence("outputs", outputs, sample, "(T, B, C)")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"outputs: expected the inputs' {x.shape[0]} time steps, got {y.shape[0]}")
    plt = _pyplot()
    ratio = [max(1.0, x.shape[1] ** 0.5), max(1.0, y.shape[1] ** 0.5)]
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(7.0, 4.5), sharex=True, gridspec_kw={"height_ratios": ratio}
    )
    plot_spike_raster(x, dt=dt, ax=top, title=titles[0], ylabel="input channel")
    plot_spike_raster(y, dt=dt, ax=bottom, title=titles[1], ylabel="output channel")
    top.set_xlabel("")
    return fig


def plot_memory_traces(
    memory: Any,
    tau_m: Any,
    *,
    dt: float = 1.0,
    sample: int = 0,
    units: Sequence[int] | None = None,
    ax: Any = None,
    title: str | None = None,
    colorbar: bool = True,
):
    """ELM memory units over time, each coloured by its timescale.

    Args:
        memory: ``(T, M)`` or time-major ``(T, B, M)`` memory states (e.g.
            ``ELM(..., return_states=True)``'s ``record.memory``).
        tau_m: ``(M,)`` memory time constants in ms (``layer.tau_m``).
        dt: time step in ms; sample: batch element.
        units: indices of the units to draw (default: all).
        ax: draw into this Axes (default: a new figure).
        title: panel title.
        colorbar: add a colour bar of ``tau_m`` (log scale, ms).

    Returns:
        The figure: one line per unit, labelled ``"tau_m = ... ms"``, coloured on a log
        scale from the fastest to the slowest unit.
    """
    import matplotlib as mpl
    import numpy as np

    trace = _one_sequence("memory", memory, sample, "(T, B, M)")
    taus = _as_numpy("tau_m", tau_m).reshape(-1)
    if taus.shape[0] != trace.shape[1]:
        raise ValueError(
            f"tau_m: expected one time constant per memory unit ({trace.shape[1]}), got "
            f"{taus.shape[0]}"
        )
    if not np.all(taus > 0):
        raise ValueError("tau_m: expected time constants > 0 (ms)")
    chosen = list(range(trace.shape[1])) if units is None else [int(u) for u in units]
    for u in chosen:
        if not 0 <= u < trace.shape[1]:
            raise ValueError(f"units: expected indices in [0, {trace.shape[1]}), got {u}")
    fig, ax = _axes_for(ax, (7.0, 3.0))
    norm = mpl.colors.LogNorm(vmin=taus.min(), vmax=max(taus.max(), taus.min() * 1.0001))
    cmap = mpl.colormaps["viridis"]
    time = np.arange(trace.shape[0]) * dt
    for u in chosen:
        ax.plot(
            time, trace[:, u], color=cmap(norm(taus[u])), lw=1.0, label=f"tau_m = {taus[u]:.3g} ms"
        )
    ax.set(xlabel="time (ms)", ylabel="memory $m_t$")
    if title:
        ax.set_title(title)
    if colorbar:
        mappable = mpl.cm.ScalarMappable(norm=norm, cmap=cmap)
        fig.colorbar(mappable, ax=ax, label=r"$\tau_m$ (ms)")
    return fig


def _labels(name: str, value: Any):
    import numpy as np

    array = _as_numpy(name, value).reshape(-1)
    if array.size and (not np.all(np.isfinite(array)) or not np.all(array == np.round(array))):
        raise ValueError(f"{name}: expected integer class labels, got non-integer values")
    return array.astype(np.int64)


def plot_confusion(
    targets: Any,
    predictions: Any,
    *,
    num_classes: int | None = None,
    class_names: Sequence[str] | None = None,
    normalize: bool = True,
    ax: Any = None,
    title: str | None = None,
):
    """The per-class confusion matrix: rows the true class, columns the prediction.

    Args:
        targets, predictions: ``(N,)`` integer class labels.
        num_classes: number of classes (default: the largest label + 1).
        class_names: tick labels, one per class.
        normalize: divide each row by its count (the diagonal is then the per-class
            recall); else raw counts.
        ax: draw into this Axes (default: a new figure).
        title: panel title (default: the overall accuracy).

    Returns:
        The figure (one image of the ``(num_classes, num_classes)`` matrix, with a colour
        bar; the numbers written in the cells for up to 20 classes).
    """
    import numpy as np

    true = _labels("targets", targets)
    pred = _labels("predictions", predictions)
    if true.shape != pred.shape:
        raise ValueError(
            f"predictions: expected one per target ({true.shape[0]}), got {pred.shape[0]}"
        )
    if true.size == 0:
        raise ValueError("targets: expected at least one label, got none")
    n = int(max(true.max(), pred.max()) + 1) if num_classes is None else int(num_classes)
    if true.min() < 0 or pred.min() < 0 or max(true.max(), pred.max()) >= n:
        raise ValueError(f"targets, predictions: labels must lie in [0, {n}) (num_classes={n})")
    if class_names is not None and len(class_names) != n:
        raise ValueError(f"class_names: expected {n} names, got {len(class_names)}")
    matrix = np.zeros((n, n))
    np.add.at(matrix, (true, pred), 1.0)
    shown = matrix
    if normalize:
        totals = matrix.sum(1, keepdims=True)
        shown = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
    fig, ax = _axes_for(ax, (0.35 * n + 3.0, 0.35 * n + 2.4))
    image = ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    fig.colorbar(image, ax=ax, label="fraction of the true class" if normalize else "count")
    ticks = np.arange(n)
    names = [str(c) for c in (class_names if class_names is not None else ticks)]
    ax.set_xticks(ticks, names, rotation=90 if n > 10 else 0, fontsize=7 if n > 10 else 9)
    ax.set_yticks(ticks, names, fontsize=7 if n > 10 else 9)
    ax.set(xlabel="predicted class", ylabel="true class")
    if n <= 20:
        for i in range(n):
            for j in range(n):
                if matrix[i, j]:
                    text = f"{shown[i, j]:.2f}" if normalize else f"{int(matrix[i, j])}"
                    ax.text(
                        j,
                        i,
                        text,
                        ha="center",
                        va="center",
                        fontsize=6,
                        color="white" if shown[i, j] > 0.6 * shown.max() else "black",
                    )
    accuracy = float(np.trace(matrix) / matrix.sum())
    ax.set_title(title if title is not None else f"accuracy {accuracy:.1%} ({true.size} samples)")
    return fig


def plot_accuracy_by_group(
    groups: Any,
    correct: Any,
    *,
    group_label: str = "speaker",
    chance: float | None = None,
    ax: Any = None,
    title: str | None = None,
):
    """Accuracy per group (e.g. per speaker): one bar per group, its sample count on top,
    and the overall accuracy as a line.

    Args:
        groups: ``(N,)`` group of each sample (speaker ids; any hashable values).
        correct: ``(N,)`` whether each prediction was right (bools or 0/1).
        group_label: the x axis label.
        chance: draw the chance level as a dashed line.
        ax: draw into this Axes (default: a new figure).
        title: panel title.

    Returns:
        The figure (one bar per group).
    """
    import numpy as np

    try:
        import torch

        if isinstance(groups, torch.Tensor):
            groups = groups.detach().cpu().numpy()
    except ImportError:  # pragma: no cover
        pass
    keys = np.asarray(groups).reshape(-1)
    hits = _as_numpy("correct", correct).reshape(-1)
    if keys.shape != hits.shape:
        raise ValueError(f"correct: expected one per sample ({keys.shape[0]}), got {hits.shape[0]}")
    if hits.size == 0:
        raise ValueError("groups: expected at least one sample, got none")
    if not np.all((hits == 0) | (hits == 1)):
        raise ValueError("correct: expected bools or 0/1 per sample")
    names = sorted(set(keys.tolist()), key=lambda k: (str(type(k)), k))
    accuracy = [float(hits[keys == k].mean()) for k in names]
    counts = [int((keys == k).sum()) for k in names]
    fig, ax = _axes_for(ax, (max(4.0, 0.45 * len(names) + 2.0), 3.0))
    bars = ax.bar(range(len(names)), accuracy, color="tab:blue")
    for bar, count in zip(bars, counts, strict=True):
        ax.annotate(
            f"n={count}",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=7,
        )
    ax.axhline(float(hits.mean()), color="black", lw=1, label=f"all: {hits.mean():.1%}")
    if chance is not None:
        ax.axhline(chance, color="grey", linestyle="--", label="chance")
    ax.set_xticks(range(len(names)), [str(k) for k in names])
    ax.set(xlabel=group_label, ylabel="accuracy", ylim=(0, 1.08))
    ax.legend(fontsize=8, loc="lower right")
    if title:
        ax.set_title(title)
    return fig


def _per_epoch(path: Path, key: str) -> dict[int, float]:
    values: dict[int, float] = {}
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            epoch, v = _float(row.get("epoch")), _float(row.get(key))
            if epoch is not None and v is not None:
                values[int(epoch)] = v
    return values


def plot_learning_curves(
    logs: Mapping[str, str | os.PathLike],
    *,
    monitor: str = "val_accuracy",
    chance: float | None = None,
    ax: Any = None,
    title: str | None = None,
):
    """``monitor`` per epoch for several runs, one line each (e.g. the models of a demo).

    Args:
        logs: label -> a run's Lightning ``logs/metrics.csv``.
        monitor: the per-epoch column to draw (``"val_accuracy"``, ``"val_loss"``, ...).
        chance: draw the chance level as a dashed line.
        ax: draw into this Axes (default: a new figure).
        title: panel title.

    Returns:
        The figure (one line per run with values, labelled by its key).

    Raises:
        FileNotFoundError: a log is missing. ValueError: no log holds ``monitor``.
    """
    curves = {}
    for label, path in logs.items():
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"logs[{label!r}]: {str(path)!r} does not exist")
        values = _per_epoch(path, monitor)
        if values:
            curves[label] = values
    if not curves:
        raise ValueError(f"logs: no per-epoch {monitor!r} values in any of {list(logs)}")
    fig, ax = _axes_for(ax, (5.5, 3.6))
    for label, values in curves.items():
        epochs, ys = zip(*sorted(values.items()), strict=True)
        ax.plot([e + 1 for e in epochs], ys, "o-", ms=3, label=label)
    if chance is not None:
        ax.axhline(chance, color="grey", linestyle="--", label="chance")
    ax.set(xlabel="epoch", ylabel=monitor.replace("_", " "))
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return fig
