"""Models selectable by name, built from a :class:`~elm_snn.tasks.config.RunConfig`.

Every model is wrapped in :class:`SequenceModel`: input dropout (training only) followed by
a backbone mapping time-major ``(T, B, num_inputs)`` to ``(T, B, num_outputs)``. The task
decides how the output sequence is read (last step for SHD tasks, every step after the
burn-in for NeuronIO).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from elm_snn.tasks.config import RunConfig, models_for_task

__all__ = [
    "MODEL_BUILDERS",
    "NORSE_MODELS",
    "SequenceModel",
    "build_model",
    "count_parameters",
    "output_offset",
    "register_model",
]


class UnscaledInputDropout(nn.Module):
    """The official SHD notebook's input dropout: every input zeroed with probability ``p``,
    the kept inputs left as they are (no ``1 / (1 - p)``), in training *and* in evaluation.

    So a model sees on average ``1 - p`` of its input spikes, at the same scale, whether it
    trains or is tested; evaluation is then random (seeded by the engine like everything
    else). ``torch.nn.Dropout`` instead doubles the kept spikes (``p = 0.5``) in training and
    passes all of them unscaled in evaluation.

    Args:
        p: drop probability in ``[0, 1)``.

    Call: ``forward(x)`` with ``x`` of any shape returns ``x * mask``, ``mask`` 0/1 drawn
    from torch's global RNG.
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
            raise ValueError(f"p: expected a probability in [0, 1), got {p!r}")
        self.p = float(p)

    def forward(self, x: Tensor) -> Tensor:
        if self.p == 0.0:
            return x
        return x * (torch.rand_like(x) >= self.p).to(x.dtype)

    def extra_repr(self) -> str:
        return f"p={self.p}, unscaled, also in evaluation"


class SequenceModel(nn.Module):
    """Input dropout + a sequence backbone.

    Args:
        backbone: module whose ``forward(x)`` returns ``(y, state)`` with ``x`` ``(T, B, I)``
            and ``y`` ``(T, B, O)`` (all elm-snn neurons and networks do).
        input_dropout: dropout probability on the input frames.
        input_dropout_mode: ``"scaled"`` (``torch.nn.Dropout``: active only in training
            mode, ``model.eval()`` turns it off, so validation and test are deterministic)
            or ``"official"`` (:class:`UnscaledInputDropout`, as the official SHD notebook:
            unscaled and also active in evaluation).
        name: model name (for messages and ``metrics.json``).

    Call: ``forward(x)`` with ``x`` ``(T, B, I)`` returns ``y`` ``(T, B, O)``.
    """

    def __init__(
        self,
        backbone: nn.Module,
        input_dropout: float = 0.0,
        name: str = "",
        input_dropout_mode: str = "scaled",
    ) -> None:
        super().__init__()
        self.backbone = backbone
        if input_dropout_mode not in ("scaled", "official"):
            raise ValueError(
                f"input_dropout_mode: expected 'scaled' or 'official', got {input_dropout_mode!r}"
            )
        if input_dropout <= 0:
            self.dropout: nn.Module = nn.Identity()
        elif input_dropout_mode == "official":
            self.dropout = UnscaledInputDropout(input_dropout)
        else:
            self.dropout = nn.Dropout(input_dropout)
        self.name = name

    def forward(self, x: Tensor) -> Tensor:
        """``(T, B, I)`` float (or a sparse batch, see below) -> ``(T, B, O)`` outputs.

        A :class:`~elm_snn.kernels.SparseFrames` batch (``input_format="sparse"``) gets the
        dropout on its nonzeros (zeros stay zeros, as in dense dropout) and goes to backbones
        that take sparse batches (``takes_sparse_frames``: ELM / Branch-ELM, whose
        ``forward`` chooses the path) as it is; other backbones get the dense batch.
        """
        if isinstance(x, Tensor):
            y, _ = self.backbone(self.dropout(x))
            return y
        x = x.with_values(self.dropout(x.val))
        takes_sparse = getattr(self.backbone, "takes_sparse_frames", False)
        y, _ = self.backbone(x if takes_sparse else x.to_dense())
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

    ELM, Branch-ELM, LSTM, Chrono-LSTM and TCN: element ``channel`` of the readout bias (a 0-d
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


#: ``backbone_builder(cfg, num_inputs, num_outputs, num_steps) -> nn.Module``
BackboneBuilder = Callable[[RunConfig, int, int, int], nn.Module]

#: model name -> backbone builder; a task offers the names listed in its
#: :class:`~elm_snn.tasks.registry.TaskSpec`. Add a model with one decorated builder.
MODEL_BUILDERS: dict[str, BackboneBuilder] = {}


def register_model(name: str) -> Callable[[BackboneBuilder], BackboneBuilder]:
    """Decorator adding a backbone builder to :data:`MODEL_BUILDERS` under ``name``."""

    def add(builder: BackboneBuilder) -> BackboneBuilder:
        if name in MODEL_BUILDERS:
            raise ValueError(f"model: {name!r} is already registered")
        MODEL_BUILDERS[name] = builder
        return builder

    return add


@register_model("elm")
def _elm(cfg: RunConfig, num_inputs: int, num_outputs: int, num_steps: int) -> nn.Module:
    from elm_snn.neurons import ELM

    return ELM(num_inputs, cfg.num_memory, num_outputs, **_elm_options(cfg))


@register_model("branch-elm")
def _branch_elm(cfg: RunConfig, num_inputs: int, num_outputs: int, num_steps: int) -> nn.Module:
    from elm_snn.neurons import BranchELM

    return BranchELM(
        num_inputs,
        cfg.num_memory,
        num_outputs,
        num_branches=cfg.num_branches,
        synapses_per_branch=cfg.synapses_per_branch,
        routing=cfg.routing,
        **_elm_options(cfg),
    )


@register_model("lstm")
def _lstm(cfg: RunConfig, num_inputs: int, num_outputs: int, num_steps: int) -> nn.Module:
    from elm_snn.networks.lstm import LSTM

    return LSTM(
        num_inputs,
        cfg.lstm_hidden,
        num_outputs,
        recurrent_dropout=cfg.recurrent_dropout,
        dt=cfg.bin_size_ms,
    )


@register_model("chrono-lstm")
def _chrono_lstm(cfg: RunConfig, num_inputs: int, num_outputs: int, num_steps: int) -> nn.Module:
    from elm_snn.networks.lstm import ChronoLSTM

    return ChronoLSTM(
        num_inputs,
        cfg.lstm_hidden,
        num_outputs,
        t_max_ms=max(num_steps, 3) * cfg.bin_size_ms,
        dt=cfg.bin_size_ms,
        recurrent_dropout=cfg.recurrent_dropout,
        seed=cfg.seed,
    )


@register_model("snn")
def _eisnn(cfg: RunConfig, num_inputs: int, num_outputs: int, num_steps: int) -> nn.Module:
    from elm_snn.networks.eisnn import EISNN

    return EISNN(
        num_inputs,
        num_outputs,
        num_neurons=cfg.snn_num_neurons,
        synapses_per_neuron=cfg.snn_synapses_per_neuron,
        l1_weight=cfg.snn_l1,
        dt=cfg.bin_size_ms,
        seed=cfg.seed,
    )


def _check_two_outputs(num_outputs: int) -> None:
    if num_outputs != 2:
        raise ValueError(
            f"num_outputs: LIF/ALIF give 2 outputs (logit, voltage), got {num_outputs}"
        )


@register_model("lif")
def _lif(cfg: RunConfig, num_inputs: int, num_outputs: int, num_steps: int) -> nn.Module:
    from elm_snn.neurons.lif import LinearLIF

    _check_two_outputs(num_outputs)
    return LinearLIF(num_inputs, 1, dt=cfg.bin_size_ms, threshold=cfg.lif_threshold)


@register_model("alif")
def _alif(cfg: RunConfig, num_inputs: int, num_outputs: int, num_steps: int) -> nn.Module:
    from elm_snn.neurons.lif import LinearALIF

    _check_two_outputs(num_outputs)
    return LinearALIF(num_inputs, 1, dt=cfg.bin_size_ms, threshold=cfg.lif_threshold)


@register_model("tcn")
def _tcn(cfg: RunConfig, num_inputs: int, num_outputs: int, num_steps: int) -> nn.Module:
    from elm_snn.networks.tcn import TCN

    return TCN(
        num_inputs,
        num_outputs,
        depth=cfg.tcn_depth,
        width=cfg.tcn_width,
        kernel_size_first=cfg.tcn_kernel_first,
        kernel_size=cfg.tcn_kernel,
    )


#: model name -> Norse neuron of :class:`~elm_snn.networks.norse_baselines.NorseSNN`
NORSE_MODELS = {"norse-lif": "lif", "norse-lsnn": "lsnn"}


def _norse(neuron: str):  # noqa: ANN202 - a builder
    def build(cfg: RunConfig, num_inputs: int, num_outputs: int, num_steps: int) -> nn.Module:
        from elm_snn.networks.norse_baselines import NorseSNN

        return NorseSNN(
            num_inputs,
            num_outputs,
            hidden_size=cfg.lstm_hidden,  # the LSTM baselines' width
            neuron=neuron,
            dt=cfg.bin_size_ms,
        )

    return build


# Norse's own neurons (elm_snn.networks.norse_baselines)
for _name, _neuron in NORSE_MODELS.items():
    register_model(_name)(_norse(_neuron))


def build_model(cfg: RunConfig, num_inputs: int, num_outputs: int, num_steps: int) -> SequenceModel:
    """Build the model ``cfg.model`` for ``cfg.task`` (see :data:`MODEL_BUILDERS`).

    Args:
        cfg: the run configuration (sizes, ``bin_size_ms`` used as ``dt``).
        num_inputs: input channels (700 for SHD, ``2 * segments`` for NeuronIO).
        num_outputs: classes (20 SHD, 19 SHD-Adding) or 2 (NeuronIO: spike logit, voltage).
        num_steps: time steps of a training sample (Chrono-LSTM's ``T_max``).

    Returns:
        :class:`SequenceModel` mapping ``(T, B, num_inputs)`` to ``(T, B, num_outputs)``.
        Random parts (weights, Branch-ELM routing, SNN synapses) are drawn from torch's
        global RNG or from ``cfg.seed``; seed torch first for reproducible models.

    Raises:
        ValueError: a model the task does not offer, or one without a builder (the
            message lists the choices).
    """
    name = cfg.model
    allowed = models_for_task(cfg.task)
    if name not in allowed:
        raise ValueError(f"model: expected one of {allowed} for task {cfg.task!r}, got {name!r}")
    builder = MODEL_BUILDERS.get(name)
    if builder is None:
        raise ValueError(
            f"model: no builder registered for {name!r}; registered: {tuple(MODEL_BUILDERS)}"
        )
    backbone = builder(cfg, num_inputs, num_outputs, num_steps)
    return SequenceModel(
        backbone, cfg.input_dropout, name=name, input_dropout_mode=cfg.input_dropout_mode
    )


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
