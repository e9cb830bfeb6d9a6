"""Models selectable by name, built from a :class:`~elm_snn.tasks.config.RunConfig`.

Every model is wrapped in :class:`SequenceModel`: input dropout (training only) followed by
a backbone mapping time-major ``(T, B, num_inputs)`` to ``(T, B, num_outputs)``. The task
decides how the output sequence is read (last step for SHD tasks, every step after the
burn-in for NeuronIO).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from elm_snn.tasks.config import RunConfig, models_for_task

__all__ = ["SequenceModel", "build_model", "count_parameters", "output_offset"]


class SequenceModel(nn.Module):
    """Input dropout + a sequence backbone.

    Args:
        backbone: module whose ``forward(x)`` returns ``(y, state)`` with ``x`` ``(T, B, I)``
            and ``y`` ``(T, B, O)`` (all elm-snn neurons and networks do).
        input_dropout: dropout probability on the input frames, active only in training
            mode (``model.eval()`` turns it off: unlike the official SHD notebook, validation
            and test never see dropout).
        name: model name (for messages and ``metrics.json``).

    Call: ``forward(x)`` with ``x`` ``(T, B, I)`` returns ``y`` ``(T, B, O)``.
    """

    def __init__(self, backbone: nn.Module, input_dropout: float = 0.0, name: str = "") -> None:
        super().__init__()
        self.backbone = backbone
        self.dropout = nn.Dropout(input_dropout) if input_dropout > 0 else nn.Identity()
        self.name = name

    def forward(self, x: Tensor) -> Tensor:
        """``(T, B, I)`` float (or a sparse batch, see below) -> ``(T, B, O)`` outputs.

        A :class:`~elm_snn.kernels.SparseFrames` batch (``input_format="sparse"``) goes to
        ELM / Branch-ELM backbones as it is, with the dropout applied to its nonzeros
        (zeros stay zeros, as in dense dropout); other backbones get the dense batch.
        """
        if isinstance(x, Tensor):
            y, _ = self.backbone(self.dropout(x))
            return y
        from elm_snn.neurons.elm import ELM

        x = x.with_values(self.dropout(x.val))
        y, _ = self.backbone(x if isinstance(self.backbone, ELM) else x.to_dense())
        return y

    def regularization(self) -> Tensor | None:
        """Extra loss term of the last forward pass (the E/I SNN's L1 spike penalty), or None."""
        penalty = getattr(self.backbone, "spike_penalty", None)
        if penalty is None or getattr(self.backbone, "l1_weight", 0.0) == 0.0:
            return None
        return penalty()


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters (``requires_grad``) of ``module``."""
    return int(sum(p.numel() for p in module.parameters() if p.requires_grad))


def output_offset(model: SequenceModel, channel: int) -> torch.Tensor | None:
    """The tensor that holds the constant additive offset of output ``channel``, or None.

    ELM, Branch-ELM, LSTM and Chrono-LSTM: element ``channel`` of the readout bias (a 0-d
    view; adding to it shifts that output by the same amount at every step). LIF/ALIF:
    their spike-logit offset for channel 0; their channel 1 is the membrane voltage itself,
    which has no free offset (shifting the input bias would also move the spike threshold),
    so None. Models without a readout bias (E/I SNN, ``bias=False``): None.
    """
    backbone = model.backbone
    readout = getattr(backbone, "readout", None)
    if isinstance(readout, nn.Linear):
        if readout.bias is None or not 0 <= channel < readout.out_features:
            return None
        return readout.bias[channel]
    offset = getattr(backbone, "spike_logit_offset", None)
    num = getattr(backbone, "num_neurons", None)
    if isinstance(offset, torch.Tensor) and num == 1 and channel == 0:
        return offset[0]
    return None


def _elm_options(cfg: RunConfig) -> dict:
    return dict(
        mlp_hidden_size=cfg.mlp_hidden_size,
        mlp_num_layers=cfg.mlp_num_layers,
        lambda_value=cfg.lambda_value,
        tau_m_min=cfg.tau_m_min,
        tau_m_max=cfg.tau_m_max,
        tau_m_init=tuple(cfg.tau_m_init),
        tau_m_init_spacing=cfg.tau_m_init_spacing,
        learn_tau_m=cfg.learn_tau_m,
        tau_s=cfg.tau_s,
        memory_update=cfg.memory_update,
        dt=cfg.bin_size_ms,
    )


def build_model(cfg: RunConfig, num_inputs: int, num_outputs: int, num_steps: int) -> SequenceModel:
    """Build the model ``cfg.model`` for ``cfg.task``.

    Args:
        cfg: the run configuration (sizes, ``bin_size_ms`` used as ``dt``).
        num_inputs: input channels (700 for SHD, ``2 * segments`` for NeuronIO).
        num_outputs: classes (20 SHD, 19 SHD-Adding) or 2 (NeuronIO: spike logit, voltage).
        num_steps: time steps of a training sample (Chrono-LSTM's ``T_max``).

    Returns:
        :class:`SequenceModel` mapping ``(T, B, num_inputs)`` to ``(T, B, num_outputs)``.
        Random parts (weights, Branch-ELM routing, SNN synapses) are drawn from torch's
        global RNG or from ``cfg.seed``; seed torch first for reproducible models.
    """
    from elm_snn.neurons import ELM, BranchELM

    name = cfg.model
    allowed = models_for_task(cfg.task)
    if name not in allowed:
        raise ValueError(f"model: expected one of {allowed} for task {cfg.task!r}, got {name!r}")
    dt = cfg.bin_size_ms
    backbone: nn.Module
    if name == "elm":
        backbone = ELM(num_inputs, cfg.num_memory, num_outputs, **_elm_options(cfg))
    elif name == "branch-elm":
        backbone = BranchELM(
            num_inputs,
            cfg.num_memory,
            num_outputs,
            num_branches=cfg.num_branches,
            synapses_per_branch=cfg.synapses_per_branch,
            routing=cfg.routing,
            **_elm_options(cfg),
        )
    elif name in ("lstm", "chrono-lstm"):
        from elm_snn.networks.lstm import LSTM, ChronoLSTM

        if name == "lstm":
            backbone = LSTM(
                num_inputs,
                cfg.lstm_hidden,
                num_outputs,
                recurrent_dropout=cfg.recurrent_dropout,
                dt=dt,
            )
        else:
            backbone = ChronoLSTM(
                num_inputs,
                cfg.lstm_hidden,
                num_outputs,
                t_max_ms=max(num_steps, 3) * dt,
                dt=dt,
                recurrent_dropout=cfg.recurrent_dropout,
                seed=cfg.seed,
            )
    elif name == "snn":
        from elm_snn.networks.eisnn import EISNN

        backbone = EISNN(
            num_inputs,
            num_outputs,
            num_neurons=cfg.snn_num_neurons,
            synapses_per_neuron=cfg.snn_synapses_per_neuron,
            l1_weight=cfg.snn_l1,
            dt=dt,
            seed=cfg.seed,
        )
    elif name in ("lif", "alif"):
        from elm_snn.neurons.lif import ALIF, LIF

        cls = LIF if name == "lif" else ALIF
        backbone = cls(num_inputs, 1, dt=dt, threshold=cfg.lif_threshold)
        if num_outputs != 2:
            raise ValueError(
                f"num_outputs: LIF/ALIF give 2 outputs (logit, voltage), got {num_outputs}"
            )
    else:  # pragma: no cover - guarded above
        raise ValueError(f"model: unknown {name!r}")
    return SequenceModel(backbone, cfg.input_dropout, name=name)


def seeded_model(
    cfg: RunConfig, num_inputs: int, num_outputs: int, num_steps: int
) -> SequenceModel:
    """:func:`build_model` with torch's global RNG seeded from ``cfg.seed`` (same model
    for the same seed, whatever ran before)."""
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(cfg.seed)
        return build_model(cfg, num_inputs, num_outputs, num_steps)
    finally:
        torch.random.set_rng_state(state)
