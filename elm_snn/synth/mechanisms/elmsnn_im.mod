COMMENT
Muscarinic K+ current ("Im" of Hay et al. 2011; after Adams et al. 1982), written for elm-snn
from the published equations, qt = 2.3^((celsius - 21)/10):
    ik = gbar m (v - ek)
    alpha_m = 3.3e-3 exp(0.1 (v + 35)),  beta_m = 3.3e-3 exp(-0.1 (v + 35))  (1/ms)
    m_inf = alpha_m/(alpha_m + beta_m),  tau_m = 1/((alpha_m + beta_m) qt)
ENDCOMMENT

NEURON {
    SUFFIX ElmSnnIm
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
    celsius (degC)
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
    LOCAL am, bm, qt
    UNITSOFF
    qt = 2.3 ^ ((celsius - 21) / 10)
    am = 3.3e-3 * exp(0.1 * (vm + 35))
    bm = 3.3e-3 * exp(-0.1 * (vm + 35))
    minf = am / (am + bm)
    mtau = 1 / ((am + bm) * qt)
    UNITSON
}
