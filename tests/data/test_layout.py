"""Layout safety: a batch-first batch of the library's own frames never passes silently as
time-major (plain DataLoader, Tonic's PadTensors), and ``SHDAdding`` speaks Tonic's
``train=``."""

from __future__ import annotations

import pickle

import pytest
import torch
from tonic.collation import PadTensors
from torch.utils.data import DataLoader

import elm_snn
from elm_snn.data import SHDAdding, collate_frames
from elm_snn.data.layout import Frames, frames
from elm_snn.networks import EISNN

BIN_MS = 100  # 2 digits of 1 s -> T = 20 bins


def _adding(shd_dir, **kw):
    return SHDAdding(shd_dir, "test", bin_size_ms=BIN_MS, pairs_per_epoch=6, **kw)


def test_samples_say_they_are_one_time_major_sample(shd_dir):
    x, _ = _adding(shd_dir)[0]
    assert isinstance(x, Frames) and x.frame_axes == "TC" and x.shape == (20, 700)
    assert x.dtype == torch.float32


@pytest.mark.parametrize(
    "collate",
    [None, PadTensors(), PadTensors(batch_first=True)],
    ids=["default_collate", "PadTensors()", "PadTensors(batch_first=True)"],
)
def test_batch_first_batch_into_time_major_elm_raises(shd_dir, collate):
    loader = DataLoader(_adding(shd_dir), batch_size=4, collate_fn=collate)
    x, _ = next(iter(loader))
    assert isinstance(x, Frames) and x.frame_axes == "BTC" and x.shape == (4, 20, 700)
    elm = elm_snn.ELM(700, 8, 19, dt=float(BIN_MS))
    with pytest.raises(ValueError, match=r"batch-first \(B, T, C\).*batch_first=True"):
        elm(x)
    with pytest.raises(ValueError, match="batch-first"):
        elm(x.to("cpu").float().contiguous())  # layout-keeping methods keep the tag
    # the fixes named in the message both work, and agree
    y_bf, _ = elm_snn.ELM(700, 8, 19, dt=float(BIN_MS), batch_first=True)(x)
    torch.manual_seed(0)
    tm = elm_snn.ELM(700, 8, 19, dt=float(BIN_MS))
    bf = elm_snn.ELM(700, 8, 19, dt=float(BIN_MS), batch_first=True)
    bf.load_state_dict(tm.state_dict())
    y_tm, _ = tm(x.transpose(0, 1))
    y_bf, _ = bf(x)
    assert type(y_tm) is torch.Tensor and type(y_bf) is torch.Tensor  # tag dropped inside
    torch.testing.assert_close(y_bf.transpose(0, 1), y_tm)


def test_time_major_collates_run(shd_dir):
    elm = elm_snn.ELM(700, 8, 19, dt=float(BIN_MS))
    for collate in (collate_frames, PadTensors(batch_first=False)):
        x, _ = next(iter(DataLoader(_adding(shd_dir), batch_size=3, collate_fn=collate)))
        assert x.frame_axes == "TBC" and x.shape == (20, 3, 700)
        y, _ = elm(x)
        assert y.shape == (20, 3, 19)
        with pytest.raises(ValueError, match=r"time-major \(T, B, C\).*batch_first=False"):
            elm_snn.ELM(700, 8, 19, batch_first=True)(x)


def test_tag_survives_dataloader_workers(shd_dir):
    loader = DataLoader(_adding(shd_dir), batch_size=2, num_workers=1)
    x, _ = next(iter(loader))
    assert isinstance(x, Frames) and x.frame_axes == "BTC"
    assert pickle.loads(pickle.dumps(x)).frame_axes == "BTC"


@pytest.mark.parametrize(
    "layer",
    [
        lambda: elm_snn.BranchELM(700, 4, 2, num_branches=5, synapses_per_branch=3),
        lambda: elm_snn.LIFNeuron(700),
        lambda: elm_snn.LinearALIF(700, 2),
        lambda: EISNN(700, 2, num_neurons=8, synapses_per_neuron=4),
        lambda: elm_snn.LSTM(700, 4, 2),
    ],
    ids=["branch-elm", "lif-neuron", "linear-alif", "eisnn", "lstm"],
)
def test_every_sequence_layer_checks(shd_dir, layer):
    x, _ = next(iter(DataLoader(_adding(shd_dir), batch_size=2)))
    with pytest.raises(ValueError, match="batch-first"):
        layer()(x)


def test_cells_refuse_a_sample_or_a_batch_of_sequences(shd_dir):
    sample, _ = _adding(shd_dir)[0]
    cell = elm_snn.ELMCell(700, 4, 2)
    with pytest.raises(ValueError, match=r"x_t: got the frames of one sample, \(T, C\)"):
        cell(sample)
    batch, _ = next(iter(DataLoader(_adding(shd_dir), batch_size=2)))
    with pytest.raises(ValueError, match="x_t: got a whole batch of sequences"):
        cell(batch)
    for x_t in batch.transpose(0, 1):  # the user took charge of the layout: plain tensors
        cell(x_t)


def test_frames_propagation_rules():
    sample = frames(torch.rand(5, 3), "TC")
    assert sample.double().frame_axes == "TC" and sample.clone().frame_axes == "TC"
    padded = torch.cat([sample, torch.zeros(2, 3)])
    assert padded.frame_axes == "TC" and padded.shape == (7, 3)
    assert torch.stack([sample, sample], 1).frame_axes == "TBC"
    assert torch.stack([sample, sample], -3).frame_axes == "BTC"
    for plain in (sample * 2, sample.transpose(0, 1), sample[1:], torch.stack([sample], 2)):
        assert type(plain) is torch.Tensor
    # stacking a sample with something else has no known layout
    assert type(torch.stack([sample, torch.zeros(5, 3)])) is torch.Tensor
    assert "Frames[TC]" in repr(sample)
    with pytest.raises(ValueError, match="axes: expected one of"):
        frames(torch.zeros(2, 2), "CT")
    with pytest.raises(ValueError, match="needs a 3-D tensor"):
        frames(torch.zeros(2, 2), "BTC")


def test_shd_adding_takes_tonic_train_flag(shd_dir):
    by_flag = SHDAdding(shd_dir, train=True, pairs_per_epoch=10)
    by_split = SHDAdding(shd_dir, "train", pairs_per_epoch=10)
    assert by_flag.split == "train" and (by_flag.pairs == by_split.pairs).all()
    assert SHDAdding(shd_dir, train=False).split == "test"
    assert SHDAdding(shd_dir, "test", train=False).split == "test"
    assert SHDAdding(shd_dir).split == "train"
    with pytest.raises(ValueError, match="train=True means split='train'"):
        SHDAdding(shd_dir, "validation", train=True)
    with pytest.raises(TypeError, match="train: expected a bool"):
        SHDAdding(shd_dir, train=1)


def test_library_collates_say_time_major_for_any_frames():
    import numpy as np

    from elm_snn.data import pad_collate_time_major

    batch = [(np.ones((4, 3), dtype=np.float32), 0), (np.zeros((4, 3), dtype=np.float32), 1)]
    for collate in (collate_frames, pad_collate_time_major):
        x, y = collate(batch)
        assert isinstance(x, Frames) and x.frame_axes == "TBC" and x.shape == (4, 2, 3)
        with pytest.raises(ValueError, match="time-major"):
            elm_snn.ELM(3, 2, 2, batch_first=True)(x)
        assert elm_snn.ELM(3, 2, 2)(x)[0].shape == (4, 2, 2)


def test_stored_state_batch_flags_a_swapped_layout():
    elm = elm_snn.ELM(5, 3, 2, init_hidden=True)
    elm(torch.rand(20, 4, 5))  # time-major: T = 20, B = 4; state of batch 4 stored
    with pytest.warns(UserWarning, match=r"stored state \(init_hidden\) has batch 4"):
        elm(torch.rand(4, 20, 5))  # batch-first by mistake: T axis holds the 4
    import warnings

    elm.reset_hidden()  # the mistaken call stored a state of "batch" 20
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        elm(torch.rand(20, 4, 5))
        elm(torch.rand(20, 6, 5))  # a genuinely new batch size: no warning
        elm(torch.rand(15, 6, 5))  # the same batch, another chunk: no warning
