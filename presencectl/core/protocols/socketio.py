"""Socket.IO over a WebSocket: Engine.IO v3/v4 and Socket.IO packets, sans-I/O.

Pure: no sockets, no clock reads, no printing. Everything a Socket.IO client
needs to speak to a Socket.IO 2.x server (Engine.IO protocol v3) or a
Socket.IO 3+ server (Engine.IO v4) over the ``websocket`` transport:

- :func:`engine_url`: ``sio://host/…`` → ``ws://host/socket.io/?EIO=4&transport=websocket``.
- :func:`decode_packet` / :func:`encode_packet`: the Socket.IO packet inside an
  Engine.IO ``4`` (message) packet: ``2/chat,17["EVENT",{…}]``.
- :func:`split_event`: an event's name and the *text* of its arguments, sliced
  from the frame, never re-serialised (64-bit ids and formatting survive).
- :class:`ClientProtocol`: the client's state machine. Feed it what the
  WebSocket received (:meth:`~ClientProtocol.receive_text`,
  :meth:`~ClientProtocol.receive_binary`) and the passing of time
  (:meth:`~ClientProtocol.tick`); take out the frames to send
  (:meth:`~ClientProtocol.data_to_send`) and what happened
  (:meth:`~ClientProtocol.events_received`).

The two protocol versions, as they matter here::

                        Engine.IO v3 (Socket.IO 2.x)    Engine.IO v4 (Socket.IO 3+)
    open packet         0{"sid","pingInterval",…}       the same, plus "maxPayload"
    heartbeat           client sends 2, server 3        server sends 2, client 3
    root namespace      joined by the server's 40       client sends 40, server 40{"sid"}
    other namespace     client 40/chat?query,           client 40/chat,{auth}
                        server 40/chat,                 server 40/chat,{"sid":…}
    connect error       44/chat,"Invalid namespace"     44/chat,{"message":…}
    binary frame        b"\\x04" + attachment            the attachment

Example (what a Socket.IO 2.x server and this client say to each other)::

    >>> p = ClientProtocol("/chat", emits=[("SUBSCRIBE", '{"id":1}')])
    >>> p.receive_text('0{"sid":"a","upgrades":[],"pingInterval":25000,"pingTimeout":5000}', 0.0)
    >>> p.version, p.data_to_send()
    (3, ['40/chat,'])
    >>> p.receive_text("40/chat,", 0.1)
    >>> p.data_to_send()
    ['42/chat,["SUBSCRIBE",{"id":1}]']
    >>> p.receive_text('42/chat,["PRESENCE",{"id":12345678901234567890}]', 0.2)
    >>> p.events_received()[-1]
    EventReceived(namespace='/chat', name='PRESENCE', data='{"id":12345678901234567890}', args=1, ack_id=None)
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

from presencectl.errors import UsageError

__all__ = [
    "DEFAULT_PATH",
    "EIO3",
    "EIO4",
    "CONNECT",
    "DISCONNECT",
    "EVENT",
    "ACK",
    "CONNECT_ERROR",
    "BINARY_EVENT",
    "BINARY_ACK",
    "PacketError",
    "Handshake",
    "Packet",
    "parse_open",
    "open_packet",
    "decode_packet",
    "encode_packet",
    "split_event",
    "event_packet",
    "error_message",
    "engine_url",
    "check_namespace",
    "check_json",
    "strict_json",
    "auth_query",
    "ClientProtocol",
    "Opened",
    "Joined",
    "EventReceived",
    "ConnectError",
    "Disconnected",
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

# Socket.IO packet types (the first character after the Engine.IO "4").
CONNECT, DISCONNECT, EVENT, ACK, CONNECT_ERROR, BINARY_EVENT, BINARY_ACK = range(7)
_TYPE_NAMES = ("connect", "disconnect", "event", "ack", "connect error", "binary event", "binary ack")

#: Longest text of a server's error message we repeat to the user.
_SHOWN = 200

_decoder = json.JSONDecoder()
_scan = _decoder.raw_decode
_SPACE = re.compile(r"[ \t\n\r]*")


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def strict_json(text: str) -> object:
    """``json.loads`` without Python's extensions: ``NaN`` and ``Infinity`` are refused.

    Raises:
        ValueError: not JSON as every Socket.IO peer reads it.
    """
    return json.loads(text, parse_constant=_no_constant)


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


# -- Socket.IO packets ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Packet:
    """One Socket.IO packet.

    Attributes:
        type: :data:`CONNECT` … :data:`BINARY_ACK`.
        namespace: ``/`` or ``/chat`` (without any ``?query``).
        data: the JSON text after the header, exactly as received (None: none).
        ack_id: the acknowledgement id, if any.
        attachments: binary frames that follow (binary event/ack only).
        query: the ``?query`` a Socket.IO 2.x client put on its connect packet.
    """

    type: int
    namespace: str = "/"
    data: str | None = None
    ack_id: int | None = None
    attachments: int = 0
    query: str | None = None


def decode_packet(text: str, *, check: bool = True) -> Packet:
    """A Socket.IO packet (the Engine.IO message without its leading ``4``).

    With ``check`` off, the data is not parsed to see that it is JSON (the
    client leaves that to :func:`split_event`, which parses it anyway).

    >>> decode_packet('2/chat,7["hello",1]')
    Packet(type=2, namespace='/chat', data='["hello",1]', ack_id=7, attachments=0, query=None)
    >>> decode_packet('0/chat?token=x,').query
    'token=x'

    Raises:
        PacketError: an unknown type, a bad attachment count or id, or data
            that is not JSON.
    """
    if not text or text[0] not in "0123456":
        raise PacketError(f"unknown Socket.IO packet type {text[:1]!r}")
    kind = ord(text[0]) - 48
    pos = 1
    end = len(text)
    attachments = 0
    if kind in (BINARY_EVENT, BINARY_ACK):
        dash = text.find("-", pos, pos + 11)
        if dash < 0 or not text[pos:dash].isdigit():
            raise PacketError("a binary packet without its attachment count")
        attachments = int(text[pos:dash])
        pos = dash + 1
    namespace = "/"
    query = None
    if pos < end and text[pos] == "/":
        comma = text.find(",", pos)
        if comma < 0:
            comma = end
        namespace = text[pos:comma]
        namespace, mark, rest = namespace.partition("?")
        query = rest if mark else None
        pos = comma + 1
    ack_id = None
    start = pos
    while pos < end and text[pos].isdigit():
        pos += 1
    if pos > start:
        if pos - start > 16:
            raise PacketError("an acknowledgement id that is too long")
        ack_id = int(text[start:pos])
    data = text[pos:] if pos < end else None
    if data is not None and check:
        check = _SPACE.match(data).end()  # type: ignore[union-attr]
        try:
            _, stop = _scan(data, check)
        except ValueError:
            raise PacketError(f"the {_TYPE_NAMES[kind]} packet's data is not JSON") from None
        if _SPACE.match(data, stop).end() != len(data):  # type: ignore[union-attr]
            raise PacketError(f"the {_TYPE_NAMES[kind]} packet's data has trailing text")
    return Packet(kind, namespace or "/", data, ack_id, attachments, query)


def encode_packet(
    kind: int,
    namespace: str = "/",
    data: str | None = None,
    ack_id: int | None = None,
    attachments: int = 0,
    query: str | None = None,
) -> str:
    """The text of a Socket.IO packet; ``data`` is JSON text, used as given.

    >>> encode_packet(CONNECT, "/chat", '{"token":"t"}')
    '0/chat,{"token":"t"}'
    >>> encode_packet(CONNECT, "/chat", query="token=t"), encode_packet(CONNECT)
    ('0/chat?token=t,', '0')
    """
    text = str(kind)
    if kind in (BINARY_EVENT, BINARY_ACK):
        text += f"{attachments}-"
    if namespace != "/" or query:
        text += namespace
        if query:
            text += "?" + query
        text += ","
    if ack_id is not None:
        text += str(ack_id)
    if data is not None:
        text += data
    return text


def split_event(data: str | None) -> tuple[str, list[str]]:
    """An event packet's name and the text of each argument, sliced as received.

    >>> split_event('["PRESENCE", {"id": 12345678901234567890}, 2]')
    ('PRESENCE', ['{"id": 12345678901234567890}', '2'])

    Raises:
        PacketError: not a JSON array, empty, or the name is not a string.
    """
    if data is None:
        raise PacketError("an event without data")
    pos = _SPACE.match(data).end()  # type: ignore[union-attr]
    if data[pos : pos + 1] != "[":
        raise PacketError("an event whose data is not a JSON array")
    pos = _SPACE.match(data, pos + 1).end()  # type: ignore[union-attr]
    items: list[str] = []
    name: object = None
    first = True
    while True:
        if data[pos : pos + 1] == "]" and first:
            break
        try:
            value, stop = _scan(data, pos)
        except ValueError:
            raise PacketError("an event whose data is not a JSON array") from None
        if first:
            name = value
            first = False
        else:
            items.append(data[pos:stop])
        pos = _SPACE.match(data, stop).end()  # type: ignore[union-attr]
        sep = data[pos : pos + 1]
        if sep == "]":
            break
        if sep != ",":
            raise PacketError("an event whose data is not a JSON array")
        pos = _SPACE.match(data, pos + 1).end()  # type: ignore[union-attr]
    if name is None and first:
        raise PacketError("an event without a name")
    if not isinstance(name, str):
        raise PacketError("an event whose name is not a string")
    return name, items


def event_packet(namespace: str, name: str, args: Iterable[str]) -> str:
    """A whole Engine.IO message carrying an event; ``args`` are JSON texts used as given.

    >>> event_packet("/chat", "SUBSCRIBE", ['{"a":1}'])
    '42/chat,["SUBSCRIBE",{"a":1}]'
    """
    body = ",".join([json.dumps(name, ensure_ascii=False), *args])
    return E_MESSAGE + encode_packet(EVENT, namespace, f"[{body}]")


def error_message(data: str | None) -> str:
    """What a connect error or disconnect packet says, shortened for one line.

    >>> error_message('{"message":"bad token","data":{"code":401}}')
    'bad token ({"code":401})'
    >>> error_message('"Invalid namespace"'), error_message(None)
    ('Invalid namespace', 'no reason given')
    """
    if data is None or not data.strip():
        return "no reason given"
    try:
        value = json.loads(data)
    except ValueError:
        return _shorten(data)
    if isinstance(value, str):
        return _shorten(value) or "no reason given"
    if isinstance(value, dict) and isinstance(value.get("message"), str):
        text = value["message"]
        if value.get("data") is not None:
            text += f" ({json.dumps(value['data'], ensure_ascii=False, separators=(',', ':'))})"
        return _shorten(text)
    return _shorten(data.strip())


def _shorten(text: str) -> str:
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


# -- URLs and options -----------------------------------------------------------

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


def check_namespace(text: str) -> str:
    """``--namespace``: ``/chat`` (a missing leading slash is added).

    >>> check_namespace("chat"), check_namespace("/")
    ('/chat', '/')

    Raises:
        UsageError: a comma, ``?``, a space or a control character (they would
            break the packet framing), or an empty name.
    """
    name = text.strip()
    if not name:
        raise UsageError("bad --namespace '': expected a name such as /chat")
    if not name.startswith("/"):
        name = "/" + name
    if any(c in name for c in ",?# ") or not name.isprintable():
        raise UsageError(f"bad --namespace {text!r}: no commas, '?', '#', spaces or control characters")
    return name


def check_json(text: str, what: str, *, object_only: bool = False) -> str:
    """A JSON text from the command line, returned unchanged (surrounding space removed).

    Raises:
        UsageError: not JSON (or, with ``object_only``, not an object).
    """
    stripped = text.strip()
    try:
        value = strict_json(stripped)
    except ValueError as exc:
        raise UsageError(f"bad {what}: not JSON ({exc})") from None
    if object_only and not isinstance(value, dict):
        raise UsageError(f"bad {what}: expected a JSON object such as '{{\"token\": \"…\"}}'")
    return stripped


def auth_query(auth: str) -> str:
    """The ``--auth`` object as a query string, the way Socket.IO 2.x takes credentials.

    Strings go as they are, other values as JSON.

    >>> auth_query('{"token": "a b", "n": 1, "ok": true}')
    'token=a%20b&n=1&ok=true'
    """
    value = json.loads(auth)
    pairs = []
    for key, item in value.items():
        shown = item if isinstance(item, str) else json.dumps(item, separators=(",", ":"))
        pairs.append(f"{quote(str(key), safe='')}={quote(shown, safe='')}")
    return "&".join(pairs)


# -- the client's state machine ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class Opened:
    """The server's open packet arrived; :attr:`ClientProtocol.version` is now known."""

    handshake: Handshake
    version: int


@dataclass(frozen=True, slots=True)
class Joined:
    """The namespace accepted us (``sid``: the Socket.IO v4 socket id; None in v3)."""

    namespace: str
    sid: str | None


@dataclass(frozen=True, slots=True)
class EventReceived:
    """An event on our namespace.

    Attributes:
        name: the event name.
        data: the first argument's JSON text as received, or None for an event
            without arguments.
        args: how many arguments the event carried.
        ack_id: the server asked for an acknowledgement (we never send one: a
            watcher must not confirm anything on the user's behalf).
    """

    namespace: str
    name: str
    data: str | None
    args: int
    ack_id: int | None = None


@dataclass(frozen=True, slots=True)
class ConnectError:
    """The server refused to let us join the namespace (``44``)."""

    namespace: str
    message: str


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The server disconnected us from our namespace (``41``)."""

    namespace: str
    message: str | None


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


Item = Opened | Joined | EventReceived | ConnectError | Disconnected | Closed | Unsupported | Malformed | HeartbeatTimeout


class ClientProtocol:
    """A Socket.IO client's side of one WebSocket connection (sans-I/O).

    Args:
        namespace: the namespace to join (``/`` is the root).
        auth: a JSON object text: Socket.IO v4 sends it with the namespace
            connect; v3 (which has no auth) puts its fields in the connect
            packet's query. None: no credentials.
        version: 3 or 4 to insist on an Engine.IO version; None to take the
            one the open packet shows (``maxPayload`` only in v4).
        emits: ``(event, JSON text)`` pairs sent once the namespace is joined.

    Call the ``receive_*`` methods with each WebSocket message and
    :meth:`tick` when :meth:`next_deadline` passes; after each call, send
    :meth:`data_to_send` as text frames and act on :meth:`events_received`.
    Times are seconds on the caller's monotonic clock.
    """

    def __init__(
        self,
        namespace: str = "/",
        *,
        auth: str | None = None,
        version: int | None = None,
        emits: Sequence[tuple[str, str]] = (),
    ) -> None:
        if version not in (None, EIO3, EIO4):
            raise ValueError(f"Engine.IO version {version!r}: expected 3 or 4")
        self.namespace = namespace
        self.auth = auth
        self.forced = version
        self.version: int | None = version
        self.emits = list(emits)
        self.handshake: Handshake | None = None
        #: ``opening`` → ``joining`` → ``joined``; ``closed`` at the end.
        self.state = "opening"
        self.sid: str | None = None
        self._out: list[str] = []
        self._items: list[Item] = []
        self._last_rx: float | None = None
        self._next_ping: float | None = None
        self._pong_due: float | None = None
        self._attachments = 0
        self._unsupported_ack = False

    # What the caller takes out.

    def data_to_send(self) -> list[str]:
        """Text frames to send now, in order (the list is emptied)."""
        out, self._out = self._out, []
        return out

    def events_received(self) -> list[Item]:
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

    def close(self) -> list[str]:
        """Frames that say goodbye politely (leave the namespace, close the session)."""
        if self.state == "closed":
            return []
        frames = []
        if self.state == "joined" and (self.namespace != "/" or self.version == EIO4):
            frames.append(E_MESSAGE + encode_packet(DISCONNECT, self.namespace))
        if self.handshake is not None:
            frames.append(E_CLOSE)
        self.state = "closed"
        return frames

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

    def receive_binary(self, data: bytes, now: float) -> None:
        """A binary frame arrived: an attachment, which we skip."""
        if self.state == "closed":
            return
        self._alive(now)
        if self._attachments > 0:
            self._attachments -= 1
            return
        self._items.append(
            Unsupported("binary message", f"a {len(data)}-byte binary frame outside any binary event")
        )

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
        self.state = "joining"
        if self.version == EIO4:
            self._out.append(E_MESSAGE + encode_packet(CONNECT, self.namespace, self.auth))
        elif self.namespace != "/":
            query = auth_query(self.auth) if self.auth else None
            self._out.append(E_MESSAGE + encode_packet(CONNECT, self.namespace, query=query))
        # v3 root namespace: the server joins us itself and says 40.

    def _message(self, body: str) -> None:
        if self._attachments:
            # A text packet before all attachments arrived: the server gave up on them.
            self._attachments = 0
        try:
            packet = decode_packet(body, check=False)
        except PacketError as exc:
            self._malformed(E_MESSAGE + body, str(exc))
            return
        kind = packet.type
        if kind in (BINARY_EVENT, BINARY_ACK):
            self._attachments = packet.attachments
            if kind == BINARY_EVENT and packet.namespace == self.namespace:
                try:
                    name = split_event(packet.data)[0]
                except PacketError:
                    name = "?"
                self._items.append(
                    Unsupported(
                        "binary event",
                        f"event {_shorten(name)!r} on {packet.namespace} carries "
                        f"{packet.attachments} binary attachment{'s' if packet.attachments != 1 else ''}; skipped",
                    )
                )
            return
        if packet.namespace != self.namespace:
            return  # another namespace's business (v3 always has us on / too)
        if kind == EVENT:
            try:
                name, args = split_event(packet.data)
            except PacketError as exc:
                self._malformed(E_MESSAGE + body, str(exc))
                return
            self._items.append(
                EventReceived(packet.namespace, name, args[0] if args else None, len(args), packet.ack_id)
            )
        elif kind == CONNECT:
            self._joined(packet)
        elif kind == CONNECT_ERROR:
            self.state = "closed"
            self._items.append(ConnectError(packet.namespace, error_message(packet.data)))
        elif kind == DISCONNECT:
            was_joining = self.state == "joining"
            self.state = "closed"
            message = error_message(packet.data) if packet.data else None
            if was_joining:
                # python-socketio with always_connect refuses after accepting: 40 then 41.
                self._items.append(ConnectError(packet.namespace, message or "disconnected while joining"))
            else:
                self._items.append(Disconnected(packet.namespace, message))
        # ACK: we never ask for one; a stray ack changes nothing.

    def _joined(self, packet: Packet) -> None:
        if self.state != "joining":
            return
        sid = None
        if packet.data is not None:
            try:
                value = json.loads(packet.data)
            except ValueError:
                value = None
            if isinstance(value, dict) and isinstance(value.get("sid"), str):
                sid = value["sid"]
        self.sid = sid
        self.state = "joined"
        self._items.append(Joined(packet.namespace, sid))
        for name, data in self.emits:
            self._out.append(event_packet(self.namespace, name, [data]))
