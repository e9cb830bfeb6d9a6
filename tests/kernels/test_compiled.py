"""The compiled loops and the sparse front end give the reference's results; fallbacks work.

The compiled library is built at most once per session (and cached across sessions in
``elm_snn._io.cache_dir("kernels", ...)``); the failure tests build nothing.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from test_fused import CONFIGS, _assert_same, _inputs, _perturbed, _run_and_grad, _state

from elm_snn import ELMState
from elm_snn.functional import elm as F_elm
from elm_snn.kernels import _compiled, fused, fused_elm_sequence
from tests.conftest import fail_or_skip


def _assert_same_run(expected: tuple, got: tuple) -> None:
    """Two ``_run_and_grad`` results agree: outputs and final state to 1e-12, gradients to
    rtol 1e-10 (the same parameters get gradients in both)."""
    (y0, f0, g0), (y1, f1, g1) = expected, got
    torch.testing.assert_close(y1, y0, rtol=0, atol=1e-12)
    torch.testing.assert_close(f1.memory, f0.memory, rtol=0, atol=1e-12)
    torch.testing.assert_close(f1.trace, f0.trace, rtol=0, atol=1e-12)
    for a, b in zip(g0, g1, strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            torch.testing.assert_close(b, a, rtol=1e-10, atol=1e-12)


@pytest.fixture
def needs_compiled() -> None:
    """Skip (with the reason) when the compiled loops cannot be built here (builds them on
    first use); ``ELM_SNN_REQUIRE_COMPILED=1`` or ``ELM_SNN_STRICT=1`` (CI) make a missing
    or broken build fail instead."""
    if not _compiled.compiled_available():
        fail_or_skip(
            "the compiled loops could not be built (no C++ compiler, or ELM_SNN_COMPILED=0)",
            "ELM_SNN_REQUIRE_COMPILED",
        )


def _sparse_spikes(model, steps: int = 40, batch: int = 3, p: float = 0.03) -> torch.Tensor:
    gen = torch.Generator().manual_seed(7)
    shape = (steps, batch, model.num_inputs)
    spikes = (torch.rand(shape, generator=gen) < p).double()
    sign = torch.where(torch.arange(model.num_inputs) % 3 == 0, -1.0, 1.0).double()
    return spikes * sign


class _Spy:
    """Counts calls of the sparse front ends (``_SparseProject``, ``_SparseScanProject``)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        for cls in (fused._SparseProject, fused._SparseScanProject):
            monkeypatch.setattr(cls, "apply", self._counting(cls.apply))

    def _counting(self, original):
        def apply(*args):
            self.calls += 1
            return original(*args)

        return apply


@pytest.mark.usefixtures("needs_compiled")
@pytest.mark.parametrize(
    "name", ["paper-default", "neuronio-silu", "grouped-branch", "random", "stable-branch"]
)
@pytest.mark.parametrize("with_state", [False, True])
def test_sparse_front_end_matches_reference(
    name: str, with_state: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = _perturbed(CONFIGS[name])
    x = _sparse_spikes(model)
    assert 0 < (x != 0).double().mean() <= fused.SPARSE_MAX_DENSITY
    params = model.functional_parameters()
    spy = _Spy(monkeypatch)
    # x needing a gradient (dense input gradient) ...
    _assert_same(model, x, _state(model, x.shape[1]) if with_state else None)
    uses_sparse = not fused._is_diagonal(params, model.num_inputs) or (
        fused.front_end_strategy(params, model.num_inputs) == "folded"
    )
    assert (spy.calls > 0) == uses_sparse
    # ... and not (weight gradients only; the final trace from the nonzeros)
    state = _state(model, x.shape[1]) if with_state else None
    y0, f0, _ = F_elm.elm_sequence(x, state, model.functional_parameters())
    y1, f1, _ = fused_elm_sequence(x, state, model.functional_parameters())
    torch.testing.assert_close(y1, y0, rtol=0, atol=1e-10)
    torch.testing.assert_close(f1.trace, f0.trace, rtol=0, atol=1e-10)
    torch.testing.assert_close(f1.memory, f0.memory, rtol=0, atol=1e-10)
    g0 = torch.autograd.grad(y0.sum() + f0.trace.sum(), list(model.parameters()), allow_unused=True)
    g1 = torch.autograd.grad(y1.sum() + f1.trace.sum(), list(model.parameters()), allow_unused=True)
    for a, b in zip(g0, g1, strict=True):
        if a is None or b is None:
            assert (a is None or a.abs().max() == 0) and (b is None or b.abs().max() == 0)
            continue
        assert ((a - b).abs().max() / a.abs().max().clamp_min(1e-30)).item() <= 1e-8


@pytest.mark.usefixtures("needs_compiled")
def test_dense_and_zero_inputs_choose_the_right_front_end(monkeypatch: pytest.MonkeyPatch) -> None:
    model = _perturbed(CONFIGS["paper-default"])
    dense = _inputs(model, "dense", steps=11)
    assert fused._sparse_rows(dense) is None  # dense: plain matmul
    spikes = _inputs(model, "spikes", steps=11)  # 30 % spikes: above the threshold
    assert fused._sparse_rows(spikes) is None
    spy = _Spy(monkeypatch)
    _assert_same(model, dense, None)
    assert spy.calls == 0
    zeros = _inputs(model, "zeros", steps=11)
    rows = fused._sparse_rows(zeros)
    assert rows is not None and rows.val.numel() == 0
    _assert_same(model, zeros, _state(model, 3))
    assert spy.calls == 1


@pytest.mark.usefixtures("needs_compiled")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("batch_first", [False, True])
def test_sparse_rows_and_products_are_exact(dtype: torch.dtype, batch_first: bool) -> None:
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(13, 4, 37, generator=gen) < 0.04).to(dtype) * 2.5
    x[3, 1, 36] = -1.0  # a nonzero in the tail after the 16-wide blocks
    x[5, 2, 0] = -0.0  # negative zero counts as zero
    if batch_first:
        x = x.transpose(0, 1).contiguous().transpose(0, 1)
    rows = fused._sparse_rows(x)
    assert rows is not None
    dense = x.reshape(-1, 37) if not batch_first else x.contiguous().reshape(-1, 37)
    nz = dense.nonzero()
    assert rows.val.numel() == nz.shape[0]
    torch.testing.assert_close(rows.col, nz[:, 1])
    torch.testing.assert_close(rows.val, dense[nz[:, 0], nz[:, 1]])
    w = torch.randn(37, 6, generator=gen, dtype=dtype, requires_grad=True)
    out = fused._SparseProject.apply(x, w, rows)
    torch.testing.assert_close(out, x @ w)
    g = torch.randn(13, 4, 6, generator=gen, dtype=dtype)
    (grad_w,) = torch.autograd.grad(out, w, g)
    torch.testing.assert_close(grad_w, dense.t() @ g.reshape(-1, 6))
    too_dense = fused._sparse_rows(torch.ones(13, 4, 37, dtype=dtype))
    assert too_dense is None


@pytest.mark.usefixtures("needs_compiled")
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_compiled_loops_match_pure_pytorch_loops(name: str) -> None:
    model = _perturbed(CONFIGS[name])
    x = _sparse_spikes(model, steps=9)
    state = _state(model, x.shape[1])
    with _compiled.use_compiled(False):
        y0, f0, g0 = _run_and_grad(fused_elm_sequence, model, x, state)
    y1, f1, g1 = _run_and_grad(fused_elm_sequence, model, x, state)
    _assert_same_run((y0, f0, g0), (y1, f1, g1))


@pytest.mark.usefixtures("needs_compiled")
def test_compiled_float32_matches_pure_pytorch_float32() -> None:
    model = _perturbed(CONFIGS["neuronio-silu"]).float()
    x = _sparse_spikes(model, steps=30).float()
    params = model.functional_parameters()
    with _compiled.use_compiled(False):
        y0, _, _ = fused_elm_sequence(x, None, params)
    y1, _, _ = fused_elm_sequence(x, None, params)
    torch.testing.assert_close(y1, y0, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_pure_pytorch_fused_path_matches_reference(name: str) -> None:
    """The fallback (no compiler) keeps the reference's values and gradients."""
    model = _perturbed(CONFIGS[name])
    with _compiled.use_compiled(False):
        assert fused._ops_for(torch.zeros(1)) is None
        _assert_same(model, _sparse_spikes(model, steps=9), _state(model, 3))
        _assert_same(model, _inputs(model, "dense"), None)


@pytest.mark.parametrize("compiler", ["/nonexistent/elm-snn-c++", "false"])
def test_build_failure_warns_once_and_falls_back(
    compiler: str, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved = dict(_compiled._state)
    monkeypatch.setenv("CXX", compiler)
    monkeypatch.setenv("ELM_SNN_CACHE", str(tmp_path))
    monkeypatch.delenv("ELM_SNN_COMPILED", raising=False)
    _compiled._reset_for_tests()
    try:
        with pytest.warns(RuntimeWarning, match="pure-PyTorch fused kernel") as record:
            assert _compiled.compiled_ops() is None
        assert len(record) == 1
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no second warning
            assert _compiled.compiled_ops() is None
            model = _perturbed(CONFIGS["neuronio-silu"])
            _assert_same(model, _sparse_spikes(model, steps=6), None)
        assert not any(tmp_path.rglob("*.so"))  # nothing half-written left behind
    finally:
        _compiled._state.update(saved)


def test_disabled_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELM_SNN_COMPILED", "0")
    assert _compiled.compiled_ops() is None
    model = _perturbed(CONFIGS["paper-default"])
    y, final, _ = fused_elm_sequence(
        _sparse_spikes(model, steps=5), None, model.functional_parameters()
    )
    assert y.shape == (5, 3, model.num_outputs) and isinstance(final, ELMState)


@pytest.mark.usefixtures("needs_compiled")
@pytest.mark.parametrize(
    "name", ["paper-default", "neuronio-silu", "neuronio-branch-learn-taus", "mlp0-stable-nobias"]
)
def test_gradcheck_sparse_front_end(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    model = _perturbed(CONFIGS[name])
    x = _sparse_spikes(model, steps=6, batch=2, p=0.04)
    derived = model.functional_parameters()
    leaves = [
        derived.synapse_weight.detach().requires_grad_(True),
        derived.trace_decay.detach().requires_grad_(derived.trace_decay.requires_grad),
        derived.mlp_weights[0].detach().requires_grad_(True),
    ]
    if derived.mlp_biases[0] is not None:
        leaves.append(derived.mlp_biases[0].detach().requires_grad_(True))
    memory0, trace0 = (s.requires_grad_(True) for s in _state(model, 2))
    spy = _Spy(monkeypatch)

    def fn(memory0, trace0, *tensors):
        w_s, decay, w1 = tensors[:3]
        biases = (tensors[3], *derived.mlp_biases[1:]) if len(tensors) > 3 else derived.mlp_biases
        p = derived._replace(
            synapse_weight=w_s,
            trace_decay=decay,
            mlp_weights=(w1, *derived.mlp_weights[1:]),
            mlp_biases=biases,
        )
        y, final, _ = fused_elm_sequence(x, ELMState(memory0, trace0), p)
        return y, final.memory, final.trace

    assert torch.autograd.gradcheck(fn, (memory0, trace0, *leaves))
    assert spy.calls > 0


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("name", ["paper-default", "neuronio-silu", "mlp0"])
def test_non_finite_inputs_propagate_like_the_reference(
    compiled: bool, name: str, request: pytest.FixtureRequest
) -> None:
    if compiled:
        request.getfixturevalue("needs_compiled")
    model = _perturbed(CONFIGS[name])
    x = _sparse_spikes(model, steps=12)
    x[4, 1, 2] = float("nan")
    x[7, 0, 1] = float("inf")
    params = model.functional_parameters()
    with torch.no_grad(), _compiled.use_compiled(compiled):
        # the path under test is the one that runs: compiled loops or pure PyTorch
        assert (fused._ops_for(x) is not None) == compiled
        y1, f1, _ = fused_elm_sequence(x, None, params)
    with torch.no_grad():
        y0, f0, _ = F_elm.elm_sequence(x, None, params)
    assert y0.isnan().any()
    for ours, ref in ((y1, y0), (f1.memory, f0.memory), (f1.trace, f0.trace)):
        assert torch.equal(ours.isnan(), ref.isnan())
        assert torch.equal(ours.isinf(), ref.isinf())
        finite = torch.isfinite(ref)
        torch.testing.assert_close(ours[finite], ref[finite], rtol=0, atol=1e-10)


@pytest.mark.usefixtures("needs_compiled")
@pytest.mark.parametrize("name", ["paper-default", "neuronio-silu", "mlp2-silu", "grouped-branch"])
@pytest.mark.parametrize("batch", [1, 5])
def test_compiled_threads_match_one_thread(name: str, batch: int) -> None:
    """Batch blocks on two threads (recurrence, scans, sparse products, the nonzero pass)
    give one thread's values and gradients, and both the reference's."""
    model = _perturbed(CONFIGS[name])
    x = _sparse_spikes(model, steps=150, batch=batch)
    state = _state(model, batch)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        y1, f1, g1 = _run_and_grad(fused_elm_sequence, model, x, state)
        torch.set_num_threads(2)
        y2, f2, g2 = _run_and_grad(fused_elm_sequence, model, x, state)
    finally:
        torch.set_num_threads(before)
    _assert_same_run((y1, f1, g1), (y2, f2, g2))
    _assert_same(model, x, state)


@pytest.mark.usefixtures("needs_compiled")
def test_threaded_nonzero_pass_keeps_the_row_order() -> None:
    """The nonzero pass cut into row blocks on two threads gives one thread's CSR arrays,
    and still stops (returns None) on an input denser than the bound."""
    gen = torch.Generator().manual_seed(3)
    x = (torch.rand(300, 7, 50, generator=gen) < 0.02).double() * torch.randn(300, 7, 50)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = fused._sparse_rows(x)
        torch.set_num_threads(2)
        two = fused._sparse_rows(x)
        dense_half = x.clone()
        dense_half[150:] = 1.0  # only the second block is too dense
        assert fused._sparse_rows(dense_half) is None
    finally:
        torch.set_num_threads(before)
    assert one is not None and two is not None
    for a, b in zip(one[:3], two[:3], strict=True):
        assert torch.equal(a, b)
    rebuilt = torch.zeros(300 * 7, 50, dtype=torch.float64)
    rows = torch.repeat_interleave(torch.arange(300 * 7), one.row_ptr.diff())
    rebuilt[rows, one.col] = one.val
    assert torch.equal(rebuilt.view(300, 7, 50), x)


@pytest.mark.usefixtures("needs_compiled")
def test_worker_threads_flush_subnormals_like_the_caller() -> None:
    """The pool's threads take the caller's flush-to-zero setting (torch sets it per
    thread): a float32 scan decaying into subnormals gives the same zeros on every block."""
    from elm_snn.kernels import flush_denormals

    ops = _compiled.compiled_ops()
    steps, batch, width = 40, 4, 8
    u = torch.zeros(steps, batch, width)
    u[0] = 1e-30
    decay = torch.full((width,), 0.1)
    init = torch.zeros(batch, width)
    before = torch.get_num_threads()
    try:
        outs = {}
        for threads in (1, 2):
            torch.set_num_threads(threads)
            with flush_denormals():
                outs[threads] = ops.scan_forward(u, decay, init)
        torch.set_num_threads(2)
        unflushed = ops.scan_forward(u, decay, init)
    finally:
        torch.set_num_threads(before)
    tiny = torch.finfo(torch.float32).tiny
    # without flushing, subnormals in the rows of both blocks (the caller's and the worker's,
    # whatever setting the worker had when the pool was created)
    assert bool(((unflushed > 0) & (unflushed < tiny)).any(dim=2).any(dim=0).all())
    for out in outs.values():
        assert not bool(((out > 0) & (out < tiny)).any())  # none on any thread with it
    assert torch.equal(outs[2], outs[1])


def test_first_build_says_so_on_stderr(tmp_path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """What is built, why, where, how to skip it, how long it took: on stderr, once."""
    saved = dict(_compiled._state)
    monkeypatch.setenv("ELM_SNN_CACHE", str(tmp_path))
    monkeypatch.delenv("ELM_SNN_COMPILED", raising=False)
    built: list = []

    def fake_build(path, compiler):
        built.append(path)
        path.write_bytes(b"")

    monkeypatch.setattr(_compiled, "_build", fake_build)
    monkeypatch.setattr(torch.ops, "load_library", lambda path: None)
    _compiled._reset_for_tests()
    try:
        assert _compiled.compiled_ops() is not None
        err = capsys.readouterr().err
        assert "compiling the fused kernel's C++ loops once" in err
        assert str(tmp_path) in err and "ELM_SNN_COMPILED=0" in err
        assert "built in" in err and len(built) == 1
        _compiled._reset_for_tests()
        _compiled.compiled_ops()  # cached: silent
        assert capsys.readouterr().err == "" and len(built) == 1
    finally:
        _compiled._state.update(saved)


def test_failed_build_says_so_on_stderr(tmp_path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    saved = dict(_compiled._state)
    monkeypatch.setenv("CXX", "false")
    monkeypatch.setenv("ELM_SNN_CACHE", str(tmp_path))
    monkeypatch.delenv("ELM_SNN_COMPILED", raising=False)
    _compiled._reset_for_tests()
    try:
        with pytest.warns(RuntimeWarning, match="pure-PyTorch"):
            assert _compiled.compiled_ops() is None
        err = capsys.readouterr().err
        assert "compiling the fused kernel's C++ loops once" in err
        assert "the build failed after" in err
    finally:
        _compiled._state.update(saved)


@pytest.mark.usefixtures("needs_compiled")
@pytest.mark.parametrize("width", [200, 37])
def test_threaded_transposed_sparse_product_matches_one_thread(width: int) -> None:
    """``X^T @ G`` cut into column blocks on two threads (each summing into its own buffer)
    gives one thread's values bit for bit, and the dense product's."""
    gen = torch.Generator().manual_seed(5)
    x = (torch.rand(400, 6, 70, generator=gen) < 0.02).double() * torch.randn(400, 6, 70)
    grad = torch.randn(400 * 6, width, generator=gen, dtype=torch.float64)
    rows = fused._sparse_rows(x)
    assert rows is not None
    ops = _compiled.compiled_ops()
    before = torch.get_num_threads()
    try:
        out = {}
        for threads in (1, 2):
            torch.set_num_threads(threads)
            out[threads] = ops.csr_tmm(rows.row_ptr, rows.col, rows.val, grad, 70)
    finally:
        torch.set_num_threads(before)
    assert torch.equal(out[1], out[2])
    torch.testing.assert_close(out[2], x.reshape(-1, 70).t() @ grad, rtol=1e-12, atol=1e-12)


def _mkl_max_threads():
    """MKL's ``mkl_get_max_threads`` of torch's library, or None where torch has no MKL."""
    import ctypes
    from pathlib import Path

    libs = sorted((Path(torch.__file__).parent / "lib").glob("libtorch_cpu.*"))
    if not libs:
        return None
    try:
        return ctypes.CDLL(str(libs[0])).MKL_Get_Max_Threads
    except (OSError, AttributeError):
        return None


@pytest.mark.usefixtures("needs_compiled")
def test_threaded_loops_give_mkl_its_threads_back() -> None:
    """The batch blocks run MKL on one thread each, and the calling thread's MKL thread
    count is what it was afterwards (else torch's own matmuls would stay on one thread)."""
    mkl_max_threads = _mkl_max_threads()
    if mkl_max_threads is None:
        pytest.skip("this torch has no MKL")
    model = _perturbed(CONFIGS["paper-default"])
    x = _sparse_spikes(model, steps=50, batch=4)
    state = _state(model, 4)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert mkl_max_threads() == 2
        _run_and_grad(fused_elm_sequence, model, x, state)
        assert mkl_max_threads() == 2
    finally:
        torch.set_num_threads(before)
