"""Assembled baseline models: the paper's E/I spiking network, LSTM, Chrono-LSTM, Beniaguev et
al.'s TCN, readouts."""

from .eisnn import EISNN, EISNNRecord, EISNNState, draw_synapses
from .lstm import LSTM, ChronoLSTM, LSTMState, chrono_bias
from .readout import AGGREGATIONS, READOUTS, SequenceClassifier, aggregate, last_step, low_pass
from .tcn import TCN, beniaguev_l5pc_tcn

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
    "TCN",
    "beniaguev_l5pc_tcn",
    "aggregate",
    "chrono_bias",
    "draw_synapses",
    "last_step",
    "low_pass",
]
