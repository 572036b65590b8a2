"""The ``detcov`` command: a thin click layer; each command group lives in its own module."""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.markup import escape

from detcov import __version__
from detcov.cli.common import err_console, print_issues
from detcov.errors import DetcovError

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 110}


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="detcov")
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """detcov: how well can this SOC see, detect and block the ATT&CK techniques that matter to it?"""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


# One module per command group, each exporting COMMANDS; a module not written yet is simply absent.
_COMMAND_MODULES = ("attack", "inventory", "catalog", "visibility", "rules", "profile", "scan", "history", "report",
                    "suggest", "pull", "sector")


def _register() -> None:
    import importlib

    if cli.commands:
        return
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(f"detcov.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"detcov.cli.{name}":
                continue
            raise
        for command in getattr(module, "COMMANDS", ()):
            cli.add_command(command)


def main(argv: list[str] | None = None) -> Any:
    """Entry point: user errors become one line each on stderr and exit status 2 (tracebacks with --debug)."""
    _register()
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        return cli.main(args=args, prog_name="detcov", standalone_mode=False)
    except click.exceptions.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except DetcovError as exc:
        if debug:
            raise
        print_issues(exc.issues)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        if debug:
            raise
        err_console.print(f"[bold red]internal error:[/] {escape(type(exc).__name__)}: {escape(str(exc))} "
                          "— rerun with --debug for the traceback and report it")
        sys.exit(3)
