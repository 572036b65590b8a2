"""Lists of names in layer comments, hovers and descriptions: never a silent cut."""

from __future__ import annotations

MAX_NAMES = 8


def names_list(items: list[str], limit: int = MAX_NAMES) -> str:
    """``a, b, c +N more``."""
    shown = ", ".join(items[:limit])
    return shown + (f" +{len(items) - limit} more" if len(items) > limit else "")
