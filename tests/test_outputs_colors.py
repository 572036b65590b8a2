"""Colour scales and overlay helpers of the coverage views (pure; no ATT&CK data needed)."""

from __future__ import annotations

import pytest

from detcov.outputs import colors
from detcov.outputs.colors import (
    DETECTION_SCALE,
    PROFILE_SCALE,
    VISIBILITY_SCALE,
    gradient_color,
    hex_to_rgb,
    is_hex_color,
    profile_detection_color,
    visibility_detection_color,
)


def test_discrete_scales_use_the_dettect_level_colours() -> None:
    for score, color in colors.VISIBILITY_COLORS.items():
        assert VISIBILITY_SCALE.color(score) == color
    for score, color in colors.DETECTION_COLORS.items():
        assert DETECTION_SCALE.color(score) == color
    # a fractional score takes the level it has reached; "none" levels are not coloured (white)
    assert DETECTION_SCALE.color(2.7) == colors.DETECTION_COLORS[2]
    assert DETECTION_SCALE.color(-1) == colors.WHITE
    assert VISIBILITY_SCALE.color(0) == colors.WHITE
    assert DETECTION_SCALE.color(None) is None
    assert DETECTION_SCALE.color(float("nan")) is None


def test_discrete_gradient_passes_through_each_level_colour() -> None:
    # Navigator interpolates the layer gradient by score; at integer scores it must give the level colour.
    for scale in (VISIBILITY_SCALE, DETECTION_SCALE, colors.PREVENTION_SCALE):
        assert scale.maximum is not None
        span = scale.maximum - scale.minimum
        for level in scale.levels:
            assert gradient_color(scale.gradient, (level.value - scale.minimum) / span) == level.color


def test_continuous_scale_grows_with_the_data() -> None:
    assert PROFILE_SCALE.upper([0.5, 3.2, None]) == 4
    assert PROFILE_SCALE.upper([]) == 1
    low, high = PROFILE_SCALE.color(0, 4), PROFILE_SCALE.color(4, 4)
    assert (low, high) == colors.PROFILE_GRADIENT
    mid = hex_to_rgb(PROFILE_SCALE.color(2, 4) or "")
    assert hex_to_rgb(low)[1] > mid[1] > hex_to_rgb(high)[1]  # green channel falls from pink to red


@pytest.mark.parametrize(("visibility", "detection", "expected"), [
    (3, 2, colors.OVERLAY_BOTH),
    (0, 4, colors.DETECTION_COLORS[4]),
    (None, 1, colors.DETECTION_COLORS[1]),
    (2, -1, colors.VISIBILITY_COLORS[2]),
    (0, 0, colors.DETECTION_COLORS[0]),
    (0, -1, None),
    (None, None, None),
])
def test_visibility_detection_overlay(visibility: int | None, detection: int | None,
                                     expected: str | None) -> None:
    assert visibility_detection_color(visibility, detection) == expected


def test_profile_detection_overlay() -> None:
    assert profile_detection_color(2, 3, 5) == colors.ORANGE_COLORS[3]
    assert profile_detection_color(5, None, 5) == colors.PROFILE_GRADIENT[1]  # heavily used, undetected
    assert profile_detection_color(5, -1, 5) == colors.PROFILE_GRADIENT[1]
    assert profile_detection_color(None, 4) == colors.DETECTION_COLORS[4]
    assert profile_detection_color(0, -1) is None


def test_every_legend_colour_is_a_hex_colour() -> None:
    legends = [colors.VISIBILITY_DETECTION_LEGEND, colors.PROFILE_DETECTION_LEGEND,
               tuple(VISIBILITY_SCALE.legend()), tuple(PROFILE_SCALE.legend())]
    for legend in legends:
        assert legend
        assert all(label and is_hex_color(color) for label, color in legend)
    assert not is_hex_color("red") and not is_hex_color("#12345g") and is_hex_color("#abc")
