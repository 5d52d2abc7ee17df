"""Event fields computed on first use give what computing them at once gives.

A dialect may hand ``Event`` its summary as a function of the payload
(``Event.summary``): ``-f raw`` lines and events a filter drops then never
build it. Whatever is read first (a renderer, a filter, ``==``), every field
and every rendered line is the same as when each field is read right after
decoding.
"""

from __future__ import annotations

import itertools

import pytest

from presencectl.core.decode import Decoder
from presencectl.core.events import Event
from presencectl.core.filters import parse_filters
from presencectl.core.render import RenderOptions, make_renderer
from tests.test_prefilter_exact import fixture_lines

FIELDS = ("dialect", "type", "kind", "subject", "time", "summary", "raw", "presence", "text", "topic", "received", "keepalive", "meta")
RENDERERS = {
    "raw": make_renderer(RenderOptions("raw")),
    "json": make_renderer(RenderOptions("json")),
    "pretty": make_renderer(RenderOptions("pretty", color=True)),
    "compact": make_renderer(RenderOptions("compact")),
    "verbose": make_renderer(RenderOptions("pretty", verbose=True)),
}
FILTERS = [
    parse_filters(types=["upstreamMessage"]),
    parse_filters(types=["client*"], subjects=["17kl*"]),
    parse_filters(where=["data.transport=udp"]),
    parse_filters(grep="Connected"),
    parse_filters(kinds=["message", "unparsed"]),
]


def eager(line: bytes, topic: str | None) -> list[tuple]:
    """Every field of every event, read as soon as it is decoded."""
    return [tuple(getattr(e, f) for f in FIELDS) for e in Decoder().decode(line, topic)]


@pytest.mark.parametrize("topic", [None, "devices/d1/events"])
@pytest.mark.parametrize("first", ["raw", "json", "pretty", "filters", "nothing"])
def test_whatever_is_read_first_every_field_and_line_is_the_eager_one(first, topic):
    for line in fixture_lines():
        want = eager(line, topic)
        reference = Decoder().decode(line, topic)
        lines = {name: [render(e) for e in reference] for name, render in RENDERERS.items()}
        events = Decoder().decode(line, topic)
        if first in RENDERERS:
            [RENDERERS[first](e) for e in events]
        elif first == "filters":
            [f(e) for f in FILTERS for e in events]
        assert [tuple(getattr(e, f) for f in FIELDS) for e in events] == want, line
        for name, render in RENDERERS.items():
            assert [render(e) for e in events] == lines[name], (name, line)


def test_filters_see_the_same_events_in_any_order():
    for line in fixture_lines():
        want = [[f(e) for e in Decoder().decode(line)] for f in FILTERS]
        for order in itertools.permutations(range(len(FILTERS)), 2):
            events = Decoder().decode(line)
            got = {i: [FILTERS[i](e) for e in events] for i in order}
            assert all(got[i] == want[i] for i in order), line


def test_a_raw_line_builds_no_summary():
    (event,) = Decoder().decode(b'{"collectionId":"c","deviceId":"d","event":"upstreamMessage","data":{"bytes":"4"}}')
    RENDERERS["raw"](event)
    parse_filters(types=["upstreamMessage"])(event)
    assert not isinstance(event._summary, str)  # not built yet
    assert event.summary == "bytes=4"
    assert event._summary == "bytes=4"  # built once, kept


def test_a_summary_function_that_fails_reads_as_a_note_not_an_exception():
    def broken(raw: object) -> str:
        raise KeyError("x")

    event = Event("span", "t", "other", None, None, broken, {})
    assert event.summary == "(cannot read this payload: KeyError)"
    assert "cannot read" in RENDERERS["json"](event).decode()


def test_equality_and_repr_read_the_summary():
    a = Event("span", "t", "other", "d", None, lambda raw: f"n={raw['n']}", {"n": 1})
    b = Event("span", "t", "other", "d", None, "n=1", {"n": 1})
    assert a == b and repr(a) == repr(b) and "summary='n=1'" in repr(a)
    assert a != Event("span", "t", "other", "d", None, "n=2", {"n": 1})
    b.summary = "changed"
    assert b.summary == "changed" and a != b
