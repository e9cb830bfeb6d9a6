COMMENT
NMDA receptor synapse with a voltage-dependent Mg2+ block, for elm-snn's NeuronIO-style
generator (elm_snn.synth.neuronio_sim).

Conductance: a difference of two exponentials (rise tau1, decay tau2), normalised so that one
event of weight w (uS) gives a peak conductance of w, the same kinetics as NEURON's Exp2Syn.
Current: i = g * mgblock(v) * (v - e), with the Mg2+ block of Jahr & Stevens (1990),
    mgblock(v) = 1 / (1 + exp(-gamma * v) * mg / mg_k),  gamma = 0.062 /mV, mg_k = 3.57 mM.

Every event adds its weight linearly to the two conductance states, and the block multiplies
the summed conductance, so one ElmSnnNMDA object driven by several NetCons is exactly equivalent
to several ElmSnnNMDA objects on the same segment, each driven by one of those NetCons.
ENDCOMMENT

NEURON {
    POINT_PROCESS ElmSnnNMDA
    RANGE tau1, tau2, e, mg, gamma, mg_k, i, g, gblock
    NONSPECIFIC_CURRENT i
}

UNITS {
    (nA) = (nanoamp)
    (mV) = (millivolt)
    (uS) = (microsiemens)
    (mM) = (milli/liter)
}

PARAMETER {
    tau1 = 2 (ms) <1e-9, 1e9>
    tau2 = 70 (ms) <1e-9, 1e9>
    e = 0 (mV)
    mg = 1 (mM)
    gamma = 0.062 (/mV)
    mg_k = 3.57 (mM)
}

ASSIGNED {
    v (mV)
    i (nA)
    g (uS)
    gblock (uS)
    factor (1)
}

STATE {
    A (uS)
    B (uS)
}

INITIAL {
    LOCAL tpeak
    : tau1 must be strictly below tau2 (checked on the Python side before the run)
    A = 0
    B = 0
    tpeak = (tau1 * tau2) / (tau2 - tau1) * log(tau2 / tau1)
    factor = 1 / (exp(-tpeak / tau2) - exp(-tpeak / tau1))
}

BREAKPOINT {
    SOLVE kinetics METHOD cnexp
    g = B - A
    gblock = g * mgblock(v)
    i = gblock * (v - e)
}

DERIVATIVE kinetics {
    A' = -A / tau1
    B' = -B / tau2
}

FUNCTION mgblock(vm (mV)) (1) {
    mgblock = 1 / (1 + exp(-gamma * vm) * (mg / mg_k))
}

NET_RECEIVE(weight (uS)) {
    A = A + weight * factor
    B = B + weight * factor
}
