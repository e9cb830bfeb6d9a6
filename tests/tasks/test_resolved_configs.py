"""Every configuration the command line can resolve is pinned.

``resolved_configs.json`` holds, for each preset x task x model (with ``--data-root``, and
with ``--synthetic`` where the task has a generator), the resolved :class:`RunConfig` as
``dataclasses.asdict`` gives it: the field defaults once (``"defaults"``) and each
configuration's differences from them. A refactor of the config or preset modules must leave
every one unchanged. After a deliberate change of a preset, rewrite the file with
``python tests/tasks/test_resolved_configs.py`` and say why in the commit.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from elm_snn.tasks.config import PRESETS, RunConfig
from elm_snn.tasks.presets import resolve_config
from elm_snn.tasks.registry import TASKS

PIN = Path(__file__).with_name("resolved_configs.json")


def _as_json(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists)."""
    return json.loads(json.dumps(value))


def resolved_configs() -> dict[str, dict[str, Any]]:
    """``"preset/task/model/source"`` -> ``dataclasses.asdict`` of the resolved config."""
    out: dict[str, dict[str, Any]] = {}
    for preset in PRESETS:
        for task, spec in TASKS.items():
            sources = {"data": {"data_root": "/data"}}
            if spec.synthetic:
                sources["synthetic"] = {"synthetic": True}
            for model in spec.models:
                for source, where in sources.items():
                    cfg = resolve_config(task, model, preset, **where)
                    out[f"{preset}/{task}/{model}/{source}"] = _as_json(dataclasses.asdict(cfg))
    return out


def _field_defaults() -> dict[str, Any]:
    fields = dataclasses.fields(RunConfig)
    return _as_json({f.name: f.default for f in fields if f.name not in ("task", "model")})


def test_every_resolved_config_is_pinned() -> None:
    pin = json.loads(PIN.read_text())
    defaults, pinned = pin["defaults"], pin["configs"]
    assert _field_defaults() == defaults
    now = resolved_configs()
    assert sorted(now) == sorted(pinned)
    for key, cfg in now.items():
        assert cfg == {**defaults, **pinned[key]}, key


def _write_pin() -> None:
    defaults = _field_defaults()
    configs = {
        key: {k: v for k, v in cfg.items() if k not in defaults or defaults[k] != v}
        for key, cfg in resolved_configs().items()
    }
    text = json.dumps({"defaults": defaults, "configs": configs}, indent=1, sort_keys=True)
    PIN.write_text(text + "\n")


if __name__ == "__main__":
    _write_pin()
