"""Collect the long-horizon SHD-Adding grid into this folder: results.csv / results.md / the
accuracy-vs-bin-size plot (``elm_snn.train.grid.write_results``) and run_info.json
(command, commit, machine, CPU time, split sizes, generator parameters).

The grid was made by several ``elm-snn compare`` calls into one folder (one per product of
models x bin sizes x seeds, see results.md); this script reads every *finished* run folder
there (``metrics.json`` present), so unfinished points are simply absent.

Usage: ``python docs/results/shd-adding-long-horizon/collect.py GRID_DIR OUT_DIR "COMMANDS"``
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def _protocol_link(out: Path) -> str:
    """Relative link from ``out`` to ``docs/results/protocol.md``."""
    import os

    protocol = Path(__file__).resolve().parents[1] / "protocol.md"
    return Path(os.path.relpath(protocol, out.resolve())).as_posix()


def main(grid: Path, out: Path, command: str) -> None:
    from elm_snn.tasks.config import RunConfig
    from elm_snn.train.grid import write_results
    from elm_snn.train.provenance import compare_run_info, write_run_info

    rows, configs, commits, last_written = [], [], set(), 0.0
    for run in sorted(p for p in grid.iterdir() if (p / "metrics.json").is_file()):
        last_written = max(last_written, (run / "metrics.json").stat().st_mtime)
        metrics = json.loads((run / "metrics.json").read_text())
        rows.append(metrics)
        configs.append(RunConfig.from_dict(json.loads((run / "config.json").read_text())))
        commits.add(metrics.get("git_commit"))
    if not rows:
        raise SystemExit(f"no finished run in {grid}")
    out.mkdir(parents=True, exist_ok=True)
    write_results(rows, out, "test_accuracy", 1 / 19, title="shd-adding, long horizons")
    commit = commits.pop() if len(commits) == 1 else ", ".join(sorted(map(str, commits)))
    overrides = {
        k: v
        for k, v in configs[0].to_dict().items()
        if k in ("readout", "validation_split", "validation_fraction", "val_samples",
                 "test_samples", "train_samples_per_epoch", "max_epochs", "input_format")
    }  # fmt: skip
    info = compare_run_info("shd-adding", "quick", overrides, configs, rows, commit, command)
    # the generator version that made the data, in the command that remakes it
    version = int(info["data"]["generator"].get("format_version", 0))
    if version != 3 and "--generator-version" not in command:
        command = command.replace(
            "elm-snn data spoken-digits",
            f"elm-snn data spoken-digits --generator-version {version}",
        )
        info["command"] = command
    # "finished": when the last run wrote its metrics, not when this script ran
    info["date_utc"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(last_written))
    write_run_info(out, info)
    # the page: provenance first, then the table write_results made, then the figures
    from elm_snn._io import atomic_write_text
    from elm_snn.train.provenance import run_info_markdown

    info = json.loads((out / "run_info.json").read_text())
    n = info["data"]["num_samples"]
    files = info["data"].get("file_samples", {})
    size = (
        "SHD-sized offline spoken digits"
        if (files.get("train"), files.get("test")) == (8156, 2264)
        else f"offline spoken digits ({files['train']:,}-digit training file)"
    )
    data_line = (
        f"{size}, generator seed {info['data']['generator']['seed']}, version {version}: "
        f"{n['train']:,} training / {n['validation']:,} validation (voices "
        f"{info['data']['validation_speakers']}) / {n['test']:,} test digits (voices "
        f"{info['data']['test_speakers']})"
    )
    table = (out / "results.md").read_text().split("\n", 2)[2]  # drop write_results' title
    page = [
        "# SHD-Adding at long horizons (quick preset, last-step readout)",
        "",
        *run_info_markdown(info, data_line),
        f"- protocol: [evidence protocol]({_protocol_link(out)}); settings: "
        + ", ".join(f"{k}={v}" for k, v in overrides.items()),
        "",
        table.strip(),
        "",
        "![test accuracy against bin size](test_accuracy_vs_bin_size.png)",
        "",
        "![learning curves](curves.png)",
        "",
    ]
    atomic_write_text(out / "results.md", "\n".join(page))
    print(f"{len(rows)} runs -> {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3])
