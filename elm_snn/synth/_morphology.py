"""The fixed, hand-built morphology behind :mod:`elm_snn.synth.neuronio_sim`.

A pyramidal-like cell described in pure Python (no NEURON needed to read it): a soma, an axon
stub (hillock, initial segment, a short unmyelinated stretch), five basal trees that bifurcate
twice, an apical trunk of five tapering sections with eight oblique branches, and a tuft that
bifurcates three times. Geometry is deterministic (part of the dataset definition, not drawn
per simulation). :func:`section_specs` lists the sections, :func:`segment_table` the
dendritic segments with their type and path distance from the soma, and :func:`build_cell`
instantiates it in NEURON.

All lengths and diameters are in um.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = [
    "SectionSpec",
    "DendriticSegment",
    "MAX_SEGMENT_LENGTH_UM",
    "section_specs",
    "segment_table",
    "build_cell",
]

#: Sections are split into an odd number of segments no longer than this (um).
MAX_SEGMENT_LENGTH_UM = 50.0


@dataclass(frozen=True)
class SectionSpec:
    """One unbranched section of the morphology.

    Attributes:
        name: unique name, e.g. ``"basal[2].1.0"`` or ``"trunk[3]"``.
        kind: ``"soma"``, ``"axon"``, ``"basal"``, ``"trunk"``, ``"oblique"`` or ``"tuft"``.
        parent: name of the parent section (``None`` for the soma).
        parent_x: where on the parent (0..1) this section attaches; its own 0 end attaches.
        length_um: section length (um).
        diam_um: constant diameter (um).
    """

    name: str
    kind: str
    parent: str | None
    parent_x: float
    length_um: float
    diam_um: float

    @property
    def nseg(self) -> int:
        """Number of segments: the smallest odd count with segments <= 50 um."""
        n = max(1, math.ceil(self.length_um / MAX_SEGMENT_LENGTH_UM))
        return n if n % 2 == 1 else n + 1


@dataclass(frozen=True)
class DendriticSegment:
    """One dendritic segment (a place where synaptic inputs may land).

    Attributes:
        index: position in :func:`segment_table` (0-based).
        section: name of the section it belongs to.
        x: normalised position of the segment centre on its section (0..1).
        kind: ``"basal"``, ``"trunk"``, ``"oblique"`` or ``"tuft"``.
        length_um: segment length (um).
        dist_from_soma_um: path distance from the soma centre to the segment centre (um).
    """

    index: int
    section: str
    x: float
    kind: str
    length_um: float
    dist_from_soma_um: float


_BASAL_SCALE = (1.0, 0.8, 1.2, 0.9, 1.1)  # length factors of the five basal trees
_OBLIQUES = ((0, 0.5), (0, 1.0), (1, 0.5), (1, 1.0), (2, 0.5), (2, 1.0), (3, 0.5), (3, 1.0))
_OBLIQUE_SCALE = (0.8, 1.1, 0.9, 1.2, 1.0, 0.85, 1.15, 0.95)


def section_specs() -> list[SectionSpec]:
    """Return every section of the cell, parents before children.

    Order: soma, axon (3 sections), five basal trees (7 sections each: a 30 um stem of
    1.6 um diameter, two 80 um daughters of 1.0 um, four 120 um terminals of 0.7 um, lengths
    scaled per tree by 1.0, 0.8, 1.2, 0.9, 1.1), the apical trunk (5 x 120 um, diameter
    tapering 3.5 -> 2.1 um), eight obliques (a 140 um stem of 0.8 um splitting into two
    90 um terminals of 0.6 um, lengths scaled per branch by 0.8-1.2), and the tuft (from the
    trunk's end: 2 x 150 um of 1.5 um, 4 x 200 um of 1.0 um, 8 x 150 um of 0.6 um).
    """
    specs = [SectionSpec("soma", "soma", None, 0.0, 20.0, 20.0)]
    specs.append(SectionSpec("axon_hillock", "axon", "soma", 0.0, 10.0, 2.0))
    specs.append(SectionSpec("axon_initial", "axon", "axon_hillock", 1.0, 30.0, 1.2))
    specs.append(SectionSpec("axon_stub", "axon", "axon_initial", 1.0, 200.0, 1.0))
    for t, scale in enumerate(_BASAL_SCALE):
        stem = f"basal[{t}]"
        specs.append(SectionSpec(stem, "basal", "soma", 0.5, 30.0 * scale, 1.6))
        for a in range(2):
            mid = f"{stem}.{a}"
            specs.append(SectionSpec(mid, "basal", stem, 1.0, 80.0 * scale, 1.0))
            for b in range(2):
                specs.append(SectionSpec(f"{mid}.{b}", "basal", mid, 1.0, 120.0 * scale, 0.7))
    for k in range(5):
        parent = "soma" if k == 0 else f"trunk[{k - 1}]"
        parent_x = 1.0
        specs.append(SectionSpec(f"trunk[{k}]", "trunk", parent, parent_x, 120.0, 3.5 - 0.35 * k))
    for j, ((trunk_index, x), scale) in enumerate(zip(_OBLIQUES, _OBLIQUE_SCALE, strict=True)):
        stem = f"oblique[{j}]"
        specs.append(SectionSpec(stem, "oblique", f"trunk[{trunk_index}]", x, 140.0 * scale, 0.8))
        for b in range(2):
            specs.append(SectionSpec(f"{stem}.{b}", "oblique", stem, 1.0, 90.0 * scale, 0.6))
    level = [("trunk[4]", "tuft")]
    for length, diam in ((150.0, 1.5), (200.0, 1.0), (150.0, 0.6)):
        nxt = []
        for parent, prefix in level:
            for b in range(2):
                name = f"{prefix}.{b}" if prefix != "tuft" else f"tuft[{b}]"
                specs.append(SectionSpec(name, "tuft", parent, 1.0, length, diam))
                nxt.append((name, name))
        level = nxt
    return specs


def segment_table() -> list[DendriticSegment]:
    """Return the dendritic segments (basal, trunk, oblique, tuft) in :func:`section_specs` order.

    Path distances are measured from the soma centre along the tree (half the soma length
    counts for sections attached at either soma end; basal trees attach at the soma centre).
    """
    specs = section_specs()
    by_name = {s.name: s for s in specs}
    start: dict[str, float] = {}  # path distance from soma centre to the section's 0 end
    for s in specs:
        if s.parent is None:
            start[s.name] = -0.5 * s.length_um  # soma(0.5) is the origin
            continue
        parent = by_name[s.parent]
        start[s.name] = abs(start[parent.name] + s.parent_x * parent.length_um)
    out: list[DendriticSegment] = []
    for s in specs:
        if s.kind in ("soma", "axon"):
            continue
        seg_len = s.length_um / s.nseg
        for k in range(s.nseg):
            x = (k + 0.5) / s.nseg
            out.append(
                DendriticSegment(
                    index=len(out),
                    section=s.name,
                    x=x,
                    kind=s.kind,
                    length_um=seg_len,
                    dist_from_soma_um=start[s.name] + x * s.length_um,
                )
            )
    return out


def build_cell(h: Any, electrical: dict[str, float], membrane: bool = True) -> dict[str, Any]:
    """Instantiate the morphology in NEURON and insert the membrane mechanisms.

    Args:
        h: ``neuron.h``.
        electrical: membrane parameters: ``ra_ohm_cm``, ``cm_uf_cm2`` and, with
            ``membrane``, ``dend_g_pas_s_cm2``, ``e_pas_mv``, ``soma_gnabar_s_cm2``,
            ``axon_gnabar_s_cm2``, ``gkbar_s_cm2``, ``hh_gl_s_cm2``, ``hh_el_mv``.
        membrane: insert the passive cell's mechanisms (below); False leaves the sections
            bare for another membrane (:mod:`elm_snn.synth._active_cell`).

    Returns:
        dict of section name -> ``h.Section``. With ``membrane``, soma and axon get NEURON's
        built-in ``hh`` (Hodgkin-Huxley) mechanism, dendrites the passive ``pas`` mechanism.
    """
    sections: dict[str, Any] = {}
    for s in section_specs():
        sec = h.Section(name=s.name)
        sec.L = s.length_um
        sec.diam = s.diam_um
        sec.nseg = s.nseg
        sec.Ra = electrical["ra_ohm_cm"]
        sec.cm = electrical["cm_uf_cm2"]
        if s.parent is not None:
            sec.connect(sections[s.parent](s.parent_x), 0.0)
        if membrane and s.kind in ("soma", "axon"):
            sec.insert("hh")
            gnabar = electrical["axon_gnabar_s_cm2"] if s.name == "axon_initial" else None
            for seg in sec:
                seg.hh.gnabar = gnabar if gnabar is not None else electrical["soma_gnabar_s_cm2"]
                seg.hh.gkbar = electrical["gkbar_s_cm2"]
                seg.hh.gl = electrical["hh_gl_s_cm2"]
                seg.hh.el = electrical["hh_el_mv"]
        elif membrane:
            sec.insert("pas")
            for seg in sec:
                seg.pas.g = electrical["dend_g_pas_s_cm2"]
                seg.pas.e = electrical["e_pas_mv"]
        sections[s.name] = sec
    return sections
