"""The one crosswalk between ATT&CK v18-and-earlier ids and v19+ ids (techniques and tactics).

The pairs live in the reviewed data file ``crosswalk.yaml`` (each with its sources). They are applied in one place,
the id normaliser (:class:`detcov.attack.ids.IdNormalizer`), and only to ids the loaded bundle does not know, so
every reader of ids (rules, profiles, technique scores, validation, history, suggest) gets the same answer:

* v18 (or older) loaded, a v19 id written → counted under its older equivalent (``to-older`` / ``both`` pairs);
* v19+ loaded, a v18 id written that the bundle does not have → counted under its v19 id (``to-newer`` / ``both``);
* a bundle that knows an id always wins, and a newer bundle's own ``revoked-by`` links replace the table's pairs
  for the ids it revokes (:meth:`Crosswalk.with_bundle`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import cache, cached_property
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import Field

from detcov.errors import DetcovError, Location
from detcov.userfiles import UserModel, validate_model

_TID = r"^T\d{4}(\.\d{3})?$"
BUNDLE_SOURCE = "bundle"  # the source name of a pair taken from the loaded bundle's revoked-by relationships


class Direction(StrEnum):
    BOTH = "both"
    TO_NEWER = "to-newer"  # old → new only
    TO_OLDER = "to-older"  # new → old only

    @property
    def newer(self) -> bool:
        return self is not Direction.TO_OLDER

    @property
    def older(self) -> bool:
        return self is not Direction.TO_NEWER


class _TechniqueEntry(UserModel):
    old: str = Field(pattern=_TID)
    old_name: str
    new: str = Field(pattern=_TID)
    new_name: str
    direction: Direction
    sources: tuple[str, ...] = Field(min_length=1)
    evidence: str


class _NoEquivalentEntry(UserModel):
    new: str = Field(pattern=_TID)
    sources: tuple[str, ...] = Field(min_length=1)
    evidence: str


class _TacticEntry(UserModel):
    old: str
    old_id: str = Field(pattern=r"^TA\d{4}$")
    old_name: str
    new: str
    new_id: str = Field(pattern=r"^TA\d{4}$")
    new_name: str
    direction: Direction
    sources: tuple[str, ...] = Field(min_length=1)
    evidence: str


class _CrosswalkFile(UserModel):
    version: Literal[1]
    file_type: Literal["attack-crosswalk"]
    older: str
    newer: str
    sources: dict[str, str]
    techniques: tuple[_TechniqueEntry, ...]
    no_equivalent: tuple[_NoEquivalentEntry, ...] = ()
    tactics: tuple[_TacticEntry, ...] = ()


@dataclass(frozen=True, slots=True)
class Pair:
    """One reviewed equivalence: ``old`` (v18 and earlier) ↔ ``new`` (v19+)."""

    old: str
    new: str
    old_name: str
    new_name: str
    direction: Direction
    sources: tuple[str, ...]
    evidence: str


@dataclass(frozen=True)
class Crosswalk:
    older: str  # "18.1": newest release of the old ids
    newer: str  # "19.0": first release of the new ids
    sources: Mapping[str, str]
    pairs: tuple[Pair, ...]
    no_equivalent: Mapping[str, str]  # new id -> evidence
    tactics: tuple[Pair, ...]  # tactic shortnames (old_name/new_name hold "TA0005 Defense Evasion")

    @property
    def newer_major(self) -> str:
        return self.newer.split(".")[0]

    @cached_property
    def to_older(self) -> dict[str, Pair]:
        """New id → the pair that gives its older equivalent."""
        return {p.new: p for p in self.pairs if p.direction.older}

    @cached_property
    def to_newer(self) -> dict[str, Pair]:
        """Old id → the pair that gives its v19+ id."""
        return {p.old: p for p in self.pairs if p.direction.newer}

    @cached_property
    def new_ids(self) -> frozenset[str]:
        return frozenset(p.new for p in self.pairs) | frozenset(self.no_equivalent)

    def is_newer_id(self, tid: str) -> bool:
        """Is ``tid`` (or its parent) an id the newer release introduced?"""
        return tid in self.new_ids or tid.split(".")[0] in self.new_ids

    def tactic(self, key: str, *, loaded_is_newer: bool) -> str | None:
        """The loaded release's tactic shortname for one (shortname or TA id) of the other release (None: no
        pair). TA0005 is in both releases, so only shortnames cross for it."""
        for p in self.tactics:
            if loaded_is_newer and p.direction.newer and key in (p.old, p.old_name.split()[0]):
                return p.new
            if not loaded_is_newer and p.direction.older and key in (p.new, p.new_name.split()[0]):
                return p.old
        return None

    def with_bundle(self, revoked_chain: Callable[[str], tuple[str, ...]], known: Mapping[str, object]) -> Crosswalk:
        """The table as a newer bundle says it: where the bundle revokes an old id, its own link is the pair."""
        pairs: list[Pair] = []
        for p in self.pairs:
            chain = revoked_chain(p.old) if p.old in known else ()
            if len(chain) > 1 and p.direction.newer and chain[-1] != p.new:
                pairs.append(replace(p, new=chain[-1], new_name="", sources=(BUNDLE_SOURCE,),
                                     evidence=f"the loaded bundle revokes {p.old} by {' → '.join(chain[1:])}"))
            else:
                pairs.append(p)
        return replace(self, pairs=tuple(pairs))


def _check(doc: _CrosswalkFile, where: str) -> None:
    problems: list[str] = []
    for label, keyed in (("to-newer", [p.old for p in doc.techniques if p.direction.newer]),
                         ("to-older", [p.new for p in doc.techniques if p.direction.older])):
        twice = sorted({k for k in keyed if keyed.count(k) > 1})
        if twice:
            problems.append(f"{', '.join(twice)} have more than one {label} pair")
    named = {s for group in (doc.techniques, doc.no_equivalent, doc.tactics) for e in group for s in e.sources}
    if named - set(doc.sources):
        problems.append(f"unknown sources {', '.join(sorted(named - set(doc.sources)))}")
    clash = {p.new for p in doc.techniques} & {n.new for n in doc.no_equivalent}
    if clash:
        problems.append(f"{', '.join(sorted(clash))} are both paired and listed without equivalent")
    if problems:
        raise DetcovError("; ".join(problems), location=Location(where),
                          hint="one pair per id and direction; every source must be listed under 'sources'")


def parse_crosswalk(data: Any, where: str) -> Crosswalk:
    doc = validate_model(_CrosswalkFile, data, where)
    _check(doc, where)
    return Crosswalk(
        older=doc.older,
        newer=doc.newer,
        sources=dict(doc.sources),
        pairs=tuple(Pair(e.old, e.new, e.old_name, e.new_name, e.direction, e.sources, e.evidence)
                    for e in doc.techniques),
        no_equivalent={e.new: e.evidence for e in doc.no_equivalent},
        tactics=tuple(Pair(t.old, t.new, f"{t.old_id} {t.old_name}", f"{t.new_id} {t.new_name}", t.direction,
                           t.sources, t.evidence) for t in doc.tactics),
    )


@cache
def load_crosswalk() -> Crosswalk:
    """The shipped, reviewed crosswalk (``detcov/attack/crosswalk.yaml``)."""
    ref = resources.files("detcov.attack").joinpath("crosswalk.yaml")
    data: Any = yaml.load(ref.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
    return parse_crosswalk(data, str(ref))
