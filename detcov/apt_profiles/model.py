"""A resolved threat profile: groups (ATT&CK or custom) with their technique uses, against one ATT&CK version.

A :class:`Profile` is what :func:`detcov.apt_profiles.load_profile` returns, whatever the input (a shipped
profile, the user's YAML, a STIX intel bundle or a DeTT&CT group file). Every group carries its technique uses
with provenance, so weighting (:mod:`detcov.apt_profiles.weights`) is a pure function of the profile.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from detcov.attack.kb import ALL_PROVENANCES
from detcov.attack.model import Provenance
from detcov.errors import Issue

if TYPE_CHECKING:
    from detcov.apt_profiles.weights import TechniqueWeight, WeightOptions
    from detcov.attack import AttackKB


class GroupKind(StrEnum):
    ATTACK = "attack"  # an ATT&CK intrusion set; uses come from the loaded ATT&CK version
    CUSTOM = "custom"  # the user's own actor (YAML actor, STIX intel, DeTT&CT group file)


@dataclass(frozen=True, slots=True)
class GroupUse:
    """One route by which a profile group uses a technique."""

    technique: str  # current ATT&CK id
    provenance: Provenance
    via: str | None = None  # campaign / software id (or name, for custom intel)
    modified: str = ""  # ISO date of the relationship, for recency weighting
    weight: float = 1.0  # per-technique weight given by the source (custom actors, DeTT&CT weights)


@dataclass(frozen=True, slots=True)
class ProfileGroup:
    """A member of a profile: an ATT&CK group or a custom actor."""

    key: str  # G0046, or the custom actor's name
    name: str
    kind: GroupKind
    uses: tuple[GroupUse, ...]
    weight: float = 1.0  # the profile's emphasis on this group (multiplies every contribution)
    aliases: tuple[str, ...] = ()
    quotes: tuple[str, ...] = ()  # quotes checked against this ATT&CK version's description
    reason: str | None = None
    note: str | None = None
    source: str | None = None
    attack_group: str | None = None  # for custom actors that correspond to an ATT&CK group

    def technique_ids(self, provenances: Collection[Provenance] = ALL_PROVENANCES) -> frozenset[str]:
        return frozenset(u.technique for u in self.uses if u.provenance in provenances)

    def route_counts(self) -> dict[Provenance, int]:
        """Distinct techniques per route (a technique can be reached by several routes)."""
        return {p: len(self.technique_ids((p,))) for p in Provenance}

    @property
    def label(self) -> str:
        return f"{self.key} {self.name}" if self.kind is GroupKind.ATTACK else self.name


@dataclass(frozen=True, slots=True)
class ForcedTechnique:
    """A technique the profile forces in (e.g. T1657 Financial Theft), with a weight floor and why."""

    technique: str
    weight: float = 1.0
    note: str | None = None


@dataclass(frozen=True)
class Profile:
    """Who attacks us: groups with their technique uses, forced techniques, issues found loading it."""

    name: str
    title: str
    source: str  # "shipped:financial-sector", a file path, ...
    attack_version: str | None
    groups: tuple[ProfileGroup, ...]
    forced: tuple[ForcedTechnique, ...] = ()
    description: str = ""
    platforms: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    issues: tuple[Issue, ...] = field(default=(), compare=False)  # warnings (errors raise instead)

    @property
    def group_ids(self) -> tuple[str, ...]:
        """ATT&CK ids of the ATT&CK groups in the profile."""
        return tuple(g.key for g in self.groups if g.kind is GroupKind.ATTACK)

    def group(self, key: str) -> ProfileGroup | None:
        folded = key.casefold()
        for g in self.groups:
            if folded in (g.key.casefold(), g.name.casefold(), *(a.casefold() for a in g.aliases)):
                return g
        return None

    def technique_ids(self, provenances: Collection[Provenance] = ALL_PROVENANCES) -> frozenset[str]:
        out: set[str] = {f.technique for f in self.forced}
        for g in self.groups:
            out |= g.technique_ids(provenances)
        return frozenset(out)

    def weights(self, kb: AttackKB, options: WeightOptions | None = None) -> dict[str, TechniqueWeight]:
        """Technique id -> weight, highest first (see :func:`.weights.compute_weights`)."""
        from detcov.apt_profiles.weights import WeightOptions, compute_weights

        return compute_weights(self, kb, options or WeightOptions())


_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_CITATION = re.compile(r"\(Citation:[^)]*\)")


def plain_description(text: str) -> str:
    """An ATT&CK description as plain text: markdown links -> their text, citations dropped, spaces folded."""
    return " ".join(_CITATION.sub("", _LINK.sub(r"\1", text)).split())


def quote_in(quote: str, description: str) -> bool:
    """Whether ``quote`` is in the description (markdown and citations ignored, case and spaces folded)."""
    return " ".join(quote.casefold().split()) in plain_description(description).casefold()
