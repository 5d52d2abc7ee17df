"""Socket.IO client source: Engine.IO v3 and v4 over websocket-client.

python-socketio's client speaks only Engine.IO v4, and Avaya Spaces runs
Socket.IO 2.x (v3), so the protocol is ours: :mod:`presencectl.core.protocols.socketio`
holds it, sans-I/O. This module is the thin part around it. The WebSocket
itself (TCP, proxies from ``http_proxy``/``https_proxy``, TLS, headers, the
upgrade, close frames, the error messages) is
:class:`~presencectl.transports.ws_client.WsSource`, used as is.

Each Socket.IO event on the namespace becomes one
:class:`~presencectl.core.events.Frame`: ``data`` is the text of the event's
first argument sliced from the frame as received (``"null"`` when it has
none), ``topic`` is the event name. What else happens:

- the Engine.IO version: ``EIO=4`` is asked for first and the open packet
  says which one the server speaks (Socket.IO 2.x servers ignore ``EIO`` and
  answer v3; a server that refuses ``EIO=4`` with HTTP 400 or a close is
  asked again with ``EIO=3``); ``eio`` forces one. The version found is kept
  for reconnects.
- the heartbeat: v3 pings the server every ``pingInterval``; v4 answers the
  server's pings. A silent server is a :class:`ConnectionLost`.
- the namespace is joined with ``auth`` (v4), or with ``auth``'s fields as the
  connect packet's query (v3); ``emits`` are sent once joined, after every
  (re)connect.
- ``44`` (the server refused the namespace or the credentials) is a fatal
  :class:`CannotConnect`; ``41`` (the server disconnected us) and ``1``
  (it closed the session) are a clean :class:`ConnectionLost`; ``41`` is
  also ``finished``: Socket.IO clients do not reconnect after the server
  disconnected them from the namespace (``replay --serve --socketio`` does
  that when the capture ends).
- binary events are skipped with a warning (their attachments are consumed);
  a frame that breaks the encoding is handed on as it came, so it is shown
  as unparsed and recorded verbatim.
- acknowledgements the server asks for are never sent: a watcher confirms
  nothing on its user's behalf.

Example (the builder is the CLI's, :mod:`presencectl.cli.sources`)::

    source = socketio_source_from_args(
        "sios://spacesapis-socket.avayacloud.com/socket.io/?token=…&tokenType=jwt",
        namespace="/chat",
        emits=[("SUBSCRIBE_CHANNEL", '{"channel":{"_id":"5eec…","type":"topic"}}')],
        events=["PRESENCE_EVENT_RESPONSE"],
    )
    source.connect()
    frame = source.receive(5.0)   # Frame(data='{"category":…}', topic='PRESENCE_EVENT_RESPONSE')
"""

from __future__ import annotations

import ssl
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from presencectl.core.capture import redact_url
from presencectl.core.events import Frame
from presencectl.core.protocols import socketio as sio
from presencectl.transports.base import CannotConnect, ConnectionLost
from presencectl.transports.ws_client import (
    OP_TEXT,
    WsOptions,
    WsSource,
    parse_header,
    parse_ws_url,
)

__all__ = ["SocketIOOptions", "SocketIOSource"]

#: Warnings about skipped binary events stop after this many.
_MAX_WARNINGS = 5


@dataclass(slots=True)
class SocketIOOptions:
    """How to connect; see :func:`presencectl.cli.sources.socketio_source_from_args` for the meaning of each."""

    url: str
    namespace: str = "/"
    emits: list[tuple[str, str]] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    auth: str | None = None
    eio: int | None = None
    headers: list[str] = field(default_factory=list)
    ssl_context: ssl.SSLContext | None = None
    connect_timeout: float = 10.0
    warn: Callable[[str], None] | None = None


class _TryV3(Exception):
    """The ``EIO=4`` attempt failed in a way a v3-only server fails it."""

    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause


class SocketIOSource:
    """A Socket.IO client as a :class:`~presencectl.transports.base.Source`.

    Attributes:
        endpoint: the URL as given, credentials removed.
        topics: ``[namespace]``, for the capture header's ``topics``.
        version: the Engine.IO version in use (None before the first connect
            unless forced).
        skipped: binary events skipped so far.
    """

    transport = "socketio"
    markers = True
    confirms = False  # done() tells the peer nothing (see transports.base.Source)

    def __init__(self, options: SocketIOOptions) -> None:
        self.options = options
        self.endpoint = redact_url(options.url)
        self.topics = [options.namespace]
        self.version: int | None = options.eio
        self.skipped = 0
        self._events = frozenset(options.events)
        # Check everything now, so a bad URL or header is a usage error before any connection.
        parse_ws_url(sio.engine_url(options.url, sio.EIO4))
        for line in options.headers:
            parse_header(line)
        self._ws: WsSource | None = None
        self._protocol: sio.ClientProtocol | None = None
        self._pending: deque[Frame] = deque()
        #: A loss found while events were still waiting: raised once they are taken.
        self._lost: ConnectionLost | None = None
        self._warned = 0

    # Connecting.

    def connect(self) -> str:
        """Open the WebSocket, do the Engine.IO and namespace handshakes, send the emits.

        Raises:
            CannotConnect: the WebSocket failed (see ``WsSource``), the server is
                not a Socket.IO server, it did not answer in time, or it refused
                the namespace or credentials (``fatal``).
        """
        self.close()
        if self.version is not None:
            return self._connect(self.version)
        try:
            return self._connect(sio.EIO4)
        except _TryV3 as first:
            try:
                return self._connect(sio.EIO3, refused_v4=first.cause)
            except CannotConnect as exc:
                raise CannotConnect(
                    self.endpoint, f"{exc.cause} (and with EIO=4: {first.cause})", fatal=exc.fatal
                ) from None

    def _url(self, version: int) -> str:
        url = sio.engine_url(self.options.url, version)
        if version == sio.EIO3 and self.options.auth and self.options.namespace == "/":
            # Socket.IO 2.x has no auth payload; the root namespace takes its
            # query from the handshake URL.
            url += "&" + sio.auth_query(self.options.auth)
        return url

    def _connect(self, version: int, refused_v4: str | None = None) -> str:
        opts = self.options
        probing = self.version is None and version == sio.EIO4
        ws = WsSource(
            WsOptions(
                self._url(version),
                headers=list(opts.headers),
                ssl_context=opts.ssl_context,
                connect_timeout=opts.connect_timeout,
                ping_interval=None,  # the Engine.IO heartbeat does this job
            )
        )
        try:
            ws.connect()
        except CannotConnect as exc:
            if probing and exc.cause.startswith("HTTP 400"):
                raise _TryV3(exc.cause) from None
            raise CannotConnect(self.endpoint, self._explain(exc.cause, version), fatal=exc.fatal) from None
        self._ws = ws
        protocol = sio.ClientProtocol(
            opts.namespace,
            auth=opts.auth,
            version=self.version if self.version is not None else (None if probing else version),
            emits=opts.emits,
        )
        self._protocol = protocol
        self._pending.clear()
        self._lost = None
        deadline = time.monotonic() + opts.connect_timeout
        try:
            while protocol.state != "joined":
                left = deadline - time.monotonic()
                if left <= 0:
                    if protocol.handshake is None:
                        cause = (
                            f"no Engine.IO open packet within {opts.connect_timeout:g} s "
                            "(is this a Socket.IO server?)"
                        )
                    else:
                        cause = f"namespace {opts.namespace} did not answer within {opts.connect_timeout:g} s"
                    raise CannotConnect(self.endpoint, cause)
                frame = ws.receive(left)
                if frame is not None:
                    self._feed(frame, joining=True)
                    if self._lost is not None:
                        lost, self._lost = self._lost, None
                        raise CannotConnect(self.endpoint, f"the server ended the Socket.IO handshake: {lost.cause}")
                    if probing and self._auth_lost(protocol):
                        # A v3 server found while probing with EIO=4: the root
                        # namespace's credentials belong in the URL. Start again.
                        self._drop()
                        self.version = sio.EIO3
                        return self._connect(sio.EIO3)
        except ConnectionLost as exc:
            self._drop()
            if probing and protocol.handshake is None:
                raise _TryV3(f"the server closed the connection before its open packet ({exc.cause})") from None
            raise CannotConnect(self.endpoint, f"the server ended the Socket.IO handshake: {exc.cause}") from None
        except CannotConnect:
            self._drop()
            raise
        self.version = protocol.version
        hs = protocol.handshake
        assert hs is not None
        detail = f"Engine.IO v{protocol.version}"
        if refused_v4:
            detail += " after the server refused v4"
        detail += f", namespace {opts.namespace}, heartbeat {hs.ping_interval:g}+{hs.ping_timeout:g} s"
        if opts.emits:
            detail += f", emitted {', '.join(name for name, _ in opts.emits)}"
        if opts.events:
            detail += f", keeping only {', '.join(opts.events)}"
        return detail

    def _auth_lost(self, protocol: sio.ClientProtocol) -> bool:
        opts = self.options
        return (
            protocol.version == sio.EIO3
            and protocol.state == "joining"
            and opts.auth is not None
            and opts.namespace == "/"
        )

    def _explain(self, cause: str, version: int) -> str:
        if cause.startswith("HTTP 400") and self.options.eio is not None:
            return (
                f"{cause}: the server does not speak Engine.IO v{version} "
                f"(drop --eio {version} to detect the version)"
            )
        if cause.startswith("HTTP 404") and "socket.io" not in self.options.url:
            return f"{cause}; Socket.IO servers usually serve {sio.DEFAULT_PATH}"
        return cause

    # Receiving.

    def receive(self, timeout: float | None) -> Frame | None:
        """The next event, waiting at most ``timeout`` seconds; see :meth:`Source.receive`.

        Raises:
            ConnectionLost: the WebSocket closed, the heartbeat stopped, or the
                server disconnected us from the namespace.
        """
        if self._pending:
            return self._pending.popleft()
        self._raise_lost()
        ws, protocol = self._ws, self._protocol
        if ws is None or protocol is None:
            raise ConnectionLost(self.endpoint, "not connected")
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            now = time.monotonic()
            protocol.tick(now)
            self._settle()
            if self._pending:
                return self._pending.popleft()
            self._raise_lost()
            wake = protocol.next_deadline()
            until = deadline if wake is None else (wake if deadline is None else min(deadline, wake))
            try:
                frame = ws.receive(None if until is None else max(0.0, until - now))
            except ConnectionLost as exc:
                self._drop()
                raise ConnectionLost(self.endpoint, exc.cause, clean=exc.clean, finished=exc.finished) from None
            if frame is not None:
                self._feed(frame, joining=False)
                if self._pending:
                    return self._pending.popleft()
                self._raise_lost()
            elif deadline is not None and time.monotonic() >= deadline:
                return None

    def _raise_lost(self) -> None:
        lost = self._lost
        if lost is not None:
            self._lost = None
            raise lost

    def _lose(self, cause: str, clean: bool = False, finished: bool = False) -> None:
        """The connection is over: drop it now, report it once the waiting events are taken."""
        self._drop()
        if self._lost is None:
            self._lost = ConnectionLost(self.endpoint, cause, clean=clean, finished=finished)

    def _feed(self, frame: Frame, joining: bool) -> None:
        protocol = self._protocol
        assert protocol is not None
        data = frame.data
        now = time.monotonic()
        if isinstance(data, bytes):
            protocol.receive_binary(data, now)
        else:
            protocol.receive_text(data, now)
        self._settle(joining, frame.t)

    def _settle(self, joining: bool = False, received: float | None = None) -> None:
        """Send what the protocol wants sent; turn what happened into frames or errors."""
        protocol = self._protocol
        assert protocol is not None
        if received is None:
            received = time.time()
        for item in protocol.events_received():
            if isinstance(item, sio.EventReceived):
                if self._events and item.name not in self._events:
                    continue
                self._pending.append(
                    Frame(item.data if item.data is not None else "null", received, item.name)
                )
            elif isinstance(item, sio.Malformed):
                if protocol.handshake is None:
                    self._drop()
                    raise CannotConnect(
                        self.endpoint,
                        f"not a Socket.IO server: {item.reason} ({_shown(item.text)})",
                        fatal=True,
                    )
                self._pending.append(Frame(item.text, received))
            elif isinstance(item, sio.Unsupported):
                self.skipped += 1
                self._warn(f"{item.detail} (binary attachments are not supported)")
            elif isinstance(item, sio.ConnectError):
                message = f"namespace {item.namespace} refused: {item.message}"
                if joining:
                    self._drop()
                    raise CannotConnect(self.endpoint, message, fatal=True)
                self._lose(message)
            elif isinstance(item, sio.Disconnected):
                why = f" ({item.message})" if item.message else ""
                self._lose(f"the server disconnected us from namespace {item.namespace}{why}", clean=True, finished=True)
            elif isinstance(item, sio.Closed):
                self._lose("the server closed the Socket.IO session", clean=True)
            elif isinstance(item, sio.HeartbeatTimeout):
                self._lose(f"heartbeat lost: {item.reason}")
            # Opened, Joined: the protocol's state says it all.
        # Pongs, pings, the namespace connect, the emits; after the events, so a
        # failed send cannot lose what already arrived.
        for text in protocol.data_to_send():
            if self._ws is None:
                break
            self._send(text)

    def _warn(self, message: str) -> None:
        warn = self.options.warn
        if warn is None or self._warned >= _MAX_WARNINGS:
            return
        self._warned += 1
        if self._warned == _MAX_WARNINGS:
            message += "; no more such warnings"
        warn(f"{self.endpoint}: {message}")

    def _send(self, text: str) -> None:
        ws = self._ws
        if ws is None:
            return
        try:
            ws._send(OP_TEXT, text.encode("utf-8"))
        except ConnectionLost as exc:
            self._lose(exc.cause)

    # Ending.

    def _drop(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            ws.close()

    def close(self) -> None:
        """Leave the namespace and close the session politely (best effort), then the socket."""
        protocol, ws = self._protocol, self._ws
        self._protocol = None
        if ws is not None and protocol is not None:
            try:
                for text in protocol.close():
                    ws._send(OP_TEXT, text.encode("utf-8"))
            except ConnectionLost:
                pass
        self._drop()

    def pending(self) -> bool:
        """True when an event is already waiting; see :meth:`Source.pending`.

        A WebSocket message still in the buffer does not count: it may be a
        ping, and ``receive`` would then wait for the network.
        """
        return bool(self._pending)

    def done(self, frame: Frame, problem: str | None) -> None:
        """Nothing to acknowledge (see the module docstring)."""


def _shown(text: str) -> str:
    return text if len(text) <= 80 else text[:79] + "…"
