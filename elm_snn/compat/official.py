"""Load models and checkpoints of the official ELM code (AaronSpieler/elmneuron).

The official constructor's keyword names (as stored in its ``model_config.json``) and
state-dict keys are mapped onto :class:`elm_snn.ELM`. Two versions exist:

* ``"v1"`` (``src/expressive_leaky_memory_neuron.py``, the paper's equations and all
  published checkpoints): per-synapse traces, memory gain ``lambda * (1 - kappa_m)``.
* ``"v2"`` (``src/expressive_leaky_memory_neuron_v2.py``): per-branch traces ``tau_b``,
  memory gain ``1 - exp(-dt lambda / tau_m)``; ``memory_tau_max`` raised to at least
  ``memory_tau_min + 3e-6``.

Checkpoints are read with ``torch.load(..., weights_only=True)``: no arbitrary code runs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..neurons.elm import ELM

__all__ = [
    "OFFICIAL_CONFIG_KEYS",
    "evaluate_official_checkpoint",
    "from_official",
    "load_official_checkpoint",
    "neuronio_eval_transform",
    "to_official_state_dict",
]

#: Keyword arguments of the official constructors (v1 uses tau_s_value, v2 tau_b_value).
OFFICIAL_CONFIG_KEYS: dict[str, frozenset[str]] = {
    version: frozenset(
        {
            "num_input",
            "num_output",
            "num_memory",
            "lambda_value",
            "mlp_num_layers",
            "mlp_hidden_size",
            "mlp_activation",
            "memory_tau_min",
            "memory_tau_max",
            "learn_memory_tau",
            "w_s_value",
            "num_branch",
            "num_synapse_per_branch",
            "input_to_synapse_routing",
            "delta_t",
            trace_key,
        }
    )
    for version, trace_key in (("v1", "tau_s_value"), ("v2", "tau_b_value"))
}

#: Default values of the official constructor.
_OFFICIAL_DEFAULTS: dict[str, Any] = {
    "num_memory": 100,
    "lambda_value": 5.0,
    "mlp_num_layers": 1,
    "mlp_hidden_size": None,
    "mlp_activation": "relu",
    "tau_s_value": 5.0,
    "tau_b_value": 5.0,
    "memory_tau_min": 1.0,
    "memory_tau_max": 1000.0,
    "learn_memory_tau": False,
    "w_s_value": 0.5,
    "num_branch": None,
    "num_synapse_per_branch": 1,
    "input_to_synapse_routing": None,
    "delta_t": 1.0,
}

_ROUTINGS = {None: None, "neuronio_routing": "neuronio", "random_routing": "random"}


def _check_version(version: str) -> None:
    if version not in OFFICIAL_CONFIG_KEYS:
        raise ValueError(f"version: expected 'v1' or 'v2', got {version!r}")


def _translate_config(config: Mapping[str, Any], version: str) -> tuple[dict[str, Any], dict]:
    """Official constructor kwargs -> (our ELM kwargs, resolved official config)."""
    if not isinstance(config, Mapping):
        raise TypeError(f"config: expected a mapping, got {type(config).__name__}")
    unknown = sorted(set(config) - OFFICIAL_CONFIG_KEYS[version])
    if unknown:
        raise ValueError(
            f"config: key(s) {unknown} are not arguments of the official {version} ELM "
            f"constructor; expected a subset of {sorted(OFFICIAL_CONFIG_KEYS[version])}"
        )
    for required in ("num_input", "num_output"):
        if required not in config:
            raise ValueError(f"config: the official constructor requires {required!r}")
    cfg = {**_OFFICIAL_DEFAULTS, **config}
    routing = cfg["input_to_synapse_routing"]
    if routing not in _ROUTINGS:
        raise ValueError(
            f"config['input_to_synapse_routing']: expected one of {list(_ROUTINGS)}, got "
            f"{routing!r}"
        )
    num_input = cfg["num_input"]
    num_branch = num_input if cfg["num_branch"] is None else cfg["num_branch"]
    tau_min, tau_max = float(cfg["memory_tau_min"]), float(cfg["memory_tau_max"])
    if version == "v2":
        tau_max = max(tau_min + 3e-6, tau_max)
    kwargs: dict[str, Any] = dict(
        num_inputs=num_input,
        num_memory=cfg["num_memory"],
        num_outputs=cfg["num_output"],
        num_branches=num_branch,
        synapses_per_branch=cfg["num_synapse_per_branch"],
        mlp_hidden_size=cfg["mlp_hidden_size"] or None,
        mlp_num_layers=cfg["mlp_num_layers"],
        mlp_activation=cfg["mlp_activation"],
        lambda_value=cfg["lambda_value"],
        tau_m_min=tau_min,
        tau_m_max=tau_max,
        learn_tau_m=cfg["learn_memory_tau"],
        tau_s=cfg["tau_s_value" if version == "v1" else "tau_b_value"],
        w_s_init=cfg["w_s_value"],
        dt=cfg["delta_t"],
        memory_update="paper" if version == "v1" else "stable",
        trace_mode="synapse" if version == "v1" else "branch",
    )
    return kwargs, cfg


def _as_tensor(name: str, value: Any) -> Tensor:
    if isinstance(value, Tensor):
        return value.detach().cpu()
    try:
        return torch.as_tensor(value)
    except Exception as err:  # noqa: BLE001 - re-raised with context
        raise TypeError(
            f"state_dict[{name!r}]: expected a tensor, got {type(value).__name__}"
        ) from err


def _translate_state_dict(
    state_dict: Mapping[str, Any], version: str, has_routing: bool
) -> dict[str, Tensor]:
    trace_key = "tau_s" if version == "v1" else "tau_b"
    out: dict[str, Tensor] = {}
    seen = set()
    for key, value in state_dict.items():
        tensor = _as_tensor(key, value)
        if key == "_proto_w_s":
            out["w_s_raw"] = tensor
        elif key == trace_key:
            out["tau_s"] = tensor
        elif key == "_proto_tau_m":
            out["tau_m_raw"] = tensor
        elif key.startswith("mlp.network."):
            out["mlp." + key[len("mlp.network.") :]] = tensor
        elif key.startswith("w_y."):
            out["readout." + key[len("w_y.") :]] = tensor
        elif key == "input_to_synapse_indices":
            if has_routing:
                out["synapse_index"] = tensor.to(torch.int64)
        elif key == "valid_indices_mask":
            if has_routing:
                out["synapse_mask"] = tensor.to(torch.float32)
        else:
            raise ValueError(
                f"state_dict: unexpected key {key!r} for an official {version} ELM (the other "
                f"version keeps {'tau_b' if version == 'v1' else 'tau_s'}; check `version`)"
            )
        seen.add(key)
    required = {"_proto_w_s", trace_key, "_proto_tau_m", "w_y.weight"}
    missing = sorted(required - seen)
    if missing:
        raise ValueError(f"state_dict: missing official {version} key(s) {missing}")
    return out


def from_official(
    config: Mapping[str, Any], state_dict: Mapping[str, Any], version: str = "v1"
) -> ELM:
    """Build an :class:`~elm_snn.ELM` equal to the official model with these weights.

    Args:
        config: the official constructor's keyword arguments (``model_config.json``).
        state_dict: the official state dict (key names as in the official class).
        version: ``"v1"`` (all published checkpoints) or ``"v2"``.

    Returns:
        An :class:`~elm_snn.ELM` with ``batch_first=True`` whose ``model(X)`` with ``X``
        ``(B, T, num_input)`` returns ``(Y, state)``, ``Y`` equal to the official
        ``forward(X)`` ``(B, T, num_output)``. Parameters keep the checkpoint's dtype
        (float32); call ``.double()`` for float64 evaluation.
    """
    _check_version(version)
    kwargs, cfg = _translate_config(config, version)
    routing = cfg["input_to_synapse_routing"]
    ours = _translate_state_dict(state_dict, version, has_routing=routing is not None)
    if routing == "random_routing":
        if "synapse_index" not in ours:
            raise ValueError(
                "state_dict: random routing needs 'input_to_synapse_indices' (drawn at "
                "construction by the official code)"
            )
        kwargs["routing"] = ours["synapse_index"]
        kwargs["routing_mask"] = ours.get("synapse_mask")
    else:
        kwargs["routing"] = _ROUTINGS[routing]
    model = ELM(batch_first=True, **kwargs)
    expected = model.state_dict()
    for key, tensor in ours.items():
        if key not in expected:
            raise ValueError(f"state_dict: key {key!r} has no counterpart in the model")
        if tuple(tensor.shape) != tuple(expected[key].shape):
            raise ValueError(
                f"state_dict: {key!r} has shape {tuple(tensor.shape)}, but the config gives "
                f"{tuple(expected[key].shape)}"
            )
    if "synapse_index" in ours and not torch.equal(
        ours["synapse_index"], expected["synapse_index"]
    ):
        raise ValueError(
            "state_dict: 'input_to_synapse_indices' differs from the routing the config "
            "describes; refusing to load a model whose wiring would silently change"
        )
    # Keep the checkpoint's dtype: load into a model of that dtype.
    dtype = ours["readout.weight"].dtype if "readout.weight" in ours else torch.float32
    if dtype.is_floating_point:
        model = model.to(dtype)
    model.load_state_dict(ours, strict=True)
    return model


def to_official_state_dict(model: ELM, version: str = "v1") -> dict[str, Tensor]:
    """Inverse of :func:`from_official`'s key mapping (for exporting weights)."""
    _check_version(version)
    trace_key = "tau_s" if version == "v1" else "tau_b"
    out: dict[str, Tensor] = {}
    for key, tensor in model.state_dict().items():
        if key == "w_s_raw":
            out["_proto_w_s"] = tensor
        elif key == "tau_s":
            out[trace_key] = tensor
        elif key == "tau_m_raw":
            out["_proto_tau_m"] = tensor
        elif key.startswith("mlp."):
            out["mlp.network." + key[4:]] = tensor
        elif key.startswith("readout."):
            out["w_y." + key[8:]] = tensor
        elif key == "synapse_index":
            out["input_to_synapse_indices"] = tensor
        elif key == "synapse_mask":
            out["valid_indices_mask"] = tensor.to(torch.bool)
    return out


def neuronio_eval_transform(y: Tensor, soma_scale: float = 0.1) -> Tensor:
    """The official NeuronIO evaluation transform of raw outputs ``(..., >=2)``.

    Channel 0 (spike logit) -> ``sigmoid``: spike probability; channel 1 (scaled soma
    voltage) -> ``/ soma_scale``: mV relative to the -67.7 mV training bias. Further
    channels are dropped. Returns ``(..., 2)``.
    """
    if y.shape[-1] < 2:
        raise ValueError(f"y: expected at least 2 output channels, got shape {tuple(y.shape)}")
    return torch.stack([torch.sigmoid(y[..., 0]), y[..., 1] / soma_scale], dim=-1)


def load_official_checkpoint(
    model_dir: str | os.PathLike, version: str = "v1", map_location: str = "cpu"
) -> ELM:
    """Load an official model folder (``model_config.json`` + ``neuronio_best_model_state.pt``).

    The state dict is read with ``torch.load(..., weights_only=True)``.

    Raises:
        FileNotFoundError: the folder or one of the two files is missing.
    """
    folder = Path(model_dir)
    config_path = folder / "model_config.json"
    weights_path = folder / "neuronio_best_model_state.pt"
    for path in (config_path, weights_path):
        if not path.is_file():
            raise FileNotFoundError(
                f"model_dir: expected {path.name} in {folder} (an official model folder "
                f"from the authors' repository, models/<name>/), but it is missing"
            )
    with open(config_path, encoding="utf-8") as fh:
        config = json.load(fh)
    from elm_snn._safe_torch import load_weights_only

    # one-line errors naming the file and any refused global (never "weights_only=False")
    state_dict = load_weights_only(weights_path, "official checkpoint")
    if map_location != "cpu" and isinstance(state_dict, Mapping):
        state_dict = {
            k: v.to(map_location) if isinstance(v, Tensor) else v for k, v in state_dict.items()
        }
    return from_official(config, state_dict, version=version)


def evaluate_official_checkpoint(
    model_dir: str | os.PathLike,
    data_root: str | os.PathLike,
    *,
    protocol: str = "official",
    version: str = "v1",
    device: str = "cpu",
    sims_per_call: int = 8,
) -> dict[str, Any]:
    """Evaluate an official model folder on NeuronIO files with the official protocol.

    Loads the folder with :func:`load_official_checkpoint` (weights-only) and runs
    :func:`elm_snn.data.neuronio_eval.evaluate_neuronio` on every simulation of the NeuronIO
    files in ``data_root`` (e.g. the official test folder): 500 ms windows every 350 ms,
    stitched, first 500 ms ignored, and with ``protocol="official"`` the 0-24 spike filter
    and the per-file voltage rescaling of the authors' evaluation.

    Args:
        model_dir: official model folder (``model_config.json`` +
            ``neuronio_best_model_state.pt``).
        data_root: folder (or file) of NeuronIO files (pickle or elm-snn compact).
        protocol: ``"official"`` or ``"plain"``.
        version: ``"v1"`` (every published checkpoint) or ``"v2"``.
        device: where the model runs.
        sims_per_call: simulations per model call (memory).

    Returns:
        ``{"model_dir", "data_root", "protocol", "num_parameters", "num_simulations",
        "num_kept", "num_spikes_scored", "test_auc", ...}`` (elm-snn names, as in
        ``metrics.json``) plus ``"test_results"``: the same metrics under the official keys,
        the layout of the authors' ``eval_results.json``.
    """
    from elm_snn.data.neuronio_datasets import load_neuronio_files
    from elm_snn.data.neuronio_eval import evaluate_neuronio
    from elm_snn.metrics import from_official_names

    model = load_official_checkpoint(model_dir, version=version).to(device).eval()
    files = load_neuronio_files(data_root)
    if not files:
        raise FileNotFoundError(f"data_root: no NeuronIO files in {os.fspath(data_root)!r}")
    if files[0].num_inputs != model.num_inputs:
        raise ValueError(
            f"data_root: the model in {os.fspath(model_dir)!r} takes {model.num_inputs} inputs "
            f"(2 x {model.num_inputs // 2} segments), but the NeuronIO files in "
            f"{os.fspath(data_root)!r} have {files[0].num_inputs} (2 x {files[0].num_segments})"
        )

    def run(x: Tensor) -> Tensor:
        y, _ = model(x.transpose(0, 1))  # the official model is batch-first
        return y.transpose(0, 1)

    ev = evaluate_neuronio(
        run, files, protocol=protocol, outputs="raw", device=device, sims_per_call=sims_per_call
    )
    return {
        "model_dir": os.fspath(model_dir),
        "data_root": os.fspath(data_root),
        "protocol": protocol,
        "num_parameters": int(sum(p.numel() for p in model.parameters() if p.requires_grad)),
        "num_simulations": ev.num_simulations,
        "num_kept": ev.num_kept,
        "num_spikes_scored": ev.num_spikes_scored,
        **from_official_names(ev.metrics, prefix="test_"),
        "test_results": dict(sorted(ev.metrics.items())),
    }
