"""Regulatory and control mapping of the report: which FSC Action Plan 2.0 measures and ISO/IEC 27001:2022 Annex A
controls the report gives evidence for, and NIST CSF 2.0 coverage through the CRI Profile v2.1 (the financial
sector's profile of CSF) as mapped to ATT&CK by the Center for Threat-Informed Defense.

The CRI mapping ships as a derived table (``data/cri-profile-v2.1-attack.json``: technique id → CRI diagnostic
statement ids, plus the CSF category labels), made by :func:`derive_cri` from Mappings Explorer's
``cri_profile-v2.1_attack-16.1-enterprise.json`` (Apache-2.0; the source, commit and licence are in the file).
Regenerate it with ``python -m detcov.outputs.report.controls SOURCE.json``.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from detcov.fileio import atomic_write
from detcov.outputs.history.diff import covered
from detcov.outputs.history.snapshot import TechniqueRow

CRI_FILE = "cri-profile-v2.1-attack.json"
CRI_SOURCE = {"repository": "center-for-threat-informed-defense/mappings-explorer",
              "commit": "2911162ca45dc34971f3a9fbc9892d1c7fa07b99",
              "file": "mappings/cri_profile-v2.1_attack-16.1-enterprise.json", "licence": "Apache-2.0"}


@dataclass(frozen=True, slots=True)
class Control:
    """One requirement the report gives evidence for; ``kpis`` decide its RAG, ``sections`` hold the evidence."""

    framework: str  # fsc | iso27001
    id: str
    kpis: tuple[str, ...]
    sections: tuple[str, ...]


ALL = ("visibility", "detection", "blocking", "validated")
CONTROLS = (
    Control("fsc", "AP2.0-5", ALL, ("kpis", "trends", "crown", "validation")),
    Control("fsc", "AP2.0-4.2", ("visibility", "detection"), ("trends", "rule_health", "data_quality")),
    Control("iso27001", "A.5.7", (), ("evidence",)),
    Control("iso27001", "A.8.15", ("visibility",), ("trends", "data_quality")),
    Control("iso27001", "A.8.16", ("detection",), ("kpis", "rule_health")),
    Control("iso27001", "A.5.24", (), ("actions",)),
    Control("iso27001", "A.5.25", ("detection",), ("risks", "rule_health")),
    Control("iso27001", "A.5.26", ("blocking",), ("kpis", "risks")),
    Control("iso27001", "A.5.27", ("validated",), ("validation", "actions")),
    Control("iso27001", "A.5.28", (), ("evidence",)),
)


def derive_cri(source: Mapping[str, Any]) -> dict[str, Any]:
    """The shipped table from a Mappings Explorer CRI Profile file: technique → sorted diagnostic statement ids."""
    techniques: dict[str, set[str]] = defaultdict(set)
    for row in source["mapping_objects"]:
        if row.get("mapping_type") == "mitigates" and row.get("attack_object_id"):
            techniques[str(row["attack_object_id"])].add(str(row["capability_id"]))
    meta = source["metadata"]
    return {"source": CRI_SOURCE, "framework": f"{meta['mapping_framework']} {meta['mapping_framework_version']}",
            "attack_version": meta["attack_version"], "categories": dict(meta["capability_groups"]),
            "techniques": {t: sorted(ids) for t, ids in sorted(techniques.items())}}


@cache
def cri_table() -> dict[str, Any]:
    text = resources.files("detcov.outputs.report").joinpath("data").joinpath(CRI_FILE).read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@dataclass(frozen=True, slots=True)
class CsfCoverage:
    """One CSF 2.0 category: the in-scope techniques the CRI Profile maps to it and how many are covered."""

    category: str  # DE.CM
    label: str  # "Detect: Continuous Monitoring" (English, from the mapping)
    statements: int  # CRI diagnostic statements of the category that map to these techniques
    techniques: int
    detected: int
    blocked: int


def _category(statement: str) -> str:
    return statement.split("-", 1)[0]


def csf_coverage(techniques: Sequence[TechniqueRow]) -> tuple[CsfCoverage, ...]:
    """Per CSF category, the quarter's in-scope techniques the CRI Profile maps to it, weakest detection first.

    Sub-techniques the mapping does not list count under their parent's statements.
    """
    table = cri_table()
    mapped: Mapping[str, list[str]] = table["techniques"]
    rows: dict[str, list[TechniqueRow]] = defaultdict(list)
    statements: dict[str, set[str]] = defaultdict(set)
    for row in techniques:
        if not row.in_scope:
            continue
        ids = mapped.get(row.technique) or mapped.get(row.technique.split(".")[0]) or []
        for category in sorted({_category(s) for s in ids}):
            rows[category].append(row)
            statements[category].update(s for s in ids if _category(s) == category)
    out = [CsfCoverage(c, table["categories"].get(c, c), len(statements[c]), len(rs),
                       sum(covered(r, "detection") for r in rs), sum(covered(r, "prevention") for r in rs))
           for c, rs in rows.items()]
    return tuple(sorted(out, key=lambda c: (c.detected / c.techniques, c.category)))


def main(argv: Sequence[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m detcov.outputs.report.controls cri_profile-v2.1_attack-16.1-enterprise.json")
        return 2
    derived = derive_cri(json.loads(Path(argv[0]).read_text("utf-8")))
    out = Path(str(resources.files("detcov.outputs.report").joinpath("data").joinpath(CRI_FILE)))
    atomic_write(out, (json.dumps(derived, ensure_ascii=False, indent=0) + "\n").encode("utf-8"))
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
