"""``elm-snn data neuronio-convert SRC... DST``: NeuronIO pickle files to elm-snn's compact
HDF5 format (:func:`elm_snn.data.neuronio.convert_neuronio_folder`)."""

from __future__ import annotations

import argparse

__all__ = ["add_arguments", "run_from_args"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``elm-snn data neuronio-convert``."""
    parser.add_argument("src", nargs="+", help="NeuronIO folder(s) or pickle file(s)")
    parser.add_argument("dst", help="output folder for the compact HDF5 files")
    parser.add_argument("--overwrite", action="store_true", help="rewrite existing outputs")
    parser.add_argument(
        "--encoding",
        default=None,
        help="encoding for Python 2 strings (default: ASCII, then latin1 on error)",
    )
    parser.add_argument("--quiet", action="store_true", help="print nothing per file")


def run_from_args(args: argparse.Namespace) -> int:
    """Run ``elm-snn data neuronio-convert``; returns the exit status."""
    from elm_snn.data.neuronio.convert import convert_neuronio_folder

    outs = convert_neuronio_folder(
        args.src,
        args.dst,
        overwrite=args.overwrite,
        encoding=args.encoding,
        verbose=not args.quiet,
    )
    if not args.quiet:
        print(f"{len(outs)} file(s) in {args.dst}")
    return 0
