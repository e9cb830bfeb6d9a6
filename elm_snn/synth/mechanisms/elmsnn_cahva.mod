COMMENT
High-voltage-activated Ca2+ current ("Ca_HVA" of Hay et al. 2011; after Reuveni et al.
1993), written for elm-snn from the published equations (no temperature factor, as
published):
    ica = gbar m^2 h (v - eca)
    alpha_m = 0.055 (-27 - v)/(exp((-27 - v)/3.8) - 1),  beta_m = 0.94 exp((-75 - v)/17)
    alpha_h = 0.000457 exp((-13 - v)/50),              beta_h = 0.0065/(exp((-v - 15)/28) + 1)
    x_inf = alpha/(alpha + beta),  tau_x = 1/(alpha + beta)
ENDCOMMENT

NEURON {
    SUFFIX ElmSnnCaHVA
    USEION ca READ eca WRITE ica
    RANGE gbar, ica
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
    eca (mV)
    ica (mA/cm2)
    minf
    mtau (ms)
    hinf
    htau (ms)
}

STATE { m h }

BREAKPOINT {
    SOLVE gates METHOD cnexp
    ica = gbar * m * m * h * (v - eca)
}

INITIAL {
    settables(v)
    m = minf
    h = hinf
}

DERIVATIVE gates {
    settables(v)
    m' = (minf - m) / mtau
    h' = (hinf - h) / htau
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
    LOCAL am, bm, ah, bh
    UNITSOFF
    am = 0.055 * 3.8 * efun((-27 - vm) / 3.8)
    bm = 0.94 * exp((-75 - vm) / 17)
    ah = 0.000457 * exp((-13 - vm) / 50)
    bh = 0.0065 / (exp((-vm - 15) / 28) + 1)
    minf = am / (am + bm)
    mtau = 1 / (am + bm)
    hinf = ah / (ah + bh)
    htau = 1 / (ah + bh)
    UNITSON
}
