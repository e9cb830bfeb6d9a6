"""Offline data makers: spoken digits in SHD's format, NeuronIO-style NEURON simulations.

Each maker needs the optional ``synth`` extra (``pip install elm-snn[synth]``); the
modules import their heavy dependencies lazily.
"""
