"""Technique ids from ATT&CK releases newer than the loaded one (a Sigma corpus ahead of the bundle).

SigmaHQ moved to ATT&CK v19 ids (``T1685`` …) before detcov's bundles did; the loaded version reports them as
unknown. The shipped ``newer_ids.yaml`` gives the loaded-version equivalent of the ones with clear evidence;
the rest are reported as newer ids with no known equivalent, never silently dropped.
"""

from __future__ import annotations

import dataclasses
import weakref
from functools import cache
from importlib import resources
from typing import Any

import yaml
from pydantic import Field

from detcov.attack import AttackKB, IdResolution, IdStatus
from detcov.rulepack.model import NewerId
from detcov.rules import Rule
from detcov.userfiles import UserModel, validate_model


class NewerEntry(UserModel):
    id: str = Field(pattern=r"^T\d{4}(\.\d{3})?$")
    name: str
    loaded: str = Field(pattern=r"^T\d{4}(\.\d{3})?$")
    evidence: str


class NewerTable(UserModel):
    version: int
    file_type: str = Field(pattern="^newer-attack-ids$")
    attack_version: str
    entries: tuple[NewerEntry, ...]


@cache
def newer_table() -> NewerTable:
    ref = resources.files("detcov.rulepack").joinpath("newer_ids.yaml")
    data: Any = yaml.load(ref.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
    return validate_model(NewerTable, data, str(ref))


_MAX_NUMBER: weakref.WeakKeyDictionary[AttackKB, int] = weakref.WeakKeyDictionary()


def _max_number(kb: AttackKB) -> int:
    """The highest technique number the loaded ATT&CK knows (any status)."""
    found = _MAX_NUMBER.get(kb)
    if found is None:
        found = _MAX_NUMBER[kb] = max(
            (int(t.id[1:5]) for t in kb.techniques(subtechniques=False, active_only=False)), default=0
        )
    return found


def newer_id(res: IdResolution, kb: AttackKB) -> NewerId | None:
    """A tag unknown to the loaded ATT&CK that belongs to a newer release: from the table, or numbered past
    every technique the loaded version has. None for current/revoked ids and for plain unknown ids."""
    if res.status is not IdStatus.UNKNOWN or res.id is None:
        return None
    table = newer_table()
    entry = next((e for e in table.entries if e.id == res.id), None)
    if entry is not None:
        loaded = kb.resolve(entry.loaded).current
        return NewerId(res.id, loaded, entry.name, table.attack_version)
    if int(res.id[1:5]) > _max_number(kb):
        return NewerId(res.id, None, "", "newer")
    return None


def counted_rule(rule: Rule, kb: AttackKB) -> tuple[Rule, tuple[NewerId, ...]]:
    """The rule with newer-release tags replaced by their loaded equivalents (so coverage counts them), and
    the newer ids it carries (with or without an equivalent)."""
    newer: list[NewerId] = []
    techniques: dict[str, IdResolution] = {}
    for res in rule.techniques:
        found = newer_id(res, kb)
        if found is not None:
            newer.append(found)
            if found.loaded is not None:
                mapped = kb.resolve(found.loaded)
                techniques.setdefault(mapped.id or mapped.raw, mapped)
                continue
        techniques.setdefault(res.id or res.raw, res)
    if not any(n.loaded for n in newer):
        return rule, tuple(newer)
    note = "; ".join(n.note for n in newer)
    return dataclasses.replace(rule, techniques=tuple(techniques.values()),
                               notes=(*rule.notes, note)), tuple(newer)
