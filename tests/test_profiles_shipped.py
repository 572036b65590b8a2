"""Shipped profiles: resolve fully on ATT&CK 17.1 and 18.1, and every quote is really in ATT&CK."""

from __future__ import annotations

import re

import pytest
import yaml

from detcov.apt_profiles import (
    DEFAULT_PROFILE,
    GroupKind,
    load_profile,
    shipped_profile_path,
    shipped_profiles,
)
from detcov.attack import AttackKB

DEFAULT_GROUPS = {
    "G0008", "G0046", "G0080", "G0082", "G0032", "G0138", "G0091", "G0092", "G0120", "G0037", "G0061",
    "G1016", "G0105", "G0102", "G1015", "G0098", "G0096", "G1006", "G0081", "G0131",
}
FORCED = {"T1657", "T1565.001", "T1565.002", "T1565.003", "T1486", "T1190", "T1133"}


def _raw(name: str) -> dict:
    path = shipped_profile_path(name)
    assert path is not None
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _plain(description: str) -> str:
    # independent of detcov: drop markdown link targets and citations, fold spaces and case
    text = re.sub(r"\]\([^)]*\)", "", description).replace("[", "")
    text = re.sub(r"\(Citation:[^)]*\)", "", text)
    return " ".join(text.split()).casefold()


def _major(kb: AttackKB) -> int:
    assert kb.version
    return int(kb.version.split(".")[0])


def test_shipped_names() -> None:
    assert {"financial-sector", "taiwan-financial", "ransomware-financial"} <= set(shipped_profiles())
    assert DEFAULT_PROFILE == "financial-sector"


def test_default_profile_resolves_fully(kb_any: AttackKB) -> None:
    p = load_profile(DEFAULT_PROFILE, kb_any)
    assert p.issues == ()
    assert set(p.group_ids) == DEFAULT_GROUPS
    assert all(g.kind is GroupKind.ATTACK and g.uses for g in p.groups)
    assert {f.technique for f in p.forced} == FORCED
    assert p.attack_version == kb_any.version
    # every group carries at least one quote that was verified against this version
    assert all(g.quotes for g in p.groups)


@pytest.mark.parametrize("name", ["financial-sector", "taiwan-financial", "ransomware-financial"])
def test_every_shipped_profile_resolves_without_issues(kb_any: AttackKB, name: str) -> None:
    p = load_profile(name, kb_any)
    assert p.issues == ()
    assert len(p.groups) >= 5
    for g in p.groups:
        group = kb_any.group(g.key)
        assert group is not None and group.active and group.name == g.name


@pytest.mark.parametrize("name", ["financial-sector", "taiwan-financial", "ransomware-financial"])
def test_quotes_are_in_the_attack_descriptions(kb_any: AttackKB, name: str) -> None:
    major = _major(kb_any)
    for entry in _raw(name)["groups"]:
        group = kb_any.group(entry["id"])
        assert group is not None
        assert group.name == entry["name"]
        applicable = []
        for q in entry["quotes"]:
            q = {"text": q} if isinstance(q, str) else q
            if q.get("since", 0) <= major <= q.get("until", 999):
                applicable.append(q["text"])
        assert applicable, f"{entry['id']} has no quote for ATT&CK {kb_any.version}"
        description = _plain(group.description)
        for text in applicable:
            assert " ".join(text.split()).casefold() in description, (entry["id"], text)


def test_financial_sector_includes_the_taiwan_add_on(kb18: AttackKB) -> None:
    full = load_profile("financial-sector", kb18)
    addon = load_profile("taiwan-financial", kb18)
    assert set(addon.group_ids) < set(full.group_ids)
    assert addon.technique_ids() <= full.technique_ids()
