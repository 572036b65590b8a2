"""User-facing errors and issues: one line each, with a location and a fix.

Every part of detcov reports bad input the same way: a :class:`Issue` names the file (and line and column
when known), says what is wrong and how to fix it. Readers *collect* issues instead of stopping at the first
one; the CLI prints them all together and exits with status 2. A :class:`DetcovError` carries one or more
issues when a run cannot go on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Location:
    """Where an issue is: a file, and a 1-based line and column when known."""

    path: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        if self.line is None:
            return self.path
        return f"{self.path}:{self.line}" if self.column is None else f"{self.path}:{self.line}:{self.column}"

    @classmethod
    def of(cls, path: str | Path, line: int | None = None, column: int | None = None) -> Location:
        return cls(str(path), line, column)


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem found in user input or data, with how to fix it."""

    message: str
    location: Location | None = None
    hint: str | None = None
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}" if self.location else self.message
        return f"{text} — {self.hint}" if self.hint else text


class DetcovError(Exception):
    """A run cannot go on; carries every issue that explains why."""

    def __init__(
        self,
        message: str | None = None,
        *,
        location: Location | None = None,
        hint: str | None = None,
        issues: Iterable[Issue] = (),
    ) -> None:
        collected = list(issues)
        if message is not None:
            collected.insert(0, Issue(message, location, hint))
        if not collected:
            collected = [Issue("unknown error")]
        self.issues: tuple[Issue, ...] = tuple(collected)
        super().__init__("\n".join(str(i) for i in self.issues))


@dataclass
class IssueCollector:
    """Collects issues during a run; raise them all at once with :meth:`raise_if_errors`."""

    issues: list[Issue] = field(default_factory=list)

    def add(self, issue: Issue) -> None:
        self.issues.append(issue)

    def error(self, message: str, location: Location | None = None, hint: str | None = None) -> None:
        self.issues.append(Issue(message, location, hint, Severity.ERROR))

    def warning(self, message: str, location: Location | None = None, hint: str | None = None) -> None:
        self.issues.append(Issue(message, location, hint, Severity.WARNING))

    def extend(self, issues: Iterable[Issue]) -> None:
        self.issues.extend(issues)

    def attempt(self, load: Callable[[], T]) -> T | None:
        """``load()``, or None after collecting its :class:`DetcovError`'s issues: a broken file does not hide
        the problems of the next one (raise them all together with :meth:`raise_if_errors`)."""
        try:
            return load()
        except DetcovError as exc:
            self.extend(exc.issues)
            return None

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity is Severity.WARNING]

    def raise_if_errors(self) -> None:
        if self.errors:
            raise DetcovError(issues=self.errors)

    def __iter__(self) -> Iterator[Issue]:
        return iter(self.issues)

    def __len__(self) -> int:
        return len(self.issues)
