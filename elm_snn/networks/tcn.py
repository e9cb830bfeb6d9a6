"""Temporal convolutional network (TCN) baseline for NeuronIO, after Beniaguev, Segev &
London (2021, Neuron 109:2727, "Single cortical neurons as deep artificial neural networks").

Architecture (theirs, written anew for this package): ``depth`` causal 1-D convolutions over
time, the first over all input channels (NeuronIO: 1,278 = 639 excitatory + 639 inhibitory
segments) with kernel ``kernel_size_first``, the later ones ``width -> width`` with kernel
``kernel_size``; each convolution is followed by a ReLU and then batch normalisation (their
Keras order: ``Conv1D(activation="relu")`` then ``BatchNormalization``). The heads are 1x1
convolutions on the last layer, i.e. one ``Linear(width, num_outputs)`` applied at every
step: NeuronIO's spike logit (channel 0) and soma voltage (channel 1). Their third head, on
the PCA components of the dendritic voltages, is left out: elm-snn's NeuronIO task trains on
spikes and soma voltage only (as Spieler et al. 2023 do).

Causal: output ``t`` depends on inputs ``t - R + 1 .. t`` only, with the receptive field
``R = 1 + (kernel_size_first - 1) + (depth - 1) (kernel_size - 1)`` steps (left zero
padding, no look-ahead). In training mode batch normalisation normalises with the statistics
of the batch (all of its steps), as every batch-normalised network does; in evaluation mode
it uses the running statistics and each output depends on past inputs only.

Published sizes (the paper-scale model, :func:`beniaguev_l5pc_tcn`): the best L5PC (NMDA)
model is released as ``NMDA_TCN__DWT_7_128_153`` (depth 7, width 128, receptive field
T = 153 ms; the naming is their ``DxWxT`` overview in ``fit_CNN.py`` of
github.com/SelfishGene/neuron_as_deep_net). The kernel split, 45 for the first layer and 19
for the six later ones, is what gives T = 1 + 44 + 6 x 18 = 153; we took it from a
third-party PyTorch port that loads that file's weights (layer shapes 1278 -> 128 x 45, then
128 -> 128 x 19), not from the paper's text, so it is an ASSUMPTION checked only by the
arithmetic. That model has 9,232,002 trainable parameters here (conv 7,361,408 +
6 x 311,424; batch norm 7 x 256; heads 258), in line with the "around 10M parameters" that
Spieler et al. (2023, Fig. 2) quote for the TCN. Initialisation as in their ``fit_CNN.py``:
convolution kernels from a normal distribution truncated at two standard deviations with
std 0.002, zero biases; with two outputs the spike head's weights std 0.001 and bias -2, the
voltage head's weights std 0.03 and bias 0 (with more or fewer outputs: std 0.03, bias 0).
Batch normalisation: Keras' defaults (momentum 0.99, i.e. torch's ``momentum=0.01``, eps
1e-3). Their L2 penalty of 1e-8 is left out (negligible at that weight).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .._validation import check_bool, check_int

__all__ = ["TCN", "beniaguev_l5pc_tcn", "tcn_receptive_field", "PAPER_TCN"]

#: the published L5PC model's sizes (see the module docstring for the sources)
PAPER_TCN = dict(depth=7, width=128, kernel_size_first=45, kernel_size=19)


def tcn_receptive_field(depth: int, kernel_size_first: int, kernel_size: int) -> int:
    """Steps an output of :class:`TCN` looks back, its own step included."""
    return 1 + (kernel_size_first - 1) + (depth - 1) * (kernel_size - 1)


class _CausalConv(nn.Module):
    """Left-padded ``Conv1d`` on ``(B, C, T)``: output ``t`` sees inputs ``<= t``."""

    def __init__(self, channels_in: int, channels_out: int, kernel_size: int) -> None:
        super().__init__()
        self.left = kernel_size - 1
        self.conv = nn.Conv1d(channels_in, channels_out, kernel_size)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(nn.functional.pad(x, (self.left, 0)))


class TCN(nn.Module):
    """Causal temporal convolutional network with per-step linear heads (module docstring).

    Args:
        num_inputs: input channels ``I`` (NeuronIO: 1278).
        num_outputs: outputs per step ``O`` (NeuronIO: 2, spike logit and soma voltage).
        depth: convolution layers (>= 1; the published L5PC model: 7).
        width: channels of every layer (published: 128).
        kernel_size_first: kernel of the first layer, in steps (published: 45 ms at 1 ms).
        kernel_size: kernel of the later layers (published: 19).
        batch_norm: batch normalisation after each layer's ReLU (theirs: yes).
        batch_first: inputs/outputs ``(B, T, F)`` instead of ``(T, B, F)``.

    Call: ``forward(x, state=None) -> (y, None)`` with ``x`` ``(T, B, I)`` and ``y``
    ``(T, B, O)``; ``state`` must be None (the network keeps no state between calls: each
    call starts from zero padding).

    Parameters: ``I k1 W + W`` for the first layer, ``(depth - 1)(W k W + W)`` for the
    others, ``2 W`` per batch normalisation, ``O (W + 1)`` for the heads.
    """

    def __init__(
        self,
        num_inputs: int,
        num_outputs: int,
        *,
        depth: int = PAPER_TCN["depth"],
        width: int = PAPER_TCN["width"],
        kernel_size_first: int = PAPER_TCN["kernel_size_first"],
        kernel_size: int = PAPER_TCN["kernel_size"],
        batch_norm: bool = True,
        batch_first: bool = False,
    ) -> None:
        super().__init__()
        self.num_inputs = check_int("num_inputs", num_inputs)
        self.num_outputs = check_int("num_outputs", num_outputs)
        self.depth = check_int("depth", depth)
        self.width = check_int("width", width)
        self.kernel_size_first = check_int("kernel_size_first", kernel_size_first)
        self.kernel_size = check_int("kernel_size", kernel_size)
        self.batch_norm = check_bool("batch_norm", batch_norm)
        self.batch_first = check_bool("batch_first", batch_first)
        layers: list[nn.Module] = []
        channels = self.num_inputs
        for i in range(self.depth):
            k = self.kernel_size_first if i == 0 else self.kernel_size
            layers += [_CausalConv(channels, self.width, k), nn.ReLU()]
            if self.batch_norm:
                layers.append(nn.BatchNorm1d(self.width, eps=1e-3, momentum=0.01))
            channels = self.width
        self.layers = nn.Sequential(*layers)
        self.readout = nn.Linear(self.width, self.num_outputs)
        self.reset_parameters()

    @property
    def receptive_field(self) -> int:
        """Steps an output looks back, its own step included (published model: 153)."""
        return tcn_receptive_field(self.depth, self.kernel_size_first, self.kernel_size)

    def reset_parameters(self) -> None:
        """Beniaguev et al.'s initialisation (module docstring)."""
        for m in self.layers.modules():
            if isinstance(m, nn.Conv1d):
                nn.init.trunc_normal_(m.weight, std=0.002, a=-0.004, b=0.004)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm1d):
                m.reset_parameters()
                m.reset_running_stats()
        stds: Sequence[float] = (
            (0.001, 0.03) if self.num_outputs == 2 else (0.03,) * (self.num_outputs)
        )
        biases: Sequence[float] = (
            (-2.0, 0.0) if self.num_outputs == 2 else (0.0,) * (self.num_outputs)
        )
        with torch.no_grad():
            for row, (std, bias) in enumerate(zip(stds, biases, strict=True)):
                nn.init.trunc_normal_(self.readout.weight[row], std=std, a=-2 * std, b=2 * std)
                self.readout.bias[row] = bias

    def forward(self, x: Tensor, state: None = None) -> tuple[Tensor, None]:
        """``(T, B, I)`` (or ``(B, T, I)`` with ``batch_first``) -> ``((T, B, O), None)``."""
        if state is not None:
            raise ValueError(f"state: a TCN keeps no state, expected None, got {type(state)}")
        if not isinstance(x, Tensor) or x.dim() != 3 or x.shape[-1] != self.num_inputs:
            got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            axes = "(B, T, I)" if self.batch_first else "(T, B, I)"
            raise ValueError(f"x: expected a {axes} tensor with I = {self.num_inputs}, got {got}")
        # (T, B, I) -> (B, I, T) for Conv1d
        h = x.permute(0, 2, 1) if self.batch_first else x.permute(1, 2, 0)
        h = self.layers(h.to(self.readout.weight.dtype))
        y = self.readout(h.transpose(1, 2))  # (B, T, O)
        return (y if self.batch_first else y.transpose(0, 1)), None

    def extra_repr(self) -> str:
        return (
            f"{self.num_inputs} -> {self.num_outputs}, depth={self.depth}, width={self.width}, "
            f"kernels={self.kernel_size_first}/{self.kernel_size}, "
            f"receptive_field={self.receptive_field}"
        )


def beniaguev_l5pc_tcn(num_inputs: int = 1278, num_outputs: int = 2) -> TCN:
    """The published L5PC TCN's architecture (7 x 128, kernels 45 / 19, 153 ms; module
    docstring), untrained."""
    return TCN(num_inputs, num_outputs, **PAPER_TCN)
