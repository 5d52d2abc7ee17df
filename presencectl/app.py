"""The Typer application object, the global options, and the error guard.

Command modules in ``presencectl.commands`` register on :data:`app`;
``cli.py`` imports them all and runs it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

from presencectl import __version__
from presencectl.console import Environment
from presencectl.errors import PresenceError
from presencectl.status import ExitStatus

app = typer.Typer(
    name="presencectl",
    help="Watch, record and replay device presence and activity event streams.",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    add_completion=False,
)

_state: dict[str, Any] = {"traceback": False}
T = TypeVar("T")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"presencectl {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", "-V", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
    traceback: Annotated[
        bool, typer.Option("--traceback", help="Show the full Python traceback on errors.")
    ] = False,
) -> None:
    """Watch, record and replay device presence and activity event streams.

    Understands Munic CloudConnect, Aliyun IoT, Lab5e Span, Avaya Spaces and
    Navixy events out of the box, plus any JSON.
    """
    _state["traceback"] = traceback


def guarded(env: Environment, body: Callable[[], T]) -> T:
    """Run a command body: domain errors → one line + exit code; Ctrl-C → 130."""
    try:
        return body()
    except PresenceError as exc:
        if _state["traceback"]:
            raise
        env.error(str(exc))
        raise typer.Exit(int(exc.exit_status)) from None
    except KeyboardInterrupt:
        raise typer.Exit(int(ExitStatus.INTERRUPTED)) from None
    except BrokenPipeError:
        _quiet_stdout()
        raise typer.Exit(int(ExitStatus.OK)) from None


def _quiet_stdout() -> None:
    # The reader went away (`| head`): point stdout at /dev/null so the
    # interpreter's final flush does not complain.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


