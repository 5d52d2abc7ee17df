"""The capture format: header, frames, markers, redaction, files, truncation, gzip."""

from __future__ import annotations

import gzip

import pytest
from hypothesis import given
from hypothesis import strategies as st

from presencectl.core.capture import (
    decode_record,
    encode_frame,
    encode_header,
    encode_marker,
    make_header,
    parse_header,
    redact_url,
)
from presencectl.core.decode import loads
from presencectl.core.events import Frame, Marker
from presencectl.errors import CaptureFormatError, InputNotFound
from presencectl.transports.files import CaptureReader, CaptureWriter


@pytest.mark.parametrize(
    "url, expected",
    [
        ("mqtt://bob:s3cret@broker:1883", "mqtt://bob:REDACTED@broker:1883"),
        ("mqtt://bob@broker", "mqtt://bob@broker"),
        ("wss://h/x?api_token=abc&collection=1", "wss://h/x?api_token=REDACTED&collection=1"),
        ("wss://h/sub?hash=22eac1c2&X-Atmosphere-Transport=websocket", "wss://h/sub?hash=REDACTED&X-Atmosphere-Transport=websocket"),
        ("sios://h/socket.io/?token=eyJ&tokenType=jwt", "sios://h/socket.io/?token=REDACTED&tokenType=jwt"),
        ("ws://h:1/p", "ws://h:1/p"),
        ("ws://h/?apiKey=k&X-API-Key=k&access_token=t&sessionid=s&page=2", "ws://h/?apiKey=REDACTED&X-API-Key=REDACTED&access_token=REDACTED&sessionid=REDACTED&page=2"),
    ],
)
def test_redact_url(url, expected):
    assert redact_url(url) == expected


def test_header_drops_header_values_and_round_trips():
    header = make_header("wss://h/?token=t", "websocket", 10.0, None, headers=["X-API-Token: secret"])
    line = encode_header(header)
    assert b"secret" not in line and b"REDACTED" in line
    parsed = parse_header(loads(line))
    assert parsed.source == "wss://h/?token=REDACTED" and parsed.extra["headers"] == ["X-API-Token"]


def test_unknown_format_version_is_refused_clearly():
    with pytest.raises(CaptureFormatError, match="version 2 is not supported"):
        parse_header({"presencectl": 2})


@given(
    data=st.one_of(st.text(), st.binary()),
    t=st.one_of(st.none(), st.floats(min_value=0, max_value=4e9)),
    topic=st.one_of(st.none(), st.text(max_size=30)),
)
def test_frame_round_trip_is_exact(data, t, topic):
    record = decode_record(encode_frame(Frame(data, t, topic)))
    assert record == Frame(data, t, topic)


def test_marker_round_trip():
    m = Marker("reconnecting", 5.5, "attempt 2 in 1.3s")
    assert decode_record(encode_marker(m)) == m


def test_bad_records_raise_value_error():
    for line in (b"[1]", b'{"t":1}', b'{"t":1,"b64":"!!"}', b'{"text":5}', b"{"):
        with pytest.raises(ValueError):
            decode_record(line)


@pytest.mark.parametrize("name", ["s.capture.ndjson", "s.capture.ndjson.gz"])
def test_writer_then_reader(tmp_path, name):
    path = str(tmp_path / name)
    frames = [Frame('{"a":1}', 1.0, "x"), Frame(b"\xff\x00", 2.0), Frame('{"big":123456789012345678901234567890}', 3.0)]
    writer = CaptureWriter(path, make_header("ws://h", "websocket", 0.0))
    writer.marker(Marker("connected", 0.5))
    for frame in frames:
        writer.frame(frame)
    writer.close()
    reader = CaptureReader(path, pytest.fail)
    assert reader.is_capture and reader.header.source == "ws://h"
    assert list(reader.records()) == [Marker("connected", 0.5), *frames]


def test_gzip_capture_is_readable_while_still_being_written(tmp_path):
    # A killed recorder never writes the gzip trailer: every flushed line must still read.
    path = str(tmp_path / "live.capture.ndjson.gz")
    writer = CaptureWriter(path, make_header("ws://h", "websocket", 0.0))
    writer.frame(Frame('{"a":1}', 1.0))
    warnings = []
    reader = CaptureReader(path, warnings.append)
    assert list(reader.records()) == [Frame('{"a":1}', 1.0)]
    assert warnings and "ends early" in warnings[0]
    writer.close()


def test_truncated_last_line_is_skipped_with_a_warning(tmp_path):
    path = tmp_path / "cut.capture.ndjson"
    path.write_bytes(encode_header(make_header("ws://h", "websocket", 0.0)) + encode_frame(Frame("{}", 1.0)) + b'{"t": 2.0, "topic": null, "te')
    warnings = []
    records = list(CaptureReader(str(path), warnings.append).records())
    assert records == [Frame("{}", 1.0)]
    assert "cut short" in warnings[0]


def test_corrupt_middle_line_is_kept_as_a_frame(tmp_path):
    path = tmp_path / "bad.capture.ndjson"
    path.write_bytes(encode_header(make_header(None, None, None)) + b"garbage\n" + encode_frame(Frame("{}", 1.0)))
    reader = CaptureReader(str(path), pytest.fail)
    assert list(reader.records()) == [Frame(b"garbage"), Frame("{}", 1.0)]
    assert reader.bad_records == 1


def test_plain_ndjson_reads_as_frames_without_times(tmp_path):
    path = tmp_path / "plain.ndjson"
    path.write_bytes(b'{"a":1}\n{"b":2}\n')
    reader = CaptureReader(str(path), pytest.fail)
    assert not reader.is_capture
    # Text when it is UTF-8 (as replay and record both store it), bytes otherwise;
    # a pretty-printed document is one frame.
    assert list(reader.records()) == [Frame('{"a":1}'), Frame('{"b":2}')]
    path.write_bytes(b'{\n  "a": 1\n}\n{"b":"\xff"}\n')
    assert list(CaptureReader(str(path), pytest.fail).records()) == [Frame('{\n  "a": 1\n}'), Frame(b'{"b":"\xff"}')]


def test_gzipped_plain_ndjson(tmp_path):
    path = tmp_path / "plain.ndjson.gz"
    path.write_bytes(gzip.compress(b'{"a":1}\n'))
    assert list(CaptureReader(str(path), pytest.fail).records()) == [Frame('{"a":1}')]


def test_missing_file_and_directory():
    with pytest.raises(InputNotFound, match="no such file"):
        CaptureReader("/nonexistent/x.ndjson", pytest.fail)
    with pytest.raises(InputNotFound, match="is a directory"):
        CaptureReader("/", pytest.fail)


@pytest.mark.parametrize("data", ['{"a":1}', b"\xff\x00"])
@pytest.mark.parametrize("retained", [False, True])
def test_mqtt_redeliveries_keep_their_dup_flag(tmp_path, data, retained):
    from presencectl.core.events import frame_type

    frame = frame_type(retained, True)(data, 1.0, "t/1")
    line = encode_frame(frame)
    assert b'"dup":true' in line and (b'"retained":true' in line) == retained
    back = decode_record(line)
    assert back == frame and back.dup and back.retained == retained
    plain = decode_record(encode_frame(Frame(data, 1.0, "t/1")))
    assert not plain.dup and b'"dup"' not in encode_frame(plain)
