"""Routing builders against the official description (fixtures README)."""

import math

import torch

from elm_snn.functional.routing import interleave_indices, neuronio_routing, random_routing


def test_interleave():
    assert interleave_indices(6).tolist() == [0, 3, 1, 4, 2, 5]


def test_neuronio_routing_matches_description():
    num_inputs, k, s = 1278, 45, 100
    index, mask = neuronio_routing(num_inputs, k, s)
    stride = math.ceil(num_inputs / k)
    inter = interleave_indices(num_inputs)
    for branch in (0, 1, 44):
        for j in (0, 50, 99):
            pos = branch * stride + j
            flat = branch * s + j
            assert mask[flat] == float(pos < num_inputs)
            assert index[flat] == inter[min(pos, num_inputs - 1)]
    assert int((mask == 0).sum()) == 218  # as in the official checkpoints
    assert set(index[mask > 0].tolist()) == set(range(num_inputs))


def test_random_routing_is_seeded():
    a, _ = random_routing(50, 30, torch.Generator().manual_seed(5))
    b, _ = random_routing(50, 30, torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and int(a.max()) < 50
