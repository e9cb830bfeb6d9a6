"""The ``elm-snn`` command line: thin commands over the library.

* :mod:`elm_snn.cli.app` - the parser and :func:`main` (the console script).
* :mod:`elm_snn.cli.errors` - the one error handler (``elm-snn: error: ...``, exit 2).
* :mod:`elm_snn.cli.options` - the options ``train`` and ``compare`` share.
* one module per command: ``train``, ``evaluate`` (``eval``), ``compare``, ``reproduce``,
  ``demo``, and :mod:`elm_snn.cli.data` for the ``data ...`` generators.

Importing this package (and building the parser) loads no torch.
"""

from __future__ import annotations

from elm_snn.cli.app import build_parser, main

__all__ = ["build_parser", "main"]
