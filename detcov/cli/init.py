"""``detcov init DIR``: a starter scan config, inventory and rules folder, ready for a first scan."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import click
from rich.markup import escape

from detcov.cli.common import console
from detcov.errors import DetcovError, Issue, Location

RULES_NOTE = """Put your SIEM rule exports here (any mix of formats, in sub-folders if you like), then run
    detcov rules check rules/
to see what detcov read and what it skipped. Files named README/LICENSE and documents are ignored.
"""


def _template(package: str, name: str) -> tuple[str, str]:
    resource = files(package).joinpath(name)
    return str(resource), resource.read_text(encoding="utf-8")


def starter_files(name: str | None) -> dict[str, str]:
    """File name (relative to the new folder) → text: the commented scan config and inventory templates."""
    from detcov.userfiles import dump_yaml, load_yaml

    out = {}
    for target, (package, template) in {"detcov.yaml": ("detcov.templates", "detcov.yaml"),
                                        "inventory.yaml": ("detcov.datasources", "templates/inventory.yaml")}.items():
        where, text = _template(package, template)
        if name:
            doc = load_yaml(where, text=text)
            doc["name"] = name
            text = dump_yaml(doc)
        out[target] = text
    out["rules/README.txt"] = RULES_NOTE
    return out


@click.command(epilog="""Examples:

\\b
  detcov init my-soc --name "Example Bank"    # my-soc/detcov.yaml, inventory.yaml, rules/
  detcov inventory check my-soc/inventory.yaml
  detcov scan my-soc/detcov.yaml
""")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False), default=Path())
@click.option("--name", help="The institution's name, written into both files.")
@click.option("--force", is_flag=True, help="Overwrite existing files.")
def init(directory: Path, name: str | None, force: bool) -> None:
    """Start a scan of your own SOC: writes a commented scan config (detcov.yaml), an inventory template and an
    empty rules/ folder into DIRECTORY (default: the current folder)."""
    from detcov.fileio import atomic_write

    planned = starter_files(name)
    existing = [directory / rel for rel in planned if (directory / rel).exists()]
    if existing and not force:
        raise DetcovError(issues=[Issue("the file already exists", Location(str(p)),
                                        "pass --force to overwrite it, or choose another folder")
                                  for p in existing])
    for rel, text in planned.items():
        atomic_write(directory / rel, text.encode("utf-8"))
    console.print(f"wrote {escape(str(directory / 'detcov.yaml'))}, inventory.yaml and rules/. Next:\n"
                  f"  1. describe your devices and system groups in {escape(str(directory / 'inventory.yaml'))}, "
                  f"then `detcov inventory check {escape(str(directory / 'inventory.yaml'))}`\n"
                  f"  2. copy your SIEM rule exports into {escape(str(directory / 'rules'))}/\n"
                  f"  3. `detcov scan {escape(str(directory / 'detcov.yaml'))}`")
