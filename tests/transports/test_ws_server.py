"""The WebSocket test server (``replay --serve``, ``demo``): what a user sees when it cannot
listen, IPv6 loopback, and the public :class:`WebSocketServer` surviving a failing handler.

Real peers only: the CLI as a subprocess, the ``websockets`` sync client.
"""

from __future__ import annotations

import re
import socket
import threading

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from presencectl.transports.ws_server import GOING_AWAY, NORMAL, ServedClient, WebSocketServer
from tests.conftest import assert_no_traceback, fixture, run_cli, wait_until
from tests.replay_support import CliProcess, capture_payloads, collect_websockets

SPAN = str(fixture("span-activity.capture.ndjson"))
#: The plain WebSocket server and the Socket.IO one share the bind step and its errors.
SERVERS = [pytest.param([], id="ws"), pytest.param(["--socketio"], id="socketio")]


def one_error_line(result) -> str:
    assert_no_traceback(result)
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("presencectl: error: "), lines
    return lines[0]


@pytest.mark.parametrize("server", SERVERS)
def test_an_address_this_machine_does_not_have_is_named(server):
    # 192.0.2.0/24 is TEST-NET-1: never assigned to a local interface.
    result = run_cli("replay", SPAN, "--serve", "192.0.2.1:0", "--allow-remote", *server)
    assert result.returncode == 1
    assert one_error_line(result) == "presencectl: error: cannot listen on 192.0.2.1:0: no such address on this machine"


@pytest.mark.parametrize("server", SERVERS)
def test_a_host_name_that_does_not_resolve_is_an_unknown_host(server):
    # .invalid never resolves (RFC 6761). Before the fix this printed Python's
    # "Name or service not known (while attempting to bind on address ...)".
    result = run_cli("replay", SPAN, "--serve", "no-such-host.invalid:0", "--allow-remote", *server)
    assert result.returncode == 1
    assert one_error_line(result) == "presencectl: error: cannot listen on no-such-host.invalid:0: unknown host"


@pytest.mark.parametrize("server", SERVERS)
def test_a_port_in_use_says_so_and_how_to_pick_another(server):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("replay", SPAN, "--serve", f"127.0.0.1:{port}", *server)
    assert result.returncode == 1
    assert one_error_line(result) == (
        f"presencectl: error: cannot listen on 127.0.0.1:{port}: the port is already in use "
        "(pick another, or 0 for any free port)"
    )


def ipv6_loopback() -> bool:
    try:
        with socket.create_server(("::1", 0), family=socket.AF_INET6):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not ipv6_loopback(), reason="this machine has no IPv6 loopback (::1) to bind")
def test_serve_on_ipv6_loopback_announces_a_bracketed_url_and_replays():
    with CliProcess("replay", SPAN, "--serve", "[::1]:0", "--speed", "max") as server:
        url = server.url()
        assert re.fullmatch(r"ws://\[::1\]:\d+/", url), url
        got = collect_websockets(url)
        rc, _, err = server.stop()
    assert got.messages == capture_payloads(fixture("span-activity.capture.ndjson"))
    assert got.close_code == NORMAL
    assert rc == 130
    assert "served" in err and "to 1 client" in err


# -- the public class ---------------------------------------------------------


def test_a_handler_that_raises_closes_that_client_and_the_server_keeps_serving():
    seen: list[ServedClient] = []

    def on_client(client: ServedClient) -> None:
        seen.append(client)
        if len(seen) == 1:
            raise RuntimeError("a bug in the handler")
        client.send("hello")
        client.send(b"\x00\x01")

    with WebSocketServer(on_client, "127.0.0.1", 0).start() as server:
        assert re.fullmatch(rf"ws://127\.0\.0\.1:{server.port}/", server.url)
        with connect(server.url) as first:
            with pytest.raises(ConnectionClosed) as closed:
                first.recv(timeout=20)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == NORMAL
        with connect(server.url) as second:
            assert second.recv(timeout=20) == "hello"
            assert second.recv(timeout=20) == b"\x00\x01"
        assert server.accepted == 2
    # what each handler was given: where the client is and what it asked for
    assert re.fullmatch(r"127\.0\.0\.1:\d+", seen[0].remote)
    assert seen[0].path == "/"


def test_send_after_the_client_left_is_false_and_messages_from_clients_are_counted():
    ready = threading.Event()
    holder: list[ServedClient] = []

    def on_client(client: ServedClient) -> None:
        holder.append(client)
        ready.set()
        client.closed.wait(20)

    with WebSocketServer(on_client, "127.0.0.1", 0).start() as server:
        with connect(server.url + "?x=1") as ws:
            assert ready.wait(20)
            ws.send("subscribe")
            ws.send("again")
            client = holder[0]
            wait_until(lambda: client.received == 2, "two client messages counted")
            assert server.clients == [client]
        wait_until(client.closed.is_set, "the server noticing the client left")
        assert client.send("too late") is False
        assert server.clients == []


def test_stop_closes_every_client_going_away_and_a_second_stop_does_nothing():
    started = threading.Barrier(3)

    def on_client(client: ServedClient) -> None:
        started.wait(20)
        client.closed.wait(20)

    server = WebSocketServer(on_client, "127.0.0.1", 0, path="/").start()
    codes: list[int | None] = []
    with connect(server.url) as a, connect(server.url) as b:
        started.wait(20)
        server.stop()
        for ws in (a, b):
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=20)
            codes.append(closed.value.rcvd.code if closed.value.rcvd else None)
            assert closed.value.rcvd is None or closed.value.rcvd.reason == "server stopping"
    assert codes == [GOING_AWAY, GOING_AWAY]
    server.stop()  # already stopped: nothing to do, no error
