"""Long Range Arena (Tay et al. 2021): offline generators, readers of the real layouts, and
token preprocessing for the six LRA tasks of Spieler et al. (2023), Table 1.

* :mod:`elm_snn.lra.listops`: ListOps generator (LRA's rules, LRA's TSV layout).
* :mod:`elm_snn.lra.pathfinder`: Pathfinder generator (LRA's folder + metadata layout).
* :mod:`elm_snn.lra.readers`: datasets of token sequences read from the LRA release
  (ListOps / Retrieval TSVs, Pathfinder folders), CIFAR-10 (``cifar-10-batches-py``, through a
  restricted unpickler) and IMDB (``aclImdb``, byte-level).

Items are integer tokens (``int64`` arrays of shape ``(T,)``); the one-hot encoding happens
inside the model (:class:`elm_snn.lra.models.OneHotInput`), so no dataset or batch ever holds
a ``(T, B, vocabulary)`` tensor. Nothing here downloads anything.
"""

from __future__ import annotations

__all__: list[str] = []  # the modules are imported on their own (see above)
