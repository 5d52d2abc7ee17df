"""Socket.IO over a WebSocket: Engine.IO v3/v4 and Socket.IO packets, sans-I/O.

Pure: no sockets, no clock reads, no printing. Everything a Socket.IO client
needs to speak to a Socket.IO 2.x server (Engine.IO protocol v3) or a
Socket.IO 3+ server (Engine.IO v4) over the ``websocket`` transport. The
Engine.IO layer (handshake, heartbeat, URL) is in
:mod:`presencectl.core.protocols.engineio`; its names are exported here too,
so a transport imports one module:

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
from urllib.parse import quote

from presencectl.core.protocols.engineio import (
    DEFAULT_PATH,
    E_CLOSE,
    E_MESSAGE,
    E_PING,  # noqa: F401 - the server transport answers pings through this module
    E_PONG,  # noqa: F401
    EIO3,
    EIO4,
    Closed,
    EngineSession,
    Handshake,
    HeartbeatTimeout,
    Malformed,
    Opened,
    PacketError,
    Unsupported,
    engine_url,
    open_packet,
    parse_open,
)
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


# -- command-line values ----------------------------------------------------------


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


Item = Opened | Joined | EventReceived | ConnectError | Disconnected | Closed | Unsupported | Malformed | HeartbeatTimeout


class ClientProtocol(EngineSession):
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
    Times are seconds on the caller's monotonic clock. :attr:`state` goes
    ``opening`` → ``joining`` → ``joined``; ``closed`` at the end. The
    Engine.IO session underneath (open packet, heartbeat, packet types) is
    :class:`~presencectl.core.protocols.engineio.EngineSession`'s.
    """

    def __init__(
        self,
        namespace: str = "/",
        *,
        auth: str | None = None,
        version: int | None = None,
        emits: Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__(version)
        self.namespace = namespace
        self.auth = auth
        self.emits = list(emits)
        self.sid: str | None = None
        self._attachments = 0
        self._unsupported_ack = False

    # What the caller takes out.

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

    def _opened(self) -> None:
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
