"""Training and evaluation: the ``elm-snn`` CLI and the PyTorch Lightning engine.

* :mod:`elm_snn.train.engine` - :func:`~elm_snn.train.engine.train`,
  :func:`~elm_snn.train.engine.evaluate`, the LightningModule/DataModule glue.
* :mod:`elm_snn.train.compare` - grids of runs with a results table and plot.
* :mod:`elm_snn.train.cli` - the ``elm-snn`` entry point (``train``, ``eval``, ``compare``,
  ``demo``, ``data ...``).

Importing this package is cheap; Lightning loads with :mod:`elm_snn.train.engine`.
"""
