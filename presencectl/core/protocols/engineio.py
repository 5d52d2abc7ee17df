"""Engine.IO v3/v4 over a WebSocket, sans-I/O: the session under every Socket.IO packet.

Pure: no sockets, no clock reads, no printing. What a client needs below the
Socket.IO layer (:mod:`presencectl.core.protocols.socketio`):

- :func:`engine_url`: ``sio://host/…`` → ``ws://host/socket.io/?EIO=4&transport=websocket``.
- :func:`parse_open` / :func:`open_packet`: the server's open packet (``0{…}``).
- :class:`EngineSession`: the packet types (``0`` open … ``6`` noop), the
  heartbeat of either version, and what it reports (:class:`Opened`,
  :class:`Closed`, :class:`Malformed`, :class:`HeartbeatTimeout`, …). The
  Socket.IO client builds on it and handles the ``4`` (message) packets.

The two versions, as they matter here::

                        Engine.IO v3 (Socket.IO 2.x)    Engine.IO v4 (Socket.IO 3+)
    open packet         0{"sid","pingInterval",…}       the same, plus "maxPayload"
    heartbeat           client sends 2, server 3        server sends 2, client 3
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from presencectl.errors import UsageError

__all__ = [
    "DEFAULT_PATH",
    "EIO3",
    "EIO4",
    "PacketError",
    "Handshake",
    "parse_open",
    "open_packet",
    "engine_url",
    "EngineSession",
    "Opened",
    "Closed",
    "Unsupported",
    "Malformed",
    "HeartbeatTimeout",
]

EIO3 = 3
EIO4 = 4
#: Where Socket.IO servers listen unless configured otherwise. The trailing
#: slash matters: Socket.IO 2.x servers match the path by prefix with it.
DEFAULT_PATH = "/socket.io/"

# Engine.IO packet types (the first character of a text frame).
E_OPEN, E_CLOSE, E_PING, E_PONG, E_MESSAGE, E_UPGRADE, E_NOOP = "0123456"


class PacketError(ValueError):
    """A frame does not follow the Engine.IO / Socket.IO encoding; the message says how."""


# -- the Engine.IO handshake ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class Handshake:
    """The server's open packet.

    Attributes:
        sid: the Engine.IO session id.
        ping_interval, ping_timeout: seconds (the packet carries milliseconds).
        max_payload: bytes (Engine.IO v4 only: its presence marks v4).
        upgrades: transports the server offers to upgrade to.
    """

    sid: str
    ping_interval: float
    ping_timeout: float
    max_payload: int | None = None
    upgrades: tuple[str, ...] = ()

    @property
    def version(self) -> int:
        """The Engine.IO version this handshake looks like: 4 with ``maxPayload``, else 3."""
        return EIO4 if self.max_payload is not None else EIO3


def parse_open(text: str) -> Handshake:
    """The JSON of an open packet (the frame without its leading ``0``).

    >>> parse_open('{"sid":"x","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}')
    Handshake(sid='x', ping_interval=25.0, ping_timeout=20.0, max_payload=1000000, upgrades=())

    Raises:
        PacketError: not a JSON object, or a field is missing or of the wrong type.
    """
    try:
        data = json.loads(text)
    except ValueError:
        raise PacketError("the open packet is not JSON") from None
    if not isinstance(data, dict):
        raise PacketError("the open packet is not a JSON object")
    sid = data.get("sid")
    interval = data.get("pingInterval")
    timeout = data.get("pingTimeout")
    if not isinstance(sid, str):
        raise PacketError("the open packet has no sid")
    for name, value in (("pingInterval", interval), ("pingTimeout", timeout)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise PacketError(f"the open packet has no usable {name}")
    max_payload = data.get("maxPayload")
    if max_payload is not None and (isinstance(max_payload, bool) or not isinstance(max_payload, int)):
        raise PacketError("the open packet's maxPayload is not a number")
    upgrades = data.get("upgrades")
    shown = tuple(u for u in upgrades if isinstance(u, str)) if isinstance(upgrades, list) else ()
    # Cap absurd values: a heartbeat of days would never detect a dead peer.
    return Handshake(
        sid, min(interval, 86_400_000) / 1000, min(timeout, 86_400_000) / 1000, max_payload, shown
    )


def open_packet(sid: str, ping_interval: float, ping_timeout: float, version: int) -> str:
    """The open packet a server sends first (``version`` 4 adds ``maxPayload``).

    >>> open_packet("s1", 1, 2, 3)
    '0{"sid":"s1","upgrades":[],"pingInterval":1000,"pingTimeout":2000}'
    """
    data: dict[str, object] = {
        "sid": sid,
        "upgrades": [],
        "pingInterval": round(ping_interval * 1000),
        "pingTimeout": round(ping_timeout * 1000),
    }
    if version >= EIO4:
        data["maxPayload"] = 1_000_000
    return E_OPEN + json.dumps(data, separators=(",", ":"))


# -- the WebSocket URL -----------------------------------------------------------

_SCHEMES = {"sio": "ws", "sios": "wss", "ws": "ws", "wss": "wss", "http": "ws", "https": "wss"}


def engine_url(url: str, version: int) -> str:
    """The WebSocket URL for a Socket.IO URL.

    ``sio://`` becomes ``ws://`` and ``sios://`` ``wss://`` (``ws``, ``wss``,
    ``http`` and ``https`` are taken too); no path or ``/`` means
    ``/socket.io/``; any other path and the query are kept as given, except
    that ``EIO`` and ``transport`` are set.

    >>> engine_url("sios://example.com/socket.io/?token=t&EIO=3", 4)
    'wss://example.com/socket.io/?token=t&EIO=4&transport=websocket'
    >>> engine_url("sio://127.0.0.1:5000", 3)
    'ws://127.0.0.1:5000/socket.io/?EIO=3&transport=websocket'

    Raises:
        UsageError: another scheme, no host, or a bad port.
    """
    from presencectl.core.capture import redact_url

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - validates the port
    except ValueError as exc:
        raise UsageError(f"bad URL {redact_url(url)!r}: {exc}") from None
    scheme = _SCHEMES.get(parts.scheme.lower())
    if scheme is None:
        raise UsageError(f"bad URL {redact_url(url)!r}: expected sio://, sios://, ws:// or wss://")
    if not parts.hostname:
        raise UsageError(f"bad URL {redact_url(url)!r}: no host name")
    path = parts.path if parts.path not in ("", "/") else DEFAULT_PATH
    # Keep the query's own spelling (a JWT must reach the server unchanged).
    kept = [
        item
        for item in parts.query.split("&")
        if item and item.split("=", 1)[0] not in ("EIO", "transport")
    ]
    kept += [f"EIO={version}", "transport=websocket"]
    return urlunsplit((scheme, parts.netloc, path, "&".join(kept), ""))


# -- what a session reports ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Opened:
    """The server's open packet arrived; :attr:`ClientProtocol.version` is now known."""

    handshake: Handshake
    version: int


@dataclass(frozen=True, slots=True)
class Closed:
    """The server closed the Engine.IO session (``1``)."""


@dataclass(frozen=True, slots=True)
class Unsupported:
    """Something valid we do not handle (binary attachments); reported, then skipped."""

    what: str
    detail: str


@dataclass(frozen=True, slots=True)
class Malformed:
    """A frame that breaks the encoding; ``text`` is what arrived, whole."""

    text: str
    reason: str


@dataclass(frozen=True, slots=True)
class HeartbeatTimeout:
    """The server stopped answering (v3: no pong) or stopped pinging (v4)."""

    reason: str


class EngineSession:
    """A client's side of one Engine.IO session over a WebSocket (sans-I/O).

    Args:
        version: 3 or 4 to insist on an Engine.IO version; None to take the
            one the open packet shows (``maxPayload`` only in v4).

    The base of :class:`~presencectl.core.protocols.socketio.ClientProtocol`,
    which says what a message packet carries (:meth:`_message`) and what to
    send once the session is open (:meth:`_opened`). Call :meth:`receive_text`
    with each text frame and :meth:`tick` when :meth:`next_deadline` passes;
    after each call, send :meth:`data_to_send` as text frames and act on
    :meth:`events_received`. Times are seconds on the caller's monotonic clock.
    """

    def __init__(self, version: int | None = None) -> None:
        if version not in (None, EIO3, EIO4):
            raise ValueError(f"Engine.IO version {version!r}: expected 3 or 4")
        self.forced = version
        self.version: int | None = version
        self.handshake: Handshake | None = None
        #: ``opening`` until the open packet; ``closed`` at the end (the
        #: Socket.IO client adds its own states between).
        self.state = "opening"
        self._out: list[str] = []
        self._items: list[Any] = []
        self._last_rx: float | None = None
        self._next_ping: float | None = None
        self._pong_due: float | None = None

    # What the caller takes out.

    def data_to_send(self) -> list[str]:
        """Text frames to send now, in order (the list is emptied)."""
        out, self._out = self._out, []
        return out

    def events_received(self) -> list[Any]:
        """What happened since the last call, in order (the list is emptied)."""
        items, self._items = self._items, []
        return items

    def next_deadline(self) -> float | None:
        """When :meth:`tick` must be called next (None: no timer runs)."""
        if self.handshake is None or self.state == "closed" or self._last_rx is None:
            return None
        hs = self.handshake
        if self.version == EIO3:
            candidates = [t for t in (self._next_ping, self._pong_due) if t is not None]
            return min(candidates) if candidates else None
        return self._last_rx + hs.ping_interval + hs.ping_timeout

    # What the caller feeds in.

    def tick(self, now: float) -> None:
        """Run the heartbeat: v3 sends pings; both notice a silent server."""
        if self.handshake is None or self.state == "closed" or self._last_rx is None:
            return
        hs = self.handshake
        if self.version == EIO3:
            if self._pong_due is not None and now >= self._pong_due:
                self._timeout(f"no pong within {hs.ping_timeout:g} s of a ping")
                return
            if self._next_ping is not None and now >= self._next_ping:
                self._out.append(E_PING)
                self._next_ping = now + hs.ping_interval
                if self._pong_due is None:
                    self._pong_due = now + hs.ping_timeout
        elif now >= self._last_rx + hs.ping_interval + hs.ping_timeout:
            self._timeout(
                f"no ping from the server for {hs.ping_interval + hs.ping_timeout:g} s "
                f"(pingInterval {hs.ping_interval:g} s + pingTimeout {hs.ping_timeout:g} s)"
            )

    def receive_text(self, text: str, now: float) -> None:
        """A text frame arrived."""
        if self.state == "closed":
            return
        self._alive(now)
        kind = text[:1]
        if kind == E_MESSAGE:
            if self.handshake is None:
                self._malformed(text, "a message before the open packet")
                return
            self._message(text[1:])
        elif kind == E_PING:
            # v4: the server's heartbeat. v3 servers never ping, but answering is harmless.
            if text == E_PING or text == E_PING + "probe":
                self._out.append(E_PONG + text[1:])
            else:
                self._malformed(text, "a ping with a payload")
        elif kind == E_PONG:
            pass  # _alive() already took it as the answer to our ping
        elif kind == E_OPEN:
            self._open(text[1:], now)
        elif kind == E_CLOSE:
            self.state = "closed"
            self._items.append(Closed())
        elif kind in (E_NOOP, E_UPGRADE):
            pass
        else:
            self._malformed(text, "not an Engine.IO packet")

    # For the layer above.

    def _message(self, body: str) -> None:
        """A message packet (``4``) arrived; ``body`` is what follows the ``4``."""
        raise NotImplementedError

    def _opened(self) -> None:
        """The open packet arrived (:attr:`handshake` and :attr:`version` are set)."""
        raise NotImplementedError

    # Inside.

    def _alive(self, now: float) -> None:
        self._last_rx = now
        # Any packet shows the server is there (as engine.io-client 3 counts it).
        self._pong_due = None

    def _timeout(self, reason: str) -> None:
        self.state = "closed"
        self._items.append(HeartbeatTimeout(reason))

    def _malformed(self, text: str, reason: str) -> None:
        self._items.append(Malformed(text, reason))

    def _open(self, body: str, now: float) -> None:
        if self.handshake is not None:
            self._malformed(E_OPEN + body, "a second open packet")
            return
        try:
            hs = parse_open(body)
        except PacketError as exc:
            self.state = "closed"
            self._malformed(E_OPEN + body, str(exc))
            return
        self.handshake = hs
        if self.version is None:
            self.version = hs.version
        self._next_ping = now + hs.ping_interval if self.version == EIO3 else None
        self._items.append(Opened(hs, self.version))
        self._opened()
