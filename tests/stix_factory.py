"""Builds small synthetic ATT&CK STIX bundles for unit tests (v17-style and v18-style detection models).

The bundle has 3 tactics (one of them a v19-style split, to prove nothing assumes 14 fixed tactics), a multi-tactic
technique with two sub-techniques, a revoked chain (T9001 -> T9002 -> T1001.001), a deprecated technique, a group
using techniques directly, through a campaign and through software, and a mitigation.
"""

from __future__ import annotations

import itertools
from typing import Any

_counter = itertools.count(1)


def sid(kind: str) -> str:
    return f"{kind}--00000000-0000-4000-8000-{next(_counter):012d}"


def ext(attack_id: str, source: str = "mitre-attack") -> list[dict[str, str]]:
    return [{"source_name": source, "external_id": attack_id, "url": f"https://attack.mitre.org/{attack_id}"}]


def obj(kind: str, attack_id: str | None, name: str, **extra: Any) -> dict[str, Any]:
    o: dict[str, Any] = {"type": kind, "id": sid(kind), "name": name, "modified": "2025-01-01T00:00:00.000Z",
                         "x_mitre_attack_spec_version": extra.pop("spec", "3.2.0")}
    if attack_id:
        o["external_references"] = ext(attack_id)
    o.update(extra)
    return o


def rel(kind: str, src: dict[str, Any], dst: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "relationship", "id": sid("relationship"), "relationship_type": kind,
            "source_ref": src["id"], "target_ref": dst["id"], "modified": "2025-02-02T00:00:00.000Z", **extra}


def technique(tid: str, name: str, tactics: list[str], platforms: list[str], **extra: Any) -> dict[str, Any]:
    return obj("attack-pattern", tid, name, x_mitre_platforms=platforms, x_mitre_is_subtechnique="." in tid,
               kill_chain_phases=[{"kill_chain_name": "mitre-attack", "phase_name": t} for t in tactics], **extra)


def build_bundle(model: str = "v18", domain: str = "enterprise-attack") -> dict[str, Any]:
    """A bundle dict; ``model`` is "v18" (strategies/analytics) or "v17" (data-component detects)."""
    tactics = [obj("x-mitre-tactic", f"TA000{i}", name, x_mitre_shortname=short)
               for i, (name, short) in enumerate([("Execution", "execution"), ("Stealth", "stealth"),
                                                  ("Defense Impairment", "defense-impairment")], start=1)]
    matrix = obj("x-mitre-matrix", domain, "Synthetic ATT&CK", tactic_refs=[t["id"] for t in reversed(tactics)],
                 x_mitre_domains=[domain])
    t1001 = technique("T1001", "Interpreter", ["execution", "stealth"], ["Windows", "Linux"])
    t1001_1 = technique("T1001.001", "Shell One", ["execution"], ["Windows"])
    t1001_2 = technique("T1001.002", "Shell Two", ["execution", "stealth"], ["Linux"])
    t1002 = technique("T1002", "Impair Logs", ["defense-impairment"], ["Windows"])
    old1 = technique("T9001", "Old One", ["execution"], ["Windows"], revoked=True)
    old2 = technique("T9002", "Old Two", ["execution"], ["Windows"], revoked=True)
    gone = technique("T9003", "Withdrawn", ["stealth"], ["Windows"], x_mitre_deprecated=True)
    ds = obj("x-mitre-data-source", "DS0001", "Process", x_mitre_platforms=["Windows", "Linux"])
    dc_proc = obj("x-mitre-data-component", "DC0001" if model == "v18" else None, "Process Creation",
                  x_mitre_data_source_ref=ds["id"] if model == "v17" else "",
                  x_mitre_log_sources=[{"name": "WinEventLog:Sysmon", "channel": "EventCode=1"}])
    dc_cmd = obj("x-mitre-data-component", "DC0002" if model == "v18" else None, "Command Execution",
                 x_mitre_data_source_ref=ds["id"] if model == "v17" else "")
    group = obj("intrusion-set", "G0001", "Fin Bandits", aliases=["Fin Bandits", "BANDIT PANDA"],
                description="Fin Bandits steal from banks.")
    campaign = obj("campaign", "C0001", "Operation Vault", aliases=["Operation Vault"])
    malware = obj("malware", "S0001", "VaultRAT", x_mitre_aliases=["VaultRAT"], x_mitre_platforms=["Windows"])
    mitigation = obj("course-of-action", "M1001", "Execution Prevention", description="Block it.")
    objects: list[dict[str, Any]] = [
        *tactics, matrix, t1001, t1001_1, t1001_2, t1002, old1, old2, gone, ds, dc_proc, dc_cmd, group, campaign,
        malware, mitigation,
        rel("subtechnique-of", t1001_1, t1001), rel("subtechnique-of", t1001_2, t1001),
        rel("revoked-by", old1, old2), rel("revoked-by", old2, t1001_1),
        rel("uses", group, t1001_1), rel("uses", group, malware), rel("uses", malware, t1002),
        rel("attributed-to", campaign, group), rel("uses", campaign, t1001_2),
        rel("uses", group, gone),  # to a deprecated technique: ignored
        rel("mitigates", mitigation, t1001_1, description="Use application control."),
    ]
    if model == "v18":
        an_win = obj("x-mitre-analytic", "AN0001", "Analytic 0001", spec="3.3.0", x_mitre_platforms=["Windows"],
                     description="Watch process creation.",
                     x_mitre_log_source_references=[
                         {"x_mitre_data_component_ref": dc_proc["id"], "name": "WinEventLog:Sysmon",
                          "channel": "EventCode=1"},
                         {"x_mitre_data_component_ref": dc_cmd["id"], "name": "WinEventLog:PowerShell",
                          "channel": "EventCode=4104"}],
                     x_mitre_mutable_elements=[{"field": "TimeWindow", "description": "tune it"}])
        an_lin = obj("x-mitre-analytic", "AN0002", "Analytic 0002", spec="3.3.0", x_mitre_platforms=["Linux"],
                     x_mitre_log_source_references=[
                         {"x_mitre_data_component_ref": dc_proc["id"], "name": "auditd:SYSCALL", "channel": "execve"}])
        det = obj("x-mitre-detection-strategy", "DET0001", "Detect interpreters", spec="3.3.0",
                  x_mitre_analytic_refs=[an_win["id"], an_lin["id"]])
        objects += [an_win, an_lin, det, rel("detects", det, t1001)]
    else:
        objects += [rel("detects", dc_proc, t1001, description="watch processes"),
                    rel("detects", dc_cmd, t1001_1, description="watch commands")]
    return {"type": "bundle", "id": sid("bundle"), "spec_version": "2.0", "objects": objects}
