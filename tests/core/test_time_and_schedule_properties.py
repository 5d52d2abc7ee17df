"""Property tests of time parsing and replay scheduling against plain-Python models.

Derandomized and bounded by the ``presencectl`` Hypothesis profile
(``tests/conftest.py``): the same examples on every run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from presencectl.core.events import Frame
from presencectl.core.player import Player
from presencectl.core.replay import ReplayOptions, Schedule
from presencectl.core.times import TimeParser, parse_duration, parse_zone
from tests.core.test_replay_schedule import T0, FakeClock

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
zones = st.builds(lambda m: timezone(timedelta(minutes=m)), st.integers(-14 * 60, 14 * 60))
moments = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1))

# -- time parsing ----------------------------------------------------------------------------------


@given(moment=moments, zone=zones, sep=st.sampled_from(["T", " "]), spec=st.sampled_from(["seconds", "milliseconds", "microseconds"]))
def test_an_iso_time_with_an_offset_is_read_as_that_instant(moment, zone, sep, spec):
    aware = moment.replace(tzinfo=zone)
    if spec != "microseconds":
        aware = aware.replace(microsecond=aware.microsecond // 1000 * 1000 if spec == "milliseconds" else 0)
    text = aware.isoformat(sep=sep, timespec=spec)
    parsed = TimeParser(timezone(timedelta(hours=5)))(text)
    assert parsed == aware and parsed.utcoffset() == aware.utcoffset()


@given(moment=moments, zone=zones)
def test_a_naive_time_takes_the_given_zone(moment, zone):
    text = moment.replace(microsecond=0).strftime("%Y-%m-%d %H:%M:%S")
    parsed = TimeParser(zone)(text)
    assert parsed == moment.replace(microsecond=0, tzinfo=zone)
    assert TimeParser(zone)(text) == TimeParser(zone)(text)  # the cache answers the same


@given(seconds=st.integers(0, 99_999_999_999), millis=st.integers(0, 999))
def test_epoch_numbers_seconds_below_1e11_milliseconds_above(seconds, millis):
    parser = TimeParser()
    assert parser(seconds) == EPOCH + timedelta(seconds=seconds)
    assert parser(str(seconds)) == EPOCH + timedelta(seconds=seconds)
    as_ms = 100_000_000_001 + seconds  # always over the threshold: milliseconds
    assert parser(as_ms) == EPOCH + timedelta(milliseconds=as_ms)
    assert parser(float(seconds) + millis / 1000) == EPOCH + timedelta(seconds=float(seconds) + millis / 1000)
    assert parser(True) is None and parser(None) is None and parser("") is None and parser([seconds]) is None


@given(number=st.integers(0, 10_000), unit=st.sampled_from(["", "ms", "s", "m", "h", "d", "w"]),
       pad=st.sampled_from(["", " ", "  "]), frac=st.sampled_from(["", ".5", ".25"]))
def test_durations(number, unit, pad, frac):
    factor = {"": 1, "ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[unit]
    assert parse_duration(f"{pad}{number}{frac}{pad}{unit}{pad}") == float(f"{number}{frac}") * factor
    assert parse_duration(f"-{number}{unit}") is None
    assert parse_duration(f"{number}{unit}x") is None


@given(hours=st.integers(0, 14), minutes=st.integers(0, 59), sign=st.sampled_from(["+", "-"]), colon=st.booleans())
def test_fixed_offset_zones(hours, minutes, sign, colon):
    text = f"{sign}{hours:02d}{':' if colon else ''}{minutes:02d}"
    offset = timedelta(hours=hours, minutes=minutes) * (-1 if sign == "-" else 1)
    assert parse_zone(text).utcoffset(None) == offset
    assert parse_zone(f"{sign}{hours}").utcoffset(None) == timedelta(hours=hours) * (-1 if sign == "-" else 1)


# -- replay scheduling -------------------------------------------------------------------------------

gaps = st.lists(st.floats(0, 100, allow_nan=False), min_size=1, max_size=20)


def offsets_of(steps: list[float]) -> list[float]:
    out, t = [], 0.0
    for step in steps:
        t += step
        out.append(t)
    return out


def model_dues(offsets: list[float], speed: float, max_gap: float | None) -> list[float]:
    """Each gap (the first one from the capture start) capped, then divided by the speed."""
    dues, due, previous = [], 0.0, 0.0
    for offset in offsets:
        gap = offset - previous
        if max_gap is not None:
            gap = min(gap, max_gap)
        due += gap
        previous = offset
        dues.append(due / speed)
    return dues


def scheduled(frames, **options):
    return list(Schedule(lambda: list(frames), ReplayOptions(**options), origin=T0))


@given(steps=gaps, speed=st.sampled_from([0.5, 1.0, 3.0, 1000.0]), max_gap=st.one_of(st.none(), st.floats(0, 50)))
def test_due_times_follow_the_model(steps, speed, max_gap):
    offsets = offsets_of(steps)
    frames = [Frame(f"f{i}", T0 + o) for i, o in enumerate(offsets)]
    items = scheduled(frames, speed=speed, max_gap=max_gap)
    assert [s.record for s in items] == frames  # every frame, in file order
    expected = model_dues(offsets, speed, max_gap)
    assert all(abs(s.due - e) <= 1e-6 * max(1.0, e) for s, e in zip(items, expected, strict=True))
    assert all(a.due <= b.due for a, b in zip(items, items[1:], strict=False))


@given(steps=gaps, loops=st.integers(1, 3))
def test_loops_repeat_every_frame_on_one_rising_clock(steps, loops):
    frames = [Frame(f"f{i}", T0 + o) for i, o in enumerate(offsets_of(steps))]
    items = scheduled(frames, loops=loops)
    assert [s.record for s in items] == frames * loops
    assert [s.loop for s in items] == [n for n in range(1, loops + 1) for _ in frames]
    assert all(a.due <= b.due for a, b in zip(items, items[1:], strict=False))


@given(steps=gaps)
def test_speed_max_sends_everything_at_once_and_the_player_never_sleeps(steps):
    frames = [Frame(f"f{i}", T0 + o) for i, o in enumerate(offsets_of(steps))]
    items = scheduled(frames, speed=None)
    assert [s.due for s in items] == [None] * len(frames) and [s.record for s in items] == frames


@given(steps=gaps, lag=st.sampled_from([0.0, 0.001, 0.05]))
def test_the_player_never_sends_early_and_lateness_never_accumulates(steps, lag):
    frames = [Frame(f"f{i}", T0 + o) for i, o in enumerate(offsets_of(steps))]
    clock = FakeClock(lag=lag)
    start = clock.t
    sent: list[tuple[float, float]] = []
    items = Schedule(lambda: list(frames), ReplayOptions(speed=10.0), origin=T0)
    player = Player(iter(items), clock)
    assert player.run(lambda item: sent.append((clock.t - start, item.due)))
    assert len(sent) == len(frames) == player.delivered
    for at, due in sent:
        assert at >= due - 1e-9  # never early
        assert at - due <= lag + 1e-6  # late by one sleep's overshoot at most, not a sum of them
