"""Entry point: ``presencectl`` and ``python -m presencectl``.

``--version`` is answered here, before Typer (and with it pydantic and rich)
is imported, so that scripts probing the version pay ~30 ms, not ~250 ms;
TAB completion likewise (:mod:`presencectl.cli.completion`).
"""

import os
import sys


def main() -> None:
    """Run the command line; a closed stdout ends it with 0 (:mod:`presencectl.cli.pipes`)."""
    from presencectl.cli import pipes

    if pipes.closed_standard_streams():  # `presencectl … >&-`
        sys.stderr.write("presencectl: error: standard output is closed; use >/dev/null to discard the output\n")
        sys.exit(2)
    probe = pipes.stdout_probe()
    instruction = os.environ.get("_PRESENCECTL_COMPLETE")
    if instruction:  # a TAB press: answered without loading Typer when the spec allows
        from presencectl.cli.completion import answer

        found = answer(instruction, os.environ)
        if found is not None:
            text, code = found
            sys.stdout.write(text)
            pipes.finish(code, probe)
    if sys.argv[1:] in (["--version"], ["-V"]):
        from presencectl import __version__

        try:
            sys.stdout.write(f"presencectl {__version__}\n")
            sys.stdout.flush()
        except BrokenPipeError:
            pass
        pipes.finish(0, probe)
    from presencectl.cli.main import run

    run(probe)


if __name__ == "__main__":
    main()
