"""Summaries of a rule check (totals, technique problems, CI gates) and the CSV of all rules. Pure
functions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from detcov.attack import IdStatus
from detcov.csvsafe import csv_text

if TYPE_CHECKING:
    from detcov.rules.health import RuleHealth
from detcov.rules.model import Rule, RuleSet

FAIL_ON = ("unknown", "revoked", "broken", "unmapped", "unhealthy")
MALFORMED = ("malformed", "binary file", "not UTF-8", "unreadable", "too large")
CSV_COLUMNS = (
    "format",
    "file",
    "line",
    "id",
    "title",
    "status",
    "raw_status",
    "severity",
    "techniques",
    "written_ids",
    "technique_notes",
    "tactics",
    "platforms",
    "log_sources",
    "health",
    "health_detail",
    "missing",
)


def broken_files(ruleset: RuleSet) -> list[str]:
    """Files skipped because they are damaged (bad YAML/JSON/TOML, binary, too large), not because they are
    not
    rules."""
    return [f.path for f in ruleset.files if f.skipped and f.skipped.startswith(MALFORMED)]


COUNTED = frozenset({IdStatus.REVOKED.value, IdStatus.CROSSWALKED.value})  # not current, but counted


def health_counts(health: Iterable[RuleHealth]) -> Counter[str]:
    return Counter(h.outcome.value for h in health)


def gate_failures(ruleset: RuleSet, health: Sequence[RuleHealth] | None, fail_on: Iterable[str]) -> list[str]:
    """One line per ``--fail-on`` condition that is met (empty: the CI gate passes)."""
    problems = ruleset.technique_problems()
    out: list[str] = []
    for gate in fail_on:
        if gate == "unknown":
            bad = sum(n for (_, status), n in problems.items() if status not in COUNTED)
            if bad:
                out.append(
                    f"{bad} technique references are unknown, deprecated or invalid in this ATT&CK version"
                )
        elif gate == "revoked":
            bad = sum(n for (_, status), n in problems.items() if status == IdStatus.REVOKED.value)
            if bad:
                out.append(f"{bad} technique references use revoked ids")
        elif gate == "broken":
            files = broken_files(ruleset)
            if files:
                out.append(f"{len(files)} files are malformed or unreadable")
            from detcov.rules.health import HealthOutcome  # loads ATT&CK's model: not for `rules --help`

            missing = [h for h in health or () if h.outcome is HealthOutcome.MISSING_LOG_SOURCE]
            if missing:
                out.append(f"{len(missing)} enabled rules need a log source that is not collected")
        elif gate == "unmapped":
            bad = sum(1 for r in ruleset.rules if not r.techniques)
            if bad:
                out.append(f"{bad} rules carry no ATT&CK technique")
        elif gate == "unhealthy":
            bad = sum(1 for h in health or () if not h.healthy)
            if bad:
                out.append(f"{bad} rules are not healthy")
    return out


def _row(rule: Rule, health: RuleHealth | None) -> list[str]:
    return [
        rule.format.value,
        rule.path,
        str(rule.location.line or ""),
        rule.id,
        rule.title,
        rule.status.value,
        rule.raw_status or "",
        rule.severity or "",
        " ".join(rule.technique_ids),
        " ".join(r.id or r.raw for r in rule.techniques),
        "; ".join(r.note for r in rule.techniques if r.note),
        " ".join(rule.tactics),
        " ".join(rule.platforms),
        "; ".join(rule.log_source_labels),
        health.outcome.value if health else "",
        health.detail if health else "",
        "; ".join(health.missing) if health else "",
    ]


def rules_csv(rules: Sequence[Rule], health: Sequence[RuleHealth] | None = None) -> str:
    """All rules as CSV (one row each; the health columns are empty without an inventory)."""
    by_rule = {id(h.rule): h for h in health or ()}
    return csv_text(CSV_COLUMNS, (_row(rule, by_rule.get(id(rule))) for rule in rules))
