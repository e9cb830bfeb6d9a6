"""LSTM and Chrono-LSTM baselines wrapping ``torch.nn.LSTM`` (fused/cuDNN kernels kept).

Both follow the elm-snn sequence interface: time-major ``(T, B, F)`` by default
(``batch_first`` accepted), ``forward(x, state=None) -> (y, (h, c))``, a ``dt`` in ms (an
LSTM has no time constant; ``dt`` only converts Chrono-LSTM's ``t_max_ms`` into steps and
is kept for a uniform interface), ``elm_snn.reset`` support through ``init_hidden``.

Recurrent dropout (the paper's LSTM on SHD: 0.3) is DropConnect on the hidden-to-hidden
weights, as AWD-LSTM's "weight drop": in training, each forward call draws one dropout mask
on ``weight_hh`` (entries zeroed with probability ``p``, the others scaled by ``1/(1-p)``),
shared by all time steps and samples, and runs the fused ``nn.LSTM`` kernel with the
dropped weights (through :func:`torch.func.functional_call`). Variational dropout on the
hidden state (Gal & Ghahramani) would need a Python loop over time and lose the fused
kernel. Cost measured by ``benchmarks/param_counts.py --timing`` (forward+backward, T=250,
B=8, 700 -> 250 -> 19, one CPU thread on the shared 2-core dev machine): 4212 ms without,
4347 ms with recurrent dropout 0.3 (x1.03; the mask and the weight swap are per call, not
per step).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._validation import check_int, check_positive
from ..neurons.base import NOT_GIVEN, StatefulModule, runs_in_parameter_dtype

__all__ = ["LSTM", "ChronoLSTM", "LSTMState", "chrono_bias"]


class LSTMState(NamedTuple):
    """State of :class:`LSTM` (a tuple ``(h, c)``, as ``torch.nn.LSTM``'s, without the
    layer axis).

    Attributes:
        h: ``(B, H)`` hidden state.
        c: ``(B, H)`` cell state.
    """

    h: Tensor
    c: Tensor

    def to(self, *args: Any, **kwargs: Any) -> LSTMState:
        """Both tensors moved/cast with ``Tensor.to(*args, **kwargs)`` (as Norse's states)."""
        return LSTMState(self.h.to(*args, **kwargs), self.c.to(*args, **kwargs))


class LSTM(StatefulModule):
    """Single-layer LSTM over sequences, with optional recurrent dropout and linear readout.

    Args:
        num_inputs: input channels ``I``.
        hidden_size: LSTM units ``H`` (paper: 250 on SHD / SHD-Adding).
        num_outputs: if given, a ``Linear(H, num_outputs)`` readout applied at every step
            (then ``y`` is ``(T, B, num_outputs)``); if ``None``, ``y`` is the hidden state
            sequence ``(T, B, H)``.
        recurrent_dropout: DropConnect probability on the hidden-to-hidden weights during
            training (paper on SHD: 0.3; default 0).
        dt: time step in ms (not used by the LSTM's equations; see the module docstring).
        batch_first: inputs/outputs ``(B, T, F)``.
        init_hidden: keep the final ``(h, c)`` and continue from it on the next call.

    Call: ``forward(x, state=None) -> (y, (h, c))`` with ``h``, ``c`` ``(B, H)``.

    Parameters: torch's ``nn.LSTM`` layout (``lstm.weight_ih_l0`` ``(4H, I)``,
    ``lstm.weight_hh_l0`` ``(4H, H)``, ``lstm.bias_ih_l0`` and ``lstm.bias_hh_l0``
    ``(4H,)``, gates in the order input, forget, cell, output): ``4 H (I + H + 2)``, plus
    ``O (H + 1)`` for the readout.
    """

    def __init__(
        self,
        num_inputs: int,
        hidden_size: int,
        num_outputs: int | None = None,
        *,
        recurrent_dropout: float = 0.0,
        dt: float = 1.0,
        batch_first: bool = False,
        init_hidden: bool = False,
    ) -> None:
        super().__init__(init_hidden=init_hidden)
        self.num_inputs = check_int("num_inputs", num_inputs)
        self.hidden_size = check_int("hidden_size", hidden_size)
        if num_outputs is not None:
            check_int("num_outputs", num_outputs)
        self.num_outputs = num_outputs
        if not isinstance(recurrent_dropout, (int, float)) or not 0.0 <= recurrent_dropout < 1:
            raise ValueError(
                f"recurrent_dropout: expected a probability in [0, 1), got {recurrent_dropout!r}"
            )
        self.recurrent_dropout = float(recurrent_dropout)
        self.dt = check_positive("dt", dt)
        self.batch_first = bool(batch_first)
        self.lstm = nn.LSTM(num_inputs, hidden_size)
        self.readout = nn.Linear(hidden_size, num_outputs) if num_outputs is not None else None

    _state_type = LSTMState

    def _param_dtype(self) -> torch.dtype:
        return self.lstm.weight_ih_l0.dtype

    def _state_widths(self) -> tuple[int, int]:
        return (self.hidden_size, self.hidden_size)

    def _run_lstm(self, x: Tensor, hx: tuple[Tensor, Tensor] | None):
        if self.training and self.recurrent_dropout > 0:
            w_hh = self.lstm.weight_hh_l0
            dropped = F.dropout(w_hh, p=self.recurrent_dropout, training=True)
            return torch.func.functional_call(
                self.lstm, {"weight_hh_l0": dropped}, (x, hx), strict=False
            )
        return self.lstm(x, hx)

    @runs_in_parameter_dtype
    def forward(self, x: Tensor, state: LSTMState | None = NOT_GIVEN):
        """Run the sequence: ``x`` ``(T, B, I)`` -> ``(y, LSTMState(h, c))``; see the class
        docstring (with ``init_hidden=True``, ``layer(x)`` returns only ``y``)."""
        state_given = state is not NOT_GIVEN
        x = self._sequence_input(x, self.num_inputs)
        state = self._initial_state(state if state_given else None, x.shape[1], x)
        hx = None
        if state is not None:
            hx = (state.h.unsqueeze(0), state.c.unsqueeze(0))
        y, (h_n, c_n) = self._run_lstm(x, hx)
        final = LSTMState(h_n[0], c_n[0])
        if self.readout is not None:
            y = self.readout(y)
        self._keep(final)
        if self.batch_first:
            y = y.transpose(0, 1)
        return self._call_result((y, final), state_given)

    def extra_repr(self) -> str:
        return (
            f"num_inputs={self.num_inputs}, hidden_size={self.hidden_size}, "
            f"num_outputs={self.num_outputs}, recurrent_dropout={self.recurrent_dropout}"
        )


def chrono_bias(hidden_size: int, t_max: float, generator: torch.Generator | None = None) -> Tensor:
    """Chrono initialisation (Tallec & Ollivier 2018): ``log(U[1, t_max - 1])``.

    Args:
        hidden_size: number of values ``H``.
        t_max: longest dependency range in time steps (must exceed 2).
        generator: optional RNG.

    Returns:
        ``(H,)`` forget-gate biases; the input-gate biases are their negatives.
    """
    if not t_max > 2:
        raise ValueError(f"t_max: expected more than 2 time steps, got {t_max!r}")
    u = torch.rand(hidden_size, generator=generator, dtype=torch.float64)
    return torch.log(1.0 + u * (t_max - 2.0)).float()


class ChronoLSTM(LSTM):
    """LSTM with chrono initialisation of its gate biases (Tallec & Ollivier 2018).

    Forget-gate bias ``b_f ~ log(U[1, T_max - 1])`` and input-gate bias ``b_i = -b_f``,
    with ``T_max = t_max_ms / dt`` time steps, so the units' characteristic forgetting
    times spread between 1 and ``T_max`` steps. ``nn.LSTM`` adds two bias vectors
    (``b_ih + b_hh``); the chrono values go into ``bias_ih`` and the input- and forget-gate
    entries of ``bias_hh`` start at 0, so their sum (the effective bias) follows the
    distribution exactly. The cell and output gates keep torch's default initialisation.

    Args:
        num_inputs, hidden_size, num_outputs, recurrent_dropout, batch_first, init_hidden:
            as for :class:`LSTM`.
        t_max_ms: longest expected dependency in ms (e.g. the sequence duration).
        dt: time step in ms (the bin size).
        seed: optional seed of the chrono draw (default: torch's global RNG).
    """

    def __init__(
        self,
        num_inputs: int,
        hidden_size: int,
        num_outputs: int | None = None,
        *,
        t_max_ms: float,
        dt: float = 1.0,
        seed: int | None = None,
        **options: Any,
    ) -> None:
        super().__init__(num_inputs, hidden_size, num_outputs, dt=dt, **options)
        self.t_max_ms = check_positive("t_max_ms", t_max_ms)
        self.t_max_steps = self.t_max_ms / self.dt
        if not self.t_max_steps > 2:
            raise ValueError(
                f"t_max_ms: expected more than 2 time steps of dt = {self.dt} ms, got "
                f"{t_max_ms} ms = {self.t_max_steps:g} steps"
            )
        gen = None if seed is None else torch.Generator().manual_seed(int(seed))
        b_f = chrono_bias(hidden_size, self.t_max_steps, gen)
        h = hidden_size
        with torch.no_grad():
            self.lstm.bias_ih_l0[h : 2 * h].copy_(b_f)
            self.lstm.bias_ih_l0[:h].copy_(-b_f)
            self.lstm.bias_hh_l0[: 2 * h].zero_()

    @property
    def forget_bias(self) -> Tensor:
        """``(H,)`` effective forget-gate bias ``b_ih + b_hh``."""
        h = self.hidden_size
        return (self.lstm.bias_ih_l0 + self.lstm.bias_hh_l0)[h : 2 * h]

    @property
    def input_bias(self) -> Tensor:
        """``(H,)`` effective input-gate bias ``b_ih + b_hh``."""
        h = self.hidden_size
        return (self.lstm.bias_ih_l0 + self.lstm.bias_hh_l0)[:h]

    def extra_repr(self) -> str:
        return super().extra_repr() + f", t_max_steps={self.t_max_steps:g}"
