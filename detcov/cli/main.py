"""The ``detcov`` command: a thin click layer; each command lives in its own module, imported only when used.

``detcov --help`` and ``detcov COMMAND --help`` must answer in a blink, so the command modules keep their
top-level imports light (click, rich, detcov's small modules) and import pandas, networkx, stix2, pyarrow,
plotly, jinja2 and mitreattack inside the functions that need them. ``tests/test_cli_startup.py`` checks it.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from detcov import __version__

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 110}

# command name -> "module:attribute"; the module is imported when the command runs or its help is shown.
LAZY_COMMANDS: dict[str, str] = {
    "init": "detcov.cli.init:init",
    "scan": "detcov.cli.scan:scan",
    "attack": "detcov.cli.attack:attack",
    "inventory": "detcov.cli.inventory:inventory",
    "catalog": "detcov.cli.catalog:catalog",
    "visibility": "detcov.cli.visibility:visibility",
    "rules": "detcov.cli.rules:rules",
    "profile": "detcov.cli.profile:profile",
    "history": "detcov.cli.history:history",
    "report": "detcov.cli.report:report",
    "suggest": "detcov.cli.suggest:suggest",
    "pull": "detcov.cli.pull:pull",
    "share": "detcov.cli.sector:share",
    "sector": "detcov.cli.sector:sector",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use (click's documented lazy-loading pattern)."""

    def __init__(self, *args: Any, lazy_commands: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*self.lazy_commands, *(c for c in super().list_commands(ctx) if c not in self.lazy_commands)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands:
            return self._load(cmd_name)
        return super().get_command(ctx, cmd_name)

    def _load(self, cmd_name: str) -> click.Command:
        module_name, _, attribute = self.lazy_commands[cmd_name].partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{module_name}:{attribute} is not a click command")
        return command


@click.group(cls=LazyGroup, lazy_commands=LAZY_COMMANDS, context_settings=CONTEXT_SETTINGS,
             epilog="Examples:\n\n\b\n"
                    "  detcov init my-soc                      # starter inventory + commented scan config\n"
                    "  detcov scan my-soc/detcov.yaml --out out\n"
                    "  detcov attack info                      # which ATT&CK is used, and from where\n"
                    "  detcov rules check rules/ --inventory my-soc/inventory.yaml\n\n"
                    "Run `detcov COMMAND --help` for a command's options and examples.")
@click.version_option(__version__, prog_name="detcov")
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """detcov: how well can this SOC see, detect and block the ATT&CK techniques that matter to it?"""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def main(argv: list[str] | None = None) -> Any:
    """Entry point: user errors become one line each on stderr and exit status 2 (tracebacks with --debug)."""
    from detcov.errors import DetcovError

    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        return cli.main(args=args, prog_name="detcov", standalone_mode=False)
    except click.exceptions.Abort:
        _err("aborted")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except DetcovError as exc:
        if debug:
            raise
        from detcov.cli.common import print_issues

        print_issues(exc.issues)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        if debug:
            raise
        from rich.markup import escape

        _err(f"[bold red]internal error:[/] {escape(type(exc).__name__)}: {escape(str(exc))} "
             "— rerun with --debug for the traceback and report it")
        sys.exit(3)


def _err(text: str) -> None:
    from detcov.cli.common import err_console

    err_console.print(text)
