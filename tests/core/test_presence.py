"""The presence tracker: every dialect's presence events, from real payloads, and the definitions."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from presencectl.core.decode import Decoder
from presencectl.core.events import Event, Marker
from presencectl.core.presence import (
    REPORT_KEYS,
    SCHEMA,
    SUBJECT_KEYS,
    PresenceTracker,
    is_failed_connect,
    reason_of,
)
from presencectl.engine.runner import Pipeline, run_cat
from presencectl.ui.console import Environment
from tests.conftest import FIXTURES, fixture

SAMPLES = FIXTURES / "samples"
T0 = datetime(2026, 3, 12, 8, 0, 0, tzinfo=UTC)


def track(name: str, **options) -> PresenceTracker:
    """A tracker fed a fixture file exactly as `stats` feeds it (keep-alives hidden)."""
    tracker = PresenceTracker(**options)
    env = Environment(stdout=io.BytesIO(), stderr=io.StringIO(), stdout_isatty=False, stderr_isatty=False, environ={})
    pipeline = Pipeline(Decoder(), None, None, None, on_event=tracker.add)
    pipeline.marker = lambda m: tracker.marker(m)  # type: ignore[method-assign]
    run_cat(env, [str(fixture(name))], pipeline)
    return tracker


def track_texts(texts: list[str], topic: str | None = None, received: float | None = None) -> PresenceTracker:
    tracker = PresenceTracker()
    decoder = Decoder()
    for text in texts:
        for event in decoder.decode(text, topic, received):
            tracker.add(event)
    return tracker


def subject(tracker: PresenceTracker, name: str) -> dict:
    return next(s for s in tracker.report()["subjects"] if s["subject"] == name)


def figures(entry: dict, *keys: str) -> tuple:
    return tuple(entry[k] for k in keys)


def ev(subject_: str | None, presence: str | None, at: float | None, kind: str = "state",
       etype: str = "status", dialect: str = "generic", received: float | None = None) -> Event:
    """A synthetic event ``at`` seconds after T0."""
    when = T0 + timedelta(seconds=at) if at is not None else None
    return Event(dialect, etype, kind, subject_, when, "", {}, presence, received=received)


# ------------------------------------------------------------------- span
def test_span_reconnect_storm_is_thirteen_flaps():
    tracker = track("span-activity.capture.ndjson")
    storm = subject(tracker, "17kl14hm46h5aa")
    # 7 disconnect/reconnect pairs within two minutes: 14 changes, the first
    # of which has no earlier change to be close to.
    assert figures(storm, "state", "connects", "disconnects", "changes", "flaps") == ("offline", 8, 8, 15, 13)
    assert storm["longest_offline_s"] == 11.0
    assert storm["longest_offline_start"] == "2026-03-12T08:06:50+00:00"
    assert storm["last_reason"] == "clientDisconnected"


def test_span_firmware_reboot_is_one_flap_and_idle_device_shows_its_silence():
    tracker = track("span-activity.capture.ndjson")
    rebooted = subject(tracker, "17kl14hm46h4c2")
    assert figures(rebooted, "connects", "disconnects", "flaps", "offline_s", "longest_offline_s") == (2, 2, 1, 19.0, 19.0)
    quiet = subject(tracker, "17kl14hm46h4d9")
    # The idle gap: nothing from 08:08:20 (imsiMismatch) to 08:12:00.
    assert quiet["longest_silence_s"] == 220.0
    assert figures(quiet, "errors", "failed_connects", "flaps") == (1, 0, 0)


def test_span_stream_figures():
    report = track("span-activity.capture.ndjson").report()
    assert report["events"] == 109  # 126 lines: header, a marker, 15 keep-alives hidden
    assert (report["first"], report["last"], report["span_s"]) == (
        "2026-03-12T08:00:02+00:00", "2026-03-12T08:15:05+00:00", 903.0)
    assert report["presence"] == {"online": 0, "offline": 3, "unknown": 0}
    assert report["markers"] == {"connected": 1}
    assert report["counts"]["dialect"] == {"span": 109}
    assert report["counts"]["type"][0] == {"dialect": "span", "type": "upstreamMessage", "kind": "message", "count": 77}
    assert report["gap_count"] == 0


def test_span_sample_connect_message_disconnect():
    tracker = track_texts((SAMPLES / "span-activity.ndjson").read_text().splitlines())
    entry = subject(tracker, "17kl14hm46h4c2")
    assert figures(entry, "state", "connects", "disconnects", "flaps", "events") == ("offline", 1, 1, 0, 3)
    assert entry["last_offline"] == "2024-04-25T20:23:37+00:00"


def test_span_keepalive_counts_only_when_shown():
    hidden = track("span-activity.capture.ndjson")
    assert "keepalive" not in {t for (_, t) in hidden.by_type}
    tracker = PresenceTracker()
    for event in Decoder().decode((SAMPLES / "span-keepalive.json").read_text()):
        tracker.add(event)
    assert tracker.events == 1 and not tracker.subjects


# ------------------------------------------------------------ cloudconnect
def test_cloudconnect_connects_disconnects_and_reasons():
    tracker = track("cloudconnect.capture.ndjson")
    flaky = subject(tracker, "357322041809902")
    assert figures(flaky, "state", "connects", "disconnects", "flaps", "offline_s", "last_reason") == (
        "online", 4, 3, 5, 12.0, "cold_boot")
    other = subject(tracker, "357322041803011")
    assert figures(other, "state", "connects", "disconnects", "flaps") == ("online", 2, 1, 1)


def test_cloudconnect_failed_connect_has_no_subject_but_is_counted():
    tracker = track("cloudconnect.capture.ndjson")
    report = tracker.report()
    assert report["failed_connects"] == 2
    assert report["no_subject"] == 2
    assert all(s["failed_connects"] == 0 for s in report["subjects"])


def test_cloudconnect_stale_sample_does_not_open_a_decade_long_outage():
    # The capture ends with the vendor's 2013 example batch, after 2026 events.
    tracker = track("cloudconnect.capture.ndjson")
    entry = subject(tracker, "357322041802978")
    assert entry["state"] == "offline"
    assert entry["offline_s"] == 8.0
    assert entry["last_reason"] == "network_activity_timeout"
    assert tracker.report()["out_of_order"] == 3


def test_cloudconnect_bare_sample_disconnect_reason():
    tracker = track_texts([(SAMPLES / "cloudconnect-presence.json").read_text()])
    entry = subject(tracker, "357322041802978")
    # First sight is an explicit disconnect: it counts, and the device is offline from then on.
    assert figures(entry, "state", "disconnects", "changes", "last_reason") == ("offline", 1, 0, "socket_closed")


def test_failed_connect_with_a_subject_counts_for_it():
    body = json.dumps({"type": "failed_connect", "reason": "unknown_device", "asset": "357322041802978",
                       "connection_id": 1, "time": "2026-03-12T10:00:00+02:00"})
    tracker = track_texts([body])
    entry = subject(tracker, "357322041802978")
    assert figures(entry, "failed_connects", "errors", "state", "last_reason") == (1, 1, None, "unknown_device")
    assert is_failed_connect(Decoder().decode(body)[0])


# ------------------------------------------------------------------ aliyun
def aliyun_status(value: str, at_ms: int) -> str:
    obj = json.loads((SAMPLES / "aliyun" / "status.json").read_text())["payload"]
    obj["params"]["status"] = {"time": at_ms, "value": value}
    return json.dumps(obj)


def test_aliyun_thing_status_1_and_3():
    tracker = track("aliyun.capture.ndjson")
    entry = subject(tracker, "0300MSKL03667c544f69342a74Sv4Za4")
    # online 08:00:03, offline 08:04:36, online 08:04:41 (a flap), offline 08:10:40.
    assert figures(entry, "state", "connects", "disconnects", "flaps", "offline_s", "last_reason") == (
        "offline", 2, 2, 1, 5.0, "offline")
    assert entry["state_since"] == "2026-03-12T08:10:40+00:00"


@pytest.mark.parametrize("value, state, reason", [("0", "offline", "inactive"), ("1", "online", "online"),
                                                   ("3", "offline", "offline"), ("8", "offline", "disabled")])
def test_aliyun_status_values(value, state, reason):
    topic = json.loads((SAMPLES / "aliyun" / "status.json").read_text())["topic"]
    tracker = track_texts([aliyun_status(value, 1510292697471)], topic)
    entry = subject(tracker, "0300MSKL03667c544f69342a74Sv4Za4")
    assert (entry["state"], entry["last_reason"]) == (state, reason)


def test_aliyun_properties_carry_no_presence():
    tracker = track("aliyun.capture.ndjson")
    assert subject(tracker, "sub1")["state"] is None
    assert tracker.report()["presence"] == {"online": 0, "offline": 1, "unknown": 3}


# ------------------------------------------------------------------ spaces
def test_spaces_online_leaves_removed():
    tracker = track("spaces.capture.ndjson")
    left = subject(tracker, "5f0426ccaa4a34aaf9994cdf")
    # online 08:00:40, leaves 08:07:00, removed 08:10:00 (still offline: no new change).
    assert figures(left, "state", "connects", "disconnects", "changes", "last_reason", "offline_s") == (
        "offline", 1, 1, 1, "party.removed", 180.0)
    stayed = subject(tracker, "5f04251caa4a347af9945f06")
    # party.online three times (an idle update in between) is one connect.
    assert figures(stayed, "state", "connects", "disconnects", "events") == ("online", 1, 0, 3)
    assert subject(tracker, "5f04251caa4a347af9946f06")["state"] is None  # media.session.invalid


def test_spaces_without_receive_time_is_counted_but_not_placed():
    tracker = track_texts((SAMPLES / "spaces-presence.ndjson").read_text().splitlines())
    report = tracker.report()
    assert report["untimed"] == report["events"] == 5
    assert report["first"] is None and report["span_s"] is None and report["rate_per_s"] is None
    left = subject(tracker, "5f0426ccaa4a34aaf9994cdf")
    assert left["state"] == "offline" and left["flaps"] == 0


def test_spaces_online_with_offline_flag_is_offline():
    obj = json.loads((SAMPLES / "spaces-presence.ndjson").read_text().splitlines()[0])
    obj["content"]["offline"] = True
    tracker = track_texts([json.dumps(obj)], received=T0.timestamp())
    entry = subject(tracker, obj["sender"]["_id"])
    assert (entry["state"], entry["last_reason"]) == ("offline", "party.online (offline)")


# ------------------------------------------------------------------ navixy
def test_navixy_connection_status_signal_lost_and_back():
    tracker = track("navixy.capture.ndjson")
    entry = subject(tracker, "10284")
    # active … signal_lost 08:03:20 … active 08:04:20: one drop, one flap, a minute away;
    # the first "active" is a status report, not a connect.
    assert figures(entry, "state", "connects", "disconnects", "flaps", "offline_s", "last_reason") == (
        "online", 1, 1, 1, 60.0, "active")
    assert tracker.report()["markers"] == {"connected": 1, "disconnected": 1}


def test_navixy_lifecycle_block_and_unblock():
    tracker = track("navixy.capture.ndjson")
    entry = subject(tracker, "123456")
    # block 08:06:40.3 → offline until the end (08:09:59); unblock carries no presence but is the reason.
    assert figures(entry, "state", "connects", "disconnects", "last_reason") == ("offline", 0, 0, "unblock")
    assert entry["offline_s"] == pytest.approx(198.7)


def test_navixy_sample_block():
    lines = (SAMPLES / "navixy-events.ndjson").read_text().splitlines()
    tracker = track_texts(lines)
    assert (subject(tracker, "123456")["state"], subject(tracker, "123456")["last_reason"]) == ("offline", "block")
    assert subject(tracker, "10284")["state"] == "online"


# ------------------------------------------------------------- definitions
def test_flap_window_boundary_and_first_change():
    tracker = PresenceTracker(flap_window=60)
    for event in [ev("d", "online", 0, "connect"), ev("d", "offline", 100, "disconnect"),
                  ev("d", "online", 160, "connect"), ev("d", "offline", 221, "disconnect")]:
        tracker.add(event)
    s = tracker.subjects["d"]
    # 100: first change (no flap); 160: exactly 60 s after (a flap); 221: 61 s after (not).
    assert (s.changes, s.flaps, s.connects, s.disconnects) == (3, 1, 2, 2)


def test_first_sight_by_status_report_is_not_a_connect():
    tracker = PresenceTracker()
    tracker.add(ev("d", "online", 0, "state"))
    tracker.add(ev("d", "online", 10, "state"))
    tracker.add(ev("d", "offline", 20, "state"))
    s = tracker.subjects["d"]
    assert (s.connects, s.disconnects, s.changes, s.state) == (0, 1, 1, "offline")


def test_offline_time_and_open_period_counted_to_the_end():
    tracker = PresenceTracker()
    for event in [ev("d", "offline", 0, "disconnect"), ev("d", "online", 30, "connect"),
                  ev("d", "offline", 100, "disconnect"), ev("other", None, 150)]:
        tracker.add(event)
    entry = tracker.subjects["d"].to_dict(tracker.last_t)
    assert (entry["offline_s"], entry["longest_offline_s"], entry["longest_offline_start"]) == (
        80.0, 50.0, (T0 + timedelta(seconds=100)).isoformat())


def test_gaps_are_longer_than_the_threshold_and_out_of_order_events_open_none():
    tracker = PresenceTracker(gap=60)
    for at in (0, 60, 200, 150, 230, 400):
        tracker.add(ev("d", None, at))
    assert [(g.start - T0.timestamp(), g.seconds) for g in tracker.gaps] == [(60.0, 140.0), (230.0, 170.0)]
    assert (tracker.gap_count, tracker.out_of_order) == (2, 1)


def test_only_the_longest_gaps_are_kept():
    tracker = PresenceTracker(gap=1, max_gaps=2)
    at = 0.0
    for length in (5, 9, 2, 7):
        at += length
        tracker.add(ev("d", None, at))
    assert sorted(g.seconds for g in tracker.gaps) == [7.0, 9.0]
    assert (tracker.gap_count, tracker.gap_total) == (3, 18.0)  # the first event opens nothing


def test_clock_received_and_fallbacks():
    event = ev("d", "online", 0, "connect", received=T0.timestamp() + 500)
    untimed = ev("d", None, None)
    by_event = PresenceTracker()
    by_received = PresenceTracker(clock="received")
    for tracker in (by_event, by_received):
        tracker.add(event)
        tracker.add(untimed)
        tracker.add(ev("d", None, 10))  # no receive time: falls back to the event time
    assert by_event.first_t == T0.timestamp() and by_event.untimed == 1
    assert by_received.last_t == T0.timestamp() + 500 and by_received.first_t == T0.timestamp() + 10


def test_untimed_state_changes_count_but_add_no_time():
    tracker = PresenceTracker()
    for presence in ("online", "offline", "online"):
        tracker.add(ev("d", presence, None, "connect" if presence == "online" else "disconnect"))
    s = tracker.subjects["d"]
    assert (s.changes, s.flaps, s.offline_total, tracker.untimed) == (2, 0, 0.0, 3)


def test_markers_are_counted():
    tracker = PresenceTracker()
    tracker.marker(Marker("connected", 1.0))
    tracker.marker(Marker("reconnecting", 2.0))
    tracker.marker(Marker("connected", 3.0))
    assert tracker.report()["markers"] == {"connected": 2, "reconnecting": 1}


@pytest.mark.parametrize("kwargs", [{"flap_window": 0}, {"gap": -1}, {"clock": "wall"}])
def test_bad_settings(kwargs):
    with pytest.raises(ValueError):
        PresenceTracker(**kwargs)


def test_malformed_payloads_are_counted():
    report = track("malformed.capture.ndjson").report()
    assert report["malformed"] == 8
    assert report["counts"]["dialect"]["unparsed"] == 8
    assert report["counts"]["kind"]["unparsed"] == 8


# ----------------------------------------------------------------- schema
def test_report_keys_are_the_documented_schema():
    assert SCHEMA == "presencectl.stats/1"
    assert REPORT_KEYS == (
        "schema", "settings", "events", "malformed", "untimed", "out_of_order", "no_subject",
        "failed_connects", "first", "last", "span_s", "rate_per_s", "markers", "presence", "counts",
        "gaps", "gap_count", "gap_total_s", "subjects", "clock_skew",
    )
    assert SUBJECT_KEYS == (
        "subject", "dialect", "state", "state_since", "events", "first_seen", "last_seen", "last_type",
        "last_kind", "last_reason", "last_offline", "connects", "disconnects", "failed_connects", "errors",
        "changes", "flaps", "offline_s", "longest_offline_s", "longest_offline_start", "longest_silence_s",
        "skew_median_s", "skew_worst_s",
    )
    report = track("span-activity.capture.ndjson").report()
    assert tuple(report) == REPORT_KEYS
    assert all(tuple(s) == SUBJECT_KEYS for s in report["subjects"])


def test_subjects_are_ranked_by_flaps_then_events():
    report = track("mixed.capture.ndjson.gz").report()
    ranks = [(-s["flaps"], -s["events"], s["subject"]) for s in report["subjects"]]
    assert ranks == sorted(ranks)
    assert report["subjects"][0]["subject"] == "17kl14hm46h5aa"


# ---------------------------------------------------------- hostile input
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(
    dialect=st.sampled_from(["cloudconnect", "aliyun", "span", "spaces", "navixy", "generic", None]),
    raw=st.dictionaries(st.sampled_from(["payload", "params", "data", "content", "reason", "status"]), json_values),
    presence=st.sampled_from(["online", "offline", None]),
    kind=st.sampled_from(["connect", "disconnect", "error", "lifecycle", "state", None]),
    etype=st.none() | st.text(max_size=20),
)
def test_any_payload_is_tracked_without_raising(dialect, raw, presence, kind, etype):
    event = Event(dialect, etype, kind, "s", None, "", raw, presence)
    reason = reason_of(event)
    assert reason is None or isinstance(reason, str)
    tracker = PresenceTracker()
    tracker.add(event)
    tracker.add(Event("navixy", "lifecycle", "lifecycle", "s", None, "", raw, None))
    json.dumps(tracker.report())
