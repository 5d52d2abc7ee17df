"""Replay scheduling (SPEC §3.3): capture records → due times (the player is in core/player.py).

Pure: nothing here sleeps or reads a clock. :class:`Schedule` turns the
records of a capture (or the frames of a plain NDJSON file) into
:class:`Scheduled` items, each with its *due* time in seconds after the
replay started. :class:`~presencectl.core.player.Player` walks such items
and hands each to a ``deliver`` callback when it is due, using a
:class:`~presencectl.core.player.Clock` its caller passes in (the real
one: ``time.monotonic`` and a precise sleep; tests: a fake clock). Every
due time is measured from the one start instant, so errors never accumulate.

Example::

    schedule = Schedule(lambda: reader.records(), ReplayOptions(speed=10), origin=header.started)
    player = Player(iter(schedule), clock)
    player.run(lambda item: target.send(item.record))

The timeline of each record is its receive time ``t`` (captures), the time
its events carry (plain NDJSON, ``timing="event"``), or its position in a
steady ``--rate`` (``timing="rate"``). A record earlier than the latest time
seen so far is sent right after its predecessor (file order), counted in
:attr:`Schedule.backwards`, with one warning.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import tzinfo
from typing import Literal

from presencectl.core.events import Event, Frame, Marker
from presencectl.core.filters import Filter
from presencectl.core.times import TimeParser, parse_duration, seconds_of
from presencectl.errors import UsageError

__all__ = [
    "Point",
    "ReplayOptions",
    "Scheduled",
    "Schedule",
    "parse_speed",
    "parse_point",
    "parse_window",
    "window_bounds",
    "format_offset",
    "Timing",
]

Timing = Literal["recorded", "event", "rate"]
Record = Frame | Marker

#: Plain NDJSON whose first this-many frames carry no time cannot be timed.
NO_TIME_LOOKAHEAD = 10_000
#: A single idle gap longer than this (capture seconds, no --max-gap) gets a hint.
LONG_GAP = 3600.0


@dataclass(frozen=True, slots=True)
class Point:
    """A ``--from``/``--until`` value: an offset from the capture start, or a time.

    Exactly one of ``offset`` (seconds after the start of the capture) and
    ``time`` (seconds since the epoch) is set.
    """

    offset: float | None = None
    time: float | None = None

    def resolve(self, origin: float) -> float:
        """This point on a timeline that starts at ``origin``."""
        if self.offset is not None:
            return origin + self.offset
        assert self.time is not None
        return self.time


def parse_speed(text: str) -> float | None:
    """``--speed``: a positive number (``10``, ``0.5``, ``10x``) or ``max`` (None: no waiting).

    >>> parse_speed("10x"), parse_speed("max")
    (10.0, None)

    Raises:
        UsageError: zero, negative, or not a number.
    """
    value = text.strip().lower()
    if value in ("max", "inf", "infinity"):
        return None
    if value.endswith("x"):
        value = value[:-1]
    try:
        speed = float(value)
    except ValueError:
        raise UsageError(f"bad --speed {text!r}: a number above 0 (1 = real time) or 'max'") from None
    if not math.isfinite(speed):
        return None if speed > 0 else _bad_speed(text)
    if speed <= 0:
        _bad_speed(text)
    return speed


def _bad_speed(text: str) -> None:
    raise UsageError(f"bad --speed {text!r}: must be above 0 (1 = real time, 10 = ten times faster, max = no waiting)")


def parse_point(text: str, zone: tzinfo, what: str) -> Point:
    """A ``--from``/``--until`` value: an offset (``90``, ``90s``, ``5m``, ``1h``) or a time.

    A time without a zone is read in ``zone``.

    >>> parse_point("5m", timezone.utc, "--from")
    Point(offset=300.0, time=None)

    Raises:
        UsageError: neither an offset nor a time.
    """
    offset = parse_duration(text)
    if offset is not None:
        return Point(offset=offset)
    when = TimeParser(zone)(text.strip())
    if when is None:
        raise UsageError(
            f"bad {what} {text!r}: an offset from the start of the capture (90s, 5m, 1h) "
            "or a time (2026-03-12 08:05:00)"
        )
    return Point(time=when.timestamp())


def parse_window(
    start: str | None, end: str | None, zone: tzinfo
) -> tuple[Point | None, Point | None]:
    """``--from``/``--until`` as Points (either may be None), checked against each other.

    The one parser behind ``replay`` and ``slice``.

    Raises:
        UsageError: a value is neither an offset nor a time, or ``--until`` is
            before ``--from`` (both offsets or both times).
    """
    s = parse_point(start, zone, "--from") if start is not None else None
    e = parse_point(end, zone, "--until") if end is not None else None
    if s is not None and e is not None:
        if s.offset is not None and e.offset is not None and e.offset < s.offset:
            raise UsageError(f"--until {end} is before --from {start}")
        if s.time is not None and e.time is not None and e.time < s.time:
            raise UsageError(f"--until {end} is before --from {start}")
    return s, e


def window_bounds(
    origin: float | None, first: float | None, start: Point | None, end: Point | None
) -> tuple[float, float | None]:
    """The window ``[lo, hi]`` on a capture timeline (``hi`` None: open-ended).

    Offsets count from ``origin`` (the header's ``started``), or from the first
    record's time ``first`` when that is earlier or there is no header time.
    """
    if first is not None and (origin is None or first < origin):
        origin = first
    if origin is None:
        origin = 0.0
    lo = origin
    if start is not None:
        lo = max(origin, start.resolve(origin))
    hi = end.resolve(origin) if end is not None else None
    return lo, hi


def format_offset(seconds: float) -> str:
    """Virtual time for people: ``0:07.3``, ``1:02:03``.

    >>> format_offset(3723.0), format_offset(7.25)
    ('1:02:03', '0:07.2')
    """
    if seconds < 0 or not math.isfinite(seconds):
        seconds = 0.0
    if seconds < 3600:
        minutes, rest = divmod(seconds, 60)
        return f"{int(minutes)}:{rest:04.1f}"
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


@dataclass(slots=True)
class ReplayOptions:
    """How to replay.

    Args:
        speed: 1 = real time, 10 = ten times faster; None = ``max``, no waiting.
        max_gap: cap every idle gap at this many seconds of capture time
            (applied before ``speed``, like asciinema's idle time limit).
        start: ``--from``; records before it are skipped and the clock starts there.
        end: ``--until``; the replay (each loop) stops at the first record after it.
        loops: how many times to play the window; 0 = forever.
        rate: frames per second for ``timing="rate"``.
    """

    speed: float | None = 1.0
    max_gap: float | None = None
    start: Point | None = None
    end: Point | None = None
    loops: int = 1
    rate: float | None = None


@dataclass(slots=True)
class Scheduled:
    """One record and when to deliver it.

    ``due`` is in seconds after the replay started (None: at once, ``--speed
    max``). ``offset`` is the record's place on the capture timeline, in
    seconds after the window start (the *virtual time*). ``events`` holds the
    decoded events when the schedule had to decode the frame (filters, event
    timing), so the caller need not decode it again; None otherwise.
    """

    due: float | None
    record: Record
    offset: float
    loop: int
    events: list[Event] | None = None


class Schedule:
    """Records → :class:`Scheduled` items, in file order.

    Args:
        open_records: called once per loop; returns the records (Frames and
            Markers) from the start. The caller owns the files.
        options: speed, gaps, window, loops, rate.
        timing: ``recorded`` (a capture: each record's ``t``), ``event`` (plain
            NDJSON: the time the frame's events carry), ``rate`` (a steady
            ``options.rate`` frames per second).
        origin: the capture's start (its header's ``started``); offsets in
            ``--from``/``--until`` count from here. Default: the first record.
        decode: Frame → events; needed for ``filt`` and ``timing="event"``.
        filt: which frames to send: a frame is sent when any of its events
            matches. None sends every frame.
        warn: where to report a clock going backwards or a very long gap.

    Raises (while iterating):
        UsageError: event timing but the events carry no time, or a time
            window on a ``--rate`` timeline.

    After iteration, :attr:`backwards`, :attr:`filtered`, :attr:`outside`
    and :attr:`loops_done` tell what happened.
    """

    def __init__(
        self,
        open_records: Callable[[], Iterable[Record]],
        options: ReplayOptions,
        *,
        timing: Timing = "recorded",
        origin: float | None = None,
        decode: Callable[[Frame], list[Event]] | None = None,
        filt: Filter | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        if timing == "rate" and not options.rate:
            raise UsageError("--rate needs a number of frames per second above 0")
        if options.speed is not None and options.speed <= 0:
            raise UsageError("--speed must be above 0")
        if options.max_gap is not None and options.max_gap < 0:
            raise UsageError("--max-gap cannot be negative")
        if options.loops < 0:
            raise UsageError("--loop cannot be negative (0 = forever)")
        if timing == "rate":
            for point, what in ((options.start, "--from"), (options.end, "--until")):
                if point is not None and point.time is not None:
                    raise UsageError(
                        f"{what} with a time needs timestamps, but --rate sets its own: "
                        "give an offset instead (90s, 5m)"
                    )
        if (timing == "event" or filt is not None) and decode is None:
            raise ValueError("decode is needed for filters and event timing")
        self.open_records = open_records
        self.options = options
        self.timing = timing
        self.origin = origin
        self.decode = decode
        self.filter = filt
        self.warn = warn or (lambda message: None)
        #: Records sent after a later one (times went backwards).
        self.backwards = 0
        #: Frames no event of which matched the filters.
        self.filtered = 0
        #: Records outside ``--from``/``--until``.
        self.outside = 0
        #: Loops completed.
        self.loops_done = 0
        #: Frames scheduled in total.
        self.frames = 0
        self._warned_gap = False

    def __iter__(self) -> Iterator[Scheduled]:
        options = self.options
        loops = options.loops
        speed = options.speed
        max_gap = options.max_gap
        # Without --from, a record earlier than the start is not outside the
        # window: its time went backwards (it follows its predecessor).
        windowed = options.start is not None
        vt = 0.0  # virtual time so far, gaps capped, in capture seconds
        carry = 0.0  # the gap left over from the end of the previous loop
        loop = 0
        while loops == 0 or loop < loops:
            loop += 1
            sent = 0
            records = self.open_records()
            if self.timing == "recorded" and self.filter is None:
                timeline = _recorded(records)  # the common case, kept lean
            else:
                timeline = self._timeline(records)
            first = True
            prev = lo = 0.0
            hi: float | None = None
            try:
                for x, record, events in timeline:
                    if first:
                        # The timeline's origin arrives with its first record.
                        lo, hi = self._window(x)
                        prev = lo
                        first = False
                    if x is None:
                        x = prev  # no time of its own: right after its predecessor
                    if x < lo and windowed:
                        self.outside += 1
                        continue
                    if hi is not None and x > hi:
                        self.outside += 1
                        break
                    gap = x - prev
                    if gap < 0:
                        self._backwards(record, prev - x)
                        gap = 0.0
                    else:
                        prev = x
                    if carry:
                        gap += carry
                        carry = 0.0
                    if max_gap is not None:
                        if gap > max_gap:
                            gap = max_gap
                    elif gap > LONG_GAP and speed is not None and not self._warned_gap:
                        self._warned_gap = True
                        self.warn(
                            f"an idle gap of {format_offset(gap)} in the capture will be waited "
                            "out; --max-gap SECONDS caps idle gaps"
                        )
                    vt += gap
                    if type(record) is not Marker:
                        sent += 1
                    yield Scheduled(
                        None if speed is None else vt / speed, record, prev - lo, loop, events
                    )
            finally:
                timeline.close()
                close = getattr(records, "close", None)
                if close is not None:
                    close()
            self.loops_done = loop
            self.frames += sent
            if sent == 0:
                break  # nothing in the window: looping again would spin forever
            end = hi if hi is not None else prev
            if self.timing == "rate" and hi is None:
                assert options.rate
                end = prev + 1.0 / options.rate
            carry = max(0.0, end - prev)

    def _window(self, first: float | None) -> tuple[float, float | None]:
        """The window ``[lo, hi]`` on the timeline, given the first record's time."""
        options = self.options
        if self.timing == "rate":
            return window_bounds(0.0, None, options.start, options.end)
        return window_bounds(self.origin, first, options.start, options.end)

    def _backwards(self, record: Record, by: float) -> None:
        self.backwards += 1
        if self.backwards == 1:
            what = "record" if type(record) is not Marker else f"{record.mark!r} marker"
            self.warn(
                f"times go backwards ({by:.3f} s earlier than the record before): "
                f"replaying in file order; the {what} follows its predecessor at once"
            )

    def _timeline(
        self, records: Iterable[Record]
    ) -> Iterator[tuple[float | None, Record, list[Event] | None]]:
        """(time on the timeline, record, events) for every record that passes the filter.

        Records before the first one with a time come out with that time (so
        the first item starts the window); a record with no time of its own
        later on comes out with None (it follows its predecessor).
        """
        filt = self.filter
        decode = self.decode
        timing = self.timing
        need_events = filt is not None or timing == "event"
        step = 1.0 / self.options.rate if timing == "rate" and self.options.rate else 0.0
        index = 0
        head: list[tuple[Record, list[Event] | None]] = []
        timed = False
        for record in records:
            events = None
            is_frame = type(record) is not Marker
            if is_frame and need_events:
                assert decode is not None
                events = decode(record)  # type: ignore[arg-type]
                if filt is not None and not any(filt(e) for e in events):
                    self.filtered += 1
                    continue
            if timing == "recorded":
                x = record.t
            elif timing == "rate":
                x = None
                if is_frame:
                    x = index * step
                    index += 1
            else:
                x = _event_time(events) if events is not None else None
            if not timed:
                if x is None:
                    head.append((record, events))
                    if timing == "event" and len(head) >= NO_TIME_LOOKAHEAD:
                        _no_time(len(head))
                    continue
                timed = True
                for early, early_events in head:
                    yield x, early, early_events
                head.clear()
            yield x, record, events
        if head:
            if timing == "event" and any(type(r) is not Marker for r, _ in head):
                _no_time(len(head))
            # Nothing carries a time: everything at once, in file order.
            for early, early_events in head:
                yield None, early, early_events


def _recorded(records: Iterable[Record]) -> Iterator[tuple[float | None, Record, None]]:
    """``Schedule._timeline`` for a capture with no filter: each record at its own ``t``."""
    it = iter(records)
    head: list[Record] = []
    for record in it:
        x = record.t
        if x is None:
            head.append(record)
            continue
        for early in head:
            yield x, early, None
        yield x, record, None
        break
    else:
        for early in head:
            yield None, early, None
        return
    for record in it:
        yield record.t, record, None


def _event_time(events: list[Event]) -> float | None:
    for event in events:
        if event.time is not None:
            return seconds_of(event.time)
    return None


def _no_time(count: int) -> None:
    raise UsageError(
        f"this is plain NDJSON (no capture header) and its first {count} events carry no time "
        "to replay by: give --rate N (events per second)"
    )
