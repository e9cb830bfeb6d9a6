"""NeuronIO files: a safe reader and a writer of the original pickle layout, and a compact format.

NeuronIO (Beniaguev, Segev & London 2021) is distributed as folders of Python pickle files
whose names contain ``sim__``. One file unpickles to::

    {"Params":  {"allSegmentsType": [...],          # one entry per dendritic segment
                 "allSegments_DistFromSoma": [...],  # um, one per segment
                 "totalSimDurationInSec": 6, ...},
     "Results": {"listOfSingleSimulationDicts": [     # 128 simulations per real file
                   {"exInputSpikeTimes":  {segment: [t_ms, ...], ...},  # integer ms
                    "inhInputSpikeTimes": {segment: [t_ms, ...], ...},
                    "outputSpikeTimes":   float array, ms,
                    "somaVoltageLowRes":  float array, one value per ms (mV), ...}, ...]}}

The model input is a binary raster of ``2 * num_segments`` rows (1278 for the 639-segment
L5PC): rows ``0..num_segments-1`` excitatory, then inhibitory, one column per ms. An output
spike at time ``t`` ms falls into bin ``int(t - 0.5)`` (truncation toward zero, as the
official code does with ``(t.astype(float) - 0.5).astype(int)``).

**Safety.** Unpickling runs code named by the file. :func:`load_neuronio_pickle` uses a
restricted unpickler that admits only the globals numpy arrays, numpy scalars and dtypes
pickle to, plus ``set``/``frozenset``/``bytearray`` and ``_codecs.encode`` (how Python 3
writes ``bytes`` in protocol 2); everything else raises :class:`NeuronIOFormatError` naming
the refused ``module.name`` before anything runs. What the file can make the reader
allocate is bounded by its size (16 bytes per file byte + 16 MiB: ``bytes(n)``,
``bytearray(n)``, numpy arrays and scalars are charged before they are made, and memo
indices above the file's size are refused before unpickling), so a tiny hostile file cannot
ask for gigabytes. Python-2-era files are read with encoding
``"ASCII"`` and, on a decode error, ``"latin1"`` (the official code's rule).

**Compact format.** :func:`convert_neuronio_folder` turns each pickle file into one HDF5 file
(sparse input spikes, raw output spike times, float32 soma voltage; no code execution on
read) so that big folders are parsed once. :func:`read_neuronio_file` reads either kind.

Soma voltages are held as float32 in memory (the real files store float16, so nothing is
lost for them). Only numpy is imported at module level; h5py is imported when needed.

The code is split by concern (all names are re-exported here, so
``from elm_snn.data.neuronio import ...`` is the public path):

* :mod:`~elm_snn.data.neuronio.layout`: format constants, :class:`NeuronIOSimulation`;
* :mod:`~elm_snn.data.neuronio.writer`: :func:`write_neuronio_pickle`;
* :mod:`~elm_snn.data.neuronio.unpickle`: the restricted unpickler, :func:`load_neuronio_pickle`;
* :mod:`~elm_snn.data.neuronio.container`: :class:`NeuronIOFile`, :func:`read_neuronio_pickle`;
* :mod:`~elm_snn.data.neuronio.compact`: the compact HDF5 format;
* :mod:`~elm_snn.data.neuronio.convert`: :func:`read_neuronio_file` (either kind), folder
  search and :func:`convert_neuronio_folder`;

``elm-snn data neuronio-convert`` is :mod:`elm_snn.cli.data.neuronio_convert`.
"""

from __future__ import annotations

from elm_snn.data.neuronio.compact import read_neuronio_compact, write_neuronio_compact
from elm_snn.data.neuronio.container import NeuronIOFile, NeuronIOSample, read_neuronio_pickle
from elm_snn.data.neuronio.convert import (
    convert_neuronio_folder,
    find_neuronio_files,
    iter_neuronio_simulations,
    read_neuronio_file,
)
from elm_snn.data.neuronio.layout import (
    COMPACT_FORMAT_NAME,
    COMPACT_FORMAT_VERSION,
    NEURONIO_NUM_INPUTS,
    NEURONIO_NUM_SEGMENTS,
    NEURONIO_SIM_DURATION_MS,
    NEURONIO_SIMS_PER_FILE,
    NeuronIOFormatError,
    NeuronIOSimulation,
    output_spike_bins,
    synapse_types,
)
from elm_snn.data.neuronio.unpickle import load_neuronio_pickle
from elm_snn.data.neuronio.writer import write_neuronio_pickle

__all__ = [
    "NEURONIO_NUM_SEGMENTS",
    "NEURONIO_NUM_INPUTS",
    "NEURONIO_SIM_DURATION_MS",
    "NEURONIO_SIMS_PER_FILE",
    "COMPACT_FORMAT_NAME",
    "COMPACT_FORMAT_VERSION",
    "NeuronIOFormatError",
    "NeuronIOSimulation",
    "NeuronIOSample",
    "NeuronIOFile",
    "synapse_types",
    "output_spike_bins",
    "write_neuronio_pickle",
    "load_neuronio_pickle",
    "read_neuronio_pickle",
    "read_neuronio_file",
    "find_neuronio_files",
    "iter_neuronio_simulations",
    "write_neuronio_compact",
    "read_neuronio_compact",
    "convert_neuronio_folder",
]
