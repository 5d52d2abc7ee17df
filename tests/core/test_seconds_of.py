"""core.times.seconds_of: the one conversion of an event's time to epoch seconds (schedule, tracker, expect)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo

import pytest

from presencectl.core.events import Event
from presencectl.core.presence import compact
from presencectl.core.times import seconds_of


class _BrokenZone(tzinfo):
    def utcoffset(self, dt):  # noqa: ANN001, ANN201 - the tzinfo protocol
        raise OverflowError("offset out of range")


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (datetime(2026, 3, 12, tzinfo=UTC), 1_773_273_600.0),
        (datetime(2026, 3, 12, 1, tzinfo=timezone(timedelta(hours=1))), 1_773_273_600.0),
        (datetime(1, 1, 1), None),  # naive year 1: local time cannot say
        (datetime(2020, 1, 1, tzinfo=_BrokenZone()), None),
    ],
)
def test_seconds_of(when, expected):
    assert seconds_of(when) == expected


def test_compact_records_an_unconvertible_event_time_as_none():
    event = Event("json", "ping", None, "dev1", datetime(2020, 1, 1, tzinfo=_BrokenZone()), "", {})
    assert compact(event)[4] is None
