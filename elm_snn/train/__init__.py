"""Training and evaluation as a library (the ``elm-snn`` command line is :mod:`elm_snn.cli`).

* :mod:`elm_snn.train.engine` - :func:`~elm_snn.train.engine.train`,
  :func:`~elm_snn.train.engine.evaluate`; with :mod:`~elm_snn.train.modules` (the
  LightningModule/DataModule glue), :mod:`~elm_snn.train.checkpoints`,
  :mod:`~elm_snn.train.interrupts` and :mod:`~elm_snn.train.run_folder`.
* :mod:`elm_snn.train.grid` - grids of runs (reuse, resume, parallel workers) and their
  CSV/markdown tables; :mod:`elm_snn.train.provenance` - commit, machine, ``run_info.json``.
* :mod:`elm_snn.train.compare` (models x bin sizes x seeds),
  :mod:`elm_snn.train.reproduce_neuronio` (Fig. 3 / Table S4),
  :mod:`elm_snn.train.reproduce_shd` (Fig. 5) and :mod:`elm_snn.train.demo` - the grids.
* :mod:`elm_snn.train.quiet` - the Lightning messages and warnings silenced.

Importing this package is cheap; Lightning loads with :mod:`elm_snn.train.engine`. No
module here imports :mod:`elm_snn.cli`.
"""
