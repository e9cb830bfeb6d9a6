COMMENT
Small-conductance Ca2+-activated K+ current ("SK_E2" of Hay et al. 2011; after Kohler et al.
1996), written for elm-snn from the published equations:
    ik = gbar z (v - ek),  z_inf = 1/(1 + (0.43 uM / cai)^4.8),  tau_z = 1 ms
(cai below 1e-7 mM is raised by 1e-7 mM, as published, so the power stays finite).
ENDCOMMENT

NEURON {
    SUFFIX ElmSnnSK
    USEION k READ ek WRITE ik
    USEION ca READ cai
    RANGE gbar, ik
}

UNITS {
    (S) = (siemens)
    (mV) = (millivolt)
    (mA) = (milliamp)
    (mM) = (milli/liter)
}

PARAMETER {
    gbar = 0 (S/cm2)
    ztau = 1 (ms)
}

ASSIGNED {
    v (mV)
    ek (mV)
    ik (mA/cm2)
    cai (mM)
    zinf
}

STATE { z }

BREAKPOINT {
    SOLVE gates METHOD cnexp
    ik = gbar * z * (v - ek)
}

INITIAL {
    settables(cai)
    z = zinf
}

DERIVATIVE gates {
    settables(cai)
    z' = (zinf - z) / ztau
}

PROCEDURE settables(ca (mM)) {
    LOCAL c
    UNITSOFF
    c = ca
    if (c < 1e-7) {
        c = c + 1e-7
    }
    zinf = 1 / (1 + (0.00043 / c) ^ 4.8)
    UNITSON
}
