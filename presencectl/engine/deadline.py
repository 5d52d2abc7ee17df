"""``--deadline SECONDS`` (SPEC §3.1): an overall limit on a session, for scripts that wait.

A live :class:`~presencectl.engine.session.Session` checks its deadline itself (its
clock is injected). A file or stdin source blocks in ``read()``, so there
:func:`alarm` interrupts the read with :class:`DeadlinePassed` when the time
is up (a pipe that never ends, ``mosquitto_sub … | presencectl tail -``).
:func:`deadline_ending` decides the exit status for both.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from typing import TYPE_CHECKING

from presencectl.status import ExitStatus

if TYPE_CHECKING:
    from presencectl.engine.signals import SignalGate

__all__ = ["DeadlinePassed", "alarm", "deadline_ending"]


class DeadlinePassed(Exception):
    """The ``--deadline`` passed while a file or stdin was being read."""


def deadline_ending(seconds: float | None, limit: int | None, shown: int) -> tuple[str, ExitStatus]:
    """What a passed deadline means: the message and the exit status.

    Exit 3 when ``-n`` was not reached (else the session would have ended
    already) or, without ``-n``, when nothing was shown; 0 when events were
    shown and no count was asked for (the deadline was just a time limit).

    >>> deadline_ending(2, 1, 0)
    ('deadline of 2 s passed before -n 1 was reached (0 shown)', <ExitStatus.DEADLINE: 3>)
    >>> deadline_ending(2, None, 5)[1]
    <ExitStatus.OK: 0>
    """
    text = "deadline passed" if seconds is None else f"deadline of {seconds:g} s passed"
    if limit is not None:
        return f"{text} before -n {limit} was reached ({shown} shown)", ExitStatus.DEADLINE
    if shown == 0:
        return f"{text} with nothing shown", ExitStatus.DEADLINE
    return text, ExitStatus.OK


#: How soon to look again when the deadline rang inside a critical section.
_RETRY = 0.01


@contextlib.contextmanager
def alarm(seconds: float | None, gate: SignalGate | None = None) -> Iterator[None]:
    """Raise :class:`DeadlinePassed` in the main thread after ``seconds`` (None: never).

    Uses ``SIGALRM``, so a blocked ``read()`` is interrupted (PEP 475 retries
    a read only when the handler returns). Inside one of ``gate``'s critical
    sections (a frame being recorded and shown) it waits a moment and rings
    again, so no frame is cut in half. Main thread only.
    """
    if seconds is None or not hasattr(signal, "setitimer"):
        yield
        return

    def ring(signum: int, frame: object) -> None:
        if gate is not None and gate.depth > 0:
            signal.setitimer(signal.ITIMER_REAL, _RETRY)
            return
        raise DeadlinePassed

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
