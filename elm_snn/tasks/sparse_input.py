"""``input_format="sparse"``: the SHD tasks' datasets served as sparse spike batches.

:func:`with_input_format` swaps a task's datasets for their sparse twins
(:mod:`elm_snn.data.sparse`: same samples, items are the nonzeros) and its collate functions
for :func:`~elm_snn.data.sparse.collate_sparse`; ELM / Branch-ELM models then feed the
batches to the fused kernel without dense frames, other models densify them
(:class:`~elm_snn.tasks.models.SequenceModel`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from elm_snn.tasks.base import FirstItems, TaskData
from elm_snn.tasks.config import RunConfig

__all__ = ["sparse_dataset", "with_input_format"]


def sparse_dataset(ds: Any) -> Any:
    """The sparse twin of an SHD task dataset (SHD-Adding pairs, binned digits, and the
    :class:`~elm_snn.tasks.base.FirstItems` / speaker-tag wrappers around them)."""
    from elm_snn.data.adding import SHDAdding
    from elm_snn.data.sparse import SparseAddingPairs, SparseDigits
    from elm_snn.tasks.shd import _FramesDataset, _SpeakerTagged

    if isinstance(ds, SHDAdding):
        return SparseAddingPairs(ds)
    if isinstance(ds, _FramesDataset):
        return SparseDigits(ds.cache, ds.indices)
    if isinstance(ds, FirstItems):
        return FirstItems(sparse_dataset(ds.base), ds.n)
    if isinstance(ds, _SpeakerTagged):
        return _SpeakerTagged(sparse_dataset(ds.base), ds.speakers)
    raise TypeError(
        f"input_format='sparse': no sparse form of a {type(ds).__name__} dataset (SHD tasks only)"
    )


def with_input_format(data: TaskData, cfg: RunConfig) -> TaskData:
    """``data`` unchanged for ``cfg.input_format == "dense"``, else its sparse twin."""
    if cfg.input_format == "dense":
        return data
    from elm_snn.data.sparse import collate_sparse, collate_sparse_with_speakers

    return dataclasses.replace(
        data,
        train=sparse_dataset(data.train),
        validation=sparse_dataset(data.validation),
        test=sparse_dataset(data.test),
        collate=collate_sparse,
        test_collate=None if data.test_collate is None else collate_sparse_with_speakers,
    )
