"""The :class:`History` of recorded quarters: list, load, compare, pick the quarters a report compares with."""

from __future__ import annotations

from pathlib import Path

from detcov.attack import AttackKB, load_attack
from detcov.coverage.summary import Summary
from detcov.errors import DetcovError
from detcov.outputs.history.diff import HistoryDiff, diff_snapshots, version_key
from detcov.outputs.history.quarters import parse_quarter, quarter_key, year_ago
from detcov.outputs.history.snapshot import Snapshot
from detcov.outputs.history.store import read_snapshot, read_summaries, stored_quarters


def kb_for_comparison(old: str | None, new: str | None, kb: AttackKB | None) -> AttackKB | None:
    """The knowledge base whose id normaliser compares two ATT&CK versions: the newer one, when available.

    ``kb`` is used when it is that version; otherwise the local bundles / cache are tried (never the network).
    Same versions need no normaliser (None).
    """
    if old == new:
        return None
    newer = max((old, new), key=version_key)
    if kb is not None and (newer is None or kb.version == newer):
        return kb
    if newer is None:
        return None
    try:
        return load_attack(version=newer)
    except DetcovError:
        return None


class History:
    """A history store opened for reading (see :func:`open_history`). Snapshots are loaded once and kept."""

    def __init__(self, store: Path) -> None:
        self.store = Path(store)
        self._quarters = stored_quarters(self.store)
        self._snapshots: dict[str, Snapshot] = {}
        self._summaries: dict[str, Summary] | None = None

    def quarters(self) -> list[str]:
        """Recorded quarters, oldest first."""
        return list(self._quarters)

    def load(self, quarter: str) -> Snapshot:
        quarter = parse_quarter(quarter)
        if quarter not in self._snapshots:
            self._snapshots[quarter] = read_snapshot(self.store, quarter)
        return self._snapshots[quarter]

    def summaries(self) -> dict[str, Summary]:
        """Every recorded quarter's summary, oldest first (no tables: cheap)."""
        if self._summaries is None:
            self._summaries = read_summaries(self.store)
        return dict(self._summaries)

    def until(self, quarter: str) -> list[str]:
        """Recorded quarters up to and including ``quarter``."""
        key = quarter_key(quarter)
        return [q for q in self._quarters if quarter_key(q) <= key]

    def previous(self, quarter: str) -> str | None:
        """The latest recorded quarter before ``quarter``."""
        earlier = self.until(quarter)
        earlier = [q for q in earlier if q != parse_quarter(quarter)]
        return earlier[-1] if earlier else None

    def year_ago(self, quarter: str) -> str | None:
        """The same quarter one year earlier, when recorded."""
        target = year_ago(quarter)
        return target if target in self._quarters else None

    def diff(self, q1: str, q2: str, *, kb: AttackKB | None = None) -> HistoryDiff:
        """What changed from ``q1`` to ``q2`` (ids compared through the newer ATT&CK version's normaliser)."""
        old, new = self.load(q1), self.load(q2)
        return diff_snapshots(old, new, kb_for_comparison(old.attack_version, new.attack_version, kb))


def open_history(store: Path) -> History:
    """Open a history store for reading; :class:`DetcovError` if there is none or it is not one."""
    return History(Path(store))
