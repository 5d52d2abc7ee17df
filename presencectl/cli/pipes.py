"""How the process ends when the reader of stdout has gone (``| head``): exit 0, quietly.

``presencectl stats FILE | head -2`` is a finished pipeline, not a failure:
whatever was writing (a command, the help, ``--version``, rich on the way
out) and however it noticed (``BrokenPipeError``, Typer's EPIPE exit 1,
rich's ``SystemExit(1)``), :func:`finish` sees that stdout's reader is gone
and exits 0 with no message. Only the standard library: ``--version`` uses it.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn

__all__ = ["stdout_probe", "stdout_closed", "quiet_stdout", "finish"]

#: Ctrl-C and SIGTERM keep their codes even when the pipe closed as well.
_SIGNALLED = (130, 143)


def stdout_probe() -> int | None:
    """A duplicate of fd 1, taken first thing: whoever points stdout at
    /dev/null later (rich does on a broken pipe), this still sees the reader."""
    try:
        return os.dup(1)
    except OSError:
        return None


def stdout_closed(fd: int | None = 1) -> bool:
    """Whether the reader of ``fd`` (stdout, or a copy of it) has gone: a pipe
    or socket whose other end closed. False for files and terminals."""
    import select

    if fd is None or not hasattr(select, "poll"):
        return False
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    try:
        events = poller.poll(0)
    except OSError:
        return False
    return any(ev & (select.POLLERR | select.POLLHUP | select.POLLNVAL) for _, ev in events)


def quiet_stdout() -> None:
    """Point fd 1 at /dev/null, so that the interpreter's final flush of what
    is still buffered does not fail with "Exception ignored … BrokenPipeError"."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
    except OSError:
        pass


def finish(code: int, probe: int | None) -> NoReturn:
    """Exit with ``code``, or 0 if stdout's reader has gone (see the module doc)."""
    if stdout_closed(probe):
        quiet_stdout()
        if code not in _SIGNALLED:
            code = 0
    sys.exit(code)
