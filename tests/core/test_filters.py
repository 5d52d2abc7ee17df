"""Filter expressions: globs, -w forms, kinds, time windows, and the pre-parse shortcut."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from presencectl.core.decode import Decoder
from presencectl.core.filters import parse_filters, parse_where
from presencectl.errors import FilterSyntaxError
from presencectl.transports.files import CaptureReader

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
NOW = datetime(2026, 3, 12, 9, 0, tzinfo=UTC)


def events(*texts, topic=None):
    decoder = Decoder()
    return [e for t in texts for e in decoder.decode(t, topic)]


UP = '{"collectionId":"c","deviceId":"17kl01","event":"upstreamMessage","data":{"transport":"udp","bytes":"12"},"time":"2026-03-12 08:30:00"}'
CONN = '{"collectionId":"c","deviceId":"17xx02","event":"clientConnected","data":{"id":"certificate"},"time":"2026-03-12 08:50:00"}'
FW = '{"collectionId":"c","deviceId":"17kl01","event":"firmwareStateChange","data":{"state":"Completed"}}'
UP_E, CONN_E, FW_E = events(UP, CONN, FW)
BAD = events("{nope")[0]


def keep(**kw):
    f = parse_filters(now=NOW, zone=UTC, **kw)
    return [e.type for e in (UP_E, CONN_E, FW_E, BAD) if f(e)]


def test_type_globs_and_excludes():
    assert keep(types=["firmware*"]) == ["firmwareStateChange"]
    assert keep(types=["client*", "upstreamMessage"]) == ["upstreamMessage", "clientConnected"]
    assert keep(types=["!upstream*"]) == ["clientConnected", "firmwareStateChange", None]


def test_subject_globs():
    assert keep(subjects=["17kl*"]) == ["upstreamMessage", "firmwareStateChange"]
    assert keep(subjects=["!17kl*"]) == ["clientConnected", None]


def test_kinds_including_unparsed():
    assert keep(kinds=["connect,firmware"]) == ["clientConnected", "firmwareStateChange"]
    assert keep(kinds=["unparsed"]) == [None]
    with pytest.raises(FilterSyntaxError, match="bad --kind 'online'"):
        keep(kinds=["online"])


@pytest.mark.parametrize(
    "expr, expected",
    [
        ("data.transport=udp", ["upstreamMessage"]),
        ("data.transport!=udp", ["clientConnected", "firmwareStateChange", None]),
        ("data.bytes>10", ["upstreamMessage"]),
        ("data.bytes<10", []),
        ("data.bytes>=12", ["upstreamMessage"]),
        ("data.state~^Comp", ["firmwareStateChange"]),
        ("data.id?", ["clientConnected"]),
        ("subject=17kl01", ["upstreamMessage", "firmwareStateChange"]),
        ("kind=connect", ["clientConnected"]),
        ("type~Message$", ["upstreamMessage"]),
        ("payload.event=clientConnected", ["clientConnected"]),
    ],
)
def test_where_forms(expr, expected):
    assert keep(where=[expr]) == expected


def test_where_compares_numbers_and_strings_alike():
    (status,) = events('{"method":"thing.status","params":{"iotId":"i","status":{"value":"3"}}}')
    assert parse_where("params.status.value=3")(status)
    assert parse_where("params.status.value=3.0")(status)
    assert not parse_where("params.status.value=1")(status)


def test_where_indexes_lists_and_looks_inside_envelopes():
    (env,) = events('[{"meta":{"event":"presence"},"payload":{"type":"connect","reason":"cold_boot","asset":"a","x":[5,6]}}]')
    assert parse_where("reason=cold_boot")(env)
    assert parse_where("payload.x.1=6")(env)
    assert parse_where("meta.event=presence")(env)


@pytest.mark.parametrize(
    "expr, message",
    [
        ("justapath", "no operator"),
        ("=value", "empty path"),
        ("a..b=1", "empty path"),
        ("a~[unclosed", "bad regex"),
        ("a>abc", "'abc' is not a number"),
        ("?", "no path"),
        ("a!b", "unknown operator"),
    ],
)
def test_bad_where_names_the_bad_part(expr, message):
    with pytest.raises(FilterSyntaxError, match=message) as info:
        parse_where(expr)
    assert repr(expr) in str(info.value)


def test_grep_and_bad_grep():
    assert keep(grep="certif") == ["clientConnected"]
    assert keep(grep="nope") == [None]  # the unparsed event's text is searched too
    with pytest.raises(FilterSyntaxError, match="bad --grep"):
        keep(grep="(")


def test_since_until_with_durations_and_times():
    assert keep(since="20m") == ["clientConnected", "firmwareStateChange", None]
    assert keep(until="2026-03-12 08:40") == ["upstreamMessage", "firmwareStateChange", None]
    with pytest.raises(FilterSyntaxError, match="bad --since 'yesterday-ish'"):
        keep(since="yesterday-ish")


def test_keepalives_hidden_unless_asked():
    (ka,) = events('{"type":"keepalive"}')
    assert not parse_filters()(ka)
    assert parse_filters(keepalive=True)(ka)


def test_prefilter_tokens():
    assert parse_filters(types=["firmware*"]).prefilter == (b"firmware",)
    assert parse_filters(types=["thing.properties"]).prefilter == (b"properties",)
    assert parse_filters(types=["*"]).prefilter is None
    assert parse_filters(types=["!x"]).prefilter is None


def prefilter_corpus():
    """(bytes, topic) for every record of the bundled captures and every line of the
    vendor samples (the navixy ``error`` frame is only there)."""
    for path in sorted(FIXTURES.glob("*.capture.ndjson*")):
        reader = CaptureReader(str(path), lambda m: None)
        for record in reader.records():
            data = getattr(record, "data", None)
            if data is not None:
                yield (data.encode() if isinstance(data, str) else data), record.topic
        reader.close()
    for path in sorted((FIXTURES / "samples").glob("*")):
        if path.suffix in (".ndjson", ".txt"):
            for line in path.read_bytes().splitlines():
                if line.strip():
                    yield line, None


@pytest.mark.parametrize(
    "pattern",
    ["upstreamMessage", "client*", "thing.properties", "thing.status", "lifecycle", "state",
     "connect", "failed_connect", "app.event.presence.party.online", "party.removed",
     "ota.device.forward", "account.bind_reply", "heartbeat", "keepalive", "response", "error"],
)
def test_prefilter_never_drops_a_line_that_matches(pattern):
    # The shortcut may let lines through, but must never reject a matching one.
    filt = parse_filters(types=[pattern], keepalive=True)
    decoder = Decoder()
    matched = 0
    for line, topic in prefilter_corpus():
        if any(filt(e) for e in decoder.decode(line, topic)):
            matched += 1
            assert filt.may_match(line) or filt.may_match((topic or "").encode()), (pattern, line[:80])
    # every pattern is checked against lines it really matches
    assert matched > 0, f"no line of the fixtures matches {pattern!r}"
