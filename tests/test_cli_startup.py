"""``detcov --help`` and every ``COMMAND --help`` import none of the heavy libraries (checked in a fresh interpreter,
not timed: timings live in benchmarks/cli_startup.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from detcov.cli.main import LAZY_COMMANDS, cli

HEAVY = ("pandas", "numpy", "networkx", "stix2", "pyarrow", "plotly", "mitreattack", "jinja2", "xlsxwriter", "sigma")
# pydantic / ruamel / yaml are lighter; every command but `pull` (detcov.siem at import) keeps them out of --help too.

PROBE = """
import json, sys
from detcov.cli.main import main
for args in json.loads(sys.argv[1]):
    try:
        main(args)
    except SystemExit as exc:
        assert exc.code in (0, None), (args, exc.code)
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in json.loads(sys.argv[2]))))
"""


def imported_after(*commands: list[str]) -> list[str]:
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(commands), json.dumps(HEAVY)],
                          capture_output=True, text=True, check=True, env={**os.environ, "COLUMNS": "80"})
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


def test_top_level_help_imports_no_heavy_module() -> None:
    assert imported_after(["--help"]) == []


def test_every_command_help_imports_no_heavy_module() -> None:
    helps = [[name, "--help"] for name in LAZY_COMMANDS]
    groups = [[name, sub, "--help"] for name, path in LAZY_COMMANDS.items()
              for sub in getattr(cli.get_command(None, name), "commands", {})]  # type: ignore[arg-type]
    assert len(groups) > 10
    assert imported_after(*helps, *groups) == []


def test_every_command_has_examples_in_its_help() -> None:
    for name in LAZY_COMMANDS:
        command = cli.get_command(None, name)  # type: ignore[arg-type]
        assert command is not None and "Examples:" in (command.epilog or ""), name


def test_lazy_package_names_are_the_objects_not_submodules() -> None:
    """Every name a lazy package exports resolves to its object even after all its submodules are imported."""
    import importlib
    import pkgutil
    import types

    for name in ("detcov.attack", "detcov.rules", "detcov.rulepack", "detcov.outputs.report"):
        package = importlib.import_module(name)
        for info in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{name}.{info.name}")
        for exported in package.__all__:
            assert not isinstance(getattr(package, exported), types.ModuleType), f"{name}.{exported}"
