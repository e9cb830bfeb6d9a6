"""The one place that silences Lightning's messages that do not apply to elm-snn's runs.

:func:`quiet_known_warnings` adds the warning filters (the engine calls it inside
``warnings.catch_warnings()`` around fit/test, so a library caller's filters come back
afterwards); :func:`quiet_lightning` also lowers Lightning's loggers to WARNING and is
called once by each command of :mod:`elm_snn.cli` (and by each worker process of a grid).
"""

from __future__ import annotations

import logging
import warnings

__all__ = ["KNOWN_WARNINGS", "quiet_known_warnings", "quiet_lightning"]

#: Message patterns of the warnings silenced, with why they do not apply.
KNOWN_WARNINGS: tuple[tuple[str, str], ...] = (
    # num_workers=0 is the intended default for in-memory data
    (".*does not have many workers.*", "in-memory data needs no loader workers"),
    # short epochs log less often than Lightning's default interval
    (".*smaller than the logging interval.*", "short epochs"),
    (".*LeafSpec.*", "a torch pytree deprecation inside Lightning"),
    # train() itself refuses a folder holding another run (RunFolderError)
    (".*exists and is not empty.*", "train() checks its run folder itself"),
)


def quiet_known_warnings() -> None:
    """Ignore the warnings of :data:`KNOWN_WARNINGS` (in the current filter context)."""
    for pattern, _why in KNOWN_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)


def quiet_lightning(verbose: bool = False) -> None:
    """Hide Lightning's info messages (GPU available, tips...) and the known warnings,
    unless ``verbose``."""
    if verbose:
        return
    import lightning  # noqa: F401  - it sets its loggers to INFO when first imported

    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    quiet_known_warnings()
