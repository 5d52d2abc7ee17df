"""Presence analysis: who was up, who flapped, how long each one was away.

:class:`PresenceTracker` is fed normalised :class:`~presencectl.core.events.Event`
objects one at a time (``tracker.add(event)``, in arrival order) and keeps
running figures for the stream and for every subject. It is pure: no clock
reads, no I/O; memory is constant per subject (plus the ``max_gaps`` longest
gaps of the stream). ``stats`` prints :meth:`PresenceTracker.report`; the
``--live`` table reads :attr:`PresenceTracker.subjects` as it goes.

Example::

    tracker = PresenceTracker(flap_window=300, gap=60)
    for event in decoder.decode(line):
        tracker.add(event)
    report = tracker.report()   # JSON-ready dict, schema in commands/stats.py

Definitions (these are the contract of ``stats`` and its JSON):

*Time of an event*
    With ``clock="event"`` (the tracker's default) the event's own time,
    falling back to its receive time; with ``clock="received"`` or
    ``clock="auto"`` (what ``stats`` asks for) the receive time, falling back
    to the event's own time. Device clocks are often wrong (a tracker that
    boots in 2013): where a capture holds receive times, spans, rates, gaps
    and flaps are measured on them, and the device clocks are judged apart
    (*clock skew*). An event with neither is counted (``untimed``)
    but not placed in time: it moves no first/last/span/gap figure, and a
    state change it carries adds no offline time and cannot be a flap.

*State*
    ``online``/``offline`` as the dialect maps the event (``Event.presence``);
    None (unknown) until the first event that says. Events without presence
    leave the state alone.

*State change*
    An event whose presence differs from the subject's known state. Learning
    the first state (unknown → online/offline) is not a change.

*Connects / disconnects*
    How many times the subject came online / went offline: an event that turns
    the state online (offline → online, or unknown → online by an event of kind
    ``connect``; a status report that merely says "online" on first sight is
    not a connect), and the same for offline with kind ``disconnect``.
    Repeated "online" reports while online (Navixy states every 10 s, Spaces
    ``party.online`` updates) are not connects.

*Failed connects*
    Connection attempts the platform refused: kind ``error`` and a type that
    names a failed/refused/rejected connect (CloudConnect ``failed_connect``).
    Also counted for the stream, since CloudConnect sends them with a null
    asset (no subject).

*Flap*
    A state change that comes at most ``flap_window`` seconds after the
    subject's previous state change. A device that reboots once
    (online → offline → online within the window) has one flap; one that
    drops and reconnects seven times in two minutes has thirteen. A first
    state change (nothing before it to compare with) is never a flap.

*Offline time*
    From a change to offline (or the first sight of a subject as offline)
    until the next change to online. An offline period still open at the end
    counts up to the last time seen in the stream. ``longest_offline_s`` is
    the longest single period.

*Silence*
    The longest interval between two consecutive events of one subject
    (``longest_silence_s``): a device that went quiet without saying so.

*Gap*
    An interval longer than ``gap`` seconds in which the stream carried no
    event. Gaps are measured against the latest time seen so far, so an event
    that arrives out of order (older than one already seen; counted in
    ``out_of_order``) neither opens nor closes a gap. ``first``/``last`` are
    the earliest and latest times seen, whatever the order.

*Out-of-order events of one subject*
    An event older than one the subject already sent is applied in arrival
    order but placed at the subject's latest time: a stale "disconnect"
    replayed from last year does not make the device offline since last year.

*Clock skew*
    For an event with both times: its own time minus its receive time
    (positive: the device clock is ahead). Per subject the median (of at
    most 2048 evenly spaced samples: exact below that) and the worst (largest
    in size, sign kept). An event whose skew is larger than
    ``skew_limit`` seconds (5 minutes) either way is an *event-time outlier*.

*Last reason*
    Why the subject's presence last changed, in the vendor's words, as each
    dialect's ``reason`` declares it: CloudConnect ``reason`` (``cold_boot``, ``idle_out``, …), the Span event
    name (``clientDisconnected``), Navixy ``lifecycle_event`` (``block``,
    ``unblock``) or ``connection_status`` (``signal_lost``), Aliyun
    ``thing.status`` word (``online``, ``offline``, ``disabled``), the Spaces
    category without its ``app.event.presence.`` prefix (``party.leaves``).
    Updated by every state change, every ``connect``/``disconnect`` event
    (a Spaces ``party.removed`` after ``party.leaves`` says more), every
    failed connect and every event of a type its dialect marks
    ``keeps_reason`` (Navixy ``lifecycle``: ``unblock`` carries no presence
    but is why a blocked tracker may come back). Repeated status
    reports of the same state (Navixy every 10 s) leave it alone.
"""

from __future__ import annotations

import heapq
from typing import Any

from presencectl.core import dialects
from presencectl.core.dialects import word
from presencectl.core.events import Event, Marker

# The figures are kept in presence_stats; they are exported here too, for the tracker's readers.
from presencectl.core.presence_stats import (
    SUBJECT_KEYS,
    Gap,
    Samples,
    SubjectStats,
    iso,
    plain_str,
    seconds,
    sort_key,
)
from presencectl.core.times import seconds_of

__all__ = [
    "PresenceTracker",
    "SubjectStats",
    "Samples",
    "Gap",
    "iso",
    "seconds",
    "sort_key",
    "reason_of",
    "is_failed_connect",
    "compact",
    "SCHEMA",
    "CLOCKS",
    "REPORT_KEYS",
    "SUBJECT_KEYS",
    "UNPARSED",
    "NO_TYPE",
    "SKEW_LIMIT",
]

#: The ``schema`` value of :meth:`PresenceTracker.report`; bumped on any key change.
SCHEMA = "presencectl.stats/1"
CLOCKS = ("auto", "event", "received")
#: Key used for unparsed payloads in the dialect and kind counts.
UNPARSED = "unparsed"
#: How tables name a parsed event that has no type (generic JSON without
#: event/type/category/method), apart from unparsed payloads.
NO_TYPE = "(no type)"
#: Seconds a device clock may be off its receive time before the event is an outlier.
SKEW_LIMIT = 300.0

_FAIL_WORDS = ("fail", "refus", "reject", "denied")


def is_failed_connect(event: Event) -> bool:
    """True for a refused connection attempt (CloudConnect ``failed_connect``, and alike).

    >>> is_failed_connect(Event("cloudconnect", "failed_connect", "error", None, None, "", {}))
    True
    """
    if event.kind != "error":
        return False
    etype = event.type
    if not etype:
        return False
    low = etype.lower()
    return "connect" in low and any(word in low for word in _FAIL_WORDS)


def reason_of(event: Event) -> str | None:
    """The vendor's word for why this event changes (or confirms) presence.

    Asks the event's dialect (``Dialect.reason``); without one, the payload's
    ``reason`` or the event type. Never raises, whatever the payload holds;
    returns None when there is none.
    """
    dialect = dialects.find(event.dialect)
    if dialect is not None and dialect.reason is not None:
        try:
            return dialect.reason(event)
        except Exception:  # a dialect must never take the stream down
            return event.type
    raw = event.raw if isinstance(event.raw, dict) else {}
    return word(raw.get("reason")) or event.type


def compact(event: Event) -> tuple:
    """What :meth:`PresenceTracker.add_record` needs of an event, as a small picklable tuple.

    Computes the reason wherever the tracker might need it, so the record
    does not carry the payload.
    """
    kind = event.kind
    dialect = event.dialect
    presence = event.presence
    failed = kind == "error" and is_failed_connect(event)
    why = None
    if presence is not None or failed or (dialect, event.type) in dialects.reason_types():
        why = reason_of(event)
    when = event.time
    return (
        dialect, event.type, kind, event.subject, seconds_of(when) if when is not None else None,
        event.received, presence, failed, why,
    )


class PresenceTracker:
    """Running presence and stream figures over a sequence of events.

    Args:
        flap_window: seconds; a state change at most this long after the
            subject's previous one is a flap.
        gap: seconds; a quiet interval longer than this is a gap.
        clock: ``"event"`` (event time, else receive time), ``"received"``
            (receive time, else event time) or ``"auto"``: like ``received``,
            and the report names the clock that was used (``received`` when
            any event had a receive time, else ``event``).
        skew_limit: seconds; an event whose own time is further than this
            from its receive time is an event-time outlier.
        max_gaps: how many of the longest gaps to keep (all are counted).

    Raises:
        ValueError: a non-positive window or gap, or an unknown clock.

    Feed it with :meth:`add` (and :meth:`marker` for capture connection
    markers), then read :meth:`report`, :attr:`subjects` or the attributes.
    Not thread-safe: a caller that reads it from another thread (the live
    table) must hold a lock around both.
    """

    def __init__(
        self,
        flap_window: float = 300.0,
        gap: float = 60.0,
        clock: str = "event",
        max_gaps: int = 100,
        skew_limit: float = SKEW_LIMIT,
    ) -> None:
        if not flap_window > 0:
            raise ValueError("the flap window must be a positive number of seconds")
        if not gap > 0:
            raise ValueError("the gap must be a positive number of seconds")
        if clock not in CLOCKS:
            raise ValueError(f"clock must be one of {', '.join(CLOCKS)}")
        self.flap_window = float(flap_window)
        self.gap = float(gap)
        self.clock = clock
        self._by_event = clock == "event"
        self.skew_limit = float(skew_limit)
        #: Events with both times, those beyond skew_limit, all their skews.
        self.skewed = 0
        self.skew_outliers = 0
        self.skews = Samples()
        self.received_seen = False
        self._stamps: dict[Any, float | None] = {}
        self.max_gaps = max_gaps
        self.subjects: dict[str, SubjectStats] = {}
        self.events = 0
        self.untimed = 0
        self.out_of_order = 0
        self.failed_connects = 0
        self.first_t: float | None = None
        self.last_t: float | None = None
        self.gap_count = 0
        self.gap_total = 0.0
        self._gaps: list[Gap] = []  # min-heap of the longest max_gaps gaps
        #: (dialect, type, kind) → events; the by_* views are derived from it.
        self._counts: dict[tuple[str | None, str | None, str | None], int] = {}
        self.no_subject = 0
        self.markers: dict[str, int] = {}
        #: Arrival number of the last state change of any subject.
        self.changed_seq = 0
        #: (dialect, type) pairs whose reason counts without a presence (Navixy lifecycle).
        self._reason_types = dialects.reason_types()

    # ------------------------------------------------------------------ input
    def add(self, event: Event) -> None:
        """Take one event into account (call in arrival order)."""
        when = event.time
        stamp = None
        if when is not None:
            # Streams repeat instants (and TimeParser hands out the same
            # datetime for the same text): a dict lookup beats timestamp().
            stamp = self._stamps.get(when)
            if stamp is None:
                stamp = seconds_of(when)
                if stamp is not None:
                    if len(self._stamps) >= 4096:
                        self._stamps.clear()
                    self._stamps[when] = stamp
        kind = event.kind
        self._apply(
            event.dialect, event.type, kind, event.subject, stamp, event.received, event.presence,
            kind == "error" and is_failed_connect(event), event,
        )

    def add_record(self, record: tuple) -> None:
        """Take one :func:`compact` record into account, as :meth:`add` takes an event.

        For a parallel reader: workers decode and ``compact()`` events, the one
        tracker takes the records in the original order.
        """
        self._apply(*record)

    def _apply(
        self,
        dialect: str | None,
        etype: str | None,
        kind: str | None,
        subject: str | None,
        stamp: float | None,
        received: float | None,
        presence: str | None,
        failed: bool,
        why: Event | str | None,
    ) -> None:
        # The hot path of `stats` (a million events): locals, one dict update
        # for all the counts, the reason looked up only when it can change
        # (``why`` is the event, or the reason already looked up by compact()).
        self.events = seq = self.events + 1
        key = (dialect, etype, kind)
        counts = self._counts
        counts[key] = counts.get(key, 0) + 1

        skew = None
        if received is not None:
            if stamp is not None:
                skew = stamp - received
                self.skewed += 1
                self.skews.add(skew)
                if skew > self.skew_limit or -skew > self.skew_limit:
                    self.skew_outliers += 1
            if self._by_event:
                t = stamp if stamp is not None else received
            else:
                t = received
                self.received_seen = True
        else:
            t = stamp
        if t is None:
            self.untimed += 1
        else:
            last = self.last_t
            if last is None:
                self.first_t = self.last_t = t
            elif t > last:
                if t - last > self.gap:
                    self._add_gap(last, t)
                self.last_t = t
            elif t < last:
                self.out_of_order += 1
                if t < self.first_t:  # type: ignore[operator]
                    self.first_t = t

        if failed:
            self.failed_connects += 1
        if subject is None:
            self.no_subject += 1
            return
        s = self.subjects.get(subject)
        if s is None:
            s = self.subjects[subject] = SubjectStats(subject, dialect)
        s.events += 1
        s.seen_seq = seq
        s.last_type = etype
        s.last_kind = kind
        if received is not None:
            s.last_received = received
            if skew is not None:
                samples = s.skews
                if samples is None:
                    samples = s.skews = Samples()
                samples.add(skew)
                worst = s.skew_worst
                if worst is None or (skew if skew >= 0 else -skew) > (worst if worst >= 0 else -worst):
                    s.skew_worst = skew
        if t is not None:
            prev = s.last_t
            if prev is None:
                s.first_t = s.last_t = t
            elif t > prev:
                if t - prev > s.longest_silence:
                    s.longest_silence = t - prev
                s.last_t = t
            elif t < prev:
                # Older than what this subject already said: apply it in
                # arrival order, at the subject's latest time, so a stale
                # event cannot open an offline period in the past.
                t = prev
        if kind == "error":
            s.errors += 1
            if failed:
                s.failed_connects += 1
                s.last_reason = reason_of(why) if type(why) is Event else why  # type: ignore[assignment]

        if presence is None:
            if (dialect, etype) in self._reason_types:
                s.last_reason = reason_of(why) if type(why) is Event else why  # type: ignore[assignment]
            return
        before = s.state
        if presence == before:
            # Same state again: a connect/disconnect event still says why
            # (Spaces party.removed after party.leaves, Span ciotConnect).
            if kind == "connect" or kind == "disconnect":
                s.last_reason = reason_of(why) if type(why) is Event else why  # type: ignore[assignment]
            return
        s.last_reason = reason_of(why) if type(why) is Event else why  # type: ignore[assignment]
        if presence == "online":
            if before == "offline" or kind == "connect":
                s.connects += 1
            since = s.offline_since
            if since is not None and t is not None and t >= since:
                period = t - since
                s.offline_total += period
                if period > s.longest_offline:
                    s.longest_offline = period
                    s.longest_offline_start = since
            s.offline_since = None
        else:
            if before == "online" or kind == "disconnect":
                s.disconnects += 1
            s.offline_since = t
            s.last_offline = t
        if before is not None:
            s.changes += 1
            base = s.changed_t
            if t is not None and base is not None and 0 <= t - base <= self.flap_window:
                s.flaps += 1
            s.changed_t = t
        s.state = presence
        s.state_since = t
        s.changed_seq = seq
        self.changed_seq = seq

    def marker(self, marker: Marker) -> None:
        """Count a capture connection marker (connected, disconnected, reconnecting)."""
        self.markers[marker.mark] = self.markers.get(marker.mark, 0) + 1

    def _add_gap(self, start: float, end: float) -> None:
        self.gap_count += 1
        self.gap_total += end - start
        gap = Gap(start, end)
        if len(self._gaps) < self.max_gaps:
            heapq.heappush(self._gaps, gap)
        elif self._gaps[0] < gap:
            heapq.heapreplace(self._gaps, gap)

    # ----------------------------------------------------------------- output
    @property
    def malformed(self) -> int:
        """Events whose payload could not be parsed (dialect None)."""
        return sum(n for (d, _, _), n in self._counts.items() if d is None)

    @property
    def by_dialect(self) -> dict[str | None, int]:
        """Events per dialect (None: unparsed)."""
        out: dict[str | None, int] = {}
        for (d, _, _), n in self._counts.items():
            out[d] = out.get(d, 0) + n
        return out

    @property
    def by_kind(self) -> dict[str | None, int]:
        """Events per kind (None: unparsed)."""
        out: dict[str | None, int] = {}
        for (_, _, k), n in self._counts.items():
            out[k] = out.get(k, 0) + n
        return out

    @property
    def by_type(self) -> dict[tuple[str | None, str | None], list[Any]]:
        """(dialect, type) → [events, the kind most of them had]."""
        out: dict[tuple[str | None, str | None], list[Any]] = {}
        for (d, t, k), n in sorted(self._counts.items(), key=lambda kv: -kv[1]):
            entry = out.get((d, t))
            if entry is None:
                out[(d, t)] = [n, k]
            else:
                entry[0] += n
        return out

    @property
    def gaps(self) -> list[Gap]:
        """The longest ``max_gaps`` gaps, in time order."""
        return sorted(self._gaps, key=lambda g: g.start)

    @property
    def span(self) -> float | None:
        """Seconds from the first to the last time seen (None without times)."""
        if self.first_t is None or self.last_t is None:
            return None
        return self.last_t - self.first_t

    @property
    def rate(self) -> float | None:
        """Timed events per second over the span (None when the span is zero)."""
        span = self.span
        if not span:
            return None
        return (self.events - self.untimed) / span

    @property
    def effective_clock(self) -> str:
        """The clock the times are on: ``event`` or ``received`` (``auto`` resolved)."""
        if self.clock == "auto":
            return "received" if self.received_seen else "event"
        return self.clock

    def skew_subjects(self) -> list[SubjectStats]:
        """Subjects whose worst clock skew is beyond ``skew_limit``, worst first."""
        limit = self.skew_limit
        out = [s for s in self.subjects.values() if s.skew_worst is not None and abs(s.skew_worst) > limit]
        out.sort(key=lambda s: (-abs(s.skew_worst or 0.0), s.subject))
        return out

    def states(self) -> dict[str, int]:
        """How many subjects are online, offline, and of unknown state now."""
        out = {"online": 0, "offline": 0, "unknown": 0}
        for s in self.subjects.values():
            out[s.state or "unknown"] += 1
        return out

    def ranked(self) -> list[SubjectStats]:
        """Subjects in report order: most flaps first, then most events, then name."""
        return sorted(self.subjects.values(), key=sort_key)

    def report(self) -> dict[str, Any]:
        """Everything, as a JSON-ready dict (schema: :data:`SCHEMA`, see ``stats --help``)."""
        end = self.last_t
        span = self.span
        rate = self.rate
        types = sorted(self.by_type.items(), key=lambda kv: (-kv[1][0], str(kv[0][0]), str(kv[0][1])))
        return {
            "schema": SCHEMA,
            "settings": {"clock": self.effective_clock, "gap_s": self.gap, "flap_window_s": self.flap_window},
            "events": self.events,
            "malformed": self.malformed,
            "untimed": self.untimed,
            "out_of_order": self.out_of_order,
            "no_subject": self.no_subject,
            "failed_connects": self.failed_connects,
            "first": iso(self.first_t),
            "last": iso(self.last_t),
            "span_s": seconds(span),
            "rate_per_s": None if rate is None else round(rate, 6),
            "markers": dict(sorted(self.markers.items())),
            "presence": self.states(),
            "counts": {
                "dialect": _named_counts(self.by_dialect),
                "kind": _named_counts(self.by_kind),
                "type": [
                    {"dialect": d if d is not None else UNPARSED, "type": t, "kind": plain_str(k), "count": n}
                    for (d, t), (n, k) in types
                ],
            },
            "gaps": [
                {"start": iso(g.start), "end": iso(g.end), "seconds": seconds(g.seconds)}
                for g in self.gaps
            ],
            "gap_count": self.gap_count,
            "gap_total_s": seconds(self.gap_total),
            "subjects": [s.to_dict(end) for s in self.ranked()],
            "clock_skew": {
                "events": self.skewed,
                "median_s": seconds(self.skews.median()),
                "limit_s": self.skew_limit,
                "outliers": self.skew_outliers,
                "subjects": len(self.skew_subjects()),
            },
        }


def _named_counts(counts: dict[str | None, int]) -> dict[str, int]:
    items = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
    return {(str(k) if k is not None else UNPARSED): n for k, n in items}


#: The top-level keys of :meth:`PresenceTracker.report`, in order.
REPORT_KEYS = tuple(PresenceTracker().report())
