"""The ``elm-snn`` parser and entry point: one table of commands, each a module of
:mod:`elm_snn.cli` with ``add_arguments(parser)`` and ``run_from_args(args) -> int``.

Command modules must import cheaply: torch, Lightning and the optional dependencies
(NEURON, eSpeak NG, numba) are imported inside ``run_from_args``, never at module level,
so ``elm-snn --help`` answers at once.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from elm_snn.cli.errors import report

__all__ = ["COMMANDS", "build_parser", "main"]

#: (group, name) -> (module path, one-line help); group None: a top-level command.
COMMANDS: dict[tuple[str | None, str], tuple[str, str]] = {
    ("data", "spoken-digits"): (
        "elm_snn.cli.data.spoken_digits",
        "generate an offline spoken-digit spike dataset in SHD's HDF5 layout",
    ),
    ("data", "neuronio-sim"): (
        "elm_snn.cli.data.neuronio_sim",
        "simulate NeuronIO-style data with NEURON, written in the NeuronIO pickle layout",
    ),
    ("data", "neuronio-convert"): (
        "elm_snn.cli.data.neuronio_convert",
        "convert a folder of NeuronIO pickle files to elm-snn's compact HDF5 format",
    ),
    ("data", "listops"): (
        "elm_snn.cli.data.listops",
        "generate an offline ListOps set (LRA's rules) in LRA's TSV layout",
    ),
    ("data", "pathfinder"): (
        "elm_snn.cli.data.pathfinder",
        "generate offline Pathfinder images in LRA's folder + metadata layout",
    ),
    (None, "train"): (
        "elm_snn.cli.train",
        "train one model on shd / shd-adding / neuronio / an LRA task and evaluate it on the test "
        "split",
    ),
    (None, "eval"): (
        "elm_snn.cli.evaluate",
        "evaluate a checkpoint written by `elm-snn train`",
    ),
    (None, "compare"): (
        "elm_snn.cli.compare",
        "train a grid of models x bin sizes x seeds; write a results table and plot",
    ),
    (None, "reproduce"): (
        "elm_snn.cli.reproduce",
        "reproduce a figure of the paper (neuronio: Fig. 3 / Table S4; shd: Fig. 5) into a "
        "results folder",
    ),
    (None, "demo"): (
        "elm_snn.cli.demo",
        "the main job: ELM vs LSTM vs E/I SNN on SHD-Adding from offline spoken digits",
    ),
}


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level argument parser with every registered sub-command."""
    parser = argparse.ArgumentParser(
        prog="elm-snn", description="Expressive Leaky Memory neurons: data, training, evaluation."
    )
    top = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    groups: dict[str, argparse._SubParsersAction] = {}
    for (group, name), (module_name, help_text) in COMMANDS.items():
        if group is None:
            sub = top.add_parser(name, help=help_text, description=help_text)
        else:
            if group not in groups:
                gp = top.add_parser(group, help=f"{group} commands")
                groups[group] = gp.add_subparsers(dest="subcommand", required=True, metavar="SUB")
            sub = groups[group].add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(_module=module_name)
        module = importlib.import_module(module_name)
        module.add_arguments(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``elm-snn`` console script.

    Exit status: 0 on success; 2 with one ``elm-snn: error: ...`` line for any error (the
    traceback only with ``--verbose``); ``128 + signal`` with a one-line message when
    training stops on SIGINT (130) or SIGTERM (143), after saving what is needed to resume
    (:func:`elm_snn.cli.errors.report`).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        module = importlib.import_module(args._module)
        return int(module.run_from_args(args) or 0)
    except (KeyboardInterrupt, Exception) as exc:  # every error, reported in one place
        return report(exc, verbose=bool(getattr(args, "verbose", False)))


if __name__ == "__main__":
    sys.exit(main())
