"""The stateful-layer protocol every layer shares, as snnTorch, Norse and torch users meet it.

* snnTorch: ``snntorch.utils.reset(net)`` resets our layers; ``output=True``; the stored
  state is dropped when the batch changes.
* Norse: ``(output, state)`` calls, ``SequentialState`` and ``Lift`` composition, states
  that move with ``.to()``.
* torch: ``torch.autocast`` around ``Linear -> layer`` runs, the recurrence in float32.
* One accessor name (``functional_parameters``), one ``check_int``, ``init_hidden`` checked
  the same way everywhere, the E/I network on the functional LIF step.
"""

from __future__ import annotations

import gc
import warnings

import numpy as np
import pytest
import snntorch
import snntorch.utils
import torch
from torch import nn

import elm_snn
from elm_snn.functional.elm import ELMState
from elm_snn.functional.lif import ALIFState, LIFState
from elm_snn.networks import EISNN, LSTM, ChronoLSTM, EISNNState, LSTMState
from elm_snn.neurons import (
    ALIF,
    ELM,
    LIF,
    ALIFNeuron,
    BranchELM,
    BranchELMCell,
    ELMCell,
    LIFNeuron,
    LinearALIF,
    LinearLIF,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import norse.torch as norse

NUM_INPUTS = 6

#: every sequence layer, built for NUM_INPUTS inputs (name -> factory(**options))
SEQUENCE_LAYERS = {
    "elm": lambda **o: ELM(NUM_INPUTS, 3, 2, **o),
    "branch-elm": lambda **o: BranchELM(
        NUM_INPUTS, 3, 2, num_branches=2, synapses_per_branch=4, routing_seed=0, **o
    ),
    "lif-neuron": lambda **o: LIFNeuron(NUM_INPUTS, tau_m_init=5.0, threshold=0.3, **o),
    "alif-neuron": lambda **o: ALIFNeuron(NUM_INPUTS, tau_m_init=5.0, threshold=0.3, **o),
    "linear-lif": lambda **o: LinearLIF(NUM_INPUTS, 2, **o),
    "linear-alif": lambda **o: LinearALIF(NUM_INPUTS, 2, **o),
    "eisnn": lambda **o: EISNN(NUM_INPUTS, 2, num_neurons=12, synapses_per_neuron=5, **o),
    "lstm": lambda **o: LSTM(NUM_INPUTS, 4, 2, **o),
    "chrono-lstm": lambda **o: ChronoLSTM(NUM_INPUTS, 4, 2, t_max_ms=20.0, seed=0, **o),
}
CELLS = {
    "elm-cell": lambda **o: ELMCell(NUM_INPUTS, 3, 2, **o),
    "branch-elm-cell": lambda **o: BranchELMCell(
        NUM_INPUTS, 3, 2, num_branches=2, synapses_per_branch=4, routing_seed=0, **o
    ),
}


def _drive(steps: int, batch: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return 2.0 * torch.rand(steps, batch, NUM_INPUTS, generator=gen)


def _output(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The layer's output for a sequence (cells are stepped through it, snnTorch-style with
    ``init_hidden``, else passing the state along)."""
    if not isinstance(layer, ELMCell):
        # with init_hidden, layer(x) returns only y (the state stays inside)
        return layer(x) if layer.init_hidden else layer(x)[0]
    if layer.init_hidden:
        return torch.stack([layer(x_t) for x_t in x])
    state, ys = None, []
    for x_t in x:
        y, state = layer(x_t, state)
        ys.append(y)
    return torch.stack(ys)


#: layers whose outputs are continuous (no spikes that a rounding could flip)
CONTINUOUS = {"elm", "branch-elm", "lstm", "chrono-lstm", "elm-cell", "branch-elm-cell"}


# ----------------------------------------------------------------------------- snnTorch
@pytest.mark.parametrize("name", sorted(SEQUENCE_LAYERS) + sorted(CELLS))
def test_snntorch_reset_returns_our_layer_to_its_initial_state(name):
    torch.manual_seed(0)
    factory = {**SEQUENCE_LAYERS, **CELLS}[name]
    layer = factory(init_hidden=True)
    leaky = snntorch.Leaky(beta=0.9, init_hidden=True)
    net = nn.ModuleList([layer, leaky])  # our layer and snnTorch's, direct children of net
    x = _drive(5, 3)
    with torch.no_grad():
        first = _output(layer, x)
        second = _output(layer, x)
        leaky(torch.ones(3, 2))
    assert not torch.equal(first, second), "the stored state should carry over"
    assert layer.hidden is not None and leaky.mem.abs().sum() > 0

    snntorch.utils.reset(net)  # snnTorch's own reset, unpatched

    assert layer.hidden is None
    assert leaky.mem.abs().sum() == 0
    with torch.no_grad():
        assert torch.equal(_output(layer, x), first)


def test_snntorch_reset_mem_and_registry():
    cell = ELMCell(4, 3, 2, init_hidden=True)
    assert isinstance(cell, snntorch.Leaky)  # how snnTorch's reset finds it
    cell(torch.rand(2, 4))
    assert cell.mem.shape == (2, 3)  # the hook shows the memory (detached)
    cell.reset_mem()  # snnTorch's per-layer reset
    assert cell.hidden is None and cell.mem.numel() == 0
    cell(torch.rand(2, 4))
    with pytest.raises(ValueError, match="mem: elm-snn layers accept only zeros"):
        cell.mem = torch.ones(2, 3)
    # the registry holds weak references: dropped layers do not stay alive in it (automatic
    # garbage collection is paused so that other tests' garbage does not change the count)
    import copy

    gc.collect()
    gc.disable()
    try:
        count = len(snntorch.SpikingNeuron.instances)
        layers = [ELM(4, 3, 2) for _ in range(5)]
        assert len(snntorch.SpikingNeuron.instances) == count + 5
        del layers
        gc.collect()
        assert len(snntorch.SpikingNeuron.instances) == count
        clone = copy.deepcopy(cell)  # copies join the registry too
        assert len(snntorch.SpikingNeuron.instances) == count + 1
    finally:
        gc.enable()
    clone(torch.rand(2, 4))
    snntorch.utils.reset(nn.Sequential(clone))
    assert clone.hidden is None


def test_output_flag_behaves_as_snntorch():
    x = torch.rand(2, 4)
    leaky = {o: snntorch.Leaky(beta=0.5, init_hidden=True, output=o) for o in (False, True)}
    for output in (False, True):
        cell = ELMCell(4, 3, 2, init_hidden=True, output=output)
        ours, theirs = cell(x), leaky[output](x)
        assert isinstance(ours, tuple) == isinstance(theirs, tuple) == output
        if output:
            y, mem = ours  # tensors, as snnTorch's (spk, mem); the full state is .hidden
            assert y.shape == (2, 2) and type(mem) is torch.Tensor and mem.shape == (2, 3)
            assert isinstance(cell.hidden, ELMState) and mem is cell.hidden.memory
    # without init_hidden the state always comes back, with or without output
    for output in (False, True):
        y, state = ELMCell(4, 3, 2, output=output)(x)
        assert isinstance(state, ELMState)
    with pytest.raises(TypeError, match="output: expected a bool"):
        ELMCell(4, 3, 2, output=1)


@pytest.mark.parametrize("name", sorted(SEQUENCE_LAYERS) + sorted(CELLS))
def test_stored_state_is_dropped_when_the_batch_changes(name):
    torch.manual_seed(0)
    factory = {**SEQUENCE_LAYERS, **CELLS}[name]
    layer = factory(init_hidden=True)
    fresh = factory()
    fresh.load_state_dict(layer.state_dict())
    with torch.no_grad():
        _output(layer, _drive(4, 2))
        x3 = _drive(4, 3, seed=1)
        expected = _output(fresh, x3)
        assert torch.equal(_output(layer, x3), expected)  # batch 2 -> 3: a new sequence
        assert not torch.equal(_output(layer, x3), expected)  # same batch: continues


@pytest.mark.parametrize(
    "factory",
    [*SEQUENCE_LAYERS.values(), *CELLS.values()],
    ids=[*SEQUENCE_LAYERS, *CELLS],
)
def test_init_hidden_must_be_a_bool_everywhere(factory):
    with pytest.raises(TypeError, match="init_hidden: expected a bool, got int 1"):
        factory(init_hidden=1)


# ----------------------------------------------------------------------------- Norse
@pytest.mark.parametrize("batch", [1, 2, 3])
def test_norse_sequential_state_with_init_hidden_cell(batch):
    torch.manual_seed(0)
    cell = ELMCell(4, 3, 2, init_hidden=True)
    reference = ELMCell(4, 3, 2)
    reference.load_state_dict(cell.state_dict())
    model = norse.SequentialState(cell)
    x = torch.rand(3, batch, 4)
    state, ref_state = None, None
    for x_t in x:
        y, state = model(x_t, state)
        y_ref, ref_state = reference(x_t, ref_state)
        assert y.shape == (batch, 2)
        assert isinstance(state[0], ELMState) and state[0].memory.shape == (batch, 3)
        assert torch.equal(y, y_ref)


def test_sequential_state_elm_then_norse_lif_and_lift():
    torch.manual_seed(0)
    elm = ELM(4, 3, 5)
    lif = norse.LIF()
    model = norse.SequentialState(elm, lif)
    x = torch.rand(8, 2, 4)
    spikes, (elm_state, lif_state) = model(x)
    y, final = elm(x)
    expected, _ = norse.LIF()(y)
    assert spikes.shape == (8, 2, 5) and torch.equal(spikes, expected)
    assert isinstance(elm_state, ELMState) and torch.equal(elm_state.memory, final.memory)
    # a second call continues from the returned states
    spikes2, _ = model(x, [elm_state, lif_state])
    y2, _ = elm(x, final)
    assert torch.equal(spikes2, norse.LIF()(y2, lif_state)[0])

    # Lift(ELMCell) steps the cell through time and equals the sequence layer
    cell = ELMCell(4, 3, 5).double()
    seq = ELM(4, 3, 5, backend="reference").double()
    seq.load_state_dict(cell.state_dict())
    xd = x.double()
    y_lift, state = norse.Lift(cell)(xd)
    y_seq, final = seq(xd)
    assert y_lift.shape == (8, 2, 5)
    torch.testing.assert_close(y_lift, y_seq, rtol=0, atol=1e-12)
    torch.testing.assert_close(state.memory, final.memory, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "state",
    [
        ELMState(torch.zeros(2, 3), torch.ones(2, 4)),
        LIFState(torch.zeros(2, 3)),
        ALIFState(torch.zeros(2, 3), torch.ones(2, 3)),
        LSTMState(torch.zeros(2, 3), torch.ones(2, 3)),
        EISNNState(*(torch.full((2, 3), float(i)) for i in range(5))),
    ],
    ids=lambda s: type(s).__name__,
)
def test_states_are_namedtuples_that_move_with_to(state):
    moved = state.to(torch.float64)
    assert type(moved) is type(state) and moved._fields == state._fields
    for before, after in zip(state, moved, strict=True):
        assert after.dtype == torch.float64 and torch.equal(after, before.double())
    assert elm_snn.neurons.state_to(state, torch.float16)[0].dtype == torch.float16


def test_layers_return_their_state_types():
    x = _drive(4, 2)
    assert isinstance(LSTM(NUM_INPUTS, 4, 2)(x)[1], LSTMState)
    assert isinstance(LIFNeuron(NUM_INPUTS)(x)[1], LIFState)
    assert isinstance(ALIFNeuron(NUM_INPUTS)(x)[1], ALIFState)


# ----------------------------------------------------------------------------- autocast
@pytest.mark.parametrize("name", sorted(SEQUENCE_LAYERS) + sorted(CELLS))
def test_autocast_linear_then_layer_runs_in_float32(name):
    torch.manual_seed(0)
    factory = {**SEQUENCE_LAYERS, **CELLS}[name]
    linear = nn.Linear(NUM_INPUTS, NUM_INPUTS)
    layer = factory()
    x = _drive(6, 3)
    with torch.no_grad():
        y32 = _output(layer, linear(x))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            h = linear(x)
            assert h.dtype == torch.bfloat16
            y_mixed = _output(layer, h)
        # the recurrence ran in float32 on the bf16-rounded input: exactly the float32 run
        y_rounded = _output(layer, h.float())
    assert y_mixed.dtype == torch.float32
    assert torch.equal(y_mixed, y_rounded)
    if name in CONTINUOUS:
        assert (y_mixed - y32).abs().max() <= 0.1


def test_autocast_gradients_reach_the_linear():
    torch.manual_seed(0)
    linear = nn.Linear(NUM_INPUTS, NUM_INPUTS)
    elm = ELM(NUM_INPUTS, 3, 2, learn_tau_m=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y, _ = elm(linear(_drive(5, 2)))
        loss = y.square().mean()
    loss.backward()
    assert linear.weight.grad is not None and linear.weight.grad.abs().sum() > 0
    assert elm.tau_m_raw.grad is not None and elm.tau_m_raw.grad.dtype == torch.float32


# ----------------------------------------------------------------------------- names
def test_one_accessor_name_for_functional_parameters():
    elm, lif, alif = ELM(4, 3, 2), LinearLIF(4, 2), ALIFNeuron(3)
    for layer in (elm, lif, alif):
        params = layer.functional_parameters()
        assert hasattr(params, "_fields")
    with pytest.warns(DeprecationWarning, match="functional_parameters"):
        old = elm.elm_parameters()
    assert all(
        (a is b) or (isinstance(a, torch.Tensor) and torch.equal(a, b))
        for a, b in zip(old, elm.functional_parameters(), strict=True)
        if not isinstance(a, tuple)
    )
    with pytest.warns(DeprecationWarning, match="functional_parameters"):
        old = lif.parameters_for_step()
    assert torch.equal(old.decay, lif.functional_parameters().decay)


def test_lif_and_alif_are_deprecated_names_of_the_linear_models():
    for old, new in ((LIF, LinearLIF), (ALIF, LinearALIF)):
        torch.manual_seed(3)
        with pytest.warns(DeprecationWarning, match=f"renamed {new.__name__}"):
            legacy = old(5, 2)
        torch.manual_seed(3)
        current = new(5, 2)
        assert isinstance(legacy, new)
        assert legacy.state_dict().keys() == current.state_dict().keys()
        x = _drive(4, 2)[..., :5]
        assert torch.equal(legacy(x)[0], current(x)[0])


@pytest.mark.parametrize("adaptive", [False, True])
def test_linear_models_are_a_linear_then_the_weightless_neuron(adaptive):
    torch.manual_seed(0)
    fit = (LinearALIF if adaptive else LinearLIF)(5, 3, output="spikes", reset="subtract")
    neuron = (ALIFNeuron if adaptive else LIFNeuron)(3, reset="subtract")
    neuron.load_state_dict(fit.state_dict(), strict=False)
    x = _drive(20, 2)[..., :5] * 3
    spikes_fit, state_fit, record_fit = fit(x, return_states=True)
    spikes, state, record = neuron(fit.linear(x), return_states=True)
    assert spikes_fit.sum() > 0
    assert torch.equal(spikes, spikes_fit) and torch.equal(record.voltage, record_fit.voltage)
    assert torch.equal(state.v, state_fit.v)
    assert sum(p.numel() for p in neuron.parameters()) == (9 if adaptive else 3)


def test_weightless_neuron_after_linear_in_sequential_state():
    """The neuron-only contract: Linear -> LIFNeuron, as with Norse's LIF."""
    model = norse.SequentialState(nn.Linear(4, 3), LIFNeuron(3, threshold=0.2))
    spikes, states = model(torch.rand(10, 2, 4))
    assert spikes.shape == (10, 2, 3) and isinstance(states[1], LIFState)


def test_eisnn_reference_loop_calls_the_functional_lif_step(monkeypatch):
    import elm_snn.networks.eisnn as eisnn_module

    calls = []
    original = eisnn_module.lif_step

    def counting(current, state, p):
        calls.append(p.reset)
        return original(current, state, p)

    monkeypatch.setattr(eisnn_module, "lif_step", counting)
    torch.manual_seed(0)
    net = EISNN(NUM_INPUTS, 2, num_neurons=12, synapses_per_neuron=5, backend="dense")
    net(_drive(7, 2))
    assert calls == ["subtract"] * (2 * 7)  # recurrent + output layer, every step


def test_one_check_int():
    from elm_snn._validation import check_int
    from elm_snn.synth import neuronio_sim, spoken_digits

    assert neuronio_sim.check_int is check_int and spoken_digits.check_int is check_int
    assert check_int("n", np.int64(3)) == 3 and type(check_int("n", np.int32(3))) is int
    for bad in (True, 2.0, "3", np.bool_(True)):
        with pytest.raises(TypeError, match="n: expected an int"):
            check_int("n", bad)
    with pytest.raises(ValueError, match="n: expected an int >= 1, got 0"):
        check_int("n", 0)
    assert check_int("n", -5, minimum=None) == -5
    with pytest.raises(TypeError, match="num_memory"):
        ELM(4, 3.0, 2)
