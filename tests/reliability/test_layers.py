"""Layers: an empty batch (B = 0) works everywhere; an empty sequence (T = 0) is refused
everywhere, with the same message."""

from __future__ import annotations

import pytest
import torch

from elm_snn.networks import EISNN, LSTM, ChronoLSTM
from elm_snn.neurons import ELM, BranchELM, LinearALIF, LinearLIF

LAYERS = {
    "elm-fused": lambda bf: ELM(8, 4, 3, backend="fused", batch_first=bf),
    "elm-reference": lambda bf: ELM(8, 4, 3, backend="reference", batch_first=bf),
    "elm-auto": lambda bf: ELM(8, 4, 3, batch_first=bf),
    "branch-elm-fused": lambda bf: BranchELM(
        8, 4, 3, num_branches=2, synapses_per_branch=4, backend="fused", batch_first=bf
    ),
    "branch-elm-synapse-traces": lambda bf: BranchELM(
        8, 4, 3, num_branches=2, synapses_per_branch=4, trace_mode="synapse", batch_first=bf
    ),
    "branch-elm-reference": lambda bf: BranchELM(
        8, 4, 3, num_branches=2, synapses_per_branch=4, backend="reference", batch_first=bf
    ),
    "lif": lambda bf: LinearLIF(8, 3, batch_first=bf),
    "alif": lambda bf: LinearALIF(8, 3, batch_first=bf),
    "eisnn-dense": lambda bf: EISNN(
        8, 3, num_neurons=10, synapses_per_neuron=4, backend="dense", batch_first=bf
    ),
    "eisnn-gather": lambda bf: EISNN(
        8, 3, num_neurons=10, synapses_per_neuron=4, backend="gather", batch_first=bf
    ),
    "lstm": lambda bf: LSTM(8, 4, 3, batch_first=bf),
    "chrono-lstm": lambda bf: ChronoLSTM(8, 4, 3, t_max_ms=20.0, batch_first=bf),
}


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_empty_batch_gives_empty_outputs_and_gradients(name, batch_first):
    layer = LAYERS[name](batch_first)
    shape = (0, 5, 8) if batch_first else (5, 0, 8)
    x = torch.rand(*shape, requires_grad=True)
    y, state = layer(x)[:2]
    assert y.shape[:2] == shape[:2] and y.numel() == 0
    y.sum().backward()
    assert x.grad is not None and x.grad.shape == x.shape
    # the (empty) final state can be fed back in
    y2 = layer(torch.rand(*shape), state)[0]
    assert y2.numel() == 0


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_empty_sequence_is_refused_by_every_layer(name, batch_first):
    layer = LAYERS[name](batch_first)
    shape = (2, 0, 8) if batch_first else (0, 2, 8)
    with pytest.raises(ValueError, match=r"x: expected at least one time step \(T >= 1\)"):
        layer(torch.rand(*shape))


def test_fused_kernel_empty_batch_matches_reference_shapes():
    from elm_snn.kernels.fused import fused_elm_sequence

    layer = ELM(8, 4, 3)
    y, final, _ = fused_elm_sequence(torch.rand(5, 0, 8), None, layer.functional_parameters())
    assert y.shape == (5, 0, 3) and final.memory.shape == (0, 4)
