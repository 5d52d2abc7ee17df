"""Turning the many shapes of vendor timestamps into aware datetimes.

Shapes seen in the wild: RFC 3339 with an offset (CloudConnect), ``YYYY-MM-DD
HH:MM:SS`` with no zone (Span ``time``, Navixy ``user_time``), epoch
milliseconds (Aliyun). ``datetime.fromisoformat`` reads the common ones in
~0.1 µs; python-dateutil (~35 µs) is the fallback for odd shapes only.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

__all__ = [
    "parse_time",
    "parse_duration",
    "parse_zone",
    "TimeParser",
    "epoch_seconds",
    "seconds_of",
    "MIN_EPOCH",
    "MAX_EPOCH",
]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}

# Epoch numbers above this are milliseconds (1e11 s is the year 5138).
_MS_THRESHOLD = 100_000_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The instants every later step can handle: shown in any zone (±1 day of
# margin), subtracted, stored. Payloads are hostile: a time outside this
# range, NaN, ±Infinity or a number too large for a float is a field that
# cannot be read (None), never an exception further down.
_MIN_TIME = datetime(1, 1, 2, tzinfo=UTC)
_MAX_TIME = datetime(9999, 12, 30, tzinfo=UTC)
#: Epoch seconds of those bounds.
MIN_EPOCH = (_MIN_TIME - _EPOCH).total_seconds()
MAX_EPOCH = (_MAX_TIME - _EPOCH).total_seconds()
_ASCII_DIGITS = re.compile(r"[0-9]+")


def parse_duration(text: str) -> float | None:
    """Read ``90``, ``90s``, ``5m``, ``2h``, ``1.5d``; None if it is not a duration.

    >>> parse_duration("5m")
    300.0
    """
    m = _DURATION.match(text)
    if not m:
        return None
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_zone(text: str) -> tzinfo:
    """Read a zone name for naive timestamps: ``UTC``, ``local``, ``+02:00``, ``Europe/Oslo``.

    Raises:
        ValueError: the zone is not known.
    """
    if text.upper() in ("UTC", "Z"):
        return UTC
    from dateutil import tz  # (not for UTC, the default: a few ms of every start)

    if text.lower() == "local":
        return tz.tzlocal()
    m = re.fullmatch(r"([+-])(\d{1,2}):?(\d{2})?", text)
    if m:
        sign = -1 if m.group(1) == "-" else 1
        delta = timedelta(hours=int(m.group(2)), minutes=int(m.group(3) or 0))
        from datetime import timezone

        return timezone(sign * delta)
    zone = tz.gettz(text)
    if zone is None:
        raise ValueError(f"unknown time zone {text!r}")
    return zone


def epoch_seconds(value: Any) -> float | None:
    """A number of seconds since the epoch as a float, None unless it is a usable one.

    The one check for epoch numbers read from input (capture ``t`` and
    ``started``, vendor epoch times): booleans, NaN, ±Infinity, integers too
    large for a float and instants outside years 1–9999 are not times.

    >>> epoch_seconds(1510292697.5), epoch_seconds(float("nan")), epoch_seconds(10**400)
    (1510292697.5, None, None)
    """
    if type(value) is float:
        pass
    elif type(value) is int:
        if not -(10**18) < value < 10**18:
            return None
        value = float(value)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            value = float(value)
        except (OverflowError, ValueError):
            return None
    else:
        return None
    # NaN fails both comparisons; the infinities fail one.
    if MIN_EPOCH <= value <= MAX_EPOCH:
        return value
    return None


def seconds_of(when: datetime) -> float | None:
    """A datetime as epoch seconds, None where Python cannot say (a naive year 1, a zone that fails).

    The one conversion of an event's time to the seconds that schedules,
    trackers and deadlines measure with: a payload's odd time is never an
    exception further down.

    >>> seconds_of(datetime(2026, 3, 12, tzinfo=UTC)), seconds_of(datetime(1, 1, 1))
    (1773273600.0, None)
    """
    try:
        return when.timestamp()
    except (OverflowError, OSError, ValueError):
        return None


def _from_epoch(value: Any) -> datetime | None:
    try:
        number = float(value)
    except (OverflowError, ValueError, TypeError):
        return None
    if number > _MS_THRESHOLD:
        number /= 1000.0
    seconds = epoch_seconds(number)
    if seconds is None:
        return None
    try:
        return _EPOCH + timedelta(seconds=seconds)
    except (OverflowError, ValueError):
        return None


def _in_range(dt: datetime) -> datetime | None:
    try:
        return dt if _MIN_TIME <= dt <= _MAX_TIME else None
    except (OverflowError, ValueError):
        return None


class TimeParser:
    """Parses timestamps, caching by string (streams repeat the same second a lot).

    Args:
        naive_zone: the zone assumed for timestamps that carry none (default UTC).
    """

    __slots__ = ("naive_zone", "_cache")

    def __init__(self, naive_zone: tzinfo = UTC) -> None:
        self.naive_zone = naive_zone
        self._cache: dict[str, datetime | None] = {}

    def __call__(self, value: Any) -> datetime | None:
        """Return an aware datetime for ``value``, or None when it is not a time."""
        if type(value) is str:
            cache = self._cache
            try:
                return cache[value]
            except KeyError:
                pass
            if not value:
                return None
        elif value is None or value is True or value is False:
            return None
        elif isinstance(value, (int, float)):
            return _from_epoch(value)
        else:
            return None
        result = self._parse_text(value)
        if len(cache) > 4096:
            cache.clear()
        cache[value] = result
        return result

    def _parse_text(self, value: str) -> datetime | None:
        if value.isdigit():
            # Only ASCII digits are an epoch number: "²" and "١٢٣" are digits
            # to str.isdigit but not to a vendor's clock.
            if not _ASCII_DIGITS.fullmatch(value) or len(value) > 20:
                return None
            return _from_epoch(int(value))
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            dt = None
        if dt is None:
            if len(value) > 64:
                return None
            from dateutil import parser

            try:
                dt = parser.parse(value)
            except Exception:  # noqa: BLE001 - any odd text is just not a time
                return None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=self.naive_zone)
        return _in_range(dt)


_default = TimeParser()


def parse_time(value: Any) -> datetime | None:
    """Parse one timestamp with naive times taken as UTC.

    >>> parse_time("2024-04-25 20:23:36").isoformat()
    '2024-04-25T20:23:36+00:00'
    >>> parse_time(1510292697471).isoformat()
    '2017-11-10T05:44:57.471000+00:00'
    """
    return _default(value)
