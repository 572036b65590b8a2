"""``detcov catalog list|show|check``: browse the vendor-neutral device catalogue."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from detcov.cli.common import attack_options, console, load_kb, print_issues
from detcov.datasources.catalog import EVIDENCE, check_catalog, load_catalog
from detcov.errors import DetcovError, Severity


@click.group()
def catalog() -> None:
    """Browse the device catalogue (device types → ATT&CK data components, log sources, blocking)."""


@catalog.command("list")
def list_types() -> None:
    """All device types with their component counts, evidence mix and blocking mitigations."""
    cat = load_catalog()
    table = Table(title=f"detcov device catalogue ({len(cat)} types)")
    for col in ("type", "name", "family", "platforms", "components", "evidence A/S/R",
                "blocks (mitigations)"):
        table.add_column(col)
    for t in cat:
        mix = "/".join(str(sum(c.evidence == e for c in t.components)) for e in "ASR")
        table.add_row(t.id, escape(t.name), t.family, ", ".join(t.platforms or ("any",)),
                      str(len(t.components)), mix, ", ".join(t.blocking.mitigations) if t.blocking else "")
    console.print(table)


@catalog.command()
@click.argument("type_id")
def show(type_id: str) -> None:
    """One device type: components with evidence, log sources, settings, blocking."""
    cat = load_catalog()
    t = cat.get(type_id)
    if t is None:
        close = cat.suggest(type_id)
        raise DetcovError(f"unknown device type {type_id!r}",
                          hint=f"did you mean {', '.join(close)}?" if close else "see `detcov catalog list`")
    console.print(f"[bold]{t.id}[/] — {escape(t.name)} ({t.family})")
    if t.description:
        console.print(escape(t.description))
    console.print(f"platforms: {', '.join(t.platforms or ('any platform of the groups it covers',))}")
    if t.log_sources:
        console.print("log sources: " + escape(", ".join(t.log_sources)))
    table = Table(show_lines=False)
    for col in ("data component", "evidence", "reference", "requires"):
        table.add_column(col, overflow="fold")
    for c in t.components:
        where = f" [{', '.join(c.platforms)}]" if c.platforms else ""
        table.add_row(escape(c.component + where), f"{c.evidence} ({EVIDENCE[c.evidence]})", escape(c.ref),
                      c.requires or "")
    console.print(table)
    for s in t.settings:
        console.print(f"setting [bold]{s.id}[/]: {escape(s.description)}")
    for note in t.configuration:
        console.print(f"note: {escape(note)}")
    if t.blocking:
        console.print(f"blocking: {', '.join(t.blocking.mitigations)} — {escape(t.blocking.description)}")


@catalog.command()
@attack_options
def check(attack_path: Path | None, attack_version: str | None) -> None:
    """Check that every catalogue name exists in the ATT&CK version (components, platforms, mitigations)."""
    kb, _ = load_kb(attack_path, attack_version)
    cat = load_catalog()
    issues = check_catalog(cat, kb)
    print_issues(issues)
    n = sum(len(t.components) for t in cat)
    errors = [i for i in issues if i.severity is Severity.ERROR]
    console.print(f"{len(cat)} device types, {n} component mappings: "
                  f"{len(errors)} error(s), {len(issues) - len(errors)} warning(s) "
                  f"against ATT&CK {kb.version}")
    if errors:
        raise SystemExit(1)


COMMANDS = (catalog,)
