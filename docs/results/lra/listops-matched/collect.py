# ruff: noqa: E501 - the page's command lines are kept whole (the docs tests parse them)
"""Collect the matched-size ListOps grid (issue 24, item 4) into results.csv and the table of
results.md.

The grid is one ``elm-snn compare`` folder per learning rate (``GRID/lr1e-3``,
``GRID/lr3e-3``, ``GRID/lr1e-2``), each holding ``<model>-bin1ms-seed<s>`` run folders. This
script reads every *finished* run (``metrics.json`` present; unfinished ones are listed as
missing), applies the selection rule (each model's lr = the best seed-0 **validation**
accuracy of the sweep; ties go to the smaller lr), and writes:

* ``results.csv``: one row per finished run;
* ``results.md``: the protocol, the commands, provenance (git commit, machine, CPU time,
  date), the sweep table, the selected-lr table (mean +- sample std over seeds, per-seed
  values), the validation/test rank correlation, a PARTIAL banner listing the runs not
  finished, and the hand-written reading in ``notes.md`` (beside this script) verbatim.

Usage: ``python docs/results/lra/listops-matched/collect.py GRID OUT_DIR``
(the standard library and elm-snn's `elm_snn.train.grid.spearman`).
"""

from __future__ import annotations

import csv
import json
import statistics
import sys
from datetime import datetime, timezone
from pathlib import Path

TITLE = (
    "# ListOps (generated, short) at matched size: ELM vs Chrono-LSTM, lr on validation, 3 seeds"
)

PROTOCOL = """
Issue 24, item 4. The [evidence protocol](../../protocol.md) (written for SHD) applied to
the `quick` ListOps preset: test is read once per run and chooses nothing.

- **Data**: `--synthetic` ListOps of the quick preset (`elm-snn data listops` rules, tree
  length 15-60, depth <= 4, <= 5 arguments, L = 60 tokens, generator seed 0): 10,000
  training expressions (all used every epoch), validation = the first 500 of the 1,000
  validation expressions, test = all 1,000 test expressions. The same data for every run.
- **Matched size**: Chrono-LSTM with the preset's 64 hidden units (21,642 parameters); ELM
  with `--num-memory 147` (21,694 parameters, +0.2 %; the preset's `d_m = 32` has 5,594),
  everything else the preset's (`d_mlp = 64`, `tau_s` 5, `tau_m` log-spaced in 1..60
  steps). No code or preset changed: CLI overrides only.
- **Budget**: the preset's, the same for both: 20 epochs of 10,000 expressions, batch 32
  (6,260 Adam steps), cosine decay, gradient clipping at 1, last-output readout.
- **Tuning**: one sweep for both models, Adam lr in {1e-3, 3e-3 (the preset's), 1e-2} at
  seed 0. Each model's lr = the one with the best seed-0 `best_val_accuracy` (ties: the
  smaller lr). Nothing else is tuned for either model.
- **Selection inside a run**: the epoch with the best validation accuracy; its checkpoint's
  test accuracy is reported.
- **Seeds**: 0, 1, 2 at each model's chosen lr (seed 0 is the sweep's run, reused);
  mean +- sample std (n - 1). The seed changes the initialisation and the batch order, not
  the data.

Commands (from the repository root; `GRID` was `/work/runs/listops-matched`; each `compare`
reuses the finished runs of its folder):

```bash
elm-snn compare --task listops --models elm chrono-lstm --num-memory 147 --lr 0.003 --seeds 0 --preset quick --synthetic --workers 2 --quiet --out GRID/lr3e-3
elm-snn compare --task listops --models elm chrono-lstm --num-memory 147 --lr 0.001 --seeds 0 --preset quick --synthetic --workers 2 --quiet --out GRID/lr1e-3
elm-snn compare --task listops --models elm chrono-lstm --num-memory 147 --lr 0.01 --seeds 0 --preset quick --synthetic --workers 2 --quiet --out GRID/lr1e-2
# each model at the lr its validation chose (ELM 3e-3, Chrono-LSTM 1e-2), seeds 1 and 2 added
elm-snn compare --task listops --models elm --num-memory 147 --lr 0.003 --seeds 0 1 2 --preset quick --synthetic --workers 2 --quiet --out GRID/lr3e-3
elm-snn compare --task listops --models chrono-lstm --num-memory 147 --lr 0.01 --seeds 0 1 2 --preset quick --synthetic --workers 2 --quiet --out GRID/lr1e-2
python docs/results/lra/listops-matched/collect.py GRID docs/results/lra/listops-matched
```

(`--num-memory` only acts on the ELM; it is passed to both so that the saved configurations,
and so the reuse of finished runs, match. The runs were driven by `run_all.sh` beside this
page, which does exactly this, `OMP_NUM_THREADS=1`, at low CPU priority.)
"""

LRS = ("1e-3", "3e-3", "1e-2")  # the sweep, in tie-break order (smaller lr first)
MODELS = ("elm", "chrono-lstm")
SEEDS = (0, 1, 2)
FIELDS = (
    "model",
    "lr",
    "seed",
    "num_memory",
    "lstm_hidden",
    "num_parameters",
    "epochs_trained",
    "best_val_accuracy",
    "test_accuracy",
    "test_loss",
    "cpu_seconds",
    "wall_seconds",
    "git_commit",
    "run",
)


def read_runs(grid: Path) -> list[dict]:
    rows = []
    for lr in LRS:
        for run in sorted((grid / f"lr{lr}").glob("*-bin1ms-seed*")):
            mfile = run / "metrics.json"
            if not mfile.is_file():
                continue
            m = json.loads(mfile.read_text())
            cfg = json.loads((run / "config.json").read_text())
            assert abs(float(cfg["lr"]) - float(lr)) < 1e-12, (run, cfg["lr"])
            rows.append(
                dict(
                    model=m["model"],
                    lr=lr,
                    seed=int(m["seed"]),
                    num_memory=cfg.get("num_memory") if m["model"] == "elm" else "",
                    lstm_hidden=cfg.get("lstm_hidden") if m["model"] != "elm" else "",
                    num_parameters=int(m["num_parameters"]),
                    epochs_trained=m.get("epochs_trained"),
                    best_val_accuracy=round(float(m["best_val_accuracy"]), 4),
                    test_accuracy=round(float(m["test_accuracy"]), 4),
                    test_loss=round(float(m["test_loss"]), 4),
                    # a resumed run's cpu_seconds covers its last stretch: use the total
                    cpu_seconds=round(float(m.get("cpu_seconds_total", m["cpu_seconds"])), 1),
                    wall_seconds=round(float(m.get("wall_seconds_total", m["wall_seconds"])), 1),
                    git_commit=m.get("git_commit", ""),
                    run=f"lr{lr}/{run.name}",
                )
            )
    return rows


def pct(v: float) -> str:
    return f"{100 * v:.1f}"


def main(grid: Path, out: Path) -> None:
    rows = read_runs(grid)
    if not rows:
        raise SystemExit(f"no finished run under {grid}")
    out.mkdir(parents=True, exist_ok=True)
    rows.sort(key=lambda r: (MODELS.index(r["model"]), LRS.index(r["lr"]), r["seed"]))
    with open(out / "results.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(rows)

    by = {(r["model"], r["lr"], r["seed"]): r for r in rows}
    lines = ["### lr sweep (seed 0; selection on validation)", ""]
    lines += ["| model | parameters | " + " | ".join(f"lr {lr}: val / test" for lr in LRS)
              + " | chosen lr |", "| --- | ---: |" + " ---: |" * len(LRS) + " --- |"]  # fmt: skip
    chosen: dict[str, str] = {}
    missing = []
    for model in MODELS:
        cells, best = [], None
        params = ""
        for lr in LRS:
            r = by.get((model, lr, 0))
            if r is None:
                cells.append("not finished")
                missing.append(f"{model} lr {lr} seed 0")
                continue
            params = f"{r['num_parameters']:,}"
            cells.append(f"{pct(r['best_val_accuracy'])} / {pct(r['test_accuracy'])}")
            if best is None or r["best_val_accuracy"] > best[1]:
                best = (lr, r["best_val_accuracy"])
        sweep_done = all((model, lr, 0) in by for lr in LRS)
        if best is not None and sweep_done:
            chosen[model] = best[0]
        mark = chosen.get(model, "sweep unfinished")
        lines.append(f"| {model} | {params} | " + " | ".join(cells) + f" | {mark} |")
    lines += [
        "",
        "Accuracies in %: best validation accuracy over the epochs (500 expressions) / test "
        "accuracy of that checkpoint (1,000 expressions). Only the validation column chose.",
        "",
        "### At the chosen lr, seeds 0, 1, 2 (test accuracy, %)",
        "",
        "| model | parameters | lr | test accuracy (mean +- std) | seeds | per seed (0 / 1 / 2) "
        "| best val. accuracy (mean +- std) |",
        "| --- | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for model in MODELS:
        lr = chosen.get(model)
        if lr is None:
            lines.append(f"| {model} | | | sweep unfinished | 0 | | |")
            continue
        runs = [by.get((model, lr, s)) for s in SEEDS]
        done = [r for r in runs if r is not None]
        missing += [
            f"{model} lr {lr} seed {s}" for s, r in zip(SEEDS, runs, strict=True) if r is None
        ]
        tests = [r["test_accuracy"] for r in done]
        vals = [r["best_val_accuracy"] for r in done]

        def ms(v: list[float]) -> str:
            if len(v) > 1:
                return f"{pct(statistics.mean(v))} +- {pct(statistics.stdev(v))}"
            return pct(v[0])

        per = " / ".join(pct(r["test_accuracy"]) if r else "not finished" for r in runs)
        lines.append(
            f"| {model} | {done[0]['num_parameters']:,} | {lr} | {ms(tests)} | {len(done)} "
            f"| {per} | {ms(vals)} |"
        )
    cpu = sum(r["cpu_seconds"] for r in rows)
    wall = sum(r["wall_seconds"] for r in rows)
    from elm_snn.train.grid import spearman

    rho = spearman([r["best_val_accuracy"] for r in rows], [r["test_accuracy"] for r in rows])
    rho = float("nan") if rho is None else rho  # undefined: fewer than 3 runs or a constant
    lines += [
        "",
        f"Validation/test rank correlation over the {len(rows)} runs (best_val_accuracy "
        f"against test_accuracy, Spearman): {rho:+.2f}.",
        "",
        f"CPU time of the {len(rows)} runs (`cpu_seconds` of their metrics.json, training and "
        f"evaluation): {cpu / 60:.1f} min (wall {wall / 60:.1f} min summed over runs; the "
        "machine was shared).",
    ]
    for model in MODELS:
        if model not in chosen:
            missing.append(f"{model} seeds 1, 2 at its chosen lr (the sweep did not finish)")
    commits = sorted({r["git_commit"] for r in rows if r["git_commit"]})
    mtimes = [(grid / r["run"] / "metrics.json").stat().st_mtime for r in rows]
    finished = datetime.fromtimestamp(max(mtimes), tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page = [TITLE, ""]
    if missing:
        page += [
            f"**PARTIAL: {len(rows)} of the grid's 10 runs finished** (collected "
            f"{datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}). Not finished: "
            + "; ".join(missing)
            + ". The must-hold (3 seeds at a validation-chosen lr for each model) is not met "
            "by this page yet; rerun the commands below (finished runs are reused) and then "
            "this script.",
            "",
        ]
    page += [
        PROTOCOL.strip(),
        "",
        "## Provenance",
        "",
        "- git commit of the runs: " + ", ".join(f"`{c}`" for c in commits),
        f"- machine: {machine()} (shared with other engineers' jobs; the runs ran at low "
        "priority, so wall times say little)",
        f"- last run finished: {finished}",
        f"- CPU time of the {len(rows)} runs: {cpu / 60:.1f} min (`cpu_seconds_total` of their "
        f"metrics.json, training and evaluation; wall {wall / 60:.1f} min summed over runs)",
        "",
        "## Results",
        "",
        *lines[:-2],  # the CPU line is in the provenance
    ]
    notes = Path(__file__).with_name("notes.md")
    if notes.is_file():
        page += ["", notes.read_text().strip()]
    (out / "results.md").write_text("\n".join(page) + "\n")
    print("\n".join(page))


def machine() -> str:
    try:
        names = [
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ]
    except OSError:
        return "unknown"
    return f"{names[0] if names else 'unknown CPU'}, {len(names)} cores, no GPU"


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
