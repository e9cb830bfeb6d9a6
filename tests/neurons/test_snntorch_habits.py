"""snnTorch's habits on elm-snn layers: truncated BPTT (``elm_snn.detach``, snnTorch's own
``detach_hidden``), ``output=True`` records that ``torch.stack``, ``init_hidden`` layers in
an ``nn.Sequential``, per-step weightless LIF/ALIF, a stored state that moves with
``.to()``."""

from __future__ import annotations

import pytest
import snntorch as snn
import torch
from torch import nn

import elm_snn
from elm_snn import ALIFCell, ELMCell, LIFCell
from elm_snn.functional.lif import ALIFState, LIFState


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(4, 8),
        snn.Leaky(beta=0.9, init_hidden=True),
        ELMCell(8, 3, 2, init_hidden=True),
    )


def _chunk_loss(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return torch.stack([net(x_t) for x_t in x]).square().mean()


def _two_chunks(net: nn.Module, between) -> None:
    x = torch.rand(10, 3, 4)
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    for chunk in (x[:5], x[5:]):
        opt.zero_grad()
        _chunk_loss(net, chunk).backward()
        opt.step()
        between(net)


def test_truncated_bptt_needs_a_detach():
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        _two_chunks(_net(), lambda net: None)


@pytest.mark.parametrize(
    "between",
    [
        elm_snn.detach,
        lambda net: snn.Leaky.detach_hidden(),  # snnTorch's own, every registered Leaky
        lambda net: [m.detach_hidden() for m in net if hasattr(m, "detach_hidden")],
        # what snnTorch's detach_hidden does per neuron
        lambda net: [net[1].mem.detach_(), net[2].mem.detach_()],
    ],
    ids=["elm_snn.detach", "snn.Leaky.detach_hidden", "layer.detach_hidden", "mem.detach_"],
)
def test_truncated_bptt_in_snntorch_style(between):
    net = _net()
    _two_chunks(net, between)
    cell = net[2]
    assert cell.hidden is not None  # detached, not reset: the state carries on
    assert not cell.hidden.memory.requires_grad and not cell.hidden.trace.requires_grad
    assert not net[1].mem.requires_grad


def test_detach_keeps_values_and_refuses_non_modules():
    net = _net()
    net(torch.rand(3, 4))
    before = net[2].hidden
    elm_snn.detach(net)
    assert torch.equal(net[2].hidden.memory, before.memory)
    with pytest.raises(TypeError, match="module: expected a torch.nn.Module, got str"):
        elm_snn.detach("net")


def test_output_records_stack_like_snntorch():
    cell = ELMCell(4, 3, 2, init_hidden=True, output=True)
    leaky = snn.Leaky(beta=0.9, init_hidden=True, output=True)
    y_rec, mem_rec, spk_rec, leaky_rec = [], [], [], []
    for x_t in torch.rand(5, 2, 4):
        y, mem = cell(x_t)
        spk, lmem = leaky(x_t)
        y_rec.append(y)
        mem_rec.append(mem)
        spk_rec.append(spk)
        leaky_rec.append(lmem)
    assert torch.stack(mem_rec).shape == (5, 2, 3)
    assert torch.stack(leaky_rec).shape == (5, 2, 4)  # the same habit, side by side
    assert torch.equal(torch.stack(mem_rec)[-1], cell.hidden.memory)
    assert cell.hidden.trace.shape == (2, 4)  # the full state, under .hidden


def test_sequential_with_init_hidden_sequence_layers():
    torch.manual_seed(0)
    for layer in (
        elm_snn.ELM(8, 4, 2, init_hidden=True),
        elm_snn.BranchELM(8, 4, 2, num_branches=2, synapses_per_branch=4, init_hidden=True),
        elm_snn.LIFNeuron(2, init_hidden=True),
        elm_snn.LinearLIF(8, 1, init_hidden=True),
        elm_snn.LSTM(8, 4, 2, init_hidden=True),
    ):
        width = 2 if type(layer) is elm_snn.LIFNeuron else 8
        model = nn.Sequential(nn.Linear(8, width), layer, nn.Linear(2, 2))
        y = model(torch.rand(6, 3, 8))
        assert y.shape == (6, 3, 2)
        # Norse's call with a state (None included) still returns (y, state)
        out = layer(torch.rand(6, 3, width), None)
        assert isinstance(out, tuple) and len(out) == 2


@pytest.mark.parametrize("cls", [LIFCell, ALIFCell])
def test_weightless_cells_step_the_sequence_neurons(cls):
    torch.manual_seed(0)
    sequence_cls = elm_snn.LIFNeuron if cls is LIFCell else elm_snn.ALIFNeuron
    options = dict(tau_m_init=5.0, threshold=0.3, reset="subtract")
    seq = sequence_cls(3, **options).double()
    cell = cls(3, init_hidden=True, **options).double()
    cell.load_state_dict(seq.state_dict())
    x = 2 * torch.rand(12, 2, 3, dtype=torch.float64)
    spikes, final = seq(x)
    stepped = torch.stack([cell(x_t) for x_t in x])
    torch.testing.assert_close(stepped, spikes, rtol=0, atol=0)
    torch.testing.assert_close(cell.hidden.v, final.v, rtol=0, atol=1e-15)
    state_type = LIFState if cls is LIFCell else ALIFState
    assert isinstance(cell.hidden, state_type)
    # Norse's call, and snnTorch's output=True
    spk, state = cls(3, **options).double()(x[0], None)
    assert isinstance(state, state_type) and spk.shape == (2, 3)
    recording = cls(3, init_hidden=True, output=True, **options)
    spk, v = recording(torch.rand(2, 3))
    assert type(v) is torch.Tensor and v is recording.hidden.v
    # where snn.Leaky goes
    model = nn.Sequential(nn.Linear(5, 3), cls(3, init_hidden=True))
    assert model(torch.rand(4, 5)).shape == (4, 3)
    with pytest.raises(TypeError, match="batch_first: a cell takes one time step"):
        cls(3, batch_first=True)


@pytest.mark.parametrize(
    "make",
    [
        lambda: ELMCell(4, 3, 2, init_hidden=True),
        lambda: elm_snn.ELM(4, 3, 2, init_hidden=True),
        lambda: LIFCell(4, init_hidden=True),
    ],
    ids=["elm-cell", "elm", "lif-cell"],
)
def test_stored_state_moves_with_to(make):
    layer = make()
    x = torch.rand(2, 4) if not isinstance(layer, elm_snn.ELM) else torch.rand(3, 2, 4)
    layer(x)
    layer.double()
    assert all(t.dtype == torch.float64 for t in layer.hidden)
    layer(x.double())  # continues from the moved state
    assert all(t.dtype == torch.float64 for t in layer.hidden)
    layer.to(torch.float32)
    assert all(t.dtype == torch.float32 for t in layer.hidden)
