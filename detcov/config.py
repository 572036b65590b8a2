"""The scan config (``detcov.yaml``, ``file_type: scan``): what to scan and where to write the results.

Relative paths are relative to the config file's folder, so a config and its inventory/rules travel together.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from detcov.userfiles import UserModel, load_user_file

SCAN_FILE_TYPE = "scan"
SCAN_VERSIONS = (1,)
Kpi = Literal["visibility", "detection", "blocking", "validated"]


class AttackSource(UserModel):
    """Which ATT&CK to use; command-line ``--attack``/``--attack-version`` win over this."""

    version: str | None = None
    path: str | None = None


class RuleSource(UserModel):
    path: str
    format: str = "auto"
    applicable_to: tuple[str, ...] = ("all",)  # system groups the rules watch
    description: str | None = None


class ProtectMapping(UserModel):
    """CTID Mappings Explorer file (AWS/Azure/GCP/M365) and the capabilities the institution runs."""

    file: str
    capabilities: tuple[str, ...] = ()  # capability ids; empty: every capability in the file
    applicable_to: tuple[str, ...] = ("all",)


class ScanConfig(UserModel):
    version: Literal[1] = 1
    file_type: Literal["scan"] = "scan"
    name: str = Field(min_length=1)  # the institution
    description: str | None = None
    attack: AttackSource = Field(default_factory=AttackSource)
    inventory: str
    rules: tuple[RuleSource, ...] = ()
    profiles: tuple[str, ...] = ("financial-sector",)
    provenance_weights: dict[str, float] | None = None  # direct / campaign / software / campaign-software
    technique_scores: str | None = None  # DeTT&CT technique-administration YAML (manual scores, newest wins)
    validation: str | None = None  # CSV of attack-simulation results
    protect_mappings: tuple[ProtectMapping, ...] = ()
    output: str = "detcov-out"
    history: str | None = None  # SQLite history store
    fail_under: dict[Kpi, float] = Field(default_factory=dict)  # e.g. {detection: 60}: exit 1 when below


def load_scan_config(path: str | Path) -> tuple[ScanConfig, Path]:
    """The validated config and the folder its relative paths are relative to."""
    config, _ = load_user_file(path, ScanConfig, SCAN_FILE_TYPE, SCAN_VERSIONS)
    return config, Path(path).resolve().parent


def resolve(base: Path, value: str) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else base / p
