"""WebSocket framing (RFC 6455 §5), sans-I/O: bytes in, messages out; frames to send.

Pure: no sockets, no clock reads, no random source. :class:`FrameParser`
reads what a server sends (large reads fed in, many messages out per read,
fragments reassembled); :func:`build_frame` makes a frame to send (a client
masks, with a key the caller draws); :func:`parse_close`,
:func:`describe_close` and :func:`says_finished` read a close frame. The I/O
lives in :mod:`presencectl.transports.ws_client`.

Example::

    parser = FrameParser()
    parser.feed(sock.recv(65536))
    for payload in parser.texts():        # the common case, many per read
        ...
    message = parser.next()               # anything else: (opcode, payload) or None
"""

from __future__ import annotations

import re

__all__ = [
    "FrameParser",
    "ProtocolError",
    "apply_mask",
    "build_frame",
    "parse_close",
    "describe_close",
    "says_finished",
    "MAX_MESSAGE",
    "OP_CONT",
    "OP_TEXT",
    "OP_BINARY",
    "OP_CLOSE",
    "OP_PING",
    "OP_PONG",
]

OP_CONT = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

#: A message larger than this ends the connection (a guard against a server
#: that streams one endless frame into our memory).
MAX_MESSAGE = 64 * 1024 * 1024

_CLOSE_NAMES = {
    1000: "normal closure",
    1001: "going away",
    1002: "protocol error",
    1003: "unsupported data",
    1005: "no status",
    1006: "abnormal closure",
    1007: "invalid payload",
    1008: "policy violation",
    1009: "message too big",
    1010: "extension required",
    1011: "internal error",
    1012: "service restart",
    1013: "try again later",
    1014: "bad gateway",
}


class ProtocolError(Exception):
    """The server broke the WebSocket framing rules (RFC 6455 §5)."""


class FrameParser:
    """Server-to-client WebSocket messages from a byte stream (sans-I/O).

    Call :meth:`feed` with whatever the socket returned, then :meth:`next`
    until it returns None. Fragmented messages are reassembled; control frames
    (close, ping, pong) may arrive between fragments and are returned as they
    come.

    >>> p = FrameParser()
    >>> p.feed(b"\\x81\\x02hi\\x89\\x00")
    >>> p.next(), p.next(), p.next()
    ((1, b'hi'), (9, b''), None)
    """

    __slots__ = ("_buf", "_pos", "_frag_op", "_frags", "_frag_size", "max_size")

    def __init__(self, max_size: int = MAX_MESSAGE) -> None:
        self._buf = b""
        self._pos = 0
        self._frag_op: int | None = None
        self._frags: list[bytes] = []
        self._frag_size = 0
        self.max_size = max_size

    def feed(self, data: bytes) -> None:
        """Append received bytes."""
        if self._pos < len(self._buf):
            self._buf = self._buf[self._pos :] + data
        else:
            self._buf = data
        self._pos = 0

    def ready(self) -> bool:
        """True when :meth:`next` will return a text or binary message from the
        bytes already fed (conservative: False when unsure)."""
        buf = self._buf
        pos = self._pos
        if len(buf) - pos < 4 or self._frag_op is not None:
            return False
        b1 = buf[pos]
        if b1 != 0x81 and b1 != 0x82:
            return False
        length = buf[pos + 1]
        if length > 126:
            return False
        start = pos + 2
        if length == 126:
            length = buf[start] << 8 | buf[start + 1]
            start += 2
        return start + length <= len(buf)

    def buffered(self) -> int:
        """Bytes received but not yet returned as messages."""
        return len(self._buf) - self._pos + self._frag_size

    def texts(self) -> list[bytes]:
        """The payloads of every whole, unfragmented text message at the head
        of the buffer, in order, in one pass (the busy stream's hot path).

        It stops at the first frame that is anything else (binary, control,
        fragment, masked, over 65,535 bytes or over ``max_size``, cut off):
        :meth:`next` takes over from there, so order and errors are as if
        :meth:`next` had been called for each.

        >>> p = FrameParser()
        >>> p.feed(b"\\x81\\x01a\\x81\\x01b\\x89\\x00\\x81\\x01c")
        >>> p.texts(), p.next(), p.texts()
        ([b'a', b'b'], (9, b''), [b'c'])
        """
        out: list[bytes] = []
        if self._frag_op is not None:
            return out
        append = out.append
        buf = self._buf
        size = len(buf)
        pos = self._pos
        limit = self.max_size
        while size - pos >= 2 and buf[pos] == 0x81:
            length = buf[pos + 1]
            start = pos + 2
            if length == 126:
                if size - pos < 4:
                    break
                length = buf[start] << 8 | buf[start + 1]
                start += 2
            elif length > 126:  # masked, or a 64-bit length
                break
            end = start + length
            if end > size or length > limit:
                break
            append(buf[start:end])
            pos = end
        self._pos = pos
        return out

    def next(self) -> tuple[int, bytes] | None:
        """The next complete ``(opcode, payload)``, or None until more bytes are fed.

        Raises:
            ProtocolError: reserved bits, an unknown opcode, a fragmented or
                oversized control frame, a stray continuation, or a message
                over ``max_size``.
        """
        buf = self._buf
        end_of_data = len(buf)
        pos = self._pos
        # Fast path: a whole unfragmented, unmasked text/binary frame under 126
        # bytes (most event streams are nothing else).
        if end_of_data - pos >= 4 and self._frag_op is None:
            b1 = buf[pos]
            if b1 == 0x81 or b1 == 0x82:
                length = buf[pos + 1]  # < 128: not masked
                if length <= 126:
                    start = pos + 2
                    if length == 126:
                        length = buf[start] << 8 | buf[start + 1]
                        start += 2
                    end = start + length
                    if end <= end_of_data and length <= self.max_size:
                        self._pos = end
                        return b1 & 0x0F, buf[start:end]
        while True:
            pos = self._pos
            if end_of_data - pos < 2:
                return None
            b1 = buf[pos]
            b2 = buf[pos + 1]
            length = b2 & 0x7F
            start = pos + 2
            if length == 126:
                if end_of_data - pos < 4:
                    return None
                length = int.from_bytes(buf[start : start + 2], "big")
                start += 2
            elif length == 127:
                if end_of_data - pos < 10:
                    return None
                length = int.from_bytes(buf[start : start + 8], "big")
                start += 8
            masked = b2 & 0x80
            if masked:
                start += 4
            if length > self.max_size or self._frag_size + length > self.max_size:
                raise ProtocolError(f"message larger than {self.max_size} bytes")
            end = start + length
            if end > end_of_data:
                return None
            payload = buf[start:end]
            if masked:  # servers must not mask, but reading it costs nothing
                payload = apply_mask(buf[start - 4 : start], payload)
            self._pos = end
            if b1 & 0x70:
                raise ProtocolError("reserved bits set (no extension was negotiated)")
            opcode = b1 & 0x0F
            fin = b1 & 0x80
            if opcode in (OP_TEXT, OP_BINARY):
                if self._frag_op is not None:
                    raise ProtocolError("new message before the fragmented one ended")
                if fin:
                    return opcode, payload
                self._frag_op = opcode
                self._frags = [payload]
                self._frag_size = length
                continue
            if opcode == OP_CONT:
                if self._frag_op is None:
                    raise ProtocolError("continuation frame outside a fragmented message")
                self._frags.append(payload)
                self._frag_size += length
                if fin:
                    op, data = self._frag_op, b"".join(self._frags)
                    self._frag_op, self._frags, self._frag_size = None, [], 0
                    return op, data
                continue
            if opcode in (OP_CLOSE, OP_PING, OP_PONG):
                if not fin or length > 125:
                    raise ProtocolError("fragmented or oversized control frame")
                return opcode, payload
            raise ProtocolError(f"unknown opcode {opcode:#x}")


def apply_mask(key: bytes, payload: bytes) -> bytes:
    """XOR ``payload`` with the 4-byte masking ``key`` (masking and unmasking are the same).

    >>> apply_mask(b"\\x01\\x02\\x03\\x04", apply_mask(b"\\x01\\x02\\x03\\x04", b"hello"))
    b'hello'
    """
    if not payload:
        return payload
    repeated = (key * (len(payload) // 4 + 1))[: len(payload)]
    value = int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")
    return value.to_bytes(len(payload), "big")


def build_frame(opcode: int, payload: bytes, mask: bytes | None = None) -> bytes:
    """One whole (FIN) frame; ``mask`` is the 4-byte key a client must use (RFC 6455 §5.3).

    The caller picks the key (``os.urandom(4)``): this module reads no
    random source.

    >>> build_frame(OP_TEXT, b"hi")
    b'\\x81\\x02hi'
    >>> build_frame(OP_PING, b"", b"abcd")
    b'\\x89\\x80abcd'
    """
    length = len(payload)
    mask_bit = 0x80 if mask is not None else 0
    if length < 126:
        head = bytes((0x80 | opcode, mask_bit | length))
    elif length < 1 << 16:
        head = bytes((0x80 | opcode, mask_bit | 126)) + length.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, mask_bit | 127)) + length.to_bytes(8, "big")
    if mask is None:
        return head + payload
    return head + mask + apply_mask(mask, payload)


def parse_close(payload: bytes) -> tuple[int, str]:
    """A close frame's status code and reason (1005 when it has none).

    >>> parse_close(b"\\x03\\xe9bye")
    (1001, 'bye')
    """
    if len(payload) < 2:
        return 1005, ""
    code = int.from_bytes(payload[:2], "big")
    return code, payload[2:].decode("utf-8", "replace")


def describe_close(code: int, reason: str) -> str:
    """``closed by the server (1001 going away: bye)``."""
    name = _CLOSE_NAMES.get(code, "")
    text = f"{code} {name}".strip()
    if reason:
        text += f": {reason}"
    return f"closed by the server ({text})"


#: Words in a 1000 close's reason that say the stream is over for good. Kept
#: narrow: "session ended" or "end of session" (a token that expired, a vendor
#: cycling connections) is a reason to reconnect, not to stop.
_FINISHED = re.compile(r"\b(finished|done|completed?|end of (stream|replay|capture)|eof)\b", re.IGNORECASE)


def says_finished(code: int, reason: str) -> bool:
    """A normal closure (1000) whose reason says the server is done with us.

    ``replay --serve`` closes with ``1000 replay finished``: reconnecting
    would only play the capture again. Other clean closes (no reason,
    "bye", 1001 going away) are a loss like any other.

    >>> says_finished(1000, "replay finished"), says_finished(1000, ""), says_finished(1001, "done")
    (True, False, False)
    >>> says_finished(1000, "end of session")
    False
    """
    return code == 1000 and _FINISHED.search(reason) is not None
