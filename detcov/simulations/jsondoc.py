"""JSON result files (ATTiRe, Caldera): parsing with a located error, the purple team's outcome fields, key checks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from detcov.errors import DetcovError, IssueCollector, Location
from detcov.simulations.model import parse_flag, text_or_none

# Not written by the tools: the purple team's verdict, added to a procedure (ATTiRe) or step/event (Caldera).
OUTCOME_KEYS = ("detected", "blocked", "alert_id", "system_group", "notes")


def load_json(path: Path, raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise DetcovError(f"is not valid JSON ({exc.msg})", location=Location(str(path), exc.lineno, exc.colno),
                          hint="export the file again from the tool, unedited") from exc


def at(path: Path, json_path: str) -> Location:
    """A JSON location: ``file:$.procedures[2]`` (JSON has no line numbers once parsed)."""
    return Location(f"{path}:{json_path}")


def key(name: str) -> str:
    return name.replace("-", "_").lower()


@dataclass(frozen=True, slots=True)
class Outcome:
    detected: bool | None
    blocked: bool | None
    alert_id: str | None
    system_group: str | None
    notes: str


def outcome_of(obj: Mapping[str, Any], where: Location, issues: IssueCollector) -> Outcome:
    values = {key(k): v for k, v in obj.items()}
    return Outcome(parse_flag(values.get("detected"), where, "detected", issues),
                   parse_flag(values.get("blocked"), where, "blocked", issues),
                   text_or_none(values.get("alert_id")), text_or_none(values.get("system_group")),
                   str(values.get("notes") or "").strip())


class KeyCheck:
    """Collects the keys of a file that are neither the tool's nor detcov's outcome fields (one warning)."""

    def __init__(self) -> None:
        self.unknown: dict[str, None] = {}

    def check(self, obj: Mapping[str, Any], known: Iterable[str], prefix: str) -> None:
        allowed = {key(k) for k in known} | set(OUTCOME_KEYS)
        for k in obj:
            if key(k) not in allowed:
                self.unknown[f"{prefix}.{k}"] = None


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
