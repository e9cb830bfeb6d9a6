"""Task registry: the name of every task, the models it offers, the run settings it owns,
what its data require of a run's configuration, and where its
:class:`~elm_snn.tasks.base.Task` class lives.

:class:`~elm_snn.tasks.config.RunConfig` checks a configuration against the
:class:`TaskSpec` of its task (:meth:`TaskSpec.check_config`), and
:func:`~elm_snn.tasks.get_task` builds the task from it, so no other module branches on a
task's name. The Task class is named as
``"module:Class"`` and imported on first use, which keeps this table (and the config
module) free of the datasets' imports.

Adding a task: :func:`register_task` with its spec. Adding a model to a task: its builder in
:data:`elm_snn.tasks.models.MODEL_BUILDERS` and its name in the task's ``models`` below.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
from typing import Any

from elm_snn.tasks.lra_presets import LRA_MODELS, LRA_TASKS

__all__ = [
    "INPUT_DROPOUT_MODES",
    "INPUT_FORMATS",
    "LRA_SETTINGS",
    "NEURONIO_MODELS",
    "NEURONIO_SETTINGS",
    "OUTPUT_INITS",
    "PATHFINDER_DIFFICULTIES",
    "SHD_READOUTS",
    "SHD_SETTINGS",
    "VALIDATION_SPLITS",
    "SHD_MODELS",
    "TASKS",
    "TaskSpec",
    "check_settings",
    "register_task",
    "task_spec",
]

# Norse's own LIF / LSNN neurons as extra baselines (elm_snn.networks.norse_baselines)
SHD_MODELS = ("elm", "branch-elm", "lstm", "chrono-lstm", "snn", "norse-lif", "norse-lsnn")
NEURONIO_MODELS = ("elm", "branch-elm", "lif", "alif", "lstm", "tcn", "norse-lif", "norse-lsnn")

#: RunConfig fields that only the SHD tasks read, and the values of the choices among them.
#: ``logit_scale``: a fixed factor on the logits, ``logit_scale * readout(y)`` (1, the
#: paper's, leaves them as they are); for the E/I SNN, whose logits are low-passed spike
#: counts bounded by ``1 / (1 - exp(-dt / 20 ms))`` (1.58 at 20 ms bins), it is the softmax
#: temperature that lets the cross-entropy become confident. ``validation_fraction``: the
#: share of training samples (``"sample"``) or speakers (``"speaker"``, at least one) held
#: out for validation.
SHD_SETTINGS = (
    *("readout", "logit_scale", "validation_split", "validation_fraction"),
    *("input_dropout_mode", "input_format"),
)
#: ``readout``: how the model's output sequence becomes the logits (the reductions of
#: :func:`elm_snn.networks.readout.aggregate`); the E/I SNN's output is already the 20 ms
#: low-pass of its output spikes, so for it each is "low-pass, then aggregate".
SHD_READOUTS = ("last", "mean", "sum", "max")
#: ``validation_split``: validation items held out of ``shd_train.h5`` by ``"sample"``
#: (random 10 %) or by ``"speaker"`` (every sample of 10 % of the training speakers, at
#: least one).
VALIDATION_SPLITS = ("sample", "speaker")
#: ``input_dropout_mode``: how ``input_dropout`` drops input spikes. ``"scaled"``:
#: ``torch.nn.Dropout`` (kept inputs x ``1 / (1 - p)`` in training, no dropout in
#: evaluation: deterministic validation and test). ``"official"``: as the official SHD
#: notebook, each input zeroed with probability ``p``, never rescaled, in training *and* in
#: evaluation.
INPUT_DROPOUT_MODES = ("scaled", "official")
#: ``input_format``: batches as dense frames or as their nonzeros (:mod:`elm_snn.data.sparse`).
INPUT_FORMATS = ("dense", "sparse")

#: RunConfig fields that only NeuronIO reads (``window_ms``, ``burn_in_ms``: training window
#: and the part of it excluded from the loss)
NEURONIO_SETTINGS = ("window_ms", "burn_in_ms", "output_init")
#: ``output_init``: ``"data"``: spike logit and voltage output start at the training data's
#: log-odds / mean (:meth:`elm_snn.tasks.neuronio.NeuronIOTask.initialise_model`);
#: ``"none"``: the constructors' initialisation.
OUTPUT_INITS = ("data", "none")

#: RunConfig fields that only the LRA tasks read. ``seq_len``: tokens kept per sequence
#: (Text / Retrieval: bytes per document; ListOps: also the longest generated tree with
#: ``synthetic``). ``difficulty`` (the Pathfinders only): one of
#: :data:`PATHFINDER_DIFFICULTIES`, or ``None``: the one ``data_root`` holds (the hardest if
#: several), with ``synthetic`` the preset's
#: (:data:`elm_snn.tasks.lra_presets.SYNTHETIC_DIFFICULTY`).
LRA_SETTINGS = ("seq_len", "difficulty")
#: ``difficulty``: Pathfinder contours of 6, 9, 14 paddles (the generator's table:
#: :data:`elm_snn.lra.pathfinder.DIFFICULTIES`)
PATHFINDER_DIFFICULTIES = ("easy", "medium", "hard")


def _expect_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name}: expected one of {choices}, got {value!r}")


def check_settings(cfg: Any) -> None:
    """Check the values of every task family's own settings of the
    :class:`~elm_snn.tasks.config.RunConfig` ``cfg`` (every task checks them, whether it
    reads them or not, so that a saved configuration stays valid); ``validation_fraction``
    becomes a float."""
    _expect_choice("input_format", cfg.input_format, INPUT_FORMATS)
    _expect_choice("output_init", cfg.output_init, OUTPUT_INITS)
    _expect_choice("readout", cfg.readout, SHD_READOUTS)
    scale = cfg.logit_scale
    if not (isinstance(scale, (int, float)) and not isinstance(scale, bool)) or not (
        0 < scale < math.inf
    ):
        raise ValueError(f"logit_scale: expected a finite number > 0, got {scale!r}")
    _expect_choice("validation_split", cfg.validation_split, VALIDATION_SPLITS)
    frac = cfg.validation_fraction
    if isinstance(frac, bool) or not isinstance(frac, (int, float)) or not 0.0 < frac < 1.0:
        raise ValueError(f"validation_fraction: expected a number in (0, 1), got {frac!r}")
    cfg.validation_fraction = float(frac)
    _expect_choice("input_dropout_mode", cfg.input_dropout_mode, INPUT_DROPOUT_MODES)


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """What the rest of elm-snn needs to know about a task without loading it.

    Attributes:
        name: task name (``--task``).
        task_class: ``"module:Class"`` of its :class:`~elm_snn.tasks.base.Task`.
        models: model names it offers (see :data:`elm_snn.tasks.models.MODEL_BUILDERS`).
        task_args: positional arguments of the Task class (LRA: the task name).
        fixed_bin_size_ms: the data's own step (ms) when ``bin_size_ms`` cannot be chosen,
            with ``fixed_bin_reason`` saying why in the error message; ``None``: free.
        digit_duration_ms: SHD tasks: the bin size must divide this (ms).
        synthetic: whether ``--synthetic`` can generate its data offline.
        settings: the :class:`~elm_snn.tasks.config.RunConfig` fields that this task reads
            and tasks of other families do not (the other fields are shared).
        sparse_input: whether it serves ``input_format="sparse"`` batches.
        difficulty: whether it reads ``difficulty`` (LRA Pathfinder).
    """

    name: str
    task_class: str
    models: tuple[str, ...]
    task_args: tuple[Any, ...] = ()
    fixed_bin_size_ms: float | None = None
    fixed_bin_reason: str = ""
    digit_duration_ms: float | None = None
    synthetic: bool = True
    settings: tuple[str, ...] = ()
    sparse_input: bool = False
    difficulty: bool = False

    def build(self) -> Any:
        """A new Task object of this spec."""
        module, _, cls = self.task_class.partition(":")
        return getattr(importlib.import_module(module), cls)(*self.task_args)

    def check_config(self, cfg: Any) -> None:
        """Raise a ``ValueError`` where the :class:`~elm_snn.tasks.config.RunConfig` ``cfg``
        (its fields already checked one by one) asks what this task's data cannot give."""
        if self.digit_duration_ms is not None:
            _check_digit_bins(cfg.bin_size_ms, self.digit_duration_ms)
        if self.fixed_bin_size_ms is not None and cfg.bin_size_ms != self.fixed_bin_size_ms:
            raise ValueError(
                f"bin_size_ms: {self.fixed_bin_reason}, got {cfg.bin_size_ms} "
                f"(leave --bin-size out for {self.name})"
            )
        if cfg.synthetic and not self.synthetic:
            raise ValueError(
                f"synthetic: {self.name!r} has no offline generator (only listops, pathfinder "
                f"and pathfinder-x have one); pass the real data with --data-root DIR"
            )
        if cfg.input_format == "sparse" and not self.sparse_input:
            raise ValueError(f"input_format: 'sparse' is for the SHD tasks, not {self.name!r}")


def _check_digit_bins(bin_size_ms: float, digit_ms: float) -> None:
    """Require a bin size that divides the ``digit_ms`` digit (the message suggests
    --bin-size values that do)."""
    ratio = digit_ms / bin_size_ms
    if abs(ratio - round(ratio)) <= 1e-9 * max(1.0, ratio) and round(ratio) >= 1:
        return
    nice = [k / 2 for k in range(1, 2001) if (2 * digit_ms) % k == 0]  # multiples of 0.5 ms
    below = [b for b in nice if b < bin_size_ms]
    above = [b for b in nice if b > bin_size_ms]
    hint = " or ".join(f"--bin-size {b:g}" for b in (below[-1:] + above[:1]))
    raise ValueError(
        f"bin_size_ms: {bin_size_ms:g} ms does not divide the {digit_ms:g} ms digit duration "
        f"({ratio:.4g} bins; a partial last bin is not allowed); use a bin size that does, "
        f"e.g. {hint}"
    )


#: name -> spec of every task, in ``--task`` order
TASKS: dict[str, TaskSpec] = {}


def register_task(spec: TaskSpec) -> TaskSpec:
    """Add ``spec`` to :data:`TASKS` (a name can be registered once)."""
    if spec.name in TASKS:
        raise ValueError(f"task: {spec.name!r} is already registered")
    TASKS[spec.name] = spec
    return spec


def task_spec(name: str) -> TaskSpec:
    """The spec of task ``name``; ``ValueError`` listing the registered names otherwise."""
    spec = TASKS.get(name) if isinstance(name, str) else None
    if spec is None:
        raise ValueError(f"task: expected one of {tuple(TASKS)}, got {name!r}")
    return spec


for _name, _cls in (("shd", "SHDTask"), ("shd-adding", "SHDAddingTask")):
    register_task(
        TaskSpec(
            _name,
            f"elm_snn.tasks.shd:{_cls}",
            SHD_MODELS,
            digit_duration_ms=1000.0,  # one digit's slot, binned into 1000 / bin_size_ms steps
            settings=SHD_SETTINGS,
            sparse_input=True,
        )
    )
register_task(
    TaskSpec(
        "neuronio",
        "elm_snn.tasks.neuronio:NeuronIOTask",
        NEURONIO_MODELS,
        fixed_bin_size_ms=1.0,
        fixed_bin_reason="NeuronIO is sampled at 1 ms",
        settings=NEURONIO_SETTINGS,
    )
)
for _name in LRA_TASKS:
    register_task(
        TaskSpec(
            _name,
            "elm_snn.tasks.lra:LRATask",
            LRA_MODELS,
            task_args=(_name,),
            fixed_bin_size_ms=1.0,
            fixed_bin_reason="LRA tasks take one token per 1 ms step",
            # only ListOps and the two Pathfinders have an offline generator
            synthetic=_name in ("listops", "pathfinder", "pathfinder-x"),
            settings=LRA_SETTINGS,
            difficulty=_name.startswith("pathfinder"),
        )
    )
del _name, _cls
