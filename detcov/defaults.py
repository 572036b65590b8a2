"""Default file names shared by the commands and the packages behind them (light to import: ``--help`` reads it)."""

from __future__ import annotations

DEFAULT_STORE = "detcov-history.sqlite"
"""The quarterly history store, in the current folder unless ``--store`` or ``$DETCOV_HISTORY`` say otherwise."""
DEFAULT_PROFILE = "financial-sector"
"""The shipped threat profile used when a scan config or ``detcov profile show`` names none."""
DEFAULT_MIN_HOSTS = 5
"""``detcov share``: a scope class with fewer hosts is generalised (k-anonymity of the shared coverage summary)."""
