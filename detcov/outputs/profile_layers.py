"""Threat-profile layers without a scan, as DeTT&CT's ``group`` command makes them: a heat map of how many of the
selected groups or campaigns use each technique (``-g``, ``-c``), and a group-vs-group overlay (``-o``).

Heat map: score = number of selected actors (groups, campaigns) that use the technique, by any route ATT&CK
records (direct, campaign, software); the comment names them (``G0046 FIN7, G0008 Carbanak +3 more``). Overlay:
"In both" (DeTT&CT's orange), "Only selection" (red), "Only overlay" (yellow); score = actors on both sides, so
Navigator's sort puts the shared techniques first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from detcov.attack import AttackKB
from detcov.errors import DetcovError
from detcov.outputs import colors
from detcov.outputs.colors import Band, Level, ViewScale
from detcov.outputs.names import names_list
from detcov.outputs.navigator import TechniqueCell

IN_BOTH = Band("In both", colors.OVERLAY_BOTH, 3.0, "used by the selection and by the overlay")
ONLY_SELECTION = Band("Only selection", "#ff5252", 2.0, "used by the selection, not by the overlay")
ONLY_OVERLAY = Band("Only overlay", "#ffee58", 1.0, "used by the overlay, not by the selection")
OVERLAY_LEGEND = (IN_BOTH, ONLY_SELECTION, ONLY_OVERLAY)


def count_scale(kind: str, top: int) -> ViewScale:
    """The heat-map scale: DeTT&CT's group gradient over the number of groups (or campaigns) using a technique,
    one level per count up to six, else six steps (``4+ groups``)."""
    step = max(1, -(-top // 6))
    values = list(range(1, top + 1, step))
    one = kind[:-1] if kind.endswith("s") else kind
    levels = tuple(Level(v, (one if v == 1 and step == 1 else kind) if step == 1 else f"+ {kind}",
                         colors.gradient_color(colors.PROFILE_GRADIENT, i / max(len(values) - 1, 1)))
                   for i, v in enumerate(values))
    return ViewScale(f"{kind.capitalize()} using it", 0, max(top, 1), colors.PROFILE_GRADIENT, levels,
                     kind.capitalize(), worse_high=True)


@dataclass(frozen=True, slots=True)
class Actor:
    """A group or campaign and the techniques ATT&CK says it uses."""

    id: str
    name: str
    techniques: frozenset[str]

    @property
    def label(self) -> str:
        return f"{self.id} {self.name}" if self.name and self.name != self.id else self.id


def campaign_actor(kb: AttackKB, key: str) -> Actor:
    """A campaign by id (``C0022``), name or alias, with its direct and software techniques."""
    folded = key.strip().casefold()
    found = kb.campaign(key.strip().upper()) or next(
        (c for c in kb.campaigns if folded in {c.name.casefold(), *(a.casefold() for a in c.aliases)}), None)
    if found is None:
        raise DetcovError(f"campaign {key!r} is not in ATT&CK {kb.version}",
                          hint="use a campaign id (C0022) or name; `detcov attack show` lists a group's campaigns")
    uses = kb.uses_of(found.id)
    techniques = {u.target for u in uses if u.target.startswith("T")}
    techniques |= {t.target for u in uses if u.target.startswith("S") for t in kb.techniques_of_software(u.target)}
    return Actor(found.id, found.name, frozenset(t for t in techniques if kb.technique(t)))


def users(actors: Sequence[Actor]) -> dict[str, list[Actor]]:
    out: dict[str, list[Actor]] = {}
    for actor in actors:
        for tid in sorted(actor.techniques):
            out.setdefault(tid, []).append(actor)
    return out


def heat_cells(actors: Sequence[Actor], kind: str = "groups") -> dict[str, TechniqueCell]:
    """One cell per technique any actor uses: score = how many, comment = who (names next to ids)."""
    return {tid: TechniqueCell(tid, float(len(who)), f"used by {len(who)} {kind if len(who) != 1 else kind[:-1]}: "
                               + names_list([a.label for a in who]), (("count", str(len(who))),))
            for tid, who in users(actors).items()}


def overlay_cells(selection: Sequence[Actor], overlay: Sequence[Actor]) -> dict[str, TechniqueCell]:
    """Selection vs overlay: who uses each technique on each side."""
    left, right = users(selection), users(overlay)
    cells = {}
    for tid in sorted(set(left) | set(right)):
        a, b = left.get(tid, []), right.get(tid, [])
        band = IN_BOTH if a and b else (ONLY_SELECTION if a else ONLY_OVERLAY)
        text = "; ".join(part for part in (
            f"selection ({len(a)}): {names_list([x.label for x in a])}" if a else "",
            f"overlay ({len(b)}): {names_list([x.label for x in b])}" if b else "") if part)
        cells[tid] = TechniqueCell(tid, float(len(a) + len(b)), text,
                                   (("selection", str(len(a))), ("overlay", str(len(b)))), band=band)
    return cells


def with_out_of_scope(kb: AttackKB, cells: Mapping[str, TechniqueCell]) -> dict[str, TechniqueCell]:
    """For a heatmap: every other technique drawn as "out of scope" (not used by anyone selected)."""
    rest = {t.id: TechniqueCell(t.id, None, "used by none of the selected groups or campaigns",
                                band=colors.OUT_OF_SCOPE) for t in kb.techniques() if t.id not in cells}
    return {**rest, **cells}
