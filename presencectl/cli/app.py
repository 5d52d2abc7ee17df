"""The Typer application object, the global options, and the error guard.

Command modules in ``presencectl.cli.commands`` register on :data:`app`;
``cli.py`` imports them all and runs it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from typer.core import TyperCommand, TyperGroup

from presencectl import __version__
from presencectl.cli import coercion
from presencectl.errors import PresenceError
from presencectl.status import ExitStatus
from presencectl.ui.console import Environment


class HelpCommand(TyperCommand):
    """A command whose ``--help`` is :func:`presencectl.cli.help.command_help` (plain,
    short, real metavars); with per-transport options it also takes ``--help-all``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from presencectl.cli.help import has_transport_panels

        if has_transport_panels(self):
            self.params.append(_help_all_option())

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        coercion.install(self.get_params(ctx))  # plain values skip pydantic (see cli.coercion)
        return super().parse_args(ctx, args)

    def get_help(self, ctx: Any) -> str:
        from presencectl.cli.help import command_help

        return command_help(self, ctx).rstrip("\n")


class HelpGroup(TyperGroup):
    """A group whose ``--help`` is :func:`presencectl.cli.help.group_help`."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        coercion.install(self.get_params(ctx))  # plain values skip pydantic (see cli.coercion)
        return super().parse_args(ctx, args)

    def get_help(self, ctx: Any) -> str:
        from presencectl.cli.help import group_help

        return group_help(self, ctx).rstrip("\n")


def _help_all(ctx: typer.Context, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from presencectl.cli.help import command_help

    typer.echo(command_help(ctx.command, ctx, full=True), nl=False)
    ctx.exit()


def _help_all_option() -> Any:
    """``--help-all``, built by Typer itself (a holder command declares it)."""
    holder = typer.Typer()

    @holder.command()
    def _f(
        help_all: Annotated[
            bool,
            typer.Option(
                "--help-all", is_eager=True, expose_value=False, callback=_help_all,
                help="Show the per-transport options too.",
            ),
        ] = False,
    ) -> None:  # pragma: no cover - never invoked
        pass

    return typer.main.get_command(holder).params[0]


class App(typer.Typer):
    """``typer.Typer`` whose commands and groups render help with :mod:`presencectl.cli.help`."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("cls", HelpGroup)
        super().__init__(**kwargs)

    def command(self, name: str | None = None, *, cls: type[TyperCommand] | None = None, **kwargs: Any) -> Any:
        if cls is None:
            cls = HelpCommand
        elif not issubclass(cls, HelpCommand):
            cls = type(cls.__name__, (cls, HelpCommand), {"__doc__": cls.__doc__})
        return super().command(name, cls=cls, **kwargs)


app = App(
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


def deprecated(env: Environment, old: str, new: str, why: str) -> None:
    """Warn once that ``old`` is a deprecated alias of ``new`` (kept for one release)."""
    env.warn(f"{old} is deprecated and goes in the next release: use {new} ({why})")


def guarded(env: Environment, body: Callable[[], T]) -> T:
    """Run a command body: domain errors → one line + exit code; Ctrl-C → 130, SIGTERM → 143.

    Every command runs its body here, so SIGTERM ends each of them the way
    Ctrl-C does (its clean-up and summary run) instead of killing it where it stands.
    """
    from presencectl.engine.signals import Terminated, sigterm_raises

    try:
        try:
            with sigterm_raises():
                return body()
        except BaseException:
            from presencectl.transports.files import discard_unfinished

            discard_unfinished()  # (an output made and never finished: whatever the command's own clean-up missed)
            raise
    except PresenceError as exc:
        if _state["traceback"]:
            raise
        env.error(str(exc))
        raise typer.Exit(int(exc.exit_status)) from None
    except KeyboardInterrupt:
        raise typer.Exit(int(ExitStatus.INTERRUPTED)) from None
    except Terminated:
        raise typer.Exit(int(ExitStatus.TERMINATED)) from None
    except BrokenPipeError:
        from presencectl.cli.pipes import quiet_stdout

        quiet_stdout()
        raise typer.Exit(int(ExitStatus.OK)) from None
