"""``presencectl completions SHELL`` and ``presencectl man``: what the package carries for the shell."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from presencectl.cli.app import app, guarded
from presencectl.ui.console import Environment


class Shell(StrEnum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


@app.command("completions")
def completions_cmd(
    shell: Annotated[Shell, typer.Argument(metavar="bash|zsh|fish", help="The shell to print the script for.", show_default=False)],
) -> None:
    """Print the TAB completion script for bash, zsh or fish.

    The script asks presencectl itself for candidates (commands, options,
    choices, event types from the dialect registry, dialects, kinds,
    @profile names), so it follows the installed version.

    [bold]Examples[/]

      d=~/.local/share/bash-completion/completions; mkdir -p $d && presencectl completions bash > $d/presencectl
      mkdir -p ~/.zfunc && presencectl completions zsh > ~/.zfunc/_presencectl
      mkdir -p ~/.config/fish/completions && presencectl completions fish > ~/.config/fish/completions/presencectl.fish
    """
    env = Environment()

    def body() -> None:
        from presencectl.cli.completion_scripts import render

        env.stdout.write(render()[shell.value].encode())
        env.stdout.flush()

    guarded(env, body)


@app.command("man")
def man_cmd() -> None:
    """Print the manual page presencectl(1) (roff), generated from the commands' own help.

    [bold]Examples[/]

      presencectl man | man -l -
      mkdir -p ~/.local/share/man/man1 && presencectl man > ~/.local/share/man/man1/presencectl.1
    """
    env = Environment()

    def body() -> None:
        from presencectl.cli.manpage import render

        env.stdout.write(render(app).encode())
        env.stdout.flush()

    guarded(env, body)
