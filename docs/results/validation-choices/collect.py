"""Collect the runs that re-check the quick preset's legacy choices on validation (issue 22)
into this folder: ``results.csv`` (one row per run) and ``results.md`` (one table per
question, the setting validation picks marked).

Each question compares settings of one model; a setting's score is its runs' mean best
validation accuracy (the checkpoint a run keeps), and test accuracy is shown beside it but
never used to pick. The run folders are those of ``elm-snn compare`` (``metrics.json`` and
``config.json``); settings whose runs have not finished are listed as such.

Usage: ``python docs/results/validation-choices/collect.py RUNS_ROOT OUT_DIR``
(``RUNS_ROOT`` holds the grids named in :data:`QUESTIONS`).
"""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

#: (question, what is compared, [(model, setting, run folders relative to RUNS_ROOT)])
QUESTIONS = (
    (
        "Adamax learning rate, SHD-Adding at 4 ms",
        "the same sweep (3e-3, 1e-2, 3e-2) for every model; 1e-2 is the quick preset's",
        [
            ("elm", "lr 3e-3", "lr-4ms/lr0.003/elm-bin4ms-seed*"),
            ("elm", "lr 1e-2 (preset)", "long-horizon/elm-bin4ms-seed*"),
            ("elm", "lr 3e-2", "lr-4ms/lr0.03/elm-bin4ms-seed*"),
            ("lstm", "lr 3e-3", "lr-4ms/lr0.003/lstm-bin4ms-seed*"),
            ("lstm", "lr 1e-2 (preset)", "long-horizon/lstm-bin4ms-seed*"),
            ("lstm", "lr 3e-2", "lr-4ms/lr0.03/lstm-bin4ms-seed*"),
            ("chrono-lstm", "lr 3e-3", "lr-4ms/lr0.003/chrono-lstm-bin4ms-seed*"),
            ("chrono-lstm", "lr 1e-2 (preset)", "long-horizon-more/chrono-lstm-bin4ms-seed*"),
            ("chrono-lstm", "lr 3e-2", "lr-4ms/lr0.03/chrono-lstm-bin4ms-seed*"),
        ],
    ),
    (
        "Memory initialisation, SHD-Adding at 4 ms, lr 1e-2",
        "the ELM's tau_m spread (the paper's 1-150 ms against the preset's 1-990 ms) and, for "
        "the LSTM, its counterpart: chrono initialisation of the gate biases (Chrono-LSTM, "
        "time scales up to the sequence length) against PyTorch's",
        [
            ("elm", "tau_m 1-150 ms (paper)", "tau-4ms/tau1-150/elm-bin4ms-seed0"),
            ("elm", "tau_m 1-990 ms (preset)", "long-horizon/elm-bin4ms-seed0"),
            ("lstm", "PyTorch initialisation (preset)", "long-horizon/lstm-bin4ms-seed0"),
            ("lstm", "chrono initialisation", "long-horizon-more/chrono-lstm-bin4ms-seed0"),
        ],
    ),
    (
        "E/I SNN logit scale and learning rate, SHD (single digits) at 20 ms",
        "the setting they were first chosen at (on test); the preset: scale 20, lr 5e-3",
        [
            ("snn", "scale 1, lr 5e-3", "snn-scale/scale1-lr0.005/snn-bin20ms-seed0"),
            ("snn", "scale 10, lr 5e-3", "snn-scale/scale10-lr0.005/snn-bin20ms-seed*"),
            ("snn", "scale 20, lr 5e-3 (preset)", "snn-scale/scale20-lr0.005/snn-bin20ms-seed*"),
            ("snn", "scale 50, lr 5e-3", "snn-scale/scale50-lr0.005/snn-bin20ms-seed0"),
            ("snn", "scale 20, lr 2e-3", "snn-scale/scale20-lr0.002/snn-bin20ms-seed0"),
            ("snn", "scale 20, lr 1e-2", "snn-scale/scale20-lr0.01/snn-bin20ms-seed0"),
        ],
    ),
)

COLUMNS = (
    "question", "model", "setting", "seed", "best_val_accuracy", "test_accuracy", "lr",
    "tau_m_init", "logit_scale", "readout", "bin_size_ms", "val_samples", "epochs_trained",
    "cpu_seconds_total",
    "git_commit", "run",
)  # fmt: skip


def _runs(root: Path, pattern: str) -> list[Path]:
    return sorted(p for p in root.glob(pattern) if (p / "metrics.json").is_file())


def _row(question: str, model: str, setting: str, run: Path) -> dict:
    metrics = json.loads((run / "metrics.json").read_text())
    config = json.loads((run / "config.json").read_text())
    return {
        "question": question, "model": model, "setting": setting, "seed": metrics["seed"],
        "best_val_accuracy": metrics["best_val_accuracy"],
        "test_accuracy": metrics["test_accuracy"], "lr": config["lr"],
        "tau_m_init": "-".join(f"{v:g}" for v in config["tau_m_init"]),
        "logit_scale": config["logit_scale"], "readout": config["readout"],
        "bin_size_ms": config["bin_size_ms"], "val_samples": config["val_samples"],
        "epochs_trained": metrics["epochs_trained"],
        "cpu_seconds_total": metrics.get("cpu_seconds_total"),
        "git_commit": str(metrics.get("git_commit"))[:7], "run": run.as_posix(),
    }  # fmt: skip


def _mean_std(values: list[float]) -> str:
    from elm_snn.train.grid import _mean_std as mean_and_std

    m, s = mean_and_std(values)
    return f"{m:.3f}" if len(values) == 1 else f"{m:.3f} +- {s:.3f}"


def _tie_margin(pick: list[dict], other: list[dict]) -> float:
    """The smallest difference in mean validation accuracy between two settings that the
    protocol does not call a tie: the larger of the seeds' spread (the sample std of
    either setting with >= 2 seeds) and the validation set's sampling error of a difference
    of two accuracies near the pick's, ``sqrt(2 p (1 - p) / n)`` for ``n`` items."""
    from elm_snn.train.grid import _mean_std as mean_and_std

    spread = max(
        (mean_and_std([r["best_val_accuracy"] for r in runs])[1] for runs in (pick, other)
         if len(runs) > 1),
        default=0.0,
    )  # fmt: skip
    p = sum(r["best_val_accuracy"] for r in pick) / len(pick)
    n = min(int(r["val_samples"]) for r in pick + other)
    return max(spread, (2 * p * (1 - p) / n) ** 0.5)


def _table(question: str, settings: list, rows: list[dict]) -> list[str]:
    """One markdown table of a question: a line per (model, setting), validation's pick per
    model marked (the highest mean best-validation accuracy, where a model has several
    finished settings), and the settings the protocol calls tied with it."""

    def runs_of(model: str, setting: str) -> list[dict]:
        return [
            r for r in rows
            if (r["question"], r["model"], r["setting"]) == (question, model, setting)
        ]  # fmt: skip

    scores: dict[str, dict[str, float]] = {}
    for model, setting, _ in settings:
        runs = runs_of(model, setting)
        if runs:
            mean_val = sum(r["best_val_accuracy"] for r in runs) / len(runs)
            scores.setdefault(model, {})[setting] = mean_val
    lines = [
        "| model | setting | seeds | best validation accuracy | test accuracy | picked |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    for model, setting, _ in settings:
        runs = runs_of(model, setting)
        if not runs:
            lines.append(f"| {model} | {setting} | 0 | not finished | | |")
            continue
        val = _mean_std([r["best_val_accuracy"] for r in runs])
        test = _mean_std([r["test_accuracy"] for r in runs])
        best = max(scores[model], key=scores[model].get)
        mark = ""
        if len(scores[model]) > 1 and setting == best:
            mark = "**validation's pick**"
        elif len(scores[model]) > 1:
            gap = scores[model][best] - scores[model][setting]
            margin = _tie_margin(runs_of(model, best), runs)
            mark = f"tie (gap {gap:.3f} < {margin:.3f})" if gap < margin else ""
        lines.append(f"| {model} | {setting} | {len(runs)} | {val} | {test} | {mark} |")
    return lines


def main(root: Path, out: Path) -> None:
    rows = []
    for question, _, settings in QUESTIONS:
        for model, setting, pattern in settings:
            rows += [_row(question, model, setting, run) for run in _runs(root, pattern)]
    out.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    (out / "results.csv").write_text(buf.getvalue())
    cpu = sum(float(r["cpu_seconds_total"] or 0) for r in rows) / 60
    commits = sorted({r["git_commit"] for r in rows})
    lines = [
        "# The quick preset's legacy choices, re-checked on validation",
        "",
        "- command: `python docs/results/validation-choices/collect.py RUNS_ROOT "
        "docs/results/validation-choices` over the `elm-snn compare` grids named in the "
        "script (their commands: [commands.md](commands.md))",
        f"- runs: {len(rows)}, at git commits {', '.join(f'`{c}`' for c in commits)}; CPU time "
        f"of all runs {cpu:.1f} min",
        "- machine: the project's 2-core AMD EPYC VM (no GPU), shared with other jobs",
        "- rule: a setting's score is its runs' mean best validation accuracy (2 held-out "
        "training voices; SHD-Adding: 500 fixed pairs of them); test accuracy is shown, never "
        "used to pick; a setting whose mean is below the pick's by less than the seeds' "
        "spread (the larger sample std of the two) or the validation set's sampling error "
        "of a difference, sqrt(2 p (1 - p) / n), is marked as a tie",
        "",
    ]
    for question, what, settings in QUESTIONS:
        lines += [f"## {question}", "", f"Compared: {what}.", ""]
        lines += _table(question, settings, rows) + [""]
    (out / "results.md").write_text("\n".join(lines))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
    main(Path(sys.argv[1]), Path(sys.argv[2]))
