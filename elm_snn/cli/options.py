"""The options ``elm-snn train`` and ``elm-snn compare`` share, and how they become
:class:`~elm_snn.tasks.RunConfig` overrides.

Task names come from the registry (:data:`elm_snn.tasks.registry.TASKS`), which imports no
torch.
"""

from __future__ import annotations

import argparse
from typing import Any

from elm_snn.tasks.registry import TASKS

__all__ = ["TASK_CHOICES", "add_common_arguments", "config_overrides"]

#: The ``--task`` choices: every registered task.
TASK_CHOICES = tuple(TASKS)


def _devices(value: str) -> int | str:
    """``--devices``: an int (>= 1, or -1 for all), ``"auto"`` or ids such as ``"0,1"``."""
    if value == "auto" or "," in value:
        return value
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an integer, 'auto' or a comma-separated list of device ids, got {value!r}"
        ) from None
    if n < 1 and n != -1:
        raise argparse.ArgumentTypeError(f"expected >= 1 (or -1 for all), got {n}")
    return n


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    """Where the data come from (files or generated) and the preset."""
    data = parser.add_mutually_exclusive_group()
    data.add_argument(
        "--data-root",
        default=None,
        help="folder with the data (SHD: shd_train.h5 + shd_test.h5; NeuronIO: its files)",
    )
    data.add_argument(
        "--synthetic",
        action="store_true",
        help="generate (or reuse from the cache) offline data: spoken digits in SHD's format "
        "for shd/shd-adding, NEURON simulations in NeuronIO's format for neuronio",
    )
    parser.add_argument(
        "--preset",
        choices=("paper", "quick"),
        default="paper",
        help="hyperparameters: the paper's (default) or small ones for CPU demos",
    )


def _add_budget_options(parser: argparse.ArgumentParser) -> None:
    """Optimisation budget: epochs, batch, learning rate, samples, clipping, early stop."""
    parser.add_argument("--max-epochs", type=int, default=None, help="training epochs")
    parser.add_argument("--batch-size", type=int, default=None, help="batch size per process")
    parser.add_argument("--lr", type=float, default=None, help="initial learning rate")
    parser.add_argument(
        "--train-samples",
        type=int,
        default=None,
        help="training samples (pairs/windows) per epoch",
    )
    parser.add_argument("--val-samples", type=int, default=None, help="cap on validation items")
    parser.add_argument("--test-samples", type=int, default=None, help="cap on test items")
    parser.add_argument(
        "--synthetic-size",
        type=int,
        default=None,
        help="with --synthetic: utterances per class (SHD tasks) or simulations (neuronio)",
    )
    parser.add_argument(
        "--gradient-clip", type=float, default=None, help="clip the gradient norm at this value"
    )
    parser.add_argument(
        "--early-stopping",
        type=int,
        default=None,
        metavar="PATIENCE",
        help="stop after PATIENCE epochs without validation improvement",
    )


def _add_protocol_options(parser: argparse.ArgumentParser) -> None:
    """Model size and the tasks' protocol choices (readout, validation, input format)."""
    parser.add_argument("--num-memory", type=int, default=None, help="ELM memory units d_m")
    parser.add_argument(
        "--difficulty",
        choices=("easy", "medium", "hard"),
        default=None,
        help="Pathfinder: contours of 6 / 9 / 14 paddles; default: the one --data-root holds "
        "(the hardest if several), with --synthetic the preset's (paper hard, quick easy)",
    )
    parser.add_argument(
        "--output-init",
        choices=("data", "none"),
        default=None,
        help="NeuronIO: start the spike logit / voltage output at the training data's "
        "log-odds / mean ('data'), or keep the constructors' initialisation ('none')",
    )
    parser.add_argument(
        "--readout",
        choices=("last", "mean", "sum", "max"),
        default=None,
        help="SHD tasks: logits = the model's output at the last step (the paper) or its "
        "mean/sum/max over time (E/I SNN: of its 20 ms low-pass); default: the preset's",
    )
    parser.add_argument(
        "--logit-scale",
        type=float,
        default=None,
        help="SHD tasks: multiply the logits by this factor (the E/I SNN's softmax "
        "temperature; 1 is the paper's); default: the preset's",
    )
    parser.add_argument(
        "--tau-m-init",
        type=float,
        nargs=2,
        metavar=("MIN_MS", "MAX_MS"),
        default=None,
        help="ELM / Branch-ELM: initial memory time constants spread from MIN_MS to MAX_MS "
        "(the paper: 1 150); default: the preset's",
    )
    parser.add_argument(
        "--validation-split",
        choices=("sample", "speaker"),
        default=None,
        help="SHD tasks: hold out a share (--validation-fraction) of the training samples "
        "('sample') or of the training speakers ('speaker') for validation; default: the "
        "preset's",
    )
    parser.add_argument(
        "--validation-fraction",
        type=float,
        default=None,
        help="SHD tasks: share of the training samples / speakers held out for validation, "
        "in (0, 1) (default: the preset's, 0.1)",
    )
    parser.add_argument(
        "--input-dropout-mode",
        choices=("scaled", "official"),
        default=None,
        help="SHD tasks: 'scaled' input dropout (torch Dropout: kept spikes x 1/(1-p) in "
        "training, none in evaluation; the default) or the official notebook's 'official' "
        "(spikes zeroed, never rescaled, in training and evaluation)",
    )
    parser.add_argument(
        "--input-format",
        choices=("dense", "sparse"),
        default=None,
        help="SHD tasks: batches as dense frames (default) or as their nonzeros, which ELM "
        "models feed to the fused kernel without dense frames (other models densify)",
    )


def _add_hardware_options(parser: argparse.ArgumentParser) -> None:
    """Accelerator, devices, strategy, precision, loader workers and output."""
    parser.add_argument("--accelerator", default=None, help="cpu, gpu, auto (default auto)")
    parser.add_argument(
        "--devices",
        type=_devices,
        default=None,
        help="devices per node (int, 'auto', or ids '0,1')",
    )
    parser.add_argument("--num-nodes", type=int, default=None, help="nodes (multi-node DDP)")
    parser.add_argument(
        "--strategy", default=None, help="Lightning strategy: auto, ddp, ddp_spawn, ..."
    )
    parser.add_argument("--precision", default=None, help="e.g. 32-true, bf16-mixed")
    parser.add_argument("--num-workers", type=int, default=None, help="dataloader workers")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--verbose", action="store_true", help="show Lightning's info messages")


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``train`` and ``compare`` (data, preset, optimisation, hardware)."""
    _add_data_options(parser)
    _add_budget_options(parser)
    _add_protocol_options(parser)
    _add_hardware_options(parser)


def config_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """RunConfig overrides from the common options (``None`` = preset value)."""
    return dict(
        data_root=args.data_root,
        synthetic=True if args.synthetic else None,
        max_epochs=args.max_epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        train_samples_per_epoch=args.train_samples,
        val_samples=args.val_samples,
        test_samples=args.test_samples,
        synthetic_size=args.synthetic_size,
        gradient_clip_val=args.gradient_clip,
        early_stopping_patience=args.early_stopping,
        num_memory=args.num_memory,
        difficulty=args.difficulty,
        output_init=args.output_init,
        readout=args.readout,
        logit_scale=args.logit_scale,
        tau_m_init=None if args.tau_m_init is None else tuple(args.tau_m_init),
        validation_split=args.validation_split,
        validation_fraction=args.validation_fraction,
        input_dropout_mode=args.input_dropout_mode,
        input_format=args.input_format,
        accelerator=args.accelerator,
        devices=args.devices,
        num_nodes=args.num_nodes,
        strategy=args.strategy,
        precision=args.precision,
        num_workers=args.num_workers,
        progress_bar=False if args.no_progress else None,
    )
