"""Payload text → events: batches, bad input, several payloads per frame."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from presencectl.core.decode import Decoder

SPAN = '{"collectionId":"c","deviceId":"d%d","event":"upstreamMessage"}'


def kinds(events):
    return [(e.dialect, e.type, e.summary if e.dialect is None else None) for e in events]


def test_one_object_keeps_its_text_topic_and_receive_time():
    (event,) = Decoder().decode(SPAN % 1, "t/1", 12.5)
    assert (event.text, event.topic, event.received) == (SPAN % 1, "t/1", 12.5)


def test_array_is_a_batch_and_non_objects_in_it_are_unparsed():
    events = Decoder().decode(f"[{SPAN % 1}, 7, \"x\", null, {SPAN % 2}]")
    assert kinds(events) == [
        ("span", "upstreamMessage", None),
        (None, None, "batch element 1 is a number, not an object"),
        (None, None, "batch element 2 is a string, not an object"),
        (None, None, "batch element 3 is null, not an object"),
        ("span", "upstreamMessage", None),
    ]
    assert events[0].text is None  # an element is not the whole frame


def test_empty_array_is_reported():
    assert kinds(Decoder().decode("[]")) == [(None, None, "an empty JSON array")]


def test_scalars_are_unparsed_with_the_reason():
    assert kinds(Decoder().decode('"hello"')) == [(None, None, "JSON value is a string, not an object")]
    assert kinds(Decoder().decode("42")) == [(None, None, "JSON value is a number, not an object")]
    assert kinds(Decoder().decode("true")) == [(None, None, "JSON value is true, not an object")]


def test_malformed_json_names_line_and_column():
    (event,) = Decoder().decode('{"a": 1,')
    assert event.dialect is None and event.summary.startswith("invalid JSON: ")
    assert "line 1" in event.summary
    assert event.text == '{"a": 1,'


def test_invalid_utf8_is_kept_as_bytes():
    data = b'{"a": "\xff"}'
    (event,) = Decoder().decode(data)
    assert event.summary == "invalid UTF-8 at byte 7"
    assert event.text == data


def test_blank_payloads_produce_nothing():
    assert Decoder().decode("") == []
    assert Decoder().decode(" \n ") == []


def test_pretty_printed_document_is_one_payload():
    text = json.dumps({"event": "clientConnected", "deviceId": "d", "collectionId": "c"}, indent=2)
    (event,) = Decoder().decode(text)
    assert event.type == "clientConnected" and event.text == text


def test_several_ndjson_payloads_in_one_frame():
    events = Decoder().decode("\n".join([SPAN % 1, "garbage", SPAN % 2]) + "\n")
    assert kinds(events) == [
        ("span", "upstreamMessage", None),
        (None, None, "invalid JSON: Expecting value at line 1 column 1"),
        ("span", "upstreamMessage", None),
    ]


def test_malformed_multiline_document_is_one_unparsed_event():
    text = '{\n  "id": "msgid4"\n  "method": "thing.events"\n}'
    (event,) = Decoder().decode(text)
    assert event.dialect is None and event.text == text


def test_integers_beyond_64_bits_survive_in_the_raw_payload():
    (event,) = Decoder().decode('{"type":"connect","asset":"a","connection_id":123456789012345678901234567890}')
    assert event.dialect == "cloudconnect"
    assert event.text.endswith("123456789012345678901234567890}")


def test_64_bit_ids_are_exact():
    (event,) = Decoder().decode('{"id":18446744073709551615,"type":"connect","asset":"a","connection_id":461799503595298293}')
    assert event.raw["id"] == 18446744073709551615
    assert event.raw["connection_id"] == 461799503595298293


@given(st.lists(st.sampled_from([SPAN % 1, SPAN % 2, '"s"', "{bad", '[{"a":1}]']), min_size=1, max_size=6))
def test_a_frame_of_lines_decodes_like_its_lines_one_by_one(lines):
    decoder = Decoder()
    together = decoder.decode("\n".join(lines))
    apart = [e for line in lines for e in decoder.decode(line)]
    if len(lines) == 1 or any(e.parsed for e in apart):
        assert kinds(together) == kinds(apart)
    else:
        # no line holds a JSON object: the frame is shown whole, once, as received
        (event,) = together
        assert event.dialect is None and event.summary.startswith("invalid JSON")
        assert event.text == "\n".join(lines)


@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise(data):
    for event in Decoder().decode(data):
        # Parsed events carry their object; Atmosphere control frames are keep-alives.
        assert event.dialect is None or isinstance(event.raw, dict) or event.keepalive


@given(st.text(max_size=200))
def test_arbitrary_text_never_raises(text):
    Decoder().decode(text)
