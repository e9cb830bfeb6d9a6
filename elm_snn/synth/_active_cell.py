"""Active (L5PC-like) membrane of the NeuronIO-style cell: the channels and densities of Hay
et al. (2011) on elm-snn's own morphology (:mod:`elm_snn.synth._morphology`).

Channels (NMODL files ``elm_snn/synth/mechanisms/elmsnn_*.mod``, written for elm-snn from the
published equations; each file states them): transient Na+ (``ElmSnnNaT``: Hay's ``NaTa_t``
in the axon, ``NaTs2_t`` in soma and apical dendrites), persistent Na+ (``ElmSnnNaP``),
K+ currents Kv3.1 (``ElmSnnKv3``), K_Pst, K_Tst, SK (Ca2+-activated), Im (muscarinic),
Ca2+ currents HVA and LVA with a submembrane Ca2+ shell (``ElmSnnCaDyn``), and Ih.

Densities (S/cm2) and Ca2+ dynamics: Hay et al.'s model as Beniaguev et al. (2021) used it
to generate NeuronIO, i.e. the Hay et al. (2011) channels with the densities of the
biophysics file ``L5PCbiophys5b.hoc`` ("constrained both for BAC firing and current step
firing with AP initiation in the axon", Hay, for Shai et al. 2015), read from the public
repository of Beniaguev et al. (github.com/SelfishGene/neuron_as_deep_net):

==========  ==========  ==========  =================================================
channel     axon        soma        apical (trunk, obliques, tuft)
==========  ==========  ==========  =================================================
NaT         3.89618     0.998912    0.021489
NaP         0.005834    -           -
Kv3.1       0.473799    0.338029    0.001808
K_Pst       0.188851    -           -
K_Tst       0.077274    -           -
SK          0.000047    0.09965     0.000002
Im          0.013322    0.000008    0.00099
Ca HVA      0.000222    0.000644    0.000701
Ca LVA      0.000813    0.000557    0.2271264 in the hot zone, 0.002271264 elsewhere
Ih          0.00005     0.000075    0.0001 (-0.8696 + 2.087 exp(3.6161 min(x, 0.65)))
Ca shell    gamma 0.000525, decay 277.3 ms; 0.000509, 294.7 ms; 0.000637, 35.7 ms
==========  ==========  ==========  =================================================

Basal dendrites: Ih 0.00005 only. Everywhere: leak ``pas`` with E -90 mV, g 3e-5 S/cm2
(soma, axon) or 6e-5 S/cm2 with cm 2 uF/cm2 (basal and apical: Hay's spine correction),
cm 1 uF/cm2 and Ra 100 ohm cm otherwise; E_K -85 mV, E_Na 50 mV; 34 degC. In the apical
Ih profile ``x`` is the path distance from the soma divided by the longest apical path
(ours: 1110 um), so Ih grows exponentially along the trunk and stays flat beyond 0.65 of
the way (Hay's distribution type 4).

Our choices (the morphology is smaller than the reconstructed L5PC):

* the Ca2+ hot zone: Hay et al. put it 685-885 um from the soma, around the main
  bifurcation of their cell; our trunk bifurcates at 610 um, so the zone (the same 200 um)
  runs from 75 um before to 125 um after our bifurcation, 535-735 um (:data:`HOT_ZONE_UM`);
* the axon keeps our three sections (hillock, initial segment, stub; 240 um) with the axonal
  densities, where Hay et al. / Beniaguev et al. use a 60 um stub;
* the resting state is found by integrating the cell without input (fully implicit,
  :data:`REST_STEPS` steps of :data:`REST_DT_MS` ms) before every simulation, so no
  start-up transient enters the data.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ACTIVE_CELSIUS",
    "AXON",
    "SOMA",
    "APICAL",
    "BASAL",
    "HOT_ZONE_UM",
    "LONGEST_APICAL_PATH_UM",
    "insert_active_membrane",
    "ih_apical",
    "ca_lva_apical",
]

#: temperature of the Hay et al. simulations (degC); the channels' Q10 factors refer to it
ACTIVE_CELSIUS = 34.0
E_PAS_MV = -90.0
EK_MV = -85.0
ENA_MV = 50.0

# mechanism -> {parameter: value}; "pas" holds g (S/cm2); "cm" in uF/cm2
AXON: dict[str, dict[str, float]] = {
    "ElmSnnNaT": {"gbar": 3.89618, "vm50": -38.0, "vh50": -66.0},  # NaTa_t
    "ElmSnnNaP": {"gbar": 0.005834},
    "ElmSnnKv3": {"gbar": 0.473799},
    "ElmSnnKPst": {"gbar": 0.188851},
    "ElmSnnKTst": {"gbar": 0.077274},
    "ElmSnnSK": {"gbar": 0.000047},
    "ElmSnnIm": {"gbar": 0.013322},
    "ElmSnnCaHVA": {"gbar": 0.000222},
    "ElmSnnCaLVA": {"gbar": 0.000813},
    "ElmSnnCaDyn": {"gamma": 0.000525, "decay": 277.300774},
    "ElmSnnIh": {"gbar": 0.0001 / 2},
    "pas": {"g": 3e-5},
}
SOMA: dict[str, dict[str, float]] = {
    "ElmSnnNaT": {"gbar": 0.998912, "vm50": -32.0, "vh50": -60.0},  # NaTs2_t
    "ElmSnnKv3": {"gbar": 0.338029},
    "ElmSnnSK": {"gbar": 0.09965},
    "ElmSnnIm": {"gbar": 0.000008},
    "ElmSnnCaHVA": {"gbar": 0.000644},
    "ElmSnnCaLVA": {"gbar": 0.000557},
    "ElmSnnCaDyn": {"gamma": 0.000509, "decay": 294.679571},
    "ElmSnnIh": {"gbar": 0.0001 * 0.75},
    "pas": {"g": 3e-5},
}
APICAL: dict[str, dict[str, float]] = {
    "ElmSnnNaT": {"gbar": 0.021489, "vm50": -32.0, "vh50": -60.0},  # NaTs2_t
    "ElmSnnKv3": {"gbar": 0.001808},
    "ElmSnnSK": {"gbar": 0.000002},
    "ElmSnnIm": {"gbar": 0.00099},
    "ElmSnnCaHVA": {"gbar": 0.000701},
    "ElmSnnCaLVA": {"gbar": 0.0},  # set per segment: ca_lva_apical
    "ElmSnnCaDyn": {"gamma": 0.000637, "decay": 35.725651},
    "ElmSnnIh": {"gbar": 0.0},  # set per segment: ih_apical
    "pas": {"g": 6e-5},
}
BASAL: dict[str, dict[str, float]] = {
    "ElmSnnIh": {"gbar": 0.0001 / 2},
    "pas": {"g": 6e-5},
}
SPINE_CM_UF_CM2 = 2.0  # basal and apical membrane capacitance (Hay's spine correction)
#: apical path distances (um) of the Ca2+ hot zone (see the module docstring)
HOT_ZONE_UM = (535.0, 735.0)
#: soma centre to the tip of the longest apical path of the morphology (um)
LONGEST_APICAL_PATH_UM = 1110.0
#: resting-state search before each simulation: fully implicit steps without input
REST_DT_MS = 5.0
REST_STEPS = 400


def ih_apical(distance_um: float) -> float:
    """Apical Ih density (S/cm2) at a path distance from the soma (Hay's type-4 profile)."""
    import math

    x = min(distance_um / LONGEST_APICAL_PATH_UM, 0.65)
    return 0.0001 * (-0.8696 + 2.087 * math.exp(3.6161 * x))


def ca_lva_apical(distance_um: float) -> float:
    """Apical LVA Ca2+ density (S/cm2): 100 times higher inside the hot zone."""
    peak = 0.141954 * 1.6
    lo, hi = HOT_ZONE_UM
    return peak if lo < distance_um < hi else 0.01 * peak


def _insert(sec: Any, mechanisms: dict[str, dict[str, float]]) -> None:
    for name, params in mechanisms.items():
        sec.insert(name)
        for seg in sec:
            mech = getattr(seg, name)
            for key, value in params.items():
                setattr(mech, key, value)
        if name == "pas":
            for seg in sec:
                seg.pas.e = E_PAS_MV


def insert_active_membrane(h: Any, sections: dict[str, Any], kinds: dict[str, str]) -> None:
    """Insert the active membrane into the sections of :func:`build_cell` (built without
    membrane mechanisms).

    Args:
        h: ``neuron.h`` (with the elm-snn mechanisms loaded).
        sections: section name -> ``h.Section``.
        kinds: section name -> kind (``"soma"``, ``"axon"``, ``"basal"``, ``"trunk"``,
            ``"oblique"``, ``"tuft"``).
    """
    soma = sections["soma"]
    for name, sec in sections.items():
        kind = kinds[name]
        if kind == "soma":
            _insert(sec, SOMA)
        elif kind == "axon":
            _insert(sec, AXON)
        elif kind == "basal":
            sec.cm = SPINE_CM_UF_CM2
            _insert(sec, BASAL)
        else:  # trunk, oblique, tuft: Hay's "apical"
            sec.cm = SPINE_CM_UF_CM2
            _insert(sec, APICAL)
            for seg in sec:
                d = h.distance(soma(0.5), seg)
                seg.ElmSnnIh.gbar = ih_apical(d)
                seg.ElmSnnCaLVA.gbar = ca_lva_apical(d)
        if hasattr(sec(0.5), "ElmSnnNaT"):
            sec.ena = ENA_MV
        if any(hasattr(sec(0.5), m) for m in ("ElmSnnKv3", "ElmSnnIm", "ElmSnnSK")):
            sec.ek = EK_MV
