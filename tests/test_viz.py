"""elm_snn.viz: the plots return figures with the expected artists, and refuse bad input."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.image import AxesImage  # noqa: E402

import elm_snn  # noqa: E402
from elm_snn import viz  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_spike_raster_draws_one_point_per_spike():
    spikes = torch.zeros(50, 3, 8)
    spikes[[2, 10, 10, 49], 1, [0, 3, 7, 7]] = 1.0
    spikes[5, 0, 1] = 1.0  # another sample: not shown
    fig = viz.plot_spike_raster(spikes, dt=2.0, sample=1, title="in")
    (ax,) = fig.axes
    (points,) = [c for c in ax.collections if isinstance(c, PathCollection)]
    offsets = np.asarray(points.get_offsets())
    assert sorted(map(tuple, offsets)) == [(4.0, 0.0), (20.0, 3.0), (20.0, 7.0), (98.0, 7.0)]
    assert ax.get_xlabel() == "time (ms)" and ax.get_title() == "in"
    assert ax.get_xlim() == (0.0, 100.0)
    # per-channel colours, and a (T, C) input
    colors = ["red"] * 4 + ["blue"] * 4
    fig = viz.plot_spike_raster(spikes[:, 1], colors=colors)
    (points,) = fig.axes[0].collections
    assert len(points.get_facecolors()) == 4


def test_spike_rasters_share_time():
    x = (torch.rand(40, 2, 12) < 0.2).float()
    y = (torch.rand(40, 2, 3) < 0.1).float()
    fig = viz.plot_spike_rasters(x, y, dt=5.0)
    top, bottom = fig.axes
    assert top.get_title() == "input spikes" and bottom.get_title() == "output spikes"
    assert len(top.collections[0].get_offsets()) == int(x[:, 0].sum())
    assert len(bottom.collections[0].get_offsets()) == int(y[:, 0].sum())
    assert top.get_shared_x_axes().joined(top, bottom)
    with pytest.raises(ValueError, match="outputs: expected the inputs' 40 time steps"):
        viz.plot_spike_rasters(x, y[:10])


def test_memory_traces_colour_by_timescale():
    torch.manual_seed(0)
    elm = elm_snn.ELM(6, 5, 2, dt=2.0, tau_m_max=200.0)
    with torch.no_grad():
        _, _, record = elm(torch.rand(30, 2, 6), return_states=True)
    fig = viz.plot_memory_traces(record.memory, elm.tau_m, dt=2.0)
    ax = fig.axes[0]
    lines = ax.get_lines()
    assert len(lines) == 5
    taus = elm.tau_m.detach().numpy()
    assert [line.get_label() for line in lines] == [f"tau_m = {t:.3g} ms" for t in taus]
    np.testing.assert_allclose(lines[0].get_xdata(), np.arange(30) * 2.0)
    np.testing.assert_allclose(lines[3].get_ydata(), record.memory[:, 0, 3].numpy())
    # slowest and fastest unit get the two ends of the colour map
    assert lines[0].get_color() != lines[-1].get_color()
    assert len(fig.axes) == 2 and "tau_m" in fig.axes[1].get_ylabel()  # the colour bar
    fig = viz.plot_memory_traces(record.memory, elm.tau_m, units=[0, 4], colorbar=False)
    assert len(fig.axes[0].get_lines()) == 2 and len(fig.axes) == 1
    with pytest.raises(ValueError, match="tau_m: expected one time constant per memory unit"):
        viz.plot_memory_traces(record.memory, elm.tau_m[:3])
    with pytest.raises(ValueError, match=r"sample: expected a batch index in \[0, 2\)"):
        viz.plot_memory_traces(record.memory, elm.tau_m, sample=2)
    with pytest.raises(ValueError, match="memory: expected"):
        viz.plot_memory_traces(record.memory[0, 0], elm.tau_m)


def test_confusion_matrix():
    targets = torch.tensor([0, 0, 1, 1, 2, 2, 2])
    predictions = torch.tensor([0, 1, 1, 1, 2, 0, 2])
    fig = viz.plot_confusion(targets, predictions, class_names=["a", "b", "c"])
    ax = fig.axes[0]
    (image,) = [a for a in ax.get_images() if isinstance(a, AxesImage)]
    expected = np.array([[0.5, 0.5, 0], [0, 1, 0], [1 / 3, 0, 2 / 3]])
    np.testing.assert_allclose(image.get_array(), expected)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert ax.get_title() == "accuracy 71.4% (7 samples)"
    counts = viz.plot_confusion(targets, predictions, normalize=False, num_classes=4)
    assert counts.axes[0].get_images()[0].get_array().shape == (4, 4)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\)"):
        viz.plot_confusion(targets, predictions, num_classes=2)
    with pytest.raises(ValueError, match="predictions: expected one per target"):
        viz.plot_confusion(targets, predictions[:3])


def test_accuracy_by_speaker_bars():
    speakers = np.array([3, 3, 1, 1, 1, 7])
    correct = torch.tensor([True, False, True, True, True, False])
    fig = viz.plot_accuracy_by_group(speakers, correct, chance=0.1)
    ax = fig.axes[0]
    heights = [bar.get_height() for bar in ax.patches]
    assert heights == [1.0, 0.5, 0.0]  # speakers 1, 3, 7
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "3", "7"]
    assert ax.get_xlabel() == "speaker"
    with pytest.raises(ValueError, match="correct: expected bools or 0/1"):
        viz.plot_accuracy_by_group(speakers, np.full(6, 0.5))


def test_save_figure_writes_png(tmp_path):
    fig = viz.plot_spike_raster(np.eye(5))
    out = viz.save_figure(fig, tmp_path / "raster.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_tutorial_01_uses_the_plots():
    from pathlib import Path

    source = (Path(__file__).resolve().parents[1] / "tutorials" / "01_elm_basics.py").read_text()
    for name in ("plot_spike_raster", "plot_spike_rasters", "plot_memory_traces", "plot_confusion"):
        assert f"viz.{name}(" in source, name


def _write_log(path, values):
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = ["epoch,step,train_loss_epoch,val_accuracy"]
    for epoch, v in enumerate(values):
        rows += [f"{epoch},{epoch},,{v}", f"{epoch},{epoch},1.0,"]
    path.write_text("\n".join(rows) + "\n")


def test_learning_curves(tmp_path):
    _write_log(tmp_path / "a.csv", [0.1, 0.3, 0.5])
    _write_log(tmp_path / "b.csv", [0.2, 0.2])
    fig = viz.plot_learning_curves(
        {"elm": tmp_path / "a.csv", "lstm": tmp_path / "b.csv"}, chance=0.05
    )
    lines = fig.axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["elm", "lstm", "chance"]
    np.testing.assert_allclose(lines[0].get_ydata(), [0.1, 0.3, 0.5])
    np.testing.assert_allclose(lines[0].get_xdata(), [1, 2, 3])
    with pytest.raises(FileNotFoundError, match="logs\\['x'\\]"):
        viz.plot_learning_curves({"x": tmp_path / "missing.csv"})
    with pytest.raises(ValueError, match="no per-epoch 'val_f1'"):
        viz.plot_learning_curves({"elm": tmp_path / "a.csv"}, monitor="val_f1")


def test_demo_figure_is_written(tmp_path):
    from elm_snn.train.demo import demo_figure

    rows = [
        {"model": "elm", "bin_size_ms": 20.0, "seed": 0, "test_accuracy": 0.4},
        {"model": "lstm", "bin_size_ms": 20.0, "seed": 0, "test_accuracy": 0.2},
    ]
    _write_log(tmp_path / "elm-bin20ms-seed0" / "logs" / "metrics.csv", [0.1, 0.4])
    _write_log(tmp_path / "lstm-bin20ms-seed0" / "logs" / "metrics.csv", [0.1, 0.2])
    path = demo_figure(rows, tmp_path, 1 / 19, 0.1)
    assert path == tmp_path / "demo.png" and path.read_bytes()[:4] == b"\x89PNG"
