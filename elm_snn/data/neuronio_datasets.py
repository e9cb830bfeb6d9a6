"""NeuronIO preprocessing, deterministic splits and torch datasets of training windows.

Preprocessing (Beniaguev et al. 2021, as in the ELM paper and official code):

* input: the (T, 2n) raster times the synapse sign (+1 for the n excitatory rows, -1 for
  the n inhibitory rows), float32, time-major within a sample;
* spike target: the (T,) output spike raster (bin ``int(t - 0.5)``), float32 0/1;
* voltage target: ``(min(v, -55 mV) - (-67.7 mV)) * 1/10`` (see :func:`preprocess_soma`).

Training windows are 500 ms long and start uniformly at random at or after 500 ms into a
simulation (the official loader ignores the first 500 ms of each simulation for training).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Sequence
from typing import TypeVar

import numpy as np
import torch
from torch.utils.data import Dataset

from elm_snn.data.neuronio import NeuronIOFile, find_neuronio_files, read_neuronio_file

__all__ = [
    "SOMA_THRESHOLD_MV",
    "SOMA_BIAS_MV",
    "SOMA_SCALE",
    "WINDOW_MS",
    "BURN_IN_MS",
    "IGNORE_START_MS",
    "SimRef",
    "preprocess_soma",
    "soma_from_training_units",
    "load_neuronio_files",
    "all_simulations",
    "NeuronIOSplit",
    "split_neuronio",
    "simulation_inputs",
    "NeuronIOWindowDataset",
    "NeuronIOSimulationDataset",
]

SOMA_THRESHOLD_MV = -55.0
"""Soma voltage is capped at this value (mV): spikes are removed from the voltage target."""
SOMA_BIAS_MV = -67.7
"""Bias subtracted from the capped soma voltage (mV)."""
SOMA_SCALE = 0.1
"""Scale of the voltage target in training units (1/10)."""
WINDOW_MS = 500
"""Training/evaluation window length (ms)."""
BURN_IN_MS = 150
"""Leading part of a window excluded from loss and metrics (ms)."""
IGNORE_START_MS = 500
"""Leading part of each simulation excluded from training windows and from evaluation (ms)."""

SimRef = tuple[int, int]
"""(file index, simulation index) into a sequence of :class:`NeuronIOFile`."""

_A = TypeVar("_A", np.ndarray, torch.Tensor)


def preprocess_soma(
    soma_mv: _A,
    threshold_mv: float = SOMA_THRESHOLD_MV,
    bias_mv: float = SOMA_BIAS_MV,
    scale: float = SOMA_SCALE,
) -> _A:
    """Voltage target in training units: ``(min(v, threshold) - bias) * scale``.

    Args:
        soma_mv: soma voltage (mV), numpy array or tensor, any shape.

    Returns:
        Same type and shape (dimensionless training units; 1 unit = 10 mV by default).
    """
    if isinstance(soma_mv, torch.Tensor):
        return (torch.clamp(soma_mv, max=threshold_mv) - bias_mv) * scale
    if isinstance(soma_mv, np.ndarray):
        return ((np.minimum(soma_mv, threshold_mv) - bias_mv) * scale).astype(
            soma_mv.dtype, copy=False
        )
    raise TypeError(f"soma_mv: expected a numpy array or tensor, got {type(soma_mv).__name__}")


def soma_from_training_units(y: _A, bias_mv: float = SOMA_BIAS_MV, scale: float = SOMA_SCALE) -> _A:
    """Inverse of the affine part of :func:`preprocess_soma`: ``y / scale + bias`` (mV)."""
    if not isinstance(y, np.ndarray | torch.Tensor):
        raise TypeError(f"y: expected a numpy array or tensor, got {type(y).__name__}")
    return y / scale + bias_mv


def load_neuronio_files(
    sources: str | os.PathLike | Iterable[str | os.PathLike], encoding: str | None = None
) -> list[NeuronIOFile]:
    """Read every NeuronIO file (pickle or compact) of ``sources`` into memory, sorted by path.

    Inputs are held sparse; the soma voltage takes S x T x 4 bytes per file (3 MB for a real
    128 x 6000 file).
    """
    return [read_neuronio_file(p, encoding=encoding) for p in find_neuronio_files(sources)]


def _check_files(files: Sequence[NeuronIOFile]) -> None:
    if isinstance(files, NeuronIOFile) or not isinstance(files, Sequence):
        raise TypeError(f"files: expected a sequence of NeuronIOFile, got {type(files).__name__}")
    if not files:
        raise ValueError("files: expected at least one NeuronIOFile, got none")
    for i, f in enumerate(files):
        if not isinstance(f, NeuronIOFile):
            raise TypeError(f"files[{i}]: expected a NeuronIOFile, got {type(f).__name__}")
    segs = {f.num_segments for f in files}
    if len(segs) != 1:
        raise ValueError(f"files: all files must have the same number of segments, got {segs}")


def all_simulations(files: Sequence[NeuronIOFile]) -> list[SimRef]:
    """Every (file index, simulation index) of ``files``, in order."""
    return [(i, k) for i, f in enumerate(files) for k in range(f.num_simulations)]


def _check_refs(files: Sequence[NeuronIOFile], refs: Sequence[SimRef] | None) -> list[SimRef]:
    if refs is None:
        out = all_simulations(files)
    else:
        out = []
        for r in refs:
            try:
                fi, si = (int(r[0]), int(r[1]))
            except (TypeError, ValueError, IndexError):
                raise TypeError(
                    f"simulations: expected (file index, simulation index) pairs, got {r!r}"
                ) from None
            if not 0 <= fi < len(files) or not 0 <= si < files[fi].num_simulations:
                raise IndexError(
                    f"simulations: {r!r} is out of range ({len(files)} files; file {fi} has "
                    f"{files[fi].num_simulations if 0 <= fi < len(files) else '?'} simulations)"
                )
            out.append((fi, si))
    if not out:
        raise ValueError("simulations: expected at least one simulation, got none")
    return out


@dataclasses.dataclass(frozen=True)
class NeuronIOSplit:
    """Disjoint train/validation/test simulation lists (each a tuple of :data:`SimRef`)."""

    train: tuple[SimRef, ...]
    valid: tuple[SimRef, ...]
    test: tuple[SimRef, ...]


def _largest_remainder(n: int, fractions: Sequence[float]) -> list[int]:
    raw = [f * n for f in fractions]
    counts = [int(np.floor(x)) for x in raw]
    rest = n - sum(counts)
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - counts[i]), i))
    for i in order[:rest]:
        counts[i] += 1
    return counts


def split_neuronio(
    files: Sequence[NeuronIOFile],
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    by: str = "file",
) -> NeuronIOSplit:
    """Deterministic seeded split into train/validation/test.

    ``by="file"`` keeps each file's simulations together (as the official setup, which uses
    separate files/folders for train, validation and test); ``by="simulation"`` splits the
    simulations themselves. Units are shuffled with ``numpy.random.default_rng(seed)`` and
    cut by the fractions (largest-remainder rounding); every part with a positive fraction
    gets at least one unit or a ``ValueError`` is raised.

    Args:
        files: the files, in a fixed order (e.g. from :func:`load_neuronio_files`).
        fractions: (train, valid, test), non-negative, summing to 1.
        seed: non-negative integer.
        by: ``"file"`` or ``"simulation"``.
    """
    _check_files(files)
    if by not in ("file", "simulation"):
        raise ValueError(f"by: expected 'file' or 'simulation', got {by!r}")
    fr = [float(x) for x in fractions]
    if len(fr) != 3 or any(x < 0 or not np.isfinite(x) for x in fr) or abs(sum(fr) - 1) > 1e-9:
        raise ValueError(
            f"fractions: expected three non-negative numbers summing to 1, got {tuple(fractions)}"
        )
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed: expected a non-negative integer, got {seed!r}")
    units: list[list[SimRef]]
    if by == "file":
        units = [[(i, k) for k in range(f.num_simulations)] for i, f in enumerate(files)]
    else:
        units = [[r] for r in all_simulations(files)]
    perm = np.random.default_rng(int(seed)).permutation(len(units))
    counts = _largest_remainder(len(units), fr)
    for name, f, c in zip(("train", "valid", "test"), fr, counts, strict=True):
        if f > 0 and c == 0:
            raise ValueError(
                f"fractions: the {name} part gets no {by} out of {len(units)}; use more data, "
                f"other fractions or by='simulation'"
            )
    parts: list[tuple[SimRef, ...]] = []
    start = 0
    for c in counts:
        chosen = sorted(r for u in perm[start : start + c] for r in units[u])
        parts.append(tuple(chosen))
        start += c
    return NeuronIOSplit(train=parts[0], valid=parts[1], test=parts[2])


def simulation_inputs(
    f: NeuronIOFile, sim: int, start: int = 0, stop: int | None = None
) -> np.ndarray:
    """(stop - start, 2n) float32 signed input of simulation ``sim`` (+1 exc., -1 inh. spikes)."""
    times, rows = f.input_events(sim, start, stop)
    stop = f.duration_ms if stop is None else int(stop)
    x = np.zeros((stop - int(start), f.num_inputs), dtype=np.float32)
    x[times, rows] = np.where(rows < f.num_segments, 1.0, -1.0).astype(np.float32)
    return x


class NeuronIOWindowDataset(Dataset):
    """Random training windows, deterministic per (seed, epoch, index).

    Item ``i`` draws, with ``numpy.random.default_rng((seed, epoch, i))``, a simulation
    uniformly from ``simulations`` and a start uniformly from
    ``[ignore_start_ms, T - window_ms]`` (inclusive), and returns

    * ``X``: (window_ms, 2n) float32 signed input (+1 excitatory, -1 inhibitory spikes),
    * ``spikes``: (window_ms,) float32 0/1 output spike raster,
    * ``voltage``: (window_ms,) float32 :func:`preprocess_soma` of the soma voltage.

    A ``DataLoader`` stacks them batch-first ((B, T, 2n)); models here are time-major, so
    transpose with ``X.transpose(0, 1)``. Call :meth:`set_epoch` each epoch for new windows.
    The official loader draws starts from ``[500, T - 500)`` (exclusive end) and samples
    simulations without replacement within a batch from one file at a time; these
    differences do not change the window distribution materially.

    Args:
        files: loaded files (:func:`load_neuronio_files`).
        simulations: the (file, simulation) pairs to draw from (e.g. ``split.train``);
            default all.
        num_windows: items per epoch (``len(dataset)``).
        window_ms: window length (ms).
        ignore_start_ms: earliest window start (ms).
        seed: non-negative integer.
        epoch: initial epoch.
    """

    def __init__(
        self,
        files: Sequence[NeuronIOFile],
        simulations: Sequence[SimRef] | None = None,
        *,
        num_windows: int,
        window_ms: int = WINDOW_MS,
        ignore_start_ms: int = IGNORE_START_MS,
        seed: int = 0,
        epoch: int = 0,
    ) -> None:
        _check_files(files)
        self.files = list(files)
        self.simulations = _check_refs(self.files, simulations)
        for name, v, lo in (
            ("num_windows", num_windows, 1),
            ("window_ms", window_ms, 1),
            ("ignore_start_ms", ignore_start_ms, 0),
            ("seed", seed, 0),
        ):
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < lo:
                raise ValueError(f"{name}: expected an integer >= {lo}, got {v!r}")
        self.num_windows = int(num_windows)
        self.window_ms = int(window_ms)
        self.ignore_start_ms = int(ignore_start_ms)
        self.seed = int(seed)
        shortest = min(self.files[fi].duration_ms for fi, _ in self.simulations)
        if self.ignore_start_ms + self.window_ms > shortest:
            raise ValueError(
                f"window_ms/ignore_start_ms: ignore_start_ms + window_ms = "
                f"{self.ignore_start_ms + self.window_ms} ms exceeds the shortest simulation "
                f"({shortest} ms)"
            )
        self.epoch = 0
        self.set_epoch(epoch)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose windows the dataset returns."""
        if isinstance(epoch, bool) or not isinstance(epoch, int | np.integer) or epoch < 0:
            raise ValueError(f"epoch: expected a non-negative integer, got {epoch!r}")
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.num_windows

    def draw(self, index: int) -> tuple[SimRef, int]:
        """The (simulation, start ms) of item ``index`` in the current epoch."""
        if not 0 <= index < self.num_windows:
            raise IndexError(f"index: expected 0 <= index < {self.num_windows}, got {index}")
        rng = np.random.default_rng((self.seed, self.epoch, int(index)))
        ref = self.simulations[int(rng.integers(len(self.simulations)))]
        T = self.files[ref[0]].duration_ms
        start = int(rng.integers(self.ignore_start_ms, T - self.window_ms + 1))
        return ref, start

    def window(self, ref: SimRef, start: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(X, spikes, voltage)`` of the window of simulation ``ref`` starting at ``start`` ms."""
        f = self.files[ref[0]]
        stop = start + self.window_ms
        x = simulation_inputs(f, ref[1], start, stop)
        spikes = f.output_raster(ref[1], start, stop).astype(np.float32)
        volt = preprocess_soma(f.soma_voltage_mv[ref[1], start:stop])
        return torch.from_numpy(x), torch.from_numpy(spikes), torch.from_numpy(volt.copy())

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        ref, start = self.draw(index)
        return self.window(ref, start)


class NeuronIOSimulationDataset(Dataset):
    """Whole simulations: item ``i`` is ``(X (T, 2n) float32 signed, spikes (T,), soma_mv (T,))``.

    ``soma_mv`` is the raw soma voltage (mV, float32, not capped). Meant for inspection and
    plotting; evaluation goes through :func:`elm_snn.data.neuronio_eval.evaluate_neuronio`.
    """

    def __init__(
        self, files: Sequence[NeuronIOFile], simulations: Sequence[SimRef] | None = None
    ) -> None:
        _check_files(files)
        self.files = list(files)
        self.simulations = _check_refs(self.files, simulations)

    def __len__(self) -> int:
        return len(self.simulations)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        fi, si = self.simulations[index]
        f = self.files[fi]
        return (
            torch.from_numpy(simulation_inputs(f, si)),
            torch.from_numpy(f.output_raster(si).astype(np.float32)),
            torch.from_numpy(f.soma_voltage_mv[si].copy()),
        )
