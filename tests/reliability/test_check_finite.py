"""check_finite: always on CPU, a debug check (no host sync) on accelerator tensors."""

from __future__ import annotations

import pytest
import torch

from elm_snn import _validation
from elm_snn._validation import check_finite, debug_checks_enabled, set_debug_checks


@pytest.fixture(autouse=True)
def _restore_switch(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(_validation.DEBUG_CHECKS_ENV, raising=False)
    yield
    set_debug_checks(None)


def test_cpu_inputs_are_always_checked() -> None:
    x = torch.zeros(2, 3)
    x[1, 2] = float("nan")
    x[0, 0] = float("inf")
    with pytest.raises(ValueError, match="1 NaN and 1 inf"):
        check_finite("x", x)
    check_finite("x", torch.full((2, 3), 3e38))  # huge but finite: the sum overflows
    check_finite("x", torch.zeros(0, 3))


def test_accelerator_inputs_are_not_read_back_unless_debugging(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class OnAccelerator:
        """Stands in for a tensor on a GPU (none here): reading it back raises."""

        device = torch.device("cuda")

        def numel(self) -> int:
            return 20

        def sum(self) -> torch.Tensor:
            raise RuntimeError("read back from the accelerator")

    x = OnAccelerator()
    assert not debug_checks_enabled()
    check_finite("x", x)  # no read-back by default
    set_debug_checks(True)
    with pytest.raises(RuntimeError, match="read back"):
        check_finite("x", x)
    # meta tensors hold no values: never read, even when debugging (meta-device runs work)
    check_finite("m", torch.empty(4, 5, device="meta"))
    set_debug_checks(None)
    monkeypatch.setenv(_validation.DEBUG_CHECKS_ENV, "1")
    assert debug_checks_enabled()
    set_debug_checks(False)
    assert not debug_checks_enabled()
    check_finite("x", x)
    with pytest.raises(TypeError, match="enabled"):
        set_debug_checks(1)  # type: ignore[arg-type]
