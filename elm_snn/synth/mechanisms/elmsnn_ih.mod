COMMENT
Hyperpolarisation-activated cation current ("Ih" of Hay et al. 2011; Kole, Hallermann &
Stuart 2006), written for elm-snn from the published equations (no temperature factor, as
published):
    ihcn = gbar m (v - ehcn),  ehcn = -45 mV
    alpha_m = 0.00643 (v + 154.9)/(exp((v + 154.9)/11.9) - 1),  beta_m = 0.193 exp(v/33.1)
    m_inf = alpha_m/(alpha_m + beta_m),  tau_m = 1/(alpha_m + beta_m)
ENDCOMMENT

NEURON {
    SUFFIX ElmSnnIh
    NONSPECIFIC_CURRENT ihcn
    RANGE gbar, ehcn, ihcn
}

UNITS {
    (S) = (siemens)
    (mV) = (millivolt)
    (mA) = (milliamp)
}

PARAMETER {
    gbar = 0 (S/cm2)
    ehcn = -45 (mV)
}

ASSIGNED {
    v (mV)
    ihcn (mA/cm2)
    minf
    mtau (ms)
}

STATE { m }

BREAKPOINT {
    SOLVE gates METHOD cnexp
    ihcn = gbar * m * (v - ehcn)
}

INITIAL {
    settables(v)
    m = minf
}

DERIVATIVE gates {
    settables(v)
    m' = (minf - m) / mtau
}

FUNCTION efun(z) {
    : z / (exp(z) - 1), with its limit 1 at z = 0
    if (fabs(z) < 1e-6) {
        efun = 1 - z / 2
    } else {
        efun = z / (exp(z) - 1)
    }
}

PROCEDURE settables(vm (mV)) {
    LOCAL am, bm
    UNITSOFF
    am = 0.001 * 6.43 * 11.9 * efun((vm + 154.9) / 11.9)
    bm = 0.001 * 193 * exp(vm / 33.1)
    minf = am / (am + bm)
    mtau = 1 / (am + bm)
    UNITSON
}
