"""``elm-snn eval``: evaluate a checkpoint written by ``elm-snn train``.

Usage::

    elm-snn eval --checkpoint runs/shd-adding-elm-bin10ms-quick-seed0/checkpoints/last.ckpt
    elm-snn eval --checkpoint best.ckpt --data-root ~/data/shd --split validation --out m.json
    elm-snn eval --official-checkpoint elmneuron/models/best_elm_neuron \
        --data-root ~/data/neuronio/test

With ``--checkpoint`` the model, task and preprocessing come from the configuration stored
in the checkpoint. ``--official-checkpoint`` takes a model folder of the authors' code
(``model_config.json`` + ``neuronio_best_model_state.pt``, read weights-only) and evaluates
it on every simulation of the NeuronIO files in ``--data-root`` with the official protocol
(:func:`elm_snn.compat.evaluate_official_checkpoint`); the output holds the metrics under
elm-snn's names and, in ``"test_results"``, under the keys of the authors'
``eval_results.json``.
"""

from __future__ import annotations

import argparse
import json

__all__ = ["add_arguments", "run_from_args"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``elm-snn eval`` options to ``parser``."""
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--checkpoint", help=".ckpt file written by elm-snn train")
    which.add_argument(
        "--official-checkpoint",
        metavar="DIR",
        help="official model folder (model_config.json + neuronio_best_model_state.pt); "
        "needs --data-root with NeuronIO files",
    )
    parser.add_argument(
        "--data-root",
        default=None,
        help="data folder (default: the one used for training; required with "
        "--official-checkpoint)",
    )
    parser.add_argument(
        "--protocol",
        choices=("official", "plain"),
        default="official",
        help="NeuronIO protocol for --official-checkpoint (default official)",
    )
    parser.add_argument(
        "--official-version",
        choices=("v1", "v2"),
        default="v1",
        help="equations of the official model (default v1, all published checkpoints)",
    )
    parser.add_argument(
        "--split", choices=("test", "validation"), default="test", help="split (default test)"
    )
    parser.add_argument("--task", default=None, help="fail unless the checkpoint is for this task")
    parser.add_argument("--model", default=None, help="fail unless the checkpoint holds this model")
    parser.add_argument("--out", default=None, help="also write the metrics to this JSON file")
    parser.add_argument("--accelerator", default="auto", help="cpu, gpu, auto (default auto)")
    parser.add_argument("--verbose", action="store_true", help="show Lightning's info messages")


def run_from_args(args: argparse.Namespace) -> int:
    """Run ``elm-snn eval``; prints the metrics as JSON; returns the exit status."""
    from elm_snn.train.quiet import quiet_lightning

    quiet_lightning(args.verbose)
    from elm_snn.train.engine import evaluate

    if args.official_checkpoint is not None:
        return _run_official(args)
    # every error is reported on one line by elm_snn.cli.errors
    result = evaluate(
        args.checkpoint,
        data_root=args.data_root,
        split=args.split,
        out_json=args.out,
        accelerator=args.accelerator,
        expect_task=args.task,
        expect_model=args.model,
    )
    print(json.dumps(result, indent=2, sort_keys=True))
    return 0


def _run_official(args: argparse.Namespace) -> int:
    from elm_snn._io import atomic_write_text
    from elm_snn.compat import evaluate_official_checkpoint

    if args.data_root is None:
        raise ValueError(
            "--official-checkpoint needs --data-root: a folder of NeuronIO files (e.g. the "
            "official test folder)"
        )
    device = "cuda" if args.accelerator in ("gpu", "cuda") else "cpu"
    result = evaluate_official_checkpoint(
        args.official_checkpoint,
        args.data_root,
        protocol=args.protocol,
        version=args.official_version,
        device=device,
    )
    text = json.dumps(result, indent=2, sort_keys=True)
    if args.out is not None:
        atomic_write_text(args.out, text + "\n")
    print(text)
    return 0
