"""ELM / Branch-ELM layers: cells vs sequences, gradients, state handling, errors."""

from __future__ import annotations

import io
import pickle

import pytest
import snntorch as snn
import torch
from snntorch import surrogate
from torch import nn

import elm_snn
from elm_snn import ELM, BranchELM, BranchELMCell, ELMCell, ELMState

VARIANTS = {
    "paper-synapse": dict(),
    "stable-branch": dict(memory_update="stable", trace_mode="branch"),
    "branches-no-routing": dict(num_branches=3, synapses_per_branch=2),
    "neuronio-routing": dict(num_branches=3, synapses_per_branch=3, routing="neuronio"),
    "random-routing-silu-2layers": dict(
        num_branches=4,
        synapses_per_branch=2,
        routing="random",
        routing_seed=3,
        mlp_activation="silu",
        mlp_num_layers=2,
        mlp_hidden_size=5,
    ),
    "no-hidden-layer-learn-taus": dict(mlp_num_layers=0, learn_tau_m=True, learn_tau_s=True),
    "no-bias-dt2": dict(bias=False, dt=2.0, lambda_value=2.0, tau_m_max=50.0),
}


def make_pair(options, num_inputs=6, num_memory=3, num_outputs=2, seed=0):
    torch.manual_seed(seed)
    seq = ELM(num_inputs, num_memory, num_outputs, backend="reference", **options).double()
    cell = ELMCell(num_inputs, num_memory, num_outputs, **options).double()
    cell.load_state_dict(seq.state_dict())
    with torch.no_grad():  # make every weight non-trivial
        for p in seq.parameters():
            p.add_(0.1 * torch.randn_like(p))
        cell.load_state_dict(seq.state_dict())
    return seq, cell


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_cell_loop_equals_sequence_values_and_gradients(variant):
    seq, cell = make_pair(VARIANTS[variant])
    x = torch.randn(7, 2, 6, dtype=torch.float64)
    y_seq, final = seq(x)
    state, ys = None, []
    for t in range(x.shape[0]):
        y_t, state = cell(x[t], state)
        ys.append(y_t)
    y_cell = torch.stack(ys)
    assert torch.allclose(y_seq, y_cell, atol=1e-14, rtol=0)
    assert torch.allclose(final.memory, state.memory, atol=1e-14, rtol=0)
    grads_seq = torch.autograd.grad(y_seq.pow(2).sum(), list(seq.parameters()))
    grads_cell = torch.autograd.grad(y_cell.pow(2).sum(), list(cell.parameters()))
    for a, b in zip(grads_seq, grads_cell, strict=True):
        assert torch.allclose(a, b, atol=1e-13, rtol=1e-12)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_gradcheck_reference(variant):
    seq, _ = make_pair(VARIANTS[variant], num_inputs=6, num_memory=2, num_outputs=2)
    x = torch.randn(4, 2, 6, dtype=torch.float64, requires_grad=True)
    m0 = 0.1 * torch.randn(2, 2, dtype=torch.float64, requires_grad=True)
    s0 = 0.1 * torch.randn(2, seq.tau_s.shape[0], dtype=torch.float64, requires_grad=True)
    # w.r.t. inputs and the initial state
    assert torch.autograd.gradcheck(lambda x, m0, s0: seq(x, ELMState(m0, s0))[0], (x, m0, s0))
    # w.r.t. every learnable parameter
    names = [n for n, _ in seq.named_parameters()]
    values = tuple(p.detach().clone().requires_grad_(True) for p in seq.parameters())

    def by_parameters(*ps):
        return torch.func.functional_call(seq, dict(zip(names, ps, strict=True)), (x.detach(),))[0]

    assert torch.autograd.gradcheck(by_parameters, values)


def test_sequence_batch_first_and_initial_state():
    torch.manual_seed(1)
    seq = ELM(5, 4, 3, backend="reference").double()
    bf = ELM(5, 4, 3, batch_first=True, backend="reference").double()
    bf.load_state_dict(seq.state_dict())
    x = torch.rand(9, 2, 5, dtype=torch.float64)
    y, final = seq(x)
    y_bf, final_bf = bf(x.transpose(0, 1).contiguous())
    assert torch.equal(y_bf.transpose(0, 1), y)
    # splitting a sequence and carrying the state gives the same result
    y1, s1 = seq(x[:4])
    y2, s2 = seq(x[4:], s1)
    assert torch.allclose(torch.cat([y1, y2]), y, atol=1e-14, rtol=0)
    assert torch.allclose(s2.memory, final.memory, atol=1e-14, rtol=0)


def test_return_states_shapes_and_batch_first():
    model = BranchELM(
        12, 4, 2, num_branches=3, synapses_per_branch=5, routing="neuronio", batch_first=True
    )
    x = torch.rand(2, 11, 12)
    y, final, record = model(x, return_states=True)
    assert y.shape == (2, 11, 2)
    assert record.memory.shape == (2, 11, 4)
    assert record.trace.shape == (2, 11, 15)
    assert record.branch_input.shape == (2, 11, 3)
    assert torch.equal(record.memory[:, -1], final.memory)


def test_branch_trace_mode_equals_synapse_mode_when_tau_equal():
    torch.manual_seed(0)
    a = BranchELM(
        10, 3, 2, num_branches=4, synapses_per_branch=3, routing_seed=1, backend="reference"
    ).double()
    b = BranchELM(
        10,
        3,
        2,
        num_branches=4,
        synapses_per_branch=3,
        routing_seed=1,
        trace_mode="branch",
        backend="reference",
    ).double()
    sd = {k: v for k, v in a.state_dict().items() if k != "tau_s"}
    b.load_state_dict(sd, strict=False)
    x = (torch.rand(20, 2, 10) < 0.3).double()
    assert torch.allclose(a(x)[0], b(x)[0], atol=1e-13, rtol=0)


def test_memory_update_equations_by_hand():
    """One step with an identity-free MLP checked against the written equations."""
    for update in ("paper", "stable"):
        cell = ELMCell(
            2,
            1,
            1,
            mlp_num_layers=0,
            lambda_value=3.0,
            dt=2.0,
            tau_m_min=10.0,
            tau_m_max=20.0,
            memory_update=update,
        ).double()
        with torch.no_grad():
            cell.mlp[0].weight.copy_(torch.tensor([[0.5, -0.25, 2.0]]))
            cell.mlp[0].bias.fill_(0.1)
            cell.readout.weight.fill_(1.0)
            cell.readout.bias.zero_()
        x = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
        m0 = torch.tensor([[0.3]], dtype=torch.float64)
        s0 = torch.tensor([[0.2, 0.4]], dtype=torch.float64)
        y, state = cell(x, ELMState(m0, s0))
        tau = 10.0 + 10.0 * torch.sigmoid(cell.tau_m_raw)
        km = torch.exp(-2.0 / tau)
        ks = torch.exp(torch.tensor(-2.0 / 5.0, dtype=torch.float64))
        s = ks * s0 + 0.5 * x
        z = 0.5 * s[0, 0] - 0.25 * s[0, 1] + 2.0 * km * m0[0, 0] + 0.1
        dm = 1.7159 * torch.tanh(2 * z / 3)
        gain = 3.0 * (1 - km) if update == "paper" else 1 - torch.exp(-2.0 * 3.0 / tau)
        m = km * m0 + gain * dm
        assert torch.allclose(state.trace, s, atol=1e-15)
        assert torch.allclose(state.memory, m, atol=1e-15)
        assert torch.allclose(y, m, atol=1e-15)


def test_init_hidden_reset_and_detach():
    cell = ELMCell(4, 3, 2, init_hidden=True)
    x = torch.rand(2, 4)
    y1 = cell(x)
    assert isinstance(y1, torch.Tensor) and cell.hidden is not None
    y2 = cell(x)
    assert not torch.equal(y1, y2)  # the state carried over
    cell.detach_hidden()
    assert not cell.hidden.memory.requires_grad
    cell.reset_hidden()
    assert torch.equal(cell(x), y1)
    # Norse's call with an explicit state: (output, state), starting from that state
    zero = ELMState(torch.zeros(2, 3), torch.zeros(2, 4))
    y_norse, state = cell(x, zero)
    assert torch.equal(y_norse, y1) and isinstance(state, ELMState)
    assert cell.hidden is state  # and it is stored for the next call


def test_reset_walks_nested_modules_including_snntorch():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.block = nn.Sequential(nn.Linear(4, 4), snn.Leaky(beta=0.9, init_hidden=True))
            self.inner = nn.ModuleList([ELMCell(4, 3, 2, init_hidden=True)])
            self.seq = ELM(4, 3, 2, init_hidden=True)

    net = Net()
    x = torch.rand(2, 4)
    net.block(x)
    net.block(x)
    net.inner[0](x)
    net.seq(x.unsqueeze(0))
    assert net.block[1].mem.abs().sum() > 0
    elm_snn.reset(net)
    assert net.block[1].mem.abs().sum() == 0
    assert net.inner[0].hidden is None and net.seq.hidden is None
    with pytest.raises(TypeError, match="module"):
        elm_snn.reset("not a module")


def test_spiking_output_with_snntorch_surrogate():
    torch.manual_seed(0)
    cell = ELMCell(4, 3, 2, spiking=True, spike_grad=surrogate.fast_sigmoid(slope=25))
    x = torch.rand(8, 4)
    spikes, _ = cell(x)
    assert set(spikes.unique().tolist()) <= {0.0, 1.0}
    spikes.sum().backward()
    assert cell.readout.weight.grad.abs().sum() > 0  # the surrogate passes gradients
    seq = ELM(4, 3, 2, spiking=True)  # default surrogate: atan
    y, _ = seq(torch.rand(5, 2, 4))
    assert set(y.unique().tolist()) <= {0.0, 1.0}
    with pytest.raises(TypeError, match="spike_grad"):
        ELM(4, 3, 2, spiking=True, spike_grad="atan")


def test_state_dict_and_pickle_round_trips():
    torch.manual_seed(0)
    model = BranchELM(
        10, 4, 2, num_branches=3, synapses_per_branch=4, routing="random", learn_tau_m=True
    )
    x = torch.rand(6, 2, 10)
    y, _ = model(x)
    clone = BranchELM(
        10,
        4,
        2,
        num_branches=3,
        synapses_per_branch=4,
        routing="random",
        routing_seed=99,
        learn_tau_m=True,
    )
    clone.load_state_dict(model.state_dict())  # routing travels in the state dict
    assert torch.equal(clone(x)[0], y)
    restored = pickle.loads(pickle.dumps(model))
    assert torch.equal(restored(x)[0], y)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    clone.load_state_dict(torch.load(buffer, weights_only=True))
    assert torch.equal(clone(x)[0], y)
    # .double() / .to() move every parameter and buffer
    d = model.double()
    assert all(t.dtype == torch.float64 for t in d.parameters())
    assert d.synapse_index.dtype == torch.int64


def test_learn_flags_register_parameters_or_buffers():
    model = ELM(5, 3, 2, learn_tau_m=True, learn_w_s=False)
    names = dict(model.named_parameters())
    assert "tau_m_raw" in names and "w_s_raw" not in names
    assert "w_s_raw" in dict(model.named_buffers()) and "tau_s" in dict(model.named_buffers())
    assert "tau_s" in dict(ELM(5, 3, 2, learn_tau_s=True).named_parameters())


def test_paper_defaults():
    model = ELM(num_inputs=700, num_memory=100, num_outputs=19)
    assert model.mlp_hidden_size == 200 and model.lambda_value == 5.0
    assert model.mlp[0].in_features == 800 and model.mlp[-1].out_features == 100
    assert float(model.tau_m.min()) == pytest.approx(1.0, abs=1e-4)
    assert float(model.tau_m.max()) == pytest.approx(1000.0, rel=1e-4)
    shd = ELM(
        700,
        100,
        19,
        tau_m_min=0.0,
        tau_m_max=1000.0,
        tau_m_init=(1.0, 150.0),
        tau_m_init_spacing="linear",
    )
    taus = shd.tau_m.detach().double()
    assert taus[0] == pytest.approx(1.0, rel=1e-3) and taus[-1] == pytest.approx(150.0, rel=1e-3)
    assert torch.allclose(taus.diff(), taus.diff()[0].expand(99), rtol=1e-2)


def test_compiled_cell_step_has_no_graph_breaks():
    cell = ELMCell(6, 3, 2)
    x = torch.rand(2, 6)
    state = ELMState(torch.zeros(2, 3), torch.zeros(2, 6))
    explanation = torch._dynamo.explain(cell)(x, state)
    assert explanation.graph_break_count == 0, explanation.break_reasons
    torch._dynamo.reset()


# ----------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("bad", "error", "pattern"),
    [
        (torch.rand(5, 2, 7), ValueError, r"num_inputs = 6 .* got 7"),
        (torch.rand(2, 6), ValueError, r"3-D tensor .* got 2-D"),
        (torch.ones(5, 2, 6, dtype=torch.int64), TypeError, "floating-point .* torch.int64"),
        (torch.ones(5, 2, 6, dtype=torch.complex64), TypeError, "complex64"),
        (torch.full((5, 2, 6), float("nan")), ValueError, "60 NaN"),
        (torch.full((5, 2, 6), float("inf")), ValueError, "60 inf"),
        (torch.rand(5, 2, 6, dtype=torch.float64), TypeError, "does not match"),
        ([[0.0] * 6], TypeError, "torch.Tensor"),
    ],
)
def test_bad_sequence_input(bad, error, pattern):
    with pytest.raises(error, match=pattern):
        ELM(6, 3, 2)(bad)


def test_bad_cell_input_and_state():
    cell = ELMCell(6, 3, 2)
    with pytest.raises(ValueError, match=r"2-D tensor \(B, num_inputs\)"):
        cell(torch.rand(3, 2, 6))
    with pytest.raises(ValueError, match=r"state.memory: expected shape \(B, M\) = \(2, 3\)"):
        cell(torch.rand(2, 6), ELMState(torch.zeros(2, 4), torch.zeros(2, 6)))


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="num_memory"):
        ELM(6, 0, 2)
    with pytest.raises(ValueError, match="mlp_activation"):
        ELM(6, 3, 2, mlp_activation="tanh")
    with pytest.raises(ValueError, match="memory_update"):
        ELM(6, 3, 2, memory_update="fast")
    with pytest.raises(ValueError, match="num_branches .* must equal num_inputs"):
        ELM(6, 3, 2, num_branches=4, synapses_per_branch=2)
    with pytest.raises(ValueError, match=r"routing: indices must lie in \[0, num_inputs\)"):
        BranchELM(
            6, 3, 2, num_branches=2, synapses_per_branch=2, routing=torch.tensor([0, 1, 2, 6])
        )
    with pytest.raises(ValueError, match=r"routing: expected shape \(num_synapses,\)"):
        BranchELM(6, 3, 2, num_branches=2, synapses_per_branch=2, routing=torch.tensor([0, 1]))
    with pytest.raises(TypeError, match="integer tensor"):
        BranchELM(
            6, 3, 2, num_branches=2, synapses_per_branch=2, routing=torch.tensor([0.0, 1, 2, 3])
        )
    with pytest.raises(ValueError, match="routing: expected one of"):
        BranchELMCell(6, 3, 2, num_branches=2, synapses_per_branch=3, routing="nearest")
    with pytest.raises(ValueError, match="synapses_per_branch: neuronio routing needs"):
        BranchELM(10, 3, 2, num_branches=2, synapses_per_branch=3, routing="neuronio")
    with pytest.raises(ValueError, match="tau_m_init"):
        ELM(6, 3, 2, tau_m_init=(0.5, 2000.0))
    with pytest.raises(ValueError, match="backend"):
        ELM(6, 3, 2, backend="cuda")
    with pytest.raises(ValueError, match="dt"):
        ELM(6, 3, 2, dt=0)


def test_initial_tau_m_raw_is_finite_at_the_upper_bound():
    # float32 rounds 1000 - 1e-6 to 1000: the official init stores inf there
    for kwargs in ({}, {"tau_m_min": 0.0, "tau_m_init": (1.0, 1000.0)}):
        model = ELM(20, 8, 3, learn_tau_m=True, **kwargs)
        assert torch.isfinite(model.tau_m_raw).all()
        assert float(model.tau_m[-1].detach()) == pytest.approx(1000.0)
        y, _ = model(torch.rand(5, 2, 20))
        y.sum().backward()
        assert torch.isfinite(model.tau_m_raw.grad).all()
