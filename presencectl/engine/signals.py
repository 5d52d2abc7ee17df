"""Ctrl-C and SIGTERM that never cut a frame (or a gzip trailer) in half.

A signal handler that raises can do so anywhere: between writing a capture
line and flushing it, inside ``GzipFile.flush()`` (a capture ``gzip -t``
rejects), between answering a webhook POST and printing its event. So the
handlers of :class:`SignalGate` only note the signal while the program is in
a *critical section* (:meth:`SignalGate.enter`/:meth:`SignalGate.leave`,
around every step of :class:`~presencectl.engine.runner.Pipeline`), and raise it
when the section ends. Outside one they raise at once (``immediate``), so a
blocking read of stdin or a reconnect backoff still ends on Ctrl-C, unless
the caller polls :attr:`SignalGate.pending` itself (the live session does,
between short waits, and first drains what the source already holds).

SIGINT raises ``KeyboardInterrupt`` (exit 130), SIGTERM :class:`Terminated`
(exit 143); outside a gate, :func:`sigterm_raises` (which every command runs
under, through ``cli.app.guarded``) makes SIGTERM end a command like Ctrl-C. The capture is closed once, by the caller's ``finally``, which
runs inside a critical section too.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["SignalGate", "Terminated", "exception_for", "sigterm_raises"]


class Terminated(BaseException):
    """SIGTERM arrived: end like Ctrl-C (capture closed), exit 143.

    A BaseException, like KeyboardInterrupt, so no ``except Exception`` on the
    way up swallows it.
    """


def exception_for(signum: int) -> BaseException:
    """What a signal becomes: SIGTERM :class:`Terminated` (143), else KeyboardInterrupt (130)."""
    return Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


@contextmanager
def sigterm_raises() -> Iterator[None]:
    """While inside, SIGTERM raises :class:`Terminated` (like Ctrl-C raises
    KeyboardInterrupt), so every command ends a kill the way it ends Ctrl-C:
    its clean-up and summary run, exit 143. The main thread only; a SIGTERM
    ignored by whoever started us (``nohup``) stays ignored."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) is signal.SIG_IGN:
        yield
        return

    def on_term(signum: int, frame: object) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class SignalGate:
    """Defers SIGINT/SIGTERM out of critical sections; see the module docstring.

    Use as a context manager to install the handlers (main thread only; the
    previous handlers come back on exit). ``depth`` counts nested critical
    sections; ``pending`` holds the first signal that arrived (None: none).
    """

    def __init__(self) -> None:
        self.depth = 0
        self.pending: int | None = None
        self.immediate = True
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> SignalGate:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                if signal.getsignal(signum) is signal.SIG_IGN:
                    continue  # ignored by whoever started us (``cmd &`` in a script, nohup): keep it so
                self._previous[signum] = signal.signal(signum, self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()

    def _handler(self, signum: int, frame: object) -> None:
        if self.pending is None:
            self.pending = signum
        if self.depth == 0 and self.immediate:
            self.raise_pending()

    def enter(self) -> None:
        """Start a critical section: signals wait until the matching :meth:`leave`."""
        self.depth += 1

    def leave(self) -> None:
        """End a critical section; raise a signal that arrived during it (if immediate)."""
        self.depth -= 1
        if self.pending is not None and self.depth == 0 and self.immediate:
            self.raise_pending()

    def poll(self, on: bool) -> None:
        """Switch polling mode on (signals only noted: the caller checks
        :attr:`pending`) or off (a pending signal is raised now)."""
        self.immediate = not on
        if not on and self.pending is not None and self.depth == 0:
            self.raise_pending()

    def raise_pending(self) -> None:
        """Raise the pending signal as KeyboardInterrupt or :class:`Terminated`
        (once: the clean-up that follows is not interrupted again by it)."""
        signum, self.pending = self.pending, None
        if signum is None:
            return
        raise exception_for(signum)
