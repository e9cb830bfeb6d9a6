"""Presets of the six Long Range Arena tasks (read by :mod:`elm_snn.tasks.presets`, beside
the SHD and NeuronIO ones; the task and model names also feed the registry).

``"paper"`` (Spieler et al. 2023, appendix B, Tables S2 / S3), read from our text copy of
the paper:

* all models: Adam, cosine decay, cross-entropy on the last output, one token per step
  (``bin_size_ms = 1``, so time constants in ms are in steps); no input dropout;
* ELM: ``d_m = 150``, lr 2e-4, ``d_mlp = 384`` (768 on Pathfinder-X; Table S2's second
  column, read as the MLP width: it gives the paper's "~100k parameters"), ``tau_s = 5`` ms
  (150 ms on Pathfinder-X), ``tau_m`` initialised log-spaced and bounded to the same range
  ("bounds matched to the initialization range");
* Chrono-LSTM and LSTM: hidden 150, lr 1e-3, Chrono ``T_max`` = the sequence length;
* grey levels: 16 (Image, Pathfinder), 8 (Pathfinder-X); ListOps / Text / Retrieval tokens
  one-hot; Retrieval: two towers with latent 75.

Values the paper does not give legibly, and our choices (named ``CHOICE`` below):

* the ``tau_m`` range: the numbers of Table S2's "logspace" column are lost in our copy; we
  use 1 .. L steps, L = the task's sequence length (1024, 2000, 4000, 16384);
* epochs: Tables S2 / S3 hold one more number per task (300 for the image tasks, 150 for the
  text tasks, the same for both models); we read it as the number of epochs;
* batch size: 8, appendix B's general default ("batch size of 8");
* Text / Retrieval documents are truncated to 4000 bytes (LRA's setting); the vocabulary is
  all 256 byte values plus padding (the paper's input dims 169 / 105 and ListOps' 25 came
  from their tokenisers, which the paper does not describe);
* LRA Pathfinder uses the hardest difficulty (contours of 14 paddles): ``--synthetic``
  generates it, and a ``--data-root`` holding several difficulties is read at it.

``"quick"``: small models for a CPU; data generated offline with ``--synthetic`` (ListOps,
Pathfinder, Pathfinder-X), or 2,000 training samples per epoch drawn from the real data (Text,
Retrieval, Image) and the first 500 / 1,000 validation / test samples.

Pathfinder difficulty (``difficulty``, ``--difficulty``): no preset sets it. Left out, a
``--data-root`` is read at the difficulty it holds (the hardest when it holds several;
``hard`` is the generator's and LRA's default), and ``--synthetic`` generates
:data:`SYNTHETIC_DIFFICULTY` of the preset (quick: ``easy``, contours of 6 paddles, so a CPU
run has a chance).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "LRA_TASKS",
    "LRA_MODELS",
    "LRA_LENGTHS",
    "LRA_PRESETS",
    "LRA_MODEL_OVERRIDES",
    "SYNTHETIC_DIFFICULTY",
]

LRA_TASKS = ("listops", "text", "retrieval", "image", "pathfinder", "pathfinder-x")
LRA_MODELS = ("elm", "branch-elm", "chrono-lstm", "lstm")
#: sequence length of each task's paper setting (tokens per sample; Retrieval: per document)
LRA_LENGTHS = {
    "listops": 2000,
    "text": 4000,
    "retrieval": 4000,
    "image": 1024,
    "pathfinder": 1024,
    "pathfinder-x": 16384,
}
_EPOCHS = {  # CHOICE: Tables S2/S3's 300 / 150 column read as epochs
    "listops": 150,
    "text": 150,
    "retrieval": 150,
    "image": 300,
    "pathfinder": 300,
    "pathfinder-x": 300,
}
#: preset -> Pathfinder difficulty that ``--synthetic`` generates when none is given
SYNTHETIC_DIFFICULTY = {"paper": "hard", "quick": "easy"}
_SYNTHETIC = {  # CHOICE: training-set size of --synthetic data with the paper preset
    "listops": 96000,  # LRA's ListOps training set
    "pathfinder": 200000,
    "pathfinder-x": 200000,
}


def _paper(task: str) -> dict[str, Any]:
    length = LRA_LENGTHS[task]
    d = dict(
        bin_size_ms=1.0,
        max_epochs=_EPOCHS[task],
        batch_size=8,  # CHOICE: appendix B's general default
        eval_batch_size=32,
        optimizer="adam",
        lr=2e-4,
        lr_schedule="cosine",
        input_dropout=0.0,
        recurrent_dropout=0.0,
        num_memory=150,
        mlp_hidden_size=768 if task == "pathfinder-x" else 384,
        mlp_num_layers=1,
        lambda_value=5.0,
        tau_m_min=1.0,
        tau_m_max=float(length),  # CHOICE: 1 .. L steps
        tau_m_init=(1.0, float(length)),
        tau_m_init_spacing="log",
        learn_tau_m=True,
        tau_s=150.0 if task == "pathfinder-x" else 5.0,
        num_branches=16,  # Branch-ELM is not in the paper's LRA table: CHOICE
        synapses_per_branch=16,
        routing="random",
        lstm_hidden=150,
        seq_len=length,
        synthetic_size=_SYNTHETIC.get(task, 1),
    )
    return d


def _quick(task: str) -> dict[str, Any]:
    d = _paper(task)
    d.update(
        max_epochs=8,
        batch_size=32,
        eval_batch_size=100,
        lr=3e-3,
        gradient_clip_val=1.0,
        num_memory=32,
        mlp_hidden_size=64,
        num_branches=8,
        synapses_per_branch=8,
        lstm_hidden=64,
        train_samples_per_epoch=2000,
        val_samples=500,
        test_samples=1000,
    )
    if task == "listops":
        # short expressions (tree length 15..60, depth <= 4, <= 5 arguments): 10,000 for
        # training, all used every epoch (an epoch takes seconds)
        d.update(
            seq_len=60,
            tau_m_max=60.0,
            tau_m_init=(1.0, 60.0),
            synthetic_size=10000,
            train_samples_per_epoch=None,
            max_epochs=20,
        )
    elif task == "pathfinder":
        # 32 x 32, 2500 images (2000 training); --synthetic: contours of 6 paddles ("easy")
        d.update(synthetic_size=2500)
    elif task == "pathfinder-x":
        d.update(
            max_epochs=2,
            batch_size=8,
            eval_batch_size=16,
            num_memory=16,
            mlp_hidden_size=32,
            synthetic_size=250,
            train_samples_per_epoch=200,
            val_samples=25,
            test_samples=25,
        )
    return d


LRA_PRESETS: dict[tuple[str, str], dict[str, Any]] = {}
for _task in LRA_TASKS:
    LRA_PRESETS[("paper", _task)] = _paper(_task)
    LRA_PRESETS[("quick", _task)] = _quick(_task)

#: (preset, task, model) -> changes: the paper's LSTM learning rate (the quick preset uses
#: one learning rate for all models)
LRA_MODEL_OVERRIDES: dict[tuple[str, str, str], dict[str, Any]] = {}
for _task in LRA_TASKS:
    for _model in ("chrono-lstm", "lstm"):
        LRA_MODEL_OVERRIDES[("paper", _task, _model)] = dict(lr=1e-3)
