"""core/expect.py: steps, --within, --never, presence steps and the verdict, with time passed in."""

from __future__ import annotations

import pytest

from presencectl.core.events import Event
from presencectl.core.expect import Expectation, parse_expr, parse_never, parse_plan, parse_presence
from presencectl.errors import FilterSyntaxError, UsageError


def span(etype: str, subject: str = "dev1", presence: str | None = None, kind: str = "message", **data) -> Event:
    return Event("span", etype, kind, subject, None, "", {"event": etype, "deviceId": subject, "data": data}, presence)


CONNECT = span("clientConnected", presence="online", kind="connect")
DISCONNECT = span("clientDisconnected", presence="offline", kind="disconnect")
FW_OLD = span("firmwareCurrent", kind="firmware", version="1.4.2")
FW_NEW = span("firmwareCurrent", kind="firmware", version="1.5.0")
ERROR = span("imeiMismatch", kind="error")
NOISE = span("upstreamMessage", subject="other")


def run(expectation: Expectation, timeline: list[tuple[float, Event | None]]):
    """Feed (time, event) pairs (None: time passes); returns every outcome line."""
    lines = []
    for now, event in timeline:
        outcomes = expectation.advance(now) if event is None else expectation.event(event, now)
        lines += [o.line() for o in outcomes]
        if expectation.done:
            break
    return lines


def test_expr_terms_map_onto_the_filter_options():
    f = parse_expr("subject=dev* type=firmwareCurrent data.version=1.5.0")
    assert f(FW_NEW) and not f(FW_OLD) and not f(CONNECT)
    assert parse_expr("kind=error")(ERROR) and not parse_expr("kind=error")(FW_NEW)
    assert parse_expr("type=!upstream* subject=dev1")(CONNECT)
    assert not parse_expr("type=!client*")(CONNECT)
    assert parse_expr("data.version~^1\\.5")(FW_NEW)
    assert parse_expr("'summary=' type=clientConnected")(CONNECT)


@pytest.mark.parametrize("bad", ["", "   ", "kind=nosuch", "data.version", "x~(", "'unclosed"])
def test_a_bad_expr_is_a_usage_error_naming_it(bad):
    with pytest.raises(FilterSyntaxError, match="bad expression|empty expression"):
        parse_expr(bad)


def test_plan_keeps_command_line_order_and_within_applies_to_the_step_before():
    steps = parse_plan([("step", "type=a"), ("within", "1m"), ("presence", "dev*=online"), ("step", "type=b"), ("within", "5")])
    assert [(s.number, s.expr, s.within) for s in steps] == [(1, "type=a", 60.0), (2, "dev*=online", None), (3, "type=b", 5.0)]
    assert steps[1].subject == "dev*" and steps[1].state == "online" and steps[1].matches is None
    assert steps[1].name == "step 2: presence dev*=online"


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([("within", "5")], "must follow"),
        ([("step", "type=a"), ("within", "5"), ("within", "6")], "two --within"),
        ([("step", "type=a"), ("within", "soon")], "bad --within"),
        ([("step", "type=a"), ("within", "0")], "bad --within"),
        ([("presence", "dev1")], "bad --presence"),
        ([("presence", "dev1=up")], "bad --presence"),
        ([("presence", "=online")], "bad --presence"),
    ],
)
def test_plan_errors(items, message):
    with pytest.raises(UsageError, match=message):
        parse_plan(items)


def test_parse_presence_takes_the_last_equals_sign():
    assert parse_presence("a=b=OFFLINE") == ("a=b", "offline")


def test_all_steps_pass_in_order_with_times():
    steps = parse_plan([("step", "type=clientConnected"), ("within", "60"), ("step", "type=firmwareCurrent data.version=1.5.0")])
    e = Expectation(steps, start=100.0)
    lines = run(e, [(101, NOISE), (102, FW_NEW), (103, CONNECT), (104, FW_OLD), (110, FW_NEW)])
    assert lines == [
        "PASS step 1: type=clientConnected  clientConnected dev1 after 3.0 s",
        "PASS step 2: type=firmwareCurrent data.version=1.5.0  firmwareCurrent dev1 after 7.0 s",
    ]
    assert e.done
    verdict = e.verdict()
    assert verdict.passed and verdict.status == 0 and verdict.elapsed == 10
    assert verdict.line() == "PASSED: 2/2 steps passed in 10 s"


def test_within_counts_from_the_previous_match_and_fails_at_the_deadline():
    steps = parse_plan([("step", "type=clientConnected"), ("step", "type=firmwareCurrent"), ("within", "5")])
    e = Expectation(steps, start=0.0)
    assert e.due() is None  # step 1 has no limit
    run(e, [(50, CONNECT)])
    assert e.due() == 55
    assert run(e, [(54.9, None)]) == []
    lines = run(e, [(56, FW_NEW)])  # arrives too late: failed at 55, not passed
    assert lines == ["FAIL step 2: type=firmwareCurrent  no match within 5.0 s after 5.0 s"]
    verdict = e.verdict()
    assert verdict.status == 3 and verdict.reason == "step 2: type=firmwareCurrent: no match within 5.0 s"
    assert [o is not None and o.passed for _, o in verdict.steps] == [True, False]


def test_the_overall_deadline_bounds_every_step():
    steps = parse_plan([("step", "type=clientConnected"), ("within", "60")])
    e = Expectation(steps, start=0.0, deadline=10.0)
    assert e.due() == 10
    assert run(e, [(10, None)]) == ["FAIL step 1: type=clientConnected  no match before the --deadline of 10 s after 10 s"]


def test_never_fails_at_once_even_on_an_event_that_passes_a_step():
    steps = parse_plan([("step", "kind=error")])
    e = Expectation(steps, [parse_never("type=imeiMismatch")], start=0.0)
    lines = run(e, [(1, CONNECT), (2, ERROR)])
    assert lines == ["FAIL never: type=imeiMismatch  imeiMismatch dev1  matched after 2.0 s"]
    verdict = e.verdict()
    assert verdict.status == 3 and verdict.reason == "--never 'type=imeiMismatch' matched"
    assert verdict.steps[0][1] is None  # not reached
    assert verdict.to_dict()["steps"][0]["status"] == "not reached"
    assert verdict.to_dict()["never"][0]["status"] == "failed"


def test_nevers_alone_pass_when_the_deadline_ends_the_watch():
    e = Expectation([], [parse_never("kind=error")], start=0.0, deadline=30.0)
    run(e, [(1, CONNECT), (29, FW_NEW)])
    assert not e.done
    run(e, [(31, None)])
    assert e.done and e.verdict().passed


def test_the_stream_ending_first_fails_the_current_step():
    steps = parse_plan([("step", "type=clientConnected"), ("step", "type=firmwareCurrent")])
    e = Expectation(steps, start=0.0)
    run(e, [(1, CONNECT)])
    lines = [o.line() for o in e.end(4.0)]
    assert lines == ["FAIL step 2: type=firmwareCurrent  the stream ended first after 3.0 s"]
    assert e.verdict().status == 3


def test_presence_steps_follow_the_tracker_and_pass_at_once_when_the_state_already_holds():
    steps = parse_plan([("presence", "dev*=offline"), ("presence", "dev1=online"), ("presence", "dev1=online")])
    e = Expectation(steps, start=0.0)
    lines = run(e, [(1, NOISE), (2, FW_NEW), (3, CONNECT)])
    assert lines == []  # first sight online: not offline
    lines = run(e, [(4, DISCONNECT), (5, FW_NEW), (6, CONNECT)])
    assert lines == [
        "PASS step 1: presence dev*=offline  clientDisconnected dev1 after 4.0 s",
        "PASS step 2: presence dev1=online  clientConnected dev1 after 2.0 s",
        "PASS step 3: presence dev1=online  clientConnected dev1 after 0.00 s",
    ]
    assert e.verdict().passed


def test_a_capture_starts_the_clock_at_its_first_time_and_untimed_events_still_match():
    steps = parse_plan([("step", "type=clientConnected"), ("within", "2")])
    e = Expectation(steps)
    run(e, [(1000.0, NOISE)])
    assert e.due() == 1002.0
    e2 = Expectation(parse_plan([("step", "type=clientConnected")]))
    assert run(e2, [(None, CONNECT)]) == ["PASS step 1: type=clientConnected  clientConnected dev1"]  # type: ignore[list-item]


def test_hostile_payload_text_is_escaped_in_lines():
    evil = span("client\x1b[2JConnected", subject="d\x07")
    e = Expectation(parse_plan([("step", "type=client*")]), start=0.0)
    (line,) = run(e, [(1, evil)])
    assert "\x1b" not in line and "\x07" not in line and "\\x1b" in line
