"""The six Long Range Arena tasks (Tay et al. 2021) as in Spieler et al. (2023), Table 1.

===============  ==========================  ==========  ================  =========
task             data (``--data-root``)      steps       tokens            classes
===============  ==========================  ==========  ================  =========
``listops``      ``listops-1000/*.tsv``      <= 2000     16 (ListOps)      10
``text``         ``aclImdb/``                <= 4000     257 (bytes)       2
``retrieval``    ``tsv_data/*.tsv``          <= 4000 x2  257 (bytes)       2
``image``        ``cifar-10-batches-py/``    1024        16 grey levels    10
``pathfinder``   ``pathfinder32/...``        1024        16 grey levels    2
``pathfinder-x`` ``pathfinder128/...``       16384       8 grey levels     2
===============  ==========================  ==========  ================  =========

Head and loss (paper): cross-entropy on the model's last output; metric: accuracy. Tokens
stay integers until the model (:class:`elm_snn.lra.models.OneHotInput` one-hot encodes them
inside ``forward``); Retrieval encodes both documents with one shared model whose last
output (latent 75) feeds :class:`elm_snn.lra.models.TwoTower`'s classifier.

Batches: ``(tokens (T, B), labels (B,))``; sequences of a batch are padded at the start
(token 0) to the longest one, so the last step is every sequence's last token.

``--synthetic`` (ListOps, Pathfinder, Pathfinder-X) generates data offline, once, into the
elm-snn cache (data seed 0): ListOps with ``synthetic_size`` training expressions (plus
``max(200, synthetic_size // 10)`` for validation and test each) of tree length
``seq_len // 4 .. seq_len`` (LRA: 500..2000, depth 10, 10 arguments; below 500, depth 4 and
5 arguments, so short expressions come out quickly); Pathfinder with ``synthetic_size``
images at 32 x 32 (Pathfinder-X: 128 x 128) and difficulty ``difficulty`` (the preset's,
:data:`~elm_snn.tasks.lra_presets.SYNTHETIC_DIFFICULTY`, when it is None). Text, Retrieval
and Image have no generator: they need ``--data-root``. Pathfinder from ``--data-root`` reads
``difficulty``, or with None the difficulty folder found there (the hardest if several); the
resolved difficulty is written back into the run's configuration.

``train_samples_per_epoch``: training samples drawn anew every epoch (by the engine's
sampler, from ``(seed, epoch)``); ``val_samples`` / ``test_samples`` keep the first samples
of a split (a fixed subset).
"""

from __future__ import annotations

import os
from pathlib import Path

from torch.utils.data import Dataset

from elm_snn.tasks.base import FirstItems, TaskData
from elm_snn.tasks.config import RunConfig
from elm_snn.tasks.lra_presets import LRA_MODELS
from elm_snn.tasks.models import SequenceModel, build_model
from elm_snn.tasks.shd import _ClassificationTask

__all__ = [
    "LRATask",
    "LRA_TASK_INFO",
    "RETRIEVAL_LATENT",
    "resolve_pathfinder_difficulty",
    "synthetic_listops",
]

RETRIEVAL_LATENT = 75
#: task -> (classes, grey levels or None, image side or None)
LRA_TASK_INFO: dict[str, tuple[int, int | None, int | None]] = {
    "listops": (10, None, None),
    "text": (2, None, None),
    "retrieval": (2, None, None),
    "image": (10, 16, 32),
    "pathfinder": (2, 16, 32),
    "pathfinder-x": (2, 8, 128),
}


def synthetic_listops(num_train: int, max_length: int) -> Path:
    """Folder of an offline ListOps set (data seed 0) in the elm-snn cache, generated on
    first use (see the module docstring for the rules)."""
    from elm_snn._io import cache_dir
    from elm_snn.lra.listops import ListOpsConfig, generate_listops

    n_eval = max(200, num_train // 10)
    long = max_length >= 500
    cfg = ListOpsConfig(
        num_train=int(num_train),
        num_val=n_eval,
        num_test=n_eval,
        min_length=max(1, max_length // 4),
        max_length=int(max_length),
        max_depth=10 if long else 4,
        max_args=10 if long else 5,
        seed=0,
    )
    out = cache_dir("lra", f"listops-n{num_train}-len{max_length}-seed0")
    generate_listops(out, cfg)
    return out


def synthetic_pathfinder(num_images: int, resolution: int, difficulty: str) -> Path:
    """Folder (holding ``pathfinder{R}/``) of an offline Pathfinder set (data seed 0)."""
    from elm_snn._io import cache_dir
    from elm_snn.lra.pathfinder import PathfinderConfig, generate_pathfinder

    out = cache_dir("lra", f"pathfinder-n{num_images}-seed0")
    generate_pathfinder(
        out,
        PathfinderConfig(
            resolution=resolution, difficulty=difficulty, num_images=int(num_images), seed=0
        ),
    )
    return out


def resolve_pathfinder_difficulty(root: Path, resolution: int, difficulty: str | None) -> str:
    """The Pathfinder difficulty to read from ``root``: ``difficulty`` if given, otherwise the
    one ``root`` holds at ``resolution`` (the hardest if it holds several: ``"hard"``, LRA's
    and the generator's default, in the LRA release).

    Raises:
        FileNotFoundError: the difficulty folder is not there; the message names the
            difficulty folders that are (any resolution) and the option that picks one.
    """
    from elm_snn.lra.pathfinder import DIFFICULTIES, difficulty_folder, find_pathfinder_folders

    found = find_pathfinder_folders(root)
    if (root / "metadata").is_dir() and any((root / "metadata").glob("*.npy")):
        # root is a difficulty folder itself: the reader takes it as it is
        named = [d for (_, d), path in found.items() if path == root]
        return difficulty or (named[0] if named else "hard")
    here = [d for d in DIFFICULTIES if (resolution, d) in found]  # easiest first
    if difficulty is None:
        difficulty = here[-1] if here else "hard"
    if (resolution, difficulty) in found:
        return difficulty
    if found:
        listed = ", ".join(
            f"{path} (--difficulty {d}{'' if r == resolution else f', resolution {r}'})"
            for (r, d), path in found.items()
        )
        what = f"found only: {listed}"
    else:
        what = "found no Pathfinder difficulty folder (pathfinder{R}/curv_*/metadata/*.npy)"
    raise FileNotFoundError(
        f"data_root: Pathfinder at resolution {resolution}, difficulty {difficulty!r} needs "
        f"pathfinder{resolution}/{difficulty_folder(difficulty)}/metadata/*.npy under "
        f"{str(root)!r}; {what}. Pick one with --difficulty, or generate the missing one: "
        f"elm-snn data pathfinder --out {root} --resolution {resolution} "
        f"--difficulty {difficulty}"
    )


class LRATask(_ClassificationTask):
    """One of the six LRA tasks (``LRATask("listops")``, ...)."""

    models = LRA_MODELS

    def __init__(self, name: str) -> None:
        if name not in LRA_TASK_INFO:
            raise ValueError(f"task: expected one of {tuple(LRA_TASK_INFO)}, got {name!r}")
        self.name = name
        self.num_classes, self.levels, self.side = LRA_TASK_INFO[name]
        self.chance = 1.0 / self.num_classes

    # ---------------------------------------------------------------- data
    def prepare_data(self, cfg: RunConfig) -> Path:
        if cfg.synthetic:
            if self.name == "listops":
                return synthetic_listops(cfg.synthetic_size, cfg.seq_len or 2000)
            if self.name in ("pathfinder", "pathfinder-x"):
                from elm_snn.tasks.lra_presets import SYNTHETIC_DIFFICULTY

                assert self.side is not None
                cfg.difficulty = cfg.difficulty or SYNTHETIC_DIFFICULTY[cfg.preset]
                return synthetic_pathfinder(cfg.synthetic_size, self.side, cfg.difficulty)
            raise ValueError(
                f"synthetic: {self.name!r} has no offline generator (only listops, pathfinder "
                f"and pathfinder-x); pass the real data with --data-root DIR"
            )
        assert cfg.data_root is not None
        root = Path(os.path.expanduser(cfg.data_root))
        if not root.is_dir():
            raise FileNotFoundError(
                f"data_root: folder {str(root)!r} does not exist (task {self.name}). "
                f"See `elm-snn train --help` and docs/lra.md for the layouts and downloads."
            )
        if self.side is not None and self.name != "image":  # the two Pathfinders
            cfg.difficulty = resolve_pathfinder_difficulty(root, self.side, cfg.difficulty)
        # the readers raise FileNotFoundError with the places they looked; keep what they
        # read for build_data
        self._built = {
            (str(root), split): self._dataset(cfg, root, split)
            for split in ("train", "validation", "test")
        }
        return root

    def _dataset(self, cfg: RunConfig, root: Path, split: str) -> Dataset:
        from elm_snn.lra import readers

        if self.name == "listops":
            return readers.ListOpsDataset(root, split, max_length=cfg.seq_len)
        if self.name == "text":
            return readers.IMDBDataset(root, split, max_length=cfg.seq_len)
        if self.name == "retrieval":
            return readers.RetrievalDataset(root, split, max_length=cfg.seq_len)
        if self.name == "image":
            assert self.levels is not None
            return readers.CIFAR10Dataset(root, split, levels=self.levels)
        assert self.levels is not None and self.side is not None
        difficulty = cfg.difficulty or resolve_pathfinder_difficulty(root, self.side, None)
        return readers.PathfinderDataset(
            root, split, resolution=self.side, difficulty=difficulty, levels=self.levels
        )

    def vocab_size(self) -> int:
        """One-hot inputs of the model: grey levels, 16 ListOps tokens or 257 bytes."""
        from elm_snn.lra.readers import BYTE_VOCAB_SIZE, LISTOPS_VOCAB_SIZE

        if self.levels is not None:
            return self.levels
        return LISTOPS_VOCAB_SIZE if self.name == "listops" else BYTE_VOCAB_SIZE

    def num_steps(self, cfg: RunConfig) -> int:
        """Longest sequence of the task (Chrono-LSTM's ``T_max``)."""
        if self.side is not None:
            return self.side * self.side
        return int(cfg.seq_len or 2000)

    def build_data(self, cfg: RunConfig, data_root: Path) -> TaskData:
        from elm_snn.lra.readers import collate_token_pairs, collate_tokens

        built = getattr(self, "_built", {})
        train, val, test = (
            built.get((str(data_root), split)) or self._dataset(cfg, data_root, split)
            for split in ("train", "validation", "test")
        )
        self._built = {}
        for split, ds in (("train", train), ("validation", val), ("test", test)):
            if len(ds) == 0:
                raise ValueError(f"data_root: the {split} split of {data_root} is empty")
        return TaskData(
            train=train,  # the engine's sampler draws train_samples_per_epoch per epoch
            validation=FirstItems(val, cfg.val_samples),
            test=FirstItems(test, cfg.test_samples),
            collate=collate_token_pairs if self.name == "retrieval" else collate_tokens,
            num_inputs=self.vocab_size(),
            num_outputs=self.num_classes,
            num_steps=self.num_steps(cfg),
            data_root=data_root,
        )

    # ---------------------------------------------------------------- model
    def build_model(
        self, cfg: RunConfig, num_inputs: int, num_outputs: int, num_steps: int
    ) -> SequenceModel:
        """The sequence model on one-hot tokens (Retrieval: inside two towers); no input
        dropout (the inputs are tokens)."""
        import torch

        from elm_snn.lra.models import OneHotInput, TwoTower

        state = torch.random.get_rng_state()
        try:
            torch.manual_seed(cfg.seed)
            outputs = RETRIEVAL_LATENT if self.name == "retrieval" else num_outputs
            inner = build_model(cfg, num_inputs, outputs, num_steps).backbone
            backbone: torch.nn.Module = OneHotInput(inner, num_inputs)
            if self.name == "retrieval":
                backbone = TwoTower(backbone, RETRIEVAL_LATENT, num_outputs)
        finally:
            torch.random.set_rng_state(state)
        return SequenceModel(backbone, 0.0, name=cfg.model)
