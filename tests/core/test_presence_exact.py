"""The presence tracker pinned field by field on one scenario, and as properties: the
parallel path (``compact`` + ``add_record``) equals ``add``, and the report's figures
agree with each other (found by mutation testing: ``tools/mutation.py presence``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from presencectl.core.events import Event, Marker
from presencectl.core.presence import Gap, PresenceTracker, compact, iso, seconds

T0 = datetime(2026, 3, 12, 8, 0, 0, tzinfo=UTC)
B = T0.timestamp()


def e(subject, presence, at, kind="state", etype="status", dialect="generic", received=None, raw=None):
    when = None if at is None else T0 + timedelta(seconds=at)
    return Event(dialect, etype, kind, subject, when, "", raw if raw is not None else {}, presence, None, None, received)


def scenario() -> list:
    """Connects, a disconnect, a gap, a late (out-of-order) event, a failed connect, a
    repeated connect with a new reason, a Navixy lifecycle event, an unparsed payload."""
    return [
        e("d1", "online", 0, "connect", "clientConnected", "span"),
        e("d1", "offline", 10, "disconnect", "clientDisconnected", "span"),
        e("d1", "online", 100, "connect", "clientConnected", "span"),
        e("d2", None, None, "message", "upstreamMessage", "span", received=B + 105),
        Event(None, None, None, None, None, "invalid JSON", None, None, "x{"),
        e("d1", "offline", 50, "disconnect", "clientDisconnected", "span"),
        e("a1", None, 104, "error", "failed_connect", "cloudconnect", raw={"reason": "bad_cert"}),
        e("a1", "online", 104.5, "connect", "connect", "cloudconnect", raw={"reason": "cold_boot"}),
        e("a1", "online", 104.75, "connect", "connect", "cloudconnect", raw={"reason": "warm_boot"}),
        e("n1", None, 103, "lifecycle", "lifecycle", "navixy", raw={"data": {"lifecycle_event": "unblock"}}),
        Marker("connected", B), Marker("reconnecting", B), Marker("connected", B),
    ]


def feed(tracker: PresenceTracker, items, parallel: bool = False) -> PresenceTracker:
    for item in items:
        if isinstance(item, Marker):
            tracker.marker(item)
        elif parallel:
            tracker.add_record(compact(item))
        else:
            tracker.add(item)
    return tracker


#: Checked by hand: d1 is offline 10 s..100 s (90 s, a gap too) and again from 100 s
#: (the late event at 50 s counts at d1's latest time) up to the end at 105 s: 95 s in
#: all; two of its three changes come within the flap window of the one before.
EXPECTED = {"schema": "presencectl.stats/1",
 "settings": {"clock": "event", "gap_s": 60.0, "flap_window_s": 300.0},
 "events": 10,
 "malformed": 1,
 "untimed": 1,
 "out_of_order": 5,
 "no_subject": 1,
 "failed_connects": 1,
 "first": "2026-03-12T08:00:00+00:00",
 "last": "2026-03-12T08:01:45+00:00",
 "span_s": 105.0,
 "rate_per_s": 0.085714,
 "markers": {"connected": 2, "reconnecting": 1},
 "presence": {"online": 1, "offline": 1, "unknown": 2},
 "counts": {"dialect": {"span": 5, "cloudconnect": 3, "unparsed": 1, "navixy": 1},
            "kind": {"connect": 4, "disconnect": 2, "unparsed": 1, "error": 1, "lifecycle": 1, "message": 1},
            "type": [{"dialect": "cloudconnect", "type": "connect", "kind": "connect", "count": 2},
                     {"dialect": "span", "type": "clientConnected", "kind": "connect", "count": 2},
                     {"dialect": "span", "type": "clientDisconnected", "kind": "disconnect", "count": 2},
                     {"dialect": "unparsed", "type": None, "kind": None, "count": 1},
                     {"dialect": "cloudconnect", "type": "failed_connect", "kind": "error", "count": 1},
                     {"dialect": "navixy", "type": "lifecycle", "kind": "lifecycle", "count": 1},
                     {"dialect": "span", "type": "upstreamMessage", "kind": "message", "count": 1}]},
 "gaps": [{"start": "2026-03-12T08:00:10+00:00", "end": "2026-03-12T08:01:40+00:00", "seconds": 90.0}],
 "gap_count": 1,
 "gap_total_s": 90.0,
 "subjects": [{"subject": "d1",
               "dialect": "span",
               "state": "offline",
               "state_since": "2026-03-12T08:01:40+00:00",
               "events": 4,
               "first_seen": "2026-03-12T08:00:00+00:00",
               "last_seen": "2026-03-12T08:01:40+00:00",
               "last_type": "clientDisconnected",
               "last_kind": "disconnect",
               "last_reason": "clientDisconnected",
               "last_offline": "2026-03-12T08:01:40+00:00",
               "connects": 2,
               "disconnects": 2,
               "failed_connects": 0,
               "errors": 0,
               "changes": 3,
               "flaps": 2,
               "offline_s": 95.0,
               "longest_offline_s": 90.0,
               "longest_offline_start": "2026-03-12T08:00:10+00:00",
               "longest_silence_s": 90.0},
              {"subject": "a1",
               "dialect": "cloudconnect",
               "state": "online",
               "state_since": "2026-03-12T08:01:44.500000+00:00",
               "events": 3,
               "first_seen": "2026-03-12T08:01:44+00:00",
               "last_seen": "2026-03-12T08:01:44.750000+00:00",
               "last_type": "connect",
               "last_kind": "connect",
               "last_reason": "warm_boot",
               "last_offline": None,
               "connects": 1,
               "disconnects": 0,
               "failed_connects": 1,
               "errors": 1,
               "changes": 0,
               "flaps": 0,
               "offline_s": 0.0,
               "longest_offline_s": 0.0,
               "longest_offline_start": None,
               "longest_silence_s": 0.5},
              {"subject": "d2",
               "dialect": "span",
               "state": None,
               "state_since": None,
               "events": 1,
               "first_seen": "2026-03-12T08:01:45+00:00",
               "last_seen": "2026-03-12T08:01:45+00:00",
               "last_type": "upstreamMessage",
               "last_kind": "message",
               "last_reason": None,
               "last_offline": None,
               "connects": 0,
               "disconnects": 0,
               "failed_connects": 0,
               "errors": 0,
               "changes": 0,
               "flaps": 0,
               "offline_s": 0.0,
               "longest_offline_s": 0.0,
               "longest_offline_start": None,
               "longest_silence_s": 0.0},
              {"subject": "n1",
               "dialect": "navixy",
               "state": None,
               "state_since": None,
               "events": 1,
               "first_seen": "2026-03-12T08:01:43+00:00",
               "last_seen": "2026-03-12T08:01:43+00:00",
               "last_type": "lifecycle",
               "last_kind": "lifecycle",
               "last_reason": "unblock",
               "last_offline": None,
               "connects": 0,
               "disconnects": 0,
               "failed_connects": 0,
               "errors": 0,
               "changes": 0,
               "flaps": 0,
               "offline_s": 0.0,
               "longest_offline_s": 0.0,
               "longest_offline_start": None,
               "longest_silence_s": 0.0}]}


# Clock skew (stats --clock auto): no event in this scenario has both a device
# time and a receive time, so every skew figure is empty.
EXPECTED["clock_skew"] = {"events": 0, "median_s": None, "limit_s": 300.0, "outliers": 0, "subjects": 0}
for _subject in EXPECTED["subjects"]:
    _subject.update(skew_median_s=None, skew_worst_s=None)


@pytest.mark.parametrize("parallel", [False, True], ids=["add", "add_record"])
def test_the_whole_report_of_one_scenario(parallel):
    assert feed(PresenceTracker(gap=60, flap_window=300), scenario(), parallel).report() == EXPECTED


def test_the_received_clock_and_other_settings():
    report = feed(PresenceTracker(gap=30, flap_window=50, clock="received", max_gaps=1), scenario()).report()
    assert {k: report[k] for k in ("settings", "untimed", "out_of_order", "first", "last", "span_s", "rate_per_s",
                                   "gaps", "gap_count", "gap_total_s")} == {"settings": {"clock": "received", "gap_s": 30.0, "flap_window_s": 50.0},
 "untimed": 1,
 "out_of_order": 5,
 "first": "2026-03-12T08:00:00+00:00",
 "last": "2026-03-12T08:01:45+00:00",
 "span_s": 105.0,
 "rate_per_s": 0.085714,
 "gaps": [{"start": "2026-03-12T08:00:10+00:00", "end": "2026-03-12T08:01:40+00:00", "seconds": 90.0}],
 "gap_count": 1,
 "gap_total_s": 90.0}
    # received times win over event times with this clock
    tracker = PresenceTracker(clock="received")
    tracker.add(e("x", "online", 0, received=B + 500))
    tracker.add(e("x", "offline", 1000, received=B + 510))
    assert tracker.report()["span_s"] == 10.0 and tracker.report()["subjects"][0]["offline_s"] == 0.0


def test_flap_window_edges():
    tracker = PresenceTracker(flap_window=10)
    for at, state in ((0, "online"), (5, "offline"), (15, "online"), (25.001, "offline"), (26, "offline")):
        tracker.add(e("s", state, at))
    (entry,) = tracker.report()["subjects"]
    # 15 - 5 = 10 is inside the window (inclusive), 25.001 - 15 is not; a repeat is no change
    assert (entry["changes"], entry["flaps"]) == (3, 1)


def test_gaps_keep_the_longest_in_time_order():
    tracker = PresenceTracker(gap=5, max_gaps=2)
    for at in (0, 10, 12, 30, 31, 40, 40):
        tracker.add(e("s", None, at))
    report = tracker.report()
    assert [(g["start"], g["seconds"]) for g in report["gaps"]] == [(iso(B), 10.0), (iso(B + 12), 18.0)]
    assert (report["gap_count"], report["gap_total_s"]) == (3, 37.0)
    # exactly the gap length is not a gap
    edge = PresenceTracker(gap=5)
    edge.add(e("s", None, 0))
    edge.add(e("s", None, 5))
    assert edge.gap_count == 0
    assert Gap(1.0, 3.0) < Gap(0.0, 3.0) and not Gap(0.0, 3.0) < Gap(1.0, 3.0) and Gap(5.0, 6.0) < Gap(0.0, 3.0)
    assert repr(Gap(1.0, 2.5)) == "Gap(1.0, 2.5)" and Gap(1.0, 2.5).seconds == 1.5


def test_nothing_timed_and_bad_settings():
    tracker = PresenceTracker()
    tracker.add(e("s", "online", None))
    report = tracker.report()
    assert (report["first"], report["last"], report["span_s"], report["rate_per_s"]) == (None, None, None, None)
    assert report["untimed"] == 1 and report["subjects"][0]["state_since"] is None
    single = PresenceTracker()
    single.add(e("s", None, 3))
    assert single.report()["span_s"] == 0.0 and single.report()["rate_per_s"] is None
    for kwargs, message in (({"flap_window": 0}, "flap window"), ({"gap": -1}, "gap"), ({"clock": "wall"}, "clock must be one of auto, event, received")):
        with pytest.raises(ValueError, match=message):
            PresenceTracker(**kwargs)
    assert iso(None) is None and iso(1e20) is None and iso(0.0) == "1970-01-01T00:00:00+00:00"
    assert seconds(None) is None and seconds(1.23456) == 1.235


# -- properties ---------------------------------------------------------------------------------

steps = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", None]),
        st.sampled_from(["online", "offline", None]),
        st.one_of(st.none(), st.floats(0, 1000, allow_nan=False)),
        st.sampled_from(["connect", "disconnect", "state", "error", "message"]),
        st.sampled_from(["status", "failed_connect", "lifecycle"]),
        st.sampled_from(["generic", "navixy", "cloudconnect", None]),
        st.one_of(st.none(), st.floats(0, 1000, allow_nan=False)),
    ),
    max_size=30,
)


def events_of(items):
    return [e(s, p, at, k, t, d, None if r is None else B + r, {"reason": "why", "data": {"lifecycle_event": "x"}})
            for s, p, at, k, t, d, r in items]


@given(items=steps, clock=st.sampled_from(["event", "received"]))
def test_the_parallel_records_give_the_same_report(items, clock):
    events = events_of(items)
    one = feed(PresenceTracker(gap=50, flap_window=100, clock=clock), events).report()
    two = feed(PresenceTracker(gap=50, flap_window=100, clock=clock), events, parallel=True).report()
    assert one == two


@given(items=steps)
def test_the_report_agrees_with_itself(items):
    tracker = feed(PresenceTracker(gap=50, flap_window=100), events_of(items))
    report = tracker.report()
    assert report["events"] == len(items) == sum(report["counts"]["dialect"].values()) == sum(report["counts"]["kind"].values())
    assert sum(t["count"] for t in report["counts"]["type"]) == len(items)
    assert report["no_subject"] == sum(1 for i in items if i[0] is None)
    assert sum(report["presence"].values()) == len(report["subjects"])
    assert sum(s["events"] for s in report["subjects"]) == len(items) - report["no_subject"]
    assert report["gap_count"] == len(report["gaps"]) and report["gap_total_s"] >= sum(g["seconds"] for g in report["gaps"]) - 0.002
    assert all(g["seconds"] > 50 for g in report["gaps"])
    for s in report["subjects"]:
        assert s["flaps"] <= s["changes"] and s["longest_offline_s"] <= s["offline_s"] + 1e-9
        assert s["failed_connects"] <= s["errors"]
        assert s["state"] is not None or (s["changes"] == 0 and s["state_since"] is None)
    ranks = [(-s["flaps"], -s["events"], s["subject"]) for s in report["subjects"]]
    assert ranks == sorted(ranks)
