"""NeuronIO-style data from a NEURON simulation of a pyramidal-like cell on a morphology of our
own.

The real NeuronIO data (Beniaguev, Segev & London 2021) are 6 s NEURON simulations of the
Hay et al. (2011) layer-5 pyramidal cell driven by 639 excitatory and 639 inhibitory inputs;
they are not reachable from our machines. This module makes data of the same shape and file
format with a model of its own, so the same reader, training and evaluation code run on both.

The model (fixed; see ``datasets/neuronio_sim.md`` for the card):

* Morphology (:mod:`elm_snn.synth._morphology`): soma, axon stub, five basal trees, an apical
  trunk with eight obliques and a tuft; 238 dendritic segments of at most 50 um (246 in all).
* Membrane, ``cell="active"`` (default, :mod:`elm_snn.synth._active_cell`): the channels of
  the Hay et al. (2011) L5PC with the densities Beniaguev et al. used for NeuronIO:
  somatic/axonal Na+ (transient, persistent) and K+ (Kv3.1, K_Pst, K_Tst, SK, Im), apical
  Na+, Kv3.1, SK, Im, HVA Ca2+, LVA Ca2+ concentrated in a hot zone around the apical
  bifurcation, a Ca2+ shell, Ih growing exponentially along the apical tree, 34 degC; the
  resting state is found before every simulation (no start-up transient).
* Membrane, ``cell="passive"``: passive dendrites (``pas``); NEURON's built-in
  Hodgkin-Huxley ``hh`` at soma and axon (sodium 0.3 S/cm2, 1.5 S/cm2 in the initial
  segment) at 6.3 degC. The leak reversal of ``hh`` is set so that the whole cell rests at
  exactly ``v_rest_mv`` (no initial transient).
* Synapses (peak conductances per cell: :data:`SYNAPSE_WEIGHTS_US`): every excitatory input
  drives an AMPA conductance (NEURON's ``Exp2Syn``, 0.3/3 ms, 0 mV) and an NMDA conductance
  with Jahr-Stevens Mg2+ block (our NMODL mechanism ``ElmSnnNMDA``, 2/70 ms, 0 mV, 1 mM
  Mg2+); every inhibitory input a GABA-A conductance
  (``Exp2Syn``, 0.2/8 ms, -80 mV). Synapse objects are shared per segment and receptor (each
  input keeps its own ``NetCon`` and weight): exact, because all three mechanisms add the
  events' conductances linearly (the Mg block multiplies the summed NMDA conductance).
* Input mapping: the 639 input channels are spread over the 238 dendritic segments in
  proportion to segment length (largest-remainder rounding, at least one per segment), in
  segment order (basal first, then trunk, obliques, tuft); excitatory input ``i`` and
  inhibitory input ``i`` land on the same segment, as in the real data.
* Inputs: per-ms Bernoulli (Poisson-like) spike trains on an integer-ms grid. Per simulation
  a mean excitatory and inhibitory rate per input are drawn uniformly from configured ranges;
  per input a gamma-distributed factor (mean 1) sets its own rate; a slow shared modulation
  ``exp(sigma z(t) - sigma^2/2)`` (``z`` unit-variance Gaussian-smoothed noise, correlated
  between excitation and inhibition) multiplies all rates.
* Integration: fixed dt = 0.1 ms with ``secondorder = 2`` (Crank-Nicolson); output soma
  voltage sampled every 1 ms (``somaVoltageLowRes``, value at t = 0, 1, ..., T - 1 ms); output
  spikes are the times (ms, float) at which the soma voltage crosses -20 mV upwards (the
  first 0.1 ms step at or above it).

Determinism: simulation ``k`` of a run with global seed ``s`` draws its inputs from
``numpy.random.SeedSequence(s, spawn_key=(k,))``, so results do not depend on the number of
workers or on which other simulations run in the same process.

The generator writes NeuronIO pickle files (up to 128 simulations each, names containing
``sim__``) through :func:`elm_snn.data.neuronio.write_neuronio_pickle`, plus a JSON manifest
that lets a later call with the same parameters reuse the files instead of simulating again.

Code layout: constants and :class:`NeuronIOSimConfig` live in ``_neuronio_config``, the input
spike trains in ``_neuronio_inputs``, the NEURON cell and :func:`simulate` in
``_neuronio_cell``; this module re-exports them and holds the file generator and its CLI.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from elm_snn._progress import progress as progress_bar
from elm_snn._progress import progress_enabled
from elm_snn._validation import check_int

__all__ = [
    "CELLS",
    "SYNAPSE_WEIGHTS_US",
    "N_EXC",
    "N_INH",
    "DT_MS",
    "MODEL_VERSION",
    "MANIFEST_NAME",
    "NeuronIOSimConfig",
    "SimResult",
    "input_segment_map",
    "draw_input_spikes",
    "neuronio_params",
    "simulate",
    "generate_neuronio_sim",
]

from elm_snn.synth._neuronio_cell import _worker_init, _worker_run, simulate
from elm_snn.synth._neuronio_config import (
    CELLS,
    DT_MS,
    MANIFEST_NAME,
    MODEL_VERSION,
    N_EXC,
    N_INH,
    SPIKE_THRESHOLD_MV,
    SYNAPSE_WEIGHTS_US,
    NeuronIOSimConfig,
    SimResult,
    _config_from_dict,  # noqa: F401 - the config's JSON round trip, kept at its old path
)
from elm_snn.synth._neuronio_inputs import draw_input_spikes, input_segment_map


def neuronio_params(config: NeuronIOSimConfig, seed: int) -> dict[str, Any]:
    """Return the ``Params`` dict written into every generated NeuronIO file.

    The real-data keys describe the 639 input channels (there, one per segment):

    * ``allSegmentsType``: ``"basal"`` or ``"apical"`` (the real data's vocabulary) for the
      segment where input channel ``i`` lands (trunk, obliques and tuft count as apical);
    * ``allSegments_DistFromSoma``: path distance (um) of that segment's centre from the soma;
    * ``totalSimDurationInSec``.

    Generator-specific keys: ``allSegmentsSubType`` (basal/trunk/oblique/tuft per channel),
    ``allSegments_ModelSegmentIndex`` (the model segment of each channel, see
    :func:`input_segment_map`), ``modelSegments`` (section, x, kind, length_um,
    dist_from_soma_um of the model's dendritic segments), ``inputMapping`` (text),
    ``generator``, ``generatorModelVersion``, ``randomSeed``, ``simConfig`` (the
    :class:`NeuronIOSimConfig` fields), ``dt_ms``, ``celsius``, ``spikeThreshold_mV``,
    ``somaVoltageSampling`` and ``neuronVersion``.
    """
    import neuron

    from elm_snn.synth._morphology import segment_table

    table = segment_table()
    mapping = input_segment_map(N_EXC)
    seconds = config.n_ms / 1000.0
    return {
        "totalSimDurationInSec": int(seconds) if seconds == int(seconds) else seconds,
        "allSegmentsType": ["basal" if table[k].kind == "basal" else "apical" for k in mapping],
        "allSegments_DistFromSoma": [float(table[k].dist_from_soma_um) for k in mapping],
        "allSegmentsSubType": [table[k].kind for k in mapping],
        "allSegments_ModelSegmentIndex": [int(k) for k in mapping],
        "modelSegments": {
            "section": [s.section for s in table],
            "x": [float(s.x) for s in table],
            "kind": [s.kind for s in table],
            "length_um": [float(s.length_um) for s in table],
            "dist_from_soma_um": [float(s.dist_from_soma_um) for s in table],
        },
        "inputMapping": (
            f"{N_EXC} excitatory and {N_INH} inhibitory input channels on {len(table)} dendritic "
            "segments; channel i (excitatory i and inhibitory i alike) lands on model segment "
            "allSegments_ModelSegmentIndex[i]; each segment gets at least one channel, the rest "
            "in proportion to segment length (largest remainder), in segment order"
        ),
        "generator": "elm_snn.synth.neuronio_sim",
        "generatorModelVersion": MODEL_VERSION,
        "randomSeed": int(seed),
        "simConfig": config.to_dict(),
        "dt_ms": DT_MS,
        "celsius": config.celsius,
        "spikeThreshold_mV": SPIKE_THRESHOLD_MV,
        "somaVoltageSampling": "instantaneous soma(0.5) voltage at t = 0, 1, ..., T-1 ms",
        "neuronVersion": str(neuron.__version__),
    }


def _to_neuronio(result: SimResult) -> Any:
    from elm_snn.data.neuronio import NeuronIOSimulation

    return NeuronIOSimulation(
        ex_spike_times={i: t for i, t in enumerate(result.ex_spike_times) if t.size},
        inh_spike_times={i: t for i, t in enumerate(result.inh_spike_times) if t.size},
        output_spike_times_ms=result.output_spike_times_ms,
        soma_voltage_mv=result.soma_voltage_mv,
    )


def _definition(config: NeuronIOSimConfig, seed: int, sims_per_file: int) -> dict[str, Any]:
    import neuron

    from elm_snn.synth._nrnmech import mechanism_sources

    mods = hashlib.sha256()
    for f in mechanism_sources():
        mods.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return {
        "generator": "elm_snn.synth.neuronio_sim",
        "model_version": MODEL_VERSION,
        "config": config.to_dict(),
        "seed": int(seed),
        "sims_per_file": int(sims_per_file),
        "dt_ms": DT_MS,
        "neuron_version": str(neuron.__version__),
        "mechanisms_sha256": mods.hexdigest(),
    }


def _read_manifest(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list):
            raise ValueError("no 'files' list")
        for entry in manifest["files"]:
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                raise ValueError("malformed file entry")
            if Path(entry["name"]).name != entry["name"] or "sim__" not in entry["name"]:
                raise ValueError(f"unexpected file name {entry['name']!r}")
        return manifest
    except (ValueError, json.JSONDecodeError) as exc:
        raise ValueError(
            f"out_dir: {path} is not a valid manifest of this generator ({exc}); remove it or "
            "use another folder"
        ) from None


def generate_neuronio_sim(
    out_dir: str | os.PathLike,
    n_sims: int,
    *,
    seed: int = 0,
    config: NeuronIOSimConfig | None = None,
    workers: int = 1,
    sims_per_file: int = 128,
    overwrite: bool = False,
    progress: Callable[[str], None] | None = None,
) -> list[Path]:
    """Simulate ``n_sims`` trials and write them as NeuronIO pickle files into ``out_dir``.

    Simulation ``k`` (0-based) goes into file ``k // sims_per_file``; files are named
    ``sim__neuronio_sim__<definition hash>__<first>-<last>.p`` and read back with
    :func:`elm_snn.data.neuronio.read_neuronio_file` like real NeuronIO files. A manifest
    (``neuronio_sim_manifest.json``) records the data set definition (config, seed,
    sims_per_file, model version, NEURON version, mechanism sources) and each file's size and
    SHA-256. A later call with the same definition reuses every intact file it still needs
    and simulates only the rest (also after an interrupted run); files of the same
    definition that are no longer needed (a smaller ``n_sims``) are removed.

    With ``workers > 1`` the simulations run in a ``spawn`` process pool (each worker
    compiles nothing, loads the mechanism and builds the cell once); the results do not
    depend on ``workers``. Scripts calling this with ``workers > 1`` need the usual
    ``if __name__ == "__main__":`` guard.

    Args:
        out_dir: output folder (created if missing).
        n_sims: number of simulations (>= 1).
        seed: global seed (>= 0).
        config: data set definition (default :class:`NeuronIOSimConfig`, 6 s simulations).
        workers: worker processes (>= 1).
        sims_per_file: simulations per file (>= 1; the real data uses 128).
        overwrite: if the folder holds data of a different definition, delete those files
            (only files listed in its manifest) instead of raising.
        progress: called with a one-line message after each finished or reused file.

    Returns:
        Paths of the data files, in simulation order.

    Raises:
        ValueError: bad arguments; the folder holds data of another definition (without
            ``overwrite``), or ``sim__`` files not listed in its manifest.
        RuntimeError: NEURON's ``nrnivmodl`` or a C compiler is missing.
    """
    n_sims = check_int("n_sims", n_sims, 1)
    seed = check_int("seed", seed, 0)
    workers = check_int("workers", workers, 1)
    sims_per_file = check_int("sims_per_file", sims_per_file, 1)
    if config is None:
        config = NeuronIOSimConfig()
    if not isinstance(config, NeuronIOSimConfig):
        raise TypeError(f"config must be a NeuronIOSimConfig, got {type(config).__name__}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out_dir must be a folder, got the file {out}")
    out.mkdir(parents=True, exist_ok=True)
    say = progress if progress is not None else (lambda _msg: None)
    from elm_snn._locks import GENERATOR_LOCK_WAIT_S, folder_lock

    # one generator writes a folder at a time; a second one waits, then reuses its files
    with folder_lock(out, "out_dir", wait=GENERATOR_LOCK_WAIT_S, on_wait=say):
        return _generate_into(
            out, n_sims, seed, config, workers, sims_per_file, overwrite, say, progress
        )


def _generate_into(
    out: Path,
    n_sims: int,
    seed: int,
    config: NeuronIOSimConfig,
    workers: int,
    sims_per_file: int,
    overwrite: bool,
    say: Callable[[str], None],
    progress: Callable[[str], None] | None,
) -> list[Path]:
    """:func:`generate_neuronio_sim` once ``out`` is locked (``progress``: the caller's
    message callable, or None for silence; it also switches the progress bar)."""

    from elm_snn.synth._nrnmech import compile_mechanisms

    definition = _definition(config, seed, sims_per_file)
    def_hash = hashlib.sha256(json.dumps(definition, sort_keys=True).encode()).hexdigest()
    listed = _files_of_this_definition(out, def_hash, overwrite)
    plan = _plan_files(n_sims, sims_per_file, def_hash)
    kept = _reusable_files(out, listed, plan)
    manifest = _Manifest(out / MANIFEST_NAME, def_hash, definition, n_sims, plan)
    todo = [p for p in plan if p["name"] not in kept]
    for p in plan:
        if p["name"] in kept:
            say(f"reused {p['name']} ({p['n_sims']} simulations)")
    manifest.write(kept)
    if todo:
        compile_mechanisms()  # once, here, so workers only load the library
        params = neuronio_params(config, seed)
        bar = progress_bar(
            total=sum(p["n_sims"] for p in todo),
            desc="neuronio-sim",
            unit="sim",
            enabled=progress is not None and progress_enabled(),
        )
        with _simulation_results(config, seed, todo, workers) as results_iter, bar:
            for p in todo:
                t0 = time.perf_counter()
                results: list[SimResult] = []
                for expected in range(p["first_sim"], p["first_sim"] + p["n_sims"]):
                    sim_index, result = next(results_iter)
                    if sim_index != expected:  # pragma: no cover - imap keeps order
                        raise RuntimeError(f"simulation {sim_index} arrived, {expected} expected")
                    results.append(result)
                    bar.update(1)
                kept[p["name"]] = _write_file(out, p, results, params)
                manifest.write(kept)
                rate = kept[p["name"]]["output_spikes"] / (len(results) * config.n_ms / 1000.0)
                say(
                    f"wrote {p['name']} ({p['n_sims']} simulations, "
                    f"{time.perf_counter() - t0:.1f} s, output rate {rate:.2f} Hz)"
                )
    return [out / p["name"] for p in plan]


def _files_of_this_definition(out: Path, def_hash: str, overwrite: bool) -> dict[str, Any]:
    """Manifest entries (by file name) of ``out`` that belong to definition ``def_hash``.

    Refuses ``sim__`` files the manifest does not list, and data of another definition
    unless ``overwrite`` (then those listed files and the manifest are removed)."""
    manifest_path = out / MANIFEST_NAME
    old = _read_manifest(manifest_path)
    listed = {e["name"]: e for e in old["files"]} if old is not None else {}
    foreign = sorted(
        f.name
        for f in out.iterdir()
        if "sim__" in f.name and not f.name.startswith(".") and f.name not in listed
    )
    if foreign:
        raise ValueError(
            f"out_dir: {out} holds NeuronIO files not written by this generator "
            f"({foreign[:3]}{'...' if len(foreign) > 3 else ''}); use an empty folder"
        )
    if old is not None and old.get("definition_hash") != def_hash:
        if not overwrite:
            raise ValueError(
                f"out_dir: {out} holds simulated data of a different definition (other config, "
                "seed, sims_per_file or software version); pass overwrite=True (--overwrite) "
                "or use another folder"
            )
        for name in listed:
            (out / name).unlink(missing_ok=True)
        manifest_path.unlink()
        listed = {}
    return listed


def _plan_files(n_sims: int, sims_per_file: int, def_hash: str) -> list[dict[str, Any]]:
    """``[{"name", "first_sim", "n_sims"}, ...]``: the files of the data set, in order."""
    plan = []
    for first in range(0, n_sims, sims_per_file):
        count = min(sims_per_file, n_sims - first)
        name = f"sim__neuronio_sim__{def_hash[:10]}__{first:06d}-{first + count - 1:06d}.p"
        plan.append({"name": name, "first_sim": first, "n_sims": count})
    return plan


def _reusable_files(
    out: Path, listed: dict[str, Any], plan: list[dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """The listed files still planned and intact (size and SHA-256 as recorded); every
    other listed file is removed."""
    from elm_snn._manifest import file_intact

    planned = {p["name"] for p in plan}
    kept: dict[str, dict[str, Any]] = {}
    for name, entry in listed.items():
        path = out / name
        if name in planned and file_intact(path, entry.get("sha256"), entry.get("bytes", -1)):
            kept[name] = entry
        else:
            path.unlink(missing_ok=True)
    return kept


@dataclass
class _Manifest:
    """The manifest of one generation run, rewritten (atomically) after every file."""

    path: Path
    def_hash: str
    definition: dict[str, Any]
    n_sims: int
    plan: list[dict[str, Any]]

    def write(self, entries: dict[str, dict[str, Any]]) -> None:
        from elm_snn._io import atomic_write_text

        manifest = {
            "format": "elm-snn/neuronio-sim-manifest",
            "format_version": 1,
            "definition_hash": self.def_hash,
            "definition": self.definition,
            "n_sims": self.n_sims,
            "files": [entries[p["name"]] for p in self.plan if p["name"] in entries],
        }
        atomic_write_text(self.path, json.dumps(manifest, indent=1, sort_keys=True) + "\n")


@contextlib.contextmanager
def _simulation_results(
    config: NeuronIOSimConfig, seed: int, todo: list[dict[str, Any]], workers: int
) -> Iterator[Iterator[tuple[int, SimResult]]]:
    """``(sim_index, SimResult)`` of every simulation of the files ``todo``, in order: in this
    process, or in a ``spawn`` pool of ``workers`` processes (terminated on exit)."""
    jobs = [
        (config.to_dict(), seed, k)
        for p in todo
        for k in range(p["first_sim"], p["first_sim"] + p["n_sims"])
    ]
    if workers <= 1:
        yield (_worker_run(job) for job in jobs)
        return
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    pool = ctx.Pool(
        processes=min(workers, len(jobs)),
        initializer=_worker_init,
        initargs=(config.to_dict(),),
    )
    try:
        yield pool.imap(_worker_run, jobs, chunksize=1)
    finally:
        pool.terminate()
        pool.join()


def _write_file(
    out: Path, planned: dict[str, Any], results: list[SimResult], params: dict[str, Any]
) -> dict[str, Any]:
    """Write one NeuronIO pickle file; return its manifest entry."""
    from elm_snn._manifest import file_sha256
    from elm_snn.data.neuronio import write_neuronio_pickle

    path = out / planned["name"]
    write_neuronio_pickle(path, [_to_neuronio(r) for r in results], params)
    return {
        **planned,
        "bytes": path.stat().st_size,
        "sha256": file_sha256(path),
        "cpu_s": float(sum(r.cpu_s for r in results)),
        "output_spikes": int(sum(r.output_spike_times_ms.size for r in results)),
    }
