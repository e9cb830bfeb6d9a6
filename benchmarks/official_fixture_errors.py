"""Print the largest deviation from every official golden fixture, per backend.

Usage: python benchmarks/official_fixture_errors.py [FIXTURES_DIR]
(default: $ELM_SNN_FIXTURES or ../shared/fixtures/official_elm beside the repository).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

from elm_snn.compat.official import from_official, neuronio_eval_transform

VERSIONS = {
    "v1_random_small": "v1",
    "v2_random_small": "v2",
    "v1_random_small_routing": "v1",
    "best_elm_neuron": "v1",
    "num_memory_1": "v1",
}
OURS_TO_OFFICIAL = {"w_s_raw": "_proto_w_s", "tau_m_raw": "_proto_tau_m"}


def _default_dir() -> Path:
    env = os.environ.get("ELM_SNN_FIXTURES")
    root = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "fixtures"
    return root / "official_elm" if (root / "official_elm").is_dir() else root


def errors_for(folder: Path, name: str, backend: str) -> dict[str, float]:
    meta = json.loads((folder / f"{name}.json").read_text())
    config = meta.get("constructor_args", meta)
    data = dict(np.load(folder / f"{name}.npz"))
    sd = {k[6:]: torch.from_numpy(v) for k, v in data.items() if k.startswith("param:")}
    model = from_official(config, sd, VERSIONS[name]).double()
    model.backend = backend
    x = torch.from_numpy(data["X"])
    y, _ = model(x)
    yd = y.detach()
    out = {
        "y_forward": float((yd - torch.from_numpy(data["y_forward"])).abs().max()),
        "y_eval": float(
            (neuronio_eval_transform(y) - torch.from_numpy(data["y_eval"])).abs().max()
        ),
    }
    y.sum().backward()
    grad_err = 0.0
    for pname, p in model.named_parameters():
        off = OURS_TO_OFFICIAL.get(pname) or pname.replace("mlp.", "mlp.network.").replace(
            "readout.", "w_y."
        )
        ref = data[f"grad:{off}"]
        grad_err = max(
            grad_err, float((p.grad - torch.from_numpy(ref)).abs().max() / np.abs(ref).max())
        )
    out["grad_rel"] = grad_err
    with torch.no_grad():
        _, _, rec = model(x, return_states=True)
    out["rec:m"] = float((rec.memory - torch.from_numpy(data["rec:m"])).abs().max())
    if "X_active" in data:
        with torch.no_grad():
            ya, _ = model(torch.from_numpy(data["X_active"]))
        out["y_forward_active"] = float(
            (ya - torch.from_numpy(data["y_forward_active"])).abs().max()
        )
    m32 = from_official(config, sd, VERSIONS[name])
    m32.backend = backend
    with torch.no_grad():
        y32, _ = m32(x.float())
    out["f32_vs_f64"] = float((y32.double() - torch.from_numpy(data["y_forward"])).abs().max())
    return out


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else _default_dir()
    for backend in ("reference", "auto"):
        print(f"backend={backend}")
        for name in VERSIONS:
            errs = errors_for(folder, name, backend)
            print(f"  {name:26s} " + "  ".join(f"{k}={v:.1e}" for k, v in errs.items()))


if __name__ == "__main__":
    main()
