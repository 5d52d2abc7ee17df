"""How a session ends (issue 15, items 1 and 6): ``--deadline`` and a server that says it finished.

The policy with the fake clock and scripted source of ``test_live``, then the
real CLI against a real WebSocket server, mosquitto and a pipe on stdin, and
against ``replay --serve``.
"""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from presencectl.core.decode import Decoder
from presencectl.core.filters import parse_filters
from presencectl.engine.runner import Pipeline
from presencectl.engine.session import Ending, Session
from presencectl.status import ExitStatus
from presencectl.ui.console import Environment, Output
from tests.conftest import assert_no_traceback, fixture
from tests.live_support import Cli, WsServer, hold, no_proxy_env
from tests.mqtt_support import Brokers
from tests.replay_support import CliProcess
from tests.test_live import EVENT, FakeClock, ListRecorder, ScriptedSource


def other(n: int) -> str:
    return json.dumps({"collectionId": "c1", "deviceId": "other", "event": "upstreamMessage", "data": {"n": n}})


DEV42 = json.dumps({"collectionId": "c1", "deviceId": "dev42", "event": "clientConnected"})


def session_for(script, *, limit=None, subject=None, connects=None, **kwargs):
    clock = FakeClock()
    source = ScriptedSource(clock, script, connects)
    filt = parse_filters(subjects=[subject]) if subject else None
    out = io.BytesIO()
    pipeline = Pipeline(Decoder(), filt, lambda e: b"x\n", Output(out, live=False), limit, ListRecorder())
    env = Environment(stdout=io.BytesIO(), stderr=io.StringIO(), stdout_isatty=False, stderr_isatty=False, environ={})
    session = Session(source, pipeline, env, clock=clock, wall=clock, sleep=clock.sleep, rand=lambda: 0.0, **kwargs)
    return session, clock, env


# -- the policy, fake clock


def test_deadline_ends_with_3_when_n_is_not_reached_even_while_other_frames_arrive():
    script = [step for n in range(10) for step in (("frame", other(n)), ("idle", 1.0))]
    session, clock, _ = session_for(script, limit=1, subject="dev42", deadline=2.0, idle_timeout=2.0)
    started = clock.now
    ending = session.run()
    assert ending == Ending("deadline", "deadline of 2 s passed before -n 1 was reached (0 shown)", ExitStatus.DEADLINE)
    assert clock.now - started == pytest.approx(2.0)  # the idle timeout never fired: frames kept coming


def test_deadline_is_checked_between_frames_of_a_busy_stream():
    script = [step for n in range(100) for step in (("advance", 0.5), ("frame", other(n)))]
    session, clock, _ = session_for(script, subject="dev42", deadline=2.0)
    assert session.run().status == ExitStatus.DEADLINE
    assert clock.now == pytest.approx(1002.0)


def test_reaching_n_before_the_deadline_ends_with_0():
    script = [("frame", other(1)), ("idle", 1.0), ("frame", DEV42)]
    session, _, _ = session_for(script, limit=1, subject="dev42", deadline=2.0)
    assert session.run().reason == "limit"


def test_without_n_the_deadline_is_0_when_something_was_shown_else_3():
    session, *_ = session_for([("frame", DEV42), ("idle", 5.0)], deadline=2.0)
    assert session.run() == Ending("deadline", "deadline of 2 s passed", ExitStatus.OK)
    session, *_ = session_for([("frame", other(1)), ("idle", 5.0)], subject="dev42", deadline=2.0)
    assert session.run().status == ExitStatus.DEADLINE


def test_the_deadline_cuts_a_reconnect_backoff_short():
    session, clock, _ = session_for([("lost", "reset", False)], deadline=0.2)
    ending = session.run()
    assert ending.reason == "deadline" and clock.sleeps == [0.2]


def test_a_server_that_says_it_finished_ends_the_session_even_with_reconnect():
    from presencectl.transports.base import ConnectionLost

    class Finishing(ScriptedSource):
        def receive(self, timeout):
            if self.script and self.script[0][0] == "finished":
                self.script.pop(0)
                raise ConnectionLost(self.endpoint, "closed by the server (1000 normal closure: replay finished)", finished=True)
            return super().receive(timeout)

    clock = FakeClock()
    source = Finishing(clock, [("frame", EVENT), ("finished",)])
    pipeline = Pipeline(Decoder(), None, None, None, None, ListRecorder())
    env = Environment(stdout=io.BytesIO(), stderr=io.StringIO(), stdout_isatty=False, stderr_isatty=False, environ={})
    ending = Session(source, pipeline, env, clock=clock, wall=clock, sleep=clock.sleep).run()
    assert ending.reason == "finished" and ending.status == ExitStatus.OK
    assert source.connect_times == [1000.0] and clock.sleeps == []


def test_a_clean_close_without_a_finished_reason_follows_reconnect():
    session, clock, env = session_for(
        [("lost", "closed by the server (1000 normal closure)", True), ("frame", EVENT), ("idle", 10.0)],
        reconnect=True, deadline=5.0,
    )
    assert session.run().reason == "deadline"
    assert session.reconnects == 1 and "reconnected" in env.stderr.getvalue()


def test_websocket_close_reasons_that_say_finished():
    from presencectl.transports.ws_client import says_finished

    assert says_finished(1000, "replay finished") and says_finished(1000, "Stream complete")
    assert not says_finished(1000, "") and not says_finished(1000, "bye") and not says_finished(1001, "finished")
    assert not says_finished(1000, "end of session") and not says_finished(1000, "session ended")  # reconnect: a token expired


# -- end to end: tail … -s dev42 -n 1 --deadline 2, another device publishing every second


@contextmanager
def ws_publisher(with_dev42: bool) -> Iterator[list[str]]:
    async def handler(ws: Any, server: WsServer) -> None:
        for n in range(30):
            await ws.send(other(n))
            if n == 1 and with_dev42:
                await ws.send(DEV42)
            await asyncio.sleep(1.0)
        await hold(ws, 30)

    with WsServer(handler) as server:
        yield [server.url]


@contextmanager
def mqtt_publisher(with_dev42: bool, tmp_path) -> Iterator[list[str]]:
    with Brokers(tmp_path) as make:
        broker = make()
        stop = threading.Event()

        def publish() -> None:
            n = 0
            while not stop.wait(0 if n == 0 else 1.0):
                broker.publish("devices/other", other(n))
                if n == 1 and with_dev42:
                    broker.publish("devices/dev42", DEV42)
                n += 1

        thread = threading.Thread(target=publish, daemon=True)
        # Publishing starts once the CLI subscribed (retained nothing: a message before that is lost).
        yield [broker.url, "-T", "devices/#", "--on-ready", "connected to", thread.start]  # type: ignore[list-item]
        stop.set()
        thread.join(10)


def run_tail_while_publishing(source_args: list[Any], extra: list[str], stdin_lines: Callable[[], Iterator[str]] | None = None) -> tuple[int, float, Cli]:
    on_ready = None
    if "--on-ready" in source_args:  # start publishing once stderr says this (no message is lost)
        i = source_args.index("--on-ready")
        ready_text, on_ready = source_args[i + 1 : i + 3]
        source_args = source_args[:i] + source_args[i + 3 :]
    started = time.monotonic()
    with Cli("tail", *source_args, *extra, stdin=subprocess.PIPE if stdin_lines else subprocess.DEVNULL, env=no_proxy_env()) as cli:
        if on_ready is not None:
            cli.wait_stderr(ready_text)
            on_ready()
        if stdin_lines is not None:
            def feed() -> None:
                try:
                    for line in stdin_lines():
                        cli.proc.stdin.write(line.encode() + b"\n")  # type: ignore[union-attr]
                        cli.proc.stdin.flush()  # type: ignore[union-attr]
                except (BrokenPipeError, ValueError, OSError):
                    pass

            threading.Thread(target=feed, daemon=True).start()
        status = cli.finish(timeout=30)
        return status, time.monotonic() - started, cli


def stdin_publisher(with_dev42: bool) -> Callable[[], Iterator[str]]:
    def lines() -> Iterator[str]:
        for n in range(30):
            yield other(n)
            if n == 1 and with_dev42:
                yield DEV42
            time.sleep(1.0)

    return lines


@contextmanager
def webhook_publisher(with_dev42: bool) -> Iterator[list[Any]]:
    from tests.conftest import free_port
    from tests.live_support import post

    url = f"http://127.0.0.1:{free_port()}/hook"
    stop = threading.Event()

    def publish() -> None:
        n = 0
        while not stop.wait(0 if n == 0 else 1.0):
            post(url, other(n).encode())
            if n == 1 and with_dev42:
                post(url, DEV42.encode())
            n += 1

    thread = threading.Thread(target=publish, daemon=True)
    yield [url, "--listen", "--on-ready", "listening for POSTs", thread.start]
    stop.set()
    thread.join(20)


@contextmanager
def socketio_publisher(with_dev42: bool, tmp_path) -> Iterator[list[Any]]:
    from presencectl.core.events import Frame
    from tests.replay_support import write_capture

    payloads = [other(n) for n in range(30)]
    if with_dev42:
        payloads.insert(2, DEV42)
    frames = [Frame(p, 1000.0 + i) for i, p in enumerate(payloads)]
    capture = write_capture(tmp_path / "sio.capture.ndjson", frames, started=1000.0)
    with CliProcess("replay", str(capture), "--serve", "127.0.0.1:0", "--socketio", "--speed", "1") as server:
        port = server.wait_for(r"on sio://127\.0\.0\.1:(\d+)").group(1)
        yield [f"sio://127.0.0.1:{port}"]
        server.stop()


SOURCES = ["websocket", "mqtt", "socketio", "webhook", "stdin"]


@pytest.mark.parametrize("kind", SOURCES)
@pytest.mark.parametrize("with_dev42", [False, True], ids=["dev42-absent", "dev42-appears"])
def test_tail_waits_for_one_event_with_a_deadline(kind, with_dev42, tmp_path):
    extra = ["-s", "dev42", "-n", "1", "--deadline", "2.5", "-f", "json"]
    if kind == "websocket":
        with ws_publisher(with_dev42) as args:
            status, took, cli = run_tail_while_publishing(args, extra)
    elif kind == "mqtt":
        with mqtt_publisher(with_dev42, tmp_path) as args:
            status, took, cli = run_tail_while_publishing(args, extra)
    elif kind == "socketio":
        with socketio_publisher(with_dev42, tmp_path) as args:
            status, took, cli = run_tail_while_publishing(args, extra)
    elif kind == "webhook":
        with webhook_publisher(with_dev42) as args:
            status, took, cli = run_tail_while_publishing(args, extra)
    else:
        status, took, cli = run_tail_while_publishing(["-"], extra, stdin_publisher(with_dev42))
    assert "Traceback" not in cli.stderr
    if with_dev42:
        assert status == 0, cli.stderr
        assert [json.loads(line)["subject"] for line in cli.stdout.splitlines()] == ["dev42"]
    else:
        assert status == 3, cli.stderr
        assert cli.stdout == b""
        assert "deadline of 2.5 s passed before -n 1 was reached (0 shown)" in cli.stderr
        assert took >= 2.5  # not before the deadline (an upper bound would be a timed assertion)


def test_tail_timeout_is_an_idle_timeout_and_says_so_in_help():
    from tests.conftest import run_cli

    result = run_cli("tail", "--help", env=no_proxy_env(COLUMNS="400"))
    text = result.stdout.decode()
    assert "Idle timeout" in text and "--deadline" in text and "Overall limit" in text


# -- end to end: a server that says it finished


def test_tail_of_replay_serve_ends_when_the_replay_finished():
    capture = fixture("aliyun.capture.ndjson")
    frames = sum(1 for line in capture.read_text().splitlines()[1:] if '"text"' in line or '"b64"' in line)
    with CliProcess("replay", str(capture), "--serve", "127.0.0.1:0", "--speed", "max") as server:
        url = server.url()
        with Cli("tail", url, "-f", "json", env=no_proxy_env()) as cli:
            status = cli.finish(timeout=30)
        server.stop()
    assert status == 0, cli.stderr
    assert "Traceback" not in cli.stderr
    assert "(1000 normal closure: replay finished); the server is done: not reconnecting" in cli.stderr
    assert "reconnecting in" not in cli.stderr and "reconnected" not in cli.stderr
    assert len(cli.stdout.splitlines()) == frames == 24  # the capture once, not four times


def test_tail_of_replay_serve_socketio_ends_when_the_replay_finished():
    capture = fixture("spaces.capture.ndjson")
    with CliProcess("replay", str(capture), "--serve", "127.0.0.1:0", "--socketio", "--speed", "max") as server:
        port = server.wait_for(r"on sio://127\.0\.0\.1:(\d+)").group(1)
        with Cli("tail", f"sio://127.0.0.1:{port}", "--namespace", "/chat", "-f", "json", env=no_proxy_env()) as cli:
            status = cli.finish(timeout=30)
        server.stop()
    assert status == 0, cli.stderr
    assert "the server is done: not reconnecting" in cli.stderr and "reconnecting in" not in cli.stderr
    assert len(cli.stdout.splitlines()) == 8


async def _close_normally(ws: Any, server: WsServer) -> None:
    await ws.send(other(server.connections))
    await ws.close(1000, "bye")


def test_tail_reconnects_after_a_clean_close_that_does_not_say_finished():
    with WsServer(_close_normally) as server, Cli("tail", server.url, "-f", "json", env=no_proxy_env()) as cli:
        cli.wait_stderr("reconnected to")
        cli.wait_stdout_lines(2)
        cli.interrupt()
        status = cli.finish()
    assert status == 130
    assert "closed by the server (1000 normal closure: bye); reconnecting" in cli.stderr
    assert len(cli.stdout.splitlines()) >= 2


def test_tail_no_reconnect_ends_with_0_after_a_clean_close():
    with WsServer(_close_normally) as server, Cli("tail", server.url, "-f", "json", "--no-reconnect", env=no_proxy_env()) as cli:
        status = cli.finish()
    assert status == 0, cli.stderr
    assert server.connections == 1


def test_tail_deadline_on_a_stdin_that_never_ends_and_on_a_file():
    from tests.conftest import run_cli

    with Cli("tail", "-", "--deadline", "1", stdin=subprocess.PIPE, env=no_proxy_env()) as cli:
        status = cli.finish()  # stdin stays open: only the deadline ends it
    assert status == 3 and "deadline of 1 s passed with nothing shown" in cli.stderr
    result = run_cli("tail", str(fixture("span-activity.capture.ndjson")), "--deadline", "30", "-f", "json", "-n", "2")
    assert_no_traceback(result)
    assert result.returncode == 0 and len(result.stdout.splitlines()) == 2
    result = run_cli("tail", str(fixture("span-activity.capture.ndjson")), "--deadline", "soon")
    assert result.returncode == 2 and b"bad --deadline 'soon'" in result.stderr


def test_every_command_with_deadline_honours_it_on_a_stdin_that_never_ends(tmp_path):
    # tail, record and timeline take --deadline from the shared connection group;
    # expect is tested in test_expect_cli.
    for args in (["tail", "-"], ["record", "-", "-o", str(tmp_path / "s.capture.ndjson")], ["timeline", "-"]):
        with Cli(*args, "--deadline", "1", stdin=subprocess.PIPE, env=no_proxy_env()) as cli:
            status = cli.finish()
        assert status == 3, (args, cli.stderr)
        assert "deadline of 1 s passed with nothing shown" in cli.stderr and "Traceback" not in cli.stderr
