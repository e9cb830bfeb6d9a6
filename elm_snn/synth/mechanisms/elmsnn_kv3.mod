COMMENT
Fast, high-threshold K+ current ("SKv3_1" of Hay et al. 2011; after Rettig et al. 1992),
written for elm-snn from the published equations (no temperature factor, as published):
    ik = gbar m (v - ek)
    m_inf = 1/(1 + exp(-(v - 18.7)/9.7)),  tau_m = 4/(1 + exp(-(v + 46.56)/44.14)) ms
ENDCOMMENT

NEURON {
    SUFFIX ElmSnnKv3
    USEION k READ ek WRITE ik
    RANGE gbar, ik
}

UNITS {
    (S) = (siemens)
    (mV) = (millivolt)
    (mA) = (milliamp)
}

PARAMETER {
    gbar = 0 (S/cm2)
}

ASSIGNED {
    v (mV)
    ek (mV)
    ik (mA/cm2)
    minf
    mtau (ms)
}

STATE { m }

BREAKPOINT {
    SOLVE gates METHOD cnexp
    ik = gbar * m * (v - ek)
}

INITIAL {
    settables(v)
    m = minf
}

DERIVATIVE gates {
    settables(v)
    m' = (minf - m) / mtau
}

PROCEDURE settables(vm (mV)) {
    UNITSOFF
    minf = 1 / (1 + exp(-(vm - 18.7) / 9.7))
    mtau = 4 / (1 + exp(-(vm + 46.56) / 44.14))
    UNITSON
}
