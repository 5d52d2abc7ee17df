"""MQTT packets without I/O: the subscriber's steady-state reader, the PUBLISH encoder, topic rules.

:class:`PacketReader` turns the bytes a broker sends into
:class:`~presencectl.core.events.Frame` objects and queues the
acknowledgements to send back; :func:`publish_packet` builds the PUBLISH
packets ``replay --to mqtt://`` hands to the socket. The topic checks and
:func:`rewrite_topic` are the MQTT rules a topic must follow. No sockets
here: :mod:`presencectl.transports.mqtt` reads and writes them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from presencectl.core.events import DupFrame, Frame, RetainedDupFrame, RetainedFrame
from presencectl.errors import UsageError

__all__ = [
    "MAX_PACKET",
    "PINGREQ",
    "DISCONNECT",
    "PacketReader",
    "ProtocolError",
    "check_topic_filter",
    "check_topic_name",
    "encode_properties",
    "publish_packet",
    "publish_properties",
    "rewrite_topic",
    "topic_head",
    "varint",
]


# ------------------------------------------------------------------ topics


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


# ------------------------------------------------------------------ the steady-state reader


class ProtocolError(Exception):
    """The broker sent bytes that are not MQTT (or not what a subscriber expects)."""


#: A packet larger than this ends the connection (a guard against a broken or hostile broker).
MAX_PACKET = 64 << 20
_PUBACK = 0x40
_PUBREC = 0x50
_PUBCOMP = 0x70
PINGREQ = b"\xc0\x00"
DISCONNECT = b"\xe0\x00"


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

    def ack_delivered(self, pid: int, qos: int) -> None:
        """Queue the last acknowledgement of a message another reader (paho)
        took in before this one: PUBACK (QoS 1), or PUBCOMP (QoS 2: it answered
        the PUBLISH with PUBREC and handed the message over at PUBREL)."""
        self.out += bytes((_PUBACK if qos == 1 else _PUBCOMP, 2, pid >> 8, pid & 0xFF))

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




# ------------------------------------------------------------------ the PUBLISH encoder


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | 0x80 if n else byte)
        if not n:
            return bytes(out)


def _utf8_field(text: str) -> bytes:
    data = text.encode("utf-8", "surrogatepass")[:65535]
    return len(data).to_bytes(2, "big") + data


def encode_properties(meta: Mapping[str, Any]) -> bytes:
    """MQTT 5 PUBLISH properties (content type, user properties) from Frame.meta."""
    out = bytearray()
    if "content_type" in meta:
        out += b"\x03" + _utf8_field(meta["content_type"])
    for name, value in meta.get("user_properties", ()):
        out += b"\x26" + _utf8_field(name) + _utf8_field(value)
    return bytes(out)


def topic_head(topic: str, v5: bool) -> bytes:
    """The start of a PUBLISH's variable header for ``topic``: its length,
    its bytes and (MQTT 5) an empty property list; reusable for every packet
    on that topic.

    Raises:
        UsageError: a topic nobody may publish on (empty, wildcards, NUL, too long).
    """
    check_topic_name(topic, "topic")
    name = topic.encode("utf-8")
    return len(name).to_bytes(2, "big") + name + (b"\x00" if v5 else b"")


def publish_packet(head: bytes, payload: bytes, properties: bytes | None = None, retain: bool = False) -> bytes:
    """A QoS 0 PUBLISH packet: ``head`` from :func:`topic_head`, MQTT 5
    ``properties`` from :func:`encode_properties`."""
    if properties:  # MQTT 5: the topic's head ends with an empty property list
        head = head[:-1] + varint(len(properties)) + properties
    remaining = len(head) + len(payload)
    size = bytearray()
    while True:  # MQTT variable-length integer
        byte, remaining = remaining & 0x7F, remaining >> 7
        size.append(byte | 0x80 if remaining else byte)
        if not remaining:
            break
    return (b"\x31" if retain else b"\x30") + bytes(size) + head + payload
