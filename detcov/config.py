"""The scan config (``detcov.yaml``, ``file_type: scan``): what to scan and where to write the results.

Relative paths are relative to the config file's folder, so a config and its inventory/rules travel together.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator

from detcov.attack.model import Provenance
from detcov.rules.model import FORMAT_CHOICES
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
    siem: str | tuple[str, ...] | None = None  # SIEM instance(s) the rules run on (None: by the format's product)
    description: str | None = None

    @property
    def siems(self) -> tuple[str, ...]:
        return () if self.siem is None else (self.siem,) if isinstance(self.siem, str) else tuple(self.siem)

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        if value not in FORMAT_CHOICES:
            raise ValueError(f"unknown rule format {value!r}, use one of {', '.join(FORMAT_CHOICES)}")
        return value


class Requirements(UserModel):
    """The institution's own requirements that data quality is judged against."""

    retention_days: int | None = Field(default=None, gt=0)  # e.g. 365: the FSC's one year online


class ValidationSource(UserModel):
    """One file of attack-simulation results (hand CSV, Atomic Red Team, ATTiRe, Caldera, VECTR)."""

    path: str
    format: str = "auto"


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
    # direct / campaign / software / campaign-software, each >= 0
    provenance_weights: dict[Provenance, Annotated[float, Field(ge=0)]] | None = None
    technique_scores: str | None = None  # DeTT&CT technique-administration YAML (manual scores, newest wins)
    validation: str | tuple[ValidationSource, ...] | None = None  # attack-simulation results
    validation_window_days: int = Field(default=365, gt=0)  # a passing test older than this proves nothing
    subtechnique_credit: Literal["none", "sub-to-parent", "parent-to-sub"] = "none"  # see coverage.detection
    as_of: date | None = None  # the evaluation date (validation window, log-flow silence); default: today
    requirements: Requirements = Field(default_factory=Requirements)
    log_flow: str | tuple[str, ...] | None = None  # log-flow evidence files or folders (detcov pull)
    log_flow_silent_hours: int = Field(default=24, gt=0)  # a source silent longer than this stops counting
    protect_mappings: tuple[ProtectMapping, ...] = ()
    output: str = "detcov-out"
    history: str | None = None  # SQLite history store
    fail_under: dict[Kpi, float] = Field(default_factory=dict)  # e.g. {detection: 60}: exit 1 when below


def validation_sources(config: ScanConfig) -> tuple[ValidationSource, ...]:
    if config.validation is None:
        return ()
    if isinstance(config.validation, str):
        return (ValidationSource(path=config.validation),)
    return config.validation


def log_flow_paths(config: ScanConfig) -> tuple[str, ...]:
    if config.log_flow is None:
        return ()
    return (config.log_flow,) if isinstance(config.log_flow, str) else config.log_flow


def input_names(config: ScanConfig) -> tuple[str, ...]:
    """Every file and folder the config names as an input, as it writes them (relative to its folder or absolute):
    the inventory, rule folders, technique scores, validation results, log-flow evidence, protect mappings, profile
    files and an ATT&CK bundle."""
    named = [config.inventory, *(s.path for s in config.rules), config.technique_scores,
             *(v.path for v in validation_sources(config)), *log_flow_paths(config),
             *(m.file for m in config.protect_mappings), *(p for p in config.profiles if p.endswith((".yaml", ".yml"))),
             config.attack.path]
    return tuple(n for n in named if n)


def load_scan_config(path: str | Path) -> tuple[ScanConfig, Path]:
    """The validated config and the folder its relative paths are relative to."""
    config, _ = load_user_file(path, ScanConfig, SCAN_FILE_TYPE, SCAN_VERSIONS)
    return config, Path(path).resolve().parent


def resolve(base: Path, value: str) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else base / p
