"""One home per default: the SHD paper preset is RunConfig's defaults, layer-level settings
come from the ELM layer's signature, and the documented values stay what they were."""

from __future__ import annotations

import dataclasses
import inspect

from elm_snn.neurons.elm import ELMCore
from elm_snn.tasks import presets
from elm_snn.tasks.config import RunConfig
from elm_snn.tasks.presets import resolve_config

_FIELD_DEFAULTS = {f.name: f.default for f in dataclasses.fields(RunConfig)}


def test_shd_paper_preset_is_the_runconfig_defaults() -> None:
    assert presets._SHD_PAPER  # not empty: the preset names what the paper sets
    for key, value in presets._SHD_PAPER.items():
        assert value == _FIELD_DEFAULTS[key], key
    direct = RunConfig(task="shd-adding", model="elm", data_root="/x").to_dict()
    resolved = resolve_config("shd-adding", "elm", "paper", data_root="/x").to_dict()
    assert direct == resolved


def test_layer_level_settings_read_the_layer() -> None:
    layer = inspect.signature(ELMCore.__init__).parameters
    for name in ("tau_s", "memory_update", "mlp_num_layers", "mlp_hidden_size"):
        assert _FIELD_DEFAULTS[name] == layer[name].default, name
        for preset in ("paper", "quick"):  # no SHD or NeuronIO preset sets them
            for task in ("shd", "shd-adding", "neuronio"):
                assert name not in presets._PRESET_TABLE[(preset, task)], (preset, task, name)


def test_documented_values_unchanged() -> None:
    shd = resolve_config("shd", "elm", "paper", data_root="/x")
    assert (shd.tau_m_min, shd.tau_m_max, shd.tau_m_init) == (0.0, 1000.0, (1.0, 150.0))
    assert (shd.lr, shd.batch_size, shd.max_epochs, shd.optimizer) == (5e-3, 8, 70, "adamax")
    assert (shd.tau_s, shd.memory_update, shd.lambda_value) == (5.0, "paper", 5.0)
    nio = resolve_config("neuronio", "elm", "paper", data_root="/x")
    assert (nio.tau_m_min, nio.tau_m_max, nio.tau_m_init_spacing) == (1.0, 150.0, "log")
    assert (nio.lr, nio.num_memory, nio.learn_tau_m) == (5e-4, 20, False)


def test_task_families_own_disjoint_settings() -> None:
    from elm_snn.tasks import registry

    families = (registry.SHD_SETTINGS, registry.NEURONIO_SETTINGS, registry.LRA_SETTINGS)
    owned = [name for family in families for name in family]
    assert len(owned) == len(set(owned))  # no field belongs to two families
    assert set(owned) <= set(_FIELD_DEFAULTS)
    for spec in registry.TASKS.values():
        assert spec.settings in families, spec.name


def test_shd_readouts_are_the_aggregations() -> None:
    from elm_snn.networks.readout import AGGREGATIONS
    from elm_snn.tasks.registry import SHD_READOUTS

    assert SHD_READOUTS == AGGREGATIONS
