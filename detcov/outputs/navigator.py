"""ATT&CK Navigator layers (format 4.5) for the coverage views.

:func:`build_layer` turns per-technique cells into a layer dict (UTF-8 JSON-able; one entry per
technique-tactic pair so multi-tactic techniques are explicit and mitreattack's exporters match them),
:func:`write_layer` writes it, :func:`validate_layer` checks it with our own structural rules plus a round
trip through mitreattack-python's ``Layer`` loader, which prints instead of raising: its output is
captured and turned into issues.
"""

from __future__ import annotations

import contextlib
import copy
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import orjson

from detcov import __version__
from detcov.attack import AttackKB
from detcov.attack.model import Technique
from detcov.errors import Issue, Location, Severity
from detcov.fileio import atomic_write
from detcov.outputs import colors
from detcov.outputs.colors import ViewScale

LAYER_VERSION = "4.5"
NAVIGATOR_VERSION = "5.1.0"
DOMAINS = ("enterprise-attack", "mobile-attack", "ics-attack")


class View(StrEnum):
    VISIBILITY = "visibility"
    DETECTION = "detection"
    PREVENTION = "prevention"
    PROFILE = "profile"
    VISIBILITY_DETECTION = "visibility-detection"
    PROFILE_DETECTION = "profile-detection"
    GAPS = "gaps"

    @property
    def is_overlay(self) -> bool:
        return self in (View.VISIBILITY_DETECTION, View.PROFILE_DETECTION)


@dataclass(frozen=True, slots=True)
class TechniqueCell:
    """One technique's value in a view: score (None = no data / not applicable), the explanation (comment and
    metadata name/value pairs), an explicit colour (overlays) and whether it applies at all."""

    technique: str
    score: float | None
    comment: str = ""
    metadata: tuple[tuple[str, str], ...] = ()
    color: str | None = None
    enabled: bool = True


VIEW_SCALES: dict[View, ViewScale] = {
    View.VISIBILITY: colors.VISIBILITY_SCALE,
    View.DETECTION: colors.DETECTION_SCALE,
    View.PREVENTION: colors.PREVENTION_SCALE,
    View.PROFILE: colors.PROFILE_SCALE,
    View.VISIBILITY_DETECTION: colors.DETECTION_SCALE,
    View.PROFILE_DETECTION: colors.PROFILE_SCALE,
    View.GAPS: colors.GAPS_SCALE,
}
OVERLAY_LEGENDS: dict[View, tuple[tuple[str, str], ...]] = {
    View.VISIBILITY_DETECTION: colors.VISIBILITY_DETECTION_LEGEND,
    View.PROFILE_DETECTION: colors.PROFILE_DETECTION_LEGEND,
}
_SORT_BY_SCORE = (View.PROFILE, View.PROFILE_DETECTION, View.GAPS)


def view_scale(view: View | str) -> ViewScale:
    return VIEW_SCALES[View(view)]


def legend(view: View | str, scale: ViewScale | None = None) -> list[tuple[str, str]]:
    """(label, colour) pairs explaining a view's colours (the overlay legend for overlays)."""
    view = View(view)
    if view in OVERLAY_LEGENDS:
        return list(OVERLAY_LEGENDS[view])
    return (scale or VIEW_SCALES[view]).legend()


def cell_color(cell: TechniqueCell, scale: ViewScale, upper: int) -> str | None:
    """The colour a cell is drawn with: its own colour, else the discrete level colour of its score.

    Continuous scales return None: Navigator colours those from the layer gradient by score.
    """
    if cell.color:
        return cell.color
    if scale.discrete:
        return scale.color(cell.score, upper)
    return None


def _json_score(score: float) -> float | int:
    return int(score) if float(score).is_integer() else round(score, 3)


def _entry(cell: TechniqueCell, tactic: str | None, color: str | None, expand: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"techniqueID": cell.technique}
    if tactic:
        entry["tactic"] = tactic
    if cell.score is not None and math.isfinite(cell.score):
        entry["score"] = _json_score(cell.score)
    if color:
        entry["color"] = color
    entry["comment"] = cell.comment
    entry["enabled"] = cell.enabled
    # Navigator rejects empty metadata values; DeTT&CT writes "-" for them too.
    entry["metadata"] = [{"name": n, "value": v if v.strip() else "-"} for n, v in cell.metadata]
    entry["showSubtechniques"] = expand
    return entry


def _tactics_of(tech: Technique | None) -> tuple[str | None, ...]:
    return tech.tactics if tech is not None and tech.tactics else (None,)


def _technique_entries(kb: AttackKB, cells: Mapping[str, TechniqueCell], scale: ViewScale, upper: int
                       ) -> list[dict[str, Any]]:
    parents_shown = {t.parent for t in (kb.technique(c.technique) for c in cells.values()) if t and t.parent}
    entries: list[dict[str, Any]] = []
    for cell in sorted(cells.values(), key=lambda c: c.technique):
        tech = kb.technique(cell.technique)
        color = cell_color(cell, scale, upper)
        expand = cell.technique in parents_shown
        entries.extend(_entry(cell, tactic, color, expand) for tactic in _tactics_of(tech))
    return entries


def _layer_metadata(kb: AttackKB, view: View, cells: Mapping[str, TechniqueCell]) -> list[dict[str, str]]:
    scored = sum(1 for c in cells.values() if c.score is not None)
    return [
        {"name": "generated by", "value": f"detcov {__version__}"},
        {"name": "view", "value": view.value},
        {"name": "ATT&CK", "value": f"{kb.info.domain} {kb.version or 'unknown version'}"},
        {"name": "ATT&CK bundle sha256", "value": kb.info.sha256 or "-"},
        {"name": "techniques", "value": f"{len(cells)} listed, {scored} scored"},
    ]


def build_layer(
    kb: AttackKB,
    view: View | str,
    cells: Mapping[str, TechniqueCell],
    *,
    name: str,
    description: str,
    platforms: Sequence[str] | None = None,
    scale: ViewScale | None = None,
) -> dict[str, Any]:
    """A Navigator 4.5 layer for one view. ``scale`` overrides the view's default scale (e.g. another
    prevention scale); overlays take their colours from the cells (see :mod:`detcov.outputs.colors`)."""
    view = View(view)
    scale = scale or VIEW_SCALES[view]
    upper = scale.upper(c.score for c in cells.values())
    versions = {"navigator": NAVIGATOR_VERSION, "layer": LAYER_VERSION}
    if kb.version:
        versions = {"attack": kb.version.split(".")[0], **versions}
    return {
        "name": name,
        "versions": versions,
        "domain": kb.info.domain,
        "description": description,
        "filters": {"platforms": list(platforms) if platforms else list(kb.platforms)},
        "sorting": 3 if view in _SORT_BY_SCORE else 0,
        "layout": {"layout": "side", "aggregateFunction": "average", "showID": True, "showName": True,
                   "showAggregateScores": False, "countUnscored": False,
                   "expandedSubtechniques": "annotated"},
        "hideDisabled": False,
        "techniques": _technique_entries(kb, cells, scale, upper),
        "gradient": {"colors": list(scale.gradient), "minValue": scale.minimum, "maxValue": upper},
        "legendItems": [{"label": label, "color": color} for label, color in legend(view, scale)],
        "metadata": _layer_metadata(kb, view, cells),
        "links": [],
        "showTacticRowBackground": False,
        "tacticRowBackground": "#dddddd",
        "selectTechniquesAcrossTactics": True,
        "selectSubtechniquesWithParent": False,
        "selectVisibleTechniques": False,
    }


def write_layer(path: str | Path, layer: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> Path:
    """Write a layer (or a list of layers) as UTF-8 JSON, atomically. Returns the path."""
    path = Path(path)
    atomic_write(path, orjson.dumps(layer, option=orjson.OPT_INDENT_2) + b"\n")
    return path


# ----- validation ----------------------------------------------------------------------------------
_TOP_KEYS = frozenset({
    "name", "versions", "domain", "description", "filters", "sorting", "layout", "hideDisabled", "techniques",
    "gradient", "legendItems", "metadata", "links", "showTacticRowBackground", "tacticRowBackground",
    "selectTechniquesAcrossTactics", "selectSubtechniquesWithParent", "selectVisibleTechniques",
    "customDataURL",
})
_ENTRY_KEYS = frozenset({"techniqueID", "tactic", "score", "color", "comment", "enabled", "metadata", "links",
                         "showSubtechniques"})


class _Checker:
    """Collects issues for one layer; every message names where in the layer it is."""

    def __init__(self, source: str) -> None:
        self.location = Location(source)
        self.issues: list[Issue] = []

    def add(self, message: str, hint: str | None = None, severity: Severity = Severity.ERROR) -> None:
        self.issues.append(Issue(message, self.location, hint, severity))


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_header(layer: Mapping[str, Any], kb: AttackKB, chk: _Checker) -> None:
    for key in sorted(set(layer) - _TOP_KEYS):
        chk.add(f"unknown layer property {key!r}", "remove it: Navigator 4.5 layers do not have it")
    if not isinstance(layer.get("name"), str) or not layer.get("name"):
        chk.add("layer has no name", "set 'name' to a non-empty string")
    if layer.get("domain") not in DOMAINS:
        chk.add(f"domain {layer.get('domain')!r} is not one of {', '.join(DOMAINS)}")
    elif layer.get("domain") != kb.info.domain:
        chk.add(f"domain {layer.get('domain')!r} differs from the ATT&CK bundle's {kb.info.domain!r}")
    versions = layer.get("versions") or {}
    if not isinstance(versions, Mapping) or versions.get("layer") != LAYER_VERSION:
        chk.add(f"versions.layer is not {LAYER_VERSION!r}", f"set versions.layer to {LAYER_VERSION!r}")
    elif not str(versions.get("navigator", "")).startswith("5."):
        chk.add("versions.navigator is not a 5.x version", f"set it to {NAVIGATOR_VERSION!r}")
    platforms = (layer.get("filters") or {}).get("platforms") or []
    for p in sorted(set(platforms) - set(kb.platforms)):
        chk.add(f"filters.platforms has {p!r}, not a platform of this ATT&CK version",
                f"use one of: {', '.join(kb.platforms)}", Severity.WARNING)


def _check_colors(layer: Mapping[str, Any], chk: _Checker) -> None:
    gradient = layer.get("gradient")
    if gradient is not None:
        cols = gradient.get("colors") or []
        if len(cols) < 2 or not all(isinstance(c, str) and colors.is_hex_color(c) for c in cols):
            chk.add("gradient.colors needs at least two '#rrggbb' colours")
        lo, hi = gradient.get("minValue"), gradient.get("maxValue")
        if not (isinstance(lo, int) and isinstance(hi, int) and lo < hi):
            chk.add(f"gradient minValue/maxValue ({lo!r}, {hi!r}) must be integers with min < max")
    for i, item in enumerate(layer.get("legendItems") or []):
        if not isinstance(item.get("label"), str) or not colors.is_hex_color(str(item.get("color", ""))):
            chk.add(f"legendItems[{i}] needs a label and a '#rrggbb' color")


def _check_entry(i: int, entry: Mapping[str, Any], kb: AttackKB, chk: _Checker) -> None:
    tid = entry.get("techniqueID")
    where = f"techniques[{i}] ({tid})"
    for key in sorted(set(entry) - _ENTRY_KEYS):
        chk.add(f"{where}: unknown property {key!r}")
    tech = kb.technique(tid) if isinstance(tid, str) else None
    if tech is None:
        res = kb.resolve(str(tid))
        chk.add(f"{where}: technique id not in ATT&CK {kb.version or ''}".rstrip(), res.note or None)
    elif not tech.active:
        chk.add(f"{where}: technique is revoked or deprecated", kb.resolve(tech.id).note or None,
                Severity.WARNING)
    tactic = entry.get("tactic")
    if tactic is not None and tech is not None and tactic not in tech.tactics:
        chk.add(f"{where}: tactic {tactic!r} is not a tactic of this technique",
                f"use one of: {', '.join(tech.tactics)}")
    if "score" in entry and not _is_number(entry["score"]):
        chk.add(f"{where}: score {entry['score']!r} is not a number")
    if "color" in entry and not (entry["color"] == "" or colors.is_hex_color(str(entry["color"]))):
        chk.add(f"{where}: color {entry['color']!r} is not '#rrggbb'")
    for m in entry.get("metadata") or []:
        named = all(isinstance(m.get(k), str) and m[k].strip() for k in ("name", "value"))
        if not (m.get("divider") is True or named):
            chk.add(f"{where}: metadata {m!r} needs a name and a non-empty string value")


def _check_techniques(layer: Mapping[str, Any], kb: AttackKB, chk: _Checker) -> None:
    seen: set[tuple[str, str | None]] = set()
    for i, entry in enumerate(layer.get("techniques") or []):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("techniqueID"), str):
            chk.add(f"techniques[{i}] has no techniqueID", "every entry needs 'techniqueID': 'T1234'")
            continue
        key = (entry["techniqueID"], entry.get("tactic"))
        if key in seen:
            chk.add(f"techniques[{i}]: duplicate entry for {key[0]} / {key[1] or 'all tactics'}")
        seen.add(key)
        _check_entry(i, entry, kb, chk)


def _check_mitreattack(layer: Mapping[str, Any], chk: _Checker) -> None:
    from mitreattack.navlayers import Layer

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        loaded = Layer()
        loaded.from_dict(copy.deepcopy(dict(layer)))
        result = loaded.to_dict()
    printed = [line.strip() for line in out.getvalue().splitlines() if line.strip()]
    if result is None:
        first = printed[0] if printed else "no reason given"
        reason = next((p for p in printed if "Unable to load" in p), first)
        chk.add(f"mitreattack-python's Layer loader rejected the layer: {reason[:300]}")
        return
    for line in printed:
        if "Full Traceback" not in line:
            chk.add(f"mitreattack-python: {line[:300]}", severity=Severity.WARNING)
    if len(result.get("techniques") or []) != len(layer.get("techniques") or []):
        chk.add("mitreattack-python's Layer loader dropped technique entries", severity=Severity.WARNING)


def validate_layer(layer: Mapping[str, Any], kb: AttackKB, *, source: str = "<layer>") -> list[Issue]:
    """Structural issues of a layer (errors and warnings); empty when it is valid. ``source`` names the layer
    (a file path) in the issues' locations."""
    chk = _Checker(source)
    _check_header(layer, kb, chk)
    _check_colors(layer, chk)
    _check_techniques(layer, kb, chk)
    _check_mitreattack(layer, chk)
    return chk.issues
