"""One progress bar for every long command (data generators, grids, the demo).

A thin wrapper over ``tqdm`` (already installed with Lightning, whose own bars it matches):
per-item progress with rate and ETA on stderr. It stays silent when asked to
(``enabled=False``, the commands' ``--quiet``), and falls back to a few plain lines instead
of a redrawn bar where stderr is not a terminal (CI logs, redirected output), so that a log
shows progress without thousands of carriage returns.

Example::

    with progress(total=len(jobs), desc="cochlea", unit="utt") as bar:
        for result in pool.imap(work, jobs):
            bar.update(1)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any

__all__ = ["progress", "progress_enabled"]


def progress_enabled(quiet: bool = False) -> bool:
    """Whether a command should report progress: not under ``--quiet`` and not when the
    environment says so (``ELM_SNN_PROGRESS=0``)."""
    if quiet:
        return False
    return os.environ.get("ELM_SNN_PROGRESS", "1").strip().lower() not in ("0", "false", "no")


def progress(
    iterable: Iterable[Any] | None = None,
    *,
    total: int | None = None,
    desc: str,
    unit: str = "it",
    enabled: bool = True,
) -> Any:
    """A ``tqdm`` bar over ``iterable`` (or a manual one of ``total`` items) on stderr.

    Args:
        iterable: items to iterate over (``None``: call ``.update(n)`` yourself).
        total: number of items (default: ``len(iterable)`` where it has one).
        desc: what is being counted, shown first on the line.
        unit: the unit of one item (``"utt"``, ``"run"``, ``"sim"``).
        enabled: ``False`` gives a bar that prints nothing (same interface).

    Returns:
        A ``tqdm`` object: iterate over it, or use it as a context manager and ``update``.
    """
    from tqdm.auto import tqdm

    interactive = sys.stderr.isatty()
    return tqdm(
        iterable,
        total=total,
        desc=desc,
        unit=unit,
        disable=not enabled,
        file=sys.stderr,
        dynamic_ncols=True,
        # off a terminal: a line at most every 30 s instead of a redrawn bar
        mininterval=0.5 if interactive else 30.0,
        ascii=not interactive,
    )
