"""Blocking (prevention) scores, 0..3 on CTID's none / minimal / partial / significant scale.

Two sources, the higher wins (stated in every explanation):

* blocking devices whose blocking mode is on (inventory) implement ATT&CK mitigations (catalogue); a technique
  that one of those mitigations mitigates is blocked: 1 device → 1 (minimal), 2 → 2 (partial), 3 or more distinct
  devices → 3 (significant, defence in depth);
* CTID Mappings Explorer ``protect`` scores of the cloud capabilities the institution runs (scan config), taken
  as they are (minimal 1, partial 2, significant 3); their ATT&CK ids go through the id normaliser.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from detcov.attack import AttackKB
from detcov.datasources.inventory import BlockingDevice
from detcov.errors import DetcovError, Issue, Location, Severity

CTID_SCORES = {"minimal": 1, "partial": 2, "significant": 3}


@dataclass(frozen=True, slots=True)
class ProtectRow:
    capability: str
    technique: str
    score: int
    source: str


@dataclass(frozen=True, slots=True)
class PreventionScore:
    technique: str
    score: int  # 0..3
    devices: tuple[str, ...]  # "device (M1031 Network Intrusion Prevention)"
    capabilities: tuple[str, ...]  # "azure_firewall: partial"
    explanation: str


def load_protect_rows(path: Path, capabilities: Sequence[str], kb: AttackKB) -> tuple[list[ProtectRow], list[Issue]]:
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
            out.append(ProtectRow(str(r["capability_id"]), res.current, score, framework))
    return out, issues


def score_prevention(kb: AttackKB, devices: Iterable[BlockingDevice],
                     protect: Iterable[ProtectRow] = ()) -> dict[str, PreventionScore]:
    by_tech: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for device in devices:
        for mid in device.mitigations:
            mitigation = kb.mitigation(mid)
            for m in kb.techniques_mitigated_by(mid):
                by_tech[m.technique][device.name].append(f"{mid} {mitigation.name if mitigation else ''}".strip())
    ctid: dict[str, list[ProtectRow]] = defaultdict(list)
    for row in protect:
        ctid[row.technique].append(row)
    out: dict[str, PreventionScore] = {}
    for tid in sorted(set(by_tech) | set(ctid)):
        devs = by_tech.get(tid, {})
        rows = ctid.get(tid, [])
        device_score = min(3, len(devs))
        ctid_score = max((r.score for r in rows), default=0)
        dev_text = tuple(f"{name} ({', '.join(dict.fromkeys(ms))})" for name, ms in devs.items())
        cap_text = tuple(f"{r.source}:{r.capability} {_name(r.score)}" for r in rows)
        parts = [f"score {max(device_score, ctid_score)}"]
        if dev_text:
            parts.append(f"{len(dev_text)} blocking device(s): " + "; ".join(dev_text))
        if cap_text:
            parts.append("CTID protect: " + ", ".join(cap_text))
        out[tid] = PreventionScore(tid, max(device_score, ctid_score), dev_text, cap_text, " | ".join(parts))
    return out


def _name(score: int) -> str:
    return next(k for k, v in CTID_SCORES.items() if v == score)
