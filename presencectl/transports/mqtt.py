"""MQTT: a live :class:`~presencectl.transports.base.Source` and a replay target, on paho-mqtt 2.

:class:`MqttSource` subscribes to topic filters on a broker (MQTT 3.1.1 or 5,
plain or TLS) and hands each message over as a
:class:`~presencectl.core.events.Frame` carrying its topic. What every
(re)connect needs is done in :meth:`MqttSource.connect`, because paho forgets
subscriptions with the connection: CONNECT (Aliyun device signing included),
waiting for CONNACK, SUBSCRIBE and waiting for SUBACK (a refused filter is
reported by name), then the ``--publish`` message (an Aliyun account bind).

paho-mqtt does the parts with the edge cases (TCP, TLS, CONNECT, SUBSCRIBE,
``--publish``); once subscribed, the socket is read by :class:`PacketReader`,
a small sans-I/O parser, in the caller's thread inside :meth:`MqttSource.receive`:
one ``recv()`` takes every message the kernel holds, where paho makes three
system calls and several objects per message, caps a busy subscriber near
25,000 messages/s here and then leaves little time for decoding and
rendering. No second thread and no queue that grows when the output is
slower than the broker: TCP pushes back instead. A QoS 1/2 message is
acknowledged after the session recorded and showed it (:meth:`MqttSource.done`).
Payload bytes are kept exact: a Frame holds ``str`` when the payload is
valid UTF-8, ``bytes`` otherwise (recorded as base64, shown as unparsed).

Retained messages (the broker's stored last value, sent when a subscription
is made, not a live event) arrive as :class:`RetainedFrame`, a Frame with
``retained = True``; the first one after each connect is also announced with
one notice line, and ``skip_retained`` drops them.

:class:`MqttTarget` is ``replay --to mqtt://…``: each frame is published on its
recorded topic (``topic_prefix`` rewrites it), retain off.

Example::

    source = mqtt_source_from_args("mqtt://broker:1883", topics=["devices/+/presence"], qos=1)
    source.connect()
    frame = source.receive(5.0)    # Frame(data='{"...": ...}', t=1718000000.5, topic='devices/d1/presence')
"""

from __future__ import annotations

import errno
import os
import secrets
import select
import socket
import ssl
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from presencectl.core.capture import redact_url
from presencectl.core.events import DupFrame, Frame, Marker, RetainedDupFrame, RetainedFrame
from presencectl.errors import TransportError, UsageError
from presencectl.transports import paho_internals
from presencectl.transports.base import CannotConnect, ConnectionLost

__all__ = [
    "MqttUrl",
    "MqttOptions",
    "MqttSource",
    "MqttTarget",
    "PacketReader",
    "ProtocolError",
    "RetainedFrame",
    "AliyunDevice",
    "mqtt_source_from_args",
    "parse_mqtt_url",
    "check_topic_filter",
    "check_topic_name",
    "read_payload",
    "rewrite_topic",
    "explain_connack",
    "explain_connect_error",
]

DEFAULT_PORT = 1883
DEFAULT_TLS_PORT = 8883
#: Seconds between PINGREQs when nothing else is sent (Aliyun accepts 30–1200).
DEFAULT_KEEPALIVE = 60
#: Bytes asked of the socket per read.
_RECV_SIZE = 1 << 18
#: MQTT 5 session expiry for ``clean_session=False``: never (like ``mosquitto_sub -c``).
SESSION_NEVER_EXPIRES = 0xFFFFFFFF

#: CONNACK reason codes (MQTT 5 numbering) after which retrying cannot help.
_FATAL_CONNACK = {
    0x80,  # unspecified error
    0x81,  # malformed packet
    0x82,  # protocol error
    0x84,  # unsupported protocol version
    0x85,  # client identifier not valid
    0x86,  # bad user name or password
    0x87,  # not authorized
    0x8A,  # banned
    0x8C,  # bad authentication method
    0x90,  # topic name invalid
    0x95,  # packet too large
    0x99,  # payload format invalid
    0x9A,  # retain not supported
    0x9B,  # QoS not supported
}


# ------------------------------------------------------------------ URLs, topics, payloads


@dataclass(frozen=True, slots=True)
class MqttUrl:
    """A parsed ``mqtt://`` / ``mqtts://`` URL."""

    secure: bool
    host: str
    port: int
    username: str | None
    password: str | None


def parse_mqtt_url(url: str) -> MqttUrl:
    """``mqtt://[user[:pass]@]host[:port]`` or ``mqtts://…`` (TLS, port 8883 by default).

    >>> parse_mqtt_url("mqtts://bob:s%40cret@broker")
    MqttUrl(secure=True, host='broker', port=8883, username='bob', password='s@cret')

    Raises:
        UsageError: another scheme, no host, a bad port, or a path/query (topics
            are given with ``-T``, not in the URL).
    """
    shown = redact_url(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"bad URL {shown!r}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("mqtt", "mqtts"):
        raise UsageError(f"bad URL {shown!r}: expected mqtt:// or mqtts://")
    if not parts.hostname:
        raise UsageError(f"bad URL {shown!r}: no host name")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise UsageError(
            f"bad URL {shown!r}: an MQTT URL is only mqtt[s]://[user[:pass]@]host[:port]; "
            "give topics with -T/--topic"
        )
    secure = scheme == "mqtts"
    return MqttUrl(
        secure,
        parts.hostname,
        port if port is not None else (DEFAULT_TLS_PORT if secure else DEFAULT_PORT),
        unquote(parts.username) if parts.username else None,
        unquote(parts.password) if parts.password is not None else None,
    )


def _check_topic_text(topic: str, what: str) -> None:
    if not topic:
        raise UsageError(f"bad {what}: empty")
    if "\x00" in topic:
        raise UsageError(f"bad {what} {topic!r}: contains a NUL character")
    if len(topic.encode("utf-8", "surrogatepass")) > 65535:
        raise UsageError(f"bad {what}: longer than 65535 bytes")


def check_topic_filter(topic: str) -> None:
    """Refuse a subscription filter the broker would refuse (or disconnect us for).

    ``#`` must be a whole level and the last one; ``+`` must be a whole level.

    Raises:
        UsageError: naming the filter and what is wrong with it.
    """
    _check_topic_text(topic, "--topic")
    levels = topic.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            raise UsageError(f"bad --topic {topic!r}: '#' must be a whole level and the last one (a/b/#)")
        if "+" in level and level != "+":
            raise UsageError(f"bad --topic {topic!r}: '+' must be a whole level (a/+/c)")


def check_topic_name(topic: str, what: str = "--publish topic") -> None:
    """Refuse a topic to publish on that holds wildcards.

    Raises:
        UsageError: naming the topic.
    """
    _check_topic_text(topic, what)
    if "+" in topic or "#" in topic:
        raise UsageError(f"bad {what} {topic!r}: no wildcards ('+', '#') in a topic to publish on")


def read_payload(text: str) -> bytes:
    """``--publish`` PAYLOAD: the text itself, or ``@FILE``'s content (``@@…`` for a literal ``@``).

    Like ``--send-file``, one trailing newline of a file is dropped.

    Raises:
        UsageError: the file cannot be read.
    """
    if text.startswith("@@"):
        return text[1:].encode("utf-8", "surrogateescape")
    if text.startswith("@"):
        path = text[1:]
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            raise UsageError(f"--publish @{path}: {exc.strerror or exc}") from None
        if data.endswith(b"\r\n"):
            return data[:-2]
        if data.endswith(b"\n"):
            return data[:-1]
        return data
    return text.encode("utf-8", "surrogateescape")


def rewrite_topic(topic: str, rule: str | None) -> str:
    """Apply ``--topic-prefix``: ``NEW`` is put in front as is (include the ``/``
    you want); ``OLD=NEW`` replaces a leading ``OLD`` (other topics unchanged).

    >>> rewrite_topic("/sys/a1pk/dn/app/down/thing/status", "test")
    'test/sys/a1pk/dn/app/down/thing/status'
    >>> rewrite_topic("/sys/a1pk/dn/app/down/thing/status", "/sys/a1pk/=/sys/a1test/")
    '/sys/a1test/dn/app/down/thing/status'
    """
    if not rule:
        return topic
    old, sep, new = rule.partition("=")
    if not sep:
        return rule + topic
    return new + topic[len(old):] if topic.startswith(old) else topic


# ------------------------------------------------------------------ options


@dataclass(frozen=True, slots=True)
class AliyunDevice:
    """``--aliyun-device PK/DN --device-secret S``: signed again on every connect."""

    product_key: str
    device_name: str
    device_secret: str = field(repr=False)
    client_id: str | None = None  # the bare id; default DN&PK


@dataclass(slots=True)
class MqttOptions:
    """How to connect and what to subscribe to.

    Args:
        url: ``mqtt://`` or ``mqtts://`` URL (user info: the credentials).
        topics: subscription filters (``$share/GROUP/`` is added with ``share``).
        qos: the maximum QoS asked for on every subscription, and the QoS of ``publishes``.
        version: 3 (MQTT 3.1.1) or 5.
        client_id: the client id (default ``presencectl-<random>``, kept for reconnects).
        username, password: credentials (override the URL's).
        share: MQTT 5 shared-subscription group.
        publishes: (topic, payload) published after every (re)connect, once subscribed.
        ssl_context: for mqtts:// (default: verify against the system store).
        insecure: skip the host name check too (the context already skips the chain).
        client_cert: ``ssl_context`` holds a client certificate (for error hints).
        connect_timeout: seconds for TCP + TLS + CONNACK, and for each of SUBACK and PUBACK.
        keepalive: seconds between keep-alive pings.
        clean_session: False keeps the broker-side session (queued QoS 1/2
            messages, subscriptions) across disconnects; needs a fixed ``client_id``.
        skip_retained: drop retained messages.
        aliyun: sign the CONNECT with an Aliyun device triple.
        notice: where to say things that do not stop the session (a refused
            subscription among several, the first retained message); None: silent.
        clock: the wall clock, for Aliyun's signed timestamp.
    """

    url: str
    topics: list[str] = field(default_factory=lambda: ["#"])
    qos: int = 0
    version: int = 3
    client_id: str | None = None
    username: str | None = None
    password: str | None = None
    share: str | None = None
    publishes: list[tuple[str, bytes]] = field(default_factory=list)
    ssl_context: ssl.SSLContext | None = None
    insecure: bool = False
    client_cert: bool = False
    connect_timeout: float = 10.0
    keepalive: int = DEFAULT_KEEPALIVE
    clean_session: bool = True
    skip_retained: bool = False
    aliyun: AliyunDevice | None = None
    notice: Callable[[str], None] | None = None
    clock: Callable[[], float] = time.time


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


# ------------------------------------------------------------------ the steady-state reader


class ProtocolError(Exception):
    """The broker sent bytes that are not MQTT (or not what a subscriber expects)."""


#: A packet larger than this ends the connection (a guard against a broken or hostile broker).
MAX_PACKET = 64 << 20
_PUBACK = 0x40
_PUBREC = 0x50
_PUBCOMP = 0x70
_PINGREQ = b"\xc0\x00"
_DISCONNECT = b"\xe0\x00"


#: The meta of a QoS 1 / 2 message without properties (shared: never mutated).
_QOS_META: dict[int, dict[str, Any]] = {1: {"qos": 1}, 2: {"qos": 2}}


def _utf8(data: bytes, p: int) -> tuple[str, int]:
    n = (data[p] << 8) | data[p + 1]
    start = p + 2
    return data[start : start + n].decode("utf-8", "backslashreplace"), start + n


def publish_properties(data: bytes, p: int, end: int) -> dict[str, Any] | None:
    """The MQTT 5 PUBLISH properties between ``p`` and ``end`` that a user
    wants to see: ``content_type`` and ``user_properties`` (``[[name, value], …]``).

    The others (payload format, expiry, response topic, correlation data,
    subscription ids, topic alias) are skipped.

    Raises:
        ProtocolError: a property this packet cannot carry, or one that runs past ``end``.
    """
    meta: dict[str, Any] = {}
    pairs: list[list[str]] = []
    try:
        while p < end:
            ident = data[p]
            p += 1
            if ident == 0x26:  # user property: a string pair
                name, p = _utf8(data, p)
                value, p = _utf8(data, p)
                pairs.append([name, value])
            elif ident == 0x03:  # content type
                meta["content_type"], p = _utf8(data, p)
            elif ident == 0x01:  # payload format indicator
                p += 1
            elif ident == 0x02:  # message expiry interval
                p += 4
            elif ident == 0x23:  # topic alias
                p += 2
            elif ident in (0x08, 0x09):  # response topic, correlation data
                p += 2 + ((data[p] << 8) | data[p + 1])
            elif ident == 0x0B:  # subscription identifier (variable byte integer)
                while data[p] & 128:
                    p += 1
                p += 1
            else:
                raise ProtocolError(f"PUBLISH with unknown property 0x{ident:02x}")
    except IndexError:
        raise ProtocolError("PUBLISH properties run past the packet") from None
    if p > end:
        raise ProtocolError("PUBLISH properties run past their length")
    if pairs:
        meta["user_properties"] = pairs
    return meta or None


class PacketReader:
    """Sans-I/O MQTT reader for a subscriber's steady state: bytes in, Frames out.

    :meth:`feed` parses every complete packet in what it is given (a partial
    packet waits for the next call): a PUBLISH becomes a :class:`Frame` (a
    :class:`RetainedFrame` with the retain flag) appended to ``frames``, with
    ``(frame, packet id, qos)`` appended to ``due`` when it must be
    acknowledged; a PUBREL queues its PUBCOMP in ``out``; a DISCONNECT sets
    ``disconnect`` to its reason code. The caller sends ``out`` and, once a
    frame is safely handled, its acknowledgement (:meth:`ack`).

    Args:
        v5: MQTT 5 framing (PUBLISH carries properties).
        frames: where Frames go.
        skip_retained: drop retained messages (acknowledged at once).
        on_retained: called with the topic of each retained message that is kept.
    """

    __slots__ = ("v5", "frames", "due", "out", "skip_retained", "on_retained", "disconnect",
                 "qos2", "_buf", "_big", "_need", "_topics")

    def __init__(
        self,
        v5: bool,
        frames: deque[Frame],
        *,
        skip_retained: bool = False,
        on_retained: Callable[[str], None] | None = None,
    ) -> None:
        self.v5 = v5
        self.frames = frames
        self.due: deque[tuple[Frame, int, int]] = deque()
        self.out = bytearray()
        self.skip_retained = skip_retained
        self.on_retained = on_retained
        self.disconnect: int | None = None
        #: QoS 2 packet ids answered with PUBREC and waiting for PUBREL: a
        #: PUBLISH with one of them again is a duplicate, not a new message.
        self.qos2: set[int] = set()
        self._buf = b""
        self._big: bytearray | None = None
        self._need = 0
        self._topics: dict[bytes, str] = {}

    def ack(self, pid: int, qos: int) -> None:
        """Queue the PUBACK (QoS 1) or PUBREC (QoS 2) of a handled message."""
        if qos == 1:
            self.out += bytes((_PUBACK, 2, pid >> 8, pid & 0xFF))
        else:
            self.out += bytes((_PUBREC, 2, pid >> 8, pid & 0xFF))
            self.qos2.add(pid)

    def feed(self, data: bytes, now: float) -> None:
        """Parse the complete packets in ``data`` (plus what was left over), received at ``now``.

        Raises:
            ProtocolError: malformed or unexpected packets; the connection is unusable.
        """
        big = self._big
        if big is not None:
            big += data
            if len(big) < self._need:
                return
            data = bytes(big)
            self._big = None
        elif self._buf:
            data = self._buf + data
            self._buf = b""
        n = len(data)
        pos = 0
        append = self.frames.append
        v5 = self.v5
        topics = self._topics
        while pos + 1 < n:
            b0 = data[pos]
            p = pos + 1
            byte = data[p]
            p += 1
            length = byte & 127
            if byte & 128:  # a multi-byte remaining length
                shift = 7
                while True:
                    if p >= n:
                        length = -1
                        break
                    byte = data[p]
                    p += 1
                    length |= (byte & 127) << shift
                    if not byte & 128:
                        break
                    shift += 7
                    if shift > 21:
                        raise ProtocolError("malformed remaining length")
                if length < 0:
                    break
            end = p + length
            if end > n:
                if length > MAX_PACKET:
                    raise ProtocolError(f"a {length}-byte packet is over the {MAX_PACKET >> 20} MiB limit")
                if end - pos > 65536:  # a big message: gather it without re-copying
                    self._big = bytearray(data[pos:])
                    self._need = end - pos
                    return
                break
            kind = b0 >> 4
            if kind == 3:  # PUBLISH
                if length < 2:
                    raise ProtocolError("PUBLISH without a topic")
                tlen = (data[p] << 8) | data[p + 1]
                start = p + 2
                p = start + tlen
                raw = data[start:p]
                topic = topics.get(raw)
                if topic is None:
                    try:
                        topic = raw.decode()
                    except UnicodeDecodeError:  # brokers should refuse these; show it anyway
                        topic = raw.decode("utf-8", "backslashreplace")
                    if len(topics) >= 4096:
                        topics.clear()
                    topics[raw] = topic
                qos = (b0 >> 1) & 3
                pid = 0
                if qos:
                    if qos == 3:
                        raise ProtocolError("PUBLISH with QoS 3")
                    pid = (data[p] << 8) | data[p + 1]
                    p += 2
                meta = None
                if v5:
                    byte = data[p]
                    p += 1
                    plen = byte & 127
                    shift = 7
                    while byte & 128:
                        byte = data[p]
                        p += 1
                        plen |= (byte & 127) << shift
                        shift += 7
                    if plen:
                        meta = publish_properties(data, p, p + plen)
                    p += plen
                if p > end:
                    raise ProtocolError("PUBLISH shorter than its header")
                if qos:
                    if meta is None:
                        meta = _QOS_META[qos]
                    else:
                        meta = {"qos": qos, **meta}
                payload = data[p:end]
                try:
                    text: str | bytes = payload.decode()
                except UnicodeDecodeError:
                    text = payload  # kept byte for byte, shown as unparsed
                pos = end
                if qos == 2 and pid in self.qos2:
                    self.out += bytes((_PUBREC, 2, pid >> 8, pid & 0xFF))  # a resend: answer again
                    continue
                if b0 & 1:
                    if self.skip_retained:
                        if qos:
                            self.ack(pid, qos)
                        continue
                    frame: Frame = (RetainedDupFrame if b0 & 8 else RetainedFrame)(text, now, topic, meta)
                    if self.on_retained is not None:
                        self.on_retained(topic)
                elif b0 & 8 and qos:  # DUP: the broker sends it again; maybe a copy
                    frame = DupFrame(text, now, topic, meta)
                else:
                    frame = Frame(text, now, topic, meta)
                append(frame)
                if qos:
                    self.due.append((frame, pid, qos))
                continue
            if kind == 6:  # PUBREL (QoS 2, step 3): answer PUBCOMP
                if length < 2:
                    raise ProtocolError("PUBREL without a packet id")
                pid = (data[p] << 8) | data[p + 1]
                self.qos2.discard(pid)
                self.out += bytes((_PUBCOMP, 2, pid >> 8, pid & 0xFF))
            elif kind == 14:  # DISCONNECT from the broker (MQTT 5 carries a reason)
                self.disconnect = data[p] if length else 0
                self._buf = b""
                return
            elif kind not in (4, 5, 7, 9, 11, 13, 15):
                # PUBACK/PUBREC/PUBCOMP of our own publishes, SUBACK, UNSUBACK,
                # PINGRESP and AUTH need nothing; anything else is not for a client.
                raise ProtocolError(f"unexpected packet type {kind} from the broker")
            pos = end
        if pos < n:
            self._buf = data[pos:]


# ------------------------------------------------------------------ the source


class MqttSource:
    """An MQTT subscriber as a :class:`~presencectl.transports.base.Source`.

    Attributes:
        topics: the filters as subscribed (``$share/…`` included), for the capture header.
    """

    transport = "mqtt"
    markers = True
    confirms = True  # done() acknowledges QoS 1/2: the message must be on disk first

    def __init__(self, options: MqttOptions) -> None:
        self.options = options
        self.url = parse_mqtt_url(options.url)
        self.endpoint = redact_url(options.url)
        if options.qos not in (0, 1, 2):
            raise UsageError(f"bad --qos {options.qos}: 0, 1 or 2")
        if options.version not in (3, 5):
            raise UsageError(f"bad --mqtt-version {options.version}: 3 (3.1.1) or 5")
        if not options.topics:
            raise UsageError("no topic to subscribe to")
        for topic in options.topics:
            check_topic_filter(topic)
        if options.share is not None:
            if options.version != 5:
                raise UsageError(
                    "--share needs MQTT 5 (shared subscriptions are an MQTT 5 feature); "
                    "drop --mqtt-version 3, or subscribe with -T '$share/GROUP/TOPIC' if "
                    "your broker takes them from 3.1.1 clients"
                )
            group = options.share
            if not group or any(c in group for c in "/+#"):
                raise UsageError(f"bad --share {group!r}: a group name without '/', '+' or '#'")
            self.topics = [
                t if t.startswith("$share/") else f"$share/{group}/{t}" for t in options.topics
            ]
        else:
            self.topics = list(options.topics)
        for topic, _payload in options.publishes:
            check_topic_name(topic)
        if options.password is not None and options.username is None and options.version == 3:
            raise UsageError(
                "a password needs a user name with MQTT 3.1.1 (mqtt://USER@host or --username)"
            )
        if not options.clean_session and options.client_id is None and options.aliyun is None:
            raise UsageError(
                "--no-clean-session needs --client-id: the broker keeps the session under that id"
            )
        if options.url and not self.url.secure and (options.ssl_context is not None or options.insecure):
            raise UsageError("--cacert, --cert, --key and --insecure need an mqtts:// URL")
        if options.aliyun is not None:
            device = options.aliyun
            self.client_id = device.client_id or f"{device.device_name}&{device.product_key}"
        else:
            self.client_id = options.client_id or f"presencectl-{os.getpid():x}-{secrets.token_hex(3)}"
        self._client: Any = None
        self._pending: deque[Frame] = deque()
        self._lost: str | None = None
        self._lost_clean = False
        self._connack: Any = None
        self._session_present = False
        self._suback: dict[int, list[Any]] = {}
        self._puback: dict[int, Any] = {}
        self._retained_seen = False
        self._notice_due: str | None = None
        self._reads = 0
        self._sock: Any = None  # the socket, once read by _pump
        self._reader: PacketReader | None = None
        self._last_sent = 0.0
        self._ping_sent: float | None = None

    # Connecting.

    def connect(self) -> str:
        """CONNECT, SUBSCRIBE, then ``publishes``; see :meth:`Source.connect`.

        Returns:
            ``MQTT 3.1.1, subscribed to 2 topics (QoS 1), published to /sys/…/bind``.
        """
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        self.close()
        opts = self.options
        v5 = opts.version == 5
        client_id, username, password = self._credentials()
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=None if v5 else opts.clean_session,
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
            reconnect_on_failure=False,
        )
        client.connect_timeout = opts.connect_timeout
        if username is not None or password is not None:
            client.username_pw_set(username, password)
        if self.url.secure:
            client.tls_set_context(opts.ssl_context or ssl.create_default_context())
            if opts.insecure:
                client.tls_insecure_set(True)
        client.on_connect = self._handle_connect
        client.on_disconnect = self._handle_disconnect
        client.on_subscribe = self._handle_subscribe
        client.on_publish = self._handle_publish
        client.on_message = self._message_callback()
        self._pending.clear()
        self._lost = None
        self._lost_clean = False
        self._connack = None
        self._suback = {}
        self._puback = {}
        self._retained_seen = False
        properties = None
        extra: dict[str, Any] = {}
        if v5:
            extra["clean_start"] = opts.clean_session
            if not opts.clean_session:
                properties = Properties(PacketTypes.CONNECT)
                properties.SessionExpiryInterval = SESSION_NEVER_EXPIRES
        try:
            client.connect(
                self.url.host, self.url.port, opts.keepalive, properties=properties, **extra
            )
        except Exception as exc:  # classified below; anything else is a bug worth a trace
            cause, fatal = explain_connect_error(exc, self.url, opts.connect_timeout)
            if cause is None:
                raise
            raise CannotConnect(self.endpoint, cause, fatal=fatal) from None
        self._client = client
        try:
            detail = self._handshake(client, mqtt)
        except CannotConnect:
            self._drop()
            raise
        self._take_over(client)
        return detail

    def _credentials(self) -> tuple[str, str | None, str | None]:
        opts = self.options
        if opts.aliyun is None:
            return self.client_id, opts.username, opts.password
        from presencectl.core.aliyun_auth import sign_device

        device = opts.aliyun
        creds = sign_device(
            device.product_key,
            device.device_name,
            device.device_secret,
            int(self.options.clock() * 1000),
            client_id=device.client_id,
            tls=self.url.secure,
        )
        return creds.client_id, creds.username, creds.password

    def _handshake(self, client: Any, mqtt: Any) -> str:
        opts = self.options
        host = f"{self.url.host}:{self.url.port}"
        why = self._wait(client, lambda: self._connack is not None)
        if why == "lost":
            if not self.url.secure:
                hint = " (a TLS port? use mqtts://)"
            elif opts.client_cert:
                hint = " (does the broker trust the client certificate --cert?)"
            else:
                hint = " (does the broker want a client certificate? --cert, --key)"
            raise CannotConnect(self.endpoint, f"{host} closed the connection before answering CONNECT{hint}")
        if why == "timeout":
            raise CannotConnect(
                self.endpoint, f"no CONNACK from {host} within {opts.connect_timeout:g} s (is it an MQTT broker?)"
            )
        reason = self._connack
        if reason.is_failure:
            raise CannotConnect(
                self.endpoint,
                explain_connack(reason, opts.version, aliyun=opts.aliyun is not None, username=opts.username),
                fatal=reason.value in _FATAL_CONNACK,
            )
        detail = ["MQTT 5" if opts.version == 5 else "MQTT 3.1.1"]
        if self._session_present:
            detail.append("session resumed")

        # SUBSCRIBE: one packet for all filters; paho forgets them with the connection.
        if opts.version == 5:
            from paho.mqtt.subscribeoptions import SubscribeOptions

            wanted: list[Any] = [(t, SubscribeOptions(qos=opts.qos)) for t in self.topics]
        else:
            wanted = [(t, opts.qos) for t in self.topics]
        result, mid = client.subscribe(wanted)
        if result != mqtt.MQTT_ERR_SUCCESS or mid is None:
            raise CannotConnect(self.endpoint, f"subscribing failed: {mqtt.error_string(result)}")
        why = self._wait(client, lambda: mid in self._suback)
        if why == "lost":
            raise CannotConnect(
                self.endpoint,
                f"{self._lost} on SUBSCRIBE to {self._quoted(self.topics)} (a topic filter it does not accept?)",
            )
        if why == "timeout":
            raise CannotConnect(self.endpoint, f"no SUBACK within {opts.connect_timeout:g} s")
        codes = self._suback.pop(mid)
        refused = [(t, c) for t, c in zip(self.topics, codes, strict=False) if c.is_failure]
        granted = [c.value for c in codes if not c.is_failure]
        if refused and len(refused) == len(self.topics):
            raise CannotConnect(self.endpoint, self._refusal_text(refused), fatal=True)
        if refused and opts.notice is not None:
            opts.notice(f"{self.endpoint}: {self._refusal_text(refused)}")
        shown = self._quoted(self.topics) if len(self.topics) <= 3 else _plural(len(self.topics), "topic")
        text = f"subscribed to {shown}"
        if granted and max(granted) < opts.qos:
            text += f" (QoS {opts.qos} asked, {max(granted)} granted)"
        elif opts.qos:
            text += f" (QoS {opts.qos})"
        if refused:
            text += f", {len(refused)} refused"
        detail.append(text)

        # --publish: after the subscriptions, so a reply to it is not missed.
        for topic, payload in opts.publishes:
            info = client.publish(topic, payload, qos=opts.qos)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                raise CannotConnect(self.endpoint, f"publishing to {topic!r} failed: {mqtt.error_string(info.rc)}")
            why = self._wait(client, lambda info=info: not opts.qos or info.mid in self._puback)
            if why == "lost":
                raise CannotConnect(
                    self.endpoint,
                    f"{self._lost} after the publish to {topic!r} (not allowed to publish there?)",
                )
            if why == "timeout":
                raise CannotConnect(
                    self.endpoint,
                    f"no acknowledgement of the publish to {topic!r} within {opts.connect_timeout:g} s",
                )
            ack = self._puback.pop(info.mid, None)
            if ack is not None and ack.is_failure:
                raise CannotConnect(
                    self.endpoint, f"the broker refused the publish to {topic!r}: {_reason_text(ack)}", fatal=True
                )
            detail.append(f"published to {topic}")
        return ", ".join(detail)

    def _wait(self, client: Any, done: Callable[[], bool]) -> str | None:
        """Run the network loop until ``done()``: None, or ``"lost"`` / ``"timeout"``.

        The timeout counts from the last sign of life: a resumed session can
        deliver thousands of queued messages before the broker answers.
        """
        timeout = self.options.connect_timeout
        deadline = time.monotonic() + timeout
        seen = len(self._pending)
        while not done():
            if self._lost is not None:
                return "lost"
            left = deadline - time.monotonic()
            if left <= 0:
                return "timeout"
            self._step(client, min(left, 0.5))
            if len(self._pending) != seen:
                seen = len(self._pending)
                deadline = time.monotonic() + timeout
        return None

    @staticmethod
    def _quoted(topics: Sequence[str]) -> str:
        return ", ".join(repr(t) for t in topics)

    def _refusal_text(self, refused: list[tuple[str, Any]]) -> str:
        if self.options.version == 3:  # 3.1.1 has one failure code and no reasons
            parts = [f"{topic!r} (0x80)" for topic, _code in refused]
        else:
            parts = [f"{topic!r} ({_reason_text(code)})" for topic, code in refused]
        return f"the broker refused the subscription to {', '.join(parts)}"

    # paho callbacks (called from inside loop_read(), in our thread).

    def _handle_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        self._connack = reason
        self._session_present = bool(getattr(flags, "session_present", False))

    def _handle_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if self._lost is not None:
            return
        if getattr(flags, "is_disconnect_packet_from_server", False):
            text = f"the broker disconnected us: {_reason_text(reason)}"
            if reason.value == 0x8E:
                text += f" (another client connected with client id {self.client_id!r})"
            self._lost = text
            self._lost_clean = reason.value == 0
        else:
            self._lost = "the broker closed the connection"

    def _handle_subscribe(self, client: Any, userdata: Any, mid: int, codes: list[Any], properties: Any) -> None:
        self._suback[mid] = list(codes)

    def _handle_publish(self, client: Any, userdata: Any, mid: int, reason: Any, properties: Any) -> None:
        self._puback[mid] = reason

    def _message_callback(self) -> Callable[..., None]:
        """paho's per-message callback (until the takeover): as little work as possible."""
        append = self._pending.append
        now = time.time
        skip = self.options.skip_retained

        def on_message(client: Any, userdata: Any, msg: Any) -> None:
            payload = msg.payload
            try:
                data: str | bytes = payload.decode()
            except UnicodeDecodeError:
                data = payload  # kept byte for byte, shown as unparsed
            try:
                topic = msg.topic
            except UnicodeDecodeError:  # brokers should refuse such topics; show it anyway
                topic = msg._topic.decode("utf-8", "backslashreplace")
            meta = _paho_meta(msg)
            dup = bool(msg.dup) and msg.qos > 0
            if msg.retain:
                if skip:
                    return
                self._retained(topic)
                append((RetainedDupFrame if dup else RetainedFrame)(data, now(), topic, meta))
                return
            append((DupFrame if dup else Frame)(data, now(), topic, meta))

        return on_message

    def _retained(self, topic: str) -> None:
        """A retained message arrived: say so once per connection, before it is handed out."""
        if not self._retained_seen:
            self._retained_seen = True
            if self.options.notice is not None:
                self._notice_due = (
                    f"{self.endpoint}: retained messages follow (the broker's stored last value "
                    f"per topic, e.g. {topic!r}; not live events; --skip-retained drops them)"
                )

    # Receiving.
    #
    # Once connected, the socket is read here with PacketReader: one recv()
    # takes every message the kernel holds (paho reads three times per packet
    # and builds several objects per message), acknowledgements go out in one
    # send per read, and a QoS 1/2 message is acknowledged only after the
    # session has recorded and shown it (done()), so a persistent session
    # loses nothing when presencectl is killed. paho still does the parts with
    # the edge cases: TCP/TLS, CONNECT, SUBSCRIBE, --publish. If this paho has
    # no packet-boundary state to hand over (see _take_over), its own loop
    # keeps reading (slower, same results).

    def receive(self, timeout: float | None) -> Frame | None:
        """The next message; see :meth:`Source.receive`.

        Raises:
            ConnectionLost: after the messages that arrived before the loss.
        """
        if self._notice_due is not None and self.options.notice is not None:
            self.options.notice(self._notice_due)
            self._notice_due = None
        pending = self._pending
        if pending:
            return pending.popleft()
        if self._sock is not None:
            pump = self._pump
        elif self._client is not None:
            pump = self._step
        else:
            raise ConnectionLost(self.endpoint, self._lost or "not connected", clean=self._lost_clean)
        if timeout is None:
            while not pending and self._lost is None:
                pump(1.0)
        else:
            deadline = time.monotonic() + timeout
            left = timeout
            while True:
                pump(left if left < 1.0 else 1.0)
                if pending or self._lost is not None:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
        if pending:
            if self._notice_due is not None and self.options.notice is not None:
                self.options.notice(self._notice_due)
                self._notice_due = None
            return pending.popleft()
        self._drop()
        raise ConnectionLost(self.endpoint, self._lost or "the broker closed the connection", clean=self._lost_clean)

    def pending(self) -> bool:
        """True when a message is ready; see :meth:`Source.pending`."""
        if self._pending:
            return True
        if self._sock is None and self._client is not None and self._lost is None:
            self._read(self._client)  # paho's loop: read the next packet if it is there
            return bool(self._pending)
        return False

    def done(self, frame: Frame, problem: str | None) -> None:
        """``frame`` is recorded and shown: acknowledge it if its QoS asks for that."""
        reader = self._reader
        if reader is not None:
            due = reader.due
            if due and due[0][0] is frame:
                _frame, pid, qos = due.popleft()
                reader.ack(pid, qos)

    # The steady state: our own reader.

    def _take_over(self, client: Any) -> None:
        """Read the socket ourselves from the next packet boundary on.

        paho reads a packet in pieces and keeps QoS 2 messages until PUBREL;
        wait (briefly) until it holds neither, and has written all it queued.
        """
        deadline = time.monotonic() + self.options.connect_timeout
        while True:
            state = paho_internals.idle(client)
            if state is None:
                return  # a paho we do not know inside: keep its loop
            if state:
                break
            if self._lost is not None or time.monotonic() > deadline:
                return
            self._step(client, 0.05)
        sock = client.socket()
        if sock is None:
            return
        self._reader = PacketReader(
            self.options.version == 5,
            self._pending,
            skip_retained=self.options.skip_retained,
            on_retained=self._retained,
        )
        self._sock = sock
        self._last_sent = time.monotonic()
        self._ping_sent = None

    def _pump(self, timeout: float) -> None:
        """Send what is due (acknowledgements, a keep-alive ping), then wait up
        to ``timeout`` s for data and parse all of it."""
        sock = self._sock
        reader = self._reader
        assert sock is not None and reader is not None
        now = time.monotonic()
        keepalive = self.options.keepalive
        if self._ping_sent is not None:
            if now - self._ping_sent >= keepalive:
                self._lost = f"no answer to a keep-alive ping within {keepalive} s"
                return
        elif now - self._last_sent >= keepalive:
            reader.out += _PINGREQ
            self._ping_sent = now
        out = reader.out
        if out and not self._send(sock, out):
            return
        pending_tls = getattr(sock, "pending", None)
        if pending_tls is None or not pending_tls():
            try:
                readable, writable, _ = select.select([sock], [sock] if out else [], [], timeout)
            except (OSError, ValueError) as exc:
                self._lost = f"the connection failed: {_os_cause(exc)}"
                return
            if writable and not self._send(sock, out):
                return
            if not readable:
                return
        try:
            data = sock.recv(_RECV_SIZE)
        except (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return
        except OSError as exc:
            self._lost = _lost_cause(exc)
            return
        if not data:
            self._lost = "the broker closed the connection"
            return
        self._ping_sent = None  # the broker is alive
        try:
            reader.feed(data, time.time())
        except ProtocolError as exc:
            self._lost = f"protocol error: {exc}"
            return
        if reader.disconnect is not None:
            self._lost = self._disconnect_text(reader.disconnect)
            self._lost_clean = reader.disconnect == 0

    def _send(self, sock: Any, out: bytearray) -> bool:
        """Send as much of ``out`` as the socket takes now; False when the connection failed."""
        try:
            sent = sock.send(out)
        except (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return True
        except OSError as exc:
            self._lost = _lost_cause(exc)
            return False
        del out[:sent]
        self._last_sent = time.monotonic()
        return True

    def _disconnect_text(self, code: int) -> str:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.reasoncodes import ReasonCode

        try:
            reason: Any = ReasonCode(PacketTypes.DISCONNECT, identifier=code)
        except Exception:  # noqa: BLE001 - a code paho does not know
            return f"the broker disconnected us (reason 0x{code:02X})"
        text = f"the broker disconnected us: {_reason_text(reason)}"
        if code == 0x8E:
            text += f" (another client connected with client id {self.client_id!r})"
        return text

    # Before the takeover (and with a paho we cannot take over from): paho's
    # "external event loop" API with our own select, not Client.loop(), which
    # selects before every packet and then writes a wake-up byte to a socket
    # pair for every packet sent.

    def _read(self, client: Any) -> None:
        """Read what the socket holds, without waiting; every 64 reads run the keep-alive chores."""
        rc = client.loop_read()
        if rc and self._lost is None:
            self._lost = self._rc_text(rc)
        self._reads += 1
        if not self._reads & 63:
            rc = client.loop_misc()
            if rc and self._lost is None:
                self._lost = self._rc_text(rc)

    def _step(self, client: Any, timeout: float) -> None:
        """One turn of paho's network loop: read, or wait up to ``timeout`` s for the socket."""
        self._read(client)
        if self._pending or self._lost is not None:
            return
        rc = client.loop_misc()  # PINGREQ when due; a loss when PINGRESP is overdue
        if rc:
            if self._lost is None:
                self._lost = self._rc_text(rc)
            return
        sock = client.socket()
        if sock is None:
            if self._lost is None:
                self._lost = "the broker closed the connection"
            return
        if client.want_write():
            client.loop_write()
        pending_tls = getattr(sock, "pending", None)
        if pending_tls is not None and pending_tls():
            return  # decrypted bytes wait inside the TLS layer: read them now
        try:
            readable, writable, _ = select.select(
                [sock], [sock] if client.want_write() else [], [], max(timeout, 0.0)
            )
        except (OSError, ValueError) as exc:  # the socket was closed under us
            if self._lost is None:
                self._lost = f"the connection failed: {_os_cause(exc)}"
            return
        if writable:
            rc = client.loop_write()
            if rc and self._lost is None:
                self._lost = self._rc_text(rc)
        if readable:
            self._read(client)

    @staticmethod
    def _rc_text(rc: int) -> str:
        import paho.mqtt.client as mqtt

        if rc == mqtt.MQTT_ERR_CONN_LOST:
            return "the broker closed the connection"
        if rc == mqtt.MQTT_ERR_KEEPALIVE:
            return "no answer to a keep-alive ping"
        return mqtt.error_string(rc).rstrip(".").lower()

    def close(self) -> None:
        """Send the acknowledgements that are due and DISCONNECT (best effort),
        then drop the socket; safe to call twice."""
        sock, reader = self._sock, self._reader
        if sock is not None and reader is not None and self._lost is None:
            try:
                sock.settimeout(1.0)
                sock.sendall(bytes(reader.out) + _DISCONNECT)
                # Wait for the broker to close its side: closing ours while
                # messages it sent are still unread makes the kernel send a
                # reset, and the broker then drops what it had not read yet,
                # the acknowledgements included (they would be redelivered).
                deadline = time.monotonic() + 1.0
                while time.monotonic() < deadline and sock.recv(_RECV_SIZE):
                    pass
            except (OSError, ValueError):
                pass
        elif self._client is not None and self._lost is None:
            try:
                self._client.disconnect()
            except Exception:  # noqa: BLE001 - the connection is going away anyway
                pass
        self._drop()

    def _drop(self) -> None:
        client, self._client = self._client, None
        sock, self._sock = self._sock, None
        self._reader = None
        if sock is None and client is not None:
            try:
                sock = client.socket()
            except Exception:  # noqa: BLE001
                sock = None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | 0x80 if n else byte)
        if not n:
            return bytes(out)


def _utf8_field(text: str) -> bytes:
    data = text.encode("utf-8", "surrogatepass")[:65535]
    return len(data).to_bytes(2, "big") + data


def _encode_properties(meta: Mapping[str, Any]) -> bytes:
    """MQTT 5 PUBLISH properties (content type, user properties) from Frame.meta."""
    out = bytearray()
    if "content_type" in meta:
        out += b"\x03" + _utf8_field(meta["content_type"])
    for name, value in meta.get("user_properties", ()):
        out += b"\x26" + _utf8_field(name) + _utf8_field(value)
    return bytes(out)


def _paho_properties(meta: Mapping[str, Any]) -> Any:
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    props = Properties(PacketTypes.PUBLISH)
    if "content_type" in meta:
        props.ContentType = meta["content_type"]
    pairs = [(name, value) for name, value in meta.get("user_properties", ())]
    if pairs:
        props.UserProperty = pairs
    return props


def _paho_meta(msg: Any) -> dict[str, Any] | None:
    """A paho message's QoS and MQTT 5 properties, as Frame.meta (see :func:`publish_properties`)."""
    meta: dict[str, Any] = {}
    if msg.qos:
        meta["qos"] = msg.qos
    props = getattr(msg, "properties", None)
    if props is not None:
        content_type = getattr(props, "ContentType", None)
        if isinstance(content_type, str):
            meta["content_type"] = content_type
        pairs = getattr(props, "UserProperty", None)
        if pairs:
            meta["user_properties"] = [[str(k), str(v)] for k, v in pairs]
    return meta or None


def _close_socket(client: Any) -> None:
    sock = client.socket()
    if sock is not None:
        sock.close()


def _lost_cause(exc: BaseException) -> str:
    if isinstance(exc, ConnectionResetError):
        return "connection reset by the broker"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    return f"the connection failed: {_os_cause(exc)}"


def _reason_text(code: Any) -> str:
    """``Not authorized (0x87)`` for a paho ReasonCode."""
    name = getattr(code, "getName", lambda: str(code))()
    value = getattr(code, "value", None)
    return f"{name} (0x{value:02X})" if isinstance(value, int) else str(name)


def explain_connack(reason: Any, version: int, *, aliyun: bool = False, username: str | None = None) -> str:
    """One line for a CONNACK that refuses the connection, with what to try."""
    value = reason.value
    text = f"the broker refused the connection: {_reason_text(reason)}"
    if value in (0x86, 0x87, 0x8C):
        if aliyun:
            text += " (check --aliyun-device and --device-secret)"
        elif username is None:
            text += " (give credentials: mqtt://USER:PASS@host, or --username with --password / PRESENCECTL_PASSWORD)"
        else:
            text += " (check the user name and password)"
    elif value == 0x84 and version == 5:
        text += " (try --mqtt-version 3)"
    elif value == 0x85:
        text += " (try another --client-id)"
    return text


def explain_connect_error(exc: BaseException, url: MqttUrl, timeout: float) -> tuple[str | None, bool]:
    """(cause, fatal) for a failed TCP/TLS connect; cause None for errors we do not know."""
    host = f"{url.host}:{url.port}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = exc.verify_message or exc.reason or str(exc)
        return (
            f"TLS certificate verification failed ({reason}); trust the broker's CA "
            "with --cacert FILE, or skip the check with --insecure",
            True,
        )
    if isinstance(exc, ssl.CertificateError):  # paho's own host name check
        return f"TLS certificate does not match {url.host!r} ({exc}); --insecure skips the check", True
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or str(exc)
        if reason == "WRONG_VERSION_NUMBER":
            return f"TLS handshake with {host} failed ({reason}): not a TLS port? use mqtt:// for plain MQTT", True
        if any(word in reason for word in ("CERTIFICATE_REQUIRED", "HANDSHAKE_FAILURE", "UNKNOWN_CA", "BAD_CERTIFICATE")):
            return (
                f"TLS handshake with {host} failed ({reason}): the broker wants a client "
                "certificate it trusts (--cert, --key)",
                True,
            )
        return f"TLS handshake with {host} failed ({reason})", False
    if url.secure and isinstance(exc, ConnectionResetError | ssl.SSLEOFError):
        return f"TLS handshake with {host} failed (connection closed): not a TLS port? use mqtt:// for plain MQTT", False
    if isinstance(exc, socket.gaierror):
        return f"DNS lookup of {url.host!r} failed ({exc.strerror or exc})", False
    if isinstance(exc, ConnectionRefusedError):
        return f"connection refused by {host} (is the broker running?)", False
    if isinstance(exc, TimeoutError):
        return f"timed out after {timeout:g} s connecting to {host} (host unreachable or not answering)", False
    if isinstance(exc, OSError) and exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return f"{host} is unreachable ({_os_cause(exc)})", False
    if isinstance(exc, OSError):
        return f"cannot connect to {host}: {_os_cause(exc)}", False
    if isinstance(exc, ValueError):
        return f"cannot connect to {host}: {exc}", True
    return None, False


def _os_cause(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:]
    return str(exc) or type(exc).__name__


# ------------------------------------------------------------------ building from the command line


def mqtt_source_from_args(
    url: str,
    *,
    topics: Sequence[str] | None = None,
    qos: int = 0,
    mqtt_version: str | int | None = None,
    client_id: str | None = None,
    username: str | None = None,
    password: str | None = None,
    share: str | None = None,
    publish: Sequence[Sequence[str]] | None = None,
    cacert: str | None = None,
    cert: str | None = None,
    key: str | None = None,
    insecure: bool = False,
    connect_timeout: float = 10.0,
    keepalive: int = DEFAULT_KEEPALIVE,
    clean_session: bool = True,
    skip_retained: bool = False,
    aliyun_device: str | None = None,
    device_secret: str | None = None,
    environ: Mapping[str, str] | None = None,
    notice: Callable[[str], None] | None = None,
) -> MqttSource:
    """The :class:`MqttSource` for ``tail``/``record mqtt[s]://…`` and their options.

    Args:
        url: ``mqtt://[user[:pass]@]host[:port]`` or ``mqtts://…`` (TLS, port 8883).
        topics: ``-T/--topic`` filters (default ``#``).
        qos: ``--qos`` 0, 1 or 2: subscriptions and ``--publish``.
        mqtt_version: ``--mqtt-version`` ``"3"`` (3.1.1) or ``"5"``; None: 5 with
            ``share``, else 3.1.1.
        client_id: ``--client-id``; with ``aliyun_device`` the bare id that is signed.
        username, password: ``--username``/``--password``; they override the URL's.
            Without either, the env ``PRESENCECTL_PASSWORD`` gives the password
            when a user name is known.
        share: ``--share GROUP``: subscribe as ``$share/GROUP/<topic>`` (MQTT 5).
        publish: ``--publish TOPIC PAYLOAD`` pairs, published in order; PAYLOAD
            ``@FILE`` reads a file (``@@…``: a literal leading ``@``).
        cacert, cert, key, insecure: TLS (mqtts:// only).
        connect_timeout: ``--connect-timeout`` seconds (connect, CONNACK, SUBACK, PUBACK).
        keepalive: seconds between keep-alive pings.
        clean_session: ``--no-clean-session`` (False): keep the broker-side session.
        skip_retained: ``--skip-retained``: drop retained messages.
        aliyun_device, device_secret: ``--aliyun-device PK/DN --device-secret S``.
        environ: the environment (default ``os.environ``).
        notice: ``env.note``: a refused subscription among several, retained messages.

    Raises:
        UsageError: a bad URL, topic, QoS, version, flag combination or unreadable file.
    """
    environ = os.environ if environ is None else environ
    parsed = parse_mqtt_url(url)
    if mqtt_version is None or mqtt_version == "":
        version = 5 if share is not None else 3
    else:
        text = str(mqtt_version).strip().lower()
        if text in ("3", "3.1.1", "311", "4"):
            version = 3
        elif text in ("5", "5.0"):
            version = 5
        else:
            raise UsageError(f"bad --mqtt-version {mqtt_version!r}: 3 (3.1.1) or 5")

    aliyun = None
    if aliyun_device is not None or device_secret is not None:
        if aliyun_device is None:
            raise UsageError("--device-secret needs --aliyun-device PK/DN")
        if not device_secret:
            raise UsageError("--aliyun-device needs --device-secret (or env PRESENCECTL_DEVICE_SECRET)")
        clash = [
            name
            for name, given in (
                ("--username", username is not None),
                ("--password", password is not None),
                ("credentials in the URL", parsed.username is not None or parsed.password is not None),
            )
            if given
        ]
        if clash:
            raise UsageError(f"--aliyun-device computes the user name and password: drop {', '.join(clash)}")
        from presencectl.core.aliyun_auth import parse_device, sign_device

        product_key, device_name = parse_device(aliyun_device)
        sign_device(product_key, device_name, device_secret, 0, client_id=client_id)  # checks the id now
        aliyun = AliyunDevice(product_key, device_name, device_secret, client_id)
        username = password = None
    else:
        if username is None:
            username = parsed.username
        if password is None:
            password = parsed.password
        if password is None and username is not None:
            password = environ.get("PRESENCECTL_PASSWORD") or None

    if not parsed.secure and (cacert or cert or key or insecure):
        raise UsageError("--cacert, --cert, --key and --insecure need an mqtts:// URL")
    context = None
    if parsed.secure:
        from presencectl.transports.ws_client import make_ssl_context

        context = make_ssl_context(cacert, cert, key, insecure)

    publishes: list[tuple[str, bytes]] = []
    for pair in publish or ():
        if isinstance(pair, str) or len(pair) != 2:
            raise UsageError("--publish takes two values: TOPIC PAYLOAD (PAYLOAD @FILE reads a file)")
        topic, payload = pair
        check_topic_name(topic)
        publishes.append((topic, read_payload(payload)))

    options = MqttOptions(
        url,
        topics=list(topics) if topics else ["#"],
        qos=qos,
        version=version,
        client_id=client_id if aliyun is None else None,
        username=username,
        password=password,
        share=share,
        publishes=publishes,
        ssl_context=context,
        insecure=insecure,
        client_cert=cert is not None,
        connect_timeout=connect_timeout,
        keepalive=keepalive,
        clean_session=clean_session,
        skip_retained=skip_retained,
        aliyun=aliyun,
        notice=notice,
    )
    return MqttSource(options)


# ------------------------------------------------------------------ replay --to mqtt://


class MqttTarget:
    """``replay --to mqtt[s]://…``: publish each frame on its recorded topic.

    A frame recorded as retained is published retained (the target broker
    then stores it as the source broker had); with MQTT 5 a frame's content
    type and user properties go along (MQTT 3.1.1 cannot carry them: one
    warning says they were dropped). QoS, a default topic for frames recorded
    without one, and the ``--topic-prefix`` rewrite come from ``options.extra``:

    - ``qos`` (0), ``topic_prefix`` (None: as recorded; see :func:`rewrite_topic`),
    - ``topic`` (publish frames that carry no topic here; None: such a frame is an error),
    - ``client_id``, ``username``, ``password``, ``mqtt_version`` (``"3"``/``"5"``),
      ``cert``, ``key`` (TLS client certificate).

    paho's network loop runs in a thread (PUBACKs, pings) while :meth:`send`
    publishes from the replay's clock; at most :attr:`MAX_BACKLOG` messages wait
    unsent or unacknowledged, so memory stays flat at ``--speed max``.
    """

    honours_disconnects = False
    #: Unsent (QoS 0) or unacknowledged (QoS 1/2) publishes before send() waits.
    MAX_BACKLOG = 1000
    #: QoS 0: PUBLISH packets are gathered up to this size, then handed to
    #: paho's writer as one block (see :meth:`flush`).
    BATCH_BYTES = 64 << 10

    def __init__(self, url: str, options: Any) -> None:
        self.url = parse_mqtt_url(url)
        self.description = redact_url(url)
        self.options = options
        extra: Mapping[str, Any] = getattr(options, "extra", None) or {}
        self.qos = int(extra.get("qos") or 0)
        if self.qos not in (0, 1, 2):
            raise UsageError(f"bad --qos {self.qos}: 0, 1 or 2")
        self.prefix: str | None = extra.get("topic_prefix")
        self.default_topic: str | None = extra.get("topic")
        if self.default_topic is not None:
            check_topic_name(self.default_topic, "--topic")
        version = str(extra.get("mqtt_version") or "3")
        if version not in ("3", "5"):
            raise UsageError(f"bad --mqtt-version {version!r}: 3 (3.1.1) or 5")
        self.version = int(version)
        self.client_id = extra.get("client_id") or f"presencectl-replay-{secrets.token_hex(3)}"
        self.username = extra.get("username") or self.url.username
        self.password = extra.get("password") or self.url.password
        if self.password is None and self.username is not None:
            self.password = os.environ.get("PRESENCECTL_PASSWORD") or None
        self.cert = extra.get("cert")
        self.key = extra.get("key")
        if not self.url.secure and (options.cacert or options.insecure or self.cert or self.key):
            raise UsageError("--cacert, --cert, --key and --insecure need an mqtts:// URL")
        self.sent = 0
        self.no_topic = 0
        self._client: Any = None
        self._backlog: deque[Any] = deque()
        self._lost: str | None = None
        self._batch = bytearray()
        self._topics: dict[str, bytes] = {}
        self._raw = False
        self.retained = 0
        self.dropped_properties = 0

    def open(self) -> None:
        """Connect and wait for CONNACK.

        Raises:
            TransportError: refused, unreachable, TLS failure (one line).
        """
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        v5 = self.version == 5
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
            reconnect_on_failure=False,
        )
        timeout = float(getattr(self.options, "timeout", 10.0) or 10.0)
        client.connect_timeout = timeout
        if self.username is not None or self.password is not None:
            client.username_pw_set(self.username, self.password)
        if self.url.secure:
            from presencectl.transports.ws_client import make_ssl_context

            insecure = bool(self.options.insecure)
            client.tls_set_context(make_ssl_context(self.options.cacert, self.cert, self.key, insecure))
            if insecure:
                client.tls_insecure_set(True)
        connack: list[Any] = []
        client.on_connect = lambda c, u, f, reason, p: connack.append(reason)
        client.on_disconnect = self._handle_disconnect
        try:
            client.connect(self.url.host, self.url.port, DEFAULT_KEEPALIVE)
        except Exception as exc:
            cause, _fatal = explain_connect_error(exc, self.url, timeout)
            if cause is None:
                raise
            raise TransportError(f"cannot connect to {self.description}: {cause}") from None
        deadline = time.monotonic() + timeout
        while not connack:
            left = deadline - time.monotonic()
            if left <= 0 or (client.loop(min(left, 0.5)) and not connack):  # a refusing CONNACK: say why
                _close_socket(client)
                raise TransportError(
                    f"cannot connect to {self.description}: no CONNACK within {timeout:g} s"
                    if left <= 0
                    else f"cannot connect to {self.description}: the broker closed the connection before answering CONNECT"
                )
        if connack[0].is_failure:
            _close_socket(client)
            raise TransportError(
                f"cannot connect to {self.description}: "
                f"{explain_connack(connack[0], self.version, username=self.username)}"
            )
        self._client = client
        # QoS 0 needs no acknowledgement, so its PUBLISH packets can be encoded
        # here and queued in blocks: paho's publish() costs ~25 µs a message in
        # Python, more than the 30,000 frames/s budget. Needs paho's writer
        # queue; without it (another paho version), publish() is used.
        self._raw = self.qos == 0 and paho_internals.can_queue_raw(client)
        client.loop_start()

    def flush(self) -> None:
        """Hand the gathered QoS 0 packets to paho's network thread (called before each wait)."""
        batch = self._batch
        if not batch:
            return
        client = self._client
        data = bytes(batch)
        batch.clear()
        # command 0: paho writes the bytes as they are (several PUBLISH packets).
        paho_internals.queue_raw(client, data)
        # Keep memory flat: at most a few blocks wait in paho's queue.
        while paho_internals.queued_raw(client) > 8:
            if self._lost is not None:
                raise TransportError(f"{self.description}: {self._lost} after {self.sent} frames")
            time.sleep(0.0005)

    def _publish_packet(self, topic: str, payload: bytes, properties: bytes | None = None, retain: bool = False) -> bytes:
        head = self._topics.get(topic)
        if head is None:
            try:
                check_topic_name(topic, "topic")
            except UsageError as exc:
                raise TransportError(f"{self.description}: cannot publish on {topic!r}: {exc}") from None
            name = topic.encode("utf-8")
            head = len(name).to_bytes(2, "big") + name + (b"\x00" if self.version == 5 else b"")
            if len(self._topics) < 10_000:
                self._topics[topic] = head
        if properties:  # MQTT 5: the topic's head ends with an empty property list
            head = head[:-1] + _varint(len(properties)) + properties
        remaining = len(head) + len(payload)
        size = bytearray()
        while True:  # MQTT variable-length integer
            byte, remaining = remaining & 0x7F, remaining >> 7
            size.append(byte | 0x80 if remaining else byte)
            if not remaining:
                break
        return (b"\x31" if retain else b"\x30") + bytes(size) + head + payload

    def _handle_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if self._lost is None:
            if getattr(flags, "is_disconnect_packet_from_server", False):
                self._lost = f"the broker disconnected us: {_reason_text(reason)}"
            else:
                self._lost = "the broker closed the connection"

    def send(self, frame: Frame) -> None:
        """Publish one frame on its (rewritten) topic.

        Raises:
            TransportError: the connection is gone, or a frame has no topic and no default was given.
        """
        client = self._client
        if client is None:
            self.open()
            client = self._client
        if self._lost is not None:
            raise TransportError(f"{self.description}: {self._lost} after {self.sent} frames")
        topic = frame.topic
        if topic is None:
            topic = self.default_topic
            if topic is None:
                raise TransportError(
                    f"{self.description}: frame {self.sent + 1} has no topic (recorded from a "
                    "non-MQTT source); give a topic to publish such frames on"
                )
            self.no_topic += 1
        else:
            topic = rewrite_topic(topic, self.prefix)
        data = frame.data
        payload = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
        retain = frame.retained
        if retain:
            self.retained += 1
        meta = frame.meta
        carried = None
        if meta is not None and ("content_type" in meta or "user_properties" in meta):
            if self.version == 5:
                carried = meta
            else:
                self._dropped()
        if self._raw:
            props = _encode_properties(carried) if carried is not None else None
            self._batch += self._publish_packet(topic, payload, props, retain)
            self.sent += 1
            if len(self._batch) >= self.BATCH_BYTES:
                self.flush()
            return
        try:
            info = client.publish(
                topic, payload, qos=self.qos, retain=retain,
                properties=_paho_properties(carried) if carried is not None else None,
            )
        except ValueError as exc:  # a wildcard or empty topic in the capture
            raise TransportError(f"{self.description}: cannot publish on {topic!r}: {exc}") from None
        if info.rc:
            import paho.mqtt.client as mqtt

            if self._lost is not None or info.rc == mqtt.MQTT_ERR_NO_CONN:
                raise TransportError(
                    f"{self.description}: {self._lost or 'not connected'} after {self.sent} frames"
                )
            raise TransportError(f"{self.description}: publishing failed: {mqtt.error_string(info.rc)}")
        self.sent += 1
        backlog = self._backlog
        backlog.append(info)
        while backlog and backlog[0].is_published():
            backlog.popleft()
        if len(backlog) > self.MAX_BACKLOG:
            self._drain(self.MAX_BACKLOG // 2)

    def _dropped(self) -> None:
        self.dropped_properties += 1
        if self.dropped_properties == 1:
            warn = getattr(self.options, "warn", None)
            if warn is not None:
                warn(
                    f"{self.description}: MQTT 3.1.1 cannot carry the recorded content types and "
                    "user properties: published without them (--mqtt-version 5 keeps them)"
                )

    def _drain(self, keep: int) -> None:
        backlog = self._backlog
        while len(backlog) > keep:
            info = backlog[0]
            while not info.is_published():
                if self._lost is not None:
                    raise TransportError(f"{self.description}: {self._lost} after {self.sent} frames")
                info.wait_for_publish(0.5)
            backlog.popleft()

    def marker(self, marker: Marker) -> None:
        """Markers are not replayed into a broker."""

    def close(self) -> None:
        """Wait (up to the timeout) for what is still unsent or unacknowledged, then DISCONNECT."""
        if self._client is None:
            return
        timeout = float(getattr(self.options, "timeout", 10.0) or 10.0)
        deadline = time.monotonic() + timeout
        if self._raw:
            try:
                self.flush()
                while paho_internals.queued_raw(self._client) and self._lost is None and time.monotonic() < deadline:
                    time.sleep(0.002)
            except TransportError:
                pass
        client, self._client = self._client, None
        try:
            for info in self._backlog:
                left = deadline - time.monotonic()
                if left <= 0 or self._lost is not None:
                    break
                if not info.is_published():
                    info.wait_for_publish(left)
            unsent = sum(1 for info in self._backlog if not info.is_published())
            self._backlog.clear()
            if unsent and self._lost is None:
                warn = getattr(self.options, "warn", None)
                if warn is not None:
                    warn(f"{self.description}: {unsent} publishes not acknowledged within {timeout:g} s")
            client.disconnect()
        except Exception:  # noqa: BLE001 - closing: nothing more to do
            pass
        finally:
            client.loop_stop()

    def report(self) -> list[str]:
        """Extra summary parts."""
        parts = [f"published at QoS {self.qos}"] if self.qos else []
        if self.retained:
            parts.append(f"{self.retained} retained")
        if self.no_topic:
            parts.append(f"{self.no_topic} frames without a topic sent to {self.default_topic}")
        return parts
