"""Run configuration: :class:`RunConfig` and the checks of its fields.

A :class:`RunConfig` is a flat, JSON-serialisable record of everything that defines a
training run (task, model, data, optimiser, model sizes, engine options). It is written to
each run folder (``config.json``) and stored in every checkpoint, so ``elm-snn eval`` can
rebuild the model without the command line that trained it.

Its field defaults are the paper's SHD / SHD-Adding settings; the named presets that start
from them are in :mod:`elm_snn.tasks.presets` (:func:`~elm_snn.tasks.presets.resolve_config`)
and :mod:`elm_snn.tasks.lra_presets`. What a task's data require of a configuration (bin
size, offline generator, sparse input) and which fields only one task family reads are
its :class:`~elm_snn.tasks.registry.TaskSpec`'s.

Evaluation runs without input dropout (``model.eval()``), unlike the official SHD notebook:
``docs/results/protocol.md#eval-dropout``.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from elm_snn.tasks.registry import PATHFINDER_DIFFICULTIES, TASKS, check_settings, task_spec

__all__ = ["PRESETS", "TASK_NAMES", "RunConfig", "models_for_task"]

#: the built-in task names (the registry, :data:`elm_snn.tasks.registry.TASKS`, is the source)
TASK_NAMES = tuple(TASKS)
#: preset names (their tables: :mod:`elm_snn.tasks.presets`)
PRESETS = ("paper", "quick")
#: Lightning's precision settings (``Trainer(precision=...)``).
_PRECISIONS = (
    *("32-true", "32", "16-mixed", "16-true", "16", "bf16-mixed", "bf16-true", "bf16"),
    *("64-true", "64", "transformer-engine", "transformer-engine-float16"),
)


def models_for_task(task: str) -> tuple[str, ...]:
    """Model names available for ``task`` (``ValueError`` for an unknown task)."""
    return task_spec(task).models


def _elm_layer_default(name: str) -> Any:
    """The ELM layer's own default of argument ``name``: its constructor is the one home of
    the layer's defaults, and run settings that no preset chooses read them from there."""
    import inspect

    from elm_snn.neurons.elm import ELMCore

    default = inspect.signature(ELMCore.__init__).parameters[name].default
    if default is inspect.Parameter.empty:  # pragma: no cover - a signature change
        raise TypeError(f"ELMCore: argument {name!r} has no default")
    return default


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


@dataclasses.dataclass
class RunConfig:
    """Everything that defines a run. Times in ms.

    The field defaults are the one home of the paper's SHD / SHD-Adding settings: the
    ``"paper"`` preset of those tasks reads them from here, the other presets list what
    they change. Settings no preset chooses and that belong to the ELM layer (``tau_s``,
    ``memory_update``, ``mlp_*``) read the layer's own defaults.

    Attributes (main ones; the rest are model sizes named as in the model classes):
        task: a registered task (:data:`TASK_NAMES`); model: one of its models.
        preset: preset the values came from (``"paper"`` or ``"quick"``).
        bin_size_ms: bin size = ``dt`` of the model (ms); NeuronIO and LRA are fixed at 1 ms.
        data_root: folder of the data; ``None`` with ``synthetic``.
        synthetic: generate (or reuse from the cache) offline data with :mod:`elm_snn.synth`.
        synthetic_size: spoken digits per class (SHD tasks) or simulations (NeuronIO).
        seed: seed of the model initialisation, data order, pairs/windows and dropout.
        max_epochs: training epochs.
        train_samples_per_epoch: samples (pairs, windows) per epoch; ``None``: the whole
            training split (SHD), 16000 pairs (SHD-Adding), ``11400 * batch`` windows (NeuronIO).
        val_samples / test_samples: cap on validation/test items (``None``: all).
        batch_size / eval_batch_size: per-process batch sizes.
        optimizer: ``"adamax"``, ``"adam"`` or ``"adamw"``; ``lr``, ``weight_decay``.
        lr_schedule: ``"cosine"`` (decay to 0 over the run, per step) or ``"constant"``.
        gradient_clip_val: clip the gradient norm at this value (``None``: no clipping).
        early_stopping_patience: stop after this many epochs without improvement of the
            validation metric (``None``: never).
        input_dropout: dropout on the input frames during training.
        readout, logit_scale, validation_split, validation_fraction, input_dropout_mode,
            input_format: SHD tasks; output_init, window_ms, burn_in_ms: NeuronIO; seq_len,
            difficulty: LRA. Their meaning and values: :mod:`elm_snn.tasks.registry`.
    """

    task: str
    model: str
    preset: str = "paper"
    bin_size_ms: float = 2.0
    data_root: str | None = None
    synthetic: bool = False
    synthetic_size: int = 40
    seed: int = 0
    max_epochs: int = 70
    train_samples_per_epoch: int | None = None
    val_samples: int | None = None
    test_samples: int | None = None
    batch_size: int = 8
    eval_batch_size: int = 32
    optimizer: str = "adamax"
    lr: float = 5e-3
    weight_decay: float = 0.0
    lr_schedule: str = "cosine"
    gradient_clip_val: float | None = None
    early_stopping_patience: int | None = None
    input_dropout: float = 0.5
    # ELM / Branch-ELM. Bounds 0..1000 ms as in the paper's SHD setting: the layer's own
    # default tau_m_min is 1 ms (the NeuronIO presets use that); the fields without a paper
    # value (mlp_*, tau_s, memory_update) take the layer's defaults
    num_memory: int = 100
    mlp_hidden_size: int | None = _elm_layer_default("mlp_hidden_size")
    mlp_num_layers: int = _elm_layer_default("mlp_num_layers")
    lambda_value: float = 5.0
    tau_m_min: float = 0.0
    tau_m_max: float = 1000.0
    tau_m_init: tuple[float, float] = (1.0, 150.0)
    tau_m_init_spacing: str = "linear"
    learn_tau_m: bool = True
    tau_s: float = _elm_layer_default("tau_s")
    memory_update: str = _elm_layer_default("memory_update")
    num_branches: int = 100
    synapses_per_branch: int = 15
    routing: str = "random"
    # LSTM
    lstm_hidden: int = 250
    recurrent_dropout: float = 0.3
    # E/I SNN
    snn_num_neurons: int = 500
    snn_synapses_per_neuron: int = 100
    snn_l1: float = 0.01
    # LIF / ALIF (NeuronIO)
    lif_threshold: float = 1.27
    # TCN (NeuronIO; elm_snn.networks.tcn): Beniaguev et al.'s published L5PC model
    tcn_depth: int = 7
    tcn_width: int = 128
    tcn_kernel_first: int = 45
    tcn_kernel: int = 19
    # NeuronIO
    window_ms: int = 500
    burn_in_ms: int = 150
    output_init: str = "data"
    # Long Range Arena (see elm_snn.tasks.lra_presets)
    seq_len: int | None = None
    difficulty: str | None = None
    # SHD tasks
    readout: str = "last"
    logit_scale: float = 1.0
    validation_split: str = "sample"
    validation_fraction: float = 0.1
    input_dropout_mode: str = "scaled"
    input_format: str = "dense"
    # engine
    accelerator: str = "auto"
    devices: int | str = 1
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str = "32-true"
    num_workers: int = 0
    deterministic: bool = True
    progress_bar: bool = True

    def __post_init__(self) -> None:
        spec = task_spec(self.task)
        if self.model not in spec.models:
            raise ValueError(
                f"model: expected one of {spec.models} for task {self.task!r}, got {self.model!r}"
            )
        if self.preset not in PRESETS:
            raise ValueError(f"preset: expected one of {PRESETS}, got {self.preset!r}")
        self.tau_m_init = (float(self.tau_m_init[0]), float(self.tau_m_init[1]))
        self._check_counts()
        if not (isinstance(self.bin_size_ms, (int, float)) and self.bin_size_ms > 0):
            raise ValueError(f"bin_size_ms: expected a number > 0 (ms), got {self.bin_size_ms!r}")
        self.bin_size_ms = float(self.bin_size_ms)
        if str(self.precision) not in _PRECISIONS:
            raise ValueError(
                f"precision: expected one of {', '.join(_PRECISIONS)} (--precision), got "
                f"{self.precision!r}"
            )
        if self.difficulty is not None and self.difficulty not in PATHFINDER_DIFFICULTIES:
            raise ValueError(
                f"difficulty: expected None or one of {PATHFINDER_DIFFICULTIES}, got "
                f"{self.difficulty!r}"
            )
        if not spec.difficulty and self.difficulty == "hard":
            # the field's default before it became None: run folders saved then still match
            # the configuration that made them (the value never meant anything here)
            self.difficulty = None
        self._check_optimisation()
        check_settings(self)
        spec.check_config(self)
        if self.data_root is None and not self.synthetic:
            raise ValueError(
                "data_root: expected a data folder (--data-root DIR) or synthetic=True "
                "(--synthetic), got neither"
            )

    def _check_counts(self) -> None:
        """Counts are integers >= 1 (optional ones may be None), the seed >= 0."""
        required = ("max_epochs", "batch_size", "eval_batch_size", "num_nodes")
        for name in (*required, "tcn_depth", "tcn_width", "tcn_kernel_first", "tcn_kernel"):
            v = getattr(self, name)
            if not _is_int(v) or v < 1:
                raise ValueError(f"{name}: expected an integer >= 1, got {v!r}")
        for name in ("train_samples_per_epoch", "val_samples", "test_samples", "seq_len"):
            v = getattr(self, name)
            if v is not None and (not _is_int(v) or v < 1):
                raise ValueError(f"{name}: expected None or an integer >= 1, got {v!r}")
        if not (_is_int(self.seed) and self.seed >= 0):
            raise ValueError(f"seed: expected an integer >= 0, got {self.seed!r}")

    def _check_optimisation(self) -> None:
        """Optimiser, schedule, dropout, clipping and early stopping."""
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ValueError(f"lr: expected a number > 0, got {self.lr!r}")
        if self.optimizer not in ("adamax", "adam", "adamw"):
            raise ValueError(
                f"optimizer: expected 'adamax', 'adam' or 'adamw', got {self.optimizer!r}"
            )
        if self.lr_schedule not in ("cosine", "constant"):
            raise ValueError(
                f"lr_schedule: expected 'cosine' or 'constant', got {self.lr_schedule!r}"
            )
        for name in ("input_dropout", "recurrent_dropout"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and 0.0 <= v < 1.0):
                raise ValueError(f"{name}: expected a probability in [0, 1), got {v!r}")
        if self.gradient_clip_val is not None and not self.gradient_clip_val > 0:
            raise ValueError(
                f"gradient_clip_val: expected None or a number > 0, got {self.gradient_clip_val!r}"
            )
        if self.early_stopping_patience is not None and self.early_stopping_patience < 1:
            raise ValueError(
                f"early_stopping_patience: expected None or >= 1, got "
                f"{self.early_stopping_patience!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict (tuples become lists)."""
        d = dataclasses.asdict(self)
        d["tau_m_init"] = list(self.tau_m_init)
        return d

    def to_json(self) -> str:
        """Indented JSON of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise a ``ValueError`` naming them."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"config: unknown keys {unknown}")
        return cls(**d)

    def replace(self, **changes: Any) -> RunConfig:
        """Copy with ``changes`` applied (validated again)."""
        return RunConfig.from_dict({**self.to_dict(), **changes})

    #: fields that define the model's architecture (must match to load a checkpoint)
    ARCHITECTURE_FIELDS = (
        *("task", "model", "bin_size_ms", "num_memory", "mlp_hidden_size", "mlp_num_layers"),
        *("lambda_value", "tau_m_min", "tau_m_max", "tau_m_init", "tau_m_init_spacing"),
        *("learn_tau_m", "tau_s", "memory_update", "num_branches", "synapses_per_branch"),
        *("routing", "lstm_hidden", "snn_num_neurons", "snn_synapses_per_neuron"),
        *("lif_threshold", "tcn_depth", "tcn_width", "tcn_kernel_first", "tcn_kernel"),
    )
