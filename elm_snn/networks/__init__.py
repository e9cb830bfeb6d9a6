"""Assembled baseline models: the paper's E/I spiking network, LSTM, Chrono-LSTM, readouts."""

from .eisnn import EISNN, EISNNRecord, EISNNState, draw_synapses
from .lstm import LSTM, ChronoLSTM, chrono_bias
from .readout import SequenceClassifier, last_step, low_pass

__all__ = [
    "EISNN",
    "LSTM",
    "ChronoLSTM",
    "EISNNRecord",
    "EISNNState",
    "SequenceClassifier",
    "chrono_bias",
    "draw_synapses",
    "last_step",
    "low_pass",
]
