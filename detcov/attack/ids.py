"""ATT&CK id normalisation, shared by every part of detcov.

Rule tags, user files and DeTT&CT files write technique ids in many ways (``T1059.001``, ``t1059.001``,
``attack.t1059.001``, `` T1059/001 ``). :func:`parse_technique_id` turns any of them into the canonical
form; :meth:`IdNormalizer.resolve` then says whether that id is current, revoked (and by what, following
``revoked-by`` chains to the end), deprecated, or unknown in the loaded ATT&CK version.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

_TECHNIQUE = re.compile(r"(?<![A-Za-z0-9])t(\d{4})(?:[._/](\d{3}))?(?!\d)", re.IGNORECASE)
_TECHNIQUE_EXACT = re.compile(r"^\s*(?:attack[._])?t(\d{4})(?:[._/](\d{3}))?\s*$", re.IGNORECASE)
_TACTIC_ID = re.compile(r"^\s*(?:attack[._])?ta(\d{4})\s*$", re.IGNORECASE)


class IdStatus(StrEnum):
    CURRENT = "current"
    REVOKED = "revoked"  # replaced: ``current`` holds the replacement
    DEPRECATED = "deprecated"  # withdrawn with no successor
    UNKNOWN = "unknown"  # well formed, but not in this ATT&CK version (e.g. a newer id)
    INVALID = "invalid"  # not a technique id at all


@dataclass(frozen=True, slots=True)
class IdResolution:
    """The outcome of normalising one technique id as written by a user or a rule."""

    raw: str
    id: str | None  # canonical form of what was written (T1059.001), None if invalid
    current: str | None  # the id to count coverage against (replacement when revoked), None if unusable
    status: IdStatus
    chain: tuple[str, ...] = ()  # revoked-by chain, e.g. (T1073, T1574.002, T1574.001)
    suggestions: tuple[str, ...] = ()

    @property
    def usable(self) -> bool:
        return self.current is not None

    @property
    def note(self) -> str:
        if self.status is IdStatus.REVOKED:
            return f"{self.id} is revoked; counted as {' → '.join(self.chain[1:])}"
        if self.status is IdStatus.DEPRECATED:
            return f"{self.id} is deprecated in this ATT&CK version (no replacement)"
        if self.status is IdStatus.UNKNOWN:
            hint = f"; closest: {', '.join(self.suggestions)}" if self.suggestions else ""
            return f"{self.id} is not in this ATT&CK version{hint}"
        if self.status is IdStatus.INVALID:
            return f"{self.raw!r} is not an ATT&CK technique id"
        return ""


def parse_technique_id(text: str) -> str | None:
    """Canonical ``T1234`` / ``T1234.001`` from one id as written, or None if it is not a technique id."""
    match = _TECHNIQUE_EXACT.match(text)
    if not match:
        return None
    return f"T{match.group(1)}" + (f".{match.group(2)}" if match.group(2) else "")


def find_technique_ids(text: str) -> list[str]:
    """Every technique id inside free text (``"... T1059.001 and t1003 ..."``), canonical, in order, unique."""
    seen: dict[str, None] = {}
    for m in _TECHNIQUE.finditer(text):
        seen[f"T{m.group(1)}" + (f".{m.group(2)}" if m.group(2) else "")] = None
    return list(seen)


def parse_tactic_id(text: str) -> str | None:
    match = _TACTIC_ID.match(text)
    return f"TA{match.group(1)}" if match else None


def tactic_key(text: str) -> str:
    """One key for tactic names and tags: ``attack.defense_evasion``, ``Defense Evasion`` → ``defense-evasion``."""
    value = text.strip().lower()
    if value.startswith("attack."):
        value = value[len("attack."):]
    return re.sub(r"[\s_]+", "-", value)


@dataclass(frozen=True)
class IdNormalizer:
    """Resolves technique ids against one ATT&CK version."""

    status: Mapping[str, IdStatus]  # every technique id in the bundle -> CURRENT / REVOKED / DEPRECATED
    revoked_by: Mapping[str, str]
    names: Mapping[str, str]

    def resolve(self, raw: str) -> IdResolution:
        tid = parse_technique_id(raw)
        if tid is None:
            return IdResolution(raw, None, None, IdStatus.INVALID)
        status = self.status.get(tid)
        if status is None:
            return IdResolution(raw, tid, None, IdStatus.UNKNOWN, suggestions=tuple(self.suggest(tid)))
        if status is IdStatus.REVOKED:
            chain = self.revocation_chain(tid)
            final = chain[-1]
            usable = final if self.status.get(final) is IdStatus.CURRENT else None
            return IdResolution(raw, tid, usable, IdStatus.REVOKED, chain)
        if status is IdStatus.DEPRECATED:
            return IdResolution(raw, tid, None, IdStatus.DEPRECATED)
        return IdResolution(raw, tid, tid, IdStatus.CURRENT)

    def revocation_chain(self, tid: str) -> tuple[str, ...]:
        chain = [tid]
        while chain[-1] in self.revoked_by and len(chain) < 20:
            nxt = self.revoked_by[chain[-1]]
            if nxt in chain:
                break
            chain.append(nxt)
        return tuple(chain)

    def suggest(self, text: str, limit: int = 3) -> list[str]:
        """Closest current ids: same parent first, then by string similarity of the id or the name."""
        current = [t for t, s in self.status.items() if s is IdStatus.CURRENT]
        tid = parse_technique_id(text)
        if tid is not None:
            parent = tid.split(".")[0]
            if parent in self.names and self.status.get(parent) is IdStatus.CURRENT and parent != tid:
                siblings = sorted(t for t in current if t.startswith(parent + "."))
                return [parent, *difflib.get_close_matches(tid, siblings, n=limit - 1, cutoff=0.0)][:limit]
            return difflib.get_close_matches(tid, current, n=limit, cutoff=0.6)
        by_name = {self.names[t].lower(): t for t in current}
        return [by_name[n] for n in difflib.get_close_matches(text.lower(), list(by_name), n=limit, cutoff=0.5)]

    def resolve_many(self, raws: Sequence[str]) -> list[IdResolution]:
        return [self.resolve(r) for r in raws]
