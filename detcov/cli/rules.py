"""``detcov rules check``: read SIEM rules in any format, account for every file, check rule health."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.markup import escape
from rich.table import Table

from detcov.cli.common import attack_options, console, err_console, load_kb, print_issues
from detcov.errors import DetcovError, Severity
from detcov.fileio import atomic_write_text, protect_inputs
from detcov.rules.model import FORMAT_CHOICES
from detcov.rules.report import FAIL_ON

if TYPE_CHECKING:
    from detcov.attack import AttackKB
    from detcov.rules import RuleSet
    from detcov.rules.health import HealthScope, RuleHealth


@click.group(epilog="""Examples:

\b
  detcov rules check rules/                                # every file accounted for, per format and status
  detcov rules check rules/ --inventory inventory.yaml     # + health: is each rule's log source collected?
  detcov rules check rules/ --csv rules.csv                # every rule as a row
  detcov rules check rules/ --fail-on unknown,broken       # exit 1 for CI pipelines
  detcov rules check inventory.csv --csv-column "techniques=MITRE ID"
""")
def rules() -> None:
    """SIEM rules: read them (Sigma, Splunk, Elastic, Sentinel, Defender, CSV, DeTT&CT) and check their
    health."""


def load_scopes(path: Path, kb: AttackKB) -> Sequence[HealthScope]:
    """Every (system group, SIEM) of the inventory: rules are judged where they would really run."""
    from detcov.coverage.scope import build_estate
    from detcov.datasources.catalog import load_catalog
    from detcov.datasources.inventory import load_inventory

    catalog = load_catalog()
    return build_estate(load_inventory(path, kb, catalog), kb, catalog).health_scopes


def _parse_columns(values: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        field, sep, header = value.partition("=")
        if not sep or not field.strip() or not header.strip():
            raise click.BadParameter(
                f"{value!r}: write FIELD=Header, e.g. techniques=MITRE ID", param_hint="--csv-column"
            )
        out[field.strip()] = header.strip()
    return out


def _parse_fail_on(value: str | None) -> list[str]:
    gates = [g.strip() for g in (value or "").split(",") if g.strip()]
    unknown = [g for g in gates if g not in FAIL_ON]
    if unknown:
        raise click.BadParameter(
            f"{', '.join(unknown)}: choose from {', '.join(FAIL_ON)}", param_hint="--fail-on"
        )
    return gates


def _counter_table(title: str, counts: Counter[str], first: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column(first)
    table.add_column("count", justify="right")
    for key, n in counts.most_common():
        table.add_row(escape(key or "(none)"), str(n))
    return table


def _print_summary(ruleset: RuleSet, health: list[RuleHealth] | None) -> None:
    from detcov.rules.report import health_counts

    console.print(
        f"[bold]{len(ruleset.files)}[/] files: {ruleset.files_parsed} parsed into "
        f"[bold]{len(ruleset)}[/] rules, {ruleset.files_skipped} skipped"
    )
    console.print(_counter_table("Rules per format", ruleset.by_format(), "format"))
    console.print(_counter_table("Rules per status", ruleset.by_status(), "status"))
    print_issues(i for f in ruleset.files for i in f.issues if i.severity is not Severity.INFO)
    if ruleset.files_skipped:
        console.print(_counter_table("Skipped files", ruleset.skip_reasons(), "reason"))
        for f in ruleset.files:
            if f.skipped and not f.skipped.startswith("not a rule"):
                console.print(f"  [yellow]skipped[/] {escape(f.path)}: {escape(f.skipped)}")
    if health is not None:
        console.print(_counter_table("Rule health", health_counts(health), "outcome"))
    problems = ruleset.technique_problems()
    if problems:
        table = Table(title="Technique ids that are not current", title_justify="left")
        for column in ("id", "status", "rules", "note"):
            table.add_column(column, justify="right" if column == "rules" else "left")
        notes = {(r.id or r.raw, r.status.value): r.note for rule in ruleset.rules for r in rule.techniques}
        for (tid, status), n in problems.most_common():
            table.add_row(escape(tid), status, str(n), escape(notes.get((tid, status), "")))
        console.print(table)


@rules.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMAT_CHOICES),
    default="auto",
    show_default=True,
    help="Only read rules of this format family.",
)
@click.option(
    "--inventory",
    type=click.Path(path_type=Path, dir_okay=False),
    help="inventory.yaml: check each rule's log sources against what reaches the SIEM.",
)
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write every rule (and its health) as CSV to this file ('-' for stdout).",
)
@click.option(
    "--csv-column",
    "csv_columns",
    multiple=True,
    metavar="FIELD=Header",
    help="Header of a column in CSV rule inventories (fields: id, name, techniques, status, log_source, "
    "tactics, severity, platforms, query). Repeatable.",
)
@click.option(
    "--fail-on",
    "fail_on",
    metavar="LIST",
    help=f"Exit 1 when any of these holds (comma-separated: {', '.join(FAIL_ON)}).",
)
@attack_options
def check(
    paths: tuple[Path, ...],
    fmt: str,
    inventory: Path | None,
    csv_path: Path | None,
    csv_columns: tuple[str, ...],
    fail_on: str | None,
    attack_path: Path | None,
    attack_version: str | None,
) -> None:
    """Read the rules under PATHS, account for every file, and report totals, technique-id problems and
    health."""
    from detcov.rules import assess, read_rules
    from detcov.rules.reader import other_release_issues
    from detcov.rules.report import gate_failures, rules_csv

    gates = _parse_fail_on(fail_on)
    kb, _ = load_kb(attack_path, attack_version)
    ruleset = read_rules(paths, kb, fmt, csv_columns=_parse_columns(csv_columns))
    if ruleset.issues:
        raise DetcovError(issues=ruleset.issues)
    print_issues(other_release_issues(ruleset))
    health = assess(ruleset.rules, kb, load_scopes(inventory, kb)) if inventory else None
    if csv_path is not None and str(csv_path) == "-":
        click.echo(rules_csv(ruleset.rules, health), nl=False)
    else:
        _print_summary(ruleset, health)
        if csv_path is not None:
            with protect_inputs([*paths, *([inventory] if inventory else [])]):
                atomic_write_text(csv_path, rules_csv(ruleset.rules, health))
            console.print(f"wrote {len(ruleset)} rules to {escape(str(csv_path))}")
    failures = gate_failures(ruleset, health, gates)
    if failures:
        for line in failures:
            err_console.print(f"[bold red]fail:[/] {escape(line)}")
        raise click.exceptions.Exit(1)


COMMANDS = (rules,)
