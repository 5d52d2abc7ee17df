#!/usr/bin/env python3
"""Make docs/pretty.svg and docs/live.svg from real runs of presencectl.

    python docs/make_screenshots.py          # both SVGs
    python docs/make_screenshots.py --png    # and a PNG of each, to check them (chromium or rsvg-convert)

Each screenshot is a real terminal: a 120x32 tmux window running bash, where
the command is typed and run. ``tmux capture-pane -e`` returns the screen
with its colours as ANSI text, and rich turns that into an SVG
(``Text.from_ansi`` + ``Console(record=True).save_svg``).

- pretty.svg: ``presencectl cat fixtures/mixed.capture.ndjson.gz -f pretty
  --color always -n 25 --utc`` (the bundled mixed capture, all five vendors).
- live.svg: ``presencectl demo --live --utc``: the built-in replay server
  plays the bundled capture over a real WebSocket at 20x; the screen is
  taken once 160 events have arrived (about 13 s in), then Ctrl-C ends it.

Needs tmux. ``presencectl`` in the window is this checkout, run with the
Python that runs this script, whatever ``presencectl`` is on PATH.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
WIDTH, HEIGHT = 120, 32
SESSION = f"presencectl-shot-{os.getpid()}"


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True).stdout


def screen(ansi: bool = False) -> str:
    """The visible pane; ``ansi``: with colour escapes, and the lines that scrolled off the top."""
    return tmux("capture-pane", "-t", SESSION, "-p", *(["-e", "-S", "-"] if ansi else []))


def wait_for(done: Callable[[str], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done(screen()):
            return
        time.sleep(0.2)
    raise SystemExit(f"make_screenshots: timed out waiting for {what}; the screen was:\n{screen()}")


def shoot(command: str, done: Callable[[str], bool], timeout: float, interrupt: bool) -> str:
    """Type ``command`` in a fresh 120x32 bash in tmux; the screen (ANSI) once ``done``."""
    env = {
        "TZ": "UTC",
        "TERM": "xterm-256color",
        "COLORTERM": "truecolor",
        "LANG": "C.UTF-8",
        "PS1": "$ ",
        "HOME": os.environ.get("HOME", "/tmp"),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    }
    shell = "env -i " + " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()) + " bash --norc --noprofile"
    tmux("new-session", "-d", "-s", SESSION, "-x", str(WIDTH), "-y", str(HEIGHT), "-c", str(ROOT), shell)
    try:
        tmux("set-option", "-t", SESSION, "status", "off")
        # `presencectl` is this checkout, whatever is installed.
        setup = f"presencectl() {{ {shlex.quote(sys.executable)} -m presencectl \"$@\"; }}; clear"
        tmux("send-keys", "-t", SESSION, "-l", setup)
        tmux("send-keys", "-t", SESSION, "Enter")
        wait_for(lambda s: s.strip() == "$", 10, "a clean prompt")
        tmux("clear-history", "-t", SESSION)
        tmux("send-keys", "-t", SESSION, "-l", command)
        tmux("send-keys", "-t", SESSION, "Enter")
        wait_for(done, timeout, f"`{command}`")
        time.sleep(0.5)  # let a live view finish its redraw
        text = screen(ansi=True)
        if interrupt:
            tmux("send-keys", "-t", SESSION, "C-c")
            wait_for(lambda s: s.rstrip().endswith("$"), 15, "the command to end after Ctrl-C")
        return text
    finally:
        subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)


def finished(screen_text: str) -> bool:
    """The command ended: a new prompt under its output."""
    lines = [line for line in screen_text.splitlines() if line.strip()]
    return len(lines) > 1 and lines[-1].strip() == "$"


def events_at_least(n: int) -> Callable[[str], bool]:
    def done(screen_text: str) -> bool:
        m = re.search(r"(\d+) events", screen_text)
        return m is not None and int(m.group(1)) >= n

    return done


def to_svg(ansi_text: str, path: Path, title: str) -> None:
    from rich.console import Console
    from rich.terminal_theme import MONOKAI
    from rich.text import Text

    lines = ansi_text.rstrip("\n").split("\n")
    while lines and not re.sub(r"\x1b\[[0-9;:]*m", "", lines[-1]).strip():
        lines.pop()
    if lines and re.sub(r"\x1b\[[0-9;:]*m", "", lines[-1]).strip() == "$":
        lines.pop()  # the prompt after the output
    console = Console(record=True, width=WIDTH, file=io.StringIO(), force_terminal=True, color_system="truecolor")
    for line in lines:
        console.print(Text.from_ansi(line), no_wrap=True, overflow="crop", soft_wrap=False)
    console.save_svg(str(path), title=title, theme=MONOKAI)
    print(f"wrote {path.relative_to(ROOT)}")


def to_png(svg: Path) -> None:
    """A PNG of the SVG, to look at: headless Chromium if installed (renders it as
    a browser does), else rsvg-convert (Debian librsvg2-bin; it spaces runs
    of non-breaking spaces a little differently)."""
    png = svg.with_suffix(".png")
    chromium = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
    if chromium is not None:
        m = re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', svg.read_text())
        width, height = (round(float(v)) for v in m.groups()) if m else (1500, 900)
        subprocess.run(
            [chromium, "--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars",
             f"--window-size={width},{height}", f"--screenshot={png}", svg.as_uri()],
            check=True, capture_output=True,
        )
    elif shutil.which("rsvg-convert"):
        subprocess.run(["rsvg-convert", "-o", str(png), str(svg)], check=True)
    else:
        print("no chromium or rsvg-convert: no PNG", file=sys.stderr)
        return
    print(f"wrote {png.relative_to(ROOT)}")


SHOTS = [
    (
        "pretty.svg",
        "presencectl cat fixtures/mixed.capture.ndjson.gz -f pretty --color always -n 25 --utc",
        finished,
        30.0,
        False,
    ),
    ("live.svg", "presencectl demo --live --utc", events_at_least(160), 60.0, True),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Make docs/pretty.svg and docs/live.svg from real runs.")
    parser.add_argument("--png", action="store_true", help="also write a PNG of each (headless chromium, else rsvg-convert)")
    args = parser.parse_args(argv)
    if shutil.which("tmux") is None:
        print("make_screenshots: needs tmux (apt-get install tmux)", file=sys.stderr)
        return 1
    for name, command, done, timeout, interrupt in SHOTS:
        ansi = shoot(command, done, timeout, interrupt)
        svg = DOCS / name
        to_svg(ansi, svg, title=command)
        if args.png:
            to_png(svg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
