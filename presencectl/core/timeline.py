"""Presence timelines: per-subject state over time and event ticks, binned to a width.

:class:`Timeline` is fed events in arrival order (``timeline.add(event)``) and
keeps, per subject, the state changes (time, ``online``/``offline``) and one
compact tick per event (time, kind, type, summary, interned). It is pure: no
clock reads, no I/O. The drawing code (terminal, SVG, HTML in
:mod:`presencectl.ui.timeline`) asks it for rows and bins them to the columns
or pixels it has with :func:`bin_row`, so a million events cost one pass,
never one drawn object each.

Example::

    timeline = Timeline()
    for event in decoder.decode(line):
        timeline.add(event)
    start, end = timeline.span()
    for row in timeline.rows(top=20):
        states, ticks = bin_row(row, start, end, 80)

Definitions:

*Time of an event*
    As :mod:`presencectl.core.presence` has it: the event's own time, else its
    receive time (``clock="received"`` swaps them). Untimed events and events
    without a subject are counted (``untimed``, ``no_subject``) but not drawn.

*State*
    Unknown until the first event that says ``online``/``offline``; it then
    holds until the next event that says otherwise, and to the end of the
    timeline. A cell of a binned row shows the state that covers most of it.

*Tick*
    One event. A cell with several shows the most telling kind
    (:data:`KIND_RANK`: error first, then disconnect, connect, firmware …).
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass

from presencectl.core.events import KINDS, Event
from presencectl.core.presence import PresenceTracker, SubjectStats, compact

__all__ = ["Timeline", "Row", "bin_row", "KIND_RANK", "KIND_CODES", "UNPARSED"]

#: The kind shown by a cell holding several events: the first in this order wins.
KIND_RANK: tuple[str, ...] = (
    "error", "disconnect", "connect", "firmware", "state", "lifecycle", "message", "other", "unparsed",
)
#: Kind names by their one-byte code in :attr:`Row.kinds` (index = code).
KIND_CODES: tuple[str, ...] = (*KINDS, "unparsed")
UNPARSED = "unparsed"
_CODE = {name: i for i, name in enumerate(KIND_CODES)}
_RANK_OF_CODE = [KIND_RANK.index(name) if name in KIND_RANK else len(KIND_RANK) for name in KIND_CODES]


class Row:
    """One subject's swimlane: state changes and ticks, in arrival order.

    ``times``/``kinds``/``types``/``summaries`` are parallel arrays, one entry
    per event; ``types`` and ``summaries`` index :attr:`Timeline.texts`.
    ``changes`` holds ``(time, state)`` for every state change (the first
    known state included).
    """

    __slots__ = ("subject", "dialect", "order", "times", "kinds", "types", "summaries", "changes", "state", "_sorted")

    def __init__(self, subject: str, dialect: str | None, order: int) -> None:
        self.subject = subject
        self.dialect = dialect
        self.order = order
        self.times = array("d")
        self.kinds = array("B")
        self.types = array("I")
        self.summaries = array("I")
        self.changes: list[tuple[float, str]] = []
        self.state: str | None = None
        self._sorted = True

    def __len__(self) -> int:
        return len(self.times)

    def sort(self) -> None:
        """Order ticks and changes by time (events may arrive out of order)."""
        if self._sorted:
            return
        order = sorted(range(len(self.times)), key=self.times.__getitem__)
        for name in ("times", "kinds", "types", "summaries"):
            old = getattr(self, name)
            setattr(self, name, array(old.typecode, (old[i] for i in order)))
        self.changes.sort(key=lambda change: change[0])
        self._sorted = True


@dataclass(slots=True)
class Tick:
    """One event of a row, for a tooltip."""

    time: float
    kind: str
    type: str
    summary: str


class Timeline:
    """Swimlanes for every subject of a stream.

    Args:
        clock: ``"event"`` (event time, else receive time), or ``"received"``
            / ``"auto"`` (receive time where the event has one, else its own).
        flap_window: seconds, for the flap counts shown at the rows' ends.

    Feed :meth:`add`, then read :meth:`span`, :meth:`rows`, :meth:`stats`. The figures at the rows' ends come from the same
    :class:`~presencectl.core.presence.PresenceTracker` that ``stats`` uses.
    """

    def __init__(self, clock: str = "event", flap_window: float = 300.0) -> None:
        self.tracker = PresenceTracker(flap_window=flap_window, clock=clock)
        self._by_event = clock == "event"
        self._rows: dict[str, Row] = {}
        #: Interned type names and summaries; rows hold indexes into it.
        self.texts: list[str] = []
        self._text_index: dict[str, int] = {}
        self.first: float | None = None
        self.last: float | None = None
        self.events = 0
        self.untimed = 0
        self.no_subject = 0

    def _intern(self, text: str) -> int:
        index = self._text_index.get(text)
        if index is None:
            index = self._text_index[text] = len(self.texts)
            self.texts.append(text)
        return index

    def add(self, event: Event) -> None:
        """Take one event (call in arrival order)."""
        record = compact(event)
        self.tracker.add_record(record)
        self.events += 1
        subject = event.subject
        if subject is None:
            self.no_subject += 1
            return
        own, received = record[4], record[5]
        t = (own if own is not None else received) if self._by_event else (received if received is not None else own)
        if t is None:
            self.untimed += 1
            return
        row = self._rows.get(subject)
        if row is None:
            row = self._rows[subject] = Row(subject, event.dialect, len(self._rows))
        if row.times and t < row.times[-1]:
            row._sorted = False
        row.times.append(t)
        row.kinds.append(_CODE.get(event.kind, _CODE["other"]) if event.dialect is not None else _CODE[UNPARSED])
        row.types.append(self._intern(event.type or "-"))
        row.summaries.append(self._intern(event.summary[:160] if event.summary else ""))
        presence = event.presence
        if presence is not None and presence != row.state:
            row.state = presence
            row.changes.append((t, str(presence)))
        if self.first is None or t < self.first:
            self.first = t
        if self.last is None or t > self.last:
            self.last = t

    def span(self) -> tuple[float, float]:
        """(start, end) of everything drawn; a zero-length span is widened to one second."""
        if self.first is None or self.last is None:
            return (0.0, 1.0)
        if self.last <= self.first:
            return (self.first, self.first + 1.0)
        return (self.first, self.last)

    def rows(self, top: int | None = None, subjects: Iterable[str] | None = None) -> list[Row]:
        """Rows sorted by first seen; ``top`` keeps the busiest N (then by first seen)."""
        rows = list(self._rows.values()) if subjects is None else [self._rows[s] for s in subjects if s in self._rows]
        if top is not None and top > 0 and len(rows) > top:
            rows = sorted(rows, key=lambda r: (-len(r), r.order))[:top]
        rows.sort(key=lambda r: r.order)
        for row in rows:
            row.sort()
        return rows

    def __len__(self) -> int:
        return len(self._rows)

    def stats(self, row: Row) -> SubjectStats | None:
        """The presence figures of a row's subject (flaps, offline time …)."""
        return self.tracker.subjects.get(row.subject)

    def offline_total(self, row: Row) -> float:
        """Seconds offline, an open period counted to the end of the timeline."""
        stats = self.stats(row)
        if stats is None:
            return 0.0
        return stats.offline_until(self.tracker.last_t)[0]

    def tick(self, row: Row, index: int) -> Tick:
        """The ``index``-th event of ``row`` as a :class:`Tick`."""
        return Tick(row.times[index], KIND_CODES[row.kinds[index]], self.texts[row.types[index]], self.texts[row.summaries[index]])


def state_at(row: Row, t: float) -> str | None:
    """The state of ``row`` at time ``t`` (None: not known yet)."""
    times = [c[0] for c in row.changes]
    i = bisect_right(times, t)
    return row.changes[i - 1][1] if i else None


def bin_row(row: Row, start: float, end: float, width: int) -> tuple[list[str | None], list[str | None]]:
    """Bin a row into ``width`` cells over [start, end].

    Returns ``(states, ticks)``: per cell the state that covers most of it
    (None: unknown), and the most telling kind among its events (None: no
    event). Costs one pass over the row's changes and one bisect per cell.
    """
    width = max(1, width)
    if end <= start:
        end = start + 1.0
    step = (end - start) / width
    states: list[str | None] = [None] * width
    # Per cell, seconds of each state; the state with most time wins.
    online = [0.0] * width
    offline = [0.0] * width
    changes = row.changes
    for i, (t0, state) in enumerate(changes):
        t1 = changes[i + 1][0] if i + 1 < len(changes) else end
        a, b = max(t0, start), min(t1, end)
        if b <= a:
            if t0 == end:  # a change at the very end still says how the row ends
                (online if state == "online" else offline)[width - 1] += step * 0.5
            continue
        bucket = online if state == "online" else offline
        first = min(width - 1, int((a - start) / step))
        last = min(width - 1, int((b - start) / step))
        for cell in range(first, last + 1):
            lo = max(a, start + cell * step)
            hi = min(b, start + (cell + 1) * step)
            bucket[cell] += max(hi - lo, 1e-9)
    for cell in range(width):
        on, off = online[cell], offline[cell]
        if on or off:
            covered = on + off
            if covered >= step * 0.5 or (cell and states[cell - 1] is not None):
                states[cell] = "online" if on >= off else "offline"
    ticks: list[str | None] = [None] * width
    times, kinds = row.times, row.kinds
    lo = bisect_left(times, start)
    hi = bisect_right(times, end)
    ranks = [len(KIND_RANK) + 1] * width
    for i in range(lo, hi):
        cell = min(width - 1, int((times[i] - start) / step))
        code = kinds[i]
        rank = _RANK_OF_CODE[code]
        if rank < ranks[cell]:
            ranks[cell] = rank
            ticks[cell] = KIND_CODES[code]
    return states, ticks
