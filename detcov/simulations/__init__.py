"""Attack-simulation results from the tools purple teams use, as one model.

``read_results(path, kb, fmt="auto")`` reads detcov's own CSV, Invoke-AtomicRedTeam's CSV execution log, ATTiRe
JSON logs, MITRE Caldera operation reports / event logs and VECTR CSV exports into :class:`TestResult` rows. Each
reader module documents the upstream file it follows.
"""

from detcov.simulations.model import NO_OUTCOME, TestResult
from detcov.simulations.reader import FORMATS, read_results

__all__ = ["FORMATS", "NO_OUTCOME", "TestResult", "read_results"]
