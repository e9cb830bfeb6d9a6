COMMENT
Persistent Na+ current ("Nap_Et2" of Hay et al. 2011; kinetics after Magistretti & Alonso
1999), written for elm-snn from the published equations:
    ina = gbar m^3 h (v - ena)
    m_inf = 1/(1 + exp(-(v + 52.6)/4.6)),  tau_m = 6/((alpha_m + beta_m) qt), alpha_m, beta_m as
        the transient Na+ current's with vm50 = -38 mV
    h_inf = 1/(1 + exp((v + 48.8)/10)),    tau_h = 1/((alpha_h + beta_h) qt)
    alpha_h = 2.88e-6 (v + 17)/(exp((v + 17)/4.63) - 1)
    beta_h = 6.94e-6 (v + 64.4)/(1 - exp(-(v + 64.4)/2.63))
    qt = 2.3^((celsius - 21)/10)
ENDCOMMENT

NEURON {
    SUFFIX ElmSnnNaP
    USEION na READ ena WRITE ina
    RANGE gbar, ina
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
    ena (mV)
    ina (mA/cm2)
    celsius (degC)
    minf
    mtau (ms)
    hinf
    htau (ms)
}

STATE { m h }

BREAKPOINT {
    SOLVE gates METHOD cnexp
    ina = gbar * m * m * m * h * (v - ena)
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
    LOCAL am, bm, ah, bh, qt
    UNITSOFF
    qt = 2.3 ^ ((celsius - 21) / 10)
    am = 0.182 * 6 * efun(-(vm + 38) / 6)
    bm = 0.124 * 6 * efun((vm + 38) / 6)
    minf = 1 / (1 + exp(-(vm + 52.6) / 4.6))
    mtau = 6 / ((am + bm) * qt)
    ah = 2.88e-6 * 4.63 * efun((vm + 17) / 4.63)
    bh = 6.94e-6 * 2.63 * efun(-(vm + 64.4) / 2.63)
    hinf = 1 / (1 + exp((vm + 48.8) / 10))
    htau = 1 / ((ah + bh) * qt)
    UNITSON
}
