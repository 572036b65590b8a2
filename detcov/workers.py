"""How many processes detcov may use: the one home of that decision.

``$DETCOV_WORKERS`` (a positive number) caps it — ``1`` means "no extra process" (rule parsing stays in this
process, the workbook is written inline) — else one per CPU.
"""

from __future__ import annotations

import os

WORKERS_ENV = "DETCOV_WORKERS"


def process_budget(workers: int | None = None) -> int:
    """``workers`` when given, else ``$DETCOV_WORKERS`` when it is a positive number, else the CPU count."""
    if workers is None:
        env = os.environ.get(WORKERS_ENV, "").strip()
        workers = int(env) if env.isdigit() and int(env) > 0 else (os.cpu_count() or 1)
    return max(1, workers)
