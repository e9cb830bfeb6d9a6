"""Assembled baseline models: the paper's E/I spiking network, LSTM, Chrono-LSTM, readouts."""

from .eisnn import EISNN, EISNNRecord, EISNNState, draw_synapses
from .lstm import LSTM, ChronoLSTM, LSTMState, chrono_bias
from .readout import AGGREGATIONS, READOUTS, SequenceClassifier, aggregate, last_step, low_pass

__all__ = [
    "AGGREGATIONS",
    "READOUTS",
    "EISNN",
    "LSTM",
    "ChronoLSTM",
    "LSTMState",
    "EISNNRecord",
    "EISNNState",
    "SequenceClassifier",
    "aggregate",
    "chrono_bias",
    "draw_synapses",
    "last_step",
    "low_pass",
]
