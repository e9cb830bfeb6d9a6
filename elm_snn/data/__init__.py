"""Datasets and preprocessing: SHD, SHD-Adding, binning, caching, collation, NeuronIO.

Names are imported lazily (PEP 562) so ``import elm_snn.data`` stays cheap: torch and
tonic are only imported when a dataset or collate function is first used.
"""

from __future__ import annotations

import importlib
from typing import Any

# name -> submodule that defines it
_EXPORTS: dict[str, str] = {
    # SHD file format
    "SHD_CLASS_NAMES": "shd_format",
    "SHD_NUM_CHANNELS": "shd_format",
    "SHD_NUM_CLASSES": "shd_format",
    "SHDFormatError": "shd_format",
    "SHDRecords": "shd_format",
    "read_shd_file": "shd_format",
    "validate_shd_file": "shd_format",
    "write_shd_file": "shd_format",
    # SHD (through tonic)
    "SHD": "shd",
    "find_shd_file": "shd",
    # SHD-Adding
    "SHDAdding": "adding",
    "split_train_validation": "adding",
    "split_by_speaker": "adding",
    "ADDING_NUM_CLASSES": "adding",
    # binning
    "BinToFrames": "transforms",
    "BinningStats": "transforms",
    "FrameBinning": "transforms",
    "apply_event_transform": "transforms",
    "split_frame_binning": "transforms",
    "bin_events": "transforms",
    "duration_for_bins": "transforms",
    "events_from_arrays": "transforms",
    "validate_events": "transforms",
    # caching
    "DigitFrameCache": "cache",
    "file_fingerprint": "cache",
    "clear_memory_cache": "cache",
    # collation
    "collate_frames": "collate",
    "pad_collate_time_major": "collate",
    # NeuronIO: file format, compact format, converter
    "NeuronIOSimulation": "neuronio",
    "NeuronIOFile": "neuronio",
    "NeuronIOSample": "neuronio",
    "NeuronIOFormatError": "neuronio",
    "write_neuronio_pickle": "neuronio",
    "load_neuronio_pickle": "neuronio",
    "read_neuronio_pickle": "neuronio",
    "read_neuronio_file": "neuronio",
    "iter_neuronio_simulations": "neuronio",
    "find_neuronio_files": "neuronio",
    "write_neuronio_compact": "neuronio",
    "read_neuronio_compact": "neuronio",
    "convert_neuronio_folder": "neuronio",
    "output_spike_bins": "neuronio",
    "synapse_types": "neuronio",
    # NeuronIO: preprocessing, splits, datasets
    "preprocess_soma": "neuronio_datasets",
    "soma_from_training_units": "neuronio_datasets",
    "load_neuronio_files": "neuronio_datasets",
    "split_neuronio": "neuronio_datasets",
    "NeuronIOSplit": "neuronio_datasets",
    "NeuronIOWindowDataset": "neuronio_datasets",
    "NeuronIOSimulationDataset": "neuronio_datasets",
    # NeuronIO: evaluation protocols
    "evaluate_neuronio": "neuronio_eval",
    "predict_stitched": "neuronio_eval",
    "neuronio_metrics_from_predictions": "neuronio_eval",
    "NeuronIOEvaluation": "neuronio_eval",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'elm_snn.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"elm_snn.data.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
