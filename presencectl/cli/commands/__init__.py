"""One module per command (or family of commands); each registers on ``presencectl.cli.app.app``.

Modules import only Typer and the light ``options``/``console`` modules at
the top; everything heavy (transports, rich tables) is imported inside the
command body, so ``presencectl --help`` stays fast.
"""

import pkgutil


def command_modules() -> list[str]:
    """Names of the command modules in this package (each registers itself)."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


#: Command name → the module that registers it, so that running one command
#: imports that module only (``presencectl cat`` need not build ``replay``).
#: ``tests/test_help.py`` holds it to what the modules register.
COMMAND_MODULES = {
    "slice": "captools", "merge": "captools", "anonymise": "captools", "diff": "captools",
    "cat": "cat", "completions": "completions", "man": "completions", "demo": "demo",
    "dialects": "dialects", "expect": "expect", "tail": "live", "record": "live",
    "profiles": "profiles", "replay": "replay", "stats": "stats", "timeline": "timeline",
}


#: Commands that describe the whole app (the man page, completion scripts): they need every module.
WHOLE_APP = frozenset({"completions", "man"})


def modules_for(args: list[str]) -> list[str]:
    """The command modules a command line needs: the named command's, or all of
    them (no command first: ``--help``, a mistyped name, which lists them all;
    the commands in :data:`WHOLE_APP`)."""
    if args and args[0] in COMMAND_MODULES and args[0] not in WHOLE_APP:
        return [COMMAND_MODULES[args[0]]]
    return command_modules()
