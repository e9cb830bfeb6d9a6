"""One command for every benchmark: ``python benchmarks/run.py [--quick] [--out FILE]``.

Runs, in one process: the ELM kernel benchmark (:mod:`bench_elm`), the fused ELM on 1 and 2
threads (:mod:`bench_threads`), the E/I SNN train step (:mod:`bench_eisnn_fused`: fused loops
against the autograd reference and against the fused ELM), end-to-end training throughput
against the training step alone (:mod:`bench_e2e`), the fused ELM on a GPU
(:mod:`bench_device`; skipped without one), the spoken-digit cochlea stage by stage, fused
against the reference (:mod:`bench_cochlea`), ``torch.compile`` against eager
(:mod:`bench_compile`), the NEURON generation rate (:mod:`bench_neuron`; skipped without
NEURON), the official ELM code against ours (:mod:`bench_official`; skipped without
``--official-src DIR`` or ``$ELM_SNN_OFFICIAL_SRC``) and, when present, the data-pipeline
benchmark (``bench_data.py``); prints tables
and every ratio, writes one JSON file and one summary table (:mod:`summary`).

The summary goes to ``benchmarks/TABLE.md`` only from a full run (no ``--quick``, no
``--only``) that writes the default ``--out``; any other run writes it next to its JSON
file (``<out stem>-TABLE.md``), so the committed table always comes from a full run.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))


DEFAULT_OUT = HERE / "results.json"
TABLE = HERE / "TABLE.md"


def table_path(args: argparse.Namespace) -> Path:
    """Where the summary table goes: ``--table``; else ``benchmarks/TABLE.md`` for a full
    run to the default ``--out``; else ``<out stem>-TABLE.md`` beside the JSON file."""
    if args.table:
        return Path(args.table)
    out = Path(args.out)
    full = not args.quick and args.only is None
    if full and out.resolve() == DEFAULT_OUT:
        return TABLE
    return out.with_name(out.stem + "-TABLE.md")


def official_argv(args: argparse.Namespace) -> list[str]:
    """``bench_official``'s arguments: ``--official-src`` if given (else it reads
    ``$ELM_SNN_OFFICIAL_SRC``), and ``--quick`` or ``--repeats``."""
    argv = ["--official-src", args.official_src] if args.official_src else []
    return argv + (["--quick"] if args.quick else ["--repeats", str(args.repeats)])


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the benchmarks, write the JSON and the summary (atomically)."""
    import bench_elm
    import summary

    from elm_snn._io import atomic_write_text

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="JSON output file")
    parser.add_argument(
        "--only",
        choices=[
            "elm",
            "threads",
            "eisnn",
            "e2e",
            "device",
            "data",
            "cochlea",
            "compile",
            "neuron",
            "official",
        ],
        help="run just one benchmark",
    )
    parser.add_argument("--table", help="summary table file (default: see the module docstring)")
    parser.add_argument(
        "--official-src",
        default=None,
        help="root of a checkout of the official ELM code (github.com/AaronSpieler/elmneuron) "
        "for bench_official (default: $ELM_SNN_OFFICIAL_SRC; without either it is skipped)",
    )
    bench_elm.add_arguments(parser)
    args = parser.parse_args(argv)
    info = summary.run_info(HERE.parent, sys.argv[1:] if argv is None else list(argv))
    results = {}
    if args.only in (None, "elm"):
        results["elm"] = bench_elm.run(args)
    if args.only in (None, "threads"):
        import bench_threads

        quick = ["--steps", "100", "--repeats", "1", "--batches", "8", "16"]
        results["threads"] = bench_threads.main(quick if args.quick else [])
    if args.only in (None, "eisnn"):
        import bench_eisnn_fused
        import torch

        threads = torch.get_num_threads()  # it runs on one thread
        steps = ["--steps", "200", "--repeats", "1"] if args.quick else []
        results["eisnn"] = bench_eisnn_fused.main(steps)
        torch.set_num_threads(threads)
    if args.only in (None, "e2e"):
        import bench_e2e

        quick = ["--bins", "10", "--batches", "3", "--repeats", "2"]
        results["e2e"] = bench_e2e.main(quick if args.quick else [])
    if args.only in (None, "device"):
        import bench_device

        quick = ["--steps", "100", "--repeats", "1"]
        results["device"] = bench_device.main(quick if args.quick else [])
    if args.only in (None, "cochlea"):
        import bench_cochlea

        quick = ["--utterances", "2", "--repeats", "1"]
        results["cochlea"] = bench_cochlea.main(quick if args.quick else [])
    if args.only in (None, "neuron"):
        import bench_neuron

        results["neuron"] = bench_neuron.main(["--quick"] if args.quick else [])
    if args.only in (None, "official"):
        import bench_official

        results["official"] = bench_official.main(official_argv(args))
    if args.only in (None, "compile"):
        import bench_compile

        results["compile"] = bench_compile.main(["--quick"] if args.quick else [])
    data_path = HERE / "bench_data.py"
    if args.only in (None, "data") and data_path.is_file():
        spec = importlib.util.spec_from_file_location("bench_data", data_path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        out = Path(args.out).with_name(Path(args.out).stem + "_data.json")
        extra = ["--pairs", "50", "--nocache-pairs", "20", "--num-samples", "60"]
        module.main(["--out", str(out)] + (extra if args.quick else []))
        results["data"] = json.loads(out.read_text())
    results["run_info"] = summary.finish_run_info(info)
    atomic_write_text(args.out, json.dumps(results, indent=2, default=str))
    print(f"\nwrote {args.out}")
    table = table_path(args)
    print("\n" + summary.write_summary(table, results, info))
    print(f"wrote {table}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
