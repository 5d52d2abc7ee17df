"""One module per command (or family of commands); each registers on ``presencectl.cli.app.app``.

Modules import only Typer and the light ``options``/``console`` modules at
the top; everything heavy (transports, rich tables) is imported inside the
command body, so ``presencectl --help`` stays fast.
"""

import pkgutil


def command_modules() -> list[str]:
    """Names of the command modules in this package (each registers itself)."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))
