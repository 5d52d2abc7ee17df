"""The ``presencectl`` command line: the app, with the commands it runs registered.

Commands build core objects from their options, hand them to ``runner``, and
turn :class:`~presencectl.errors.PresenceError` into one line on stderr and
its exit code. Nothing imports this module but ``__main__``.

:func:`run` is the one place that decides how the process ends:

- a usage error found by Typer/Click (unknown option, bad value, missing
  argument) is one line ``presencectl: error: …; see 'presencectl CMD
  --help'`` and exit 2, like the usage errors the commands raise;
- a closed stdout (``| head``) is exit 0 and no message, whichever command
  or help text was writing (:func:`presencectl.cli.pipes.finish`);
- anything else unexpected is one line (``--traceback`` for the trace).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, NoReturn

from presencectl.cli import pipes
from presencectl.cli.app import app as _app
from presencectl.cli.commands import command_modules, modules_for
from presencectl.status import ExitStatus
from presencectl.ui.console import Environment

__all__ = ["app", "run", "usage_message", "load_commands"]  # noqa: F822 - app: see __getattr__


def load_commands(modules: list[str]) -> None:
    """Import these command modules (each registers its commands on the app)."""
    for name in modules:
        importlib.import_module(f"presencectl.cli.commands.{name}")


def __getattr__(name: str) -> Any:
    """``app``: the app with every command registered (run() loads only the one it runs)."""
    if name == "app":
        load_commands(command_modules())
        return _app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

PROG = "presencectl"


def run(probe: int | None = None) -> NoReturn:
    """Run the app and exit with the SPEC §5 exit code, never a traceback by
    accident. ``probe``: a copy of fd 1 taken at start (:func:`pipes.stdout_probe`)."""
    import typer
    from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
    from typer.exceptions import Abort

    from presencectl.engine.signals import Terminated

    load_commands(modules_for(sys.argv[1:]))
    command = typer.main.get_command(_app)
    if probe is None:
        probe = pipes.stdout_probe()
    try:
        result = command.main(prog_name=PROG, standalone_mode=False)
        code = result if isinstance(result, int) else 0
    except NoArgsIsHelpError as exc:  # `presencectl` alone: the help, as a usage error
        sys.stderr.write(exc.format_message() + "\n")
        code = int(ExitStatus.USAGE)
    except UsageError as exc:
        Environment().error(usage_message(exc, command))
        code = int(ExitStatus.USAGE)
    except ClickException as exc:
        Environment().error(exc.format_message())
        code = exc.exit_code
    except Abort:
        code = int(ExitStatus.ERROR)
    except KeyboardInterrupt:
        code = int(ExitStatus.INTERRUPTED)
    except Terminated:
        code = int(ExitStatus.TERMINATED)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if not isinstance(exc.code, (int, type(None))):
            sys.stderr.write(f"{exc.code}\n")
    except BrokenPipeError:
        code = 0
    except Exception as exc:  # a bug: say so in one line unless asked for the trace
        if pipes.stdout_closed(probe):
            code = 0
        elif "--traceback" in sys.argv:
            raise
        else:
            Environment().error(f"internal error: {type(exc).__name__}: {exc} (run with --traceback for details)")
            code = int(ExitStatus.ERROR)
    pipes.finish(code, probe)


def usage_message(exc: Any, root: Any = None) -> str:
    """One line for a Typer/Click usage error, with where to look (``root``: the app's command): ``bad value
    for --speed: must be at least 0.01; see 'presencectl demo --help'``."""
    from typer._click.exceptions import BadParameter, MissingParameter, NoSuchOption

    if isinstance(exc, MissingParameter) and exc.param is not None:
        if getattr(exc.param, "param_type_name", "") == "argument":
            what = f"missing argument {_flag(exc.param)}"
        else:
            what = f"missing option {'/'.join(exc.param.opts)}"
    elif isinstance(exc, NoSuchOption):
        what = f"no such option {exc.option_name}"
        if exc.possibilities:
            close = sorted(exc.possibilities)
            what += f" (did you mean {' or '.join(close[:3])}?)"
    elif isinstance(exc, BadParameter):
        hint = exc.param_hint
        if hint is None and exc.param is not None:
            hint = _flag(exc.param)
        if not isinstance(hint, str) and hint is not None:
            hint = "/".join(hint)
        message = exc.message.rstrip(".").removeprefix("Value error, ").removeprefix("value error, ")
        what = f"bad {hint.replace(chr(39), '')}: {message[:1].lower()}{message[1:]}" if hint else message
    else:
        message = exc.format_message().rstrip(".")
        what = message[:1].lower() + message[1:]
    path = exc.ctx.command_path if exc.ctx is not None else _command_path(root, sys.argv[1:])
    return f"{what}; see '{path} --help'"


def _flag(param: Any) -> str:
    if getattr(param, "param_type_name", "") == "argument":
        return str(param.metavar or (param.name or "").upper())
    longs = [o for o in param.opts if o.startswith("--")]
    return (longs or param.opts)[0]


def _command_path(root: Any, argv: list[str]) -> str:
    """``presencectl profiles show`` for argv ``profiles show x -n`` (an error without a context)."""
    path, group = [PROG], root
    for arg in argv:
        commands = getattr(group, "commands", None)
        if not commands or arg not in commands:
            break
        path.append(arg)
        group = commands[arg]
    return " ".join(path)
