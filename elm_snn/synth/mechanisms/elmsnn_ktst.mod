COMMENT
Transient K+ current ("K_Tst" of Hay et al. 2011; Korngreen & Sakmann 2000, shifted by
-10 mV), written for elm-snn from the published equations, with u = v + 10 mV and
qt = 2.3^((celsius - 21)/10):
    ik = gbar m^4 h (v - ek)
    m_inf = 1/(1 + exp(-u/19)),         tau_m = (0.34 + 0.92 exp(-((u + 71)/59)^2))/qt
    h_inf = 1/(1 + exp((u + 66)/10)),   tau_h = (8 + 49 exp(-((u + 73)/23)^2))/qt
ENDCOMMENT

NEURON {
    SUFFIX ElmSnnKTst
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
    hinf
    htau (ms)
}

STATE { m h }

BREAKPOINT {
    SOLVE gates METHOD cnexp
    ik = gbar * m * m * m * m * h * (v - ek)
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

PROCEDURE settables(vm (mV)) {
    LOCAL u, qt
    UNITSOFF
    qt = 2.3 ^ ((celsius - 21) / 10)
    u = vm + 10
    minf = 1 / (1 + exp(-u / 19))
    mtau = (0.34 + 0.92 * exp(-((u + 71) / 59) ^ 2)) / qt
    hinf = 1 / (1 + exp((u + 66) / 10))
    htau = (8 + 49 * exp(-((u + 73) / 23) ^ 2)) / qt
    UNITSON
}
