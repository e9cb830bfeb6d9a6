"""The device-agnostic fused path (PyTorch loops, optional CUDA-graph capture), on CPU.

The loops a GPU runs are the pure-PyTorch loops tested here on CPU tensors in float64
against the reference. The capture's bookkeeping (cache, copy in, replay, copy out) is
tested with a stand-in recorder, since no GPU is needed (or assumed) in CI.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from test_fused import CONFIGS, _assert_same, _perturbed, _state

from elm_snn.kernels import _compiled, _device, fused_support, step_capture
from elm_snn.kernels._recurrence import _recurrence_forward_loop


def _spikes(model, steps: int = 11, batch: int = 3) -> torch.Tensor:
    gen = torch.Generator().manual_seed(9)
    shape = (steps, batch, model.num_inputs)
    return (torch.rand(shape, generator=gen) < 0.3).double()


class _LoopSpy:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.names: list[str] = []
        original = _device.run_loop

        def spy(name, loop, inputs, config=None):
            self.names.append(name)
            return original(name, loop, inputs, config)

        for module in ("elm_snn.kernels._recurrence", "elm_snn.kernels._scans"):
            monkeypatch.setattr(f"{module}.run_loop", spy)


@pytest.mark.parametrize("name", ["paper-default", "mlp0", "mlp2-silu", "stable-branch"])
def test_device_loops_match_reference_on_cpu(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Values and every gradient of the device path equal the reference (float64)."""
    model = _perturbed(CONFIGS[name])
    spy = _LoopSpy(monkeypatch)
    with _compiled.use_compiled(False), step_capture("cuda_graph"):  # no-op for CPU tensors
        _assert_same(model, _spikes(model), _state(model, 3))
    assert "rec_forward" in spy.names and "rec_backward" in spy.names


class _FakeRecorder:
    """Stands in for the CUDA graph: replay re-runs the loop into the static outputs."""

    def __init__(self) -> None:
        self.recorded = 0
        self.replayed = 0

    def __call__(self, loop, static_in, config):
        self.recorded += 1
        static_out = loop(*static_in, **config)

        def replay() -> None:
            self.replayed += 1
            for dst, src in zip(static_out, loop(*static_in, **config), strict=True):
                dst.copy_(src)

        return replay, static_out


def test_capture_records_once_per_shape_and_copies_inputs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recorder = _FakeRecorder()
    monkeypatch.setattr(_device, "_record", recorder)
    monkeypatch.setattr(
        _device, "_capturable", lambda device: _device.capture_mode() == "cuda_graph"
    )
    _device.clear_graphs()
    model = _perturbed(CONFIGS["mlp2-silu"])
    try:
        with _compiled.use_compiled(False):
            x = _spikes(model)
            with step_capture("cuda_graph"):
                _assert_same(model, x, _state(model, 3))
                _assert_same(model, 1 - x, None)  # same shapes: replayed with new inputs
                recorded = recorder.recorded
                _assert_same(model, _spikes(model, steps=5), None)  # new shape: recorded
            assert recorded == 4  # forward and backward loops of the recurrence and the scan
            assert recorder.recorded > recorded and recorder.replayed >= 3 * 4
    finally:
        _device.clear_graphs()


def test_capture_outputs_do_not_alias_the_static_buffers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_device, "_record", _FakeRecorder())
    monkeypatch.setattr(_device, "_capturable", lambda device: True)
    _device.clear_graphs()
    gen = torch.Generator().manual_seed(0)
    args = [
        torch.randn(6, 2, 3, generator=gen, dtype=torch.float64),
        torch.randn(2, 3, generator=gen, dtype=torch.float64),
        torch.rand(3, generator=gen, dtype=torch.float64),
        torch.rand(3, generator=gen, dtype=torch.float64),
        torch.randn(3, 3, generator=gen, dtype=torch.float64),
        None,
    ]
    config = {"relu": True, "num_hidden": 0}
    try:
        first = _device.run_loop("t", _recurrence_forward_loop, args, config)
        kept = [t.clone() for t in first]
        second = _device.run_loop("t", _recurrence_forward_loop, [2 * args[0], *args[1:]], config)
    finally:
        _device.clear_graphs()
    for a, b in zip(first, kept, strict=True):
        assert torch.equal(a, b)  # a later replay leaves earlier results alone
    direct = _recurrence_forward_loop(2 * args[0], *args[1:], **config)
    for a, b in zip(second, direct, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_step_capture_checks_its_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="mode: expected one of"):
        with step_capture("graphs"):
            pass
    monkeypatch.setenv("ELM_SNN_CAPTURE", "cuda_graph")
    assert _device.capture_mode() == "cuda_graph"
    with step_capture(None):
        monkeypatch.setenv("ELM_SNN_CAPTURE", "0")
        assert _device.capture_mode() is None
    monkeypatch.setenv("ELM_SNN_CAPTURE", "yes")
    with pytest.raises(ValueError, match="ELM_SNN_CAPTURE: expected one of"):
        _device.capture_mode()


@pytest.mark.parametrize("device", ["cuda", "xpu", "mps"])
def test_fused_support_accepts_accelerator_devices(device: str) -> None:
    weight = SimpleNamespace(dtype=torch.float32, device=torch.device(device))
    fn, reason = fused_support(SimpleNamespace(readout=SimpleNamespace(weight=weight)))
    assert fn is not None and reason is None
