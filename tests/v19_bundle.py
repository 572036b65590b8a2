"""A synthetic ATT&CK v19/v20-shaped Enterprise bundle, built from the real 18.1 bundle for tests.

No real v19/v20 bundle is reachable from these machines, so this applies the documented v19 changes
(``../shared/docs/ATTACK-V19.md``) to 18.1, in STIX 2.1 shape (the layout of MITRE's attack-stix-data):

* TA0005 "Defense Evasion" is renamed **Stealth** (``stealth``); a new tactic **Defense Impairment** (TA0112,
  ``defense-impairment``) follows it in the matrix;
* the techniques in :data:`MOVES` get new ids; the old objects are revoked with ``revoked-by`` links, and their
  relationships (detection strategies, mitigations, group/software uses, sub-technique links) move to the new ones,
  as ATT&CK does when it revokes;
* a ``x-mitre-collection`` names the version (19.0, or 20.0 for the v20-shaped bundle, which adds one more id).

:data:`MOVES` is written out here on purpose and is *not* read from detcov's crosswalk, so tests that compare the
two are not circular. Some moves are synthetic choices, not facts (marked below); T1562.004 deliberately moves to
T1686.003 (as SigmaHQ retagged most rules) while the reviewed crosswalk says T1686, so a test can show the bundle's own
revoked-by link winning over the table.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

# (old id, new id, new name or None to keep the name of the first object moved there)
MOVES: tuple[tuple[str, str, str | None], ...] = (
    ("T1562.001", "T1685", "Disable or Modify Tools"),
    ("T1562", "T1685", None),
    ("T1562.006", "T1685", None),
    ("T1562.002", "T1685.001", "Disable or Modify Windows Event Log"),
    ("T1562.008", "T1685.002", "Disable or Modify Cloud Log"),
    ("T1562.012", "T1685.004", "Disable or Modify Linux Audit System"),
    ("T1070.001", "T1685.005", "Clear Windows Event Logs"),
    ("T1070.002", "T1685.006", "Clear Linux or Mac System Logs"),
    ("T1562.004", "T1686.003", "Host Firewall (synthetic name)"),  # the table says T1686: the bundle must win
    ("T1562.007", "T1686.001", "Cloud Firewall"),
    ("T1562.013", "T1686.002", "Network Device Firewall (synthetic)"),  # synthetic choice
    ("T1562.011", "T1687", "Spoof Security Alerting (synthetic id)"),  # synthetic choice
    ("T1562.009", "T1688", "Safe Mode Boot"),
    ("T1562.010", "T1689", "Downgrade Attack"),
    ("T1562.003", "T1690", "Prevent Command History Logging"),
    ("T1656", "T1684.001", "Impersonation"),
)
NEW_PARENTS = {"T1686": "Disable or Modify System Firewall", "T1684": "Impersonation (synthetic parent)"}
V20_EXTRA = ("T1691", "Synthetic v20 Technique")  # the v20-shaped bundle's one brand-new technique
_STAMP = "2026-10-28T00:00:00.000Z"
_NS = uuid.UUID("6ba7b811-9dad-11d1-80b4-00c04fd430c8")


def _sid(kind: str, key: str) -> str:
    return f"{kind}--{uuid.uuid5(_NS, key)}"


def _aid(obj: dict[str, Any]) -> str | None:
    refs = obj.get("external_references") or [{}]
    return refs[0].get("external_id") if refs[0].get("source_name") == "mitre-attack" else None


def _technique(tid: str, name: str, template: dict[str, Any]) -> dict[str, Any]:
    new = copy.deepcopy(template)
    new.update(id=_sid("attack-pattern", tid), name=name, modified=_STAMP, created=_STAMP, revoked=False,
               x_mitre_is_subtechnique="." in tid, x_mitre_attack_spec_version="3.3.0",
               kill_chain_phases=[{"kill_chain_name": "mitre-attack", "phase_name": "defense-impairment"}])
    new["external_references"] = [{"source_name": "mitre-attack", "external_id": tid,
                                   "url": "https://attack.mitre.org/techniques/" + tid.replace(".", "/")}]
    return new


def _relationship(kind: str, src: str, dst: str) -> dict[str, Any]:
    return {"type": "relationship", "id": _sid("relationship", f"{kind}:{src}:{dst}"), "created": _STAMP,
            "modified": _STAMP, "relationship_type": kind, "source_ref": src, "target_ref": dst,
            "spec_version": "2.1"}


def _tactics(objects: list[dict[str, Any]]) -> None:
    tactics = {_aid(o): o for o in objects if o["type"] == "x-mitre-tactic"}
    evasion = tactics["TA0005"]
    evasion.update(name="Stealth", x_mitre_shortname="stealth", modified=_STAMP)
    impairment = copy.deepcopy(evasion)
    impairment.update(id=_sid("x-mitre-tactic", "TA0112"), name="Defense Impairment",
                      x_mitre_shortname="defense-impairment", created=_STAMP,
                      external_references=[{"source_name": "mitre-attack", "external_id": "TA0112",
                                            "url": "https://attack.mitre.org/tactics/TA0112"}])
    objects.append(impairment)
    matrix = next(o for o in objects if o["type"] == "x-mitre-matrix")
    refs = matrix["tactic_refs"]
    refs.insert(refs.index(evasion["id"]) + 1, impairment["id"])
    for obj in objects:
        for phase in obj.get("kill_chain_phases") or ():
            if phase.get("phase_name") == "defense-evasion":
                phase["phase_name"] = "stealth"


def _new_techniques(by_aid: dict[str, dict[str, Any]], extra: Iterable[tuple[str, str]]) -> dict[str, dict[str, Any]]:
    """New id -> its new attack-pattern (parents first), made from the first object moved there."""
    made: dict[str, dict[str, Any]] = {}
    template = by_aid["T1562.001"]
    for tid, name in NEW_PARENTS.items():
        made[tid] = _technique(tid, name, template)
    for old, new, name in MOVES:
        if new not in made:
            made[new] = _technique(new, name or by_aid[old]["name"], by_aid[old])
    for tid, name in extra:
        made[tid] = _technique(tid, name, template)
    return made


def _move_relationships(objects: list[dict[str, Any]], moved: dict[str, str]) -> None:
    """Point every relationship at the new object (STIX id old -> new); drop the old sub-technique links."""
    for rel in objects:
        if rel["type"] != "relationship":
            continue
        if rel["relationship_type"] == "subtechnique-of" and rel["source_ref"] in moved:
            rel["revoked"] = True
            continue
        for end in ("source_ref", "target_ref"):
            if rel[end] in moved:
                rel[end] = moved[rel[end]]


def build_v19(bundle18: Path, version: str = "19.0") -> dict[str, Any]:
    """The 18.1 bundle with the v19 changes applied (``version`` "20.0" adds :data:`V20_EXTRA`)."""
    bundle = orjson.loads(bundle18.read_bytes())
    objects: list[dict[str, Any]] = bundle["objects"]
    _tactics(objects)
    by_aid = {aid: o for o in objects if o["type"] == "attack-pattern" and (aid := _aid(o))}
    made = _new_techniques(by_aid, [V20_EXTRA] if version.startswith("20") else [])
    moved = {by_aid[old]["id"]: made[new]["id"] for old, new, _ in MOVES}
    _move_relationships(objects, moved)
    for old, new, _ in MOVES:
        by_aid[old].update(revoked=True, modified=_STAMP)
        objects.append(_relationship("revoked-by", by_aid[old]["id"], made[new]["id"]))
    for tid, obj in made.items():
        objects.append(obj)
        if "." in tid:
            objects.append(_relationship("subtechnique-of", obj["id"], made[tid.split(".")[0]]["id"]))
    objects.append({"type": "x-mitre-collection", "id": _sid("x-mitre-collection", version), "spec_version": "2.1",
                    "name": "Enterprise ATT&CK (synthetic, v19-shaped)", "x_mitre_version": version,
                    "created": _STAMP, "modified": _STAMP, "x_mitre_attack_spec_version": "3.3.0",
                    "x_contents": []})
    for obj in objects:
        obj.setdefault("spec_version", "2.1")
    bundle.pop("spec_version", None)
    bundle["id"] = _sid("bundle", version)
    return bundle


def write_v19(bundle18: Path, folder: Path, version: str = "19.0") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"enterprise-attack-{version}.json"
    path.write_bytes(orjson.dumps(build_v19(bundle18, version)))
    return path
