"""The replay scheduler and player, with a fake clock: no sockets, no sleeping."""

from __future__ import annotations

import itertools
import json
from datetime import UTC
from pathlib import Path

import pytest

from presencectl.core.decode import Decoder
from presencectl.core.events import Frame, Marker
from presencectl.core.filters import parse_filters
from presencectl.core.player import Player, TimingStats
from presencectl.core.replay import (
    Point,
    ReplayOptions,
    Schedule,
    format_offset,
    parse_point,
    parse_speed,
)
from presencectl.errors import UsageError

T0 = 1_773_302_400.0  # the capture's "started"


class FakeClock:
    """Time moves only when the player sleeps; each sleep may overshoot by ``lag``."""

    def __init__(self, lag: float = 0.0, start: float = 5000.0) -> None:
        self.t = start
        self.lag = lag
        self.sleeps = 0

    def now(self) -> float:
        return self.t

    def sleep_until(self, deadline: float) -> None:
        self.sleeps += 1
        self.t = max(self.t, deadline) + self.lag


def frames(*offsets: float | None, text: str = "f{}") -> list[Frame]:
    return [Frame(text.format(i), None if o is None else T0 + o) for i, o in enumerate(offsets)]


def schedule(records, warnings=None, **kw) -> Schedule:
    options = ReplayOptions(**{k: v for k, v in kw.items() if k in ReplayOptions.__slots__})
    extra = {k: v for k, v in kw.items() if k not in ReplayOptions.__slots__}
    extra.setdefault("origin", T0)
    return Schedule(
        lambda: list(records),
        options,
        warn=(warnings.append if warnings is not None else None),
        **extra,
    )


def dues(sched) -> list[float | None]:
    return [None if s.due is None else round(s.due, 6) for s in sched]


def texts(sched) -> list[str]:
    return [s.record.data for s in sched if isinstance(s.record, Frame)]


# -- speed ------------------------------------------------------------------


def test_real_time_dues_are_the_recorded_offsets():
    assert dues(schedule(frames(0.0, 0.5, 2.0, 2.25))) == [0.0, 0.5, 2.0, 2.25]


def test_speed_divides_every_due_time():
    assert dues(schedule(frames(0.0, 1.0, 3.0), speed=10)) == [0.0, 0.1, 0.3]


def test_half_speed_doubles_them():
    assert dues(schedule(frames(1.0, 2.0), speed=0.5)) == [2.0, 4.0]


def test_speed_max_has_no_due_times_and_the_player_never_sleeps():
    sched = schedule(frames(0.0, 5.0, 60.0), speed=None)
    clock = FakeClock()
    sent = []
    Player(iter(sched), clock).run(lambda item: sent.append(item.record.data))
    assert sent == ["f0", "f1", "f2"]
    assert clock.sleeps == 0


def test_first_frame_waits_for_its_offset_from_the_capture_start():
    # The header says the capture started 3 s before the first frame.
    assert dues(schedule(frames(3.0, 4.0))) == [3.0, 4.0]


def test_origin_defaults_to_the_first_record():
    assert dues(schedule(frames(3.0, 4.0), origin=None)) == [0.0, 1.0]


def test_a_header_start_after_the_first_frame_is_ignored():
    assert dues(schedule(frames(0.0, 1.0), origin=T0 + 10)) == [0.0, 1.0]


# -- max gap ----------------------------------------------------------------


def test_max_gap_caps_idle_gaps_in_capture_time():
    assert dues(schedule(frames(0.0, 1.0, 100.0, 101.0), max_gap=2.0)) == [0.0, 1.0, 3.0, 4.0]


def test_max_gap_applies_before_speed():
    assert dues(schedule(frames(0.0, 100.0), max_gap=2.0, speed=4)) == [0.0, 0.5]


def test_max_gap_zero_sends_everything_at_once_in_order():
    sched = schedule(frames(0.0, 3.0, 9.0), max_gap=0.0)
    assert dues(sched) == [0.0, 0.0, 0.0]


def test_virtual_time_keeps_the_capture_offsets():
    items = list(schedule(frames(0.0, 1.0, 100.0), max_gap=2.0))
    assert [i.offset for i in items] == [0.0, 1.0, 100.0]


def test_a_long_gap_without_max_gap_gets_one_hint():
    warnings: list[str] = []
    list(schedule(frames(0.0, 7200.0, 20000.0), warnings))
    assert len(warnings) == 1 and "--max-gap" in warnings[0]


# -- window -----------------------------------------------------------------


def test_from_and_until_offsets_pick_a_window_and_the_clock_starts_at_from():
    sched = schedule(frames(*range(11)), start=Point(offset=3.0), end=Point(offset=6.0))
    items = list(sched)
    assert texts(items) == ["f3", "f4", "f5", "f6"]
    assert dues(items) == [0.0, 1.0, 2.0, 3.0]
    assert sched.outside == 4  # f0..f2, and f7 ends the window


def test_from_and_until_absolute_times():
    sched = schedule(frames(*range(11)), start=Point(time=T0 + 2.5), end=Point(time=T0 + 4.0))
    items = list(sched)
    assert texts(items) == ["f3", "f4"]
    assert dues(items) == [0.5, 1.5]


def test_until_before_the_first_frame_sends_nothing():
    assert list(schedule(frames(5.0, 6.0), end=Point(offset=1.0))) == []


def test_from_before_the_capture_start_starts_at_the_start():
    assert dues(schedule(frames(0.0, 1.0), start=Point(time=T0 - 3600))) == [0.0, 1.0]


# -- loops ------------------------------------------------------------------


def test_loops_continue_on_the_same_clock():
    sched = schedule(frames(1.0, 2.0, 3.0), loops=3)
    items = list(sched)
    assert texts(items) == ["f0", "f1", "f2"] * 3
    assert dues(items) == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
    assert [i.loop for i in items] == [1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert sched.loops_done == 3


def test_a_loop_of_a_window_lasts_the_whole_window():
    # --until 5s: each loop is 5 s long even though the last frame is at 2 s.
    sched = schedule(frames(1.0, 2.0, 9.0), loops=2, end=Point(offset=5.0))
    assert dues(sched) == [1.0, 2.0, 6.0, 7.0]


def test_the_gap_between_loops_is_capped_too():
    sched = schedule(frames(10.0, 11.0), loops=2, max_gap=1.0)
    assert dues(sched) == [1.0, 2.0, 3.0, 4.0]


def test_loop_zero_repeats_forever():
    items = list(itertools.islice(schedule(frames(0.0, 1.0), loops=0, origin=None), 101))
    assert len(items) == 101
    assert items[-1].loop == 51


def test_loop_forever_over_an_empty_window_ends():
    sched = schedule(frames(0.0, 1.0), loops=0, start=Point(offset=50.0))
    assert list(sched) == []
    assert sched.loops_done == 1


def test_each_loop_reads_the_records_again():
    opened = []

    def records():
        opened.append(1)
        return iter(frames(0.0, 1.0))

    sched = Schedule(records, ReplayOptions(loops=3), origin=T0)
    assert len(list(sched)) == 6
    assert len(opened) == 3


# -- times that go backwards, missing times ----------------------------------


def test_backwards_times_replay_in_file_order_with_one_warning():
    warnings: list[str] = []
    sched = schedule(frames(0.0, 5.0, 3.0, 6.0, 2.0, 7.0), warnings)
    items = list(sched)
    assert texts(items) == ["f0", "f1", "f2", "f3", "f4", "f5"]
    # A late record goes right after its predecessor; the rest keep their times.
    assert dues(items) == [0.0, 5.0, 5.0, 6.0, 6.0, 7.0]
    assert sched.backwards == 2
    assert len(warnings) == 1 and "backwards" in warnings[0]


def test_records_without_a_time_follow_their_predecessor():
    assert dues(schedule(frames(0.0, None, 2.0, None))) == [0.0, 0.0, 2.0, 2.0]


def test_a_capture_with_no_times_at_all_goes_out_at_once():
    assert dues(schedule(frames(None, None), origin=None)) == [0.0, 0.0]


# -- markers ----------------------------------------------------------------


def test_markers_are_scheduled_at_their_times():
    records = [
        Marker("connected", T0 + 0.1),
        Frame("a", T0 + 1.0),
        Marker("disconnected", T0 + 2.0, "lost"),
        Marker("connected", T0 + 4.0),
        Frame("b", T0 + 4.5),
    ]
    items = list(schedule(records))
    assert [type(i.record).__name__ for i in items] == ["Marker", "Frame", "Marker", "Marker", "Frame"]
    assert dues(items) == [0.1, 1.0, 2.0, 4.0, 4.5]


def test_a_window_with_only_markers_does_not_loop_forever():
    sched = schedule([Marker("connected", T0)], loops=0)
    assert len(list(sched)) == 1


# -- filters ----------------------------------------------------------------


def span(event: str, device: str, time: str | None = None) -> str:
    obj = {"event": event, "deviceId": device, "collectionId": "c1"}
    if time:
        obj["time"] = time
    return json.dumps(obj)


def decode(frame: Frame):
    return Decoder().decode(frame.data, frame.topic, frame.t)


def test_filters_pick_frames_and_the_clock_keeps_the_recorded_gaps():
    records = [
        Frame(span("clientConnected", "d1"), T0 + 1),
        Frame(span("upstreamMessage", "d1"), T0 + 2),
        Frame(span("firmwareCheck", "d1"), T0 + 3),
        Frame(span("firmwareCurrent", "d2"), T0 + 5),
    ]
    filt = parse_filters(types=["firmware*"])
    sched = schedule(records, decode=decode, filt=filt)
    items = list(sched)
    assert [i.events[0].type for i in items] == ["firmwareCheck", "firmwareCurrent"]
    assert dues(items) == [3.0, 5.0]
    assert sched.filtered == 2


def test_a_batch_frame_is_sent_whole_when_any_event_matches():
    batch = json.dumps([json.loads(span("clientConnected", "d1")), json.loads(span("firmwareCheck", "d2"))])
    records = [Frame(batch, T0), Frame(span("clientConnected", "d3"), T0 + 1)]
    items = list(schedule(records, decode=decode, filt=parse_filters(subjects=["d2"])))
    assert [i.record.data for i in items] == [batch]


def test_filters_need_a_decoder():
    with pytest.raises(ValueError):
        Schedule(lambda: [], ReplayOptions(), filt=parse_filters(types=["x"]))


# -- plain NDJSON: event times and --rate ----------------------------------


def plain(*texts_: str) -> list[Frame]:
    return [Frame(t) for t in texts_]


def test_plain_ndjson_replays_by_the_events_own_times():
    records = plain(
        span("clientConnected", "d1", "2024-04-25 20:23:36"),
        span("upstreamMessage", "d1", "2024-04-25 20:23:38"),
        span("clientDisconnected", "d1", "2024-04-25 20:23:41"),
    )
    sched = schedule(records, timing="event", decode=decode, origin=None)
    assert dues(sched) == [0.0, 2.0, 5.0]


def test_event_timing_is_dialect_aware_epoch_millis_and_offsets():
    records = plain(
        json.dumps({"method": "thing.status", "params": {"iotId": "x", "time": 1510292697471}}),
        json.dumps({"type": "connect", "asset": "351", "connection_id": 1, "time": "2017-11-10T06:44:59.971+01:00"}),
    )
    sched = schedule(records, timing="event", decode=decode, origin=None)
    assert dues(sched) == [0.0, 2.5]


def test_event_timing_frames_before_the_first_time_go_with_it():
    records = plain(
        json.dumps({"hello": 1}),
        span("clientConnected", "d1", "2024-04-25 20:23:36"),
        json.dumps({"no": "time"}),
        span("clientConnected", "d1", "2024-04-25 20:23:37"),
    )
    assert dues(schedule(records, timing="event", decode=decode, origin=None)) == [0.0, 0.0, 0.0, 1.0]


def test_event_timing_without_any_time_asks_for_rate():
    records = plain(json.dumps({"a": 1}), "not json")
    with pytest.raises(UsageError, match="--rate"):
        list(schedule(records, timing="event", decode=decode, origin=None))


def test_rate_paces_frames_evenly():
    sched = schedule(plain("a", "b", "c", "d"), timing="rate", rate=4.0, origin=None)
    assert dues(sched) == [0.0, 0.25, 0.5, 0.75]


def test_rate_counts_only_the_frames_that_are_sent():
    records = plain(span("a1", "d1"), span("b", "d1"), span("a2", "d1"), span("a3", "d1"))
    sched = schedule(records, timing="rate", rate=2.0, decode=decode, filt=parse_filters(types=["a*"]), origin=None)
    assert dues(sched) == [0.0, 0.5, 1.0]


def test_rate_and_speed_multiply():
    assert dues(schedule(plain("a", "b", "c"), timing="rate", rate=10.0, speed=2, origin=None)) == [0.0, 0.05, 0.1]


def test_rate_loops_keep_the_pace_across_the_seam():
    assert dues(schedule(plain("a", "b"), timing="rate", rate=2.0, loops=2, origin=None)) == [0.0, 0.5, 1.0, 1.5]


def test_rate_with_an_offset_window():
    sched = schedule(plain(*"abcdef"), timing="rate", rate=1.0, start=Point(offset=2), end=Point(offset=4), origin=None)
    assert texts(sched) == ["c", "d", "e"]


def test_rate_refuses_absolute_times():
    with pytest.raises(UsageError, match="offset"):
        schedule(plain("a"), timing="rate", rate=1.0, start=Point(time=T0))


# -- the player -------------------------------------------------------------


def test_player_delivers_at_due_times_from_one_start():
    clock = FakeClock()
    at = []
    Player(iter(schedule(frames(0.0, 0.5, 2.0))), clock).run(lambda item: at.append(clock.t - 5000.0))
    assert [round(a, 6) for a in at] == [0.0, 0.5, 2.0]


def test_sleep_overshoot_never_accumulates():
    # Every sleep overshoots by 1 ms; due times are measured from one start,
    # so the 1000th frame is still only 1 ms late, not 1 s.
    clock = FakeClock(lag=0.001)
    player = Player(iter(schedule(frames(*[i * 0.01 for i in range(1, 1001)]))), clock)
    at = []
    player.run(lambda item: at.append(clock.t - 5000.0))
    assert round(at[-1] - 10.0, 6) == 0.001
    assert player.stats.count == 1000
    assert round(player.stats.max, 6) == 0.001


def test_a_slow_delivery_makes_the_next_frame_late_but_not_the_rest():
    clock = FakeClock()

    def deliver(item):
        if item.record.data == "f1":
            clock.t += 0.3  # e.g. a slow HTTP answer

    player = Player(iter(schedule(frames(0.0, 0.1, 0.2, 1.0))), clock)
    player.run(deliver)
    assert round(player.stats.max, 6) == 0.2  # f2 was due at 0.2, went at 0.4
    assert player.stats.count == 4


def test_pause_and_resume_on_the_same_clock():
    clock = FakeClock()
    records = [Frame("a", T0), Marker("disconnected", T0 + 1), Frame("b", T0 + 2), Frame("c", T0 + 10)]
    player = Player(iter(schedule(records)), clock)
    got = []

    def deliver(item):
        got.append(getattr(item.record, "data", None) or item.record.mark)
        if isinstance(item.record, Marker):
            player.pause()

    assert player.run(deliver) is False
    clock.t += 5.0  # the client takes 5 s to come back
    assert player.run(deliver) is True
    assert got == ["a", "disconnected", "b", "c"]
    # "b" fell due while paused: sent at once and not counted as late;
    # markers are never counted.
    assert player.stats.count == 2
    assert player.stats.max == 0.0
    assert round(clock.t - 5000.0, 6) == 10.0


# -- parsing and stats ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", 1.0), ("10", 10.0), ("0.5", 0.5), ("10x", 10.0), ("max", None), ("MAX", None), ("inf", None)],
)
def test_parse_speed(text, expected):
    assert parse_speed(text) == expected


@pytest.mark.parametrize("text", ["0", "-1", "0x", "fast", "", "nan", "-inf"])
def test_parse_speed_refuses(text):
    with pytest.raises(UsageError, match="--speed"):
        parse_speed(text)


def test_parse_point_offsets_and_times():
    assert parse_point("90s", UTC, "--from") == Point(offset=90.0)
    assert parse_point("5m", UTC, "--from") == Point(offset=300.0)
    assert parse_point("90", UTC, "--from") == Point(offset=90.0)
    assert parse_point("2026-03-12 08:00:05", UTC, "--from") == Point(time=T0 + 5)
    assert parse_point("2026-03-12T09:00:05+01:00", UTC, "--from") == Point(time=T0 + 5)
    with pytest.raises(UsageError, match="--until"):
        parse_point("soon", UTC, "--until")


def test_format_offset():
    assert format_offset(0) == "0:00.0"
    assert format_offset(75.25) == "1:15.2"
    assert format_offset(3723) == "1:02:03"


def test_timing_stats_percentiles():
    stats = TimingStats()
    for i in range(1, 101):
        stats.add(i / 1000.0)
    assert stats.percentile(0.5) == 0.05
    assert stats.percentile(0.99) == 0.099
    assert stats.max == 0.1
    assert "p99 99.0 ms" in stats.describe()


def test_timing_stats_keep_a_bounded_sample():
    stats = TimingStats(keep=100)
    for _ in range(10_000):
        stats.add(0.001)
    stats.add(0.5)
    assert stats.count == 10_001
    assert stats.max == 0.5
    assert len(stats._samples) == 100


def test_timing_stats_merge():
    a, b = TimingStats(), TimingStats()
    a.add(0.001)
    b.add(0.003)
    b.add(-0.002)
    a.merge(b)
    assert a.count == 3
    assert a.max == 0.003


def test_bad_options_are_refused():
    with pytest.raises(UsageError):
        Schedule(lambda: [], ReplayOptions(speed=0))
    with pytest.raises(UsageError):
        Schedule(lambda: [], ReplayOptions(max_gap=-1))
    with pytest.raises(UsageError):
        Schedule(lambda: [], ReplayOptions(loops=-1))
    with pytest.raises(UsageError):
        Schedule(lambda: [], ReplayOptions(), timing="rate")


def test_the_core_module_imports_no_clock_thread_or_socket():
    import ast

    import presencectl.core.replay as module

    tree = ast.parse(Path(module.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & {"time", "threading", "socket", "asyncio", "select", "websockets"}


def test_a_record_before_the_start_without_from_is_out_of_order_not_outside():
    warnings: list[str] = []
    sched = schedule(frames(5.0, 6.0, -3600.0, 7.0), warnings)
    assert texts(sched) == ["f0", "f1", "f2", "f3"]
    assert sched.outside == 0 and sched.backwards == 1


def test_player_calls_idle_before_each_wait_so_batching_targets_flush():
    clock = FakeClock()
    events: list[str] = []
    player = Player(iter(schedule(frames(0.0, 0.0, 0.5, 2.0))), clock)
    player.idle = lambda: events.append("flush")
    player.run(lambda item: events.append("send"))
    # Frames due together go out back to back; before every wait, a flush.
    assert events == ["send", "send", "flush", "send", "flush", "send"]
