"""A Socket.IO test server: captured frames go out as Socket.IO events.

It has the shape of :class:`~presencectl.transports.ws_server.WebSocketServer`
(``on_client`` runs once per client in its own thread; ``start``, ``stop``,
``url``, ``port``, ``clients``, ``accepted``), so the replay driver can run
it in place of the plain WebSocket server. Its clients send a frame as an
event: :meth:`SocketIOClient.send_frame` (or ``send(data, topic)``) emits the
frame's payload as the event's one argument, under the frame's topic (the
event name a Socket.IO capture recorded; ``event``, default ``message``, for
frames without one), on the served namespace.

- Engine.IO v4 (Socket.IO 3 and later clients, the default): python-socketio's
  server (threading mode) under Werkzeug's threaded WSGI server, so clients
  with the default transports (HTTP long-polling, then the WebSocket upgrade)
  work as well as WebSocket-only ones.
- Engine.IO v3 (Socket.IO 2.x clients, ``eio=3``): python-socketio no longer
  speaks it, so this is a small server of our own over the ``websockets``
  library, WebSocket transport only (clients must use
  ``transports: ['websocket']``). It refuses ``EIO=4`` with HTTP 400, as a v4
  server refuses v3.

Payloads go out as received: a frame whose text is one JSON value is spliced
into the event packet unchanged (big integers and formatting survive); other
text goes as a JSON string; bytes as a binary attachment.

Engine.IO v4 serving needs Werkzeug (python-socketio's threading mode has no
HTTP server of its own); without it :meth:`SocketIOServer.start` raises a
:class:`~presencectl.errors.UsageError` that says so. python-engineio
announces the ping interval in whole seconds, so v4 rounds it up.

Closing a client with :data:`NORMAL` (the replay finished) disconnects it
from the namespace (``41``): Socket.IO clients do not reconnect after that.
:data:`GOING_AWAY` (a replayed disconnect) closes its Engine.IO session
instead, which clients answer by reconnecting.

Example::

    def play(client: SocketIOClient) -> None:
        client.send('{"category": "app.event.presence.party.online"}', "PRESENCE_EVENT_RESPONSE")

    with SocketIOServer(play, "127.0.0.1", 0, namespace="/chat", eio=3).start() as server:
        print(server.url)          # sio://127.0.0.1:41234
        ...
"""

from __future__ import annotations

import json
import logging
import math
import secrets
import socket
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from presencectl.core.events import Frame
from presencectl.core.protocols import socketio as sio
from presencectl.errors import TransportError, UsageError
from presencectl.transports.ws_server import GOING_AWAY, NORMAL, _bind_error

__all__ = ["SocketIOClient", "SocketIOServer", "NORMAL", "GOING_AWAY", "event_argument", "capture_namespace"]

#: Event name for frames recorded without one (a WebSocket or webhook capture).
DEFAULT_EVENT = "message"
#: A v4 client with more than this many packets queued makes its sender wait
#: (``--speed max`` into a slow client must not fill the memory).
MAX_QUEUED = 1000

_log = logging.getLogger("presencectl.socketio_server")
# The libraries log client mistakes at ERROR with client-sent text in them;
# they must not reach the terminal raw through logging's last-resort handler.
_log.addHandler(logging.NullHandler())
_log.propagate = False


def event_argument(data: str) -> str:
    """The JSON text of an event argument for a text payload.

    >>> event_argument('{"id": 12345678901234567890}'), event_argument("oops {")
    ('{"id": 12345678901234567890}', '"oops {"')
    >>> json.loads(event_argument('{"x": NaN}'))  # JavaScript reads no NaN: sent as a string
    '{"x": NaN}'
    """
    try:
        sio.strict_json(data)
    except ValueError:  # not one JSON value (NaN included: JavaScript would choke on it)
        return json.dumps(data, ensure_ascii=False)
    return data


def capture_namespace(header: Any) -> str | None:
    """The namespace a Socket.IO capture was recorded on (its header's ``topics``), if any.

    Only a capture whose header says ``"transport": "socketio"`` has one (an
    MQTT capture's topics are topics, not namespaces).

    >>> from presencectl.core.capture import make_header
    >>> capture_namespace(make_header("sios://h/socket.io/", "socketio", 0.0, ["/chat"]))
    '/chat'
    >>> capture_namespace(make_header("mqtt://h", "mqtt", 0.0, ["/sys/#"])) is None
    True
    """
    if header is None or getattr(header, "transport", None) != "socketio":
        return None
    for topic in getattr(header, "topics", None) or ():
        if isinstance(topic, str) and topic.startswith("/"):
            return topic
    return None


class SocketIOClient:
    """One client that joined the served namespace.

    ``send``, ``send_frame`` and ``close`` may be called from any thread;
    ``closed`` is set once the client left, whoever ended it.
    """

    def __init__(self, server: SocketIOServer, remote: str, path: str) -> None:
        self.server = server
        self.remote = remote
        self.path = path
        #: Set when the client has gone.
        self.closed = threading.Event()
        #: Packets the client sent us (a test server reads and drops them).
        self.received = 0
        self._lock = threading.Lock()

    def send(self, data: str | bytes, topic: str | None = None) -> bool:
        """Emit ``data`` as the one argument of event ``topic`` (None: the server's default name).

        Returns:
            False when the client has gone (nothing was sent).
        """
        if self.closed.is_set():
            return False
        name = topic if topic else self.server.event
        with self._lock:
            try:
                return self._emit(name, data)
            except Exception:  # the connection went away under us
                self.closed.set()
                return False

    def send_frame(self, frame: Frame) -> bool:
        """``send(frame.data, frame.topic)``."""
        return self.send(frame.data, frame.topic)

    def close(self, code: int = NORMAL, reason: str = "") -> None:
        """End the client: ``NORMAL`` leaves the namespace (``41``), anything else closes the session."""
        if not self.closed.is_set():
            try:
                self._close(code, reason)
            except Exception:
                pass
        self.closed.set()

    def _emit(self, name: str, data: str | bytes) -> bool:  # pragma: no cover - per version
        raise NotImplementedError

    def _close(self, code: int, reason: str) -> None:  # pragma: no cover - per version
        raise NotImplementedError


class SocketIOServer:
    """Serves Socket.IO clients and runs ``on_client`` for each, in its own thread.

    Args:
        on_client: called with each :class:`SocketIOClient` once it joined
            ``namespace``; the client is closed (:data:`NORMAL`) when it returns.
        host, port: where to listen (port 0: any free port, see :attr:`port`).
        path: the Engine.IO path (None: ``/socket.io/``).
        eio: 4 (Socket.IO 3+ clients) or 3 (Socket.IO 2.x clients).
        namespace: the namespace served (a capture's header ``topics`` names it).
        event: the event name for frames that carry no topic.
        ping_interval, ping_timeout: the heartbeat, in seconds.

    Call :meth:`start`, then :meth:`stop` (or use ``with``).

    Raises:
        UsageError: a bad ``eio``, namespace or path.
    """

    def __init__(
        self,
        on_client: Callable[[SocketIOClient], None],
        host: str = "127.0.0.1",
        port: int = 0,
        path: str | None = None,
        *,
        eio: int = sio.EIO4,
        namespace: str = "/",
        event: str = DEFAULT_EVENT,
        ping_interval: float = 25.0,
        ping_timeout: float = 20.0,
    ) -> None:
        if eio not in (sio.EIO3, sio.EIO4):
            raise UsageError(f"bad --eio {eio!r}: expected 3 or 4")
        if path in (None, "", "/"):
            path = sio.DEFAULT_PATH
        assert path is not None
        if not path.startswith("/") or any(c in path for c in "?# "):
            raise UsageError(f"bad Socket.IO path {path!r}: expected something like /socket.io/")
        self.on_client = on_client
        self.host = host
        self.port = port
        self.path = path if path.endswith("/") else path + "/"
        self.eio = eio
        self.namespace = sio.check_namespace(namespace)
        self.event = event or DEFAULT_EVENT
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.accepted = 0
        self._clients: set[SocketIOClient] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._backend: Any = None

    @property
    def url(self) -> str:
        """``sio://HOST:PORT[/path]`` of the bound server (what ``presencectl tail`` takes)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        path = "" if self.path == sio.DEFAULT_PATH else self.path
        return f"sio://{host}:{self.port}{path}"

    @property
    def description(self) -> str:
        """The URL, the protocol version and the namespace, for a notice."""
        major = "3 and later" if self.eio == sio.EIO4 else "2.x"
        return f"{self.url} (Socket.IO {major}, Engine.IO v{self.eio}, namespace {self.namespace})"

    @property
    def clients(self) -> list[SocketIOClient]:
        """The clients connected to the namespace now."""
        with self._lock:
            return [c for c in self._clients if not c.closed.is_set()]

    def broadcast(self, frame: Frame) -> int:
        """Send ``frame`` to every client connected now; returns how many got it."""
        return sum(1 for client in self.clients if client.send_frame(frame))

    def start(self) -> SocketIOServer:
        """Bind and start accepting in background threads.

        Raises:
            TransportError: the address is in use or cannot be bound.
            UsageError: Engine.IO v4 serving needs Werkzeug, and it is missing.
        """
        try:
            family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            sock = socket.create_server((self.host, self.port), family=family)
        except OSError as exc:
            raise TransportError(_bind_error(self.host, self.port, exc)) from None
        self.port = sock.getsockname()[1]
        try:
            backend = _V4Backend(self, sock) if self.eio == sio.EIO4 else _V3Backend(self, sock)
        except BaseException:
            sock.close()
            raise
        self._backend = backend
        self._thread = threading.Thread(target=backend.serve, name="socketio-server", daemon=True)
        self._thread.start()
        return self

    def stop(self, code: int = GOING_AWAY, reason: str = "server stopping") -> None:
        """Stop accepting, close every client with ``code``, wait for the threads."""
        backend, self._backend = self._backend, None
        if backend is None:
            return
        clients = self.clients
        for client in clients:
            client.closed.set()  # wake the handlers; the backend closes the connections
        backend.shutdown(code, reason)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SocketIOServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # Used by the backends.

    def _joined(self, client: SocketIOClient) -> None:
        """A client joined the namespace: run ``on_client`` for it in a new thread."""
        with self._lock:
            self._clients.add(client)
            self.accepted += 1
        threading.Thread(target=self._run, args=(client,), name="socketio-client", daemon=True).start()

    def _run(self, client: SocketIOClient) -> None:
        try:
            self.on_client(client)
        except Exception:  # a bug in the callback must not kill the server
            _log.exception("client handler failed")
        finally:
            client.close(NORMAL, "done")
            with self._lock:
                self._clients.discard(client)


# -- Engine.IO v4: python-socketio ----------------------------------------------


class _V4Client(SocketIOClient):
    def __init__(self, server: SocketIOServer, backend: _V4Backend, sid: str, remote: str, path: str) -> None:
        super().__init__(server, remote, path)
        self.backend = backend
        self.sid = sid

    def _emit(self, name: str, data: str | bytes) -> bool:
        backend = self.backend
        backend.wait_for_room(self)
        argument: object = data if isinstance(data, bytes) else backend.raw(event_argument(data))
        backend.sio.emit(name, argument, to=self.sid, namespace=self.server.namespace)
        return not self.closed.is_set()

    def _close(self, code: int, reason: str) -> None:
        server = self.backend.sio
        namespace = self.server.namespace
        if code == NORMAL:
            server.disconnect(self.sid, namespace=namespace)
        else:
            eio_sid = server.manager.eio_sid_from_sid(self.sid, namespace)
            session = server.eio.sockets.get(eio_sid) if eio_sid is not None else None
            if session is not None:
                # Not eio.disconnect(): it waits for the session's send queue
                # to drain, forever if the client is leaving at the same moment.
                session.close(wait=False)


class _V4Backend:
    """python-socketio (threading mode) in Werkzeug's threaded WSGI server."""

    def __init__(self, owner: SocketIOServer, sock: socket.socket) -> None:
        try:
            from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler
        except ImportError:
            raise UsageError(
                "serving Socket.IO with Engine.IO v4 needs Werkzeug (pip install Werkzeug); "
                "--eio 3 works without it"
            ) from None
        import socketio
        import socketio.packet

        self.owner = owner
        self.raw, packet_class = _raw_packet_class(socketio.packet)
        self.sio = socketio.Server(
            async_mode="threading",
            cors_allowed_origins="*",  # a loopback test server: let any web app in
            # python-engineio announces whole seconds only (0.3 would go out as 0).
            ping_interval=max(1, math.ceil(owner.ping_interval)),
            ping_timeout=owner.ping_timeout,
            serializer=packet_class,
            always_connect=True,  # the connect ack goes out before the first event
            logger=_log,
            engineio_logger=_log,
        )
        self._clients: dict[str, _V4Client] = {}
        namespace = owner.namespace
        self.sio.on("connect", self._connect, namespace=namespace)
        self.sio.on("disconnect", self._disconnect, namespace=namespace)
        self.sio.on("*", self._event, namespace=namespace)
        app = socketio.WSGIApp(self.sio, socketio_path=owner.path.strip("/"))

        class QuietHandler(WSGIRequestHandler):
            def log(self, type: str, message: str, *args: Any) -> None:
                pass

        class QuietServer(ThreadedWSGIServer):
            def log(self, type: str, message: str, *args: Any) -> None:
                pass

        self.http = QuietServer(owner.host, owner.port, app, handler=QuietHandler, fd=sock.fileno())
        sock.close()  # Werkzeug holds its own duplicate of the descriptor

    def serve(self) -> None:
        self.http.serve_forever(poll_interval=0.1)

    def shutdown(self, code: int, reason: str) -> None:
        try:
            for session in list(self.sio.eio.sockets.values()):
                session.close(wait=False)  # an Engine.IO close: clients see "transport close"
            self.sio.shutdown()
        finally:
            self.http.shutdown()
            self.http.server_close()

    def _connect(self, sid: str, environ: dict[str, Any], auth: object = None) -> None:
        address = environ.get("REMOTE_ADDR", "?")
        remote = f"{address}:{environ.get('REMOTE_PORT', '?')}"
        client = _V4Client(self.owner, self, sid, remote, environ.get("PATH_INFO", "/"))
        self._clients[sid] = client
        self.owner._joined(client)

    def _disconnect(self, sid: str, *reason: object) -> None:
        client = self._clients.pop(sid, None)
        if client is not None:
            client.closed.set()

    def _event(self, event: str, sid: str, *args: object) -> None:
        client = self._clients.get(sid)
        if client is not None:
            client.received += 1

    def wait_for_room(self, client: _V4Client) -> None:
        """Hold a sender while its client has too much queued (best effort)."""
        try:
            eio_sid = self.sio.manager.eio_sid_from_sid(client.sid, self.owner.namespace)
            queue = self.sio.eio.sockets[eio_sid].queue
        except Exception:  # gone, or the library's insides changed: no waiting
            return
        while queue.qsize() > MAX_QUEUED and not client.closed.is_set():
            time.sleep(0.005)


def _raw_packet_class(packet_module: Any) -> tuple[type[str], type]:
    """A python-socketio packet class that splices :class:`Raw` JSON texts unchanged."""

    class Raw(str):
        """JSON text to send as it is."""

    class RawPacket(packet_module.Packet):  # type: ignore[misc, name-defined]
        def encode(self):  # type: ignore[no-untyped-def]
            data = self.data
            if (
                self.packet_type == packet_module.EVENT
                and isinstance(data, list)
                and any(type(item) is Raw for item in data)
            ):
                body = ",".join(
                    item if type(item) is Raw else self.json.dumps(item, separators=(",", ":"))
                    for item in data
                )
                return sio.encode_packet(sio.EVENT, self.namespace or "/", f"[{body}]", self.id)
            return super().encode()

    return Raw, RawPacket


# -- Engine.IO v3: our own, over websockets ------------------------------------------


class _V3Client(SocketIOClient):
    def __init__(self, server: SocketIOServer, connection: Any, remote: str, path: str) -> None:
        super().__init__(server, remote, path)
        self.connection = connection

    def _emit(self, name: str, data: str | bytes) -> bool:
        namespace = self.server.namespace
        if isinstance(data, bytes):
            placeholder = '{"_placeholder":true,"num":0}'
            body = f"[{json.dumps(name, ensure_ascii=False)},{placeholder}]"
            self.connection.send(sio.E_MESSAGE + sio.encode_packet(sio.BINARY_EVENT, namespace, body, attachments=1))
            self.connection.send(b"\x04" + data)
        else:
            self.connection.send(sio.event_packet(namespace, name, [event_argument(data)]))
        return True

    def _close(self, code: int, reason: str) -> None:
        connection = self.connection
        if code == NORMAL:
            connection.send(sio.E_MESSAGE + sio.encode_packet(sio.DISCONNECT, self.server.namespace))
            connection.close(NORMAL, reason)
        else:
            connection.send(sio.E_CLOSE)
            connection.close(code, reason)


class _V3Backend:
    """Engine.IO v3 / Socket.IO 2.x over the ``websockets`` sync server."""

    def __init__(self, owner: SocketIOServer, sock: socket.socket) -> None:
        from websockets.sync.server import serve

        self.owner = owner
        self.server = serve(
            self._handle,
            sock=sock,
            compression=None,
            close_timeout=2,  # a peer that stopped answering holds nobody up for long
            process_request=self._check,
            server_header="presencectl",
            max_size=1 << 20,
            logger=_log,
        )

    def serve(self) -> None:
        self.server.serve_forever()

    def shutdown(self, code: int, reason: str) -> None:
        try:
            self.server.shutdown(code=code, reason=reason)
        except TypeError:  # websockets < 15: no close code to choose
            self.server.shutdown()

    def _check(self, connection: Any, request: Any) -> Any:
        path, _, query = request.path.partition("?")
        if not path.startswith(self.owner.path) and path + "/" != self.owner.path:
            return _refuse(connection, 404, 3, f"nothing served at {path}; Socket.IO is at {self.owner.path}")
        fields = parse_qs(query)
        if fields.get("transport", ["polling"])[0] != "websocket":
            return _refuse(
                connection, 400, 0,
                "Transport unknown: this Engine.IO v3 test server speaks WebSocket only "
                "(connect with transports: ['websocket'])",
            )
        if fields.get("EIO", ["3"])[0] != "3":
            return _refuse(connection, 400, 5, "Unsupported protocol version (this server speaks Engine.IO v3)")
        return None

    def _handle(self, connection: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        owner = self.owner
        namespace = owner.namespace
        address = getattr(connection, "remote_address", None)
        remote = f"{address[0]}:{address[1]}" if isinstance(address, tuple) else str(address)
        path = connection.request.path
        client: _V3Client | None = None
        window = owner.ping_interval + owner.ping_timeout
        try:
            connection.send(sio.open_packet(secrets.token_urlsafe(15), owner.ping_interval, owner.ping_timeout, 3))
            connection.send(sio.E_MESSAGE + sio.encode_packet(sio.CONNECT))  # the root namespace
            if namespace == "/":
                client = _V3Client(owner, connection, remote, path)
                owner._joined(client)
            while True:
                try:
                    message = connection.recv(timeout=window)
                except TimeoutError:
                    # No ping for pingInterval + pingTimeout: Engine.IO v3 gives up on the client.
                    if client is not None:
                        client.closed.set()
                    connection.close(NORMAL, "ping timeout")
                    return
                if not isinstance(message, str):
                    continue
                kind = message[:1]
                if kind == sio.E_PING:
                    connection.send(sio.E_PONG + message[1:])
                elif kind == sio.E_CLOSE:
                    return
                elif kind == sio.E_MESSAGE:
                    client = self._packet(connection, message[1:], client, remote, path)
        except ConnectionClosed:
            return
        finally:
            if client is not None:
                client.closed.set()

    def _packet(self, connection: Any, text: str, client: _V3Client | None, remote: str, path: str) -> _V3Client | None:
        owner = self.owner
        try:
            packet = sio.decode_packet(text)
        except sio.PacketError:
            return client
        if packet.type == sio.CONNECT:
            if packet.namespace == owner.namespace and client is None:
                connection.send(sio.E_MESSAGE + sio.encode_packet(sio.CONNECT, packet.namespace))
                client = _V3Client(owner, connection, remote, path)
                owner._joined(client)
            elif packet.namespace not in (owner.namespace, "/"):
                error = json.dumps("Invalid namespace")
                connection.send(sio.E_MESSAGE + sio.encode_packet(sio.CONNECT_ERROR, packet.namespace, error))
        elif packet.namespace == owner.namespace and client is not None:
            if packet.type == sio.DISCONNECT:
                client.closed.set()
            else:
                client.received += 1
        return client


def _refuse(connection: Any, status: int, code: int, message: str) -> Any:
    response = connection.respond(status, json.dumps({"code": code, "message": message}) + "\n")
    return response
