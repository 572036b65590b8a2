"""Jobs for the background worker's tests: module-level (the spawned process imports them by name, as it does
``write_workbook``) in a module that imports little, so each test's worker starts fast."""

from __future__ import annotations

import errno
import importlib
import os
import signal
import time
from pathlib import Path
from typing import Any

from detcov.errors import DetcovError, Location


def disk_full(path: Path, *_: Any, **__: Any) -> Path:
    raise DetcovError("the disk is full: cannot write this file (the previous version is kept)",
                      location=Location(str(path)), hint="free some space (or choose another --out) and rerun")


def os_error() -> None:
    raise OSError(errno.ENOSPC, "No space left on device", "coverage.xlsx")


class Unpicklable(Exception):
    def __init__(self, a: int, b: int) -> None:
        super().__init__(f"{a}/{b}")


def odd_error() -> None:
    raise Unpicklable(1, 2)


def die(*_: Any, **__: Any) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def pid_then_sleep(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


class MissingModule:
    """Unpickles (in the worker) by importing a module that does not exist."""

    def __reduce__(self) -> tuple[Any, ...]:
        return importlib.import_module, ("detcov_no_such_module",)
