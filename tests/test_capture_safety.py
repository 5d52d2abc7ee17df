"""Captures are never lost (SPEC §5.1, issue 11): the real CLI against real servers."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, assert_no_traceback, cli_env, fixture, free_port, run_cli
from tests.live_support import (
    SPAN_FRAMES,
    SPAN_LINES,
    Cli,
    WsServer,
    capture_lines,
    frames_of,
    no_proxy_env,
    post,
    span_scenario,
    stream_scenario,
)
from tests.mqtt_support import Brokers
from tests.socketio_support import PRESENCE, SUBSCRIBE, PySioServer

PRECIOUS = fixture("span-activity.capture.ndjson")


@pytest.fixture()
def precious(tmp_path):
    path = tmp_path / "precious.capture.ndjson"
    shutil.copy(PRECIOUS, path)
    return path


# Case 1: a session that fails to connect never deletes an existing capture.
@pytest.mark.parametrize("source", ["ws://127.0.0.1:1/", "ws://no-such-host.invalid/"])
@pytest.mark.parametrize("force", [False, True])
def test_a_failed_connection_leaves_an_existing_capture(precious, source, force):
    result = run_cli("record", source, "-o", str(precious), *(["--force"] if force else []), env=no_proxy_env())
    assert_no_traceback(result)
    assert result.returncode == (1 if force else 2), result.stderr
    assert precious.read_bytes() == PRECIOUS.read_bytes()
    assert sorted(p.name for p in precious.parent.iterdir()) == [precious.name]


def test_a_failed_connection_leaves_no_new_file(tmp_path):
    out = tmp_path / "new.capture.ndjson"
    result = run_cli("record", "ws://127.0.0.1:1/", "-o", str(out), env=no_proxy_env())
    assert result.returncode == 1
    assert not out.exists()


# Case 2: an existing output is refused; an input is never an output.
def test_an_existing_output_is_refused_with_a_hint(precious):
    with WsServer(stream_scenario(3)) as server:
        result = run_cli("record", server.url, "-o", str(precious), "--timeout", "1", env=no_proxy_env())
    assert result.returncode == 2
    assert result.stderr.decode().count("\n") == 1
    assert b"--force" in result.stderr and b"error:" in result.stderr
    assert precious.read_bytes() == PRECIOUS.read_bytes()


@pytest.mark.parametrize("command", ["record", "tail"])
def test_recording_a_file_onto_itself_is_refused(precious, command):
    flag = ["-o"] if command == "record" else ["--record"]
    result = run_cli(command, str(precious), *flag, str(precious), "--force")
    assert result.returncode == 2
    assert b"also an input" in result.stderr
    assert precious.read_bytes() == PRECIOUS.read_bytes()
    with precious.open("rb") as stdin:  # the same file as stdin
        proc = subprocess.run(
            [sys.executable, "-m", "presencectl", command, "-", *flag, str(precious), "--force"],
            stdin=stdin, capture_output=True, env=cli_env(), cwd=ROOT, timeout=60,
        )
    assert proc.returncode == 2 and b"also an input (stdin)" in proc.stderr
    assert precious.read_bytes() == PRECIOUS.read_bytes()


def test_force_replaces_once_the_first_frame_is_recorded(precious):
    with WsServer(stream_scenario(3)) as server:
        result = run_cli("record", server.url, "-o", str(precious), "--force", "--timeout", "1", env=no_proxy_env())
    assert result.returncode == 0, result.stderr
    assert len(frames_of(capture_lines(precious))) == 3
    assert sorted(p.name for p in precious.parent.iterdir()) == [precious.name]


# Case 3 and the matrix: a counted frame is a recorded frame, for every source kind.

SUMMARY = re.compile(r"(\d+) frames?, (\d+) events?")


def summary_frames(stderr: str | bytes) -> int:
    text = stderr.decode(errors="replace") if isinstance(stderr, bytes) else stderr
    found = SUMMARY.findall(text)
    assert found, text
    return int(found[-1][0])


PLAIN = fixture("events.ndjson")
PLAIN_PAYLOADS = [line for line in PLAIN.read_text().splitlines() if line.strip()]
HOOK_BODIES = [SPAN_LINES[0].encode(), b'{"a": 1,\n "big": 18446744073709551615}', b"not json \x1b[31m", SPAN_LINES[1].encode()]
MQTT_PAYLOADS = [*SPAN_LINES[:3], '{"n": 9007199254740993}', "not json"]


def _record_websocket(tmp_path: Path, capture: Path) -> tuple[int, list[str | bytes]]:
    with WsServer(span_scenario) as server:
        result = run_cli("record", server.url, "-o", str(capture), "--no-reconnect", env=no_proxy_env())
    assert result.returncode == 0, result.stderr
    return summary_frames(result.stderr), [payload for payload, _ in SPAN_FRAMES]


def _record_mqtt(tmp_path: Path, capture: Path) -> tuple[int, list[str | bytes]]:
    with Brokers(tmp_path / "mqtt") as make:
        broker = make()
        with Cli("record", broker.url, "-T", "m/#", "--qos", "1", "-o", str(capture), "-n", str(len(MQTT_PAYLOADS))) as cli:
            cli.wait_stderr("connected to")
            broker.publish_many("m/a", MQTT_PAYLOADS, qos=1)
            assert cli.finish() == 0, cli.stderr
    return summary_frames(cli.stderr), list(MQTT_PAYLOADS)


def _record_socketio(tmp_path: Path, capture: Path) -> tuple[int, list[str | bytes]]:
    with PySioServer(gap=0.05) as server:
        result = run_cli(
            "record", server.url, "--namespace", "/chat", "--emit", "SUBSCRIBE_CHANNEL", SUBSCRIBE,
            "--event", "PRESENCE_EVENT_RESPONSE", "-n", str(len(PRESENCE)), "-o", str(capture), timeout=60,
        )
    assert result.returncode == 0, result.stderr
    # Socket.IO hands over the event's argument as JSON text: compare it parsed.
    return summary_frames(result.stderr), [json.dumps(p) for p in PRESENCE]


def _record_webhook(tmp_path: Path, capture: Path) -> tuple[int, list[str | bytes]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    with Cli("record", url, "--listen", "-o", str(capture)) as cli:
        cli.wait_stderr("listening for POSTs")
        for body in HOOK_BODIES:
            assert post(url, body)[0] in (200, 400)
        cli.interrupt()
        assert cli.finish() == 130, cli.stderr
    return summary_frames(cli.stderr), [b.decode() for b in HOOK_BODIES]


def _record_file(tmp_path: Path, capture: Path) -> tuple[int, list[str | bytes]]:
    result = run_cli("record", str(PLAIN), "-o", str(capture))
    assert result.returncode == 0, result.stderr
    return summary_frames(result.stderr), list(PLAIN_PAYLOADS)


def _record_stdin(tmp_path: Path, capture: Path) -> tuple[int, list[str | bytes]]:
    result = run_cli("record", "-", "-o", str(capture), input=PLAIN.read_bytes())
    assert result.returncode == 0, result.stderr
    return summary_frames(result.stderr), list(PLAIN_PAYLOADS)


SOURCES = {
    "websocket": _record_websocket,
    "mqtt": _record_mqtt,
    "socketio": _record_socketio,
    "webhook": _record_webhook,
    "file": _record_file,
    "stdin": _record_stdin,
}


@pytest.mark.parametrize("suffix", [".capture.ndjson", ".capture.ndjson.gz"])
@pytest.mark.parametrize("kind", list(SOURCES))
def test_every_counted_frame_is_recorded_byte_for_byte(tmp_path, kind, suffix):
    capture = tmp_path / f"{kind}{suffix}"
    counted, sent = SOURCES[kind](tmp_path, capture)
    frames = frames_of(capture_lines(capture))
    assert counted == len(frames) == len(sent)
    if kind == "socketio":
        assert [json.loads(f) for f in frames] == [json.loads(s) for s in sent]
    else:
        assert frames == sent
    if suffix.endswith(".gz"):
        assert subprocess.run(["gzip", "-t", str(capture)]).returncode == 0


def test_a_recorded_file_replays_like_the_file(tmp_path):
    capture = tmp_path / "plain.capture.ndjson"
    assert run_cli("record", str(PLAIN), "-o", str(capture)).returncode == 0
    assert run_cli("cat", str(capture), "-f", "json").stdout == run_cli("cat", str(PLAIN), "-f", "json").stdout
    copy = tmp_path / "tail.capture.ndjson"
    result = run_cli("tail", str(PLAIN), "--record", str(copy), "-f", "raw")
    assert result.returncode == 0
    assert frames_of(capture_lines(copy)) == PLAIN_PAYLOADS


# Case 4: Ctrl-C right after a webhook POST was answered still prints its event.
@pytest.mark.parametrize("attempt", range(4))
def test_ctrl_c_after_a_webhook_answer_still_prints_the_event(tmp_path, attempt):
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    capture = tmp_path / "hook.capture.ndjson"
    with Cli("tail", url, "--listen", "-f", "json", "--record", str(capture)) as cli:
        cli.wait_stderr("listening for POSTs")
        assert post(url, SPAN_LINES[0].encode()) == (200, "ok\n")
        cli.interrupt()  # at once: the event may not be drawn yet
        assert cli.finish() == 130, cli.stderr
    events = [json.loads(line) for line in cli.stdout.splitlines()]
    assert [e["payload"] for e in events] == [json.loads(SPAN_LINES[0])]
    assert frames_of(capture_lines(capture)) == [SPAN_LINES[0]]
    assert summary_frames(cli.stderr) == 1


# Case 5: SIGINT/SIGTERM under load: a whole capture, counts that match, gzip -t passes.
@pytest.mark.parametrize("suffix", [".capture.ndjson", ".capture.ndjson.gz"])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_under_load_ends_with_a_whole_capture(tmp_path, signum, suffix):
    capture = tmp_path / f"load{suffix}"
    with WsServer(stream_scenario(1_000_000)) as server:
        cli = Cli("tail", server.url, "-f", "raw", "--record", str(capture), "--no-reconnect", env=no_proxy_env())
        with cli:
            cli.wait_stdout_lines(2000, timeout=60)
            cli.proc.send_signal(signum)
            status = cli.finish(timeout=60)
    assert status == (130 if signum == signal.SIGINT else 143), cli.stderr
    assert_no_traceback(subprocess.CompletedProcess([], status, cli.stdout, cli.stderr.encode()))
    if suffix.endswith(".gz"):
        assert subprocess.run(["gzip", "-t", str(capture)]).returncode == 0
    frames = frames_of(capture_lines(capture))
    # every frame received was recorded and rendered: summary = capture = lines shown
    assert summary_frames(cli.stderr) == len(frames) == cli.stdout.count(b"\n")
    assert frames == [SPAN_LINES[i % len(SPAN_LINES)] for i in range(len(frames))]


def test_a_full_disk_is_one_line_and_exit_1():
    result = run_cli("record", str(PLAIN), "-o", "/dev/full")
    assert_no_traceback(result)
    assert result.returncode == 1
    assert result.stderr.decode().strip().splitlines() == ["presencectl: error: /dev/full: write error: No space left on device"]


def test_force_without_a_capture_is_a_usage_error():
    result = run_cli("tail", str(PLAIN), "--force")
    assert result.returncode == 2 and b"--force" in result.stderr and b"--record" in result.stderr
