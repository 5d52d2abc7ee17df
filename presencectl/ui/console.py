"""The process environment: standard streams, terminal flags, colour choice.

Commands get an :class:`Environment`; tests build one over ``BytesIO`` streams.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import BinaryIO, TextIO

__all__ = ["Environment", "choose_color", "Output"]


def choose_color(mode: str, isatty: bool, environ: Mapping[str, str]) -> bool:
    """Decide whether to colour: ``--color`` first, then NO_COLOR, FORCE_COLOR, the tty.

    >>> choose_color("auto", True, {"NO_COLOR": "1"})
    False
    """
    if mode == "always":
        return True
    if mode == "never":
        return False
    if environ.get("NO_COLOR"):
        return False
    force = environ.get("FORCE_COLOR")
    if force is not None and force not in ("", "0", "false"):
        return True
    return isatty


class Environment:
    """Streams and terminal facts for one run.

    Args:
        stdout: binary stream for events.
        stderr: text stream for diagnostics.
        stdout_isatty, stderr_isatty: terminal flags (default: ask the streams).
        environ: environment variables (default ``os.environ``).
    """

    def __init__(
        self,
        stdout: BinaryIO | None = None,
        stderr: TextIO | None = None,
        stdin: BinaryIO | None = None,
        stdout_isatty: bool | None = None,
        stderr_isatty: bool | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.stdout = stdout if stdout is not None else sys.stdout.buffer
        self.stderr = stderr if stderr is not None else sys.stderr
        self.stdin = stdin if stdin is not None else sys.stdin.buffer
        self.stdout_isatty = _isatty(self.stdout) if stdout_isatty is None else stdout_isatty
        self.stderr_isatty = _isatty(self.stderr) if stderr_isatty is None else stderr_isatty
        self.environ = environ if environ is not None else os.environ
        self.stderr_color = choose_color("auto", self.stderr_isatty, self.environ)
        self.warnings = 0

    @property
    def width(self) -> int:
        """Terminal width (COLUMNS honoured), 100 when unknown."""
        return shutil.get_terminal_size((100, 24)).columns

    def now(self) -> datetime:
        """The current time (the one clock read the core is handed)."""
        return datetime.now(UTC)

    def note(self, message: str) -> None:
        """A diagnostic line on stderr (never on stdout)."""
        self._line(message, "2")

    def warn(self, message: str) -> None:
        """A warning line on stderr."""
        self.warnings += 1
        self._line(f"warning: {message}", "33")

    def error(self, message: str) -> None:
        """The one-line error before a non-zero exit."""
        self._line(f"error: {message}", "1;31")

    def _line(self, message: str, sgr: str) -> None:
        from presencectl.core.render import escape

        text = f"presencectl: {escape(message)}"
        if self.stderr_color:
            text = f"\x1b[{sgr}m{text}\x1b[0m"
        try:
            self.stderr.write(text + "\n")
            self.stderr.flush()
        except (BrokenPipeError, ValueError):
            pass


def _isatty(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError):
        return False


class Output:
    """Buffered event output: batches writes for files, flushes each event when live.

    Raises BrokenPipeError through :meth:`write`/:meth:`flush` only once; the
    caller ends quietly (``| head``).
    """

    __slots__ = ("stream", "live", "_parts", "_size", "limit")

    def __init__(self, stream: BinaryIO, live: bool, limit: int = 1 << 16) -> None:
        self.stream = stream
        self.live = live
        self._parts: list[bytes] = []
        self._size = 0
        self.limit = limit

    def write(self, data: bytes) -> None:
        """Queue (or, when live, write at once) one rendered event."""
        if self.live:
            self.stream.write(data)
            self.stream.flush()
            return
        self._parts.append(data)
        self._size += len(data)
        if self._size >= self.limit:
            self.flush()

    def flush(self) -> None:
        """Write out what is queued."""
        if self._parts:
            data = b"".join(self._parts)
            self._parts.clear()
            self._size = 0
            self.stream.write(data)
        self.stream.flush()
