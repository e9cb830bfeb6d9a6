COMMENT
Transient Na+ current for elm-snn's active NeuronIO-style cell (elm_snn.synth.neuronio_sim),
written for elm-snn from the published equations of Hay et al. (2011, PLoS Comput Biol 7:
e1002107; kinetics of Colbert & Pan 2002), "NaTa_t" (axon: vm50 = -38, vh50 = -66 mV) and
"NaTs2_t" (soma and apical dendrites: vm50 = -32, vh50 = -60 mV):
    ina = gbar m^3 h (v - ena)
    alpha_m = 0.182 (v - vm50) / (1 - exp(-(v - vm50)/6)),  beta_m = 0.124 (vm50 - v) / (1 - exp((v - vm50)/6))
    alpha_h = 0.015 (vh50 - v) / (1 - exp((v - vh50)/6)),  beta_h = 0.015 (v - vh50) / (1 - exp((vh50 - v)/6))
    x_inf = alpha/(alpha + beta),  tau_x = 1/((alpha + beta) qt),  qt = 2.3^((celsius - 21)/10)
The removable singularities are evaluated with rate6(z) = 6 z/(exp(z) - 1) (its limit 6 at z = 0).
ENDCOMMENT

NEURON {
    SUFFIX ElmSnnNaT
    USEION na READ ena WRITE ina
    RANGE gbar, vm50, vh50, ina
}

UNITS {
    (S) = (siemens)
    (mV) = (millivolt)
    (mA) = (milliamp)
}

PARAMETER {
    gbar = 0 (S/cm2)
    vm50 = -38 (mV)
    vh50 = -66 (mV)
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

FUNCTION rate6(z) {
    if (fabs(z) < 1e-6) {
        rate6 = 6 * (1 - z / 2)
    } else {
        rate6 = 6 * z / (exp(z) - 1)
    }
}

PROCEDURE settables(vm (mV)) {
    LOCAL am, bm, ah, bh, qt
    UNITSOFF
    qt = 2.3 ^ ((celsius - 21) / 10)
    am = 0.182 * rate6(-(vm - vm50) / 6)
    bm = 0.124 * rate6((vm - vm50) / 6)
    ah = 0.015 * rate6((vm - vh50) / 6)
    bh = 0.015 * rate6(-(vm - vh50) / 6)
    minf = am / (am + bm)
    mtau = 1 / ((am + bm) * qt)
    hinf = ah / (ah + bh)
    htau = 1 / ((ah + bh) * qt)
    UNITSON
}
