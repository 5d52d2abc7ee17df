"""Socket.IO end to end through the real CLI: tail/record from real peers, replay to real clients."""

from __future__ import annotations

import json

import pytest

from tests.conftest import assert_no_traceback, fixture, run_cli
from tests.replay_support import CliProcess
from tests.socketio_support import (
    PRESENCE,
    SUBSCRIBE,
    NodeServer,
    PyClient,
    PySioServer,
    lines_of,
    node_client,
)

PEERS = pytest.mark.parametrize("peer", [NodeServer, PySioServer], ids=["node-socket.io-2-eio3", "python-socketio-eio4"])


@PEERS
def test_tail_joins_chat_emits_the_subscribe_and_prints_every_event(peer, tmp_path):
    capture = tmp_path / "presence.capture.ndjson"
    # ~0.8 s between events and 1 s ping intervals: the CLI must keep the
    # heartbeat across several intervals to see all of them.
    with peer() as server:
        result = run_cli(
            "tail", server.url, "--namespace", "/chat",
            "--emit", "SUBSCRIBE_CHANNEL", SUBSCRIBE,
            "--event", "PRESENCE_EVENT_RESPONSE",
            "-f", "json", "-n", str(len(PRESENCE)), "--record", str(capture),
            timeout=60,
        )
        assert server.log.wait_for("received")["args"] == [json.loads(SUBSCRIBE)]
    assert_no_traceback(result)
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["payload"] for e in events] == PRESENCE
    assert {(e["dialect"], e["topic"]) for e in events} == {("spaces", "PRESENCE_EVENT_RESPONSE")}
    assert events[0]["type"] == "app.event.presence.party.online"
    header, *records = [json.loads(line) for line in capture.read_text().splitlines()]
    assert header["transport"] == "socketio" and header["topics"] == ["/chat"]
    frames = [r for r in records if "text" in r]
    assert [json.loads(r["text"]) for r in frames] == PRESENCE
    assert all(r["topic"] == "PRESENCE_EVENT_RESPONSE" for r in frames)


def test_sio_connection_refused_is_one_line():
    from tests.conftest import free_port

    result = run_cli("tail", f"sio://127.0.0.1:{free_port()}", "--no-reconnect", "-f", "json")
    assert_no_traceback(result)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and b"refused" in result.stderr


def serve(*extra: str) -> CliProcess:
    return CliProcess(
        "replay", str(fixture("spaces.capture.ndjson")), "--serve", "127.0.0.1:0", "--socketio",
        "--speed", "max", *extra,
    )


def replayed_payloads() -> list[dict]:
    lines = fixture("spaces.capture.ndjson").read_text().splitlines()[1:]
    return [json.loads(json.loads(line)["text"]) for line in lines]


def test_replay_serves_socketio_v4_to_a_python_socketio_client():
    expected = replayed_payloads()
    with serve() as proc:
        port = proc.wait_for(r"on sio://127\.0\.0\.1:(\d+)").group(1)
        client = PyClient(f"http://127.0.0.1:{port}", "/chat", transports=["websocket"])
        try:
            got = client.take(len(expected), timeout=30)
        finally:
            client.close()
        rc, _, err = proc.stop()
    assert got == [("PRESENCE_EVENT_RESPONSE", (p,)) for p in expected]
    assert "Traceback" not in err


def test_replay_serves_socketio_2_to_a_node_client():
    expected = replayed_payloads()
    with serve("--eio", "3") as proc:
        port = proc.wait_for(r"on sio://127\.0\.0\.1:(\d+)").group(1)
        lines = lines_of(node_client(f"http://127.0.0.1:{port}/chat", count=len(expected)))
        proc.stop()
    events = [line for line in lines if "event" in line]
    assert events == [{"event": "PRESENCE_EVENT_RESPONSE", "args": [p]} for p in expected]
