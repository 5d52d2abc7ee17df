"""Entry point: ``presencectl`` and ``python -m presencectl``.

``--version`` is answered here, before Typer (and with it pydantic and rich)
is imported, so that scripts probing the version pay ~30 ms, not ~250 ms.
"""

import sys


def main() -> None:
    """Run the command line."""
    if sys.argv[1:] in (["--version"], ["-V"]):
        from presencectl import __version__

        sys.stdout.write(f"presencectl {__version__}\n")
        return
    from presencectl.cli import run

    run()


if __name__ == "__main__":
    main()
