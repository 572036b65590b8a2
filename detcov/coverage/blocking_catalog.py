"""The blocking catalogue: reviewed, evidence-carrying claims of what each device type *technically* blocks.

Shipped as ``detcov/coverage/data/blocking.yaml`` (users may add files of the same layout: their claims and
hardening entries are appended to the shipped ones). A claim names the position the control acts on, the techniques
it stops (explicit ids, or one enforcement mitigation of ATT&CK narrowed by ``only`` / ``except`` / ``tactics``),
the platforms where it works, its strength on CTID's scale (1 minimal, 2 partial, 3 significant), a device setting
it needs (``requires``) and its evidence (CTID Mappings Explorer protect scores, ATT&CK mitigation text, named
vendor documentation). Policy and hardening mitigations (accounts, passwords, privileges, OS/software configuration,
audit …, listed under ``policy_mitigations``) never become blocking: they go to each type's ``hardening`` list.

``load_blocking_catalog(kb)`` resolves every id against the loaded ATT&CK (revoked → replacement, missing → an
issue) and is memoised per knowledge base.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from detcov.attack import AttackKB
from detcov.datasources.catalog import Catalog, load_catalog
from detcov.errors import DetcovError, Issue, Location, Severity
from detcov.userfiles import UserModel, check_header, load_yaml, position, validate_model

DATA = Path(__file__).resolve().parent / "data" / "blocking.yaml"
FILE_TYPE = "blocking-catalog"
VERSIONS = (1,)
STRENGTH = {1: "minimal", 2: "partial", 3: "significant"}
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
Where = Callable[[], Location]


class Position(StrEnum):
    INBOUND_WEB = "inbound-web"
    OUTBOUND_WEB = "outbound-web"
    EMAIL = "email"
    PERIMETER = "perimeter"
    EAST_WEST = "east-west"
    ENDPOINT = "endpoint-execution"
    IDENTITY = "identity"
    DATA = "data"


@dataclass(frozen=True, slots=True)
class BlockClaim:
    device_type: str
    position: Position
    techniques: tuple[str, ...]  # current ids in the loaded ATT&CK
    platforms: tuple[str, ...] | None  # None: wherever the device is deployed
    strength: int  # CTID scale: 1 minimal, 2 partial, 3 significant
    requires: str | None  # a setting of the device type that must be on
    evidence: str
    note: str


@dataclass(frozen=True, slots=True)
class HardeningClaim:
    device_type: str
    mitigation: str
    name: str
    techniques: tuple[str, ...]  # what ATT&CK says the mitigation mitigates (current ids)
    evidence: str


@dataclass(frozen=True)
class BlockingCatalog:
    by_type: Mapping[str, tuple[BlockClaim, ...]]
    hardening_by_type: Mapping[str, tuple[HardeningClaim, ...]]
    issues: tuple[Issue, ...] = ()  # ids the loaded ATT&CK lacks, revoked ids replaced …
    policy_mitigations: frozenset[str] = field(default_factory=frozenset)

    def claims(self, device_type: str) -> tuple[BlockClaim, ...]:
        return self.by_type.get(device_type, ())

    def hardening(self, device_type: str) -> tuple[HardeningClaim, ...]:
        return self.hardening_by_type.get(device_type, ())

    @property
    def types(self) -> tuple[str, ...]:
        return tuple(self.by_type)

    def techniques(self, device_type: str, settings: Mapping[str, bool] | None = None) -> set[str]:
        """Every technique the type's claims cover (only claims whose required setting is on, when given)."""
        return {t for c in self.claims(device_type)
                if settings is None or c.requires is None or settings.get(c.requires, True)
                for t in c.techniques}


# ----- the file model --------------------------------------------------------------------------------------------

class EvidenceRef(UserModel):
    """One source: a CTID capability's protect scores, an ATT&CK mitigation relationship, or vendor docs."""

    ctid: str | None = None  # a Mappings Explorer file name
    capability: str | None = None  # its capability_id
    attack: str | None = Field(None, pattern=r"^M\d{4}$")  # the mitigation whose relationship text is cited
    vendor: str | None = None  # named vendor documentation

    @model_validator(mode="after")
    def _one_kind(self) -> EvidenceRef:
        kinds = [k for k in ("ctid", "attack", "vendor") if getattr(self, k)]
        if len(kinds) != 1:
            raise ValueError("give exactly one of ctid (with capability), attack or vendor")
        if (self.ctid is None) != (self.capability is None):
            raise ValueError("ctid and capability go together")
        return self

    def __str__(self) -> str:
        if self.ctid:
            return f"CTID Mappings Explorer {self.ctid}: {self.capability} (protect)"
        if self.attack:
            return f"ATT&CK {self.attack} mitigation relationship text"
        return f"vendor: {self.vendor}"


class MitigationSelector(UserModel):
    id: str = Field(pattern=r"^M\d{4}$")
    only: tuple[str, ...] = ()
    except_: tuple[str, ...] = Field((), alias="except")
    tactics: tuple[str, ...] = ()  # tactic shortnames (command-and-control …)


class ClaimSpec(UserModel):
    position: Position
    techniques: tuple[str, ...] = ()
    mitigation: MitigationSelector | None = None
    platforms: tuple[str, ...] | None = None
    strength: Literal[1, 2, 3]
    requires: str | None = None
    evidence: tuple[EvidenceRef, ...] = Field(min_length=1)
    note: str = ""

    @model_validator(mode="after")
    def _one_source(self) -> ClaimSpec:
        if bool(self.techniques) == (self.mitigation is not None):
            raise ValueError("give either techniques or mitigation")
        return self


class HardeningSpec(UserModel):
    mitigation: str = Field(pattern=r"^M\d{4}$")
    evidence: str = Field(min_length=1)


class TypeSpec(UserModel):
    type: str
    claims: tuple[ClaimSpec, ...] = ()
    hardening: tuple[HardeningSpec, ...] = ()
    note: str = ""


class BlockingFile(UserModel):
    version: int
    file_type: Literal["blocking-catalog"]
    policy_mitigations: tuple[str, ...] = ()
    types: tuple[TypeSpec, ...]


def _read_file(path: Path) -> BlockingFile:
    """Fast path (libyaml + pydantic); on any problem re-read round-trip so errors carry file:line:col."""
    try:
        with path.open("rb") as fh:
            return BlockingFile.model_validate(yaml.load(fh, Loader=_Loader))
    except (OSError, yaml.YAMLError, ValidationError):
        data = load_yaml(path)
        header = check_header(data, path, FILE_TYPE, VERSIONS)
        if header:
            raise DetcovError(issues=header) from None
        return validate_model(BlockingFile, data, path)


# ----- resolution against the loaded ATT&CK ----------------------------------------------------------------------

@dataclass
class _Resolver:
    kb: AttackKB
    catalog: Catalog
    policy: frozenset[str]
    path: Path
    issues: list[Issue] = field(default_factory=list)
    errors: list[Issue] = field(default_factory=list)
    _doc: object = None

    def where(self, *loc: str | int) -> Location:
        """file:line:col of ``types[i].claims[j]`` (the round-trip parse happens only when an issue needs it)."""
        if self._doc is None:
            self._doc = load_yaml(self.path)
        line, col = position(self._doc, ["types", *loc])
        return Location(str(self.path), line, col)

    def technique(self, raw: str, where: Where) -> str | None:
        res = self.kb.resolve(raw)
        if res.current is None:
            self.issues.append(Issue(res.note or f"technique {raw} is not usable", where(),
                                     f"the claim skips it with ATT&CK {self.kb.version}", Severity.WARNING))
        elif res.id != res.current:
            self.issues.append(Issue(f"technique {raw} → {res.current}: {res.note}", where(), None, Severity.INFO))
        return res.current

    def claim(self, dtype: str, ti: int, i: int, spec: ClaimSpec) -> BlockClaim | None:
        def where() -> Location:
            return self.where(ti, "claims", i)
        if spec.requires is not None and spec.requires not in self._settings(dtype):
            self.errors.append(Issue(f"{dtype}: requires unknown setting {spec.requires!r}", where(),
                                     f"settings of {dtype}: {', '.join(self._settings(dtype)) or 'none'} "
                                     f"(declare it in the device catalogue)"))
        for p in spec.platforms or ():
            if p not in self.kb.platforms:
                self.errors.append(Issue(f"{dtype}: platform {p!r} is not an ATT&CK {self.kb.version} platform",
                                         where(), f"use one of: {', '.join(self.kb.platforms)}"))
        ids = self._explicit(spec, where) if spec.techniques else self._expand(spec, where)
        if not ids:
            self.issues.append(Issue(f"{dtype}: claim covers no technique in ATT&CK {self.kb.version}", where(),
                                     None, Severity.WARNING))
            return None
        return BlockClaim(dtype, spec.position, tuple(sorted(ids)), spec.platforms, spec.strength, spec.requires,
                          "; ".join(str(e) for e in spec.evidence), spec.note)

    def _settings(self, dtype: str) -> tuple[str, ...]:
        t = self.catalog.get(dtype)
        return t.setting_ids if t else ()

    def _explicit(self, spec: ClaimSpec, where: Where) -> set[str]:
        out: set[str] = set()
        for raw in spec.techniques:
            tid = self.technique(raw, where)
            if tid is None:
                continue
            tech = self.kb.technique(tid)
            if spec.platforms and tech is not None and not set(tech.platforms) & set(spec.platforms):
                self.errors.append(Issue(f"{tid} ({tech.name}) runs on {', '.join(tech.platforms)}, not on the "
                                         f"claim's platforms {', '.join(spec.platforms)}", where(),
                                         "remove it or fix the claim's platforms"))
                continue
            out.add(tid)
        return out

    def _expand(self, spec: ClaimSpec, where: Where) -> set[str]:
        sel = spec.mitigation
        assert sel is not None
        if sel.id in self.policy:
            self.errors.append(Issue(f"{sel.id} is a policy/hardening mitigation, not technical blocking", where(),
                                     "move it to the type's hardening list"))
            return set()
        if self.kb.mitigation(sel.id) is None:
            self.issues.append(Issue(f"mitigation {sel.id} is not in ATT&CK {self.kb.version}", where(), None,
                                     Severity.WARNING))
            return set()
        mitigated = {m.technique for m in self.kb.techniques_mitigated_by(sel.id)}
        only = {t for raw in sel.only if (t := self.technique(raw, where))}
        for tid in sorted(only - mitigated):
            self.errors.append(Issue(f"{tid} is not mitigated by {sel.id} in ATT&CK {self.kb.version}", where(),
                                     "list it under techniques instead, with its own evidence"))
        ids = (only & mitigated) if sel.only else mitigated
        ids -= {t for raw in sel.except_ if (t := self.technique(raw, where))}
        return {t for t in ids if self._fits(t, sel.tactics, spec.platforms)}

    def _fits(self, tid: str, tactics: Sequence[str], platforms: Sequence[str] | None) -> bool:
        tech = self.kb.technique(tid)
        if tech is None or not tech.active:
            return False
        return (not tactics or bool(set(tech.tactics) & set(tactics))) and \
            (not platforms or bool(set(tech.platforms) & set(platforms)))

    def hardening(self, dtype: str, ti: int, hi: int, spec: HardeningSpec) -> HardeningClaim | None:
        def where() -> Location:
            return self.where(ti, "hardening", hi)
        if spec.mitigation not in self.policy:
            self.errors.append(Issue(f"hardening lists {spec.mitigation}, which is not a policy mitigation", where(),
                                     "add it to policy_mitigations (with the reason) or make it a claim"))
        m = self.kb.mitigation(spec.mitigation)
        if m is None:
            self.issues.append(Issue(f"mitigation {spec.mitigation} is not in ATT&CK {self.kb.version}", where(),
                                     None, Severity.WARNING))
            return None
        techs = sorted({x.technique for x in self.kb.techniques_mitigated_by(m.id)})
        return HardeningClaim(dtype, m.id, m.name, tuple(techs), spec.evidence)


def _merge(files: Sequence[tuple[Path, BlockingFile]], kb: AttackKB, catalog: Catalog) -> BlockingCatalog:
    policy = frozenset(m for _, f in files for m in f.policy_mitigations)
    claims: dict[str, list[BlockClaim]] = defaultdict(list)
    hardening: dict[str, list[HardeningClaim]] = defaultdict(list)
    issues: list[Issue] = []
    errors: list[Issue] = []
    for path, parsed in files:
        r = _Resolver(kb, catalog, policy, path)
        for ti, spec in enumerate(parsed.types):
            if catalog.get(spec.type) is None:
                errors.append(Issue(f"device type {spec.type!r} is not in the device catalogue", r.where(ti, "type"),
                                    "see `detcov catalog list`"))
                continue
            claims[spec.type] += [c for i, s in enumerate(spec.claims) if (c := r.claim(spec.type, ti, i, s))]
            hardening[spec.type] += [h for i, s in enumerate(spec.hardening)
                                     if (h := r.hardening(spec.type, ti, i, s))]
        issues += r.issues
        errors += r.errors
    if errors:
        raise DetcovError(issues=errors)
    return BlockingCatalog(MappingProxyType({k: tuple(v) for k, v in claims.items()}),
                           MappingProxyType({k: tuple(v) for k, v in hardening.items()}), tuple(issues), policy)


@lru_cache(maxsize=8)
def _load(kb: AttackKB, paths: tuple[Path, ...]) -> BlockingCatalog:
    files: list[tuple[Path, BlockingFile]] = []
    errors: list[Issue] = []
    for path in paths:
        try:
            files.append((path, _read_file(path)))
        except DetcovError as exc:
            errors.extend(exc.issues)
    if errors:
        raise DetcovError(issues=errors)
    return _merge(files, kb, load_catalog())


def load_blocking_catalog(kb: AttackKB, extra: Sequence[Path] = ()) -> BlockingCatalog:
    """The shipped blocking catalogue (plus the user's files), resolved against ``kb``. Memoised per kb."""
    return _load(kb, (DATA, *(Path(p) for p in extra)))
