"""The pure parts of the capture tools: pseudonyms, topics, windows, the diff of two reports."""

from __future__ import annotations

import re
from datetime import UTC

import pytest

from presencectl.core.anonymise import Anonymiser
from presencectl.core.capdiff import TypedTracker, compare
from presencectl.core.events import Event
from presencectl.core.replay import Point, parse_window, window_bounds
from presencectl.errors import UsageError


@pytest.mark.parametrize(
    "original, shape",
    [
        ("357322041802978", r"[1-9]\d{14}"),  # IMEI: 15 digits
        ("0300123", r"0\d{6}"),  # a leading zero stays
        ("9223372036854775807", r"[1-8]\d{18}"),  # 19 digits stay below 2**63
        ("5f0426ccaa4a34aaf9994cdf", r"[0-9a-f]{24}"),  # hex stays hex
        ("9b18ed68-1009-4441-e01c-9c577db2897f", r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
        ("X5eCzh6fEH7", r"[A-Z]\d[a-z][A-Z][a-z]{2}\d[a-z][A-Z]{2}\d"),  # letters keep their case
        ("test@user.com", r"user-[0-9a-f]{8}@example\.invalid"),
        ("192.168.1.20", r"10\.\d{1,3}\.\d{1,3}\.\d{1,3}"),
        ("+4790000000", r"\+[1-9]\d{9}"),
    ],
)
def test_pseudonyms_keep_the_shape_and_differ(original, shape):
    pseudonym = Anonymiser(b"key").pseudonym(original)
    assert re.fullmatch(shape, pseudonym), pseudonym
    assert pseudonym != original


def test_pseudonyms_depend_on_the_key_only():
    assert Anonymiser(b"a").pseudonym("17kl14hm46h4c2") == Anonymiser(b"a").pseudonym("17kl14hm46h4c2")
    assert Anonymiser(b"a").pseudonym("17kl14hm46h4c2") != Anonymiser(b"b").pseudonym("17kl14hm46h4c2")


def test_ints_stay_ints_and_id_twins_agree():
    anon = Anonymiser(b"k")
    out = anon.value({"meta": {"event": "presence", "account": "municio"},
                      "payload": {"id": 461799503595297636, "id_str": "461799503595297636", "type": "connect", "asset": "357322041802978"}})
    assert isinstance(out["payload"]["id"], int) and str(out["payload"]["id"]) == out["payload"]["id_str"]
    assert out["payload"]["type"] == "connect" and out["meta"]["event"] == "presence"


def test_topics_use_the_dialect_patterns_consistently_with_payloads():
    anon = Anonymiser(b"k")
    topic = anon.topic("/sys/a1pk/dev-0042/app/down/thing/status")
    payload = anon.value({"method": "thing.status", "params": {"productKey": "a1pk", "deviceName": "dev-0042"}}, topic)
    assert topic == f"/sys/{payload['params']['productKey']}/{payload['params']['deviceName']}/app/down/thing/status"
    assert anon.topic("/sys/a1pk/+/app/down/#").endswith("/+/app/down/#")


def test_free_text_loses_addresses_and_known_ids():
    anon = Anonymiser(b"k")
    anon.value({"deviceId": "17kl14hm46h4c2", "event": "x"})
    text = anon.text("device 17kl14hm46h4c2 (imei 357322041802978) at 192.168.1.20 mailed bob@corp.example")
    for original in ("17kl14hm46h4c2", "357322041802978", "192.168.1.20", "bob@corp.example"):
        assert original not in text
    assert text.startswith("device ") and anon.counts["text: known id"] == 1


def test_atmosphere_frames_are_rebuilt_with_new_lengths():
    anon = Anonymiser(b"k")
    body = '{"type":"event","event":"state","data":{"source_id":10284}}'
    out = anon.payload(f"{len(body)}|{body}", None)
    length, _, rest = out.partition("|")
    assert int(length) == len(rest) and "10284" not in rest
    assert anon.payload("X", None) == "X"
    assert anon.payload("not json at all", None) is None


def test_window_is_shared_by_replay_and_slice():
    start, end = parse_window("2m", "5m", UTC)
    assert (start, end) == (Point(offset=120.0), Point(offset=300.0))
    assert window_bounds(1000.0, 1000.5, start, end) == (1120.0, 1300.0)
    assert window_bounds(1000.0, 990.0, start, None) == (1110.0, None)  # an earlier first record moves the origin
    with pytest.raises(UsageError, match="before --from"):
        parse_window("5m", "2m", UTC)


def _event(subject, etype, kind, presence, t):
    from datetime import datetime

    return Event("span", etype, kind, subject, datetime.fromtimestamp(t, UTC), "", {}, presence)


def test_compare_reports_measures_and_only_in_one():
    def tracker(events):
        t = TypedTracker()
        for e in events:
            t.add(e)
        return t

    a = tracker([_event("d1", "clientConnected", "connect", "online", 0), _event("d1", "clientDisconnected", "disconnect", "offline", 10)])
    b = tracker([_event("d1", "clientConnected", "connect", "online", 100), _event("d2", "clientConnected", "connect", "online", 105)])
    same = compare("a", a.report(), a.subject_types, "a", a.report(), a.subject_types)
    assert same["same"] and same["differences"] == 0
    doc = compare("a", a.report(), a.subject_types, "b", b.report(), b.subject_types)
    assert not doc["same"] and doc["only_in_b"] == ["d2"] and doc["only_in_a"] == []
    d1 = next(s for s in doc["subjects"] if s["subject"] == "d1")
    rows = {r["measure"]: (r["a"], r["b"]) for r in d1["measures"]}
    assert rows["disconnects"] == (1, 0) and rows["type clientDisconnected"] == (1, 0)
    assert rows["first seen (offset s)"] == (0.0, 0.0)  # offsets from each capture's start
