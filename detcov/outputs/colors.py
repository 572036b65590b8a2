"""Colours, scales and legends of the coverage views, shared by Navigator layers and plotly heatmaps.

Every drawn cell gets one :class:`Band`: a short label (≤ 15 characters, so it fits the Navigator legend panel
and the heatmap legend), a colour, and a severity (higher = worse; it decides which sub-technique a parent cell
shows). The legend of a layer or heatmap lists exactly the bands its cells use, in the view's order, so a hover
and a legend never disagree with a colour.

Scales: visibility (0-4) blues and detection (1-5) greens are DeTT&CT's published colours (DETTECT.md §1.2, §2),
but the "none" levels are not white: white is what Navigator shows for a technique that is not in the layer, so
"no rule" (detection −1) and "no visibility" (0) are a pale red. Blocking uses CTID's protect vocabulary in teal.
Profile weight and gap priority are binned into four steps of one gradient (pink → red, yellow → deep red).
Three states are not scores and look different everywhere: *not applicable* (mid grey: no telemetry on any
platform the institution runs), *out of scope* (near-white grey: not in the threat profile) and, for the
combined views, *neither* (pale red). In the profile × detection view a detected technique is green and an
undetected one red by threat weight, so the best and the worst never sit next to each other in hue (DeTT&CT's
orange-for-detected was right next to its red).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

WHITE = "#ffffff"
NO_DATA_GREY = "#d9d9d9"
NOT_APPLICABLE_GREY = "#bdbdbd"
OUT_OF_SCOPE_GREY = "#eeeeee"
NONE_RED = "#f4c7c3"  # "none" / "no rule": a gap, but not white ("not in the layer")

VISIBILITY_COLORS: dict[int, str] = {1: "#bbdefb", 2: "#64b5f6", 3: "#1976d2", 4: "#0d47a1"}
DETECTION_COLORS: dict[int, str] = {
    0: "#9c27b0", 1: "#dcedc8", 2: "#aed581", 3: "#8bc34a", 4: "#689f38", 5: "#33691e",
}
PREVENTION_COLORS: dict[int, str] = {1: "#b2dfdb", 2: "#4db6ac", 3: "#00796b"}
OVERLAY_BOTH = "#f9a825"  # DeTT&CT: visibility and detection
OFF_PROFILE_DETECTED = "#b0bec5"  # detected, not used by the profile's groups
PROFILE_GRADIENT = ("#ffcece", "#ff0000")  # DeTT&CT group heat map
GAPS_GRADIENT = ("#fff59d", "#ff7043", "#b71c1c")
BINS = 4

VISIBILITY_LABELS = {0: "none", 1: "minimal", 2: "medium", 3: "good", 4: "excellent"}
DETECTION_LABELS = {-1: "no rule", 0: "forensics", 1: "basic", 2: "fair", 3: "good", 4: "very good",
                    5: "excellent"}
PREVENTION_LABELS = {0: "none", 1: "minimal", 2: "partial", 3: "significant"}
MAX_LABEL = 15


@dataclass(frozen=True, slots=True)
class Band:
    """One legend entry: short label, colour, severity (higher = worse) and a sentence for hovers/sheets."""

    label: str
    color: str
    severity: float
    meaning: str = ""


NOT_APPLICABLE = Band("Not applicable", NOT_APPLICABLE_GREY, -1e9,
                      "no telemetry for it on any platform the institution runs")
OUT_OF_SCOPE = Band("Out of scope", OUT_OF_SCOPE_GREY, -2e9,
                    "not used by the threat profile's groups, and nothing covers it")
NO_DATA = Band("No data", WHITE, -3e9, "the view has no value for it (as Navigator: not in the layer)")
STATE_BANDS = (OUT_OF_SCOPE, NOT_APPLICABLE, NO_DATA)


@dataclass(frozen=True, slots=True)
class Level:
    """One step of a discrete scale: scores ``>= value`` (and below the next level) get ``color``."""

    value: int
    label: str
    color: str


@dataclass(frozen=True, slots=True)
class ViewScale:
    """How a view's scores map to bands.

    Discrete scales (``levels`` set) give a score the highest level at or below it; continuous scales cut
    ``minimum``..``upper`` into :data:`BINS` equal steps of ``gradient`` (``maximum`` None = the largest score
    in the data, rounded up). ``worse_high``: a higher score is worse (gaps, threat weight)."""

    name: str
    minimum: int
    maximum: int | None
    gradient: tuple[str, ...]
    levels: tuple[Level, ...] = ()
    short: str = ""
    worse_high: bool = False

    @property
    def discrete(self) -> bool:
        return bool(self.levels)

    def upper(self, scores: Iterable[float | None]) -> int:
        """The top of the scale: fixed, or the largest score rounded up (at least ``minimum + 1``)."""
        if self.maximum is not None:
            return self.maximum
        top = max((s for s in scores if s is not None and math.isfinite(s)), default=self.minimum + 1)
        return max(math.ceil(top), self.minimum + 1)

    def band(self, score: float | None, upper: int | None = None) -> Band | None:
        """The band of one score; None when the score is missing."""
        if score is None or not math.isfinite(score):
            return None
        if self.levels:
            chosen = self.levels[0]
            for level in self.levels:
                if score >= level.value:
                    chosen = level
            sep = "" if chosen.label.startswith("+") else " "
            severity = float(chosen.value if self.worse_high else -chosen.value)
            return Band(f"{chosen.value}{sep}{chosen.label}", chosen.color, severity,
                        f"{self.name} {chosen.value}{sep}{chosen.label}")
        return self.bins(upper if upper is not None else self.upper([score]))[self._bin(score, upper)]

    def _bin(self, score: float, upper: int | None) -> int:
        top = upper if upper is not None else self.upper([score])
        span = max(top - self.minimum, 1)
        return min(max(int((score - self.minimum) / span * BINS), 0), BINS - 1)

    def bins(self, upper: int) -> list[Band]:
        """The continuous scale's :data:`BINS` bands, lowest first."""
        step = max(upper - self.minimum, 1) / BINS
        out = []
        for k in range(BINS):
            lo, hi = self.minimum + k * step, self.minimum + (k + 1) * step
            label = f"{self.short or self.name} {_num(lo)}-{_num(hi)}"
            out.append(Band(label, gradient_color(self.gradient, k / (BINS - 1)), float(k if self.worse_high else -k),
                            f"{self.name} {_num(lo)} to {_num(hi)}"))
        return out

    def color(self, score: float | None, upper: int | None = None) -> str | None:
        band = self.band(score, upper)
        return band.color if band else None

    def legend(self, upper: int | None = None) -> list[Band]:
        """Every band of the scale, in order (the legend a view can use at most)."""
        if self.levels:
            return [b for lv in self.levels if (b := self.band(lv.value)) is not None]
        return self.bins(upper if upper is not None else self.upper([]))


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".") if not float(value).is_integer() else str(int(value))


def _levels(labels: dict[int, str], colors: dict[int, str], none_color: str = NONE_RED) -> tuple[Level, ...]:
    return tuple(Level(v, label, colors.get(v, none_color)) for v, label in sorted(labels.items()))


VISIBILITY_SCALE = ViewScale("Visibility", 0, 4, (NONE_RED, *VISIBILITY_COLORS.values()),
                             _levels(VISIBILITY_LABELS, VISIBILITY_COLORS), "Vis")
DETECTION_SCALE = ViewScale("Detection", -1, 5, (NONE_RED, *DETECTION_COLORS.values()),
                            _levels(DETECTION_LABELS, DETECTION_COLORS), "Det")
BLOCKING_SCALE = ViewScale("Blocking", 0, 3, (NONE_RED, *PREVENTION_COLORS.values()),
                           _levels(PREVENTION_LABELS, PREVENTION_COLORS), "Block")
PREVENTION_SCALE = BLOCKING_SCALE
PROFILE_SCALE = ViewScale("Threat weight", 0, None, PROFILE_GRADIENT, short="Weight", worse_high=True)
GAPS_SCALE = ViewScale("Gap priority", 0, None, GAPS_GRADIENT, short="Gap", worse_high=True)


# ----- colour arithmetic ---------------------------------------------------------------------------
def hex_to_rgb(color: str) -> tuple[int, int, int]:
    text = color.lstrip("#")
    if len(text) == 3:
        text = "".join(c * 2 for c in text)
    return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)


def rgb_to_hex(rgb: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{max(0, min(255, round(c))):02x}" for c in rgb)


def gradient_color(colors: tuple[str, ...], fraction: float) -> str:
    """Linear interpolation through evenly spaced ``colors`` at ``fraction`` (clamped to 0..1)."""
    if len(colors) == 1:
        return colors[0]
    pos = min(max(fraction, 0.0), 1.0) * (len(colors) - 1)
    i = min(int(pos), len(colors) - 2)
    a, b = hex_to_rgb(colors[i]), hex_to_rgb(colors[i + 1])
    t = pos - i
    return rgb_to_hex((a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t))


def is_hex_color(text: str) -> bool:
    body = text[1:] if text.startswith("#") else ""
    return len(body) in (3, 6) and all(c in "0123456789abcdefABCDEF" for c in body)


# ----- the combined views (the cell carries its band; these choose it) ------------------------------
def _level(score: float | None) -> int | None:
    return None if score is None or not math.isfinite(score) else math.floor(score)


BOTH = Band("Seen + detected", OVERLAY_BOTH, 0.0, "visibility ≥ 1 and detection ≥ 1")
NEITHER = Band("Neither", NONE_RED, 9.0, "in the threat profile, no visibility and no rule")
FORENSICS_ONLY = Band("Forensics only", DETECTION_COLORS[0], 3.0, "detection 0 (forensics/context), no visibility")
VIS_ONLY = tuple(Band(f"Vis only {v}", c, 4.0 - v / 10, f"visibility {v} ({VISIBILITY_LABELS[v]}), no rule")
                 for v, c in VISIBILITY_COLORS.items())
DET_ONLY = tuple(Band(f"Det only {d}", c, 1.0 - d / 10, f"detection {d} ({DETECTION_LABELS[d]}), visibility 0")
                 for d, c in DETECTION_COLORS.items() if d > 0)
VISIBILITY_DETECTION_LEGEND: tuple[Band, ...] = (BOTH, *DET_ONLY, *VIS_ONLY, FORENSICS_ONLY, NEITHER)


def visibility_detection_band(visibility: float | None, detection: float | None) -> Band | None:
    """DeTT&CT overlay: both > 0 → orange; detection only → green shade; visibility only → blue shade;
    detection 0 (forensics/context) without visibility → purple; neither → None (the caller decides between
    "neither" and "out of scope")."""
    v, d = _level(visibility), _level(detection)
    has_v, has_d = v is not None and v > 0, d is not None and d > 0
    if has_v and has_d:
        return BOTH
    if has_d:
        return DET_ONLY[min(d or 1, 5) - 1]
    if has_v:
        return VIS_ONLY[min(v or 1, 4) - 1]
    if d == 0:
        return FORENSICS_ONLY
    return None


DETECTED_IN_PROFILE = tuple(Band(f"Detected {d}", DETECTION_COLORS[d], 2.0 - d / 10,
                                 f"in the threat profile, detection {d} ({DETECTION_LABELS[d]})")
                            for d in range(6))
OFF_PROFILE = Band("Det, no threat", OFF_PROFILE_DETECTED, -1.0, "detected, not used by the profile's groups")
UNDETECTED = tuple(Band(label, gradient_color(PROFILE_GRADIENT, k / 2), 10.0 + k, meaning)
                   for k, (label, meaning) in enumerate((
                       ("Undet., rare", "in the threat profile, no rule; low threat weight"),
                       ("Undet., common", "in the threat profile, no rule; medium threat weight"),
                       ("Undet., top", "in the threat profile, no rule; high threat weight"))))
PROFILE_DETECTION_LEGEND: tuple[Band, ...] = (*reversed(DETECTED_IN_PROFILE), OFF_PROFILE, *UNDETECTED)


def profile_detection_band(weight: float | None, detection: float | None, max_weight: float = 1.0
                           ) -> Band | None:
    """In the profile and detected (score ≥ 0) → green by detection score; in the profile, undetected → red
    by threat weight (three steps of the profile's heat); detected, outside the profile → blue-grey."""
    d = _level(detection)
    in_profile = weight is not None and weight > 0
    if in_profile and d is not None and d >= 0:
        return DETECTED_IN_PROFILE[min(d, 5)]
    if in_profile:
        share = (weight or 0.0) / max(max_weight, 1e-9)
        return UNDETECTED[min(int(share * 3), 2)]
    if d is not None and d >= 0:
        return OFF_PROFILE
    return None
