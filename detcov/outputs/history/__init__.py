"""History of recorded scans (SQLite): record a scan folder as a quarter, list, load and compare quarters.

Public API (called by ``detcov scan --record`` and the quarterly report)::

    record_scan(store, "2026Q3", scan_dir, replace=False)
    history = open_history(store)
    history.quarters(); history.load("2026Q3"); history.diff("2026Q2", "2026Q3")
"""

from detcov.defaults import DEFAULT_STORE
from detcov.outputs.history.diff import BROKEN_HEALTH, HistoryDiff, ViewChange, covered, health_bucket
from detcov.outputs.history.history import History, kb_for_comparison, open_history
from detcov.outputs.history.quarters import parse_quarter, quarter_key
from detcov.outputs.history.snapshot import DeviceRow, RuleRow, Snapshot, TechniqueRow, read_scan
from detcov.outputs.history.store import record_scan, write_snapshot

__all__ = [
    "BROKEN_HEALTH",
    "DEFAULT_STORE",
    "DeviceRow",
    "History",
    "HistoryDiff",
    "RuleRow",
    "Snapshot",
    "TechniqueRow",
    "ViewChange",
    "covered",
    "health_bucket",
    "kb_for_comparison",
    "open_history",
    "parse_quarter",
    "quarter_key",
    "read_scan",
    "record_scan",
    "write_snapshot",
]
