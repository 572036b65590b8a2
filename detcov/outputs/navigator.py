"""ATT&CK Navigator layers (format 4.5) for the coverage views.

:func:`build_layer` turns per-technique cells into a layer dict (UTF-8 JSON-able; one entry per
technique-tactic pair so multi-tactic techniques are explicit and mitreattack's exporters match them),
:func:`write_layer` writes it, :func:`validate_layer` checks it with our own structural rules and, with
``oracle=True`` (tests), a round trip through mitreattack-python's ``Layer`` loader, which prints instead of
raising: its output is captured and turned into issues. The scan's writer skips the round trip (it was most of
the time spent writing layers).
"""

from __future__ import annotations

import contextlib
import io
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
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
from detcov.outputs.colors import Band, ViewScale

LAYER_VERSION = "4.5"
NAVIGATOR_VERSION = "5.1.0"
CHECKED_WITH = f"layer format {LAYER_VERSION}, checked with ATT&CK Navigator {NAVIGATOR_VERSION}"
DOMAINS = ("enterprise-attack", "mobile-attack", "ics-attack")


class View(StrEnum):
    VISIBILITY = "visibility"
    DETECTION = "detection"
    BLOCKING = "blocking"
    PREVENTION = "blocking"  # the old name of the view (the KPI is "blocking")
    PROFILE = "profile"
    VISIBILITY_DETECTION = "visibility-detection"
    PROFILE_DETECTION = "profile-detection"
    GAPS = "gaps"

    @property
    def is_overlay(self) -> bool:
        return self in (View.VISIBILITY_DETECTION, View.PROFILE_DETECTION)


@dataclass(frozen=True, slots=True)
class TechniqueCell:
    """One technique's value in a view: score (None = no score), the explanation (comment and metadata
    name/value pairs), an explicit band (overlays, and the states "not applicable" / "out of scope") and
    whether it applies at all (Navigator greys out disabled techniques)."""

    technique: str
    score: float | None
    comment: str = ""
    metadata: tuple[tuple[str, str], ...] = ()
    band: Band | None = None
    enabled: bool = True

    @property
    def color(self) -> str | None:
        return self.band.color if self.band else None


VIEW_SCALES: dict[View, ViewScale] = {
    View.VISIBILITY: colors.VISIBILITY_SCALE,
    View.DETECTION: colors.DETECTION_SCALE,
    View.BLOCKING: colors.BLOCKING_SCALE,
    View.PROFILE: colors.PROFILE_SCALE,
    View.VISIBILITY_DETECTION: colors.DETECTION_SCALE,
    View.PROFILE_DETECTION: colors.PROFILE_SCALE,
    View.GAPS: colors.GAPS_SCALE,
}
OVERLAY_LEGENDS: dict[View, tuple[Band, ...]] = {
    View.VISIBILITY_DETECTION: colors.VISIBILITY_DETECTION_LEGEND,
    View.PROFILE_DETECTION: colors.PROFILE_DETECTION_LEGEND,
}
_SORT_BY_SCORE = (View.PROFILE, View.GAPS)


def view_scale(view: View | str) -> ViewScale:
    return VIEW_SCALES[View(view)]


def full_legend(view: View | str, scale: ViewScale | None = None, upper: int | None = None) -> list[Band]:
    """Every band a view can use, in legend order (the overlay legend for overlays), then the states."""
    view = View(view)
    bands = list(OVERLAY_LEGENDS[view]) if view in OVERLAY_LEGENDS else (scale or VIEW_SCALES[view]).legend(upper)
    return bands + [b for b in colors.STATE_BANDS if b not in bands]


def cell_band(cell: TechniqueCell, scale: ViewScale, upper: int) -> Band | None:
    """The band a cell is drawn with: its own (overlays, states), else its score's band on the scale."""
    return cell.band or scale.band(cell.score, upper)


def used_legend(view: View | str, bands: Iterable[Band | None], scale: ViewScale | None = None,
                upper: int | None = None) -> list[Band]:
    """The legend entries the cells use, in legend order; bands outside the view's legend (a caller's own)
    after them by severity; the states (out of scope, not applicable, no data) last."""
    used = {b for b in bands if b is not None}
    states = [b for b in colors.STATE_BANDS if b in used]
    ordered = [b for b in full_legend(view, scale, upper) if b in used and b not in states]
    others = sorted(used - set(ordered) - set(states), key=lambda b: (-b.severity, b.label))
    return ordered + others + states


def legend(view: View | str, scale: ViewScale | None = None) -> list[tuple[str, str]]:
    """(label, colour) pairs of every band a view can use."""
    return [(b.label, b.color) for b in full_legend(view, scale)]


def cell_color(cell: TechniqueCell, scale: ViewScale, upper: int) -> str | None:
    band = cell_band(cell, scale, upper)
    return band.color if band else None


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


def _families_split(kb: AttackKB, bands: Mapping[str, Band | None]) -> set[str]:
    """Parents whose sub-techniques are drawn in more than one band (or another than the parent's)."""
    split = set()
    for tid in bands:
        tech = kb.technique(tid)
        if tech is None or tech.is_subtechnique:
            continue
        family = {bands.get(s.id) for s in kb.subtechniques(tid)} - {None}
        if family and (len(family) > 1 or family != {bands[tid]}):
            split.add(tid)
    return split


def _technique_entries(kb: AttackKB, cells: Mapping[str, TechniqueCell], bands: Mapping[str, Band | None]
                       ) -> list[dict[str, Any]]:
    expand = _families_split(kb, bands)
    entries: list[dict[str, Any]] = []
    for cell in sorted(cells.values(), key=lambda c: c.technique):
        tech = kb.technique(cell.technique)
        band = bands[cell.technique]
        color = band.color if band else None
        entries.extend(_entry(cell, tactic, color, cell.technique in expand) for tactic in _tactics_of(tech))
    return entries


def _layer_metadata(kb: AttackKB, view: View, cells: Mapping[str, TechniqueCell],
                    bands: Mapping[str, Band | None], legend_bands: Sequence[Band]) -> list[dict[str, str]]:
    counts = Counter(b for b in bands.values() if b is not None)
    return [
        {"name": "generated by", "value": f"detcov {__version__}"},
        {"name": "view", "value": view.value},
        {"name": "ATT&CK", "value": f"{kb.info.domain} {kb.version or 'unknown version'}"},
        {"name": "ATT&CK bundle sha256", "value": kb.info.sha256 or "-"},
        {"name": "checked with", "value": CHECKED_WITH},
        {"name": "techniques", "value": f"{len(cells)} listed"},
        *({"name": b.label, "value": f"{counts[b]} techniques: {b.meaning or b.label}"} for b in legend_bands),
    ]


def layer_description(kb: AttackKB, text: str) -> str:
    """The layer description: the caller's text as sentences, then the ATT&CK version it needs."""
    body = " ".join(part.strip() for part in text.split("\n") if part.strip())
    if body and body[-1] not in ".!?":
        body += "."
    version = kb.version or "unknown"
    return (f"{body} ATT&CK {kb.info.domain} v{version}: load it in a Navigator that has ATT&CK v"
            f"{version.split('.')[0]} ({CHECKED_WITH}).").strip()


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
    """A Navigator 4.5 layer for one view. ``scale`` overrides the view's default scale; overlays and states
    take their band from the cells (see :mod:`detcov.outputs.colors`). Every entry has an explicit colour and
    the legend lists exactly the bands used."""
    view = View(view)
    scale = scale or VIEW_SCALES[view]
    upper = scale.upper(c.score for c in cells.values())
    bands = {t: cell_band(c, scale, upper) for t, c in cells.items()}
    legend_bands = used_legend(view, bands.values(), scale, upper)
    versions = {"navigator": NAVIGATOR_VERSION, "layer": LAYER_VERSION}
    if kb.version:
        versions = {"attack": kb.version.split(".")[0], **versions}
    return {
        "name": name,
        "versions": versions,
        "domain": kb.info.domain,
        "description": layer_description(kb, description),
        "filters": {"platforms": list(platforms) if platforms else list(kb.platforms)},
        "sorting": 3 if view in _SORT_BY_SCORE else 0,
        "layout": {"layout": "side", "aggregateFunction": "average", "showID": True, "showName": True,
                   "showAggregateScores": False, "countUnscored": False,
                   "expandedSubtechniques": "annotated"},
        "hideDisabled": False,
        "techniques": _technique_entries(kb, cells, bands),
        "gradient": {"colors": list(scale.gradient), "minValue": scale.minimum, "maxValue": upper},
        "legendItems": [{"label": b.label, "color": b.color} for b in legend_bands],
        "metadata": _layer_metadata(kb, view, cells, bands, legend_bands),
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
        loaded.from_dict(orjson.loads(orjson.dumps(layer)))  # it changes what it is given
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


def validate_layer(layer: Mapping[str, Any], kb: AttackKB, *, source: str = "<layer>",
                   oracle: bool = False) -> list[Issue]:
    """Structural issues of a layer (errors and warnings); empty when it is valid. ``source`` names the layer
    (a file path) in the issues' locations. ``oracle`` adds a round trip through mitreattack-python's loader
    (slow: the tests and ``detcov`` checks of user layers use it, the scan's own writer does not)."""
    chk = _Checker(source)
    _check_header(layer, kb, chk)
    _check_colors(layer, chk)
    _check_techniques(layer, kb, chk)
    for i, item in enumerate(layer.get("legendItems") or []):
        if len(str(item.get("label", ""))) > colors.MAX_LABEL:
            chk.add(f"legendItems[{i}] label {item.get('label')!r} is longer than {colors.MAX_LABEL} characters",
                    "Navigator's legend panel cuts it: shorten it", Severity.WARNING)
    if oracle:
        _check_mitreattack(layer, chk)
    return chk.issues
