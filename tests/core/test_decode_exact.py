"""Decoder paths pinned field by field: topic and receive time reach every event of every
path, Atmosphere frames, batches, the stdlib fallback, retained frames (found by
mutation testing: ``tools/mutation.py decode``)."""

from __future__ import annotations

import math

import pytest

from presencectl.core.decode import Decoder, loads, orjson_dumps, unparsed
from presencectl.core.events import Event, Frame, RetainedFrame

UUID = "5a4c9b8e-1f2d-4e3a-9b7c-0d1e2f3a4b5c"
LIFE = '{"type":"event","event":"lifecycle","data":{"source_id":1,"lifecycle_event":"block"}}'
NAV_LIFE = ("navixy", "lifecycle", "lifecycle", "1", "block", LIFE, "top", 9.5, False, "offline")
BATCH = (
    '{"type":"event","event":"state_batch","data":[{"source_id":1,"connection_status":"active"},'
    '{"source_id":2,"connection_status":"offline"}]}'
)


def fields(event: Event) -> tuple:
    return (event.dialect, event.type, event.kind, event.subject, event.summary, event.text,
            event.topic, event.received, event.keepalive, event.presence)


def decoded(data, topic="top", received=9.5, decoder=None):
    return [fields(e) for e in (decoder or Decoder()).decode(data, topic, received)]


def bad(summary, text):
    return (None, None, None, None, summary, text, "top", 9.5, False, None)


def test_atmosphere_handshake_heartbeat_and_length_prefixes():
    handshake = f"{UUID}|30000|X|"
    assert decoded(handshake) == [
        ("navixy", "handshake", "other", None, f"uuid={UUID} interval=30000ms", handshake, "top", 9.5, True, None)
    ]
    assert decoded("X") == [("navixy", "heartbeat", "other", None, "", "X", "top", 9.5, True, None)]
    assert decoded(f"{len(LIFE)}|{LIFE}") == [NAV_LIFE]
    # a handshake carrying the first message: the control event, then the message
    both = f"{handshake}{len(LIFE)}|{LIFE}"
    assert decoded(both) == [
        ("navixy", "handshake", "other", None, f"uuid={UUID} interval=30000ms", both, "top", 9.5, True, None),
        NAV_LIFE,
    ]
    # two messages and a heart-beat in one frame
    assert decoded(f"{len(LIFE)}|{LIFE}1|X{len(LIFE)}|{LIFE}") == [NAV_LIFE, NAV_LIFE]


@pytest.mark.parametrize("text", ["3|abc", "5|hello5|world", f"{len(LIFE)}|{LIFE}X"])
def test_a_length_prefixed_frame_without_json_is_shown_whole(text):
    assert decoded(text) == [bad("invalid JSON (a length-prefixed frame holding no JSON object)", text)]


def test_batches_carry_topic_and_time_into_every_element():
    assert decoded('[{"a":1}, 2.5, false, null, [1], "s"]') == [
        ("generic", None, "other", None, "a=1", None, "top", 9.5, False, None),
        bad("batch element 1 is a number, not an object", b"2.5"),
        bad("batch element 2 is false, not an object", b"false"),
        bad("batch element 3 is null, not an object", b"null"),
        bad("batch element 4 is an array, not an object", b"[1]"),
        bad("batch element 5 is a string, not an object", b'"s"'),
    ]
    # a dialect-level batch (Navixy state_batch), alone and inside a JSON array
    states = [
        ("navixy", "state_batch", "state", "1", "connection=active", None, "top", 9.5, False, "online"),
        ("navixy", "state_batch", "state", "2", "connection=offline", None, "top", 9.5, False, "offline"),
    ]
    assert decoded(BATCH) == states
    assert decoded(f"[{BATCH}]") == states
    # the stdlib path (a NaN makes orjson refuse the text) reaches the same places
    assert decoded(BATCH.replace('"connection_status":"offline"', '"connection_status":"offline","x":NaN')) == states


def test_the_stdlib_fallback_for_what_orjson_refuses():
    assert decoded("NaN") == [bad("JSON value is a number, not an object", "NaN")]
    assert decoded("Infinity") == [bad("JSON value is a number, not an object", "Infinity")]
    assert decoded('{"a":NaN}') == [("generic", None, "other", None, "a=nan", '{"a":NaN}', "top", 9.5, False, None)]
    assert decoded(b'[{"a":NaN}]') == [("generic", None, "other", None, "a=nan", None, "top", 9.5, False, None)]
    assert decoded("[]\n") == [bad("an empty JSON array", "[]\n")]


def test_frames_of_lines_and_what_is_not_json():
    assert decoded('{"a":1}\n\n[]') == [
        ("generic", None, "other", None, "a=1", '{"a":1}', "top", 9.5, False, None),
        bad("an empty JSON array", "[]"),
    ]
    assert decoded(b'{"a":1}\n{"b":2}') == [
        ("generic", None, "other", None, "a=1", '{"a":1}', "top", 9.5, False, None),
        ("generic", None, "other", None, "b=2", '{"b":2}', "top", 9.5, False, None),
    ]
    # lines none of which is JSON: the frame once, as received, with the first line's error
    assert decoded("garbage\nmore") == [bad("invalid JSON: Expecting value at line 1 column 1", "garbage\nmore")]
    assert decoded('{"a":1}{"b":2}') == [bad("invalid JSON: Extra data at line 1 column 8", '{"a":1}{"b":2}')]
    assert decoded(b"\xff\xfe") == [bad("invalid UTF-8 at byte 0", b"\xff\xfe")]
    assert decoded(b"ok\xff") == [bad("invalid UTF-8 at byte 2", b"ok\xff")]
    assert decoded("   ") == [] and decoded(b"\n\n") == []


def test_defaults_without_topic_or_time():
    (event,) = Decoder().decode('{"a":1}')
    assert (event.topic, event.received, event.text) == (None, None, '{"a":1}')
    (event,) = Decoder().decode("[1]")
    assert (event.topic, event.received) == (None, None)


def test_retained_frames_say_so_in_every_summary():
    decoder = Decoder()
    assert [fields(e) for e in decoder.decode_frame(RetainedFrame('{"a":1}', 2.0, "t"))] == [
        ("generic", None, "other", None, "(retained) a=1", '{"a":1}', "t", 2.0, False, None)
    ]
    assert [e.summary for e in decoder.decode_frame(RetainedFrame("[]", 2.0, "t"))] == ["(retained) an empty JSON array"]
    assert [e.summary for e in decoder.decode_frame(Frame('{"a":1}', 2.0, "t"))] == ["a=1"]
    # an empty summary gets no trailing blank
    assert [e.summary for e in decoder.decode_frame(RetainedFrame("X", 1.0, None))] == ["(retained)"]


def test_a_dialect_that_fails_falls_back_to_generic():
    from presencectl.core import dialects

    class Broken:
        name = "broken"

        @staticmethod
        def normalize(obj, topic, times):
            raise KeyError("boom")

    decoder = Decoder(dialect=Broken)  # type: ignore[arg-type]
    assert decoded('{"a":1}', decoder=decoder) == [("generic", None, "other", None, "a=1", '{"a":1}', "top", 9.5, False, None)]
    assert decoded('[{"a":1}]', decoder=decoder) == [("generic", None, "other", None, "a=1", None, "top", 9.5, False, None)]
    assert dialects.get("generic").name == "generic"


def test_forcing_a_dialect():
    from presencectl.core import dialects

    decoder = Decoder(dialect=dialects.get("span"))
    (event,) = decoder.decode('{"type":"connect","asset":"a"}')
    assert event.dialect == "span"


def test_loads_and_dumps():
    assert math.isnan(loads(b'{"a":NaN}')["a"]) and loads("Infinity") == math.inf
    assert loads(b'{"a":[1,"x"]}') == {"a": [1, "x"]}
    with pytest.raises(ValueError):
        loads(b"\xff")
    with pytest.raises(ValueError):
        loads("{nope")
    assert orjson_dumps(123456789012345678901234567890) == b"123456789012345678901234567890"
    assert orjson_dumps({"a": [1, "é"]}) == '{"a":[1,"é"]}'.encode()
    assert orjson_dumps("\ud800") == b'"\\ud800"'


def test_unparsed_events():
    event = unparsed("why", b"raw", "t", 1.0)
    assert fields(event) == (None, None, None, None, "why", b"raw", "t", 1.0, False, None)
    assert not event.parsed and fields(unparsed("why", "x"))[6:8] == (None, None)


@pytest.mark.xfail(
    strict=True,
    reason="orjson >= 3.10 reads integers over 64 bits as floats instead of refusing them, "
    "so the stdlib fallback in decode.loads/Decoder.decode never runs: event.raw and the "
    "summary lose the digits (the text is kept). Remove this mark once fixed.",
)
def test_integers_beyond_64_bits_stay_exact_in_raw_and_summary():
    big = 123456789012345678901234567890
    (event,) = Decoder().decode(f'{{"type":"connect","asset":"a","connection_id":{big}}}')
    assert event.raw["connection_id"] == big
    assert str(big) in event.summary
