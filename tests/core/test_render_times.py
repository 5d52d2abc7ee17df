"""The per-event time texts of ``-f json`` are built from caches (speed): they
must be exactly what datetime would print."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

from presencectl.core.events import Event
from presencectl.core.render import _iso_received, event_json


def test_received_times_match_datetime_isoformat_exactly():
    rng = random.Random(16)
    values = [rng.uniform(-2e9, 4e9) for _ in range(20_000)]
    values += [round(rng.uniform(1.7e9, 1.8e9), digits) for digits in (0, 1, 3, 6) for _ in range(5_000)]
    # Rounding edges: half a microsecond, a fraction that rounds up to the next second, negatives.
    values += [0.0, 1.0, -0.5, -1.9999995, 1718000000.9999995, 1718000000.0000005, 1718000000.0000015, 1718000000.5]
    for t in values:
        assert _iso_received(t) == datetime.fromtimestamp(t, UTC).isoformat(), t


def test_the_time_cache_tells_equal_instants_in_other_zones_apart():
    # 12:00+02:00 equals 10:00Z: a cache keyed by equality would print one for the other.
    here = datetime(2026, 3, 12, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    there = datetime(2026, 3, 12, 10, 0, tzinfo=UTC)
    assert here == there
    lines = [event_json(Event("span", "x", "other", None, when, "", {}, text=b"{}")) for when in (here, there, here)]
    assert [line[:40] for line in lines] == [
        b'{"time":"2026-03-12T12:00:00+02:00","dia',
        b'{"time":"2026-03-12T10:00:00+00:00","dia',
        b'{"time":"2026-03-12T12:00:00+02:00","dia',
    ]
