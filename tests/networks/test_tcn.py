"""The TCN baseline (Beniaguev et al. 2021): causality, shapes, parameter counts, registry."""

from __future__ import annotations

import pytest
import torch

from elm_snn.networks.tcn import PAPER_TCN, TCN, beniaguev_l5pc_tcn, tcn_receptive_field
from elm_snn.tasks import NEURONIO_MODELS, count_parameters, get_task, resolve_config


def _trained_like(model: TCN) -> TCN:
    """Weights large enough that every layer passes signal (the init is tiny), eval mode."""
    torch.manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.3)
    return model.eval()


@pytest.mark.parametrize("depth, k1, k", [(1, 5, 1), (3, 6, 4), (4, 2, 3)])
def test_causal_and_receptive_field(depth, k1, k):
    model = _trained_like(TCN(7, 2, depth=depth, width=5, kernel_size_first=k1, kernel_size=k))
    R = tcn_receptive_field(depth, k1, k)
    assert model.receptive_field == R == 1 + (k1 - 1) + (depth - 1) * (k - 1)
    T, t0 = 40, 25
    x = torch.rand(T, 3, 7)
    y0, state = model(x)
    assert state is None
    # a change at step t0 (one input, one sample) moves no output before t0 ...
    x1 = x.clone()
    x1[t0, 1, 4] += 1.0
    y1, _ = model(x1)
    diff = (y1 - y0).abs().amax(dim=-1)  # (T, B)
    assert diff[:t0].max() == 0.0
    # ... moves outputs t0 .. t0 + R - 1 of that sample, and none after the receptive field
    assert diff[t0, 1] > 0 and diff[t0 + R - 1, 1] > 0
    assert diff[t0 + R :, 1].max() == 0.0
    assert diff[:, [0, 2]].max() == 0.0


def test_changing_the_last_input_leaves_all_earlier_outputs():
    model = _trained_like(TCN(1278, 2, depth=2, width=4, kernel_size_first=9, kernel_size=3))
    x = (torch.rand(60, 2, 1278) < 0.01).float()
    y0, _ = model(x)
    x[-1] = 1.0 - x[-1]  # every input at the last step
    y1, _ = model(x)
    torch.testing.assert_close(y1[:-1], y0[:-1], rtol=0, atol=0)
    assert not torch.equal(y1[-1], y0[-1])


def test_shapes_batch_first_and_errors():
    model = TCN(10, 3, depth=2, width=4, kernel_size_first=3, kernel_size=2)
    y, _ = model(torch.rand(11, 2, 10))
    assert y.shape == (11, 2, 3)
    bf = TCN(10, 3, depth=2, width=4, kernel_size_first=3, kernel_size=2, batch_first=True)
    bf.load_state_dict(model.state_dict())
    x = torch.rand(2, 11, 10)
    model.eval(), bf.eval()
    torch.testing.assert_close(bf(x)[0], model(x.transpose(0, 1))[0].transpose(0, 1))
    # one step is a valid sequence (zero padding before it)
    assert model(torch.rand(1, 2, 10))[0].shape == (1, 2, 3)
    y.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    with pytest.raises(ValueError, match=r"x: expected a \(T, B, I\) tensor with I = 10"):
        model(torch.rand(5, 2, 9))
    with pytest.raises(ValueError, match="state"):
        model(torch.rand(5, 2, 10), state=torch.zeros(1))
    with pytest.raises(ValueError, match="depth"):
        TCN(10, 2, depth=0)
    with pytest.raises(ValueError, match="kernel_size_first"):
        TCN(10, 2, kernel_size_first=0)


def test_paper_scale_parameter_count():
    """7 layers x 128, kernels 45 / 19 (153 ms), 1278 inputs, 2 heads: 9,232,002."""
    model = beniaguev_l5pc_tcn()
    assert model.receptive_field == 153
    first = 1278 * 45 * 128 + 128
    later = 6 * (128 * 19 * 128 + 128)
    norms = 7 * 2 * 128
    heads = 2 * (128 + 1)
    assert count_parameters(model) == first + later + norms + heads == 9_232_002
    # the task builds it from the paper preset
    cfg = resolve_config("neuronio", "tcn", "paper", data_root="x")
    assert (cfg.tcn_depth, cfg.tcn_width, cfg.tcn_kernel_first, cfg.tcn_kernel) == tuple(
        PAPER_TCN.values()
    )
    small = resolve_config("neuronio", "tcn", "quick", data_root="x")
    built = get_task("neuronio").build_model(small, 1278, 2, 500)
    assert count_parameters(built) == 1278 * 10 * 16 + 16 + 2 * (16 * 10 * 16 + 16) + 96 + 34
    assert count_parameters(built) == 209_778


def test_initialisation_follows_beniaguev():
    model = TCN(1278, 2, depth=2, width=128, kernel_size_first=5, kernel_size=3)
    conv = model.layers[0].conv
    assert conv.weight.abs().max() <= 0.004 and conv.bias.abs().max() == 0
    assert 0.0015 < float(conv.weight.detach().std()) < 0.0025
    torch.testing.assert_close(model.readout.bias, torch.tensor([-2.0, 0.0]))
    assert float(model.readout.weight[0].detach().abs().max()) <= 0.002


def test_config_checks_tcn_sizes():
    assert "tcn" in NEURONIO_MODELS
    with pytest.raises(ValueError, match="tcn_width: expected an integer >= 1"):
        resolve_config("neuronio", "tcn", "quick", data_root="x", tcn_width=0)
