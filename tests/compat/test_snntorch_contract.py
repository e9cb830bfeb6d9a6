"""The snnTorch contract of every elm-snn layer (docs/interop.md, "snnTorch").

snnTorch finds neurons only by ``isinstance`` against its own classes, so our layers
subclass ``snntorch.Leaky``; in return they give snnTorch what its reset and truncated-BPTT
code read of a ``Leaky`` (``mem``, ``reset_mem()``, ``init_hidden``, ``output``) and refuse,
with an ``AttributeError``, the LIF parameters of ``Leaky`` that they do not have.
"""

from __future__ import annotations

import pytest
import snntorch
import snntorch.utils
import torch
from torch import nn

from elm_snn.networks import EISNN, LSTM, ChronoLSTM
from elm_snn.neurons import ELM, ALIFNeuron, BranchELM, ELMCell, LIFNeuron, LinearLIF
from elm_snn.neurons.base import LEAKY_NEURON_ATTRIBUTES, StatefulModule

LAYERS = {
    "elm": lambda: ELM(4, 3, 2, init_hidden=True),
    "branch-elm": lambda: BranchELM(
        4, 3, 2, num_branches=2, synapses_per_branch=2, routing_seed=0, init_hidden=True
    ),
    "lif-neuron": lambda: LIFNeuron(4, tau_m_init=5.0, threshold=0.3, init_hidden=True),
    "alif-neuron": lambda: ALIFNeuron(4, tau_m_init=5.0, threshold=0.3, init_hidden=True),
    "linear-lif": lambda: LinearLIF(4, 2, init_hidden=True),
    "eisnn": lambda: EISNN(4, 2, num_neurons=8, synapses_per_neuron=3, init_hidden=True),
    "lstm": lambda: LSTM(4, 3, 2, init_hidden=True),
    "chrono-lstm": lambda: ChronoLSTM(4, 3, 2, t_max_ms=20.0, seed=0, init_hidden=True),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_snntorch_reset_reaches_the_layer_alone(name: str) -> None:
    """``snntorch.utils.reset`` finds the layer as a direct child, with no snnTorch neuron
    beside it, and forgets its stored state; snnTorch's detach reaches it too."""
    layer = LAYERS[name]()
    assert isinstance(layer, StatefulModule) and isinstance(layer, snntorch.Leaky)
    # snnTorch's flags (the LIF neurons' ``output`` names their output kind instead)
    assert layer.init_hidden is True and hasattr(layer, "output")
    with torch.no_grad():
        layer(torch.rand(5, 3, 4))
    assert layer.hidden is not None and layer.mem.shape[0] == 3
    snntorch.Leaky.detach_hidden()  # snnTorch's truncated BPTT: layer.mem.detach_()
    snntorch.utils.reset(nn.Sequential(layer))
    assert layer.hidden is None and layer.mem.numel() == 0


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_leaky_neuron_parameters_are_refused_unless_the_layer_has_its_own(name: str) -> None:
    layer = LAYERS[name]()
    own = set(vars(layer)) | set(layer._parameters) | set(layer._buffers)
    for attribute in sorted(LEAKY_NEURON_ATTRIBUTES - own):
        with pytest.raises(AttributeError):
            getattr(layer, attribute)
        assert not hasattr(layer, attribute)


def test_a_layer_keeps_its_own_neuron_parameters() -> None:
    lif = LIFNeuron(4, tau_m_init=5.0, threshold=0.3)
    assert lif.threshold == pytest.approx(0.3)  # the LIF neuron's own threshold
    cell = ELMCell(4, 3, 2, spiking=True)
    assert callable(cell.spike_grad)  # the spiking cell's own surrogate
    with pytest.raises(AttributeError, match="beta"):
        _ = cell.beta
