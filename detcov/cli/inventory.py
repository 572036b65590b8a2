"""``detcov inventory check|init|import-dettect|export-dettect|techniques-dettect``: the device inventory."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from detcov.cli.common import attack_options, console, err_console, load_kb, print_issues
from detcov.errors import DetcovError, Location, Severity
from detcov.fileio import atomic_write_text, protect_inputs

_FILE = click.Path(path_type=Path, dir_okay=False)


@click.group(epilog="""Examples:

\b
  detcov inventory init inventory.yaml --name "Example Bank"   # commented template to fill in
  detcov inventory check inventory.yaml                         # every problem at once, file:line:col
  detcov inventory import-dettect data-sources.yaml -o inventory.yaml
  detcov inventory export-dettect inventory.yaml -o data-sources.yaml
""")
def inventory() -> None:
    """Validate, create, import and export the inventory of devices and log sources."""


@inventory.command()
@attack_options
@click.argument("path", type=_FILE)
def check(attack_path: Path | None, attack_version: str | None, path: Path) -> None:
    """Validate an inventory file: every problem with file:line:col, then a summary per system group."""
    from detcov.datasources.catalog import load_catalog
    from detcov.datasources.inventory import load_inventory_with_issues

    kb, _ = load_kb(attack_path, attack_version)
    cat = load_catalog()
    inv, issues, _doc = load_inventory_with_issues(path, kb, cat)
    print_issues(issues)
    groups = inv.group_telemetry(kb, cat)
    table = Table(title=f"{escape(inv.name or str(path))}: {len(inv.devices)} devices (ATT&CK {kb.version})")
    for col in ("system group", "platforms", "hosts", "devices", "components in SIEM",
                "deployed, not in SIEM"):
        table.add_column(col)
    for g in inv.system_groups:
        gt = groups[g.applicable_to]
        in_siem = {dc for m in gt.components.values() for dc in m}
        idle = {dc for m in gt.not_in_siem.values() for dc in m} - in_siem
        table.add_row(escape(g.applicable_to), ", ".join(g.platforms), str(g.hosts or ""),
                      str(len(inv.devices_for(g.applicable_to))), str(len(in_siem)), str(len(idle)))
    console.print(table)
    warnings = sum(i.severity is Severity.WARNING for i in issues)
    console.print(f"valid: {len(inv.system_groups)} system groups, {len(inv.devices)} devices, "
                  f"{sum(1 for d in inv.devices if d.blocking)} blocking; {warnings} warning(s)")


@inventory.command()
@click.argument("path", type=_FILE, default=Path("inventory.yaml"))
@click.option("--name", help="The institution's name, written into the file.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(path: Path, name: str | None, force: bool) -> None:
    """Write a commented inventory template to PATH (default inventory.yaml)."""
    from detcov.userfiles import load_yaml, save_yaml

    if path.exists() and not force:
        raise DetcovError("the file already exists", location=Location(str(path)),
                          hint="pass --force to overwrite it, or choose another path")
    template = files("detcov.datasources").joinpath("templates/inventory.yaml")
    doc = load_yaml(str(template), text=template.read_text(encoding="utf-8"))
    if name:
        doc["name"] = name
    save_yaml(path, doc)
    console.print(f"wrote {path}: edit it, then run `detcov inventory check {path}`")


@inventory.command("import-dettect")
@attack_options
@click.argument("source", type=_FILE)
@click.option("-o", "--output", type=_FILE, required=True, help="Inventory file to write.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def import_cmd(attack_path: Path | None, attack_version: str | None, source: Path, output: Path,
               force: bool) -> None:
    """Convert a DeTT&CT data-source administration file into a detcov inventory."""
    from detcov.datasources.catalog import load_catalog
    from detcov.datasources.dettect import import_dettect, write_yaml
    from detcov.datasources.inventory import Inventory
    from detcov.userfiles import validate_model

    if output.exists() and not force:
        raise DetcovError("the output file already exists", location=Location(str(output)),
                          hint="pass --force")
    kb, _ = load_kb(attack_path, attack_version)
    doc, issues = import_dettect(source, kb, load_catalog())
    print_issues(issues)
    inv = validate_model(Inventory, doc, output)
    with protect_inputs([source]):
        write_yaml(output, doc)
    console.print(f"wrote {output}: {len(inv.system_groups)} system groups, {len(inv.devices)} devices "
                  f"(review the device names, types and settings)")


@inventory.command("export-dettect")
@attack_options
@click.argument("path", type=_FILE)
@click.option("-o", "--output", type=_FILE, required=True, help="DeTT&CT data-source administration file.")
def export_cmd(attack_path: Path | None, attack_version: str | None, path: Path, output: Path) -> None:
    """Write the inventory as a DeTT&CT data-source administration file (v1.1)."""
    from detcov.datasources.catalog import load_catalog
    from detcov.datasources.dettect import export_dettect, write_yaml
    from detcov.datasources.inventory import load_inventory_with_issues

    kb, _ = load_kb(attack_path, attack_version)
    cat = load_catalog()
    inv, issues, _doc = load_inventory_with_issues(path, kb, cat)
    print_issues(i for i in issues if i.severity is not Severity.WARNING)
    doc = export_dettect(inv, kb, cat)
    with protect_inputs([path]):
        write_yaml(output, doc)
    err_console.print(f"wrote {output}: {len(doc['data_sources'])} data sources for "
                      f"{len(doc['systems'])} systems")


@inventory.command("techniques-dettect")
@attack_options
@click.argument("path", type=_FILE)
@click.option("-o", "--output", type=_FILE, required=True, help="DeTT&CT technique-administration file to write.")
@click.option("-u", "--update", "existing", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="Merge into this technique-administration file (its score_logbook history and manual scores "
                   "are kept; the result goes to --output).")
@click.option("--all-techniques", is_flag=True, help="Also list techniques with visibility 0 (like DeTT&CT -ya).")
def techniques_cmd(attack_path: Path | None, attack_version: str | None, path: Path, output: Path,
                   existing: Path | None, all_techniques: bool) -> None:
    """Write detcov's visibility scores as a DeTT&CT technique-administration file (like DeTT&CT `ds -y` / `-u`)."""
    import datetime as dt

    from detcov.datasources.catalog import load_catalog
    from detcov.datasources.inventory import load_inventory_with_issues
    from detcov.datasources.techadmin import (
        check_technique_admin,
        plain_yaml,
        technique_admin,
        update_technique_admin,
    )
    from detcov.datasources.visibility import score_visibility
    from detcov.userfiles import load_yaml, save_yaml

    kb, _ = load_kb(attack_path, attack_version)
    cat = load_catalog()
    inv, issues, _doc = load_inventory_with_issues(path, kb, cat)
    print_issues(i for i in issues if i.severity is not Severity.WARNING)
    scores: dict[str, dict[str, int]] = {}
    for vs in score_visibility(kb, inv, cat):
        if vs.score > 0 or all_techniques:
            scores.setdefault(vs.technique, {})[vs.system_group] = vs.score
    techniques = {t: ((kb.technique(t).name if kb.technique(t) else t), s) for t, s in scores.items()}  # type: ignore[union-attr]
    today = dt.date.today()
    with protect_inputs([path, *([existing] if existing else [])]):
        if existing is None:
            platforms = sorted({p for g in inv.system_groups for p in g.platforms})
            atomic_write_text(output, plain_yaml(technique_admin(inv.name or "detcov", platforms, techniques, today)))
        else:
            doc = load_yaml(existing)
            problems = check_technique_admin(doc, existing)
            if problems:
                raise DetcovError(issues=problems)
            print_issues(update_technique_admin(doc, techniques, today))
            save_yaml(output, doc)
    console.print(f"wrote {output}: visibility of {len(techniques)} techniques in {len(inv.system_groups)} "
                  "system groups (auto_generated entries; detection objects are placeholders to fill in)")


COMMANDS = (inventory,)
