"""The evidence protocol's options: the validation share, the official (unscaled, always on)
input dropout, and the data record that ``run_info.json`` keeps."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from elm_snn.tasks import get_task, resolve_config
from elm_snn.tasks.models import SequenceModel, UnscaledInputDropout
from elm_snn.tasks.shd import shd_data_record
from tests.tiny import tiny_config


def test_config_values_and_errors() -> None:
    cfg = resolve_config("shd-adding", "elm", "quick", synthetic=True)
    assert (cfg.validation_fraction, cfg.input_dropout_mode) == (0.1, "scaled")
    paper = resolve_config("shd", "lstm", "paper", synthetic=True)
    assert (paper.validation_fraction, paper.input_dropout_mode) == (0.1, "scaled")
    cfg = resolve_config(
        "shd",
        "elm",
        "quick",
        synthetic=True,
        validation_fraction=0.2,
        input_dropout_mode="official",
    )
    assert (cfg.validation_fraction, cfg.input_dropout_mode) == (0.2, "official")
    for bad in (0, 1, 1.5, -0.1, True, "0.2", float("nan")):
        with pytest.raises(ValueError, match="validation_fraction: expected a number in"):
            resolve_config("shd", "elm", "quick", synthetic=True, validation_fraction=bad)
    with pytest.raises(ValueError, match="input_dropout_mode: expected one of .* got 'half'"):
        resolve_config("shd", "elm", "quick", synthetic=True, input_dropout_mode="half")


def test_unscaled_dropout_drops_in_training_and_evaluation_without_rescaling() -> None:
    drop = UnscaledInputDropout(0.5)
    x = torch.ones(200, 50)
    for mode in (drop.train, drop.eval):
        mode()
        torch.manual_seed(0)
        y = drop(x)
        assert set(torch.unique(y).tolist()) == {0.0, 1.0}  # kept spikes are not doubled
        assert 0.45 < float(y.mean()) < 0.55
    torch.nn.Dropout(0.5).eval()(x).equal(x)  # the scaled kind keeps everything in eval
    assert UnscaledInputDropout(0.0)(x) is x
    for bad in (1.0, -0.1, True, "0.5"):
        with pytest.raises(ValueError, match="p: expected a probability in"):
            UnscaledInputDropout(bad)


def test_sequence_model_picks_the_dropout_kind() -> None:
    backbone = torch.nn.Identity()
    assert isinstance(SequenceModel(backbone, 0.5).dropout, torch.nn.Dropout)
    official = SequenceModel(backbone, 0.5, input_dropout_mode="official")
    assert isinstance(official.dropout, UnscaledInputDropout)
    assert isinstance(SequenceModel(backbone, 0.0, input_dropout_mode="official").dropout,
                      torch.nn.Identity)  # fmt: skip
    with pytest.raises(ValueError, match="input_dropout_mode: expected 'scaled' or 'official'"):
        SequenceModel(backbone, 0.5, input_dropout_mode="other")


def test_task_model_gets_the_official_dropout(shd_root) -> None:
    cfg = tiny_config("shd", "elm", shd_root, input_dropout=0.5, input_dropout_mode="official")
    task = get_task("shd")
    data = task.build_data(cfg, task.prepare_data(cfg))
    model = task.build_model(cfg, data.num_inputs, data.num_outputs, data.num_steps).eval()
    assert isinstance(model.dropout, UnscaledInputDropout)
    x, _ = data.collate([data.train[i] for i in range(2)])
    torch.manual_seed(1)
    a = model(x)
    torch.manual_seed(2)
    b = model(x)
    assert not torch.equal(a, b)  # evaluation is random, as in the official notebook


@pytest.mark.parametrize("task", ["shd", "shd-adding"])
def test_validation_fraction_holds_out_more_speakers(task, shd_root) -> None:
    """The fixture has 4 speakers: 0.1 holds out one, 0.5 two."""
    import h5py

    with h5py.File(shd_root / "shd_train.h5", "r") as f:
        file_speakers = np.asarray(f["extra/speaker"][()])
    t = get_task(task)
    for fraction, expected in ((0.1, 1), (0.5, 2)):
        cfg = tiny_config(task, "elm", shd_root, validation_split="speaker",
                          validation_fraction=fraction, val_samples=None)  # fmt: skip
        data = t.build_data(cfg, t.prepare_data(cfg))
        if task == "shd":
            val_spk = set(file_speakers[data.validation.base.indices].tolist())
            train_spk = set(file_speakers[data.train.indices].tolist())
        else:
            val_spk = set(data.validation.pair_speakers().ravel().tolist())
            train_spk = set(data.train.pair_speakers().ravel().tolist())
        assert len(val_spk) == expected and not val_spk & train_spk
        record = shd_data_record(shd_root, cfg)
        assert len(record["validation_speakers"]) == expected
        assert set(record["validation_speakers"]) == val_spk
        n = record["num_samples"]
        assert n["train"] + n["validation"] == len(file_speakers)
        assert record["file_samples"] == {"train": len(file_speakers), "test": n["test"]}
        assert n["validation"] == int(np.isin(file_speakers, list(val_spk)).sum())
        assert record["generator"] is None  # not made by the offline generator


def test_data_record_of_a_random_split_and_of_generated_digits(shd_root, tmp_path) -> None:
    import json
    import shutil

    cfg = tiny_config("shd", "elm", shd_root, validation_split="sample", validation_fraction=0.25)
    record = shd_data_record(shd_root, cfg)
    assert record["num_samples"]["validation"] == 20 and record["validation_speakers"] == []
    copy = tmp_path / "generated"
    shutil.copytree(shd_root, copy)
    params = {"seed": 7, "format_version": 2, "speakers": [{}, {}, {}]}
    (copy / "spoken_digits.json").write_text(json.dumps({"params": params}))
    generator = shd_data_record(copy, cfg)["generator"]
    assert generator == {"seed": 7, "format_version": 2, "num_speakers": 3}


def test_spearman_by_hand_and_the_agreement_line() -> None:
    from elm_snn.train.grid import spearman, validation_test_agreement

    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # ties take their average rank: x ranks 1, 2.5, 2.5, 4; y ranks 1, 2, 3, 4
    assert spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(4.5 / np.sqrt(4.5 * 5))
    assert spearman([1, 2], [1, 2]) is None and spearman([1, 1, 1], [1, 2, 3]) is None
    with pytest.raises(ValueError, match="the same length"):
        spearman([1, 2, 3], [1, 2])
    rows = [
        {"best_val_accuracy": v, "test_accuracy": t}
        for v, t in ((0.1, 0.2), (0.2, 0.1), (0.3, 0.4), (0.4, 0.5))
    ]
    line = validation_test_agreement(rows, "test_accuracy")
    assert line is not None and "over the 4 runs" in line and "+0.80" in line
    assert validation_test_agreement(rows[:3], "test_accuracy") is None  # too few runs


def test_run_folders_saved_before_difficulty_became_optional_still_match() -> None:
    """SHD runs saved ``difficulty: "hard"`` (the old default); they must still count as the
    same configuration, or a grid would retrain finished runs."""
    cfg = resolve_config("shd-adding", "elm", "quick", synthetic=True)
    saved = {**cfg.to_dict(), "difficulty": "hard"}
    from elm_snn.tasks.config import RunConfig

    assert RunConfig.from_dict(saved).to_dict() == cfg.to_dict()
    pathfinder = resolve_config("pathfinder", "elm", "quick", synthetic=True, difficulty="hard")
    assert pathfinder.difficulty == "hard"
