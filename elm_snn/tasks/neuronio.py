"""NeuronIO: predict a neuron's output spikes and soma voltage from its synaptic input.

Data: a folder of NeuronIO files (pickle or elm-snn compact), split deterministically
(:func:`elm_snn.data.neuronio_datasets.split_neuronio`, seed 0, 80/10/10 by file when there
are at least ten files, else by simulation). Training: random 500 ms windows
(:class:`~elm_snn.data.neuronio_datasets.NeuronIOWindowDataset`, drawn from
``(seed, epoch, index)``); validation: fixed windows (window seed 0) with the training loss,
spike AUC and soma RMSE after the burn-in; test: the evaluation protocol of
:mod:`elm_snn.data.neuronio_eval` on whole test simulations (stitched windows; protocol
"official" with the paper preset, "plain" with the quick preset, since the official spike
count filter can leave no simulation of small generated sets).

Loss: :func:`elm_snn.metrics.neuronio_loss` (0.5 BCE + 0.5 MSE after the 150 ms burn-in).

With ``synthetic=True`` the data are NeuronIO-style NEURON simulations of
:func:`elm_snn.synth.neuronio_sim.generate_neuronio_sim` (``synthetic_size`` simulations of
6 s, data seed 0), generated once into ``elm_snn._io.cache_dir("neuronio_sim", ...)``.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from elm_snn.tasks.base import Task, TaskData
from elm_snn.tasks.config import RunConfig
from elm_snn.tasks.models import SequenceModel
from elm_snn.tasks.registry import NEURONIO_MODELS

__all__ = ["NeuronIOTask", "synthetic_neuronio"]

SPLIT_SEED = 0
VAL_WINDOW_SEED = 0
DEFAULT_VAL_WINDOWS = 64
#: training windows on which :func:`calibrate_output_offsets` measures the initial outputs
CALIBRATION_WINDOWS = 32
CALIBRATION_SEED = 12345
#: the spike rate is clipped to [this, 1 - this] before taking its log-odds
MIN_SPIKE_RATE = 1e-6


def training_targets(files: list, refs: list, ignore_start_ms: int) -> dict[str, float]:
    """Spike rate per 1 ms bin and mean voltage target (training units) of the simulations
    ``refs``, over the part that training windows are drawn from (after ``ignore_start_ms``).

    Returns:
        ``{"spike_rate", "spike_log_odds", "voltage_mean"}``; the rate is clipped to
        ``[MIN_SPIKE_RATE, 1 - MIN_SPIKE_RATE]`` for the log-odds (a set without spikes).
    """
    from elm_snn.data.neuronio_datasets import preprocess_soma

    n_spikes = 0.0
    n_bins = 0
    v_sum = 0.0
    for fi, si in refs:
        f = files[fi]
        raster = f.output_raster(si)[ignore_start_ms:]
        volt = preprocess_soma(np.asarray(f.soma_voltage_mv[si], dtype=np.float64))
        n_spikes += float(raster.sum())
        n_bins += int(raster.size)
        v_sum += float(volt[ignore_start_ms:].sum())
    if n_bins == 0:
        raise ValueError("simulations: no bins after the ignored start to measure targets on")
    rate = n_spikes / n_bins
    clipped = min(max(rate, MIN_SPIKE_RATE), 1.0 - MIN_SPIKE_RATE)
    return {
        "spike_rate": rate,
        "spike_log_odds": float(np.log(clipped / (1.0 - clipped))),
        "voltage_mean": v_sum / n_bins,
    }


def calibrate_output_offsets(
    model: SequenceModel,
    x: Tensor,
    targets: dict[int, float],
    burn_in_ms: int,
) -> dict[int, float]:
    """Shift output offsets so the mean output of ``model`` on ``x`` equals ``targets``.

    For each ``channel: value`` of ``targets`` whose offset exists
    (:func:`~elm_snn.tasks.models.output_offset`), the offset is moved by ``value`` minus
    the channel's mean output over the steps ``t >= burn_in_ms`` of ``x``: a data-dependent
    bias initialisation. Runs without gradients, in eval mode (the mode is restored).

    Args:
        model: the model to change in place.
        x: ``(T, B, I)`` inputs (training windows).
        targets: output channel -> desired mean output.
        burn_in_ms: leading steps left out of the mean (as in the loss).

    Returns:
        channel -> the shift applied (channels without an offset are left out).
    """
    from elm_snn.tasks.models import output_offset

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(x)[burn_in_ms:]
            shifts = {}
            for channel, value in targets.items():
                offset = output_offset(model, channel)
                if offset is None:
                    continue
                shift = float(value) - float(out[..., channel].double().mean())
                offset.add_(shift)
                shifts[channel] = shift
    finally:
        model.train(was_training)
    return shifts


def synthetic_neuronio(num_simulations: int) -> Path:
    """Folder with ``num_simulations`` generated NeuronIO-style simulations of the default
    (active) cell (data seed 0, 8 per file), made on first use into the elm-snn cache and
    reused afterwards."""
    from elm_snn._io import cache_dir
    from elm_snn.synth.neuronio_sim import NeuronIOSimConfig, generate_neuronio_sim

    # the cell in the name: sets of the passive cell (the default before) stay apart
    out = cache_dir("neuronio_sim", f"sims{int(num_simulations)}-seed0-{NeuronIOSimConfig().cell}")
    workers = max(1, min(4, os.cpu_count() or 1))
    generate_neuronio_sim(out, int(num_simulations), seed=0, workers=workers, sims_per_file=8)
    return out


class _TestSimulations(Dataset):
    """Whole simulations: ``(X (T, 2n) signed, spikes (T,), soma_mv (T,), file index)``."""

    def __init__(self, files: list, refs: list, cap: int | None) -> None:
        self.files = files
        self.refs = list(refs)[: cap if cap is not None else None]

    def __len__(self) -> int:
        return len(self.refs)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor, Tensor, int]:
        from elm_snn.data.neuronio_datasets import simulation_inputs

        fi, si = self.refs[i]
        f = self.files[fi]
        return (
            torch.from_numpy(simulation_inputs(f, si)),
            torch.from_numpy(f.output_raster(si).astype(np.float32)),
            torch.from_numpy(np.asarray(f.soma_voltage_mv[si], dtype=np.float32).copy()),
            int(fi),
        )


def _collate_windows(batch: list) -> tuple[Tensor, Tensor, Tensor]:
    """Stack ``(X (T, N), spikes (T,), v (T,))`` items time-major: ``(T, B, N), (T, B), (T, B)``."""
    xs, spikes, volts = zip(*batch, strict=True)
    return (
        torch.stack(xs, dim=1),
        torch.stack(spikes, dim=1),
        torch.stack(volts, dim=1),
    )


def _collate_sims(batch: list) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    xs, spikes, volts, groups = zip(*batch, strict=True)
    return (
        torch.stack(xs, dim=1),
        torch.stack(spikes, dim=1),
        torch.stack(volts, dim=1),
        torch.tensor(groups, dtype=torch.long),
    )


class NeuronIOTask(Task):
    """NeuronIO spike + voltage prediction (see module docstring)."""

    name = "neuronio"
    models = NEURONIO_MODELS
    monitor = "val_loss"
    monitor_mode = "min"
    primary_metric = "test_auc"
    chance = 0.5

    def prepare_data(self, cfg: RunConfig) -> Path:
        if cfg.synthetic:
            return synthetic_neuronio(cfg.synthetic_size)
        from elm_snn.data.neuronio import find_neuronio_files

        assert cfg.data_root is not None
        root = Path(os.path.expanduser(cfg.data_root))
        if not root.exists():
            raise FileNotFoundError(
                f"data_root: {str(root)!r} does not exist. Pass a folder of NeuronIO files "
                f"(--data-root DIR; see datasets/ for how to get or convert them), or use "
                f"--synthetic to simulate NeuronIO-style data with NEURON."
            )
        try:
            find_neuronio_files(root)
        except (FileNotFoundError, ValueError) as exc:
            raise FileNotFoundError(
                f"data_root: no NeuronIO files in {str(root)!r}: {exc}"
            ) from exc
        return root

    def build_data(self, cfg: RunConfig, data_root: Path) -> TaskData:
        from elm_snn.data.neuronio_datasets import (
            NeuronIOWindowDataset,
            load_neuronio_files,
            split_neuronio,
        )

        files = load_neuronio_files(data_root)
        if not files:
            raise FileNotFoundError(f"data_root: no NeuronIO files in {str(data_root)!r}")
        by = "file" if len(files) >= 10 else "simulation"
        split = split_neuronio(files, (0.8, 0.1, 0.1), seed=SPLIT_SEED, by=by)
        windows = cfg.train_samples_per_epoch or 11400 * cfg.batch_size
        train = NeuronIOWindowDataset(
            files, split.train, num_windows=windows, window_ms=cfg.window_ms, seed=cfg.seed
        )
        val = NeuronIOWindowDataset(
            files,
            split.valid,
            num_windows=cfg.val_samples or DEFAULT_VAL_WINDOWS,
            window_ms=cfg.window_ms,
            seed=VAL_WINDOW_SEED,
        )
        test = _TestSimulations(files, list(split.test), cfg.test_samples)
        return TaskData(
            train=train,
            validation=val,
            test=test,
            collate=_collate_windows,
            test_collate=_collate_sims,
            num_inputs=files[0].num_inputs,
            num_outputs=2,
            num_steps=cfg.window_ms,
            data_root=data_root,
        )

    def initialise_model(
        self, model: SequenceModel, data: TaskData, cfg: RunConfig
    ) -> dict[str, float]:
        """With ``cfg.output_init == "data"``: start the spike logit at the log-odds of the
        training split's spike rate and the voltage output at the mean voltage target.

        Why: PyTorch's default readout starts the spike probability near 0.5 against a base
        rate of ~0.002. Adam moves a bias by about ``lr`` per step, so the drop of ~6-8 logit
        units is first made through the shared memory units, which turns the logit against
        the spikes (spike AUC < 0.5 on short budgets). Measured with the quick preset:
        ELM test AUC 0.23 without, 0.95 with this initialisation. ``"none"`` keeps the
        constructors' initialisation (the official code's).
        """
        if cfg.output_init == "none":
            return {}
        from elm_snn.data.neuronio_datasets import IGNORE_START_MS, NeuronIOWindowDataset

        train = data.train
        files, refs = train.files, train.simulations
        stats = training_targets(files, refs, IGNORE_START_MS)
        windows = NeuronIOWindowDataset(
            files,
            refs,
            num_windows=CALIBRATION_WINDOWS,
            window_ms=cfg.window_ms,
            seed=CALIBRATION_SEED,
        )
        x, _, _ = _collate_windows([windows[i] for i in range(len(windows))])
        shifts = calibrate_output_offsets(
            model,
            x,
            {0: stats["spike_log_odds"], 1: stats["voltage_mean"]},
            burn_in_ms=cfg.burn_in_ms,
        )
        names = {0: "spike_logit_shift", 1: "voltage_shift"}  # channels with an offset only
        return {**stats, **{names[c]: v for c, v in shifts.items()}}

    def report_extras(self, metrics: dict[str, float]) -> dict[str, Any]:
        """The test (or validation) metrics again under the official result keys, in the
        layout of the authors' ``eval_results.json`` (``{"test_results": {"AUC": ...}}``)."""
        from elm_snn.metrics import to_official_names

        out: dict[str, Any] = {}
        for prefix, block in (("test_", "test_results"), ("val_", "valid_results")):
            part = {k: v for k, v in metrics.items() if k.startswith(prefix)}
            official = to_official_names(part)
            if official:
                out[block] = dict(sorted(official.items()))
        return out

    def training_loss(self, model: SequenceModel, batch: Any, cfg: RunConfig) -> tuple[Tensor, int]:
        from elm_snn.metrics import neuronio_loss

        x, spikes, volt = batch
        loss = neuronio_loss(model(x), spikes, volt, burn_in=cfg.burn_in_ms)
        reg = model.regularization()
        if reg is not None:
            loss = loss + reg
        return loss, int(x.shape[1])

    def eval_records(
        self, model: SequenceModel, batch: Any, cfg: RunConfig, split: str
    ) -> dict[str, Tensor]:
        from elm_snn.data.neuronio_datasets import soma_from_training_units

        if split == "test":
            from elm_snn.data.neuronio_eval import predict_stitched

            x, spikes, soma_mv, groups = batch
            prob, soma_pred = predict_stitched(
                model, x, window_ms=cfg.window_ms, burn_in_ms=cfg.burn_in_ms
            )
            return {
                "spikes": spikes.T.float(),
                "prob": prob.T.float(),
                "soma_mv": soma_mv.T.float(),
                "soma_pred_mv": soma_pred.T.float(),
                "group": groups,
            }
        x, spikes, volt = batch
        out = model(x)
        b = cfg.burn_in_ms
        bce = torch.nn.functional.binary_cross_entropy_with_logits(
            out[b:, :, 0], spikes[b:], reduction="none"
        ).mean(0)
        mse = ((out[b:, :, 1] - volt[b:]) ** 2).mean(0)
        return {
            "loss": 0.5 * bce + 0.5 * mse,
            "spikes": spikes[b:].T.float(),
            "prob": torch.sigmoid(out[b:, :, 0]).T.float(),
            "v_true_mv": soma_from_training_units(volt[b:]).T.float(),
            "v_pred_mv": soma_from_training_units(out[b:, :, 1]).T.float(),
        }

    def compute_metrics(
        self, records: dict[str, Tensor], cfg: RunConfig, split: str
    ) -> dict[str, float]:
        from elm_snn.metrics import rmse, roc_auc

        if split == "test":
            from elm_snn.data.neuronio_eval import neuronio_metrics_from_predictions

            protocol = "official" if cfg.preset == "paper" else "plain"
            ev = neuronio_metrics_from_predictions(
                records["spikes"].double().numpy(),
                records["prob"].double().numpy(),
                records["soma_mv"].double().numpy(),
                records["soma_pred_mv"].double().numpy(),
                records["group"].numpy(),
                protocol=protocol,
                ignore_start_ms=min(500, records["spikes"].shape[1] - 1),
            )
            from elm_snn.metrics import from_official_names

            return {
                **from_official_names(ev.metrics),
                "num_simulations": float(ev.num_simulations),
                "num_kept": float(ev.num_kept),
                "num_spikes_scored": float(ev.num_spikes_scored),
            }
        spikes = records["spikes"]
        n_pos = int(spikes.sum())
        if 0 < n_pos < spikes.numel():
            auc = roc_auc(spikes, records["prob"])
        else:
            warnings.warn(
                f"{split}: {n_pos} spikes in {spikes.numel()} bins, spike AUC undefined (NaN)",
                stacklevel=2,
            )
            auc = float("nan")
        return {
            "loss": float(records["loss"].mean()),
            "auc": auc,
            "soma_rmse_mv": rmse(records["v_true_mv"], records["v_pred_mv"]),
        }
