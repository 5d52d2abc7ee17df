"""Renderers: stable JSON, verbatim raw, escaped pretty/compact, colour on and off."""

from __future__ import annotations

import json
from datetime import UTC

import pytest

from presencectl.core.decode import Decoder
from presencectl.core.render import RenderOptions, escape, event_json, make_renderer

SPAN = '{"collectionId":"c","deviceId":"17kl","event":"clientConnected","data":{"id":"certificate"},"time":"2024-04-25 20:23:36"}'
JSON_KEYS = ["time", "dialect", "type", "kind", "subject", "summary", "topic", "received", "presence", "payload"]


def one(text, topic=None, received=None):
    (event,) = Decoder().decode(text, topic, received)
    return event


def render(event, **kw):
    kw.setdefault("zone", UTC)
    return make_renderer(RenderOptions(**kw))(event)


def test_json_line_has_stable_keys_and_the_payload_verbatim():
    line = render(one(SPAN, "t", 1714076616.25), fmt="json")
    obj = json.loads(line)
    assert list(obj) == JSON_KEYS
    assert obj["time"] == "2024-04-25T20:23:36+00:00"
    assert obj["received"] == "2024-04-25T20:23:36.250000+00:00"
    assert obj["payload"] == json.loads(SPAN)
    assert SPAN.encode() in line  # spliced, not re-serialised


def test_json_keeps_ids_of_any_size_exact():
    text = '{"type":"connect","asset":"a","id":461799503595297635,"connection_id":123456789012345678901234567890}'
    line = render(one(text), fmt="json")
    assert b"461799503595297635" in line and b"123456789012345678901234567890" in line
    assert json.loads(line)["payload"]["connection_id"] == 123456789012345678901234567890


def test_json_for_batch_elements_and_unparsed():
    a, b = Decoder().decode('[{"type":"connect","asset":"a","connection_id":1},"x"]')
    assert json.loads(render(a, fmt="json"))["payload"]["asset"] == "a"
    bad = json.loads(render(b, fmt="json"))
    assert (bad["dialect"], bad["payload"], bad["summary"]) == (None, '"x"', "batch element 1 is a string, not an object")
    raw = json.loads(render(one(b"\xff{"), fmt="json"))
    assert raw["payload"] == "\\xff{"


def test_json_pretty_printed_payload_becomes_one_line():
    line = render(one(json.dumps(json.loads(SPAN), indent=2)), fmt="json")
    assert line.count(b"\n") == 1


def test_raw_is_the_payload_exactly():
    text = '{"deviceId":"d", "event":"x",  "collectionId":"c", "n": 1.50}'
    assert render(one(text), fmt="raw") == text.encode() + b"\n"
    assert render(one(b"\xff\x00bin"), fmt="raw") == b"\xff\x00bin\n"


def test_raw_on_a_terminal_escapes_control_characters():
    assert render(one('"\x1b[2J"'), fmt="raw", tty=True) == b'"\\x1b[2J"\n'


HOSTILE = '{"collectionId":"c","deviceId":"d\\u001b]0;owned\\u0007","event":"upstreamMessage","data":{"note":"[red]x[/red] \\u202e"}}'


@pytest.mark.parametrize("fmt", ["pretty", "compact"])
@pytest.mark.parametrize("color", [True, False])
def test_hostile_text_is_shown_not_executed(fmt, color):
    out = render(one(HOSTILE), fmt=fmt, color=color, verbose=True).decode()
    assert "\\x1b]0;owned\\x07" in out
    assert "]0;owned\x07" not in out
    assert "[red]x[/red]" in out  # literally, not interpreted as markup
    assert "\u202e" not in out and "\\u202e" in out


def test_verbose_payload_escapes_c1_and_bidi_in_json():
    out = render(one('{"event":"e","deviceId":"d","collectionId":"c","x":"\\u009b31m\\u202e"}'), fmt="pretty", verbose=True, color=True).decode()
    assert "\x9b" not in out and "\u202e" not in out


def test_pretty_line_colours_by_kind_only_when_asked():
    coloured = render(one(SPAN), fmt="pretty", color=True).decode()
    plain = render(one(SPAN), fmt="pretty", color=False).decode()
    assert "\x1b[1;32mclientConnected" in coloured
    assert "\x1b" not in plain
    assert plain.split() == ["2024-04-25", "20:23:36.000", "[span]", "clientConnected", "17kl", "id=certificate"]


def test_time_choice_and_zone():
    event = one(SPAN, received=0.5)
    assert render(event, fmt="compact", time_source="received").startswith(b"1970-01-01 00:00:00.500 ")
    assert render(event, fmt="compact", time_source="none").startswith(b"span clientConnected")
    from presencectl.core.times import parse_zone

    assert render(event, fmt="compact", zone=parse_zone("+02:00")).startswith(b"2024-04-25 22:23:36.000")


def test_unparsed_pretty_line_shows_reason_and_text():
    out = render(one("{oops"), fmt="pretty").decode()
    assert "unparsed" in out and "invalid JSON" in out and "{oops" in out


def test_escape_leaves_plain_text_alone():
    assert escape("héllo wörld 温度") == "héllo wörld 温度"
    assert escape("a\nb\tc\x00") == "a\\nb\\tc\\x00"


def test_event_json_is_deterministic():
    event = one(SPAN)
    assert event_json(event) == event_json(event)
