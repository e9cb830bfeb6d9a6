"""One markdown table of the headline numbers of a ``benchmarks/run.py`` run.

:func:`run_info` is taken before the benchmarks start and :func:`finish_run_info` after
they end (machine, torch, git commit, UTC times, 1-minute load average);
:func:`summary_markdown` turns ``run.py``'s ``results`` dict into a header block and one
table (quantity, configuration, value, ratio) and :func:`write_summary` writes it
atomically. Every number is read from what a benchmark returned; a benchmark that did not
run (``--only``), was skipped or did not measure a quantity gives a "not measured" row.
The official-code rows (speed and memory) come from ``bench_official`` (``results
["official"]``), which needs ``--official-src``; without it they give its skip reason.
"""

from __future__ import annotations

import os
import platform
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["finish_run_info", "run_info", "summary_markdown", "table_rows", "write_summary"]

NOT_RUN = "not measured (benchmark not run)"
#: The configurations of the official-code rows when ``bench_official`` gave no numbers.
OFFICIAL_CONFIGS = ("SHD-Adding ELM, T = 1000, B = 8", "NeuronIO Branch-ELM, T = 500, B = 8")
Row = tuple[str, str, str, str]


def _utc_now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())


def _cpu_model() -> str:
    """The CPU model from ``/proc/cpuinfo`` (Linux), else ``platform.processor()``."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def _git(root: Path, *args: str) -> str | None:
    try:
        proc = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, check=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout


def git_commit(root: Path) -> str:
    """Short hash of ``HEAD``, plus "+ uncommitted changes" if a tracked file is modified."""
    head = _git(root, "rev-parse", "--short", "HEAD")
    if head is None:
        return "unknown (not a git checkout)"
    status = _git(root, "status", "--porcelain", "--untracked-files=no") or ""
    dirty = any(line.strip() for line in status.splitlines())
    return head.strip() + (" + uncommitted changes" if dirty else "")


def run_info(root: Path, argv: list[str]) -> dict[str, Any]:
    """What the header needs, taken before the benchmarks start."""
    import torch

    return {
        "command": " ".join(["benchmarks/run.py", *argv]),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "commit": git_commit(root),
        "start_utc": _utc_now(),
        "load_avg_1min_before": os.getloadavg()[0],
    }


def finish_run_info(info: dict[str, Any]) -> dict[str, Any]:
    """Add the end time and the load after the run to ``info`` (returned)."""
    info["end_utc"] = _utc_now()
    info["load_avg_1min_after"] = os.getloadavg()[0]
    return info


def _get(tree: Any, *keys: Any) -> Any:
    """``tree[k0][k1]...``, or None where a level is missing (JSON keys may be strings)."""
    for key in keys:
        if not isinstance(tree, dict):
            return None
        tree = tree.get(key, tree.get(str(key)))
    return tree


def _ratio(num: float | None, den: float | None) -> str:
    return f"{num / den:.3f}" if num is not None and den else "—"


def _steps_keys(elm: dict, prefix: str) -> list[str]:
    """Keys ``prefix<T>`` of the ELM results, longest sequence first."""
    keys = [k for k in elm if k.startswith(prefix) and k[len(prefix) :].isdigit()]
    return sorted(keys, key=lambda k: -int(k[len(prefix) :]))


def _elm_configs(elm: dict | None) -> Iterator[tuple[str, bool, dict]]:
    """(configuration label, is SHD-Adding, results) of each configuration bench_elm
    measured; without its results, the full run's configurations with empty results."""
    if not elm:
        yield "SHD-Adding ELM, T = 1000, B = 8", True, {}
        yield "NeuronIO Branch-ELM, T = 500, B = 8", False, {}
        return
    for key in _steps_keys(elm, "shd_adding_T"):
        yield f"SHD-Adding ELM, T = {key[12:]}, B = 8", True, elm[key]
    for key in _steps_keys(elm, "neuronio_branch_elm_T"):
        yield f"NeuronIO Branch-ELM, T = {key[21:]}, B = 8", False, elm[key]


def _versus(quantity: str, config: str, ours: Any, other: Any, name: str, unit: str) -> Row:
    """One "ours / other" row from two CPU times (NOT_RUN if either is missing)."""
    if ours is None or other is None:
        return (quantity, config, NOT_RUN, "—")
    return (quantity, config, f"ours {ours:.1f}, {name} {other:.1f} ({unit})", _ratio(ours, other))


def _elm_rows(elm: dict | None) -> list[Row]:
    """Official vs ours, ours vs our reference loop, ours vs nn.LSTM (SHD-Adding only)."""
    threads = _get(elm, "machine", "torch_threads")
    unit = f"CPU ms, {threads} threads" if threads else "CPU ms"
    rows: list[Row] = []
    for label, shd, res in _elm_configs(elm):
        ours = {mode: _get(res, "fused", mode, "cpu_ms") for mode in ("forward", "train")}
        for mode in ("forward", "train"):
            ref = _get(res, "reference", mode, "cpu_ms")
            quantity = f"ours / our reference loop, {mode}"
            rows.append(_versus(quantity, label, ours[mode], ref, "reference loop", unit))
        for mode in ("forward", "train") if shd else ():
            lstm = _get(res, "lstm", mode, "cpu_ms")
            quantity = f"ours / nn.LSTM, {mode}"
            rows.append(_versus(quantity, label, ours[mode], lstm, "LSTM(700, 250)", unit))
    return rows


def _official_why(official: dict | None) -> str:
    """The "not measured" text of a row that ``bench_official`` did not fill."""
    if official is None:
        return NOT_RUN
    if "skipped" in official:
        return f"not measured ({official['skipped']})"
    return "not measured (not in the official benchmark's results)"


def _official_rows(official: dict | None) -> list[Row]:
    """Official vs ours, forward and train, per configuration: official / ours CPU ms."""
    configs = _get(official, "configs")
    if not configs:
        why = _official_why(official)
        return [
            (f"official vs ours, {mode}", label, why, "—")
            for label in OFFICIAL_CONFIGS
            for mode in ("forward", "train")
        ]
    threads = _get(official, "threads") or 1
    unit = f"CPU ms, {threads} thread{'s' if threads != 1 else ''}, {official.get('dtype', '?')}"
    rows: list[Row] = []
    for res in configs.values():
        for mode in ("forward", "train"):
            off = _get(res, "official", mode, "cpu_ms")
            ours = _get(res, "ours", mode, "cpu_ms")
            if off is None or ours is None:
                rows.append((f"official vs ours, {mode}", res["label"], NOT_RUN, "—"))
                continue
            value = f"official {off:.1f}, ours {ours:.1f} ({unit})"
            diff = res.get("max_abs_diff_float64")
            if mode == "forward" and diff is not None:
                value += f"; float64 outputs agree to {diff:.1e}"
            rows.append((f"official vs ours, {mode}", res["label"], value, _ratio(off, ours)))
    return rows


def _mib(counts: dict) -> str:
    return f"{counts['bytes'] / 2**20:.1f} MiB in {counts['tensors']:,} tensors"


def _memory_versus_rows(official: dict | None) -> list[Row]:
    """Saved for backward by one forward: the official model and nn.LSTM against ours."""
    mem = _get(official, "memory")
    config = _get(mem, "config") or "SHD-Adding ELM(700, d_m = 100, MLP 200), T = 1000, B = 8"
    rows: list[Row] = []
    for key, name in (("official", "official"), ("lstm", "nn.LSTM")):
        quantity = f"memory saved for backward, {name}"
        other, ours = _get(mem, key), _get(mem, "ours")
        if not other or not ours:
            why = _official_why(official)
            if official is not None and key == "lstm" and "skipped" in official:
                why = f"not measured (bench_official skipped: {official['skipped']})"
            rows.append((quantity, config, why, "—"))
            continue
        value = f"{_mib(other)} (ours {_mib(ours)})"
        rows.append((quantity, config, value, f"{_ratio(other['bytes'], ours['bytes'])} x ours"))
    return rows


def _memory_rows(elm: dict | None) -> list[Row]:
    """Bytes saved for backward by a training step (input excluded)."""
    saved = _get(elm, "memory", "saved_bytes")
    config = "ELM(700, d_m = 100, MLP 200), B = 8, 0.5 % spikes"
    slope = _get(elm, "memory", "slope_floats_per_step_per_sample")
    if saved:
        parts = [f"T = {t}: {b / 2**20:.2f} MiB" for t, b in saved.items()]
        value = ", ".join(parts) + (f"; {slope:.1f} floats per step and sample" if slope else "")
        ratio = f"{slope / 300:.3f} of d_m + d_mlp" if slope else "—"
    else:
        value, ratio = NOT_RUN, "—"
    return [("memory saved for backward, ours", config, value, ratio)]


def _eisnn_rows(eisnn: dict | None) -> list[Row]:
    config = "E/I SNN (500 neurons x 100 synapses) vs ELM d_m = 100, B = 16, 1 thread"
    snn, elm = _get(eisnn, "snn_fused_ms"), _get(eisnn, "elm_fused_ms")
    if snn is None or elm is None:
        return [("E/I SNN train step / ELM train step", config, NOT_RUN, "—")]
    dense = _get(eisnn, "snn_dense_ms")
    value = f"SNN {snn:.1f}, ELM {elm:.1f} CPU ms" + (
        f" (SNN reference loop {dense:.1f})" if dense else ""
    )
    return [("E/I SNN train step / ELM train step", config, value, _ratio(snn, elm))]


def _thread_rows(threads: dict | None) -> list[Row]:
    steps = _get(threads, "steps")
    rows: list[Row] = []
    for batch, model, name in ((8, "elm", "ELM"), (16, "elm", "ELM"), (16, "lstm", "LSTM")):
        config = f"{name}, B = {batch}" + (f", T = {steps}" if steps else "")
        row = _get(threads, "rows", batch, f"{model}_train")
        if row is None:
            rows.append(("2 threads / 1 thread, train step", config, NOT_RUN, "—"))
            continue
        value = f"1 thread {row['ms_1']:.1f}, 2 threads {row['ms_2']:.1f} (wall ms)"
        rows.append(
            ("2 threads / 1 thread, train step", config, value, _ratio(row["ms_2"], row["ms_1"]))
        )
    return rows


def _cochlea_rows(cochlea: dict | None) -> list[Row]:
    """Spoken-digit generation: CPU s per utterance and the SHD-sized set's CPU-minutes."""
    quantity = "spoken-digit generation, CPU s per utterance (fast path)"
    fused, prepare = _get(cochlea, "fused (all)"), _get(cochlea, "prepare")
    minutes = _get(cochlea, "shd_sized_cpu_minutes")
    if fused is None or prepare is None:
        return [
            (quantity, "700-channel cochlea", NOT_RUN, "—"),
            ("spoken-digit generation, SHD-sized set", "10,420 utterances", NOT_RUN, "—"),
        ]
    speech = _get(cochlea, "speech_cpu_s_per_utterance")
    value = f"{prepare + fused:.3f} s (cochlea {fused:.3f}, audio preparation {prepare:.3f})"
    if speech is not None:
        value += f"; eSpeak {speech:.3f} s in its own process"
    ratio = _get(cochlea, "reference_over_fused")
    rows = [
        (
            quantity,
            "700-channel cochlea, eSpeak NG utterances",
            value,
            f"reference / fast {ratio:.2f}" if ratio else "—",
        )
    ]
    value = (
        f"{minutes:.0f} CPU-minutes (>= {minutes / 2:.0f} min on 2 workers)" if minutes else NOT_RUN
    )
    rows.append(("spoken-digit generation, SHD-sized set", "10,420 utterances", value, "—"))
    return rows


def _neuron_rows(neuron: dict | None) -> list[Row]:
    """NEURON generation: CPU s per simulated second, output rate."""
    quantity = "NEURON generation, CPU s per simulated second"
    if not neuron:
        return [(quantity, "NeuronIO-style cell", NOT_RUN, "—")]
    if "skipped" in neuron:
        return [
            (quantity, "NeuronIO-style cell", f"not measured (skipped: {neuron['skipped']})", "—")
        ]
    config = f"{neuron['cell']} cell, {neuron['n_sims']} x {neuron['duration_s']:g} s, 1 worker"
    value = (
        f"{neuron['cpu_s_per_simulated_s']:.2f} (NEURON runs alone "
        f"{neuron['sim_cpu_s_per_simulated_s']:.2f}); output {neuron['output_rate_hz']:.2f} Hz"
    )
    return [(quantity, config, value, "—")]


def table_rows(results: dict[str, Any]) -> list[Row]:
    """Every row of the summary table, in order, from ``run.py``'s ``results``."""
    return (
        _official_rows(results.get("official"))
        + _elm_rows(results.get("elm"))
        + _memory_rows(results.get("elm"))
        + _memory_versus_rows(results.get("official"))
        + _eisnn_rows(results.get("eisnn"))
        + _thread_rows(results.get("threads"))
        + _cochlea_rows(results.get("cochlea"))
        + _neuron_rows(results.get("neuron"))
    )


def _header(info: dict[str, Any]) -> list[str]:
    def load(key: str) -> str:
        value = info.get(key)
        return f"{value:.2f}" if isinstance(value, int | float) else "unknown"

    return [
        "# Benchmark summary (`make bench`)",
        "",
        "Written by `benchmarks/run.py` at the end of every run; do not edit by hand.",
        "",
        f"* Machine: {info.get('cpu_model', 'unknown')}, {info.get('cpu_count', '?')} cores "
        f"({info.get('platform', '?')})",
        f"* Software: torch {info.get('torch', '?')} ({info.get('torch_threads', '?')} threads "
        f"by default), Python {info.get('python', '?')}",
        f"* Commit: {info.get('commit', 'unknown')}",
        f"* Command: `{info.get('command', 'benchmarks/run.py')}`",
        f"* Time: {info.get('start_utc', '?')} to {info.get('end_utc', '?')}",
        f"* Load (1-minute average): {load('load_avg_1min_before')} before, "
        f"{load('load_avg_1min_after')} after",
        "",
        "CPU ms are process CPU time (the threads' times add up); the thread rows compare "
        "wall-clock medians. A ratio is the quantity's first term over its second (official / "
        "ours, ours / nn.LSTM, E/I SNN / ELM, 2 threads / 1 thread), both measured in this "
        "run.",
        "",
    ]


def summary_markdown(results: dict[str, Any], info: dict[str, Any]) -> str:
    """The header block and the table, as markdown."""
    lines = _header(info)
    lines += ["| quantity | configuration | value | ratio |", "| --- | --- | --- | ---: |"]
    for row in table_rows(results):
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    return "\n".join(lines) + "\n"


def write_summary(path: str | os.PathLike, results: dict[str, Any], info: dict[str, Any]) -> str:
    """Write :func:`summary_markdown` to ``path`` atomically; return the text."""
    from elm_snn._io import atomic_write_text

    text = summary_markdown(results, info)
    atomic_write_text(path, text)
    return text
