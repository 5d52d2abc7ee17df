"""Socket.IO against real peers on 127.0.0.1.

Client (:class:`SocketIOSource`) against a Node ``socket.io@2`` server
(Engine.IO v3) and a python-socketio 5 server (Engine.IO v4), both with a 1 s
ping interval and timeout; server (:class:`SocketIOServer`) against a
python-socketio client (v4) and a Node ``socket.io-client@2`` (v3).

The heartbeat proof needs no clock: the servers space five payloads 0.8 s
apart (four ping intervals); a client that keeps no heartbeat is dropped
after two seconds (shown with a bare websocket-client), so receiving all five
with no disconnect in the server's log means the heartbeat kept us in.
"""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
import websocket

from presencectl.cli.socketio_options import (
    AuthOpt,
    EioOpt,
    EmitOpt,
    EventOpt,
    NamespaceOpt,
    SocketIOArgs,
    SocketIOCommand,
    SocketIOOpt,
    wants_socketio,
)
from presencectl.cli.sources import socketio_source_from_args
from presencectl.core.capture import make_header
from presencectl.core.events import Frame
from presencectl.errors import TransportError, UsageError
from presencectl.transports.base import CannotConnect, ConnectionLost, Source
from presencectl.transports.socketio_client import SocketIOSource
from presencectl.transports.socketio_server import (
    GOING_AWAY,
    NORMAL,
    SocketIOClient,
    SocketIOServer,
)
from tests.conftest import wait_until
from tests.socketio_support import (
    PRESENCE,
    SUBSCRIBE,
    Node4Server,
    NodeServer,
    PyClient,
    PySioServer,
    lines_of,
    node_client,
)

pytestmark = pytest.mark.timeout(60)

SUBSCRIBE_EMIT = ("SUBSCRIBE_CHANNEL", SUBSCRIBE)
#: Independent servers: Node socket.io@2 (Engine.IO v3), Node socket.io@4 and python-socketio (v4).
PEERS = [NodeServer, Node4Server, PySioServer]
PEER_IDS = ["node-socket.io-2-eio3", "node-socket.io-4-eio4", "python-socketio-eio4"]

#: Exceptions raised in the server-side handlers of this module's tests (assertions
#: included); :func:`handler_errors_fail_the_test` fails the test with them.
HANDLER_ERRORS: list[BaseException] = []


def checked(handler):
    """``handler`` for a server thread, its exceptions kept for the test's teardown."""

    def run(*args):
        try:
            return handler(*args)
        except BaseException as exc:
            HANDLER_ERRORS.append(exc)
            raise

    return run


@pytest.fixture(autouse=True)
def handler_errors_fail_the_test():
    HANDLER_ERRORS.clear()
    yield
    errors, HANDLER_ERRORS[:] = list(HANDLER_ERRORS), []
    if errors:
        raise AssertionError(f"a test server's handler failed: {errors!r}") from errors[0]


def serve(handler, **options) -> SocketIOServer:
    """presencectl's own server, with handler errors failing the test."""
    return SocketIOServer(checked(handler), **options)


def source_for(server, **options) -> SocketIOSource:
    options.setdefault("namespace", "/chat")
    options.setdefault("emits", [SUBSCRIBE_EMIT])
    options.setdefault("connect_timeout", 5.0)
    return socketio_source_from_args(server.url, **options)


def take(source: SocketIOSource, count: int, timeout: float = 15.0) -> list[Frame]:
    frames: list[Frame] = []
    deadline = time.monotonic() + timeout
    while len(frames) < count:
        left = deadline - time.monotonic()
        assert left > 0, f"only {len(frames)} of {count} frames: {frames}"
        frame = source.receive(left)
        if frame is not None:
            frames.append(frame)
    return frames


def assert_spaces_session(frames: list[Frame]) -> None:
    assert [f.topic for f in frames] == ["CHANNEL_SUBSCRIBED"] + ["PRESENCE_EVENT_RESPONSE"] * len(PRESENCE)
    assert json.loads(frames[0].data) == json.loads(SUBSCRIBE)
    assert [json.loads(f.data) for f in frames[1:]] == PRESENCE
    assert all(isinstance(f.t, float) for f in frames)


# -- the client against Socket.IO 2.x (Engine.IO v3) and python-socketio (v4) ------------------


@pytest.mark.parametrize("peer", PEERS, ids=PEER_IDS)
def test_client_stays_joined_across_ping_intervals_and_gets_every_event(peer):
    with peer() as server:
        source = source_for(server)
        assert isinstance(source, Source)
        try:
            detail = source.connect()
            frames = take(source, 1 + len(PRESENCE))
        finally:
            source.close()
        expected = peer.VERSION
        assert source.version == expected
        assert detail == f"Engine.IO v{expected}, namespace /chat, heartbeat 1+1 s, emitted SUBSCRIBE_CHANNEL"
        assert_spaces_session(frames)
        assert server.log.wait_for("received")["args"] == [json.loads(SUBSCRIBE)]
        # Four ping intervals went by; nothing dropped us (only our own goodbye counts).
        leaving = server.log.wait_for("disconnect")
        assert "ping timeout" not in leaving["reason"]
        assert len(server.log.having("sent")) == len(PRESENCE)


@pytest.mark.parametrize("peer", PEERS, ids=PEER_IDS)
def test_a_client_without_heartbeat_is_dropped(peer):
    with peer() as server:
        version = peer.VERSION
        ws = websocket.create_connection(
            f"ws://127.0.0.1:{server.port}/socket.io/?EIO={version}&transport=websocket", timeout=10
        )
        received = []
        try:
            assert ws.recv().startswith("0{")
            ws.send("40/chat,{}" if version == 4 else "40/chat,")  # socket.io@4 wants the {} (auth)
            # socket.io@4 closes on an event for a namespace not joined yet: wait for the join
            while not (message := ws.recv()).startswith("40/chat"):
                assert message.startswith("40"), message  # socket.io@2 joins "/" first
            ws.send(f'42/chat,["SUBSCRIBE_CHANNEL",{SUBSCRIBE}]')
            while True:  # read, never answer or send a ping
                try:
                    message = ws.recv()
                except (websocket.WebSocketConnectionClosedException, ConnectionError):
                    break
                if not message:
                    break
                received.append(message)
        finally:
            ws.close()
        presence = [m for m in received if "PRESENCE_EVENT_RESPONSE" in m]
        assert len(presence) < len(PRESENCE)
        assert server.log.wait_for("disconnect")["reason"] == "ping timeout"


def test_event_filter_keeps_one_event_name():
    with PySioServer(gap=0.05) as server:
        source = source_for(server, events=["PRESENCE_EVENT_RESPONSE"])
        try:
            assert source.connect().endswith("keeping only PRESENCE_EVENT_RESPONSE")
            frames = take(source, len(PRESENCE))
        finally:
            source.close()
        assert {f.topic for f in frames} == {"PRESENCE_EVENT_RESPONSE"}
        assert [json.loads(f.data) for f in frames] == PRESENCE


def test_v3_auth_goes_as_the_namespace_query():
    with NodeServer(gap=0.05, token="s3cret") as server:
        source = source_for(server, auth='{"token": "s3cret"}')
        try:
            source.connect()
            take(source, 1)
        finally:
            source.close()
        assert server.log.wait_for("connection")["query"]["token"] == "s3cret"


def test_v3_root_namespace_auth_goes_in_the_url_after_detection():
    # Probing with EIO=4 finds a v3 server: the root namespace's credentials
    # must be in the handshake URL, so the client connects again with them.
    with NodeServer(gap=0.05, token="s3cret", namespace="/") as server:
        source = source_for(server, namespace="/", auth='{"token": "s3cret"}')
        try:
            assert source.connect().startswith("Engine.IO v3, namespace /,")
            take(source, 1)
        finally:
            source.close()
        assert server.log.wait_for("connection")["query"]["token"] == "s3cret"
        assert source.version == 3


def test_v4_auth_goes_in_the_connect_packet():
    with PySioServer(gap=0.05, token="s3cret") as server:
        source = source_for(server, auth='{"token": "s3cret"}')
        try:
            source.connect()
            take(source, 1)
        finally:
            source.close()
        assert server.log.wait_for("connection")["auth"] == {"token": "s3cret"}


@pytest.mark.parametrize(
    ("peer", "options", "message"),
    [
        (NodeServer, {"auth": '{"token": "wrong"}'}, "namespace /chat refused: not authorized"),
        (NodeServer, {"namespace": "/nope"}, "namespace /nope refused: Invalid namespace"),
        (Node4Server, {"auth": '{"token": "wrong"}'}, "namespace /chat refused: not authorized"),
        (Node4Server, {"namespace": "/nope"}, "namespace /nope refused: Invalid namespace"),
        (PySioServer, {"auth": '{"token": "wrong"}'}, "namespace /chat refused: not authorized"),
        (PySioServer, {"namespace": "/nope"}, "namespace /nope refused: Unable to connect"),
    ],
)
def test_connect_error_is_fatal_and_says_why(peer, options, message):
    with peer(token="s3cret") as server:
        source = source_for(server, **options)
        with pytest.raises(CannotConnect) as info:
            source.connect()
        source.close()
        assert info.value.fatal
        assert str(info.value) == f"{server.url}: {message}"


@pytest.mark.parametrize(
    ("peer", "end", "cause"),
    [
        (NodeServer, "disconnect", "the server disconnected us from namespace /chat"),
        (NodeServer, "close", "the server disconnected us from namespace /chat"),
        (Node4Server, "disconnect", "the server disconnected us from namespace /chat"),
        (Node4Server, "close", "the server disconnected us from namespace /chat"),
        (PySioServer, "disconnect", "the server disconnected us from namespace /chat"),
        (PySioServer, "close", "the server closed the Socket.IO session"),
    ],
)
def test_server_disconnect_is_a_clean_loss(peer, end, cause):
    with peer(gap=0.05, end=end) as server:
        source = source_for(server)
        try:
            source.connect()
            take(source, 1 + len(PRESENCE))
            with pytest.raises(ConnectionLost) as info:
                take(source, 1)
        finally:
            source.close()
        assert info.value.cause == cause
        assert info.value.clean
        with pytest.raises(ConnectionLost, match="not connected"):
            source.receive(0.1)


@pytest.mark.parametrize("peer", [Node4Server, PySioServer], ids=["node-socket.io-4", "python-socketio"])
def test_forcing_eio3_against_a_v4_server_says_what_is_wrong(peer):
    with peer() as server:
        source = source_for(server, eio="3")
        with pytest.raises(CannotConnect) as info:
            source.connect()
        if peer is Node4Server:
            # engine.io 6 completes the upgrade (101), then writes "HTTP/1.1 400 ...
            # Unsupported protocol version" into the WebSocket: no status to read.
            assert "the server ended the Socket.IO handshake" in info.value.cause
            return
        assert "HTTP 400" in info.value.cause
        assert "does not speak Engine.IO v3 (drop --eio 3 to detect the version)" in info.value.cause


def test_forcing_eio3_against_socketio_2():
    with NodeServer(gap=0.05) as server:
        source = source_for(server, eio=3)
        try:
            source.connect()
            assert_spaces_session(take(source, 1 + len(PRESENCE)))
        finally:
            source.close()
        assert server.log.wait_for("connection")["query"]["EIO"] == "3"


def test_falls_back_to_v3_when_the_server_refuses_v4():
    # presencectl's own v3 server refuses EIO=4 with HTTP 400, as a strict server would.
    def play(client: SocketIOClient) -> None:
        client.send('{"n": 1}', "HELLO")
        client.closed.wait(10)

    with serve(play, namespace="/chat", eio=3) as server:
        server.start()
        source = socketio_source_from_args(server.url, namespace="/chat", connect_timeout=5)
        try:
            detail = source.connect()
            (frame,) = take(source, 1)
        finally:
            source.close()
        assert detail.startswith("Engine.IO v3 after the server refused v4, namespace /chat")
        assert (frame.topic, frame.data) == ("HELLO", '{"n": 1}')
        assert source.version == 3


def test_reconnect_repeats_the_emits_and_records_event_names(tmp_path):
    from presencectl.core.decode import Decoder
    from presencectl.core.times import TimeParser
    from presencectl.engine.runner import Pipeline
    from presencectl.engine.session import Backoff, Session
    from presencectl.transports.files import CaptureReader, CaptureWriter
    from presencectl.ui.console import Environment

    capture = tmp_path / "spaces.capture.ndjson"
    notes: list[str] = []

    class Env(Environment):
        def note(self, message: str) -> None:
            notes.append(message)

        warn = note

    with PySioServer(gap=0.02, end="close") as server:
        source = source_for(server, events=["PRESENCE_EVENT_RESPONSE"])
        writer = CaptureWriter(str(capture), make_header(source.endpoint, source.transport, time.time(), source.topics))
        pipeline = Pipeline(Decoder(TimeParser()), None, None, None, limit=2 * len(PRESENCE), recorder=writer)
        session = Session(source, pipeline, Env(), backoff=Backoff(base=0.05, jitter=0), idle_timeout=10)
        ending = session.run()
        pipeline.close()
        assert ending.reason == "limit"
        assert len(server.log.having("received")) == 2  # the subscribe went out again
    assert any("reconnected to" in n and "emitted SUBSCRIBE_CHANNEL" in n for n in notes), notes
    reader = CaptureReader(str(capture), lambda m: None)
    assert reader.header.transport == "socketio" and reader.header.topics == ["/chat"]
    frames = [r for r in reader.records() if isinstance(r, Frame)]
    assert [f.topic for f in frames] == ["PRESENCE_EVENT_RESPONSE"] * (2 * len(PRESENCE))
    assert [json.loads(f.data) for f in frames] == PRESENCE * 2
    events = Decoder(TimeParser()).decode(frames[0].data, frames[0].topic, frames[0].t)
    assert (events[0].dialect, events[0].topic) == ("spaces", "PRESENCE_EVENT_RESPONSE")


class ScriptedServer:
    """A ``websockets`` server that says exactly the given frames after the client's ``40/chat,``."""

    def __init__(self, frames: list[str | bytes], version: int = 4) -> None:
        from websockets.exceptions import ConnectionClosed
        from websockets.sync.server import serve

        self.received: list[str | bytes] = []

        def handler(connection) -> None:
            connection.send(sio_open(version))
            try:
                message = connection.recv(timeout=5)
                self.received.append(message)
                connection.send('40/chat,{"sid":"s"}' if version == 4 else "40/chat,")
                for frame in frames:
                    connection.send(frame)
                while True:
                    message = connection.recv(timeout=5)
                    self.received.append(message)
                    if message == "2":
                        connection.send("3")
            except (ConnectionClosed, TimeoutError):
                return  # the client went away, or stayed silent past the handler's bound

        self.server = serve(checked(handler), "127.0.0.1", 0)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"sio://127.0.0.1:{self.server.socket.getsockname()[1]}"

    def __enter__(self) -> ScriptedServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()


def sio_open(version: int) -> str:
    from presencectl.core.protocols.socketio import open_packet

    return open_packet("s", 25, 20, version)


@pytest.mark.parametrize("version", [3, 4])
def test_binary_events_are_skipped_with_a_warning_and_garbage_is_passed_on(version):
    prefix = b"\x04" if version == 3 else b""
    frames = [
        '451-/chat,["FILE",{"_placeholder":true,"num":0}]',
        prefix + b"\x00\x01attachment",
        '42/chat,["x"',  # broken
        '42/chat,7["AFTER",{"id":18446744073709551617}]',  # asks for an ack: none is sent
        "\x1b]0;owned\x07",
        "41/chat,",  # right behind the events: they are all handed over before the loss
    ]
    warnings: list[str] = []
    with ScriptedServer(frames, version) as server:
        source = socketio_source_from_args(server.url, namespace="/chat", eio=version, warn=warnings.append)
        try:
            source.connect()
            got = take(source, 3)
            with pytest.raises(ConnectionLost, match="disconnected us from namespace /chat"):
                source.receive(5)
        finally:
            source.close()
    assert [(f.data, f.topic) for f in got] == [
        ('42/chat,["x"', None),
        ('{"id":18446744073709551617}', "AFTER"),
        ("\x1b]0;owned\x07", None),
    ]
    assert source.skipped == 1
    assert warnings == [
        f"{server.url}: event 'FILE' on /chat carries 1 binary attachment; skipped "
        "(binary attachments are not supported)"
    ]
    assert not any(isinstance(m, str) and m.startswith("43") for m in server.received)


def test_not_a_socketio_server():
    from websockets.sync.server import serve

    def handler(connection):
        connection.send('{"event":"clientConnected","deviceId":"d1"}')
        time.sleep(1)

    with serve(handler, "127.0.0.1", 0) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.socket.getsockname()[1]
        source = socketio_source_from_args(f"sio://127.0.0.1:{port}", eio=4, connect_timeout=5)
        with pytest.raises(CannotConnect) as info:
            source.connect()
        server.shutdown()
    assert info.value.fatal
    assert "not a Socket.IO server: not an Engine.IO packet" in info.value.cause


def test_refused_connection_is_not_fatal():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    source = socketio_source_from_args(f"sio://127.0.0.1:{port}", eio=4)
    with pytest.raises(CannotConnect) as info:
        source.connect()
    assert not info.value.fatal and "connection refused" in info.value.cause
    assert str(info.value).startswith(f"sio://127.0.0.1:{port}: ")


@pytest.mark.parametrize(
    ("url", "options", "message"),
    [
        ("mqtt://h", {}, "expected sio://, sios://, ws:// or wss://"),
        ("sio://h", {"eio": "5"}, "bad --eio"),
        ("sio://h", {"namespace": "/a,b"}, "bad --namespace"),
        ("sio://h", {"emits": [("E", "{oops")]}, "bad --emit E JSON: not JSON"),
        ("sio://h", {"emits": [("", "{}")]}, "the event name is empty"),
        ("sio://h", {"emits": [("E", "NaN")]}, "bad --emit E JSON: not JSON"),
        ("sio://h", {"events": [""]}, "bad --event"),
        ("sio://h", {"auth": "[1]"}, "bad --auth: expected a JSON object"),
        ("sio://h", {"headers": ["no colon"]}, "bad header"),
        ("sio://h", {"insecure": True}, "need a sios:// or wss:// URL"),
        ("sios://h", {"cacert": "/no/such/file"}, "--cacert /no/such/file"),
    ],
)
def test_bad_options_are_usage_errors(url, options, message):
    with pytest.raises(UsageError, match=message.replace("?", r"\?").replace("(", r"\(")):
        socketio_source_from_args(url, **options)


def test_endpoint_hides_the_token():
    source = socketio_source_from_args("sios://h/socket.io/?token=s3cret&tokenType=jwt", namespace="chat")
    assert "s3cret" not in source.endpoint
    assert source.topics == ["/chat"] and source.transport == "socketio" and source.markers


# -- the server against python-socketio (v4) and socket.io-client@2 (v3) -----------------------

AWKWARD = '{"id": 12345678901234567890, "x": 1.50, "name": "Ünïcødé ✓", "nested": [ 1,2 ]}'


def playing(frames: list[Frame], hold: float = 10.0):
    def play(client: SocketIOClient) -> None:
        for frame in frames:
            assert client.send_frame(frame)
        client.closed.wait(hold)

    return play


REPLAYED = [Frame(json.dumps(p), None, "PRESENCE_EVENT_RESPONSE") for p in PRESENCE]


@pytest.mark.parametrize("transports", [None, ["websocket"]], ids=["polling-then-upgrade", "websocket"])
def test_python_socketio_client_gets_the_replayed_events(transports):
    frames = REPLAYED + [Frame("not json {", None, None), Frame(b"\x00\xffbin", None, "BLOB")]
    with serve(playing(frames), namespace="/chat").start() as server:
        assert server.description.endswith("(Socket.IO 3 and later, Engine.IO v4, namespace /chat)")
        client = PyClient(f"http://127.0.0.1:{server.port}", "/chat", transports=transports)
        got = client.take(len(frames))
    client.close()  # after the server closed the session: nothing left to wait for
    assert got[: len(PRESENCE)] == [("PRESENCE_EVENT_RESPONSE", (p,)) for p in PRESENCE]
    assert got[len(PRESENCE) :] == [("message", ("not json {",)), ("BLOB", (b"\x00\xffbin",))]


def test_node_socketio_2_client_gets_the_replayed_events():
    frames = REPLAYED + [Frame(b"\x00\xffbin", None, "BLOB")]
    with serve(playing(frames), namespace="/chat", eio=3).start() as server:
        proc = node_client(f"http://127.0.0.1:{server.port}/chat", count=len(frames))
        lines = lines_of(proc)
    events = [line for line in lines if "event" in line]
    assert events[: len(PRESENCE)] == [{"event": "PRESENCE_EVENT_RESPONSE", "args": [p]} for p in PRESENCE]
    assert events[-1] == {"event": "BLOB", "args": [{"$binary": "AP9iaW4="}]}


@pytest.mark.parametrize("eio", [3, 4])
def test_payload_text_survives_server_to_client(eio):
    frames = [Frame(AWKWARD, None, "PRESENCE_EVENT_RESPONSE"), Frame("not json {", None, None)]
    with serve(playing(frames), namespace="/chat", eio=eio, event="raw").start() as server:
        source = socketio_source_from_args(server.url, namespace="/chat", eio=eio, connect_timeout=5)
        try:
            source.connect()
            got = take(source, 2)
        finally:
            source.close()
    assert [(f.topic, f.data) for f in got] == [("PRESENCE_EVENT_RESPONSE", AWKWARD), ("raw", '"not json {"')]


@pytest.mark.parametrize(("code", "reason"), [(NORMAL, "io server disconnect"), (GOING_AWAY, "transport close")])
def test_v3_close_codes_as_socketio_2_sees_them(code, reason):
    seen = threading.Event()

    def play(client: SocketIOClient) -> None:
        client.send('{"a":1}', "ONE")
        assert seen.wait(20), "the client never printed the event"
        client.close(code, "bye")

    with serve(play, namespace="/chat", eio=3).start() as server:
        proc = node_client(f"http://127.0.0.1:{server.port}/chat", count=99)
        first = []
        while not seen.is_set():  # close once the client has the event, not after a guess
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            first.append(json.loads(line))
            if first[-1].get("event") == "ONE":
                seen.set()
        lines = first + lines_of(proc)
    assert lines[-1] == {"disconnect": reason}
    assert {"event": "ONE", "args": [{"a": 1}]} in lines


@pytest.mark.parametrize("eio", [3, 4])
def test_replay_finished_disconnects_and_goodbye_is_seen(eio):
    with serve(playing(REPLAYED[:1], hold=0), namespace="/chat", eio=eio).start() as server:
        source = socketio_source_from_args(server.url, namespace="/chat", eio=eio, connect_timeout=5)
        try:
            source.connect()
            take(source, 1)
            with pytest.raises(ConnectionLost) as info:
                take(source, 1)
        finally:
            source.close()
    assert info.value.clean and "disconnected us from namespace /chat" in info.value.cause
    assert server.accepted == 1


@pytest.mark.parametrize("eio", [3, 4])
def test_server_heartbeat_keeps_our_clients_and_broadcast_reaches_all(eio):
    joined = threading.Barrier(3)

    def wait(client: SocketIOClient) -> None:
        joined.wait(10)
        client.closed.wait(15)

    # v4 announces whole seconds only (python-engineio): 1 s there, 0.3 s for v3.
    beat = 0.3 if eio == 3 else 1.0
    with serve(wait, namespace="/", eio=eio, ping_interval=beat, ping_timeout=beat).start() as server:
        sources = [socketio_source_from_args(server.url, connect_timeout=5) for _ in range(2)]
        got: list[list[Frame]] = [[], []]
        try:
            for source in sources:
                source.connect()
            joined.wait(10)
            assert len(server.clients) == 2
            # Each source keeps its heartbeat inside receive(): read in threads,
            # and broadcast only after several heartbeats went by.
            readers = [
                threading.Thread(target=lambda i=i: got[i].extend(take(sources[i], 1, timeout=20)))
                for i in range(2)
            ]
            for reader in readers:
                reader.start()
            # The duration under test, not a wait for readiness: four ping intervals.
            time.sleep(4 * beat)
            assert server.broadcast(Frame('{"all":true}', None, "NEWS")) == 2
            for reader in readers:
                reader.join(20)
        finally:
            for source in sources:
                source.close()
    assert [[(f.topic, f.data) for f in frames] for frames in got] == [[("NEWS", '{"all":true}')]] * 2


@pytest.mark.parametrize(
    ("client", "eio"),
    [("socket.io-client", 3), ("socket.io-client-v4", 4), ("python-socketio", 4)],
    ids=["node-socket.io-client-2", "node-socket.io-client-4", "python-socketio"],
)
def test_independent_clients_stay_through_our_heartbeat(client, eio):
    """Our server's heartbeat (v3: answers the client's pings; v4: pings) against
    clients that are not ours: they stay joined for three times the window in
    which a silent peer is dropped, and get the broadcast that follows."""
    beat = 0.3 if eio == 3 else 1.0  # python-engineio announces whole seconds only

    with serve(lambda c: c.closed.wait(30), namespace="/", eio=eio, ping_interval=beat, ping_timeout=beat).start() as server:
        url = f"http://127.0.0.1:{server.port}/"
        if client == "python-socketio":
            peer = PyClient(url, "/")
        else:
            proc = node_client(url, count=1, timeout=30, lib=client)
        wait_until(lambda: len(server.clients) == 1, "the client to join")
        # The duration under test: a client without a heartbeat is gone after one window.
        time.sleep(3 * (beat + beat))
        assert len(server.clients) == 1
        assert server.broadcast(Frame('{"all":true}', None, "NEWS")) == 1
        if client == "python-socketio":
            assert peer.take(1) == [("NEWS", ({"all": True},))]
            assert not peer.disconnected.is_set()
            peer.close()
        else:
            lines = lines_of(proc)
            assert lines[0] == {"connected": True} and {"event": "NEWS", "args": [{"all": True}]} in lines
            assert not any("disconnect" in line for line in lines[:-1]), lines


def test_v3_server_refuses_what_it_cannot_serve():
    import urllib.error
    import urllib.request

    with serve(lambda c: None, namespace="/chat", eio=3).start() as server:
        url = f"http://127.0.0.1:{server.port}/socket.io/?EIO=3&transport=polling"
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(url, timeout=5)
        assert info.value.code == 400
        assert "speaks WebSocket only" in json.loads(info.value.read())["message"]
        source = socketio_source_from_args(server.url, namespace="/other", eio=3, connect_timeout=5)
        with pytest.raises(CannotConnect, match="namespace /other refused: Invalid namespace"):
            source.connect()
        source = socketio_source_from_args(server.url + "/elsewhere/", eio=3, connect_timeout=5)
        with pytest.raises(CannotConnect, match="HTTP 404"):
            source.connect()


def test_v3_server_drops_a_client_without_heartbeat():
    with serve(lambda c: c.closed.wait(10), namespace="/", eio=3, ping_interval=0.3, ping_timeout=0.3).start() as server:
        ws = websocket.create_connection(f"ws://127.0.0.1:{server.port}/socket.io/?EIO=3&transport=websocket", timeout=10)
        try:
            assert ws.recv().startswith("0{")
            assert ws.recv() == "40"
            with pytest.raises(websocket.WebSocketConnectionClosedException):
                while True:
                    if not ws.recv():
                        raise websocket.WebSocketConnectionClosedException
        finally:
            ws.close()


def test_server_module_doctests():
    import doctest

    from presencectl.transports import socketio_server

    assert doctest.testmod(socketio_server).failed == 0


def test_server_bind_errors_and_bad_settings():
    with serve(lambda c: None).start() as server, pytest.raises(TransportError, match="already in use"):
        serve(lambda c: None, port=server.port).start()
    with pytest.raises(UsageError):
        SocketIOServer(lambda c: None, eio=5)
    with pytest.raises(UsageError):
        SocketIOServer(lambda c: None, namespace="/a,b")
    assert SocketIOServer(lambda c: None, port=5, path="/x").url == "sio://127.0.0.1:5/x/"


# -- the command-line options -------------------------------------------------------------


def test_options_parse_emit_pairs_and_feed_the_source():
    import typer
    from typer.testing import CliRunner

    seen: list[SocketIOArgs] = []
    app = typer.Typer()

    @app.command("tail", cls=SocketIOCommand)
    def tail(
        source: str,
        *,
        socketio: SocketIOOpt = False,
        namespace: NamespaceOpt = None,
        emit: EmitOpt = None,
        event: EventOpt = None,
        auth: AuthOpt = None,
        eio: EioOpt = None,
    ) -> None:
        seen.append(SocketIOArgs.from_options(socketio, namespace, emit, event, auth, eio))

    @app.command("other")
    def other() -> None: ...

    runner = CliRunner()
    result = runner.invoke(app, [
        "tail", "--emit", "SUBSCRIBE_CHANNEL", SUBSCRIBE, "sios://h/socket.io/?token=t", "--emit", "B", "[1]",
        "--event", "PRESENCE_EVENT_RESPONSE", "--namespace", "/chat", "--eio", "3",
    ], env={"PRESENCECTL_SOCKETIO_AUTH": '{"token": "t"}'})
    assert result.exit_code == 0, result.output
    args = seen[-1]
    assert args.emits == [("SUBSCRIBE_CHANNEL", SUBSCRIBE), ("B", "[1]")]
    assert args.given() == {"--namespace": True, "--emit": True, "--event": True, "--auth": True, "--eio": True}
    source = socketio_source_from_args("sios://h/socket.io/?token=t", **args.source_kwargs())
    assert (source.options.eio, source.options.auth, source.options.events) == (3, '{"token": "t"}', ["PRESENCE_EVENT_RESPONSE"])
    assert source.options.emits == args.emits
    assert runner.invoke(app, ["tail", "x"], env={}).exit_code == 0
    assert seen[-1] == SocketIOArgs()
    assert runner.invoke(app, ["tail", "x", "--eio", "5"]).exit_code == 2
    assert runner.invoke(app, ["tail", "x", "--emit", "ONLY_A_NAME"]).exit_code == 2


def test_wants_socketio_and_misuse():
    assert wants_socketio("SIO://h", False) and wants_socketio("sios://h", False)
    assert wants_socketio("wss://h/x", True) and not wants_socketio("wss://h/x", False)
    assert not wants_socketio("capture.ndjson", False)
    for source in ("capture.ndjson", "http://h/x", "mqtt://h"):
        with pytest.raises(UsageError, match="--socketio needs SOURCE"):
            wants_socketio(source, True)
    from presencectl.cli.option_groups import ConnectArgs, check_applicable

    check_applicable("websocket", ConnectArgs(sio=SocketIOArgs()))
    with pytest.raises(UsageError, match="--namespace, --emit cannot be used with a WebSocket source"):
        check_applicable("websocket", ConnectArgs(sio=SocketIOArgs(namespace="/chat", emits=[("A", "{}")])))
