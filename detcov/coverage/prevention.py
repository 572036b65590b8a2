"""Blocking scores per technique × system group, 0..3 on CTID's none / minimal / partial / significant scale.

Blocking is *technical enforcement only*, claim by claim, each with its evidence:

* a device whose blocking mode is on (inventory ``blocking: true``) credits the claims of its type in the blocking
  catalogue (``detcov/coverage/blocking_catalog.py``): the position it acts on (inbound web, outbound web, email,
  perimeter, east-west, endpoint execution, identity, data), the techniques, the platforms where it works, the
  setting it needs (e.g. inline mode) and the strength its evidence supports — in the system groups the device
  covers, on the platforms of the group that the technique runs on;
* CTID Mappings Explorer ``protect`` scores of the cloud capabilities the institution runs (scan config), in the
  groups the mapping names, taken as they are (minimal 1, partial 2, significant 3).

A technique's score in a group is its *strongest* claim there (how many devices make the same claim does not make
it stronger: CTID's scale judges one capability's effect). Policy / hardening mitigations (account management,
password policy, …) are not blocking: they are reported apart as the hardening view. A test that was not blocked
disproves the claims in its group (blocking 0) until a newer test passes — the engine applies that.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson

from detcov.attack import AttackKB
from detcov.attack.model import Technique
from detcov.datasources.inventory import Device, SystemGroup
from detcov.errors import DetcovError, Issue, Location, Severity

CTID_SCORES = {"minimal": 1, "partial": 2, "significant": 3}
STRENGTH = {1: "minimal", 2: "partial", 3: "significant"}


class Claim(Protocol):
    @property
    def techniques(self) -> tuple[str, ...]: ...
    @property
    def platforms(self) -> tuple[str, ...] | None: ...
    @property
    def strength(self) -> int: ...
    @property
    def requires(self) -> str | None: ...
    @property
    def evidence(self) -> str: ...
    @property
    def position(self) -> Any: ...


class ClaimSource(Protocol):
    def claims(self, device_type: str) -> Sequence[Claim]: ...


@dataclass(frozen=True, slots=True)
class ProtectRow:
    capability: str
    technique: str
    score: int
    source: str
    applicable_to: tuple[str, ...] = ("all",)


@dataclass(frozen=True, slots=True)
class BlockCredit:
    """One claim credited in one group: which device (or cloud capability), how strong, on what evidence."""

    source: str  # device name or "mapping:capability"
    position: str
    strength: int
    evidence: str

    def text(self) -> str:
        return f"{self.source} [{self.position}, {STRENGTH.get(self.strength, self.strength)}; {self.evidence}]"


@dataclass(frozen=True, slots=True)
class PreventionScore:
    technique: str
    score: int  # 0..3
    devices: tuple[str, ...]  # credit texts
    capabilities: tuple[str, ...]  # "azure_firewall: partial"
    explanation: str
    group: str | None = None
    credits: tuple[BlockCredit, ...] = ()


def load_protect_rows(path: Path, capabilities: Sequence[str], kb: AttackKB,
                      applicable_to: tuple[str, ...] = ("all",)) -> tuple[list[ProtectRow], list[Issue]]:
    """The ``protect`` rows of a CTID Mappings Explorer file for the listed capabilities (all when empty)."""
    try:
        doc = orjson.loads(path.read_bytes())
        rows = doc["mapping_objects"]
        framework = str(doc.get("metadata", {}).get("mapping_framework", path.stem))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DetcovError(f"is not a CTID Mappings Explorer file ({exc})", location=Location(str(path)),
                          hint="use a *_attack-*-enterprise.json file from mappings-explorer") from exc
    wanted = set(capabilities)
    known = {str(r.get("capability_id")) for r in rows}
    issues = [Issue(f"capability {c!r} is not in this mapping file", Location(str(path)),
                    "check the capability_id spelling", Severity.WARNING) for c in sorted(wanted - known)]
    out: list[ProtectRow] = []
    for r in rows:
        if r.get("score_category") != "protect" or (wanted and r.get("capability_id") not in wanted):
            continue
        res = kb.resolve(str(r.get("attack_object_id", "")))
        score = CTID_SCORES.get(str(r.get("score_value", "")).lower())
        if res.current and score:
            out.append(ProtectRow(str(r["capability_id"]), res.current, score, framework, applicable_to))
    return out, issues


def device_credits(devices: Iterable[Device], catalog: ClaimSource, groups: Sequence[SystemGroup],
                   kb: AttackKB) -> dict[tuple[str, str], list[BlockCredit]]:
    """(technique, group) -> the claims of the enabled blocking devices that hold there."""
    out: dict[tuple[str, str], list[BlockCredit]] = defaultdict(list)
    for d in devices:
        if not d.blocking or not d.type:
            continue
        for claim in catalog.claims(d.type):
            if claim.requires and not d.settings.get(claim.requires, True):
                continue
            for g in groups:
                if d.covers(g.applicable_to) and _faces(claim, g):
                    _credit(out, d.name, claim, g, kb)
    return out


def _faces(claim: Claim, group: SystemGroup) -> bool:
    """Where a control acts decides where its claim holds: inbound-web enforcement (a WAF, a reverse proxy) only
    protects groups that are reachable from the internet."""
    return str(getattr(claim.position, "value", claim.position)) != "inbound-web" or group.internet_facing


def _credit(out: dict[tuple[str, str], list[BlockCredit]], device: str, claim: Claim, group: SystemGroup,
            kb: AttackKB) -> None:
    where = set(group.platforms) if claim.platforms is None else set(group.platforms) & set(claim.platforms)
    if not where:
        return
    position = str(getattr(claim.position, "value", claim.position))
    for tid in claim.techniques:
        technique = kb.technique(tid)
        if technique is not None and where & set(technique.platforms):
            out[(tid, group.applicable_to)].append(BlockCredit(device, position, claim.strength, claim.evidence))


def protect_credits(rows: Iterable[ProtectRow], groups: Sequence[SystemGroup], kb: AttackKB
                    ) -> dict[tuple[str, str], list[BlockCredit]]:
    out: dict[tuple[str, str], list[BlockCredit]] = defaultdict(list)
    for r in rows:
        technique = kb.technique(r.technique)
        for g in groups:
            if ("all" in r.applicable_to or g.applicable_to in r.applicable_to) and technique is not None \
                    and set(g.platforms) & set(technique.platforms):
                out[(r.technique, g.applicable_to)].append(
                    BlockCredit(f"{r.source}:{r.capability}", "cloud", r.score, f"CTID {r.source} protect"))
    return out


def score_cell(technique: Technique, group: str, credits: Sequence[BlockCredit]) -> PreventionScore:
    if not credits:
        return PreventionScore(technique.id, 0, (), (), f"{group}: no blocking control claims it", group)
    best = max(c.strength for c in credits)
    ordered = sorted(credits, key=lambda c: (-c.strength, c.source))
    devices = tuple(c.text() for c in ordered if c.position != "cloud")
    caps = tuple(f"{c.source} {STRENGTH[c.strength]}" for c in ordered if c.position == "cloud")
    text = (f"{group}: score {best} ({STRENGTH[best]}, the strongest claim) | " +
            "; ".join(c.text() for c in ordered[:4]) + (" …" if len(ordered) > 4 else ""))
    return PreventionScore(technique.id, best, devices, caps, text, group, tuple(ordered))


def merge_credits(*parts: Mapping[tuple[str, str], list[BlockCredit]]) -> dict[tuple[str, str], list[BlockCredit]]:
    out: dict[tuple[str, str], list[BlockCredit]] = defaultdict(list)
    for part in parts:
        for key, credits in part.items():
            out[key].extend(credits)
    return out

