"""The one error handler of the ``elm-snn`` command line.

Every command raises; :func:`report` turns what it raised into one line on stderr and the
exit status: ``elm-snn: error: <message>`` and 2 for any error, ``elm-snn: <message>`` and
``128 + signal`` when training stops on SIGINT (130) or SIGTERM (143) after saving what is
needed to resume. The traceback is printed only with ``--verbose``.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import sys
import traceback

__all__ = ["one_line", "report"]


def one_line(exc: BaseException) -> str:
    """The exception's message on one line (multi-line messages joined, lists of places
    separated by spaces); errors whose message alone says little get their type name, and
    OS errors their file (and, for a full disk, the free space left there)."""
    text = " ".join(part.strip() for part in str(exc).splitlines() if part.strip())
    if isinstance(exc, OSError) and exc.filename is not None and str(exc.filename) not in text:
        text = f"{exc.filename}: {exc.strerror or text}"
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC and "free space" not in text:
        text += _free_space(exc.filename)
    if isinstance(exc, KeyError | IndexError | AttributeError | MemoryError):
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text or type(exc).__name__


def _free_space(filename: object) -> str:
    """`` (free space on the device of '<folder>': <n> bytes)``, or ``""`` if unknown."""
    folder = os.path.dirname(os.path.abspath(str(filename))) if filename else os.getcwd()
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return ""
    return f" (free space on the device of {folder!r}: {free} bytes)"


def report(exc: BaseException, verbose: bool = False) -> int:
    """Print ``exc`` as the command line's one error line on stderr (after its traceback
    when ``verbose``) and return the exit status.

    Args:
        exc: what a command raised: a ``KeyboardInterrupt`` (a plain Ctrl-C, or
            :class:`~elm_snn.train.interrupts.TrainingInterrupted` carrying
            ``exit_status``) or any ``Exception``.
        verbose: print the traceback first.

    Returns:
        ``exc.exit_status`` (default 130) for an interruption, else 2.
    """
    if verbose:
        traceback.print_exception(type(exc), exc, exc.__traceback__)
    if isinstance(exc, KeyboardInterrupt):
        print(f"elm-snn: {one_line(exc) if str(exc) else 'interrupted'}", file=sys.stderr)
        return int(getattr(exc, "exit_status", 128 + signal.SIGINT))
    print(f"elm-snn: error: {one_line(exc)}", file=sys.stderr)
    return 2
