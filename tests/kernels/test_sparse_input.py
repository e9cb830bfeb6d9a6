"""Sparse spike batches (``SparseFrames``) give the dense batch's outputs and gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_fused import CONFIGS, _perturbed, _state

from elm_snn import ELM, ELMState
from elm_snn.data.sparse import collate_sparse, sparse_sample_from_frames
from elm_snn.functional import elm as F_elm
from elm_snn.kernels import SparseFrames, _compiled, fused, fused_elm_sequence
from tests.conftest import fail_or_skip


def _dense_and_sparse(model, steps: int = 13, batch: int = 3, p: float = 0.04):
    gen = torch.Generator().manual_seed(11)
    shape = (steps, batch, model.num_inputs)
    counts = (torch.rand(shape, generator=gen) < p).float() * torch.randint(
        1, 3, shape, generator=gen
    )
    items = [(sparse_sample_from_frames(counts[:, b].numpy()), b) for b in range(batch)]
    frames, _ = collate_sparse(items)
    return counts.double(), frames


def _outputs_and_grads(model, x, state):
    if state is not None:
        state = ELMState(*(s.clone().requires_grad_(True) for s in state))
    model.zero_grad()
    y, final = model(x, state)
    gen = torch.Generator().manual_seed(5)
    loss = (
        (y * torch.randn(y.shape, generator=gen, dtype=y.dtype)).sum()
        + (final.memory**2).sum()
        + final.trace.sum()
    )
    params = list(model.parameters())
    grads = torch.autograd.grad(loss, params + ([*state] if state is not None else []))
    return y.detach(), final, grads


@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("compiled", [True, False])
def test_sparse_batch_matches_dense_batch_and_reference(name, with_state, compiled) -> None:
    model = _perturbed(CONFIGS[name])
    dense, frames = _dense_and_sparse(model)
    assert torch.equal(frames.to_dense().double(), dense)
    state = _state(model, dense.shape[1]) if with_state else None
    with _compiled.use_compiled(compiled):
        y0, f0, g0 = _outputs_and_grads(model, dense, state)
        y1, f1, g1 = _outputs_and_grads(model, frames, state)
    torch.testing.assert_close(y1, y0, rtol=0, atol=1e-10)
    torch.testing.assert_close(f1.memory, f0.memory, rtol=0, atol=1e-10)
    torch.testing.assert_close(f1.trace, f0.trace, rtol=0, atol=1e-10)
    for a, b in zip(g0, g1, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-9, atol=1e-10)
    # and the reference loop on the dense batch
    y_ref, _, _ = F_elm.elm_sequence(dense, state, model.functional_parameters())
    torch.testing.assert_close(y1, y_ref, rtol=0, atol=1e-10)


def test_sparse_batch_never_builds_dense_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the compiled loops the folded front end reads the rows only."""
    if not _compiled.compiled_available():
        fail_or_skip("the compiled loops could not be built", "ELM_SNN_REQUIRE_COMPILED")
    model = _perturbed(CONFIGS["grouped-synapse"])
    _, frames = _dense_and_sparse(model)

    def forbidden(self):
        raise AssertionError("the sparse batch was densified")

    monkeypatch.setattr(SparseFrames, "to_dense", forbidden)
    monkeypatch.setattr(fused, "_sparse_rows", lambda x: (_ for _ in ()).throw(AssertionError))
    y, _ = model(frames)
    assert y.shape == (frames.shape[0], frames.shape[1], model.num_outputs)


def test_float32_module_takes_float32_values() -> None:
    model = _perturbed(CONFIGS["paper-default"]).float()
    dense, frames = _dense_and_sparse(model)
    y0, _ = model(dense.float())
    y1, _ = model(frames)
    assert y1.dtype == torch.float32
    torch.testing.assert_close(y1, y0, rtol=1e-5, atol=1e-6)


def test_batch_first_and_return_states_use_the_dense_batch() -> None:
    model = _perturbed(CONFIGS["paper-default"])
    dense, frames = _dense_and_sparse(model)
    y, _, record = model(frames, return_states=True)
    y_ref, _, _ = model(dense, return_states=True)
    torch.testing.assert_close(y, y_ref)
    model.batch_first = True
    y_bf, _ = model(frames)
    torch.testing.assert_close(y_bf, y_ref.transpose(0, 1))


def _frames(row_ptr, col, val, shape=(2, 1, 4)):
    return SparseFrames(torch.tensor(row_ptr), torch.tensor(col), torch.tensor(val), shape)


@pytest.mark.parametrize(
    ("frames", "match"),
    [
        (_frames([0, 1, 2], [0, 4], [1.0, 1.0]), r"x.col: expected channels in \[0, 4\)"),
        (_frames([0, 2, 1], [0, 1], [1.0, 1.0]), "x.row_ptr: expected non-decreasing"),
        (_frames([0, 1], [0], [1.0]), r"x.row_ptr: expected shape \(3,\)"),
        (_frames([0, 1, 2], [0, 1], [1.0, float("nan")]), "x.val: expected finite"),
        (_frames([0, 1, 2], [0, 1], [1, 2]), "x.val: expected a floating dtype"),
    ],
)
def test_malformed_sparse_batches_are_rejected(frames, match) -> None:
    model = ELM(4, 3, 2).double()
    with pytest.raises(ValueError, match=match):
        model(frames)


def test_wrong_channel_count_and_type_are_named() -> None:
    model = _perturbed(CONFIGS["paper-default"])
    _, frames = _dense_and_sparse(model)
    other = ELM(7, 3, 2).double()
    with pytest.raises(ValueError, match="x: expected 7 channels"):
        other(frames)
    with pytest.raises(
        TypeError, match="x: expected a torch.Tensor or elm_snn.kernels.SparseFrames"
    ):
        model(np.zeros((3, 2, 6)))


def test_fused_elm_sequence_takes_a_sparse_batch_directly() -> None:
    model = _perturbed(CONFIGS["random"])
    dense, frames = _dense_and_sparse(model)
    y0, _, _ = fused_elm_sequence(dense, None, model.functional_parameters())
    y1, _, _ = fused_elm_sequence(frames, None, model.functional_parameters())
    torch.testing.assert_close(y1, y0, rtol=0, atol=1e-12)
