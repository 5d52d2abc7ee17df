"""Filters pinned exactly, and property tests of ``--where``, globs, kinds and time windows
against a plain-Python model (found by mutation testing: ``tools/mutation.py filters``)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from fnmatch import fnmatchcase

import pytest
from hypothesis import given
from hypothesis import strategies as st

from presencectl.core.events import Event
from presencectl.core.filters import (
    MISSING,
    Filter,
    as_text,
    lookup,
    parse_filters,
    parse_point,
    parse_where,
    raw_text,
)
from presencectl.errors import FilterSyntaxError

NOW = datetime(2026, 3, 12, 9, 0, tzinfo=UTC)


def ev(raw=None, *, type=None, subject=None, kind="other", text=None, time=None, received=None, keepalive=False, dialect="generic"):
    return Event(dialect, type, kind, subject, time, "", raw, None, text, None, received, keepalive)


# -- values as filters see them -----------------------------------------------------------------


def test_as_text_spells_values_as_json():
    assert as_text("s") == "s" and as_text("") == ""
    assert as_text(None) == "null" and as_text(True) == "true" and as_text(False) == "false"
    assert as_text({"a": [1, None]}) == '{"a":[1,null]}' and as_text([]) == "[]"
    assert as_text(5) == "5" and as_text(2.5) == "2.5"
    # a dict orjson cannot write (an integer over 64 bits): the stdlib spells it
    assert as_text({"n": 2**70}) == '{"n":1180591620717411303424}'
    assert as_text([2**70, "x"]) == '[1180591620717411303424,"x"]'


def test_raw_text():
    assert raw_text(ev({"a": 1}, text='{"a": 1}')) == '{"a": 1}'
    assert raw_text(ev({"a": 1})) == '{"a":1}'  # a batch element: re-serialised
    assert raw_text(ev(None, text=b"ok\xff")) == "ok\ufffd"


def test_lookup_paths():
    raw = {"a": {"b": [10, 20, {"c": None}]}, "payload_x": 1, "t": True}
    e = ev(raw, type="T", subject="S")
    assert lookup(e, "type") == "T" and lookup(e, "subject") == "S" and lookup(e, "kind") == "other"
    assert lookup(e, "dialect") == "generic" and lookup(e, "topic") is None
    assert lookup(e, "a.b.0") == 10 and lookup(e, "a.b.-1") == {"c": None} and lookup(e, "a.b.-3") == 10
    assert lookup(e, "a.b.2.c") is None
    for missing in ("a.b.3", "a.b.-4", "a.b.x", "a.x", "a.b.0.z", "zz", "t.x", "a.b.1.5"):
        assert lookup(e, missing) is MISSING, missing
    assert lookup(e, "payload.a.b.1") == 20  # "payload." names the payload itself...
    env = ev({"meta": {"m": 1}, "payload": {"a": 2, "payload": 3}})
    assert lookup(env, "payload.a") == 2  # ...unless the payload has a "payload" key
    assert lookup(env, "a") == 2 and lookup(env, "meta.m") == 1  # envelope: looked up inside too
    assert lookup(ev({"payload": "text", "a": 1}), "payload.a") is MISSING
    assert lookup(ev([1, 2]), "1") == 2 and lookup(ev(None), "a") is MISSING
    assert lookup(ev({"payload": [1]}), "x") is MISSING
    assert repr(MISSING) == "MISSING"


# -- --where ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expr, value, expected",
    [
        ("v=3", 3, True), ("v=3", "3", True), ("v=3.0", 3, True), ("v=3", 3.5, False), ("v=03", 3, True),
        ("v=true", True, True), ("v=1", True, False), ("v=null", None, True), ("v=x", "x", True), ("v=x", "X", False),
        ("v=", "", True), ("v=", None, False), ("v!=3", 4, True), ("v!=3", 3, False), ("v!=3", "3.0", False),
        ("v>3", 4, True), ("v>3", 3, False), ("v>3", "4", True), ("v>3", True, False), ("v>3", "x", False),
        ("v<3", 2, True), ("v<3", 3, False), ("v>=3", 3, True), ("v>=3", 2.9, False), ("v<=3", 3, True),
        ("v<=3", 3.1, False), ("v>-1", 0, True), ("v<1e3", 999, True), ("v>3", None, False), ("v>3", [4], False),
        ("v~^a.c$", "abc", True), ("v~b", "abc", True), ("v~^b", "abc", False), ("v~1", 10, True), ("v~true", True, True),
        ("v~null", None, True), ("v?", 0, True), ("v?", None, True), ("v = 3", 3, True), ("v = x", "x", False), (" v =3", 3, True),
    ],
)
def test_where_operators(expr, value, expected):
    assert parse_where(expr)(ev({"v": value})) is expected


def test_where_on_a_missing_path():
    e = ev({"other": 1})
    for expr in ("v=1", "v~.", "v>0", "v<0", "v>=0", "v<=0", "v?", "v=null"):
        assert parse_where(expr)(e) is False, expr
    assert parse_where("v!=1")(e) is True  # not equal: nothing there is not 1


@pytest.mark.parametrize(
    "expr, message",
    [
        ("justapath", "bad --where 'justapath': no operator; expected path=value, path!=value, path~regex, path>n, path<n or path?"),
        ("=v", "bad --where '=v': empty path before '='; expected path=value, path!=value, path~regex, path>n, path<n or path?"),
        ("a.=1", "bad --where 'a.=1': empty path before '='; expected"),
        (".a>1", "bad --where '.a>1': empty path before '>'; expected"),
        ("a!b", "bad --where 'a!b': unknown operator at '!b'; expected path=value"),
        ("a~(", "bad --where 'a~(': bad regex '(': missing ), unterminated subpattern at position 0"),
        ("a>=x", "bad --where 'a>=x': 'x' is not a number (needed for >=)"),
        ("a<", "bad --where 'a<': '' is not a number (needed for <)"),
        (" ?", "bad --where ' ?': no path before '?'"),
    ],
)
def test_where_errors_exactly(expr, message):
    with pytest.raises(FilterSyntaxError) as info:
        parse_where(expr)
    assert str(info.value).startswith(message)


def test_where_question_mark_inside_a_value_is_not_exists():
    assert parse_where("v=a?")(ev({"v": "a?"})) and not parse_where("v=a?")(ev({"v": "a"}))
    assert parse_where("v~x?")(ev({"v": "y"}))  # the regex "x?" matches anything


# -- globs, kinds, grep, time, keep-alives -------------------------------------------------------


def test_glob_predicates():
    f = parse_filters(types=["up*", "connect", "!upX"])
    assert [f(ev(type=t)) for t in ("upstream", "connect", "upX", "connected", None)] == [True, True, False, False, False]
    only_out = parse_filters(types=["!a*", "!b"])
    assert [only_out(ev(type=t)) for t in ("a1", "b", "bb", None)] == [False, False, True, True]
    subjects = parse_filters(subjects=["d?", "!d2"])
    assert [subjects(ev(subject=s)) for s in ("d1", "d2", "d10", None)] == [True, False, False, False]
    assert parse_filters(types=["[ab]x"])(ev(type="bx"))
    for bad, message in ((["!"], "bad --type '!': nothing after '!'"), ([""], "bad --type: empty pattern")):
        with pytest.raises(FilterSyntaxError, match=f"^{message.replace('(', '[(]')}$"):
            parse_filters(types=bad)
    with pytest.raises(FilterSyntaxError, match="^bad --subject: empty pattern$"):
        parse_filters(subjects=["x", ""])


def test_kinds_exactly():
    f = parse_filters(kinds=[" connect , ,firmware", "unparsed"])
    assert [f(ev(kind=k)) for k in ("connect", "firmware", None, "state")] == [True, True, True, False]
    assert parse_filters(kinds=[","]).predicates == []
    with pytest.raises(FilterSyntaxError) as info:
        parse_filters(kinds=["online"])
    assert str(info.value) == (
        "bad --kind 'online': one of connect, disconnect, state, message, firmware, error, lifecycle, other, unparsed"
    )


def test_grep_searches_the_raw_text():
    f = parse_filters(grep=r"\d{3}")
    assert f(ev({"a": 123})) and not f(ev({"a": 12})) and f(ev(None, text=b"x999"))
    with pytest.raises(FilterSyntaxError, match=r"^bad --grep '\(': missing \)"):
        parse_filters(grep="(")


def test_time_window_edges_are_inclusive():
    at = NOW - timedelta(minutes=10)
    f = parse_filters(since="10m", until="5m", now=NOW)
    assert f(ev(time=at)) and not f(ev(time=at - timedelta(microseconds=1)))
    assert f(ev(time=NOW - timedelta(minutes=5))) and not f(ev(time=NOW - timedelta(minutes=5) + timedelta(milliseconds=1)))
    # no time in the payload: the receive time judges; neither: kept
    assert f(ev(received=at.timestamp())) and not f(ev(received=NOW.timestamp()))
    assert f(ev())
    # the payload time wins over the receive time
    assert not f(ev(time=NOW, received=at.timestamp()))
    assert parse_filters(since="10m", now=NOW)(ev(time=NOW + timedelta(days=1)))
    assert parse_filters(until="10m", now=NOW)(ev(time=NOW - timedelta(days=1)))


def test_time_points_and_zones():
    oslo = timezone(timedelta(hours=1))
    assert parse_point("90s", NOW, UTC, "--since") == NOW - timedelta(seconds=90)
    assert parse_point("2026-03-12 08:00", NOW, oslo, "--since") == datetime(2026, 3, 12, 7, 0, tzinfo=UTC)
    assert parse_point("2026-03-12T08:00Z", NOW, oslo, "--until") == datetime(2026, 3, 12, 8, 0, tzinfo=UTC)
    with pytest.raises(FilterSyntaxError) as info:
        parse_point("soonish", NOW, UTC, "--until")
    assert str(info.value) == "bad --until 'soonish': not a time or a duration like 10m, 2h"
    f = parse_filters(since="2026-03-12 08:00", zone=oslo, now=NOW)
    assert f(ev(time=datetime(2026, 3, 12, 7, 0, tzinfo=UTC))) and not f(ev(time=datetime(2026, 3, 12, 6, 59, tzinfo=UTC)))
    # no zone given: UTC
    g = parse_filters(since="2026-03-12 08:00", now=NOW)
    assert not g(ev(time=datetime(2026, 3, 12, 7, 59, tzinfo=UTC)))


def test_keepalive_and_may_match():
    assert not parse_filters()(ev(keepalive=True)) and parse_filters()(ev())
    assert parse_filters(keepalive=True)(ev(keepalive=True))
    assert not parse_filters(types=["x"], keepalive=True)(ev(type="y", keepalive=True))
    f = parse_filters(types=["firmware*", "up*Message"])
    assert f.prefilter == (b"firmware", b"Message")
    assert f.may_match(b'{"event":"firmwareX"}') and f.may_match(b'{"x":"Message"}')
    assert not f.may_match(b'{"event":"clientConnected"}')
    assert f.may_match(b'{"event":"\\u0066irmware"}')  # an escape could spell it
    assert Filter([]).may_match(b"anything") and Filter([]).prefilter is None
    assert parse_filters(types=["*"]).prefilter is None and parse_filters(types=["heart*"]).prefilter is None
    assert parse_filters(types=["a", "*"]).prefilter is None
    assert parse_filters(types=["!x", "ab_c1"]).prefilter == (b"ab_c1",)
    assert parse_filters(types=["a.bc.d"]).prefilter == (b"bc",)


# -- properties: against a model -----------------------------------------------------------------

numbers = st.one_of(st.integers(-1000, 1000), st.floats(-1e6, 1e6, allow_nan=False))
values = st.one_of(numbers, st.text(max_size=5), st.booleans(), st.none(), st.lists(st.integers(0, 3), max_size=2))


def model_number(value):
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


@given(value=values, limit=st.integers(-1000, 1000), op=st.sampled_from([">", "<", ">=", "<="]))
def test_numeric_where_matches_the_model(value, limit, op):
    number = model_number(value)
    expected = number is not None and {">": number > limit, "<": number < limit, ">=": number >= limit, "<=": number <= limit}[op]
    assert parse_where(f"a.b{op}{limit}")(ev({"a": {"b": value}})) is expected


@given(value=values, rhs=st.one_of(st.text(alphabet="0123456789.-xe", max_size=5), st.sampled_from(["true", "null", "[]"])))
def test_equality_matches_the_model_and_not_equal_is_its_negation(value, rhs):
    text = as_text(value)
    rnum, vnum = model_number(rhs), model_number(value)
    expected = text == rhs or (rnum is not None and vnum is not None and vnum == rnum and not math.isnan(rnum))
    e = ev({"k": value})
    assert parse_where(f"k={rhs}")(e) is expected
    assert parse_where(f"k!={rhs}")(e) is (not expected)


names = st.text(alphabet="abc*?!", min_size=1, max_size=4).filter(lambda p: p != "!")


@given(patterns=st.lists(names, min_size=1, max_size=4), value=st.one_of(st.none(), st.text(alphabet="abc", max_size=3)))
def test_type_globs_match_the_model(patterns, value):
    include = [p for p in patterns if not p.startswith("!")]
    exclude = [p[1:] for p in patterns if p.startswith("!")]
    if value is None:
        expected = not include
    else:
        expected = not any(fnmatchcase(value, p) for p in exclude) and (not include or any(fnmatchcase(value, p) for p in include))
    f = parse_filters(types=patterns)
    assert f(ev(type=value)) is expected
    # the byte shortcut never rules out a line holding the matching value
    if expected and value is not None:
        assert f.may_match(f'{{"type":"{value}"}}'.encode())


@given(
    at=st.integers(-3600, 3600), since=st.one_of(st.none(), st.integers(0, 3600)), until=st.one_of(st.none(), st.integers(0, 3600)),
)
def test_time_windows_match_the_model(at, since, until):
    when = NOW + timedelta(seconds=at)
    lo = NOW - timedelta(seconds=since) if since is not None else None
    hi = NOW - timedelta(seconds=until) if until is not None else None
    expected = (lo is None or when >= lo) and (hi is None or when <= hi)
    f = parse_filters(since=f"{since}s" if since is not None else None, until=f"{until}s" if until is not None else None, now=NOW)
    assert f(ev(time=when)) is expected
    assert f(ev(received=when.timestamp())) is expected
