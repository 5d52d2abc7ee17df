#!/usr/bin/env python3
"""Write the shell completion scripts for presencectl from its Typer app.

    python completions/generate.py            # (re)write presencectl.bash, .zsh, .fish
    python completions/generate.py --check    # exit 1 if any is missing or stale

The scripts hold no list of commands or options: on every <Tab> they run
``presencectl`` with ``_PRESENCECTL_COMPLETE=complete_<shell>`` and the words
typed so far, and the program answers from its own Typer/Click definitions
(the protocol of Typer's ``typer/_completion_classes.py``; the instruction is
``complete_bash``, not Click's ``bash_complete``). So candidates always match
the installed version: commands, options, choices (``--format``,
``--color``…), ``--type`` from the dialect registry, ``--dialect``,
``--kind``, and ``@NAME`` profiles for a SOURCE. What is generated from the
app is the program name, the environment variable and the function names;
``tests/test_completions.py`` fails when the committed files differ from
what this writes.

Install:

    bash  source completions/presencectl.bash from ~/.bashrc, or copy it to
          ~/.local/share/bash-completion/completions/presencectl
    zsh   copy completions/presencectl.zsh to a directory in $fpath as
          _presencectl (e.g. ~/.zfunc/_presencectl, with
          "fpath+=~/.zfunc; autoload -Uz compinit; compinit" in ~/.zshrc),
          or source it after compinit
    fish  copy completions/presencectl.fish to ~/.config/fish/completions/
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

def render() -> dict[Path, str]:
    """Each script's path and its content (rendered by the package: presencectl.cli.completion_scripts)."""
    sys.path.insert(0, str(HERE.parent))
    from presencectl.cli.completion_scripts import program
    from presencectl.cli.completion_scripts import render as render_scripts

    prog = program()[0]
    return {HERE / f"{prog}.{shell}": text for shell, text in render_scripts().items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write completions/presencectl.{bash,zsh,fish}.")
    parser.add_argument("--check", action="store_true", help="exit 1 if a script is missing or stale; write nothing")
    args = parser.parse_args(argv)
    stale = []
    for path, text in render().items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        if args.check:
            stale.append(path.name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(HERE.parent)}")
    if stale:
        print(f"stale: {', '.join(stale)}; run: python completions/generate.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
