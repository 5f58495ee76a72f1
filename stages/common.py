"""What every stage shares: the params options, the help text listing params, bad-input handling."""

from __future__ import annotations

import functools
import os
import signal
from pathlib import Path

import click
import typer

from recsys.config import SECTIONS, load_params, section
from recsys.errors import InputError

DEBUG = "RECSYS_DEBUG"  # set to 1 for the traceback of an unexpected failure
ParamsOption = typer.Option(Path("params.yaml"), "--params", help="params file to read")
SetOption = typer.Option(
    [], "--set", metavar="KEY=VALUE", help="override a param for this run, e.g. --set data.seed=7 (repeatable)"
)


def read_sections(params_file: Path, overrides: list[str], *names: str) -> tuple:
    """The named, validated params sections (with --set overrides applied), plus the raw params last."""
    params = load_params(params_file, overrides)
    return (*(section(params, name, SECTIONS[name], str(params_file)) for name in names), params)


def help_with_params(summary: str, *sections: str) -> str:
    """A command's help: its summary, then every params key it reads."""
    return summary + "\n\n\b\nParams read (params.yaml, or --set KEY=VALUE):\n\n" + "\n\n".join(sections)


def _one_line(err: Exception) -> str:
    """`Type: first line of the message`, or the type alone when there is no message."""
    first = next(iter(str(err).strip().splitlines()), "")
    return f"{type(err).__name__}: {first}" if first else type(err).__name__


def reports_bad_input(command):
    """Bad input ends in one line on stderr and exit status 2, not a traceback; any other failure in one line
    and exit status 1 (under `dvc repro` too), with the traceback only when RECSYS_DEBUG=1 is set.

    SIGTERM, which would kill the process outright, becomes SystemExit(143) while the stage runs, so
    its cleanup (atomic_dir's temporary folder, the scratch directory) runs as for any error; a library
    that turns that exit into its own error (DuckDB's "Query interrupted") still exits 143. Ctrl-C and
    exits pass through unchanged.
    """

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        terminated: list[int] = []

        def on_sigterm(signum, frame):
            terminated.append(signum)
            raise SystemExit(128 + signum)

        previous = signal.signal(signal.SIGTERM, on_sigterm)
        try:
            return command(*args, **kwargs)
        except InputError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(2) from None
        except (typer.Exit, typer.Abort, click.ClickException):  # a command's own exit status or usage error
            raise
        except Exception as err:
            if terminated:
                raise SystemExit(128 + terminated[0]) from None
            if os.environ.get(DEBUG) == "1":
                raise
            typer.echo(f"error: {_one_line(err)} (set {DEBUG}=1 for the traceback)", err=True)
            raise typer.Exit(1) from None
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)

    return wrapper
