COMMENT
Persistent K+ current ("K_Pst" of Hay et al. 2011; Korngreen & Sakmann 2000, shifted by
-10 mV for the junction potential), written for elm-snn from the published equations, with
u = v + 10 mV and qt = 2.3^((celsius - 21)/10):
    ik = gbar m^2 h (v - ek)
    m_inf = 1/(1 + exp(-(u + 1)/12))
    tau_m = (1.25 + 175.03 exp(0.026 u))/qt for u < -50 mV, (1.25 + 13 exp(-0.026 u))/qt otherwise
    h_inf = 1/(1 + exp((u + 54)/11))
    tau_h = (360 + (1010 + 24 (u + 55)) exp(-((u + 75)/48)^2))/qt
ENDCOMMENT

NEURON {
    SUFFIX ElmSnnKPst
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
    ik = gbar * m * m * h * (v - ek)
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
    minf = 1 / (1 + exp(-(u + 1) / 12))
    if (u < -50) {
        mtau = (1.25 + 175.03 * exp(0.026 * u)) / qt
    } else {
        mtau = (1.25 + 13 * exp(-0.026 * u)) / qt
    }
    hinf = 1 / (1 + exp((u + 54) / 11))
    htau = (360 + (1010 + 24 * (u + 55)) * exp(-((u + 75) / 48) ^ 2)) / qt
    UNITSON
}
