"""Every vendor sample is recognised by the right dialect and normalised right."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from presencectl.core import dialects
from presencectl.core.decode import Decoder
from presencectl.core.events import KINDS
from presencectl.core.times import TimeParser, parse_zone

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "samples"


def decode_one(text: str, topic: str | None = None):
    events = Decoder().decode(text, topic)
    assert len(events) == 1, events
    return events[0]


def sample_lines(name: str) -> list[str]:
    return (SAMPLES / name).read_text().splitlines()


def aliyun(name: str) -> tuple[str, str]:
    obj = json.loads((SAMPLES / "aliyun" / name).read_text())
    return json.dumps(obj["payload"]), obj["topic"]


def assert_normalized(event, dialect, type_, kind, subject, presence=None, time=None):
    assert (event.dialect, event.type, event.kind, event.subject, event.presence) == (
        dialect,
        type_,
        kind,
        subject,
        presence,
    )
    if time is not None:
        assert event.time == time


def test_cloudconnect_bare_presence_keeps_64_bit_ids():
    event = decode_one((SAMPLES / "cloudconnect-presence.json").read_text())
    assert_normalized(
        event, "cloudconnect", "disconnect", "disconnect", "357322041802978", "offline",
        datetime(2013, 6, 28, 9, 46, 21, tzinfo=timezone(timedelta(hours=2))),
    )
    assert event.raw["connection_id"] == 461799503595298293
    assert "reason=socket_closed" in event.summary
    assert "connection=461799503595298293" in event.summary


def test_cloudconnect_webhook_body_is_a_batch_of_envelopes():
    events = Decoder().decode((SAMPLES / "cloudconnect-webhook-body.json").read_text(), "/munic")
    assert [(e.type, e.kind, e.subject, e.presence) for e in events] == [
        ("connect", "connect", "357322041802978", "online"),
        ("disconnect", "disconnect", "357322041802978", "offline"),
        ("failed_connect", "error", None, None),
    ]
    assert all(e.dialect == "cloudconnect" and e.topic == "/munic" for e in events)
    assert events[0].raw["payload"]["id"] == 461799503595297635
    assert "account=municio" in events[0].summary


def test_cloudconnect_unknown_reason_still_renders():
    event = decode_one('{"type":"disconnect","asset":"1","connection_id":1,"reason":"solar_flare"}')
    assert event.summary.startswith("reason=solar_flare")


@pytest.mark.parametrize(
    "sample, type_, kind, subject, presence",
    [
        ("status.json", "thing.status", "disconnect", "0300MSKL03667c544f69342a74Sv4Za4", "offline"),
        ("properties.json", "thing.properties", "message", "0300MSKL03667c544f69342a74Sv4Za4", None),
        ("events.json", "thing.events", "message", "4z819VQHk6VSLmmBJfrf00107ee200", None),
        ("ota-forward.json", "ota.device.forward", "firmware", "0300MSKL03667c544f69342a74Sv4Za4", None),
        ("topo-add-status.json", "thing.topo.add.status", "lifecycle", "sub1", None),
    ],
)
def test_aliyun_samples(sample, type_, kind, subject, presence):
    text, topic = aliyun(sample)
    assert_normalized(decode_one(text, topic), "aliyun", type_, kind, subject, presence)


def test_aliyun_status_and_ota_codes_are_words():
    text, topic = aliyun("status.json")
    assert decode_one(text, topic).summary == "status=inactive"
    online = text.replace('"value": "0"', '"value": "1"')
    event = decode_one(online, topic)
    assert (event.kind, event.presence, event.summary) == ("connect", "online", "status=online")
    text, topic = aliyun("ota-forward.json")
    assert decode_one(text, topic).summary == "1.0.2 → 1.1.0 upgrading 45% downloading"
    failed = decode_one(text.replace('"upgradeStatus": 1', '"upgradeStatus": 3'), topic)
    assert (failed.kind, "failed" in failed.summary) == ("error", True)


def test_aliyun_properties_without_topic_or_method_are_inferred():
    text, _ = aliyun("properties.json")
    event = decode_one(text)
    assert (event.dialect, event.type) == ("aliyun", "thing.properties")
    assert event.time == datetime(2017, 11, 10, 5, 44, 57, 471000, tzinfo=UTC)


def test_aliyun_bind_reply_not_200_is_an_error():
    bind = json.loads((SAMPLES / "aliyun" / "bind.json").read_text())
    ok = decode_one(json.dumps(bind["reply"]), bind["reply_topic"])
    assert (ok.type, ok.kind, ok.subject) == ("account.bind_reply", "lifecycle", "X5eCzh6fEH7/5gJtxDVeGAkaEztpisjX")
    bad = dict(bind["reply"], code=460, message="request parameter error")
    event = decode_one(json.dumps(bad), bind["reply_topic"])
    assert event.kind == "error" and "code=460" in event.summary


def test_span_activity_events():
    events = [decode_one(line) for line in sample_lines("span-activity.ndjson")]
    assert [(e.type, e.kind, e.presence) for e in events] == [
        ("clientConnected", "connect", "online"),
        ("upstreamMessage", "message", None),
        ("clientDisconnected", "disconnect", "offline"),
    ]
    assert all(e.subject == "17kl14hm46h4c2" and not e.keepalive for e in events)
    assert events[0].time == datetime(2024, 4, 25, 20, 23, 36, tzinfo=UTC)
    assert events[1].summary == "bytes=9 transport=unspecified"


def test_span_keepalive_is_flagged():
    event = decode_one((SAMPLES / "span-keepalive.json").read_text())
    assert (event.dialect, event.type, event.keepalive) == ("span", "keepalive", True)
    nocoll = decode_one('{"deviceId":"d","event":"clientConnected"}')
    assert nocoll.keepalive


def test_span_unknown_event_still_renders():
    event = decode_one('{"collectionId":"c","deviceId":"d","event":"firmwareRolledBack"}')
    assert (event.type, event.kind) == ("firmwareRolledBack", "firmware")
    event = decode_one('{"collectionId":"c","deviceId":"d","event":"somethingNew"}')
    assert (event.type, event.kind) == ("somethingNew", "other")


def test_spaces_presence_categories():
    events = [decode_one(line) for line in sample_lines("spaces-presence.ndjson")]
    assert [(e.type, e.kind, e.subject, e.presence) for e in events] == [
        ("app.event.presence.party.online", "connect", "5f04251caa4a347af9945f06", "online"),
        ("app.event.presence.party.leaves", "disconnect", "5f0426ccaa4a34aaf9994cdf", "offline"),
        # The party whose presence changes is the removed attendee.
        ("party.removed", "disconnect", "5f0426ccaa4a34aaf9994cdf", "offline"),
        ("app.event.presence.request.parties", "other", "5f0426ccaa4a34aaf9994cdf", None),
        ("media.session.invalid", "error", "5f04251caa4a347af9946f06", None),
    ]
    assert all(e.dialect == "spaces" and e.time is None for e in events)
    assert "removed by Test User" in events[2].summary
    assert "topic=5eecfda30da7fa05033f15ef" in events[0].summary


def test_navixy_events():
    state, lifecycle, logout = (decode_one(line) for line in sample_lines("navixy-events.ndjson"))
    assert_normalized(state, "navixy", "state", "state", "10284", "online",
                      datetime(2018, 10, 17, 12, 51, 55, tzinfo=UTC))
    assert "connection=active" in state.summary and "at 14.33007,-90.99037" in state.summary
    assert_normalized(lifecycle, "navixy", "lifecycle", "lifecycle", "123456", "offline")
    assert lifecycle.summary == "block"
    assert_normalized(logout, "navixy", "logout", "lifecycle", None)


def test_navixy_atmosphere_frames():
    decoder = Decoder()
    events = [e for line in sample_lines("navixy-atmosphere-frames.txt") for e in decoder.decode(line)]
    assert [(e.type, e.keepalive) for e in events] == [
        ("handshake", True),
        ("heartbeat", True),
        ("response", False),
        ("lifecycle", False),
        ("heartbeat", True),
        ("error", False),
    ]
    assert events[0].summary == "uuid=5a4c9b8e-1f2d-4e3a-9b7c-0d1e2f3a4b5c interval=30000ms"
    assert events[5].kind == "error" and "Wrong user hash" in events[5].summary


def test_navixy_length_prefixed_message():
    body = '{"type":"event","event":"lifecycle","data":{"source_id":1,"lifecycle_event":"unblock"}}'
    (event,) = Decoder().decode(f"{len(body)}|{body}")
    assert (event.dialect, event.type, event.summary) == ("navixy", "lifecycle", "unblock")


@pytest.mark.parametrize(
    "payload, type_, kind, subject",
    [
        ('{"event":"deviceOnline","device":"x1"}', "deviceOnline", "connect", "x1"),
        ('{"type":"link_down","id":42}', "link_down", "other", "42"),
        ('{"method":"ota_failed","asset":"a"}', "ota_failed", "error", "a"),
        ('{"method":"ota_progress","asset":"a"}', "ota_progress", "firmware", "a"),
        ('{"hello":"world"}', None, "other", None),
    ],
)
def test_generic_fallback(payload, type_, kind, subject):
    event = decode_one(payload)
    assert (event.dialect, event.type, event.kind, event.subject) == ("generic", type_, kind, subject)


def test_forced_dialect_never_crashes_on_foreign_payloads():
    decoder = Decoder(dialect=dialects.get("spaces"))
    (event,) = decoder.decode('{"event":"clientConnected","deviceId":"d"}')
    assert event.dialect == "generic"  # spaces could not read it; nothing lost


def test_unknown_dialect_names_the_known_ones():
    from presencectl.errors import UnknownDialect

    with pytest.raises(UnknownDialect, match="known: cloudconnect, aliyun, span, spaces, navixy, generic"):
        dialects.get("nope")


def test_every_documented_type_has_a_valid_kind():
    for dialect in dialects.registry():
        for name, info in dialect.types.items():
            assert info.kind in KINDS, (dialect.name, name)
            assert info.presence in (None, "online", "offline")


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2024-04-25 20:23:36", datetime(2024, 4, 25, 20, 23, 36, tzinfo=UTC)),
        ("2013-06-28T09:40:02+02:00", datetime(2013, 6, 28, 7, 40, 2, tzinfo=UTC)),
        ("2020-08-04T13:11:48.376Z", datetime(2020, 8, 4, 13, 11, 48, 376000, tzinfo=UTC)),
        (1510292697471, datetime(2017, 11, 10, 5, 44, 57, 471000, tzinfo=UTC)),
        ("1510292697471", datetime(2017, 11, 10, 5, 44, 57, 471000, tzinfo=UTC)),
        (1510292697, datetime(2017, 11, 10, 5, 44, 57, tzinfo=UTC)),
        ("Tue, 25 Apr 2024 20:23:36 GMT", datetime(2024, 4, 25, 20, 23, 36, tzinfo=UTC)),
        ("not a time", None),
        (True, None),
        (None, None),
    ],
)
def test_time_shapes(value, expected):
    assert TimeParser()(value) == expected


def test_naive_times_take_the_configured_zone():
    parse = TimeParser(parse_zone("+02:00"))
    assert parse("2024-04-25 20:23:36") == datetime(2024, 4, 25, 18, 23, 36, tzinfo=UTC)
    oslo = TimeParser(parse_zone("Europe/Oslo"))
    assert oslo("2024-01-10 12:00:00") == datetime(2024, 1, 10, 11, 0, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_zone("Mars/Olympus")


def test_navixy_state_batch_is_one_event_per_tracker():
    frame = (
        '{"type":"event","event":"state_batch","data":['
        '{"source_id":1,"connection_status":"active","gps":{"speed":3}},'
        '{"source_id":2,"connection_status":"signal_lost"}]}'
    )
    events = Decoder().decode(frame, "sub")
    assert [(e.type, e.subject, e.presence, e.topic) for e in events] == [
        ("state_batch", "1", "online", "sub"),
        ("state_batch", "2", "offline", "sub"),
    ]
    from presencectl.core.filters import parse_where

    assert parse_where("data.gps.speed=3")(events[0])


def test_generic_failure_words_win_over_connect():
    event = decode_one('{"event":"connection_failed","device":"x"}')
    assert (event.kind, event.presence) == ("error", None)
