"""Live sessions: the driver's policy with a fake clock, then ``tail``/``record``
end to end against real loopback servers (the CLI as a subprocess)."""

from __future__ import annotations

import base64
import gzip
import io
import json
import os
import signal
import socket
import sys
from http import HTTPStatus
from pathlib import Path

import pytest

from presencectl.core.decode import Decoder
from presencectl.core.events import Frame, Marker
from presencectl.engine.runner import Pipeline
from presencectl.engine.session import Backoff, Ending, Session, problem_with
from presencectl.errors import UsageError
from presencectl.transports.base import CannotConnect, ConnectionLost
from presencectl.ui.console import Environment, Output
from tests.conftest import assert_no_traceback, fixture, free_port, run_cli, wait_until
from tests.live_support import (
    NAVIXY_SUBSCRIBE,
    SPAN_FRAMES,
    SPAN_KEEPALIVE,
    SPAN_LINES,
    TOKEN,
    Cli,
    ConnectProxy,
    NavixyScenario,
    WsServer,
    capture_lines,
    frames_of,
    frames_so_far,
    make_cert,
    marks_of,
    no_proxy_env,
    post,
    server_tls,
    span_scenario,
    stream_scenario,
)

# The driver, with a scripted source and a fake clock.


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


class ScriptedSource:
    """Plays a script: ("frame", text) | ("lost", cause, clean) | ("idle", seconds).

    ``connects`` lists what each connect() does: a detail string, or a
    CannotConnect to raise.
    """

    endpoint = "ws://fake.example/x"
    transport = "websocket"
    markers = True

    def __init__(self, clock: FakeClock, script: list[tuple], connects: list[str | CannotConnect] | None = None) -> None:
        self.clock = clock
        self.script = list(script)
        self.connects = list(connects or ["HTTP 101"])
        self.done_calls: list[tuple[object, str | None]] = []
        self.closed = 0
        self.connect_times: list[float] = []
        self.ready = False

    def connect(self) -> str:
        self.connect_times.append(self.clock.now)
        result = self.connects.pop(0) if self.connects else "HTTP 101"
        if isinstance(result, CannotConnect):
            raise result
        return result

    def receive(self, timeout: float | None) -> Frame | None:
        if not self.script:
            raise AssertionError("the session read past the end of the script")
        step = self.script.pop(0)
        if step[0] == "frame":
            return Frame(step[1], self.clock.now)
        if step[0] == "lost":
            raise ConnectionLost(self.endpoint, step[1], clean=step[2])
        if step[0] == "idle":
            assert timeout is not None
            spent = min(timeout, step[1])
            self.clock.now += spent
            if spent < step[1]:
                self.script.insert(0, ("idle", step[1] - spent))
            return None
        if step[0] == "advance":
            self.clock.now += step[1]
            return self.receive(timeout)
        raise AssertionError(step)

    def pending(self) -> bool:
        return self.ready

    def done(self, frame: Frame, problem: str | None) -> None:
        self.done_calls.append((frame.data, problem))

    def close(self) -> None:
        self.closed += 1


class BatchingSource(ScriptedSource):
    """The same script, with a burst's frames (``ready``) handed over in one
    go by ``take_ready()``, as the WebSocket source does."""

    def take_ready(self) -> list[Frame]:
        taken = []
        while self.ready and self.script and self.script[0][0] == "frame":
            taken.append(Frame(self.script.pop(0)[1], self.clock.now))
        return taken


#: Every session test (``@both_sources``) runs with both kinds of source: one frame per receive(), or batches.
SOURCES = {"one-by-one": ScriptedSource, "batches": BatchingSource}
SOURCE = ScriptedSource


@pytest.fixture
def source_kind(request, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "SOURCE", SOURCES[request.param])
    return request.param


def both_sources(test):
    """Run a session test once with each kind of source."""
    test = pytest.mark.usefixtures("source_kind")(test)
    return pytest.mark.parametrize("source_kind", list(SOURCES), indirect=True)(test)


class ListRecorder:
    def __init__(self) -> None:
        self.records: list[Frame | Marker] = []

    def frame(self, frame: Frame) -> None:
        self.records.append(frame)

    def marker(self, marker: Marker) -> None:
        self.records.append(marker)

    def flush(self) -> None:
        pass

    def close(self, keep_empty: bool = True) -> None:
        pass

    def marks(self) -> list[tuple[str, str | None]]:
        return [(r.mark, r.detail) for r in self.records if isinstance(r, Marker)]


class CountingStream(io.BytesIO):
    flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        super().flush()


def make_session(script, connects=None, *, limit=None, counter=None, **kwargs):
    clock = FakeClock()
    source = SOURCE(clock, script, connects)
    recorder = ListRecorder()
    stream = CountingStream()
    output = Output(stream, live=False)
    pipeline = Pipeline(Decoder(), None, lambda e: (e.type or "-").encode() + b"\n", output, limit, recorder)  # type: ignore[arg-type]
    env = Environment(stdout=io.BytesIO(), stderr=io.StringIO(), stdout_isatty=False, stderr_isatty=False, environ={})
    session = Session(
        source, pipeline, env, counter=counter, clock=clock, wall=clock, sleep=clock.sleep, rand=lambda: 0.0, **kwargs
    )
    return session, source, recorder, env, clock, stream


EVENT = SPAN_LINES[0]
LOGOUT = NavixyScenario.LOGOUT


def test_backoff_doubles_up_to_the_cap():
    backoff = Backoff(jitter=0)
    assert [backoff.delay(n) for n in range(9)] == [0.5, 1, 2, 4, 8, 16, 30, 30, 30]
    assert backoff.delay(10_000) == 30


def test_backoff_jitter_stays_between_half_and_full():
    backoff = Backoff()
    assert backoff.delay(3, lambda: 0.0) == 4.0
    assert backoff.delay(3, lambda: 1.0) == 2.0
    assert backoff.delay(50, lambda: 0.999) >= 15 and backoff.delay(50, lambda: 0.0) == 30


@both_sources
def test_reconnects_with_backoff_markers_and_notices():
    refused = CannotConnect("ws://fake.example/x", "connection refused (is the server running?)")
    session, source, recorder, env, clock, _ = make_session(
        [("frame", EVENT), ("lost", "connection reset by peer", False), ("frame", EVENT), ("frame", LOGOUT)],
        ["HTTP 101", refused, refused, "HTTP 101, sent 1 message"],
    )
    ending = session.run()
    assert ending == Ending("logout", "the server ended the session (Navixy logout)")
    assert clock.sleeps == [0.5, 1.0, 2.0]
    assert recorder.marks() == [
        ("connected", "HTTP 101"),
        ("disconnected", "connection reset by peer"),
        ("reconnecting", "attempt 1 in 0.5 s"),
        ("reconnecting", "attempt 2 in 1.0 s"),
        ("reconnecting", "attempt 3 in 2.0 s"),
        ("connected", "HTTP 101, sent 1 message"),
    ]
    assert [type(r).__name__ for r in recorder.records].count("Frame") == 3
    lines = env.stderr.getvalue().splitlines()
    assert lines == [
        "presencectl: connected to ws://fake.example/x (HTTP 101)",
        "presencectl: warning: ws://fake.example/x: connection lost: connection reset by peer; reconnecting in 0.5 s (attempt 1)",
        "presencectl: warning: ws://fake.example/x: reconnect failed: connection refused (is the server running?); reconnecting in 1.0 s (attempt 2)",
        "presencectl: warning: ws://fake.example/x: reconnect failed: connection refused (is the server running?); reconnecting in 2.0 s (attempt 3)",
        "presencectl: reconnected to ws://fake.example/x (HTTP 101, sent 1 message)",
    ]
    assert session.reconnects == 1 and source.closed == 1
    assert "1 reconnect" in session.summary()


@both_sources
def test_backoff_keeps_growing_over_short_connections_and_resets_after_a_stable_one():
    session, source, _, _, clock, _ = make_session(
        [
            ("lost", "reset", False),
            ("lost", "reset", False),
            ("advance", 31.0),
            ("lost", "reset", False),
            ("frame", LOGOUT),
        ]
    )
    session.run()
    assert clock.sleeps == [0.5, 1.0, 0.5]


@both_sources
def test_a_fatal_error_while_reconnecting_ends_the_session():
    fatal = CannotConnect("ws://fake.example/x", "HTTP 401 Unauthorized on the WebSocket upgrade", fatal=True)
    session, source, recorder, _, _, _ = make_session([("lost", "reset", False)], ["HTTP 101", fatal])
    with pytest.raises(CannotConnect, match="HTTP 401"):
        session.run()
    assert source.closed == 1


@both_sources
def test_the_first_connect_failure_is_raised_at_once():
    refused = CannotConnect("ws://fake.example/x", "connection refused")
    session, source, recorder, _, clock, _ = make_session([], [refused])
    with pytest.raises(CannotConnect):
        session.run()
    assert recorder.records == [] and clock.sleeps == [] and session.state == "connecting"


@both_sources
def test_without_reconnect_a_loss_raises_and_a_clean_close_ends():
    session, *_ = make_session([("frame", EVENT), ("lost", "reset", False)], reconnect=False)
    with pytest.raises(ConnectionLost, match="reset"):
        session.run()
    session, _, recorder, *_ = make_session([("lost", "closed by the server (1000 normal closure)", True)], reconnect=False)
    assert session.run() == Ending("closed", "closed by the server (1000 normal closure)")
    assert recorder.marks()[-1] == ("disconnected", "closed by the server (1000 normal closure)")


@both_sources
def test_idle_timeout_counts_from_the_last_message_and_ignores_keepalives():
    session, _, _, _, clock, _ = make_session(
        [("advance", 3.0), ("frame", EVENT), ("advance", 4.0), ("frame", SPAN_KEEPALIVE), ("idle", 100.0)],
        idle_timeout=5.0,
    )
    started = clock.now
    assert session.run() == Ending("timeout", "no message for 5 s")
    assert clock.now - started == pytest.approx(8.0)  # 3 s, the event, then 5 s of keep-alives only


@both_sources
def test_idle_timeout_while_reconnecting():
    refused = CannotConnect("ws://fake.example/x", "refused")
    session, _, _, _, clock, _ = make_session(
        [("frame", EVENT), ("lost", "reset", False)], ["HTTP 101", refused, refused, refused], idle_timeout=2.0
    )
    started = clock.now
    assert session.run().reason == "timeout"
    assert clock.sleeps == [0.5, 1.0, 0.5]  # the last wait stops at the deadline
    assert clock.now - started == pytest.approx(2.0)


@both_sources
def test_limit_ends_the_session_and_the_frame_is_acknowledged():
    session, source, *_ = make_session([("frame", EVENT), ("frame", EVENT), ("frame", EVENT)], limit=2)
    assert session.run().reason == "limit"
    assert len(source.done_calls) == 2


@both_sources
def test_done_carries_the_reason_a_payload_cannot_be_read():
    session, source, *_ = make_session(
        [("frame", EVENT), ("frame", "garbage{"), ("frame", '{"a":1}\nnot json'), ("frame", ""), ("frame", LOGOUT)]
    )
    session.run()
    problems = [problem for _, problem in source.done_calls]
    assert problems[0] is None and problems[2] is None and problems[3] is None
    assert problems[1] is not None and problems[1].startswith("invalid JSON")


def test_problem_with():
    decoder = Decoder()
    assert problem_with(decoder.decode("[1, 2]")) == "batch element 0 is a number, not an object"
    assert problem_with(decoder.decode('[1, {"a": 1}]')) is None
    assert problem_with([]) is None


@both_sources
def test_output_is_flushed_only_when_the_source_has_nothing_buffered():
    session, source, _, _, _, stream = make_session([("frame", EVENT)] * 5 + [("frame", LOGOUT)])
    source.ready = True  # a burst: everything already buffered
    session.run()
    assert stream.flushes == 0 and stream.getvalue() == b""  # still queued in Output
    session.pipeline.close()
    assert stream.getvalue().count(b"\n") == 6
    session, source, _, _, _, stream = make_session([("frame", EVENT)] * 5 + [("frame", LOGOUT)])
    session.run()
    assert stream.flushes == 6 and stream.getvalue().count(b"\n") == 6


@both_sources
@pytest.mark.parametrize("ender", ["logout", "limit"])
def test_a_burst_ends_at_the_frame_that_ends_the_session(ender):
    """Taken one by one or as one batch, a burst stops at the same frame:
    the same frames recorded, the same lines shown, the rest left unread."""
    script = [("frame", EVENT)] * 3 + [("frame", LOGOUT if ender == "logout" else EVENT)] + [("frame", EVENT)] * 2
    session, source, recorder, _, _, stream = make_session(script, limit=4 if ender == "limit" else None)
    source.ready = True
    ending = session.run()
    session.pipeline.close()
    assert ending.reason == ender
    assert len([r for r in recorder.records if isinstance(r, Frame)]) == 4
    assert stream.getvalue().count(b"\n") == 4


@both_sources
def test_live_counter_is_drawn_and_erased():
    counter = io.StringIO()
    session, *_ = make_session([("frame", EVENT), ("idle", 1.0), ("frame", LOGOUT)], counter=counter, capture="x.ndjson")
    session.run()
    text = counter.getvalue()
    assert "\r\x1b[K● connected  1 frames  1 events  0:00:00  → x.ndjson" in text
    assert text.endswith("\r\x1b[K")


# Usage errors (no network).


@pytest.mark.parametrize(
    "args, message",
    [
        (["http://127.0.0.1:8088/x"], "needs --listen"),
        (["ws://127.0.0.1:9/x", "--listen"], "--listen takes an http:// URL"),
        (["gopher://broker"], "unsupported source gopher://"),
        (["mqtt://broker", "-H", "X: y"], "-H cannot be used with"),
        (["fixtures/navixy.capture.ndjson", "-H", "X: y"], "-H cannot be used with a file source"),
        (["http://127.0.0.1:8088/x", "--listen", "--send", "x"], "--send cannot be used with the webhook receiver"),
        (["ws://127.0.0.1:9/x", "--basic-auth", "a:b"], "--basic-auth cannot be used with a WebSocket source"),
        (["ws://127.0.0.1:9/x", "-H", "no colon"], "bad header"),
        (["ws://127.0.0.1:9/x", "--send-file", "/nonexistent/sub.json"], "--send-file /nonexistent/sub.json"),
        (["ws://127.0.0.1:9/x", "--timeout", "soon"], "bad --timeout"),
        (["ws://127.0.0.1:9/x", "--insecure"], "need a wss:// URL"),
        (["wss://127.0.0.1:9/x", "--cacert", "/nonexistent.pem"], "--cacert /nonexistent.pem: no such file"),
        (["http://127.0.0.1:8088/x", "--listen", "--max-body", "big"], "bad --max-body"),
        (["http://127.0.0.1:8088/x", "--listen", "--basic-auth", "nocolon"], "bad --basic-auth"),
    ],
)
def test_usage_errors(args, message):
    result = run_cli("tail", *args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1 and message in lines[0], lines
    assert_no_traceback(result)


def test_record_needs_a_file_name():
    result = run_cli("record", "ws://127.0.0.1:9/x", "-o", "-")
    assert result.returncode == 2 and b"needs a file name" in result.stderr


def test_source_kind_and_build_source_are_pure():
    from presencectl.cli.commands.live import ConnectArgs, build_source, source_kind

    assert source_kind("WSS://h/x", False) == "websocket"
    assert source_kind("http://h:1/x", True) == "webhook"
    assert source_kind("-", False) == "file"
    assert source_kind("dir/file.ndjson", False) == "file"
    env = Environment(stdout=io.BytesIO(), stderr=io.StringIO(), environ={})
    source = build_source("wss://u:p@h/x?token=t", "websocket", ConnectArgs(headers=["X-A: 1"]), env)
    assert source.endpoint == "wss://REDACTED:REDACTED@h/x?token=REDACTED"
    with pytest.raises(UsageError):
        build_source("ws://h/x", "websocket", ConnectArgs(ping_interval="-1"), env)


# End to end: tail and record over a real WebSocket.


def test_tail_span_stream_as_json():
    with WsServer(span_scenario, token=TOKEN) as server:
        result = run_cli("tail", server.url, "-H", f"X-API-Token: {TOKEN}", "-f", "json", "--no-reconnect", env=no_proxy_env())
    assert result.returncode == 0, result.stderr
    assert_no_traceback(result)
    events = [json.loads(line) for line in result.stdout.splitlines()]
    # the keep-alive is hidden; the two-line frame is two events
    assert [e["type"] for e in events] == [
        "clientConnected", "upstreamMessage", None, None, "clientDisconnected", "clientConnected",
        "upstreamMessage", "firmwareCheck", None, None,
    ]
    assert events[6]["subject"] == "big"
    assert b'"id":18446744073709551615,"n":9007199254740993' in result.stdout  # exact ids
    assert events[2]["dialect"] is None and events[2]["summary"].startswith("invalid JSON")
    assert events[3]["summary"] == "invalid UTF-8 at byte 3"  # the binary frame
    assert events[8]["summary"] == "invalid UTF-8 at byte 13"  # the bad text frame
    assert events[8]["payload"] == '{"event":"bad\\xff\\xfeutf8","collectionId":"c1","deviceId":"x"}'
    stderr = result.stderr.decode()
    assert f"connected to {server.url} (HTTP 101)" in stderr
    assert "closed by the server (1000 normal closure: done)" in stderr
    assert "4 unparsed" in stderr
    # the hostile payload never reaches stdout raw
    assert b"\x1b" not in result.stdout


def test_tail_keepalive_flag_shows_keepalives_and_pretty_output_is_escaped():
    with WsServer(span_scenario) as server:
        result = run_cli("tail", server.url, "--keepalive", "-f", "compact", "--no-reconnect", env=no_proxy_env())
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    assert " span keepalive -\n" in out and len(out.splitlines()) == 11
    assert "\x1b" not in out and "\\x1b]0;owned\\x07[bold]not markup[/bold]" in out


def test_record_then_cat_gives_back_every_payload_byte_for_byte(tmp_path):
    capture = tmp_path / "span.capture.ndjson.gz"
    with WsServer(span_scenario, token=TOKEN) as server:
        result = run_cli(
            "record", f"{server.url}?token={TOKEN}&x=1", "-o", str(capture), "-H", f"X-API-Token: {TOKEN}",
            "--no-reconnect", env=no_proxy_env(),
        )
    assert result.returncode == 0, result.stderr
    assert result.stdout == b""
    stderr = result.stderr.decode()
    assert f"{len(SPAN_FRAMES)} frames" in stderr and f"recorded to {capture}" in stderr
    records = capture_lines(capture)
    header = records[0]
    assert header["presencectl"] == 1 and header["transport"] == "websocket"
    assert header["source"] == f"{server.url}?token=REDACTED&x=1"
    assert header["headers"] == ["X-API-Token"]
    assert TOKEN not in json.dumps(header)
    assert frames_of(records) == [payload for payload, _ in SPAN_FRAMES]
    assert marks_of(records) == ["connected", "disconnected"]
    # cat -f raw gives the payloads back exactly (two-line frames split into lines)
    raw = run_cli("cat", str(capture), "-f", "raw")
    assert raw.returncode == 0
    expected = b""
    for payload, _ in SPAN_FRAMES:
        data = payload if isinstance(payload, bytes) else payload.encode()
        if payload == SPAN_KEEPALIVE:
            continue
        if data.startswith(b"{\n"):
            expected += data + b"\n"
        else:
            expected += b"".join(line + b"\n" for line in data.split(b"\n"))
    assert raw.stdout == expected


def test_tail_record_writes_the_capture_and_shows_events(tmp_path):
    capture = tmp_path / "s.capture.ndjson"
    with WsServer(stream_scenario(5)) as server:
        result = run_cli("tail", server.url, "-f", "json", "--record", str(capture), "--timeout", "1", env=no_proxy_env())
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 5
    assert "no message for 1 s" in result.stderr.decode()
    assert len(frames_of(capture_lines(capture))) == 5


def test_navixy_atmosphere_subscribe_reconnect_and_logout(tmp_path):
    scenario = NavixyScenario()
    capture = tmp_path / "navixy.capture.ndjson"
    subscribe = fixture("samples/navixy-subscribe.json")
    with WsServer(scenario, path="/v2/event/subscription") as server:
        url = f"{server.url}?X-Atmosphere-Transport=websocket&hash=22eac1c2"
        result = run_cli(
            "tail", url, "--send-file", str(subscribe), "-f", "json", "--record", str(capture), env=no_proxy_env(),
        )
    assert result.returncode == 0, result.stderr
    assert_no_traceback(result)
    assert scenario.subscribes == [NAVIXY_SUBSCRIBE, NAVIXY_SUBSCRIBE]  # re-sent after reconnecting
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(e["dialect"], e["type"]) for e in events] == [
        ("navixy", "response"),
        ("navixy", "state"),
        ("navixy", "lifecycle"),
        ("navixy", "state"),
        ("navixy", "logout"),
    ]
    assert events[1]["presence"] == "online" and events[3]["presence"] == "offline"
    assert b'"id":9223372036854775807' in result.stdout
    stderr = result.stderr.decode()
    assert "reconnecting in" in stderr and "reconnected to" in stderr
    assert "hash=REDACTED" in stderr and "22eac1c2" not in stderr
    assert "the server ended the session (Navixy logout)" in stderr
    records = capture_lines(capture)
    assert marks_of(records) == ["connected", "disconnected", "reconnecting", "connected"]
    frames = frames_of(records)
    assert frames[0] == f"{NavixyScenario.UUID}|30000|X|" and "X" in frames
    assert any(NavixyScenario.FIRST[1] in f for f in frames if isinstance(f, str))
    assert any(NavixyScenario.SECOND[1] in f for f in frames if isinstance(f, str))
    assert frames[-1] == NavixyScenario.LOGOUT
    assert records[0]["source"].endswith("hash=REDACTED")


def test_no_reconnect_exits_1_when_the_connection_is_lost():
    with WsServer(NavixyScenario()) as server:
        result = run_cli(
            "tail", server.url, "--send-file", str(fixture("samples/navixy-subscribe.json")), "--no-reconnect",
            "-f", "json", env=no_proxy_env(),
        )
    assert result.returncode == 1
    assert_no_traceback(result)
    last = result.stderr.decode().splitlines()[-1]
    assert last.startswith(f"presencectl: error: {server.url}: connection lost:")
    assert len(result.stdout.splitlines()) == 2


def test_limit_stops_after_n_matching_events():
    with WsServer(stream_scenario(50)) as server:
        result = run_cli("tail", server.url, "-n", "3", "-t", "clientConnected", "-f", "json", env=no_proxy_env())
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["type"] for line in result.stdout.splitlines()] == ["clientConnected"] * 3


def test_http_proxy_from_the_environment_is_used():
    with WsServer(stream_scenario(3)) as server, ConnectProxy() as proxy:
        env = no_proxy_env(http_proxy=f"http://127.0.0.1:{proxy.port}")
        result = run_cli("tail", server.url, "-f", "json", "-n", "3", env=env)
    assert result.returncode == 0, result.stderr
    assert proxy.targets == [f"127.0.0.1:{server.port}"]


def test_wss_with_cacert(tmp_path):
    cert, key = make_cert(tmp_path)
    with WsServer(stream_scenario(2), ssl_context=server_tls(cert, key)) as server:
        result = run_cli("tail", server.url, "--cacert", str(cert), "-f", "json", "-n", "2", env=no_proxy_env())
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 2


# Errors: one line naming the endpoint and the cause, exit 1.


def one_error_line(result) -> str:
    assert result.returncode == 1, result.stderr
    assert_no_traceback(result)
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("presencectl: error: ")
    return lines[0]


def test_error_refused_connection(tmp_path):
    url = f"ws://127.0.0.1:{free_port()}/events"
    assert one_error_line(run_cli("tail", url, env=no_proxy_env())) == (
        f"presencectl: error: {url}: connection refused (is the server running?)"
    )
    capture = tmp_path / "never.capture.ndjson"
    assert "connection refused" in one_error_line(run_cli("record", url, "-o", str(capture), env=no_proxy_env()))
    assert not capture.exists()  # nothing recorded, no file left behind


def test_error_dns_failure():
    line = one_error_line(run_cli("tail", "wss://nohost.invalid/span?token=abc", env=no_proxy_env()))
    assert "wss://nohost.invalid/span?token=REDACTED: DNS lookup of 'nohost.invalid' failed" in line


def test_error_unreachable_or_silent_host():
    with socket.socket() as listener:  # accepts at the TCP level, never answers the upgrade
        listener.bind(("127.0.0.1", 0))
        listener.listen(5)
        url = f"ws://127.0.0.1:{listener.getsockname()[1]}/x"
        line = one_error_line(run_cli("tail", url, "--connect-timeout", "0.5", env=no_proxy_env()))
    assert f"{url}: timed out after 0.5 s" in line
    # a TEST-NET address: unreachable, refused or timed out, depending on the network
    line = one_error_line(run_cli("tail", "ws://192.0.2.1:9/x", "--connect-timeout", "1", env=no_proxy_env()))
    assert "ws://192.0.2.1:9/x: " in line


def test_error_tls_verification(tmp_path):
    cert, key = make_cert(tmp_path)
    with WsServer(span_scenario, ssl_context=server_tls(cert, key)) as server:
        line = one_error_line(run_cli("tail", server.url, env=no_proxy_env()))
    assert f"{server.url}: TLS certificate verification failed" in line and "--cacert" in line


def test_error_401_and_403():
    with WsServer(span_scenario, token=TOKEN) as server:
        line = one_error_line(run_cli("tail", server.url, env=no_proxy_env()))
    assert f"{server.url}: HTTP 401 Unauthorized on the WebSocket upgrade" in line
    with WsServer(span_scenario, refuse=HTTPStatus.FORBIDDEN) as server:
        line = one_error_line(run_cli("tail", server.url, "-H", f"X-API-Token: {TOKEN}", env=no_proxy_env()))
    assert f"{server.url}: HTTP 403 Forbidden on the WebSocket upgrade" in line
    assert TOKEN not in line


def test_error_port_in_use_for_listen():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = one_error_line(run_cli("tail", f"http://127.0.0.1:{port}/munic", "--listen"))
    assert line == (
        f"presencectl: error: http://127.0.0.1:{port}/munic: cannot listen on 127.0.0.1:{port}: the port is already in use"
    )


# Interrupts: Ctrl-C, SIGTERM, kill -9.


@pytest.mark.parametrize("suffix", [".ndjson", ".ndjson.gz"])
def test_ctrl_c_closes_the_capture_cleanly(tmp_path, suffix):
    capture = tmp_path / f"s.capture{suffix}"
    with WsServer(stream_scenario(10_000, gap=0.002)) as server, Cli("record", server.url, "-o", str(capture)) as cli:
        cli.wait_stderr("connected to")
        wait_until(lambda: frames_so_far(capture) >= 5, "frames in the capture")
        cli.interrupt()
        status = cli.finish()
    assert status == 130, cli.stderr
    assert "Traceback" not in cli.stderr
    assert "frames" in cli.stderr.splitlines()[-1]  # the summary
    if suffix.endswith(".gz"):
        gzip.decompress(capture.read_bytes())  # the trailer is there: no EOFError
    records = capture_lines(capture)
    assert len(frames_of(records)) > 0
    result = run_cli("cat", str(capture), "-f", "json")
    assert result.returncode == 0 and result.stderr == b""


def test_sigterm_ends_like_ctrl_c_with_143(tmp_path):
    capture = tmp_path / "s.capture.ndjson.gz"
    with WsServer(stream_scenario(10_000, gap=0.002)) as server, Cli("tail", server.url, "--record", str(capture), "-f", "json") as cli:
        cli.wait_stdout_lines(3)
        cli.proc.send_signal(signal.SIGTERM)
        status = cli.finish()
    assert status == 143, cli.stderr
    gzip.decompress(capture.read_bytes())
    assert len(frames_of(capture_lines(capture))) >= 3


@pytest.mark.parametrize("suffix", [".ndjson", ".ndjson.gz"])
def test_kill_9_loses_at_most_the_line_being_written(tmp_path, suffix):
    capture = tmp_path / f"s.capture{suffix}"
    with WsServer(stream_scenario(100_000, gap=0.0005)) as server, Cli("record", server.url, "-o", str(capture)) as cli:
        cli.wait_stderr("connected to")
        wait_until(lambda: frames_so_far(capture) > 10, "frames in the capture")
        os.kill(cli.proc.pid, signal.SIGKILL)
        cli.finish()
    result = run_cli("cat", str(capture), "-f", "raw")
    assert result.returncode == 0, result.stderr
    assert_no_traceback(result)
    lines = result.stdout.splitlines()
    assert len(lines) > 10
    assert all(line.decode() in SPAN_LINES for line in lines)


# The webhook receiver, end to end.


def test_webhook_tail_records_every_post_and_answers(tmp_path):
    port = free_port()
    capture = tmp_path / "munic.capture.ndjson"
    url = f"http://127.0.0.1:{port}/munic"
    body = fixture("samples/cloudconnect-webhook-body.json").read_bytes()
    ndjson = b'{"type":"connect","connection_id":461799503595298293,"asset":"A1","reason":"cold_boot"}\n{"type":"disconnect","connection_id":461799503595298293,"asset":"A1"}\n'
    with Cli("tail", url, "--listen", "-f", "json", "--record", str(capture), "--basic-auth", "munic:pw", "--max-body", "8k") as cli:
        cli.wait_stderr("listening for POSTs")
        assert post(url, body, auth=("munic", "pw")) == (200, "ok\n")
        assert post(url, ndjson, auth=("munic", "pw")) == (200, "ok\n")
        status, text = post(url, b"garbage \x1b[31m", auth=("munic", "pw"))
        assert status == 400 and text.startswith("recorded, but the body cannot be read: invalid JSON")
        assert post(url, b"[" + b"0," * 5000 + b"0]", auth=("munic", "pw"))[0] == 413
        assert post(url, body, auth=("munic", "nope"))[0] == 401
        assert post(url, body)[0] == 401
        cli.wait_stdout_lines(6)
        cli.interrupt()
        status = cli.finish()
    assert status == 130
    events = [json.loads(line) for line in cli.stdout.splitlines()]
    assert [(e["dialect"], e["type"], e["subject"]) for e in events] == [
        ("cloudconnect", "connect", "357322041802978"),
        ("cloudconnect", "disconnect", "357322041802978"),
        ("cloudconnect", "failed_connect", None),
        ("cloudconnect", "connect", "A1"),
        ("cloudconnect", "disconnect", "A1"),
        (None, None, None),
    ]
    assert all(e["topic"] == "/munic" for e in events)
    assert b"461799503595297637" in cli.stdout and b"461799503595298293" in cli.stdout
    assert "413" in cli.stderr and "401" in cli.stderr
    records = capture_lines(capture)
    assert records[0]["transport"] == "webhook" and records[0]["source"] == url
    assert frames_of(records) == [body.decode(), ndjson.decode(), "garbage \x1b[31m"]
    assert marks_of(records) == []
    # record → cat: the batch elements come back with their ids exact
    result = run_cli("cat", str(capture), "-f", "json")
    assert [json.loads(line)["payload"]["payload"]["id"] for line in result.stdout.splitlines()[:3]] == [
        461799503595297635, 461799503595297636, 461799503595297637,
    ]


def test_webhook_record_with_timeout(tmp_path):
    port = free_port()
    capture = tmp_path / "hook.capture.ndjson.gz"
    url = f"http://127.0.0.1:{port}/hook"
    with Cli("record", url, "--listen", "-o", str(capture), "--timeout", "1") as cli:
        cli.wait_stderr("listening for POSTs")
        assert post(url, b'{"event":"x","deviceId":"d"}')[0] == 200
        status = cli.finish()
    assert status == 0, cli.stderr
    assert "no message for 1 s" in cli.stderr and "1 frame, 1 event" in cli.stderr
    assert frames_of(capture_lines(capture)) == ['{"event":"x","deviceId":"d"}']


# Files and stdin behave like cat.


def test_tail_stdin_and_files():
    data = fixture("samples/span-activity.ndjson").read_bytes()
    result = run_cli("tail", "-", "-f", "json", input=data)
    assert result.returncode == 0
    assert len(result.stdout.splitlines()) == 3
    result = run_cli("tail", str(fixture("span-activity.capture.ndjson")), "-f", "compact")
    assert result.returncode == 0 and result.stdout
    result = run_cli("tail", "no/such/file.ndjson")
    assert result.returncode == 2 and b"no such file" in result.stderr


def test_b64_frames_survive_record(tmp_path):
    # The binary frame is stored as b64 and decodes to the exact bytes.
    capture = tmp_path / "b.capture.ndjson"
    with WsServer(span_scenario) as server:
        result = run_cli("record", server.url, "-o", str(capture), "--no-reconnect", env=no_proxy_env())
    assert result.returncode == 0, result.stderr
    assert_no_traceback(result)
    records = [r for r in capture_lines(capture) if "b64" in r]
    assert [base64.b64decode(r["b64"]) for r in records] == [p for p, _ in SPAN_FRAMES if isinstance(p, bytes)]
    assert Path(capture).read_bytes().count(b"\n") == len(SPAN_FRAMES) + 3


def test_capture_header_redacts_what_the_issue_names():
    from presencectl.core.capture import encode_header, make_header

    header = make_header(
        "wss://bob:hunter2@api.example.com/span?api_token=t1&token=t2&hash=h3&X-Atmosphere-Transport=websocket",
        "websocket",
        1.0,
        headers=["X-API-Token: t4", "Authorization: Bearer t5"],
    )
    line = encode_header(header).decode()
    for secret in ("hunter2", "t1", "t2", "h3", "t4", "t5"):
        assert secret not in line
    assert "X-Atmosphere-Transport=websocket" in line and '"headers":["X-API-Token","Authorization"]' in line


def test_record_on_a_terminal_draws_a_live_counter():
    import pty
    import subprocess
    import sys

    from tests.conftest import ROOT

    with WsServer(stream_scenario(5)) as server:
        master, slave = pty.openpty()
        proc = subprocess.Popen(
            [sys.executable, "-m", "presencectl", "record", server.url, "-o", os.devnull, "--timeout", "1"],
            stdout=subprocess.PIPE, stderr=slave, env=no_proxy_env(), cwd=ROOT,
        )
        os.close(slave)
        seen = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        proc.wait(20)
        os.close(master)
    assert proc.returncode == 0
    assert b"\r\x1b[K" in seen and b"5 frames" in seen and "● connected".encode() in seen
