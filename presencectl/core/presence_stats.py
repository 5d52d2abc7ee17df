"""The running figures a :class:`~presencectl.core.presence.PresenceTracker` keeps.

Per subject (:class:`SubjectStats`, its ``subjects[]`` entry in the report),
bounded samples for a median (:class:`Samples`), quiet intervals
(:class:`Gap`), and the report's time and duration formats (:func:`iso`,
:func:`seconds`). The definitions of every figure are in
:mod:`presencectl.core.presence`. Pure: no clock reads, no I/O.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

__all__ = ["SubjectStats", "Samples", "Gap", "SUBJECT_KEYS", "iso", "seconds", "sort_key", "plain_str"]


def plain_str(value: Any) -> str | None:
    """A kind (a StrEnum) as a plain ``str``: orjson refuses str subclasses as keys."""
    return None if value is None else str(value)


def iso(t: float | None) -> str | None:
    """Epoch seconds as an ISO 8601 UTC string (None stays None)."""
    if t is None:
        return None
    try:
        return datetime.fromtimestamp(t, UTC).isoformat()
    except (OverflowError, OSError, ValueError):
        return None


def seconds(value: float | None) -> float | None:
    """A duration rounded to milliseconds for the report."""
    return None if value is None else round(value, 3)



class Samples:
    """Evenly spaced samples of a stream of numbers, in bounded memory, for a median.

    Keeps every value until ``cap`` are held, then every other one of those
    and every second value from then on, and so on: at most ``cap`` values,
    spread over the whole stream; the median is exact until the cap is reached.
    """

    __slots__ = ("values", "seen", "mask", "cap")

    def __init__(self, cap: int = 2048) -> None:
        self.values: list[float] = []
        #: Values offered; one is kept when ``seen & mask`` is 0 (mask: stride - 1).
        self.seen = 0
        self.mask = 0
        self.cap = cap

    def add(self, value: float) -> None:
        seen = self.seen
        self.seen = seen + 1
        if not seen & self.mask:
            values = self.values
            values.append(value)
            if len(values) >= self.cap:
                self.thin()

    def thin(self) -> None:
        """Keep every other sample, and from now on every other value as well."""
        del self.values[1::2]
        self.mask = self.mask * 2 + 1

    def median(self) -> float | None:
        """The median of the samples (None when there are none)."""
        values = sorted(self.values)
        n = len(values)
        if not n:
            return None
        mid = n // 2
        return values[mid] if n % 2 else (values[mid - 1] + values[mid]) / 2


class SubjectStats:
    """Running presence figures for one subject (see the module docstring).

    Times are float seconds since the epoch (None when unknown). ``seen_seq``
    and ``changed_seq`` are arrival numbers (1-based) of the subject's last
    event and last state change: they order subjects for the live table
    independently of clocks.
    """

    __slots__ = (
        "subject",
        "dialect",
        "events",
        "state",
        "state_since",
        "first_t",
        "last_t",
        "last_received",
        "seen_seq",
        "changed_seq",
        "changed_t",
        "last_offline",
        "offline_since",
        "offline_total",
        "longest_offline",
        "longest_offline_start",
        "longest_silence",
        "connects",
        "disconnects",
        "failed_connects",
        "errors",
        "changes",
        "flaps",
        "last_type",
        "last_kind",
        "last_reason",
        "skews",
        "skew_worst",
    )

    def __init__(self, subject: str, dialect: str | None) -> None:
        self.subject = subject
        self.dialect = dialect
        self.events = 0
        self.state: str | None = None
        #: When the current state began (first sight or last change).
        self.state_since: float | None = None
        self.first_t: float | None = None
        self.last_t: float | None = None
        self.last_received: float | None = None
        self.seen_seq = 0
        self.changed_seq = 0
        #: Time of the last state *change* (the base for flaps).
        self.changed_t: float | None = None
        self.last_offline: float | None = None
        self.offline_since: float | None = None
        self.offline_total = 0.0
        self.longest_offline = 0.0
        self.longest_offline_start: float | None = None
        self.longest_silence = 0.0
        self.connects = 0
        self.disconnects = 0
        self.failed_connects = 0
        self.errors = 0
        self.changes = 0
        self.flaps = 0
        self.last_type: str | None = None
        self.last_kind: str | None = None
        self.last_reason: str | None = None
        #: Device time minus receive time of the events that have both.
        self.skews: Samples | None = None
        self.skew_worst: float | None = None

    def skew_median(self) -> float | None:
        """Median clock skew in seconds (None: no event with both times)."""
        return self.skews.median() if self.skews is not None else None

    def offline_until(self, end: float | None) -> tuple[float, float]:
        """(total, longest) offline seconds, an open period counted up to ``end``."""
        total, longest = self.offline_total, self.longest_offline
        if self.offline_since is not None and end is not None and end > self.offline_since:
            current = end - self.offline_since
            total += current
            longest = max(longest, current)
        return total, longest

    def to_dict(self, end: float | None) -> dict[str, Any]:
        """This subject's entry in the report (``subjects[]``; keys in SUBJECT_KEYS)."""
        total, longest = self.offline_until(end)
        longest_start = self.longest_offline_start
        if longest > self.longest_offline:
            longest_start = self.offline_since
        return {
            "subject": self.subject,
            "dialect": self.dialect,
            "state": self.state,
            "state_since": iso(self.state_since),
            "events": self.events,
            "first_seen": iso(self.first_t),
            "last_seen": iso(self.last_t),
            "last_type": self.last_type,
            "last_kind": plain_str(self.last_kind),
            "last_reason": self.last_reason,
            "last_offline": iso(self.last_offline),
            "connects": self.connects,
            "disconnects": self.disconnects,
            "failed_connects": self.failed_connects,
            "errors": self.errors,
            "changes": self.changes,
            "flaps": self.flaps,
            "offline_s": seconds(total),
            "longest_offline_s": seconds(longest),
            "longest_offline_start": iso(longest_start),
            "longest_silence_s": seconds(self.longest_silence),
            "skew_median_s": seconds(self.skew_median()),
            "skew_worst_s": seconds(self.skew_worst),
        }


#: The keys of each ``subjects[]`` entry, in order.
SUBJECT_KEYS = tuple(SubjectStats("", None).to_dict(None))


class Gap:
    """A quiet interval in the stream: ``start`` and ``end`` in epoch seconds."""

    __slots__ = ("start", "end")

    def __init__(self, start: float, end: float) -> None:
        self.start = start
        self.end = end

    @property
    def seconds(self) -> float:
        return self.end - self.start

    def __lt__(self, other: Gap) -> bool:  # heap order: shortest first
        return (self.seconds, self.start) < (other.seconds, other.start)

    def __repr__(self) -> str:
        return f"Gap({self.start!r}, {self.end!r})"


def sort_key(s: SubjectStats) -> tuple[int, int, str]:
    """Report order: most flaps first, then most events, then by name."""
    return (-s.flaps, -s.events, s.subject)
