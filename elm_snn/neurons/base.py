"""The stateful-layer protocol shared by every elm-snn layer, and :func:`reset`.

Every layer with hidden state (ELM, Branch-ELM, the LIF/ALIF neurons, the E/I SNN, the
LSTMs) derives from :class:`StatefulModule`, which holds everything that is not the layer's
equations:

* **State in, state out** (Norse and ``torch.nn.LSTM``): ``forward(x, state=None)`` returns
  ``(output, state)``; states are NamedTuples whose ``.to(...)`` moves every tensor.
* **State inside** (snnTorch): ``init_hidden=True`` keeps the final state in the module and
  the next call continues from it; the stored state is dropped when the batch size changes
  (a new batch is a new sequence). :meth:`~StatefulModule.reset_hidden` forgets it,
  :meth:`~StatefulModule.detach_hidden` cuts the graph for truncated BPTT.
* **Resets reach every layer**: :func:`reset` walks a module tree (ours and snnTorch's
  layers), and snnTorch's own ``snntorch.utils.reset(net)`` reaches our layers through
  snnTorch's mechanism. snnTorch finds neurons only by ``isinstance`` against its own
  classes (``snn.Leaky``, ``snn.Synaptic``, ...; plain classes, so no virtual subclass can be
  registered) and then resets, class by class, the instances in
  ``snntorch.SpikingNeuron.instances``. So subclassing ``snntorch.Leaky`` is the only way in,
  and :class:`StatefulModule` does, giving snnTorch what its reset and truncated-BPTT code
  read of a ``Leaky``: ``mem`` (zeros assigned forget the stored state; ``mem.detach_()``
  detaches it), ``reset_mem()``, ``init_hidden`` and ``output``; our layers register in
  snnTorch's list as weak references, so the list does not keep them alive. ``Leaky``'s
  neuron parameters (``beta``, ``threshold``, ``reset_mechanism``, ...) belong to its LIF
  equations, which our layers do not use: a layer has none of them unless it defines its
  own, so reading one raises an ``AttributeError`` (and ``snntorch.export_nir`` refuses the
  layer instead of exporting a wrong LIF). No ``__getattr__`` hook gives a custom message:
  it would slow every parameter access of every layer.
* **Checks and dtypes**: one input check (:func:`~elm_snn._validation.check_layer_input`),
  one state check (:meth:`~StatefulModule._check_state`), and one precision policy: under
  ``torch.autocast`` (CPU or CUDA, bfloat16 or float16) the input is cast to the
  parameters' dtype and the recurrence runs with autocast off (:func:`runs_in_parameter_dtype`),
  because a memory that decays over thousands of steps loses its slow components in
  bfloat16's 8-bit mantissa.
"""

from __future__ import annotations

import functools
import warnings
import weakref
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import snntorch
import torch
from torch import Tensor, nn

from .._validation import check_bool, check_layer_input, check_state_tensor, check_time_steps
from ..data.layout import check_frames_layout

__all__ = [
    "StatefulModule",
    "detach",
    "detach_state",
    "reset",
    "runs_in_parameter_dtype",
    "state_to",
]

_F = TypeVar("_F", bound=Callable[..., Any])


class _NotGiven:
    """Default of a cell's ``state`` argument: tells a snnTorch-style call ``cell(x)`` from
    a Norse-style call ``cell(x, state)`` (where ``state`` may be ``None``)."""

    def __repr__(self) -> str:
        return "<not given>"


#: the default of a cell's ``state`` (see :meth:`StatefulModule._step_result`)
NOT_GIVEN: Any = _NotGiven()


def detach_state(state: Any) -> Any:
    """Detach every tensor in a (possibly nested) tuple/NamedTuple/list/dict state."""
    return _map_tensors(state, lambda t: t.detach())


def state_to(state: Any, *args: Any, **kwargs: Any) -> Any:
    """``tensor.to(*args, **kwargs)`` on every tensor of a (nested) state; the state
    NamedTuples' ``.to`` method calls this."""
    return _map_tensors(state, lambda t: t.to(*args, **kwargs))


def _map_tensors(state: Any, fn: Callable[[Tensor], Tensor]) -> Any:
    if isinstance(state, Tensor):
        return fn(state)
    if isinstance(state, tuple) and hasattr(state, "_fields"):  # NamedTuple
        return type(state)(*(_map_tensors(s, fn) for s in state))
    if isinstance(state, (tuple, list)):
        return type(state)(_map_tensors(s, fn) for s in state)
    if isinstance(state, dict):
        return {k: _map_tensors(v, fn) for k, v in state.items()}
    return state


def _first_tensor(state: Any) -> Tensor | None:
    if isinstance(state, Tensor):
        return state
    if isinstance(state, (tuple, list)):
        for item in state:
            found = _first_tensor(item)
            if found is not None:
                return found
    return None


def _autocast_enabled(device_type: str) -> bool:
    """``torch.is_autocast_enabled(device_type)``, False for device types autocast does not
    know (``meta``: shape inference runs the layer as it is)."""
    try:
        return torch.is_autocast_enabled(device_type)
    except RuntimeError:
        return False


def runs_in_parameter_dtype(forward: _F) -> _F:
    """Decorate a layer's ``forward(x, state=None, ...)`` with the autocast policy.

    Outside autocast nothing changes (the input must then match the parameters' dtype).
    Inside ``torch.autocast`` for the input's device, the floating-point input and state
    are cast to the parameters' dtype (``self._param_dtype()``) and the layer runs with
    autocast disabled, so its recurrence is computed in float32 for float32 parameters;
    the output comes back in that dtype (the next autocast op casts it down again).
    ``functools.wraps`` keeps the signature visible, so Norse still sees the ``state``
    argument.
    """

    @functools.wraps(forward)
    def wrapper(self: Any, x: Any, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(x, Tensor) or not _autocast_enabled(x.device.type):
            return forward(self, x, *args, **kwargs)
        dtype = self._param_dtype()

        def cast(t: Tensor) -> Tensor:
            return t.to(dtype) if t.is_floating_point() else t

        with torch.autocast(x.device.type, enabled=False):
            args = tuple(_map_tensors(a, cast) for a in args)
            kwargs = {k: _map_tensors(v, cast) for k, v in kwargs.items()}
            return forward(self, cast(x), *args, **kwargs)

    return wrapper  # type: ignore[return-value]


class _StoredStateView(Tensor):
    """What :attr:`StatefulModule.mem` returns: a detached view of the first stored state
    tensor whose ``detach_()`` detaches the layer's whole stored state (snnTorch's truncated
    BPTT calls ``layer.mem.detach_()``). Every operation on it gives a plain tensor."""

    __torch_function__ = torch._C._disabled_torch_function_impl
    _owner: Any

    @staticmethod
    def of(tensor: Tensor, owner: StatefulModule) -> _StoredStateView:
        view = tensor.detach().as_subclass(_StoredStateView)
        view._owner = weakref.ref(owner)
        return view

    def detach_(self) -> _StoredStateView:  # type: ignore[override]
        owner = self._owner()
        if owner is not None:
            owner.detach_hidden()
        return self


#: attributes of ``snntorch.Leaky`` that belong to its LIF equations (set by its
#: ``__init__``, which elm-snn layers do not run): an elm-snn layer has them only where it
#: defines its own (the LIF neurons' ``threshold``, the spiking cells' ``spike_grad``);
#: reading another raises ``AttributeError`` (tests/compat/test_snntorch_contract.py)
LEAKY_NEURON_ATTRIBUTES = frozenset(
    {
        *("beta", "threshold", "reset_mechanism", "_reset_mechanism", "reset_mechanism_val"),
        *("spike_grad", "surrogate_disable", "graded_spikes_factor", "inhibition"),
        *("state_quant", "learn_beta", "learn_threshold"),
    }
)


def _forget_registration(proxy: Any) -> None:
    """Drop a dead layer's weak proxy from snnTorch's instance registry."""
    registry = snntorch.SpikingNeuron.instances
    for index in range(len(registry) - 1, -1, -1):
        if registry[index] is proxy:
            del registry[index]


class StatefulModule(snntorch.Leaky):
    """Base class of every elm-snn layer with hidden state (see the module docstring).

    Args:
        init_hidden: keep the state inside the module between calls (snnTorch's
            convention); a bool.

    Subclasses define their equations and, for the shared checks, ``_param_dtype()``,
    ``_state_type`` (the NamedTuple class of the state) and ``_state_widths()`` (the
    width of each state field, all ``(B, width)``). In ``forward`` they call
    :meth:`_sequence_input` (or :meth:`_step_input`), :meth:`_initial_state` and
    :meth:`_keep`.

    ``snntorch.Leaky`` is a base class only so that snnTorch's reset reaches the layer (the
    only way in: see the module docstring); its ``__init__`` is not run and none of its
    neuron equations are used. Of ``Leaky``'s attributes a layer has what snnTorch's reset
    and truncated BPTT read (``mem``, ``reset_mem()``, ``init_hidden``, ``output``); its
    neuron parameters (:data:`LEAKY_NEURON_ATTRIBUTES`) only where the layer defines its own.
    """

    _state_type: type | None = None
    #: snnTorch's ``output`` flag (cells that offer it set it: ``(y, mem)`` instead of ``y``)
    output: Any = False
    #: names of the state fields' axes for messages (default ``"(B, N)"`` for each field)
    _state_axes: tuple[str, ...] | None = None

    def __init__(self, init_hidden: bool = False) -> None:
        nn.Module.__init__(self)  # not Leaky.__init__: we only borrow snnTorch's reset
        self.init_hidden = check_bool("init_hidden", init_hidden)
        self._hidden: Any = None
        self._register_with_snntorch()

    # ------------------------------------------------------------------ snnTorch's reset
    def _register_with_snntorch(self) -> None:
        proxy = weakref.proxy(self)
        snntorch.SpikingNeuron.instances.append(proxy)
        weakref.finalize(self, _forget_registration, proxy).atexit = False

    @property
    def mem(self) -> Tensor:
        """snnTorch's state hook: the first stored state tensor (ELM: the memory ``(B, M)``;
        LIF/ALIF: the voltage ``(B, N)``), a detached view (an empty tensor without a stored
        state). Its ``detach_()``, which snnTorch's ``Leaky.detach_hidden()`` calls on every
        registered neuron, detaches the whole stored state (:meth:`detach_hidden`).
        Assigning zeros (what ``snntorch.utils.reset`` and ``reset_mem()`` do) forgets the
        stored state; other values are refused. The full state is :attr:`hidden`."""
        first = _first_tensor(self._hidden)
        if first is None:
            return torch.zeros(0)
        return _StoredStateView.of(first, self)

    @mem.setter
    def mem(self, value: Tensor) -> None:
        if not isinstance(value, Tensor) or (value.numel() > 0 and bool(value.any())):
            raise ValueError(
                "mem: elm-snn layers accept only zeros here (a reset, as snnTorch's "
                "reset_hidden/reset_mem assign); pass a state to forward instead"
            )
        self.reset_hidden()

    # ------------------------------------------------------------------ stored state
    @property
    def hidden(self) -> Any:
        """The stored hidden state (``None`` after :meth:`reset_hidden`)."""
        return self._hidden

    def _register_tensor(self, name: str, value: Tensor, learnable: bool) -> None:
        """Register ``value`` as a Parameter if ``learnable`` else as a buffer (snnTorch's
        habit), under the same name either way so state dicts stay interchangeable."""
        if learnable:
            self.register_parameter(name, nn.Parameter(value))
        else:
            self.register_buffer(name, value)

    def _apply(self, fn: Callable[[Tensor], Tensor], recurse: bool = True) -> Any:
        """``.to()``, ``.double()``, ``.cuda()``, ... move the stored state with the
        parameters (snnTorch keeps its state in buffers, which move too)."""
        result = super()._apply(fn, recurse)
        if self._hidden is not None:
            self._hidden = _map_tensors(self._hidden, fn)
        return result

    def _store_hidden(self, state: Any) -> None:
        self._hidden = state

    def reset_hidden(self) -> None:
        """Forget the stored state: the next call starts from the zero state."""
        self._hidden = None

    def detach_hidden(self) -> None:
        """Detach the stored state from the autograd graph (truncated BPTT)."""
        self._hidden = detach_state(self._hidden)

    def _initial_state(self, state: Any, batch: int, like: Tensor) -> Any:
        """The state a call starts from: ``state`` if given (checked), else the stored state
        with ``init_hidden`` unless the batch size changed, else ``None`` (zeros)."""
        if state is None and self.init_hidden:
            stored = _first_tensor(self._hidden)
            if stored is not None and stored.shape[0] == batch:
                state = self._hidden
        if state is None:
            return None
        return self._check_state(state, batch, like)

    def _step_result(self, y: Tensor, state: Any, state_given: bool) -> Any:
        """What a cell returns: ``(y, state)`` (Norse's call ``cell(x, state)``, or without
        ``init_hidden``); for snnTorch's call ``cell(x)`` with ``init_hidden=True`` only
        ``y``, or with the cell's ``output`` flag ``(y, mem)`` as snnTorch returns
        ``(spk, mem)``: ``mem`` the first state tensor (ELM memory, LIF voltage), the full
        state staying in :attr:`hidden`."""
        if self.init_hidden and not state_given:
            if getattr(self, "output", False) is True:
                return y, _first_tensor(state)
            return y
        return y, state

    def _call_result(self, result: tuple, state_given: bool) -> Any:
        """What a sequence layer returns for ``(y, final_state)`` (or with a record): only
        ``y`` for snnTorch's call ``layer(x)`` with ``init_hidden=True`` (the state stays
        inside, so the layer sits in an ``nn.Sequential``), else the tuple (Norse's call
        ``layer(x, state)``, or a record asked for)."""
        if self.init_hidden and not state_given and len(result) == 2:
            return result[0]
        return result

    def _keep(self, final: Any) -> None:
        """Store the final state with ``init_hidden`` (the next call continues from it)."""
        if self.init_hidden:
            self._store_hidden(final)

    # ------------------------------------------------------------------ checks
    def _param_dtype(self) -> torch.dtype:
        """The dtype of the layer's parameters (inputs must match it outside autocast)."""
        for p in self.parameters():
            if p.is_floating_point():
                return p.dtype
        for b in self.buffers():
            if b.is_floating_point():
                return b.dtype
        return torch.get_default_dtype()

    def _state_widths(self) -> Sequence[int]:
        raise NotImplementedError

    def _check_state(self, state: Any, batch: int, like: Tensor) -> Any:
        """Require a ``_state_type`` NamedTuple (or a plain tuple of its length) of
        ``(batch, width)`` tensors with ``like``'s dtype and device."""
        cls = self._state_type
        assert cls is not None, "subclasses set _state_type"
        fields = cls._fields  # type: ignore[attr-defined]
        if not isinstance(state, tuple) or len(state) != len(fields):
            names = ", ".join(fields)
            raise TypeError(
                f"state: expected a {cls.__name__}({names}) or a tuple ({names}), got "
                f"{type(state).__name__}"
                + (f" of length {len(state)}" if isinstance(state, tuple) else "")
            )
        axes = self._state_axes or ("(B, N)",) * len(fields)
        for field, value, width, axis in zip(
            fields, state, self._state_widths(), axes, strict=True
        ):
            check_state_tensor(f"state.{field}", value, (batch, width), like, axis)
        return cls(*state)

    def _warn_if_layout_swapped(self, name: str, x: Any, batch_first: bool) -> None:
        """With ``init_hidden``, a stored state of batch ``B`` and an input whose batch axis
        is not ``B`` but whose time axis is: most likely a batch in the other layout (the
        stored state would then be silently dropped as "a new batch"). Warn."""
        stored = _first_tensor(self._hidden) if self.init_hidden else None
        if stored is None or not isinstance(x, Tensor) or x.dim() != 3:
            return
        batch_dim, time_dim = (0, 1) if batch_first else (1, 0)
        b_stored = stored.shape[0]
        if x.shape[batch_dim] != b_stored and x.shape[time_dim] == b_stored:
            layout = "(B, T, C)" if batch_first else "(T, B, C)"
            warnings.warn(
                f"{name}: shape {tuple(x.shape)} read as {layout} has batch "
                f"{x.shape[batch_dim]}, but the stored state (init_hidden) has batch "
                f"{b_stored}, the size of this input's time axis: is the batch in the other "
                f"layout? (batch_first={batch_first}; the stored state is dropped and the "
                f"sequence starts from zeros)",
                UserWarning,
                stacklevel=4,
            )

    def _step_input(self, x: Any, num_features: int, name: str = "x_t") -> Tensor:
        """Check one time step ``(B, num_features)``."""
        x = check_frames_layout(name, x, batch_first=False, rank=2)
        return check_layer_input(
            name,
            x,
            rank=2,
            num_features=num_features,
            dtype=self._param_dtype(),
            axes="(B, num_inputs)",
        )

    def _sequence_input(self, x: Any, num_features: int, name: str = "x") -> Tensor:
        """Check a sequence and return it time-major ``(T, B, num_features)`` (transposed
        from ``(B, T, num_features)`` with ``batch_first``)."""
        batch_first = bool(getattr(self, "batch_first", False))
        x = check_frames_layout(name, x, batch_first=batch_first)
        self._warn_if_layout_swapped(name, x, batch_first)
        axes = "(B, T, num_inputs)" if batch_first else "(T, B, num_inputs)"
        check_layer_input(
            name, x, rank=3, num_features=num_features, dtype=self._param_dtype(), axes=axes
        )
        check_time_steps(name, x, 1 if batch_first else 0, axes)
        return x.transpose(0, 1) if batch_first else x

    # ------------------------------------------------------------------ pickling
    def __getstate__(self) -> dict:
        # Pickle the module without a live autograd graph hanging off the hidden state.
        state = self.__dict__.copy()
        state["_hidden"] = detach_state(state.get("_hidden"))
        return state

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        self._register_with_snntorch()  # copies and unpickled layers join snnTorch's reset


# snnTorch keeps hidden state in these buffers (names as of snnTorch 0.9-1.0).
_SNNTORCH_STATE_NAMES = ("mem", "syn", "spk", "c", "b", "h")


def _reset_snntorch_neuron(module: nn.Module) -> bool:
    if not isinstance(module, snntorch.SpikingNeuron):
        return False
    for name in _SNNTORCH_STATE_NAMES:
        value = module._buffers.get(name)
        if isinstance(value, Tensor):
            # zeros_like keeps snnTorch's lazily-broadcast shapes valid; detach drops the graph
            module._buffers[name] = torch.zeros_like(value).detach()
    return True


def reset(module: nn.Module) -> nn.Module:
    """Reset the hidden state of every stateful layer inside ``module`` (recursively).

    Handles elm-snn layers (:class:`StatefulModule`), snnTorch neurons (zeroing their
    membrane/synaptic state buffers) and any module with a ``reset_hidden()`` method
    that is an instance method. Unlike ``snntorch.utils.reset`` (which looks at the direct
    children and then resets every registered neuron of the types it saw, in any network),
    it touches only the layers inside ``module``. Returns ``module`` for chaining.
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module: expected a torch.nn.Module, got {type(module).__name__}")
    for sub in module.modules():
        if isinstance(sub, StatefulModule):
            sub.reset_hidden()
        elif _reset_snntorch_neuron(sub):
            continue
        else:
            method = getattr(type(sub), "reset_hidden", None)
            # snnTorch's reset_hidden is a classmethod acting on all instances: skip those
            if callable(method) and not isinstance(
                type(sub).__dict__.get("reset_hidden"), classmethod
            ):
                sub.reset_hidden()
    return module


def _detach_snntorch_neuron(module: nn.Module) -> bool:
    if not isinstance(module, snntorch.SpikingNeuron):
        return False
    for name in _SNNTORCH_STATE_NAMES:
        value = module._buffers.get(name)
        if isinstance(value, Tensor):
            module._buffers[name] = value.detach()
    return True


def detach(module: nn.Module) -> nn.Module:
    """Detach the stored hidden state of every stateful layer inside ``module`` from the
    autograd graph (truncated BPTT: call it between two chunks' ``backward()``).

    The state keeps its values (unlike :func:`reset`); only the graph behind it is cut.
    Handles elm-snn layers (:meth:`StatefulModule.detach_hidden`), snnTorch neurons (their
    state buffers) and any module with an instance method ``detach_hidden()``. snnTorch's
    own ``snntorch.Leaky.detach_hidden()`` (all registered neurons) reaches elm-snn layers
    too, through :attr:`StatefulModule.mem`. Returns ``module`` for chaining.
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module: expected a torch.nn.Module, got {type(module).__name__}")
    for sub in module.modules():
        if isinstance(sub, StatefulModule):
            sub.detach_hidden()
        elif _detach_snntorch_neuron(sub):
            continue
        else:
            method = getattr(type(sub), "detach_hidden", None)
            if callable(method) and not isinstance(
                type(sub).__dict__.get("detach_hidden"), classmethod
            ):
                sub.detach_hidden()
    return module
