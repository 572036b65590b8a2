"""ATT&CK id normalisation, shared by every part of detcov.

Rule tags, user files and DeTT&CT files write technique ids in many ways (``T1059.001``, ``t1059.001``,
``attack.t1059.001``, `` T1059/001 ``). :func:`parse_technique_id` turns any of them into the canonical
form; :meth:`IdNormalizer.resolve` then says whether that id is current, revoked (and by what, following
``revoked-by`` chains to the end), deprecated, from another ATT&CK release and counted under its equivalent
(the crosswalk, :mod:`detcov.attack.crosswalk`), or unknown in the loaded ATT&CK version. This is the single
place where a technique id from a user or a rule is normalised: every consumer sees the same answer.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property

from detcov.attack.crosswalk import Crosswalk, Pair

_TECHNIQUE = re.compile(r"(?<![A-Za-z0-9])t(\d{4})(?:[._/](\d{3}))?(?!\d)", re.IGNORECASE)
_TECHNIQUE_EXACT = re.compile(r"^\s*(?:attack[._])?t(\d{4})(?:[._/](\d{3}))?\s*$", re.IGNORECASE)
_TACTIC_ID = re.compile(r"^\s*(?:attack[._])?ta(\d{4})\s*$", re.IGNORECASE)


class IdStatus(StrEnum):
    CURRENT = "current"
    REVOKED = "revoked"  # replaced: ``current`` holds the replacement
    DEPRECATED = "deprecated"  # withdrawn with no successor
    CROSSWALKED = "crosswalked"  # an id of another ATT&CK release: ``current`` is its equivalent in the loaded one
    UNKNOWN = "unknown"  # well formed, but not in this ATT&CK version (e.g. a newer id)
    INVALID = "invalid"  # not a technique id at all


@dataclass(frozen=True, slots=True)
class IdResolution:
    """The outcome of normalising one technique id as written by a user or a rule."""

    raw: str
    id: str | None  # canonical form of what was written (T1059.001), None if invalid
    current: str | None  # the id to count coverage against (replacement when revoked), None if unusable
    status: IdStatus
    chain: tuple[str, ...] = ()  # revoked-by chain, e.g. (T1073, T1574.002, T1574.001); crosswalk: (T1685, T1562.001)
    suggestions: tuple[str, ...] = ()
    detail: str = ""  # the explanation, when the normaliser words it itself (ids of another release)
    release: str | None = None  # "v19+" / "v18 or earlier" / "newer": the release of an id the bundle lacks

    @property
    def usable(self) -> bool:
        return self.current is not None

    @property
    def note(self) -> str:
        if self.detail:
            return self.detail
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
    """Resolves technique ids against one ATT&CK version (and, for ids it lacks, through the crosswalk)."""

    status: Mapping[str, IdStatus]  # every technique id in the bundle -> CURRENT / REVOKED / DEPRECATED
    revoked_by: Mapping[str, str]
    names: Mapping[str, str]
    crosswalk: Crosswalk | None = None
    version: str | None = None  # the loaded ATT&CK version, for the notes

    def resolve(self, raw: str) -> IdResolution:
        tid = parse_technique_id(raw)
        if tid is None:
            return IdResolution(raw, None, None, IdStatus.INVALID)
        if tid not in self.status:
            return self._other_release(raw, tid)
        return self._in_bundle(raw, tid)

    def _in_bundle(self, raw: str, tid: str) -> IdResolution:
        status = self.status[tid]
        if status is IdStatus.REVOKED:
            chain = self.revocation_chain(tid)
            final = chain[-1]
            usable = final if self.status.get(final) is IdStatus.CURRENT else None
            return IdResolution(raw, tid, usable, IdStatus.REVOKED, chain)
        if status is IdStatus.DEPRECATED:
            return IdResolution(raw, tid, None, IdStatus.DEPRECATED)
        return IdResolution(raw, tid, tid, IdStatus.CURRENT)

    @cached_property
    def loaded_is_newer(self) -> bool:
        """Does the loaded bundle hold the crosswalk's new ids (v19+), rather than its old ones?"""
        cw = self.crosswalk
        if cw is None:
            return False
        new = sum(self.status.get(p.new) is IdStatus.CURRENT for p in cw.pairs)
        old = sum(self.status.get(p.old) is IdStatus.CURRENT for p in cw.pairs)
        return new > old

    @cached_property
    def _max_number(self) -> int:
        return max((int(t[1:5]) for t in self.status), default=0)

    @property
    def _loaded(self) -> str:
        return f"the loaded {self.version}" if self.version else "the loaded ATT&CK"

    def _other_release(self, raw: str, tid: str) -> IdResolution:
        """An id the bundle lacks: counted through the crosswalk, or reported as a newer id, or plain unknown."""
        cw = self.crosswalk
        pair = None if cw is None else (cw.to_newer if self.loaded_is_newer else cw.to_older).get(tid)
        if pair is not None and cw is not None:
            target = pair.new if self.loaded_is_newer else pair.old
            found = self._in_bundle(target, target) if target in self.status else None
            if found is not None and found.current is not None:
                return self._crosswalked(raw, tid, pair, found, cw)
        newer = not self.loaded_is_newer and (
            (cw is not None and cw.is_newer_id(tid)) or int(tid[1:5]) > self._max_number)
        if newer:
            return self._newer_unmatched(raw, tid, cw)
        return IdResolution(raw, tid, None, IdStatus.UNKNOWN, suggestions=tuple(self.suggest(tid)))

    def _crosswalked(self, raw: str, tid: str, pair: Pair, found: IdResolution, cw: Crosswalk) -> IdResolution:
        chain = (tid, *(found.chain or (found.current or "",)))
        if self.loaded_is_newer:
            release = f"v{cw.older.split('.')[0]} or earlier"
            detail = (f"{tid} is an ATT&CK {release} id, not in {self._loaded}; "
                      f"counted as {found.current} here (crosswalk: {', '.join(pair.sources)})")
        else:
            release = f"v{cw.newer_major}+"
            detail = (f"{tid} is an ATT&CK {release} id, newer than {self._loaded}; "
                      f"counted as {found.current} here")
        return IdResolution(raw, tid, found.current, IdStatus.CROSSWALKED, chain, detail=detail, release=release)

    def _newer_unmatched(self, raw: str, tid: str, cw: Crosswalk | None) -> IdResolution:
        if cw is not None and cw.is_newer_id(tid):
            release = f"v{cw.newer_major}+"
            detail = f"{tid} is an ATT&CK {release} id, newer than {self._loaded}, with no known equivalent here"
            parent = cw.to_older.get(tid.split(".")[0]) if "." in tid else None
            if parent is not None and self.status.get(parent.old) is IdStatus.CURRENT:
                detail += f" (its parent {parent.new} counts as {parent.old}: tag the rule with that if it fits)"
        else:
            release = "newer"
            detail = (f"{tid} is numbered past every technique of {self._loaded}: an id of a newer ATT&CK "
                      "release, with no known equivalent here")
        return IdResolution(raw, tid, None, IdStatus.UNKNOWN, detail=detail, release=release)

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
