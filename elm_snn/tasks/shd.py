"""SHD and SHD-Adding classification tasks.

* ``shd``: 20 classes (0-9 English, 10-19 German). Train/validation: a deterministic 90/10
  split of ``shd_train.h5``, by sample (``validation_split="sample"``,
  :func:`elm_snn.data.split_train_validation`) or by speaker (``"speaker"``: 10 % of the
  training speakers, at least one, :func:`elm_snn.data.split_by_speaker`), split seed 0;
  test: ``shd_test.h5``. Each sample is cut to 1 s and binned at ``bin_size_ms``.
* ``shd-adding``: 19 classes (sum of two spoken digits, chance 1/19), pairs from
  :class:`elm_snn.data.SHDAdding` (same validation split choice): training pairs drawn
  anew every epoch from ``(seed, epoch)``; validation and test pairs are fixed (pair seed 0,
  the same for every model and run seed, so comparisons use identical held-out pairs).

Head and loss: cross-entropy on the model's output sequence reduced over time with
``cfg.readout`` (:func:`elm_snn.networks.readout.aggregate`): ``"last"`` is the paper's
("the last float output"), ``"mean"``, ``"sum"``, ``"max"`` aggregate every step, times
``cfg.logit_scale`` (1 in the paper preset; 20 for the quick preset's E/I SNN). Metric:
accuracy of the argmax of those logits, overall (``test_accuracy``) and per test speaker
(``test_accuracy_speaker<id>``: the items in which that speaker says a digit; an SHD-Adding
pair of two speakers counts for both).

With ``synthetic=True`` the data are the offline spoken-digit set of
:func:`elm_snn.synth.spoken_digits.generate_spoken_digits` (``synthetic_size`` utterances per
class, data seed 0), generated once into ``elm_snn._io.cache_dir("spoken_digits", ...)`` and
reused afterwards.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from elm_snn.tasks.base import FirstItems, Task, TaskData
from elm_snn.tasks.config import RunConfig
from elm_snn.tasks.models import SequenceModel
from elm_snn.tasks.registry import SHD_MODELS

__all__ = [
    "SHDTask",
    "SHDAddingTask",
    "synthetic_spoken_digits",
    "check_shd_folder",
    "shd_data_record",
    "collate_with_speakers",
    "per_speaker_accuracy",
]

SPLIT_SEED = 0
EVAL_PAIR_SEED = 0


def synthetic_spoken_digits(per_class: int, progress: bool = True, seed: int = 0) -> Path:
    """Folder with the offline spoken-digit set (``per_class`` training utterances per class,
    generator seed ``seed``), generated on first use into the elm-snn cache and reused
    afterwards."""
    from elm_snn._io import cache_dir
    from elm_snn.synth.spoken_digits import generate_spoken_digits

    out = cache_dir("spoken_digits", f"per_class{int(per_class)}-seed{int(seed)}")
    workers = max(1, min(4, os.cpu_count() or 1))
    generate_spoken_digits(
        out, per_class=int(per_class), seed=int(seed), workers=workers, progress=progress
    )
    return out


def check_shd_folder(root: str | os.PathLike) -> Path:
    """Return ``root`` if it holds ``shd_train.h5`` and ``shd_test.h5`` (directly or in
    ``SHD/``), else raise ``FileNotFoundError`` saying where it looked and what to do."""
    from elm_snn.data.shd import find_shd_file

    path = Path(os.path.expanduser(os.fspath(root)))
    if not path.is_dir():
        raise FileNotFoundError(
            f"data_root: folder {str(path)!r} does not exist. Pass the folder holding "
            f"shd_train.h5 and shd_test.h5 (--data-root DIR), or use --synthetic to generate "
            f"an offline spoken-digit set."
        )
    find_shd_file(path, train=True)
    find_shd_file(path, train=False)
    return path


def shd_data_record(root: str | os.PathLike, cfg: RunConfig) -> dict[str, Any]:
    """What a run on the SHD files in ``root`` trains, selects and tests on, for provenance.

    Returns:
        ``{"num_samples": {"train", "validation", "test"}`` (digits of each split, after
        the validation hold-out of ``cfg``), ``"file_samples"`` (digits in
        ``shd_train.h5`` / ``shd_test.h5``), ``"validation_speakers"`` (held-out training
        speaker ids, ``"speaker"`` split only), ``"test_speakers"``, and ``"generator"``:
        the offline generator's seed and parameters from ``spoken_digits.json`` (``None``
        for real SHD).
    """
    import h5py

    from elm_snn.data.adding import split_by_speaker, split_train_validation
    from elm_snn.data.shd import find_shd_file

    folder = Path(os.path.expanduser(os.fspath(root)))
    with h5py.File(find_shd_file(folder, train=True), "r") as f:
        train_speakers = np.asarray(f["extra/speaker"][()], dtype=np.int64)
    with h5py.File(find_shd_file(folder, train=False), "r") as f:
        test_speakers = np.asarray(f["extra/speaker"][()], dtype=np.int64)
    held: list[int] = []
    if cfg.validation_split == "speaker":
        tr, va, held_ids = split_by_speaker(train_speakers, cfg.validation_fraction, SPLIT_SEED)
        held = [int(v) for v in held_ids]
    else:
        tr, va = split_train_validation(len(train_speakers), cfg.validation_fraction, SPLIT_SEED)
    generator = None
    manifest = folder / "spoken_digits.json"
    if manifest.is_file():
        params = json.loads(manifest.read_text(encoding="utf-8")).get("params", {})
        generator = {k: v for k, v in params.items() if k != "speakers"}
        generator["num_speakers"] = len(params.get("speakers", []))
    return {
        "num_samples": {
            "train": int(len(tr)),
            "validation": int(len(va)),
            "test": len(test_speakers),
        },
        "file_samples": {"train": int(len(train_speakers)), "test": int(len(test_speakers))},
        "validation_speakers": held,
        "test_speakers": sorted(int(v) for v in np.unique(test_speakers)),
        "generator": generator,
    }


def _check_labels(labels: np.ndarray, num_classes: int, path: Any) -> None:
    """Refuse labels outside ``[0, num_classes)`` (SHDFormatError naming the file)."""
    from elm_snn.data.shd_format import SHDFormatError

    labels = np.asarray(labels)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        bad = labels[(labels < 0) | (labels >= num_classes)]
        raise SHDFormatError(
            f"{path}: labels must lie in [0, {num_classes}) for this task, got {bad.size} "
            f"outside (e.g. {int(bad[0])})"
        )


class _FramesDataset(Dataset):
    """Items ``(frames (T, C) float32, label)`` of selected samples of a binned-digit cache."""

    def __init__(self, path: Path, bin_size_ms: float, indices: np.ndarray) -> None:
        from elm_snn.data.cache import DigitFrameCache

        self.cache = DigitFrameCache.get(path, bin_size_ms, 1000.0, 700)
        self.indices = np.asarray(indices, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
        j = int(self.indices[i])
        return self.cache.dense(j), int(self.cache.labels[j])


class _SpeakerTagged(Dataset):
    """Items ``(frames, label, (speaker_a, speaker_b))`` of a dataset, for per-speaker test
    metrics; ``speakers`` is ``(len(base), 2)`` (single digits: the same id twice)."""

    def __init__(self, base: Any, speakers: np.ndarray) -> None:
        speakers = np.asarray(speakers, dtype=np.int64)
        if speakers.shape != (len(base), 2):
            raise ValueError(
                f"speakers: expected shape ({len(base)}, 2), got {tuple(speakers.shape)}"
            )
        self.base = base
        self.speakers = speakers

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> tuple[Any, int, np.ndarray]:
        frames, label = self.base[i]
        return frames, label, self.speakers[i]


def _digit_items(path: Path, cfg: RunConfig, indices: np.ndarray) -> Dataset:
    """Items of the binned digits ``indices`` of ``path`` in ``cfg.input_format``: dense
    frames (``"dense"``) or their nonzeros (``"sparse"``,
    :class:`~elm_snn.data.sparse.SparseDigits`); both keep the digit cache as ``.cache``."""
    frames = _FramesDataset(path, cfg.bin_size_ms, indices)
    if cfg.input_format == "dense":
        return frames
    from elm_snn.data.sparse import SparseDigits

    return SparseDigits(frames.cache, frames.indices)


def _collates(cfg: RunConfig) -> dict[str, Any]:
    """``TaskData``'s ``collate`` and ``test_collate`` for ``cfg.input_format``: time-major
    dense frames, or :class:`~elm_snn.kernels.SparseFrames` batches that ELM / Branch-ELM
    models feed to the fused kernel as they are."""
    if cfg.input_format == "dense":
        from elm_snn.data.collate import collate_frames

        return dict(collate=collate_frames, test_collate=collate_with_speakers)
    from elm_snn.data.sparse import collate_sparse, collate_sparse_with_speakers

    return dict(collate=collate_sparse, test_collate=collate_sparse_with_speakers)


def collate_with_speakers(batch: list) -> tuple[Tensor, Tensor, Tensor]:
    """Collate ``(frames, label, speakers)`` items: ``(x (T, B, C), y (B,), speakers (B, 2))``."""
    from elm_snn.data.collate import collate_frames

    x, y = collate_frames([(item[0], item[1]) for item in batch])
    spk = torch.as_tensor(np.stack([np.asarray(item[2]) for item in batch]), dtype=torch.long)
    return x, y, spk


class _ClassificationTask(Task):
    """Shared head/loss/metrics of the SHD tasks: CE and accuracy of the read-out logits."""

    models = SHD_MODELS
    monitor = "val_accuracy"
    monitor_mode = "max"
    primary_metric = "test_accuracy"

    def prepare_data(self, cfg: RunConfig) -> Path:
        if cfg.synthetic:
            return synthetic_spoken_digits(cfg.synthetic_size, progress=cfg.progress_bar)
        assert cfg.data_root is not None
        return check_shd_folder(cfg.data_root)

    @staticmethod
    def _logits(model: SequenceModel, x: Tensor, cfg: RunConfig) -> Tensor:
        from elm_snn.networks.readout import aggregate

        logits = aggregate(model(x), cfg.readout)
        return logits * cfg.logit_scale if cfg.logit_scale != 1.0 else logits

    def training_loss(self, model: SequenceModel, batch: Any, cfg: RunConfig) -> tuple[Tensor, int]:
        x, y = batch[0], batch[1]
        loss = torch.nn.functional.cross_entropy(self._logits(model, x, cfg), y)
        reg = model.regularization()
        if reg is not None:
            loss = loss + reg
        return loss, int(y.shape[0])

    def eval_records(
        self, model: SequenceModel, batch: Any, cfg: RunConfig, split: str
    ) -> dict[str, Tensor]:
        x, y = batch[0], batch[1]
        logits = self._logits(model, x, cfg)
        loss = torch.nn.functional.cross_entropy(logits, y, reduction="none")
        rec = {"correct": (logits.argmax(-1) == y).float(), "loss": loss.float()}
        if len(batch) > 2:
            rec["speakers"] = batch[2]
        return rec

    def compute_metrics(
        self, records: dict[str, Tensor], cfg: RunConfig, split: str
    ) -> dict[str, float]:
        correct = records["correct"]
        out = {"accuracy": float(correct.mean()), "loss": float(records["loss"].mean())}
        out.update(per_speaker_accuracy(correct, records.get("speakers")))
        return out


def per_speaker_accuracy(correct: Tensor, speakers: Tensor | None) -> dict[str, float]:
    """``{"accuracy_speaker<id>": mean of correct over the items that speaker is in}``.

    Args:
        correct: ``(N,)`` 0/1 per item.
        speakers: ``(N, 2)`` speaker ids of the item's two digits (the same id twice for a
            single digit), or None (no per-speaker metrics).
    """
    if speakers is None:
        return {}
    if speakers.dim() != 2 or speakers.shape != (correct.shape[0], 2):
        raise ValueError(
            f"speakers: expected shape ({correct.shape[0]}, 2), got {tuple(speakers.shape)}"
        )
    out = {}
    for s in torch.unique(speakers).tolist():
        mask = (speakers == s).any(dim=1)
        out[f"accuracy_speaker{int(s)}"] = float(correct[mask].float().mean())
    return out


class SHDTask(_ClassificationTask):
    """Spiking Heidelberg Digits, 20 classes (see module docstring)."""

    name = "shd"
    chance = 1.0 / 20.0

    def build_data(self, cfg: RunConfig, data_root: Path) -> TaskData:
        from elm_snn.data.adding import split_by_speaker, split_train_validation
        from elm_snn.data.shd import find_shd_file
        from elm_snn.data.shd_format import validate_shd_file
        from elm_snn.data.transforms import num_bins

        train_file = find_shd_file(data_root, True)
        test_file = find_shd_file(data_root, False)
        n_bins = num_bins(1000.0, cfg.bin_size_ms)
        # through the format checks (SHDFormatError naming the file), never a raw h5py error
        n_train = validate_shd_file(train_file)
        n_test = validate_shd_file(test_file)
        import h5py

        with h5py.File(train_file, "r") as f:
            train_speakers = np.asarray(f["extra/speaker"][()], dtype=np.int64)
        with h5py.File(test_file, "r") as f:
            test_speakers = np.asarray(f["extra/speaker"][()], dtype=np.int64)
        if cfg.validation_split == "speaker":
            tr, va, _ = split_by_speaker(train_speakers, cfg.validation_fraction, SPLIT_SEED)
        else:
            tr, va = split_train_validation(n_train, cfg.validation_fraction, SPLIT_SEED)
        if len(va) == 0:
            raise ValueError(f"data_root: {train_file} has too few samples ({n_train}) to split")
        train = _digit_items(train_file, cfg, tr)
        test_digits = _digit_items(test_file, cfg, np.arange(n_test))
        for ds in (train, test_digits):
            _check_labels(ds.cache.labels, 20, ds.cache.path)
        test = FirstItems(test_digits, cfg.test_samples)
        test_spk = np.repeat(test_speakers[: len(test), None], 2, axis=1)
        return TaskData(
            train=train,
            validation=FirstItems(_digit_items(train_file, cfg, va), cfg.val_samples),
            test=_SpeakerTagged(test, test_spk),
            **_collates(cfg),
            num_inputs=700,
            num_outputs=20,
            num_steps=n_bins,
            data_root=data_root,
        )


class SHDAddingTask(_ClassificationTask):
    """SHD-Adding, 19 classes, chance 1/19 (see module docstring)."""

    name = "shd-adding"
    chance = 1.0 / 19.0

    def build_data(self, cfg: RunConfig, data_root: Path) -> TaskData:
        from elm_snn.data.adding import SHDAdding

        common: dict[str, Any] = dict(
            bin_size_ms=cfg.bin_size_ms,
            split_seed=SPLIT_SEED,
            validation_split=cfg.validation_split,
            validation_fraction=cfg.validation_fraction,
        )
        pairs = cfg.train_samples_per_epoch or 16000
        train = SHDAdding(data_root, "train", seed=cfg.seed, pairs_per_epoch=pairs, **common)
        val = SHDAdding(
            data_root,
            "validation",
            seed=EVAL_PAIR_SEED,
            pairs_per_epoch=cfg.val_samples,
            **common,
        )
        test = SHDAdding(
            data_root, "test", seed=EVAL_PAIR_SEED, pairs_per_epoch=cfg.test_samples, **common
        )
        for ds in (train, val, test):
            ds.prepare()  # bin every digit once, before any worker starts
        num_steps = int(train.num_bins or 0)
        test_speakers = test.pair_speakers()
        if cfg.input_format == "sparse":
            from elm_snn.data.sparse import SparseAddingPairs

            train, val, test = (
                SparseAddingPairs(train),
                SparseAddingPairs(val),
                SparseAddingPairs(test),
            )
        return TaskData(
            train=train,
            validation=val,
            test=_SpeakerTagged(test, test_speakers),
            **_collates(cfg),
            num_inputs=700,
            num_outputs=19,
            num_steps=num_steps,
            data_root=data_root,
        )
