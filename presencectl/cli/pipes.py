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

__all__ = ["stdout_probe", "stdout_closed", "quiet_stdout", "finish", "closed_standard_streams"]

#: Ctrl-C and SIGTERM keep their codes even when the pipe closed as well.
_SIGNALLED = (130, 143)


def closed_standard_streams() -> bool:
    """Hold /dev/null on any of fds 0, 1, 2 the caller closed (``>&-``); True if fd 1 was one.

    Done before anything else opens a file: otherwise the next file opened
    (a capture being recorded) would get the lowest free descriptor, 1 or
    2, and whatever is printed would go into it. A closed stdin reads as
    empty and a closed stderr discards its messages (the caller asked for
    that); a closed stdout is the caller's (``presencectl`` says so and
    exits 2: output that goes nowhere is not silently thrown away).
    """
    import fcntl

    closed_stdout = False
    for fd, name, mode in ((0, "stdin", os.O_RDONLY), (1, "stdout", os.O_WRONLY), (2, "stderr", os.O_WRONLY)):
        try:
            access = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE
        except OSError:
            access = None  # closed
        if access == os.O_RDWR or access == mode:
            continue
        # Closed, or open the wrong way round (a launcher's read-only file left
        # on fd 2: writing there fails with EBADF just the same).
        try:
            held = os.open(os.devnull, mode)
        except OSError:
            continue
        if held != fd:  # (fd is open the wrong way, or a lower one was free)
            os.dup2(held, fd)
            os.close(held)
        if fd == 1:
            closed_stdout = True
        if getattr(sys, name) is None:
            stream = open(fd, "r" if fd == 0 else "w", encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115 (the process keeps it)
            setattr(sys, name, stream)
    return closed_stdout


def stdout_probe() -> int:
    """A duplicate of fd 1, taken first thing: whoever points stdout at
    /dev/null later (rich does on a broken pipe), this still sees the reader.
    (fd 1 is open: :func:`closed_standard_streams` ran before.)"""
    return os.dup(1)


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
