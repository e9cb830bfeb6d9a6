"""The recurrent excitatory/inhibitory LIF network of the paper's appendix A ("SNN").

Spieler et al. (2023), appendix A, "The SNN implementation": an output layer of
``N_o`` = number of classes LIF neurons and a recurrent layer of ``N_r = 500 - N_o``; 20% of
the neurons inhibitory; threshold 1; partial reset ``v <- v - 0.9 * v_thr`` after a spike;
membrane time constant initialised at 25 ms and learnable (bounded like the ELM's);
each neuron has 100 synapses with weights initialised at ``0.3 / sqrt(100)`` and rectified
with ReLU; each synapse is drawn, synapse by synapse, to the previous layer with probability
0.9 and to the neuron's own layer with probability 0.1; the output neurons' spikes are
low-pass filtered with a fixed 20 ms constant before the cross-entropy; L1 penalty 0.01 on
the spikes, learning rate 2e-3, no dropout.

Reading of the text used here (the paper does not spell these out):

* The recurrent layer's "previous layer" is the input (700 channels for SHD); its input
  synapses count among its 100 (so with 500 neurons the network has exactly 500 * 100 =
  50,000 synapse weights + 500 time constants = 50,500 parameters, the paper's "51K").
  Input channels are excitatory (spikes carry a positive sign).
* The output layer's previous layer is the recurrent layer; its own-layer synapses connect
  output neurons with each other.
* 20% inhibitory per layer (``round(0.2 N_r)`` and ``round(0.2 N_o)``, the last neurons of
  each layer), so 96 + 4 = 100 of 500 with 19 classes. Dale's law: a neuron's outgoing
  weights all carry its sign, ``w = sign(pre) * relu(w_raw)``, so no optimiser step can
  flip a sign (a weight pushed below zero is silenced instead).
* Sources are drawn uniformly with replacement within the chosen layer (repeated sources
  and autapses allowed, as an independent synapse-by-synapse draw implies).
* Membrane update ``v_t = exp(-dt / tau_m) v_{t-1} + sum_syn w z_pre`` (a spike kicks the
  membrane by its weight), spike ``z = H(v - 1)`` with a surrogate gradient
  (``snntorch.surrogate.atan()``), reset not differentiated (``detach_reset``).
  Within one step the recurrent layer updates first and the output layer receives its
  spikes of the same step; own-layer synapses carry the previous step's spikes.
* Output ``y_t = exp(-dt / 20 ms) y_{t-1} + z^out_t``: a leaky spike count (about the
  number of spikes in the last 20 ms, whatever ``dt``), used as the logits.

Connectivity cost (``benchmarks/bench_eisnn_sparse.py``, batch 8, 700 inputs, 19 outputs,
one thread on the shared 2-core dev CPU, medians of 3; absolute times are noisy there, the
ratios held in every run). The input projection is one dense ``(T B, 700) x (700, 481)``
matmul outside the time loop (13% dense); ``torch.sparse.mm`` with the COO weights was 7x
(T=200) to 28x (T=1000) slower, forward+backward. Inside the loop two forms are
implemented: ``"dense"`` (the synapses scattered once per forward into dense matrices, then
one small matmul per step) and ``"gather"`` (each neuron gathers its ~10 own-layer
presynaptic spikes through a padded index table)::

    T=200:  dense fwd 153 ms, fwd+bwd 641 ms;   gather fwd 327 ms, fwd+bwd 969 ms
    T=1000: dense fwd 803 ms, fwd+bwd 3959 ms;  gather fwd 2447 ms, fwd+bwd 7138 ms

so ``backend="auto"`` picks ``"dense"``: at these sizes one 481 x 481 BLAS call per step is
cheaper than a gather forward and its scatter-add backward.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from .._validation import check_choice, check_int, check_positive
from ..functional.elm import inverse_scaled_sigmoid, scaled_sigmoid
from ..functional.lif import LIFParameters, LIFState, default_spike_fn, lif_step, membrane_decay
from ..neurons.base import NOT_GIVEN, StatefulModule, runs_in_parameter_dtype

__all__ = ["EISNN", "EISNNRecord", "EISNNState", "draw_synapses"]

BACKENDS = ("auto", "fused", "dense", "gather")
REDUCTIONS = ("mean", "sum")


class EISNNState(NamedTuple):
    """State of :class:`EISNN` (all ``(B, n)`` with ``n`` the layer's size).

    Attributes:
        v_rec: membrane potential of the recurrent layer ``(B, N_r)`` (after reset).
        z_rec: its spikes at the last step ``(B, N_r)``.
        v_out: membrane potential of the output layer ``(B, N_o)`` (after reset).
        z_out: its spikes at the last step ``(B, N_o)``.
        filtered: low-pass filtered output spikes ``(B, N_o)`` (the last output).
    """

    v_rec: Tensor
    z_rec: Tensor
    v_out: Tensor
    z_out: Tensor
    filtered: Tensor

    def to(self, *args: Any, **kwargs: Any) -> EISNNState:
        """Every tensor moved/cast with ``Tensor.to(*args, **kwargs)`` (as Norse's states)."""
        return EISNNState(*(t.to(*args, **kwargs) for t in self))


class EISNNRecord(NamedTuple):
    """Spikes of every step: ``rec`` ``(T, B, N_r)`` and ``out`` ``(T, B, N_o)``."""

    rec: Tensor
    out: Tensor


def draw_synapses(
    num_neurons: int,
    num_previous: int,
    num_own: int,
    synapses_per_neuron: int,
    p_previous: float,
    generator: torch.Generator,
) -> Tensor:
    """Draw each synapse's presynaptic source, synapse by synapse.

    Each of the ``num_neurons * synapses_per_neuron`` synapses independently picks the
    previous layer with probability ``p_previous`` (then a uniform source in it) or the own
    layer (uniform source in it).

    Returns:
        ``(num_neurons, synapses_per_neuron)`` int64 indices into the concatenation
        ``[previous layer (num_previous), own layer (num_own)]``; within each row the
        own-layer synapses come first (the order of a neuron's synapses carries no meaning,
        and this lets the gather backend read a short own-layer prefix).
    """
    shape = (num_neurons, synapses_per_neuron)
    to_previous = torch.rand(shape, generator=generator) < p_previous
    prev_src = torch.randint(num_previous, shape, generator=generator)
    own_src = num_previous + torch.randint(num_own, shape, generator=generator)
    src = torch.where(to_previous, prev_src, own_src)
    # stable sort: own-layer synapses (index >= num_previous) first
    order = torch.argsort((src < num_previous).to(torch.int8), dim=1, stable=True)
    return torch.gather(src, 1, order)


class _SparseLayer(nn.Module):
    """Synapses of one layer: sources, fixed signs, raw weights and derived forms."""

    def __init__(self, src: Tensor, pre_sign: Tensor, num_previous: int, w_init: float) -> None:
        super().__init__()
        self.num_neurons, self.synapses = src.shape
        self.num_previous = num_previous
        self.num_pre = pre_sign.shape[0]
        self.register_buffer("src", src)
        self.register_buffer("syn_sign", pre_sign[src])
        self.w_raw = nn.Parameter(torch.full(src.shape, float(w_init)))
        own = src >= num_previous
        counts = own.sum(dim=1)
        k = max(int(counts.max()), 1)
        self.register_buffer("own_count", counts)
        # padded own-layer table: first k synapses of each row (own-layer ones come first)
        own_idx = torch.where(own[:, :k], src[:, :k] - num_previous, torch.zeros_like(src[:, :k]))
        self.register_buffer("own_index", own_idx)
        self.register_buffer("own_mask", own[:, :k].to(torch.float32))

    def weights(self) -> Tensor:
        """``(N, S)`` effective synapse weights ``sign(pre) * relu(w_raw)``."""
        return torch.relu(self.w_raw) * self.syn_sign

    def dense(self) -> Tensor:
        """``(N, P + N_own)`` dense weight matrix (repeated sources summed)."""
        w = self.weights()
        rows = torch.arange(self.num_neurons, device=w.device).unsqueeze(1).expand_as(self.src)
        out = w.new_zeros(self.num_neurons, self.num_pre)
        return out.index_put((rows, self.src), w, accumulate=True)

    def own_gather_weights(self) -> Tensor:
        """``(N, k)`` weights of the padded own-layer table (0 on padding)."""
        k = self.own_index.shape[1]
        return self.weights()[:, :k] * self.own_mask.to(self.w_raw.dtype)


class EISNN(StatefulModule):
    """Recurrent E/I spiking network of the paper's appendix A (see the module docstring).

    Args:
        num_inputs: input channels ``I`` (700 for SHD).
        num_outputs: output neurons ``N_o`` = number of classes.
        num_neurons: total neurons, recurrent + output (default 500).
        synapses_per_neuron: synapses of every neuron (default 100).
        p_previous: probability that a synapse connects to the previous layer (0.9).
        inhibitory_fraction: fraction of inhibitory neurons in each layer (0.2).
        threshold: firing threshold (1).
        reset_amount: subtracted from ``v`` after a spike, as a fraction of the
            threshold (0.9: ``v <- v - 0.9 * threshold``).
        tau_m_init: initial membrane time constant in ms (25).
        tau_m_min, tau_m_max: bounds of the learnable ``tau_m`` in ms (0, 1000, as the
            ELM on SHD).
        learn_tau_m: learn ``tau_m`` (default True).
        w_init: initial raw synapse weight (default ``0.3 / sqrt(synapses_per_neuron)``).
        tau_out: fixed low-pass time constant of the output in ms (20).
        dt: time step in ms (the bin size).
        l1_weight: weight of :meth:`spike_penalty` (0.01).
        spike_grad: surrogate spike function (default ``snntorch.surrogate.atan()``).
        detach_reset: no gradient through the reset (default True).
        seed: seed of the synapse draw (default 0; the draw does not touch torch's
            global RNG).
        backend: ``"auto"`` (= ``"fused"``), ``"fused"`` (the time loop of
            :mod:`elm_snn.kernels.eisnn` with hand-written BPTT), ``"dense"`` or ``"gather"``
            (the reference loops recorded by autograd: own-layer synapses as one dense
            matrix per step, or gathered). All give the same values and gradients.
        batch_first: inputs/outputs ``(B, T, F)``.
        init_hidden: keep the final state and continue from it on the next call.

    Call: ``forward(x, state=None, return_spikes=False)`` with ``x`` ``(T, B, I)``
    returns ``(y, final_state)``, ``y`` ``(T, B, N_o)`` the filtered output spikes (classify
    from ``y[-1]``); with ``return_spikes=True`` also an :class:`EISNNRecord`. The spikes
    of the last call are kept for :meth:`spike_penalty`.

    Trainable parameters: ``num_neurons * synapses_per_neuron`` weights + ``num_neurons``
    time constants (50,500 for the paper's network).
    """

    def __init__(
        self,
        num_inputs: int,
        num_outputs: int,
        *,
        num_neurons: int = 500,
        synapses_per_neuron: int = 100,
        p_previous: float = 0.9,
        inhibitory_fraction: float = 0.2,
        threshold: float = 1.0,
        reset_amount: float = 0.9,
        tau_m_init: float = 25.0,
        tau_m_min: float = 0.0,
        tau_m_max: float = 1000.0,
        learn_tau_m: bool = True,
        w_init: float | None = None,
        tau_out: float = 20.0,
        dt: float = 1.0,
        l1_weight: float = 0.01,
        spike_grad: Callable[[Tensor], Tensor] | None = None,
        detach_reset: bool = True,
        seed: int = 0,
        backend: str = "auto",
        batch_first: bool = False,
        init_hidden: bool = False,
    ) -> None:
        super().__init__(init_hidden=init_hidden)
        self.num_inputs = check_int("num_inputs", num_inputs)
        self.num_outputs = check_int("num_outputs", num_outputs)
        self.num_neurons = check_int("num_neurons", num_neurons)
        if self.num_neurons <= self.num_outputs:
            raise ValueError(
                f"num_neurons: expected more neurons than num_outputs = {num_outputs} (the "
                f"recurrent layer has num_neurons - num_outputs), got {num_neurons}"
            )
        self.num_recurrent = self.num_neurons - self.num_outputs
        self.synapses_per_neuron = check_int("synapses_per_neuron", synapses_per_neuron)
        for name, value in (
            ("p_previous", p_previous),
            ("inhibitory_fraction", inhibitory_fraction),
        ):
            if not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"{name}: expected a probability in [0, 1], got {value!r}")
        self.p_previous = float(p_previous)
        self.inhibitory_fraction = float(inhibitory_fraction)
        self.threshold = check_positive("threshold", threshold)
        self.reset_amount = check_positive("reset_amount", reset_amount, allow_zero=True)
        self.dt = check_positive("dt", dt)
        self.tau_out = check_positive("tau_out", tau_out)
        self.tau_m_min = check_positive("tau_m_min", tau_m_min, allow_zero=True)
        self.tau_m_max = check_positive("tau_m_max", tau_m_max)
        if not self.tau_m_min < float(tau_m_init) < self.tau_m_max:
            raise ValueError(
                f"tau_m_init: expected a value strictly inside (tau_m_min, tau_m_max) = "
                f"({self.tau_m_min}, {self.tau_m_max}), got {tau_m_init!r}"
            )
        self.l1_weight = check_positive("l1_weight", l1_weight, allow_zero=True)
        check_choice("backend", backend, BACKENDS)
        self.backend = backend
        self.batch_first = bool(batch_first)
        self.detach_reset = bool(detach_reset)
        if spike_grad is None:
            spike_grad = default_spike_fn()
        if not callable(spike_grad):
            raise TypeError(
                f"spike_grad: expected a callable such as snntorch.surrogate.atan(), got "
                f"{type(spike_grad).__name__}"
            )
        self.spike_grad = spike_grad
        self.seed = check_int("seed", seed, minimum=None)
        w0 = 0.3 / math.sqrt(self.synapses_per_neuron) if w_init is None else float(w_init)

        self._build_network(w0, float(tau_m_init), bool(learn_tau_m))
        self._last_spikes: EISNNRecord | None = None

    def _build_network(self, w0: float, tau_m_init: float, learn_tau_m: bool) -> None:
        """Neuron signs, the two sparse synapse layers (drawn from ``self.seed``, not from
        torch's global RNG) and the membrane time constants, all at ``tau_m_init`` ms."""
        n_r, n_o = self.num_recurrent, self.num_outputs
        n_inh_r = round(self.inhibitory_fraction * n_r)
        n_inh_o = round(self.inhibitory_fraction * n_o)
        sign_r = torch.ones(n_r)
        sign_r[n_r - n_inh_r :] = -1.0
        sign_o = torch.ones(n_o)
        sign_o[n_o - n_inh_o :] = -1.0
        self.register_buffer("neuron_sign", torch.cat([sign_r, sign_o]))

        gen = torch.Generator().manual_seed(self.seed)
        src_r = draw_synapses(
            n_r, self.num_inputs, n_r, self.synapses_per_neuron, self.p_previous, gen
        )
        src_o = draw_synapses(n_o, n_r, n_o, self.synapses_per_neuron, self.p_previous, gen)
        self.rec = _SparseLayer(
            src_r, torch.cat([torch.ones(self.num_inputs), sign_r]), self.num_inputs, w0
        )
        self.out = _SparseLayer(src_o, torch.cat([sign_r, sign_o]), n_r, w0)
        raw = inverse_scaled_sigmoid(
            torch.full((self.num_neurons,), tau_m_init), self.tau_m_min, self.tau_m_max
        )
        if learn_tau_m:
            self.tau_m_raw = nn.Parameter(raw)
        else:
            self.register_buffer("tau_m_raw", raw)

    # ------------------------------------------------------------------ derived values
    @property
    def is_inhibitory(self) -> Tensor:
        """``(num_neurons,)`` bool: recurrent neurons first, then output neurons."""
        return self.neuron_sign < 0

    @property
    def tau_m(self) -> Tensor:
        """``(num_neurons,)`` membrane time constants in ms (recurrent, then output)."""
        return scaled_sigmoid(self.tau_m_raw, self.tau_m_min, self.tau_m_max)

    def effective_weights(self) -> tuple[Tensor, Tensor]:
        """Dense effective weights ``(W_rec, W_out)``.

        ``W_rec`` ``(N_r, I + N_r)`` (columns: inputs then recurrent neurons) and ``W_out``
        ``(N_o, N_r + N_o)`` (columns: recurrent then output neurons). Column ``j`` has the
        sign of presynaptic neuron ``j`` (or is zero).
        """
        return self.rec.dense(), self.out.dense()

    def _resolved_backend(self) -> str:
        resolved = "fused" if self.backend == "auto" else self.backend
        if resolved == "fused" and torch.compiler.is_compiling():
            # the fused loops are not a torch.library operator: under torch.compile the
            # network runs its PyTorch loop (the same equations, tested against them)
            return "dense"
        return resolved

    # ------------------------------------------------------------------ forward
    def _zero_state(self, batch: int, like: Tensor) -> EISNNState:
        r = like.new_zeros(batch, self.num_recurrent)
        o = like.new_zeros(batch, self.num_outputs)
        return EISNNState(r, r, o, o, o)

    _state_type = EISNNState

    def _param_dtype(self) -> torch.dtype:
        return self.rec.w_raw.dtype

    def _state_widths(self) -> tuple[int, ...]:
        n_r, n_o = self.num_recurrent, self.num_outputs
        return (n_r, n_r, n_o, n_o, n_o)

    def _lif_parameters(self, decay: Tensor) -> LIFParameters:
        """Both layers' neurons: threshold, partial subtractive reset ``reset_amount *
        threshold`` (the E/I network's LIF step is :func:`~elm_snn.functional.lif.lif_step`)."""
        return LIFParameters(
            decay=decay,
            threshold=self.threshold,
            reset="subtract",
            reset_amount=self.reset_amount * self.threshold,
            detach_reset=self.detach_reset,
            spike_fn=self.spike_grad,
        )

    @runs_in_parameter_dtype
    def forward(self, x: Tensor, state: EISNNState | None = NOT_GIVEN, return_spikes: bool = False):
        """Run the network; see the class docstring for shapes (with ``init_hidden=True``,
        ``net(x)`` returns only ``y``)."""
        state_given = state is not NOT_GIVEN
        x = self._sequence_input(x, self.num_inputs)
        steps, batch = x.shape[0], x.shape[1]
        state = self._initial_state(state if state_given else None, batch, x)
        if state is None:
            state = self._zero_state(batch, x)
        v_r, z_r, v_o, z_o, f = state
        n_in, n_r = self.num_inputs, self.num_recurrent

        decay = membrane_decay(self.tau_m, self.dt)
        k_r, k_o = decay[:n_r], decay[n_r:]
        alpha = math.exp(-self.dt / self.tau_out)
        thr, amount = self.threshold, self.reset_amount * self.threshold
        if self._resolved_backend() == "fused":
            from ..kernels.eisnn import eisnn_sequence

            z_rs, z_os, y, v_r, v_o = eisnn_sequence(
                x,
                self.rec.src,
                self.rec.weights(),
                self.out.src,
                self.out.weights(),
                k_r,
                k_o,
                (v_r, z_r, v_o, z_o, f),
                threshold=thr,
                reset_amount=amount,
                alpha=alpha,
                spike_fn=self.spike_grad,
                detach_reset=self.detach_reset,
            )
            return self._finish(
                y,
                EISNNRecord(z_rs, z_os),
                EISNNState(v_r, z_rs[-1], v_o, z_os[-1], y[-1]),
                return_spikes,
                state_given,
            )
        w_rec = self.rec.dense()
        w_in, w_rr = w_rec[:, :n_in], w_rec[:, n_in:]
        w_out = self.out.dense()
        # input synapses: one matmul for all steps (no recurrence through them)
        # unbind, not cur_in[t]: indexing a step in the loop costs a full-size zero gradient
        # per step in backward (quadratic in T)
        cur_in = torch.matmul(x, w_in.t()).unbind(0)
        gather = self._resolved_backend() == "gather"
        if gather:
            g_idx, g_w = self.rec.own_index, self.rec.own_gather_weights()
        else:
            w_rr_t = w_rr.t()
        w_out_t = w_out.t()
        p_rec, p_out = self._lif_parameters(k_r), self._lif_parameters(k_o)
        spikes_r, spikes_o, outputs = [], [], []
        for t in range(steps):
            if gather:
                rec_in = (z_r[:, g_idx] * g_w).sum(-1)
            else:
                rec_in = z_r @ w_rr_t
            z_r, _, (v_r,) = lif_step(cur_in[t] + rec_in, LIFState(v_r), p_rec)
            out_in = torch.cat([z_r, z_o], dim=1) @ w_out_t
            z_o, _, (v_o,) = lif_step(out_in, LIFState(v_o), p_out)
            f = alpha * f + z_o
            spikes_r.append(z_r)
            spikes_o.append(z_o)
            outputs.append(f)
        y = torch.stack(outputs)
        record = EISNNRecord(torch.stack(spikes_r), torch.stack(spikes_o))
        final = EISNNState(v_r, z_r, v_o, z_o, f)
        return self._finish(y, record, final, return_spikes, state_given)

    def _finish(
        self,
        y: Tensor,
        record: EISNNRecord,
        final: EISNNState,
        return_spikes: bool,
        state_given: bool,
    ):
        """Keep the spikes for the penalty, store the state, lay out the outputs."""
        self._last_spikes = record
        self._keep(final)
        if self.batch_first:
            y = y.transpose(0, 1)
            record = EISNNRecord(record.rec.transpose(0, 1), record.out.transpose(0, 1))
        if return_spikes:
            return y, final, record
        return self._call_result((y, final), state_given)

    def spike_penalty(self, reduction: str = "mean", record: EISNNRecord | None = None) -> Tensor:
        """L1 penalty on the spikes, ``l1_weight * |spikes|`` (spikes are 0/1, so a count).

        Args:
            reduction: ``"mean"`` (default): mean over time steps, batch and neurons (the
                average firing probability per bin); ``"sum"``: summed over time steps and
                neurons, averaged over the batch (spike count per sample). The paper gives
                only the weight 0.01, not the reduction.
            record: spikes to penalise (default: those of the last forward call).

        Returns:
            A scalar tensor, differentiable through the surrogate gradient.
        """
        check_choice("reduction", reduction, REDUCTIONS)
        batch_dim = 1
        if record is None:
            record = self._last_spikes  # stored time-major
        elif self.batch_first:
            batch_dim = 0
        if record is None:
            raise RuntimeError("spike_penalty: no spikes recorded yet; call the model first")
        total = record.rec.abs().sum() + record.out.abs().sum()
        if reduction == "mean":
            total = total / (record.rec.numel() + record.out.numel())
        else:
            total = total / record.rec.shape[batch_dim]
        return self.l1_weight * total

    def reset_hidden(self) -> None:
        """Forget the stored state and the recorded spikes."""
        super().reset_hidden()
        self._last_spikes = None

    def extra_repr(self) -> str:
        return (
            f"num_inputs={self.num_inputs}, num_recurrent={self.num_recurrent}, "
            f"num_outputs={self.num_outputs}, synapses_per_neuron={self.synapses_per_neuron}, "
            f"dt={self.dt}, backend={self.backend!r}"
        )
