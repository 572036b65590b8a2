"""Colour scales, bands and overlay helpers of the coverage views (pure; no ATT&CK data needed)."""

from __future__ import annotations

import colorsys

import pytest

from detcov.outputs import colors
from detcov.outputs.colors import (
    DETECTION_SCALE,
    GAPS_SCALE,
    PROFILE_DETECTION_LEGEND,
    PROFILE_SCALE,
    VISIBILITY_DETECTION_LEGEND,
    VISIBILITY_SCALE,
    hex_to_rgb,
    is_hex_color,
    profile_detection_band,
    visibility_detection_band,
)

ALL_LEGENDS = (VISIBILITY_SCALE.legend(), DETECTION_SCALE.legend(), colors.BLOCKING_SCALE.legend(),
               PROFILE_SCALE.legend(13), GAPS_SCALE.legend(12), list(VISIBILITY_DETECTION_LEGEND),
               list(PROFILE_DETECTION_LEGEND), list(colors.STATE_BANDS))


def hue(color: str) -> float:
    r, g, b = (c / 255 for c in hex_to_rgb(color))
    return colorsys.rgb_to_hsv(r, g, b)[0] * 360


def test_discrete_scales_use_the_dettect_level_colours_but_none_is_not_white() -> None:
    for score, color in colors.VISIBILITY_COLORS.items():
        assert VISIBILITY_SCALE.color(score) == color
    for score, color in colors.DETECTION_COLORS.items():
        assert DETECTION_SCALE.color(score) == color
    assert DETECTION_SCALE.color(2.7) == colors.DETECTION_COLORS[2]  # a fractional score takes its level
    # white is "not in the layer" in Navigator: −1 / 0 must differ from it and from the state greys
    for none in (DETECTION_SCALE.band(-1), VISIBILITY_SCALE.band(0), colors.BLOCKING_SCALE.band(0)):
        assert none is not None and none.color not in (colors.WHITE, colors.NOT_APPLICABLE_GREY,
                                                       colors.OUT_OF_SCOPE_GREY)
    assert DETECTION_SCALE.band(-1).label == "-1 no rule"  # type: ignore[union-attr]
    assert DETECTION_SCALE.color(None) is None and DETECTION_SCALE.color(float("nan")) is None


def test_every_label_fits_the_navigator_legend_panel_and_colours_are_hex() -> None:
    for legend in ALL_LEGENDS:
        assert legend
        for band in legend:
            assert 0 < len(band.label) <= colors.MAX_LABEL, band.label
            assert is_hex_color(band.color)
        assert len({b.label for b in legend}) == len(legend)  # no two entries look alike in the legend
    assert not is_hex_color("red") and not is_hex_color("#12345g") and is_hex_color("#abc")


def test_states_look_different_from_each_other_and_from_every_score() -> None:
    state_colors = {b.color for b in colors.STATE_BANDS}
    assert len(state_colors) == len(colors.STATE_BANDS)
    for legend in ALL_LEGENDS[:-1]:
        assert not state_colors & {b.color for b in legend if b not in colors.STATE_BANDS}


def test_continuous_scales_are_binned_and_grow_with_the_data() -> None:
    assert PROFILE_SCALE.upper([0.5, 3.2, None]) == 4 and PROFILE_SCALE.upper([]) == 1
    bins = GAPS_SCALE.bins(12)
    assert [b.label for b in bins] == ["Gap 0-3", "Gap 3-6", "Gap 6-9", "Gap 9-12"]
    assert GAPS_SCALE.band(0, 12) == bins[0] and GAPS_SCALE.band(12, 12) == bins[-1]
    assert GAPS_SCALE.band(7.5, 12) == bins[2]
    assert [b.severity for b in bins] == sorted(b.severity for b in bins)  # a bigger gap is worse
    assert bins[0].color == colors.GAPS_GRADIENT[0] and bins[-1].color == colors.GAPS_GRADIENT[-1]


@pytest.mark.parametrize(("visibility", "detection", "label"), [
    (3, 2, "Seen + detected"), (0, 4, "Det only 4"), (None, 1, "Det only 1"), (2, -1, "Vis only 2"),
    (0, 0, "Forensics only"), (0, -1, None), (None, None, None),
])
def test_visibility_detection_overlay(visibility: int | None, detection: int | None, label: str | None) -> None:
    band = visibility_detection_band(visibility, detection)
    assert (band.label if band else None) == label


def test_profile_detection_overlay_keeps_better_and_worst_apart_in_hue() -> None:
    assert profile_detection_band(2, 3, 5) == colors.DETECTED_IN_PROFILE[3]
    assert profile_detection_band(5, None, 5) == colors.UNDETECTED[-1]  # heavily used, undetected
    assert profile_detection_band(0.5, -1, 5) == colors.UNDETECTED[0]
    assert profile_detection_band(None, 4) == colors.OFF_PROFILE
    assert profile_detection_band(0, -1) is None
    # the best ("Detected 5") and the worst ("Undet., top") are at least 60° apart on the colour wheel
    gap = abs(hue(colors.DETECTED_IN_PROFILE[5].color) - hue(colors.UNDETECTED[-1].color)) % 360
    assert min(gap, 360 - gap) >= 60
    # and the worst undetected is worse than every detected band (decides parent cells)
    assert all(colors.UNDETECTED[-1].severity > b.severity for b in colors.DETECTED_IN_PROFILE)
