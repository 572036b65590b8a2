"""Colours, scales and legends of the coverage views, shared by Navigator layers and plotly heatmaps.

The visibility (0-4), detection (-1..5) and overlay colours are DeTT&CT's published ones (DETTECT.md §1.2,
§2), so a SOC that knows DeTT&CT layers reads ours the same way. Prevention uses CTID's protect vocabulary
(none, minimal, partial, significant) in teal; profile heat uses DeTT&CT's group gradient; gaps run yellow to
deep red.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

WHITE = "#ffffff"
NO_DATA_GREY = "#d9d9d9"

VISIBILITY_COLORS: dict[int, str] = {1: "#bbdefb", 2: "#64b5f6", 3: "#1976d2", 4: "#0d47a1"}
DETECTION_COLORS: dict[int, str] = {
    0: "#9c27b0", 1: "#dcedc8", 2: "#aed581", 3: "#8bc34a", 4: "#689f38", 5: "#33691e",
}
ORANGE_COLORS: dict[int, str] = {
    0: "#ffecb7", 1: "#ffe07a", 2: "#ffca28", 3: "#ffae00", 4: "#ff8f00", 5: "#ff6f00",
}
PREVENTION_COLORS: dict[int, str] = {1: "#b2dfdb", 2: "#4db6ac", 3: "#00796b"}
OVERLAY_BOTH = "#f9a825"  # DeTT&CT: visibility and detection / technique in group and overlay
PROFILE_GRADIENT = ("#ffcece", "#ff0000")  # DeTT&CT group heat map
GAPS_GRADIENT = ("#fff59d", "#ff7043", "#b71c1c")

VISIBILITY_LABELS = {0: "None", 1: "Minimal", 2: "Medium", 3: "Good", 4: "Excellent"}
DETECTION_LABELS = {-1: "None", 0: "Forensics/context", 1: "Basic", 2: "Fair", 3: "Good", 4: "Very good",
                    5: "Excellent"}
PREVENTION_LABELS = {0: "None", 1: "Minimal", 2: "Partial", 3: "Significant"}


@dataclass(frozen=True, slots=True)
class Level:
    """One step of a discrete scale: scores ``>= value`` (and below the next level) get ``color``."""

    value: int
    label: str
    color: str


@dataclass(frozen=True, slots=True)
class ViewScale:
    """How a view's scores map to colours.

    Discrete scales (``levels`` set) colour a score by the highest level at or below it; continuous scales
    interpolate ``gradient`` between ``minimum`` and ``maximum`` (``None`` = the largest score in the data).
    """

    name: str
    minimum: int
    maximum: int | None
    gradient: tuple[str, ...]
    levels: tuple[Level, ...] = ()
    low_label: str = "low"
    high_label: str = "high"

    @property
    def discrete(self) -> bool:
        return bool(self.levels)

    def upper(self, scores: Iterable[float | None]) -> int:
        """The top of the scale: fixed, or the largest score rounded up (at least ``minimum + 1``)."""
        if self.maximum is not None:
            return self.maximum
        top = max((s for s in scores if s is not None and math.isfinite(s)), default=self.minimum + 1)
        return max(math.ceil(top), self.minimum + 1)

    def color(self, score: float | None, upper: int | None = None) -> str | None:
        """The colour of one score; None when the score is missing (no data / not applicable)."""
        if score is None or not math.isfinite(score):
            return None
        if self.levels:
            chosen = self.levels[0]
            for level in self.levels:
                if score >= level.value:
                    chosen = level
            return chosen.color
        top = upper if upper is not None else self.upper([score])
        span = max(top - self.minimum, 1)
        return gradient_color(self.gradient, (score - self.minimum) / span)

    def legend(self) -> list[tuple[str, str]]:
        """(label, colour) pairs for a legend."""
        if self.levels:
            return [(f"{self.name} {lv.value}: {lv.label}", lv.color) for lv in self.levels]
        return [(f"{self.name}: {self.low_label}", self.gradient[0]),
                (f"{self.name}: {self.high_label}", self.gradient[-1])]


def _levels(labels: dict[int, str], colors: dict[int, str], none_color: str = WHITE) -> tuple[Level, ...]:
    return tuple(Level(v, label, colors.get(v, none_color)) for v, label in sorted(labels.items()))


VISIBILITY_SCALE = ViewScale("Visibility", 0, 4, (WHITE, *VISIBILITY_COLORS.values()),
                             _levels(VISIBILITY_LABELS, VISIBILITY_COLORS))
DETECTION_SCALE = ViewScale("Detection", -1, 5, (WHITE, *DETECTION_COLORS.values()),
                            _levels(DETECTION_LABELS, DETECTION_COLORS))
PREVENTION_SCALE = ViewScale("Prevention", 0, 3, (WHITE, *PREVENTION_COLORS.values()),
                             _levels(PREVENTION_LABELS, PREVENTION_COLORS))
PROFILE_SCALE = ViewScale("Profile weight", 0, None, PROFILE_GRADIENT,
                          low_label="technique rarely used", high_label="technique used by many groups")
GAPS_SCALE = ViewScale("Gap", 0, None, GAPS_GRADIENT, low_label="small gap", high_label="large gap")


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


# ----- overlays (the caller passes the colour in the cell; these helpers choose it) ----------------
def _level(score: float | None) -> int | None:
    return None if score is None or not math.isfinite(score) else math.floor(score)


def visibility_detection_color(visibility: float | None, detection: float | None) -> str | None:
    """DeTT&CT overlay: both > 0 → orange; detection only → green shade; visibility only → blue shade;
    detection 0 (forensics/context) without visibility → purple; neither → None (not coloured)."""
    v, d = _level(visibility), _level(detection)
    has_v, has_d = v is not None and v > 0, d is not None and d > 0
    if has_v and has_d:
        return OVERLAY_BOTH
    if has_d:
        return DETECTION_COLORS[min(d or 0, 5)]
    if has_v:
        return VISIBILITY_COLORS[min(v or 0, 4)]
    if d == 0:
        return DETECTION_COLORS[0]
    return None


def profile_detection_color(weight: float | None, detection: float | None, max_weight: float = 1.0
                            ) -> str | None:
    """DeTT&CT group × detection overlay: in the profile and detected (score ≥ 0) → orange by detection
    score; in the profile, no detection → the profile's red heat by weight (the gap); detection only →
    green."""
    d = _level(detection)
    in_profile = weight is not None and weight > 0
    if in_profile and d is not None and d >= 0:
        return ORANGE_COLORS[min(d, 5)]
    if in_profile:
        return PROFILE_SCALE.color(weight, math.ceil(max(max_weight, 1.0)))
    if d is not None and d >= 0:
        return DETECTION_COLORS[min(d, 5)]
    return None


VISIBILITY_DETECTION_LEGEND: tuple[tuple[str, str], ...] = (
    ("Visibility and detection", OVERLAY_BOTH),
    *((f"Visibility {v} only: {VISIBILITY_LABELS[v]}", c) for v, c in VISIBILITY_COLORS.items()),
    *((f"Detection {d}: {DETECTION_LABELS[d]}" + ("" if d == 0 else " (no visibility)"), c)
      for d, c in DETECTION_COLORS.items()),
)
PROFILE_DETECTION_LEGEND: tuple[tuple[str, str], ...] = (
    *((f"In profile, detection {d}: {DETECTION_LABELS[d]}", c) for d, c in ORANGE_COLORS.items()),
    ("In profile, no detection (rare use)", PROFILE_GRADIENT[0]),
    ("In profile, no detection (frequent use)", PROFILE_GRADIENT[1]),
    *((f"Detection {d} only: {DETECTION_LABELS[d]}", c) for d, c in DETECTION_COLORS.items()),
)
