COMMENT
Low-voltage-activated Ca2+ current ("Ca_LVAst" of Hay et al. 2011; after Avery & Johnston
1996 and Randall & Tsien 1997, shifted by -10 mV), written for elm-snn from the published
equations, with u = v + 10 mV and qt = 2.3^((celsius - 21)/10):
    ica = gbar m^2 h (v - eca)
    m_inf = 1/(1 + exp(-(u + 30)/6)),    tau_m = (5 + 20/(1 + exp((u + 25)/5)))/qt
    h_inf = 1/(1 + exp((u + 80)/6.4)),   tau_h = (20 + 50/(1 + exp((u + 40)/7)))/qt
ENDCOMMENT

NEURON {
    SUFFIX ElmSnnCaLVA
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
    celsius (degC)
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

PROCEDURE settables(vm (mV)) {
    LOCAL u, qt
    UNITSOFF
    qt = 2.3 ^ ((celsius - 21) / 10)
    u = vm + 10
    minf = 1 / (1 + exp(-(u + 30) / 6))
    mtau = (5 + 20 / (1 + exp((u + 25) / 5))) / qt
    hinf = 1 / (1 + exp((u + 80) / 6.4))
    htau = (20 + 50 / (1 + exp((u + 40) / 7))) / qt
    UNITSON
}
