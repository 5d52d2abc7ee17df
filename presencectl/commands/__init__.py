"""One module per command (or family of commands); each registers on ``presencectl.app.app``.

Modules import only Typer and the light ``options``/``console`` modules at
the top; everything heavy (transports, rich tables) is imported inside the
command body, so ``presencectl --help`` stays fast.
"""

COMMANDS = ("cat", "dialects")
