"""Routing builders against the official description (fixtures README)."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from elm_snn.functional.routing import interleave_indices, neuronio_routing, random_routing


def test_interleave():
    assert interleave_indices(6).tolist() == [0, 3, 1, 4, 2, 5]


def _official_config(fixtures: Path, tag: str) -> dict:
    config = json.loads((fixtures / f"{tag}.json").read_text())
    return config.get("constructor_args", config)


@pytest.mark.parametrize("tag", ["best_elm_neuron", "num_memory_1", "v1_random_small_routing"])
def test_neuronio_routing_matches_official_checkpoints(official_fixtures_dir: Path, tag: str):
    """Index and mask of every synapse as stored in the official models (trained
    checkpoints and a small random model built by the official code)."""
    config = _official_config(official_fixtures_dir, tag)
    assert config["input_to_synapse_routing"] == "neuronio_routing"
    with np.load(official_fixtures_dir / f"{tag}.npz") as z:
        want_index = z["param:input_to_synapse_indices"]
        want_mask = z["param:valid_indices_mask"]
    index, mask = neuronio_routing(
        config["num_input"], config["num_branch"], config["num_synapse_per_branch"]
    )
    assert index.dtype == torch.int64 and mask.dtype == torch.float32
    np.testing.assert_array_equal(index.numpy(), want_index)
    np.testing.assert_array_equal(mask.numpy(), want_mask.astype(np.float32))
    # every input reaches a valid synapse
    assert set(index[mask > 0].tolist()) == set(range(config["num_input"]))


def test_random_routing_is_seeded():
    a, _ = random_routing(50, 30, torch.Generator().manual_seed(5))
    b, _ = random_routing(50, 30, torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and int(a.max()) < 50
