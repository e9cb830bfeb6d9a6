COMMENT
Submembrane Ca2+ concentration ("CaDynamics_E2" of Hay et al. 2011; after Destexhe et al.
1994), written for elm-snn from the published equation: a shell of depth d under the
membrane takes the fraction gamma of the Ca2+ influx and relaxes to min_cai with time
constant decay,
    dcai/dt = -1e4 gamma ica/(2 F d) - (cai - min_cai)/decay
(ica in mA/cm2, d in um, 1e4 converts the units to mM/ms).
ENDCOMMENT

NEURON {
    SUFFIX ElmSnnCaDyn
    USEION ca READ ica WRITE cai
    RANGE gamma, decay, depth, min_cai
}

UNITS {
    (mV) = (millivolt)
    (mA) = (milliamp)
    (mM) = (milli/liter)
    (um) = (micron)
    FARADAY = (faraday) (coulombs)
}

PARAMETER {
    gamma = 0.05 (1)
    decay = 80 (ms)
    depth = 0.1 (um)
    min_cai = 1e-4 (mM)
}

ASSIGNED {
    ica (mA/cm2)
}

STATE { cai (mM) }

BREAKPOINT {
    SOLVE conc METHOD cnexp
}

DERIVATIVE conc {
    cai' = -(10000) * (ica * gamma / (2 * FARADAY * depth)) - (cai - min_cai) / decay
}
