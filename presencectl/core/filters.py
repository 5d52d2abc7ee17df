"""Filter expressions (SPEC §3.7), parsed once and shared by every command.

``parse_filters(...)`` turns the command-line strings into a :class:`Filter`,
a predicate over Events; a malformed expression raises
:class:`~presencectl.errors.FilterSyntaxError` naming the bad part.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from fnmatch import fnmatchcase
from typing import Any

import orjson

from presencectl.core.events import KINDS, Event
from presencectl.core.times import TimeParser, parse_duration
from presencectl.errors import FilterSyntaxError

__all__ = ["Filter", "parse_filters", "parse_where", "lookup", "parse_point", "MISSING"]

#: Paths that name a normalised field rather than a key of the raw payload.
NORMALISED = ("type", "subject", "kind", "dialect", "topic", "summary", "presence")
_GLOB = re.compile(r"[*?\[\]]")
_TOKEN = re.compile(r"[A-Za-z0-9_]+")
#: Type names the decoder makes up (not spelled in the payload): no shortcut for them.
SYNTHETIC_TYPES = ("heartbeat", "handshake", "unknown", "presence", "event", "keepalive")
_OPS = ("!=", ">=", "<=", "=", "~", ">", "<")


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
Predicate = Callable[[Event], bool]


def lookup(event: Event, path: str) -> Any:
    """The value at ``path``: a normalised field, or a dotted path into the payload.

    ``payload.x`` forces the raw payload. Where the raw payload is an envelope
    (``{"meta", "payload"}``) a path that is not found at the top is looked up
    inside ``payload`` too. Returns :data:`MISSING` when there is nothing there.

    >>> lookup(Event("span", "t", "message", "d", None, "", {"data": {"n": [1, 2]}}), "data.n.1")
    2
    """
    if path in NORMALISED:
        return getattr(event, path)
    raw = event.raw
    parts = path.split(".")
    if parts[0] == "payload" and len(parts) > 1 and not (isinstance(raw, dict) and "payload" in raw):
        parts = parts[1:]
    value = _walk(raw, parts)
    if value is MISSING and isinstance(raw, dict) and isinstance(raw.get("payload"), dict):
        value = _walk(raw["payload"], parts)
    return value


def _walk(value: Any, parts: list[str]) -> Any:
    for part in parts:
        if isinstance(value, dict):
            if part not in value:
                return MISSING
            value = value[part]
        elif isinstance(value, list) and part.lstrip("-").isdigit():
            index = int(part)
            if not -len(value) <= index < len(value):
                return MISSING
            value = value[index]
        else:
            return MISSING
    return value


def as_text(value: Any) -> str:
    """A payload value as the text a filter compares against (JSON spelling)."""
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, (bool, dict, list)):
        try:
            return orjson.dumps(value).decode()
        except TypeError:
            import json

            return json.dumps(value, separators=(",", ":"))
    return str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def parse_where(expr: str) -> Predicate:
    """One ``-w`` expression → predicate.

    Forms: ``path=value``, ``path!=value``, ``path~regex``, ``path>n``,
    ``path<n``, ``path>=n``, ``path<=n``, ``path?`` (exists).

    Raises:
        FilterSyntaxError: the expression does not fit one of the forms.
    """
    hint = "expected path=value, path!=value, path~regex, path>n, path<n or path?"
    if expr.endswith("?") and not any(op in expr[:-1] for op in _OPS):
        path = expr[:-1].strip()
        if not path:
            raise FilterSyntaxError(f"bad --where {expr!r}: no path before '?'")
        return lambda e: lookup(e, path) is not MISSING
    cut = None
    for index, char in enumerate(expr):
        if char in "!=<>~":
            cut = index
            break
    if cut is None:
        raise FilterSyntaxError(f"bad --where {expr!r}: no operator; {hint}")
    op = next((o for o in _OPS if expr.startswith(o, cut)), None)
    if op is None:
        raise FilterSyntaxError(f"bad --where {expr!r}: unknown operator at {expr[cut:]!r}; {hint}")
    path, rhs = expr[:cut].strip(), expr[cut + len(op) :]
    if not path or any(not p for p in path.split(".")):
        raise FilterSyntaxError(f"bad --where {expr!r}: empty path before {op!r}; {hint}")
    if op in ("=", "!="):
        rnum = _number(rhs)

        def equal(e: Event) -> bool:
            value = lookup(e, path)
            if value is MISSING:
                return False
            if as_text(value) == rhs:
                return True
            if rnum is not None:
                vnum = _number(value)
                return vnum is not None and vnum == rnum
            return False

        return equal if op == "=" else (lambda e: not equal(e))
    if op == "~":
        try:
            pattern = re.compile(rhs)
        except re.error as exc:
            raise FilterSyntaxError(f"bad --where {expr!r}: bad regex {rhs!r}: {exc}") from None

        def match(e: Event) -> bool:
            value = lookup(e, path)
            return value is not MISSING and pattern.search(as_text(value)) is not None

        return match
    limit = _number(rhs)
    if limit is None:
        raise FilterSyntaxError(f"bad --where {expr!r}: {rhs!r} is not a number (needed for {op})")
    compare: Callable[[float], bool] = {
        ">": lambda v: v > limit,
        "<": lambda v: v < limit,
        ">=": lambda v: v >= limit,
        "<=": lambda v: v <= limit,
    }[op]

    def numeric(e: Event) -> bool:
        value = _number(lookup(e, path))
        return value is not None and compare(value)

    return numeric


def parse_point(text: str, now: datetime, zone: tzinfo, what: str) -> datetime:
    """A ``--since``/``--until`` value: a duration ago (``10m``) or a time.

    Raises:
        FilterSyntaxError: neither a duration nor a time.
    """
    seconds = parse_duration(text)
    if seconds is not None:
        return now - timedelta(seconds=seconds)
    when = TimeParser(zone)(text)
    if when is None:
        raise FilterSyntaxError(f"bad {what} {text!r}: not a time or a duration like 10m, 2h")
    return when


def _globs(patterns: Sequence[str], what: str) -> tuple[list[str], list[str]]:
    include, exclude = [], []
    for pattern in patterns:
        if pattern.startswith("!"):
            if len(pattern) == 1:
                raise FilterSyntaxError(f"bad {what} {pattern!r}: nothing after '!'")
            exclude.append(pattern[1:])
        elif pattern:
            include.append(pattern)
        else:
            raise FilterSyntaxError(f"bad {what}: empty pattern")
    return include, exclude


def _glob_predicate(attr: str, include: list[str], exclude: list[str]) -> Predicate:
    plain_in = frozenset(p for p in include if not _GLOB.search(p))
    glob_in = [p for p in include if _GLOB.search(p)]
    plain_out = frozenset(p for p in exclude if not _GLOB.search(p))
    glob_out = [p for p in exclude if _GLOB.search(p)]
    if not glob_in and not plain_out and not glob_out:
        # Only names to include (-t A -t B, the common case): one set look-up
        # (None is in no set of names, as `not include` says below).

        def plain(e: Event) -> bool:
            return getattr(e, attr) in plain_in

        return plain

    def check(e: Event) -> bool:
        value = getattr(e, attr)
        if value is None:
            return not include
        if value in plain_out or any(fnmatchcase(value, p) for p in glob_out):
            return False
        if not include:
            return True
        return value in plain_in or any(fnmatchcase(value, p) for p in glob_in)

    return check


@dataclass(slots=True)
class Filter:
    """A conjunction of predicates, plus a cheap pre-parse test on raw lines.

    ``prefilter`` is a tuple of byte strings: a raw payload line that contains
    none of them (and no ``\\u`` escape) cannot match, so it need not be
    parsed. None when no such shortcut is safe.
    """

    predicates: list[Predicate]
    prefilter: tuple[bytes, ...] | None = None
    keepalive: bool = False

    def __call__(self, event: Event) -> bool:
        if event.keepalive and not self.keepalive:
            return False
        for predicate in self.predicates:
            if not predicate(event):
                return False
        return True

    def may_match(self, line: bytes) -> bool:
        """False only when ``line`` certainly holds no matching event."""
        tokens = self.prefilter
        if tokens is None:
            return True
        for token in tokens:
            if token in line:
                return True
        return b"\\u" in line


def _prefilter(include: list[str]) -> tuple[bytes, ...] | None:
    # Every type name is spelled out in its payload (a field value, or the MQTT
    # topic stored beside it in a capture, where '/' stands for '.'), so the
    # longest word of each pattern must appear in any line that can match.
    if not include:
        return None
    if any(fnmatchcase(name, p) for name in SYNTHETIC_TYPES for p in include):
        return None
    tokens = []
    for pattern in include:
        words = _TOKEN.findall(_GLOB.sub(" ", pattern))
        if not words:
            return None
        tokens.append(max(words, key=len).encode())
    return tuple(tokens)


def parse_filters(
    *,
    types: Sequence[str] = (),
    subjects: Sequence[str] = (),
    kinds: Sequence[str] = (),
    where: Sequence[str] = (),
    grep: str | None = None,
    since: str | None = None,
    until: str | None = None,
    keepalive: bool = False,
    now: datetime | None = None,
    zone: tzinfo | None = None,
) -> Filter:
    """Build the filter for one command line.

    Args:
        types: ``-t`` globs; ``!T`` excludes.
        subjects: ``-s`` globs; ``!S`` excludes.
        kinds: ``--kind`` values (a kind name or ``unparsed``; commas allowed).
        where: ``-w`` expressions, all must hold.
        grep: a regex searched in the raw payload text.
        since, until: a time or a duration ago; ``now`` is needed for durations.
        keepalive: let Span keep-alive frames through.
        now: the current time (passed in: the core reads no clock).
        zone: the zone for times given without one.

    Raises:
        FilterSyntaxError: any expression is malformed.
    """
    from datetime import UTC

    predicates: list[Predicate] = []
    t_in, t_out = _globs(types, "--type")
    if t_in or t_out:
        predicates.append(_glob_predicate("type", t_in, t_out))
    s_in, s_out = _globs(subjects, "--subject")
    if s_in or s_out:
        predicates.append(_glob_predicate("subject", s_in, s_out))
    wanted: set[str | None] = set()
    for item in kinds:
        for kind in filter(None, (k.strip() for k in item.split(","))):
            if kind == "unparsed":
                wanted.add(None)
            elif kind in KINDS:
                wanted.add(kind)
            else:
                raise FilterSyntaxError(
                    f"bad --kind {kind!r}: one of {', '.join(KINDS)}, unparsed"
                )
    if wanted:
        predicates.append(lambda e: e.kind in wanted)
    for expr in where:
        predicates.append(parse_where(expr))
    if grep is not None:
        try:
            pattern = re.compile(grep)
        except re.error as exc:
            raise FilterSyntaxError(f"bad --grep {grep!r}: {exc}") from None
        predicates.append(lambda e: pattern.search(raw_text(e)) is not None)
    if since is not None or until is not None:
        now = now or datetime.now(UTC)
        zone = zone or UTC
        start = parse_point(since, now, zone, "--since") if since is not None else None
        end = parse_point(until, now, zone, "--until") if until is not None else None
        predicates.append(_time_window(start, end))
    return Filter(predicates, _prefilter(t_in), keepalive)


def _time_window(start: datetime | None, end: datetime | None) -> Predicate:
    lo = start.timestamp() if start else None
    hi = end.timestamp() if end else None

    def inside(e: Event) -> bool:
        when = e.time.timestamp() if e.time is not None else e.received
        if when is None:
            return True  # nothing to judge by: keep it rather than lose it
        if lo is not None and when < lo:
            return False
        return not (hi is not None and when > hi)

    return inside


def raw_text(event: Event) -> str:
    """The payload text of an event (a batch element is re-serialised)."""
    text = event.text
    if text is None:
        return as_text(event.raw)
    if isinstance(text, bytes):
        return text.decode("utf-8", "replace")
    return text
