"""What every stage shares: the params options, the help text listing params, bad-input handling."""

from __future__ import annotations

import functools
from pathlib import Path

import typer

from recsys.errors import InputError

ParamsOption = typer.Option(Path("params.yaml"), "--params", help="params file to read")
SetOption = typer.Option(
    [], "--set", metavar="KEY=VALUE", help="override a param for this run, e.g. --set data.seed=7 (repeatable)"
)


def help_with_params(summary: str, *sections: str) -> str:
    """A command's help: its summary, then every params key it reads."""
    return summary + "\n\n\b\nParams read (params.yaml, or --set KEY=VALUE):\n\n" + "\n\n".join(sections)


def reports_bad_input(command):
    """Bad input ends in one line on stderr and exit status 2, not a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except InputError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(2) from None

    return wrapper
