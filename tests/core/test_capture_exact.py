"""The capture format byte for byte: exact records, every field of the header, every
rejection with its message, and a property test writing real gzip files and reading
them back (found by mutation testing: ``tools/mutation.py capture``)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from presencectl.core.capture import (
    FORMAT_VERSION,
    MARKS,
    Header,
    decode_record,
    encode_frame,
    encode_header,
    encode_marker,
    make_header,
    parse_header,
)
from presencectl.core.events import Frame, Marker, RetainedFrame
from presencectl.errors import CaptureFormatError
from presencectl.transports.files import CaptureReader, CaptureWriter

# -- records, exactly as SPEC §4 writes them ------------------------------------------------


def test_frame_records_byte_for_byte():
    assert encode_frame(Frame('{"a":1}', 1.5, "x/y")) == b'{"t":1.5,"topic":"x/y","text":"{\\"a\\":1}"}\n'
    assert encode_frame(Frame("", None, None)) == b'{"t":null,"topic":null,"text":""}\n'
    assert encode_frame(Frame(b"\x00\xff", 2.0, "b")) == b'{"t":2.0,"topic":"b","b64":"AP8="}\n'
    assert encode_frame(RetainedFrame("on", 3.0, "s/1")) == b'{"t":3.0,"topic":"s/1","text":"on","retained":true}\n'
    # a lone surrogate cannot be UTF-8: kept as a JSON escape, and read back the same
    line = encode_frame(Frame("a\ud800b", 4.0, None))
    assert line == b'{"t": 4.0, "topic": null, "text": "a\\ud800b"}\n'
    assert decode_record(line) == Frame("a\ud800b", 4.0, None)


def test_marker_and_header_records_byte_for_byte():
    assert encode_marker(Marker("connected", 0.5, "ws://h")) == b'{"t":0.5,"mark":"connected","detail":"ws://h"}\n'
    assert encode_marker(Marker("disconnected", None)) == b'{"t":null,"mark":"disconnected","detail":null}\n'
    header = Header(FORMAT_VERSION, "ws://h", "websocket", 10.0, ["a"], {"headers": ["X-Key"], "n": 1})
    assert encode_header(header) == (
        b'{"presencectl":1,"source":"ws://h","transport":"websocket","started":10.0,'
        b'"topics":["a"],"headers":["X-Key"],"n":1}\n'
    )
    assert encode_header(Header()) == b'{"presencectl":1,"source":null,"transport":null,"started":null,"topics":null}\n'
    assert MARKS == ("connected", "disconnected", "reconnecting")


def test_make_header_keeps_only_header_names_and_redacts_the_source():
    header = make_header("mqtt://h?key=k", "mqtt", 5.0, iter(["t/#", "u/+"]), [" X-API-Token : s3cret", "Accept:x"], qos=1)
    assert header == Header(1, "mqtt://h?key=REDACTED", "mqtt", 5.0, ["t/#", "u/+"], {"headers": ["X-API-Token", "Accept"], "qos": 1})
    assert make_header(None, None, None) == Header(1, None, None, None, None, {})
    assert make_header("", "websocket", 0.0, []).source == "" and make_header("", "x", 0.0, []).topics == []
    assert "headers" not in make_header("ws://h", "websocket", 0.0, None, []).extra


# -- reading records ---------------------------------------------------------------------------


def test_decode_record_fields():
    frame = decode_record(b'{"t":1,"topic":"x","text":"p"}')
    assert frame == Frame("p", 1.0, "x") and type(frame.t) is float and type(frame) is Frame
    assert decode_record('{"t":2.5,"text":"p"}') == Frame("p", 2.5, None)
    # a time that is not a number is no time (true is not 1)
    for bad in ("true", '"2"', "[1]", "null"):
        assert decode_record(f'{{"t":{bad},"text":"p"}}').t is None
    retained = decode_record(b'{"t":1.0,"topic":"s","text":"on","retained":true}')
    assert type(retained) is RetainedFrame and retained.retained and retained == RetainedFrame("on", 1.0, "s")
    # only a JSON true marks it retained
    assert type(decode_record(b'{"t":1.0,"text":"on","retained":1}')) is Frame
    assert type(decode_record(b'{"t":1.0,"text":"on","retained":"yes"}')) is Frame
    assert decode_record(b'{"t":1.0,"topic":"b","b64":"AP8="}') == Frame(b"\x00\xff", 1.0, "b")
    assert decode_record(b'{"t":1.0,"b64":""}') == Frame(b"", 1.0, None)
    # text wins over b64 and mark; b64 over mark
    assert decode_record(b'{"text":"a","b64":"AP8=","mark":"connected"}') == Frame("a", None, None)
    assert decode_record(b'{"b64":"AP8=","mark":"connected"}') == Frame(b"\x00\xff", None, None)


def test_decode_record_markers():
    assert decode_record(b'{"t":1,"mark":"connected","detail":"d"}') == Marker("connected", 1.0, "d")
    assert decode_record(b'{"t":1,"mark":"reconnecting"}') == Marker("reconnecting", 1.0, None)
    assert decode_record(b'{"t":1,"mark":"x","detail":5}') == Marker("x", 1.0, "5")
    assert decode_record(b'{"t":1,"mark":"x","detail":{"a":1}}') == Marker("x", 1.0, "{'a': 1}")


@pytest.mark.parametrize(
    "line, message",
    [
        (b"[1]", "^not a capture record$"),
        (b'"x"', "^not a capture record$"),
        (b'{"t":1}', "^capture record has neither 'text', 'b64' nor 'mark'$"),
        (b'{"t":1,"mark":5}', "^capture record has neither 'text', 'b64' nor 'mark'$"),
        (b'{"text":5}', "^capture record 'text' is not a string$"),
        (b'{"text":["a"]}', "^capture record 'text' is not a string$"),
        (b'{"b64":"!!"}', "^bad base64 in capture record: "),
        (b'{"b64":5}', "^bad base64 in capture record: "),
    ],
)
def test_decode_record_rejections_say_why(line, message):
    with pytest.raises(ValueError, match=message):
        decode_record(line)


def test_parse_header_fields():
    assert parse_header([1]) is None and parse_header({"source": "x"}) is None and parse_header("x") is None
    header = parse_header({"presencectl": 1, "source": "s", "transport": "mqtt", "started": 7, "topics": ["a"], "headers": ["H"], "x": None})
    assert header == Header(1, "s", "mqtt", 7.0, ["a"], {"headers": ["H"], "x": None})
    assert type(header.started) is float
    assert parse_header({"presencectl": 1, "started": "soon"}).started is None
    assert parse_header({"presencectl": 1}) == Header(1, None, None, None, None, {})


@pytest.mark.parametrize("version", [2, 0, 99])
def test_parse_header_refuses_other_versions_and_says_what_to_do(version):
    with pytest.raises(CaptureFormatError) as info:
        parse_header({"presencectl": version})
    assert str(info.value) == (
        f"capture format version {version!r} is not supported (this presencectl reads version 1); upgrade presencectl"
    )


# -- property: real files, gzip included, written then read -------------------------------------

records = st.lists(
    st.one_of(
        st.builds(Frame, st.one_of(st.text(max_size=40), st.binary(max_size=40)),
                  st.one_of(st.none(), st.floats(0, 4e9)), st.one_of(st.none(), st.text(max_size=12))),
        st.builds(RetainedFrame, st.text(max_size=20), st.floats(0, 4e9), st.text(max_size=12)),
        st.builds(Marker, st.sampled_from(MARKS), st.floats(0, 4e9), st.one_of(st.none(), st.text(max_size=20))),
    ),
    max_size=25,
)


@settings(max_examples=40)
@given(records=records, gz=st.booleans(), topics=st.one_of(st.none(), st.lists(st.text(max_size=8), max_size=3)))
def test_written_captures_read_back_exactly(tmp_path_factory, records, gz, topics):
    path = tmp_path_factory.mktemp("cap") / ("c.capture.ndjson.gz" if gz else "c.capture.ndjson")
    writer = CaptureWriter(str(path), make_header("wss://h/?token=t", "websocket", 1.0, topics))
    for record in records:
        if isinstance(record, Marker):
            writer.marker(record)
        else:
            writer.frame(record)
    writer.close()
    raw = path.read_bytes()
    assert (raw[:2] == b"\x1f\x8b") is gz
    warnings: list[str] = []
    reader = CaptureReader(str(path), warnings.append)
    got = list(reader.records())
    reader.close()
    assert warnings == []
    assert reader.header.source == "wss://h/?token=REDACTED" and reader.header.topics == topics
    assert got == records
    assert [type(r) for r in got] == [type(r) for r in records]
    # every line is one JSON object (SPEC §4)
    import gzip

    text = gzip.decompress(raw) if gz else raw
    assert all(isinstance(json.loads(line), dict) for line in text.splitlines())
