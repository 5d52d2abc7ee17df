"""Time parsing pinned at its edges: zone names in any case, the epoch range and the
milliseconds threshold exactly, non-ASCII digits, ISO shapes only ``fromisoformat``
reads, the 64-character limit on the slow fallback (found by mutation testing:
``tools/mutation.py times``).

Equivalent mutants left alive, named so nobody chases them: the ``±10**18`` guard
on integers and the 20-digit guard on digit strings (anything they reject is far
outside ``MIN_EPOCH..MAX_EPOCH`` and rejected there too; they only spare the work
of converting a huge number), ``type(value) is float`` (a float takes the generic
``float(value)`` branch to the same result), and the cache-size bound (4096 vs
4097 entries: memory, not results).
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta, timezone

import pytest
from dateutil import tz

from presencectl.core.times import (
    MAX_EPOCH,
    MIN_EPOCH,
    TimeParser,
    epoch_seconds,
    parse_zone,
)


@pytest.mark.parametrize("name", ["UTC", "utc", "Utc", "Z", "z"])
def test_utc_and_z_in_any_case_are_the_one_utc(name):
    assert parse_zone(name) is UTC


@pytest.mark.parametrize("name", ["local", "LOCAL", "Local"])
def test_local_in_any_case_is_the_machine_zone(name):
    assert isinstance(parse_zone(name), tz.tzlocal)


def test_offsets_and_names():
    assert parse_zone("+02:00") == timezone(timedelta(hours=2))
    assert parse_zone("-0530") == timezone(-timedelta(hours=5, minutes=30))
    assert parse_zone("Europe/Oslo") is not None


def test_an_unknown_zone_is_named_in_the_error():
    with pytest.raises(ValueError, match=r"^unknown time zone 'Mars/Olympus'$"):
        parse_zone("Mars/Olympus")


class Level(enum.IntEnum):
    AT = 1510292697


class Seconds(float):
    pass


def test_epoch_numbers_of_every_numeric_type_are_floats():
    for value in (1510292697, Level.AT, Seconds(1510292697.0), 1510292697.0):
        result = epoch_seconds(value)
        assert result == 1510292697.0 and type(result) is float, value
    assert epoch_seconds(True) is None and epoch_seconds(False) is None
    assert epoch_seconds("1510292697") is None
    assert epoch_seconds(10**400) is None


def test_the_epoch_range_is_inclusive_at_both_ends():
    assert epoch_seconds(MIN_EPOCH) == MIN_EPOCH
    assert epoch_seconds(MAX_EPOCH) == MAX_EPOCH
    assert epoch_seconds(MIN_EPOCH - 1) is None
    assert epoch_seconds(MAX_EPOCH + 1) is None
    assert epoch_seconds(float("nan")) is None and epoch_seconds(float("inf")) is None


def fresh(value):
    """A parser of its own: ``parse_time``'s shared cache would answer from an earlier
    test (mutmut forks each mutant from a process that ran the suite once)."""
    return TimeParser()(value)


def test_numbers_above_1e11_are_milliseconds_and_1e11_itself_is_seconds():
    assert fresh(100_000_000_000) == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=1e11)
    assert fresh(100_000_000_000).year == 5138
    assert fresh(100_000_000_001) == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=100_000_000_001)
    assert fresh("1510292697471") == datetime(2017, 11, 10, 5, 44, 57, 471000, tzinfo=UTC)


def test_times_outside_years_1_to_9999_are_not_times_and_the_bounds_are():
    assert fresh("0001-01-01T00:00:00+00:00") is None
    assert fresh("9999-12-31T00:00:00+00:00") is None
    assert fresh("0001-01-02T00:00:00+00:00") == datetime(1, 1, 2, tzinfo=UTC)
    assert fresh("9999-12-30T00:00:00+00:00") == datetime(9999, 12, 30, tzinfo=UTC)


def test_booleans_none_and_other_types_are_not_times():
    parser = TimeParser()
    for value in (True, False, None, "", [], {"t": 1}):
        assert parser(value) is None, value


def test_only_ascii_digits_are_an_epoch_number():
    # "²" and "١٢٣" are digits to str.isdigit; int("١٢٣") is 123, a 1970 time.
    assert fresh("²") is None
    assert fresh("١٢٣") is None
    assert fresh("123") == datetime(1970, 1, 1, 0, 2, 3, tzinfo=UTC)


def test_iso_week_dates_are_read_by_fromisoformat_which_dateutil_cannot():
    assert fresh("2024-W17-4") == datetime(2024, 4, 25, tzinfo=UTC)


def test_the_slow_fallback_reads_up_to_64_characters():
    text = "Thu, 25 Apr 2024 20:23:36 +0000"
    at_limit = " " * (64 - len(text)) + text
    assert len(at_limit) == 64
    assert fresh(at_limit) == datetime(2024, 4, 25, 20, 23, 36, tzinfo=UTC)
    assert fresh(" " + at_limit) is None


def test_naive_times_take_the_parsers_zone():
    oslo = timezone(timedelta(hours=2))
    assert TimeParser(oslo)("2024-04-25 20:23:36") == datetime(2024, 4, 25, 18, 23, 36, tzinfo=UTC)
    # the cache is per parser: the same text in another zone is another instant
    assert TimeParser()("2024-04-25 20:23:36") == datetime(2024, 4, 25, 20, 23, 36, tzinfo=UTC)
