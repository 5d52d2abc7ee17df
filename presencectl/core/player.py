"""Replay playing: a :class:`Player` delivers scheduled items when they are due.

Pure: the :class:`Clock` (``now``/``sleep_until``) is passed in (the real
one: ``time.monotonic`` and a precise sleep; tests: a fake clock). Every due
time is measured from the one start instant, so errors never accumulate;
:class:`TimingStats` keeps how late each frame went out. The items come from
a :class:`~presencectl.core.replay.Schedule`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from typing import Protocol

from presencectl.core.events import Marker
from presencectl.core.replay import Scheduled

__all__ = ["Clock", "Player", "TimingStats"]


class Clock(Protocol):
    """The two things a player needs from time. Monotonic seconds, any origin."""

    def now(self) -> float:
        """The current time."""
        ...

    def sleep_until(self, deadline: float) -> None:
        """Return at ``deadline`` (as closely as possible), not before."""
        ...


class TimingStats:
    """Timing errors (sent minus due, seconds): count, max, percentiles.

    Keeps every sample up to ``keep``, then a uniform random sample of that
    size (so an endless ``--loop 0`` replay does not grow without bound).
    """

    __slots__ = ("count", "max", "last", "_samples", "_keep", "_rng")

    def __init__(self, keep: int = 200_000, seed: int = 0) -> None:
        self.count = 0
        self.max = 0.0
        #: The most recent error: with one clock from the start it stays as
        #: small as the others however long the replay (no drift).
        self.last = 0.0
        self._samples: list[float] = []
        self._keep = keep
        self._rng = random.Random(seed)

    def add(self, error: float) -> None:
        """Record one error (its absolute value counts)."""
        error = abs(error)
        self.last = error
        self.count += 1
        if error > self.max:
            self.max = error
        samples = self._samples
        if len(samples) < self._keep:
            samples.append(error)
        else:
            slot = self._rng.randrange(self.count)
            if slot < self._keep:
                samples[slot] = error

    def merge(self, other: TimingStats) -> None:
        """Fold another set of samples into this one."""
        for value in other._samples:
            self.add(value)
        self.count += other.count - len(other._samples)
        self.max = max(self.max, other.max)
        self.last = other.last

    def percentile(self, q: float) -> float:
        """The ``q`` quantile (0..1), nearest rank; 0 with no samples."""
        if not self._samples:
            return 0.0
        ordered = sorted(self._samples)
        rank = max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))
        return ordered[rank]

    def describe(self) -> str:
        """``timing error p50 0.08 ms, p99 0.61 ms, max 1.90 ms, last 0.05 ms`` ("" if nothing was timed)."""
        if not self.count:
            return ""
        return (
            f"timing error p50 {_ms(self.percentile(0.5))}, p99 {_ms(self.percentile(0.99))}, "
            f"max {_ms(self.max)}, last {_ms(self.last)}"
        )


def _ms(seconds: float) -> str:
    ms = seconds * 1000.0
    if ms >= 100:
        return f"{ms:.0f} ms"
    if ms >= 10:
        return f"{ms:.1f} ms"
    return f"{ms:.2f} ms"


class Player:
    """Delivers scheduled items when they are due, measured from one start.

    Args:
        items: from a :class:`Schedule`.
        clock: where time comes from (``now``/``sleep_until``).
        stats: where the timing errors of frames go (default: a fresh :class:`TimingStats`).

    Call :meth:`run` with a ``deliver`` callback; it returns True when every
    item was delivered, False when :meth:`pause` was called (from inside
    ``deliver``, e.g. a replayed disconnect). Calling :meth:`run` again
    resumes on the same timeline: the clock kept running, so items that fell
    due meanwhile go out at once and are not counted as timing errors.
    """

    def __init__(self, items: Iterator[Scheduled], clock: Clock, stats: TimingStats | None = None) -> None:
        self.items = items
        self.clock = clock
        self.stats = stats if stats is not None else TimingStats()
        self.start: float | None = None
        #: Items delivered (counted when :meth:`run` returns).
        self.delivered = 0
        #: The item :meth:`pause` was called on.
        self.last: Scheduled | None = None
        self._paused = False
        #: Called before every wait for a due time: a target that batches
        #: (MQTT) sends what it holds, so nothing waits through a gap.
        self.idle: Callable[[], object] | None = None

    def pause(self) -> None:
        """Stop :meth:`run` after the current delivery."""
        self._paused = True

    def run(self, deliver: Callable[[Scheduled], object]) -> bool:
        """Deliver items until the end (True) or a :meth:`pause` (False)."""
        clock = self.clock
        now = clock.now
        sleep_until = clock.sleep_until
        add = self.stats.add
        if self.start is None:
            self.start = now()
            resumed_at = None
        else:
            resumed_at = now()
        start = self.start
        self._paused = False
        delivered = 0
        try:
            for item in self.items:
                due = item.due
                if due is not None:
                    deadline = start + due
                    if resumed_at is not None and deadline <= resumed_at:
                        pass  # fell due while paused: catch up, not a timing error
                    else:
                        if now() < deadline:
                            if self.idle is not None:
                                self.idle()
                            sleep_until(deadline)
                        if type(item.record) is not Marker:
                            add(now() - deadline)
                deliver(item)
                delivered += 1
                if self._paused:
                    self.last = item
                    return False
            return True
        finally:
            self.delivered += delivered
