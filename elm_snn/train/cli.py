"""The ``elm-snn`` command line.

Command modules must import cheaply: optional dependencies (NEURON, eSpeak NG, numba)
are imported inside the functions that need them, never at module level.

Each command module exposes ``add_arguments(parser)`` and ``run_from_args(args) -> int``.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import signal
import sys
import traceback
from collections.abc import Sequence

# (group, name) -> (module path, one-line help)
__all__ = ["build_parser", "main"]

_COMMANDS: dict[tuple[str | None, str], tuple[str, str]] = {
    ("data", "spoken-digits"): (
        "elm_snn.synth.spoken_digits",
        "generate an offline spoken-digit spike dataset in SHD's HDF5 layout",
    ),
    ("data", "neuronio-sim"): (
        "elm_snn.synth.neuronio_sim",
        "simulate NeuronIO-style data with NEURON, written in the NeuronIO pickle layout",
    ),
    ("data", "neuronio-convert"): (
        "elm_snn.data.neuronio",
        "convert a folder of NeuronIO pickle files to elm-snn's compact HDF5 format",
    ),
    ("data", "listops"): (
        "elm_snn.lra.listops",
        "generate an offline ListOps set (LRA's rules) in LRA's TSV layout",
    ),
    ("data", "pathfinder"): (
        "elm_snn.lra.pathfinder",
        "generate offline Pathfinder images in LRA's folder + metadata layout",
    ),
    (None, "train"): (
        "elm_snn.train.run",
        "train one model on shd / shd-adding / neuronio / an LRA task and evaluate it on the test "
        "split",
    ),
    (None, "eval"): (
        "elm_snn.train.evaluate",
        "evaluate a checkpoint written by `elm-snn train`",
    ),
    (None, "compare"): (
        "elm_snn.train.compare",
        "train a grid of models x bin sizes x seeds; write a results table and plot",
    ),
    (None, "reproduce"): (
        "elm_snn.train.reproduce",
        "reproduce a figure of the paper (neuronio: Fig. 3 / Table S4; shd: Fig. 5) into a "
        "results folder",
    ),
    (None, "demo"): (
        "elm_snn.train.demo",
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
    for (group, name), (module_name, help_text) in _COMMANDS.items():
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


def _one_line(exc: BaseException) -> str:
    """The exception's message on one line (multi-line messages joined, lists of places
    separated by spaces); errors whose message alone says little get their type name, and
    OS errors their file."""
    text = " ".join(part.strip() for part in str(exc).splitlines() if part.strip())
    if isinstance(exc, OSError) and exc.filename is not None and str(exc.filename) not in text:
        text = f"{exc.filename}: {exc.strerror or text}"
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC and "free space" not in text:
        text += _free_space(exc.filename)
    if isinstance(exc, KeyError | IndexError | AttributeError | MemoryError):
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text or type(exc).__name__


def _free_space(filename: object) -> str:
    import os
    import shutil

    folder = os.path.dirname(os.path.abspath(str(filename))) if filename else os.getcwd()
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return ""
    return f" (free space on the device of {folder!r}: {free} bytes)"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``elm-snn`` console script.

    Exit status: 0 on success; 2 with one ``elm-snn: error: ...`` line for any error (the
    traceback only with ``--verbose``); ``128 + signal`` with a one-line message when
    training stops on SIGINT (130) or SIGTERM (143), after saving what is needed to resume.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    verbose = bool(getattr(args, "verbose", False))
    try:
        module = importlib.import_module(args._module)
        return int(module.run_from_args(args) or 0)
    except KeyboardInterrupt as exc:  # TrainingInterrupted (SIGINT/SIGTERM) or a plain Ctrl-C
        if verbose:
            traceback.print_exc()
        print(f"elm-snn: {_one_line(exc) if str(exc) else 'interrupted'}", file=sys.stderr)
        return int(getattr(exc, "exit_status", 128 + signal.SIGINT))
    except Exception as exc:
        if verbose:
            traceback.print_exc()
        print(f"elm-snn: error: {_one_line(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
