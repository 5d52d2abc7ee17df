"""The ``presencectl`` command line: the app with every command registered.

Commands build core objects from their options, hand them to ``runner``, and
turn :class:`~presencectl.errors.PresenceError` into one line on stderr and
its exit code. Nothing imports this module but ``__main__``.
"""

from __future__ import annotations

import importlib
import sys

from presencectl.app import app
from presencectl.commands import command_modules
from presencectl.console import Environment
from presencectl.status import ExitStatus

for _name in command_modules():
    importlib.import_module(f"presencectl.commands.{_name}")

__all__ = ["app", "run"]


def run() -> None:
    """Console-script entry: run the app, never showing a traceback by accident."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(int(ExitStatus.INTERRUPTED))
    except SystemExit:
        raise
    except Exception as exc:  # a bug: say so in one line unless asked for the trace
        if "--traceback" in sys.argv:
            raise
        Environment().error(f"internal error: {type(exc).__name__}: {exc} (run with --traceback for details)")
        sys.exit(int(ExitStatus.ERROR))
