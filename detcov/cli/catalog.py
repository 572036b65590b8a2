"""``detcov catalog list|show|check|blocking``: browse the vendor-neutral device catalogue and what it blocks."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.markup import escape
from rich.table import Table

from detcov.cli.common import attack_options, console, load_kb, print_issues
from detcov.errors import DetcovError, Severity

if TYPE_CHECKING:
    from detcov.attack import AttackKB
    from detcov.coverage.blocking_catalog import BlockingCatalog


@click.group(epilog="""Examples:

\b
  detcov catalog list                 # every device type
  detcov catalog show edr             # what an EDR gives ATT&CK: data components, log sources, blocking
  detcov catalog check                # every name in the catalogue exists in this ATT&CK version
  detcov catalog blocking firewall    # what a device type blocks, claim by claim with evidence
""")
def catalog() -> None:
    """Browse the device catalogue (device types → ATT&CK data components, log sources, blocking)."""


@catalog.command("list")
def list_types() -> None:
    """All device types with their component counts, evidence mix and blocking mitigations."""
    from detcov.datasources.catalog import load_catalog

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
    from detcov.datasources.catalog import EVIDENCE, load_catalog

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
    from detcov.datasources.catalog import check_catalog, load_catalog

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


@catalog.command("blocking")
@click.argument("type_id", required=False)
@attack_options
def blocking(type_id: str | None, attack_path: Path | None, attack_version: str | None) -> None:
    """What device types technically block, claim by claim with evidence (hardening shown apart)."""
    from detcov.coverage.blocking_catalog import load_blocking_catalog
    from detcov.datasources.catalog import load_catalog

    kb, _ = load_kb(attack_path, attack_version)
    bc = load_blocking_catalog(kb)
    print_issues(i for i in bc.issues if i.severity is not Severity.INFO)
    if type_id is None:
        _blocking_summary(bc)
        return
    key = type_id.strip().lower()
    if key not in bc.types and not bc.hardening(key):
        cat = load_catalog()
        if cat.get(key) is not None:
            raise DetcovError(f"device type {type_id!r} blocks nothing in the blocking catalogue",
                              hint="types with claims: " + ", ".join(bc.types))
        close = cat.suggest(key)
        raise DetcovError(f"unknown device type {type_id!r}",
                          hint=f"did you mean {', '.join(close)}?" if close else "see `detcov catalog blocking`")
    _blocking_detail(bc, key, kb)


def _blocking_summary(bc: BlockingCatalog) -> None:
    table = Table(title=f"detcov blocking catalogue ({len(bc.types)} device types)")
    for col in ("type", "claims", "techniques", "strength", "positions", "hardening"):
        table.add_column(col, overflow="fold")
    for t in bc.types:
        claims = bc.claims(t)
        low, high = min(c.strength for c in claims), max(c.strength for c in claims)
        table.add_row(t, str(len(claims)), str(len(bc.techniques(t))), f"{low}" if low == high else f"{low}-{high}",
                      ", ".join(dict.fromkeys(c.position.value for c in claims)),
                      " ".join(h.mitigation for h in bc.hardening(t)))
    console.print(table)
    console.print("strength on CTID's scale: 1 minimal, 2 partial, 3 significant. Hardening = policy mitigations, "
                  "never counted as blocking. `detcov catalog blocking TYPE` shows each claim with its evidence.")


def _blocking_detail(bc: BlockingCatalog, type_id: str, kb: AttackKB) -> None:
    from detcov.coverage.blocking_catalog import STRENGTH

    console.print(f"[bold]{type_id}[/] — {len(bc.techniques(type_id))} techniques in {len(bc.claims(type_id))} "
                  f"claim(s), ATT&CK {kb.version}")
    for n, c in enumerate(bc.claims(type_id), start=1):
        where = ", ".join(c.platforms) if c.platforms else "any platform of its groups"
        needs = f"; needs setting [bold]{c.requires}[/]" if c.requires else ""
        console.print(f"\n[bold]{n}. {c.position.value}[/] — {STRENGTH[c.strength]} ({c.strength}); {where}{needs}")
        grid = Table.grid(padding=(0, 1))
        grid.add_column(justify="right", style="dim", no_wrap=True)
        grid.add_column(overflow="fold")
        grid.add_row("blocks", escape("; ".join(f"{t} {tech.name}" if (tech := kb.technique(t)) else t
                                                 for t in c.techniques)))
        grid.add_row("evidence", escape(c.evidence))
        if c.note:
            grid.add_row("note", escape(c.note))
        console.print(grid)
    for h in bc.hardening(type_id):
        console.print(f"\nhardening, not blocking: [bold]{h.mitigation}[/] {escape(h.name)} "
                      f"({len(h.techniques)} techniques in ATT&CK) — {escape(h.evidence)}")


COMMANDS = (catalog,)
