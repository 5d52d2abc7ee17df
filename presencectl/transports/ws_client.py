"""WebSocket client source: websocket-client for the handshake, a lean frame reader after it.

websocket-client opens the connection (TCP, HTTP proxy from ``http_proxy`` /
``https_proxy`` / ``no_proxy``, TLS, the upgrade with headers and
subprotocols) and frames what we send (masking). Incoming frames are read by
:class:`FrameParser`, a sans-I/O parser fed from large ``recv()`` calls:
websocket-client's own reader makes two or three system calls per frame and
validates UTF-8 in pure Python, which caps a busy stream at a fraction of what
the rest of the pipeline can take. Text frames are decoded here with the C
codec; a text frame that is not valid UTF-8 is handed on as bytes, so it is
recorded byte for byte and shown as unparsed instead of killing the connection.

Example::

    source = WsSource(WsOptions("wss://example.com/events", headers=["X-API-Token: t"]))
    source.connect()
    frame = source.receive(5.0)
"""

from __future__ import annotations

import base64
import errno
import re
import socket
import ssl
import time
from dataclasses import dataclass, field
from urllib.parse import urlunsplit

from presencectl.core.capture import redact_url
from presencectl.core.events import Frame
from presencectl.errors import UsageError
from presencectl.transports.base import CannotConnect, ConnectionLost
from presencectl.transports.urls import split_url

__all__ = [
    "WsOptions",
    "WsSource",
    "FrameParser",
    "ProtocolError",
    "parse_header",
    "parse_ws_url",
    "make_ssl_context",
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
_RECV_SIZE = 1 << 16
_wall = time.time

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
                payload = _unmask(buf[start - 4 : start], payload)
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


def _unmask(key: bytes, payload: bytes) -> bytes:
    if not payload:
        return payload
    repeated = (key * (len(payload) // 4 + 1))[: len(payload)]
    value = int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")
    return value.to_bytes(len(payload), "big")


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


def parse_header(text: str) -> tuple[str, str]:
    """``'Name: value'`` → ``("Name", "value")``.

    >>> parse_header("X-API-Token:  abc ")
    ('X-API-Token', 'abc')

    Raises:
        UsageError: no colon, an empty or malformed name, or a line break in
            the value (which would smuggle in another header).
    """
    name, sep, value = text.partition(":")
    name = name.strip()
    if not sep or not name:
        raise UsageError(f"bad header {_shown_header(text)!r}: expected 'Name: value'")
    if any(c in name for c in " \t()<>@,;:\\\"/[]?={}") or not name.isascii() or not name.isprintable():
        raise UsageError(f"bad header name {name!r}")
    value = value.strip()
    if "\r" in value or "\n" in value or "\x00" in value:
        raise UsageError(f"bad header {name!r}: the value holds a line break")
    return name, value


def _shown_header(text: str) -> str:
    # Never echo a header value (it may be a token) in an error message.
    name = text.partition(":")[0]
    return name if len(name) <= 40 else name[:40] + "…"


@dataclass(slots=True)
class WsUrl:
    """A checked ``ws://``/``wss://`` URL."""

    url: str
    secure: bool
    host: str
    port: int
    username: str | None = None
    password: str | None = None


def parse_ws_url(url: str) -> WsUrl:
    """Check a WebSocket URL and take it apart.

    >>> parse_ws_url("wss://bob:pw@example.com/x?y=1").port
    443

    Raises:
        UsageError: not ws/wss, no host, or a bad port.
    """
    parts = split_url(url, {"ws": 80, "wss": 443})
    scheme = parts.scheme
    secure = scheme == "wss"
    # websocket-client takes no user info in the URL: credentials go in a header.
    netloc = parts.netloc.rpartition("@")[2]
    bare = urlunsplit((scheme, netloc, parts.path or "/", parts.query, parts.fragment))
    return WsUrl(bare, secure, parts.host, parts.port, parts.username, parts.password)


def make_ssl_context(
    cacert: str | None = None,
    cert: str | None = None,
    key: str | None = None,
    insecure: bool = False,
) -> ssl.SSLContext:
    """The TLS context for ``--cacert``, ``--cert``/``--key`` and ``--insecure``.

    Verification is on unless ``insecure``; ``cacert`` replaces the system CA
    store (as curl's ``--cacert`` does).

    Raises:
        UsageError: a file cannot be read or is not a certificate/key.
    """
    try:
        ctx = ssl.create_default_context(cafile=cacert)
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(f"--cacert {cacert}: {_ssl_file_error(exc)}") from None
    if insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if key and not cert:
        raise UsageError("--key needs --cert")
    if cert:
        try:
            ctx.load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as exc:
            raise UsageError(f"--cert {cert}: {_ssl_file_error(exc)}") from None
    return ctx


def _ssl_file_error(exc: Exception) -> str:
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, ssl.SSLError):
        return f"not a usable PEM certificate or key ({exc.reason or exc})"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc)


@dataclass(slots=True)
class WsOptions:
    """How to connect.

    Args:
        url: ``ws://`` or ``wss://`` URL (user info becomes Basic auth).
        headers: ``Name: value`` lines for the upgrade request.
        subprotocols: offered in ``Sec-WebSocket-Protocol``.
        sends: messages sent after every (re)connect: ``str`` as text
            frames, ``bytes`` as binary frames.
        ssl_context: for wss:// (default: verify against the system store).
        connect_timeout: seconds for TCP + TLS + upgrade.
        ping_interval: send a ping after this many idle seconds, and count
            the connection lost if nothing comes back within as long again
            (None: no keep-alive pings).
        client_cert: ``ssl_context`` holds a client certificate (only for
            the hint in an error message).
    """

    url: str
    headers: list[str] = field(default_factory=list)
    subprotocols: list[str] = field(default_factory=list)
    sends: list[str | bytes] = field(default_factory=list)
    ssl_context: ssl.SSLContext | None = None
    connect_timeout: float = 10.0
    ping_interval: float | None = 20.0
    client_cert: bool = False


class WsSource:
    """A WebSocket client as a :class:`~presencectl.transports.base.Source`."""

    transport = "websocket"
    markers = True
    confirms = False  # done() tells the peer nothing (see transports.base.Source)

    def __init__(self, options: WsOptions) -> None:
        self.options = options
        self.url = parse_ws_url(options.url)
        self.endpoint = redact_url(options.url)
        self._headers, self._extra = self._prepare_headers()
        self._ws = None  # websocket.WebSocket while connected
        self._sock: socket.socket | None = None
        self._parser = FrameParser()
        self._timeout: float | None | bool = False  # the socket's current timeout
        self._last_rx = 0.0
        self._ping_sent: float | None = None

    def _prepare_headers(self) -> tuple[list[str], dict[str, str]]:
        headers: list[str] = []
        extra: dict[str, str] = {}
        names = set()
        for line in self.options.headers:
            name, value = parse_header(line)
            names.add(name.lower())
            # websocket-client writes Host and Origin itself: pass ours through
            # its options so the request does not carry two of each.
            if name.lower() in ("host", "origin"):
                extra[name.lower()] = value
            else:
                headers.append(f"{name}: {value}")
        if self.url.username is not None and "authorization" not in names:
            token = f"{self.url.username}:{self.url.password or ''}".encode()
            headers.append(f"Authorization: Basic {base64.b64encode(token).decode()}")
        return headers, extra

    def connect(self) -> str:
        """Open the connection and send the ``sends``; see :meth:`Source.connect`."""
        import websocket

        self.close()
        opts = self.options
        ws = websocket.WebSocket(
            enable_multithread=False,
            skip_utf8_validation=True,
            sslopt={"context": opts.ssl_context} if opts.ssl_context is not None else {},
        )
        try:
            ws.connect(
                self.url.url,
                header=self._headers,
                subprotocols=opts.subprotocols or None,
                timeout=opts.connect_timeout,
                **self._extra,
            )
        except Exception as exc:  # classified below; anything else is a bug worth a trace
            cause, fatal = _explain_connect_error(exc, self, websocket)
            if cause is None:
                raise
            ws.shutdown()
            raise CannotConnect(self.endpoint, cause, fatal=fatal) from None
        self._ws = ws
        self._sock = ws.sock
        self._parser = FrameParser()
        self._timeout = False
        self._last_rx = time.monotonic()
        self._ping_sent = None
        try:
            for message in opts.sends:
                if isinstance(message, bytes):
                    ws.send_bytes(message)
                else:
                    ws.send_text(message)
        except (OSError, websocket.WebSocketException) as exc:
            self.close()
            raise CannotConnect(self.endpoint, f"connected, but sending failed: {_os_cause(exc)}") from None
        detail = f"HTTP {ws.status}"
        if ws.subprotocol:
            detail += f", subprotocol {ws.subprotocol}"
        if opts.sends:
            detail += f", sent {len(opts.sends)} message{'s' if len(opts.sends) != 1 else ''}"
        return detail

    def receive(self, timeout: float | None) -> Frame | None:
        """The next text or binary message; see :meth:`Source.receive`."""
        # The hot path, once per frame of a busy stream: a whole text message
        # is already buffered.
        try:
            message = self._parser.next()
        except ProtocolError as exc:
            self._fail(1002)
            raise ConnectionLost(self.endpoint, f"protocol error: {exc}") from None
        if message is not None and message[0] == OP_TEXT:
            payload = message[1]
            try:
                return Frame(payload.decode("utf-8"), _wall())
            except UnicodeDecodeError:
                return Frame(payload, _wall())  # kept byte-exact, shown as unparsed
        return self._receive(message, timeout)

    def _receive(self, message: tuple[int, bytes] | None, timeout: float | None) -> Frame | None:
        parser = self._parser
        deadline = None if timeout is None else time.monotonic() + timeout
        read = False
        while True:
            if message is not None:
                opcode, payload = message
                if opcode == OP_TEXT:
                    try:
                        return Frame(payload.decode("utf-8"), _wall())
                    except UnicodeDecodeError:
                        return Frame(payload, _wall())
                if opcode == OP_BINARY:
                    return Frame(payload, _wall())
                self._control(opcode, payload)
            else:
                if read and deadline is not None and time.monotonic() >= deadline:
                    return None  # a message cut in two stays in the parser for the next call
                self._read(deadline)
                read = True
            try:
                message = parser.next()
            except ProtocolError as exc:
                self._fail(1002)
                raise ConnectionLost(self.endpoint, f"protocol error: {exc}") from None

    def _read(self, deadline: float | None) -> None:
        """Read once from the socket into the parser, doing ping chores on the way."""
        sock = self._sock
        if sock is None:
            raise ConnectionLost(self.endpoint, "not connected")
        now = time.monotonic()
        wait = None if deadline is None else deadline - now
        interval = self.options.ping_interval
        if interval:
            due = (self._ping_sent if self._ping_sent is not None else self._last_rx) + interval
            wait = due - now if wait is None else min(wait, due - now)
        if wait is not None:
            wait = max(wait, 0.001)
        if wait != self._timeout:
            sock.settimeout(wait)
            self._timeout = wait
        try:
            data = sock.recv(_RECV_SIZE)
        except (TimeoutError, BlockingIOError, ssl.SSLWantReadError):
            self._keepalive()
            return
        except OSError as exc:
            self._drop()
            raise ConnectionLost(self.endpoint, _os_cause(exc)) from None
        if not data:
            self._drop()
            raise ConnectionLost(self.endpoint, "the server closed the connection without a close frame")
        self._last_rx = time.monotonic()
        self._ping_sent = None
        self._parser.feed(data)

    def _keepalive(self) -> None:
        interval = self.options.ping_interval
        if not interval:
            return
        now = time.monotonic()
        if self._ping_sent is not None:
            if now - self._ping_sent >= interval:
                self._drop()
                raise ConnectionLost(
                    self.endpoint, f"no answer to a keep-alive ping within {interval:g} s"
                )
        elif now - self._last_rx >= interval:
            self._ping_sent = now
            self._send(OP_PING, b"presencectl")

    def _control(self, opcode: int, payload: bytes) -> None:
        if opcode == OP_PING:
            self._send(OP_PONG, payload)
        elif opcode == OP_CLOSE:
            code, reason = parse_close(payload)
            self._fail(code if code not in (1005, 1006, 1015) else 1000)
            raise ConnectionLost(
                self.endpoint, describe_close(code, reason), clean=code in (1000, 1005),
                finished=says_finished(code, reason),
            )
        # OP_PONG: receiving it already counted as a sign of life.

    def _send(self, opcode: int, payload: bytes) -> None:
        ws = self._ws
        if ws is None:
            return
        try:
            ws.send(payload, opcode)
        except Exception as exc:  # noqa: BLE001 - websocket-client raises its own or OSError
            self._drop()
            raise ConnectionLost(self.endpoint, f"sending failed: {_os_cause(exc)}") from None

    def _fail(self, code: int) -> None:
        """Send a close frame (best effort) and drop the socket."""
        ws = self._ws
        if ws is not None:
            try:
                if self._sock is not None:
                    self._sock.settimeout(1.0)
                ws.send(code.to_bytes(2, "big"), OP_CLOSE)
            except Exception:  # noqa: BLE001 - the connection is going away anyway
                pass
        self._drop()

    def _drop(self) -> None:
        ws, self._ws, self._sock = self._ws, None, None
        if ws is not None:
            ws.shutdown()

    def close(self) -> None:
        """Say goodbye (a close frame, not waiting for the answer) and drop the socket."""
        if self._ws is not None:
            self._fail(1000)

    def pending(self) -> bool:
        """True when a whole message is already buffered; see :meth:`Source.pending`."""
        return self._parser.ready()

    def done(self, frame: Frame, problem: str | None) -> None:
        """Nothing to acknowledge on a WebSocket."""


def _os_cause(exc: BaseException) -> str:
    if isinstance(exc, ConnectionResetError):
        return "connection reset by peer"
    if isinstance(exc, BrokenPipeError):
        return "connection closed by peer (broken pipe)"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:]
    return str(exc) or type(exc).__name__


def _explain_connect_error(exc: BaseException, source: WsSource, websocket) -> tuple[str | None, bool]:  # type: ignore[no-untyped-def]
    """(cause, fatal) for a failed connect; cause None for errors we do not know."""
    host = f"{source.url.host}:{source.url.port}"
    timeout = source.options.connect_timeout
    if isinstance(exc, websocket.WebSocketBadStatusException):
        status = exc.status_code
        text = f"HTTP {status} {exc.status_message or ''}".strip()
        if status in (401, 403):
            return f"{text} on the WebSocket upgrade (check the credentials in -H or the URL)", True
        if status == 404:
            return f"{text} on the WebSocket upgrade (no WebSocket endpoint at this path)", True
        return f"{text} on the WebSocket upgrade", status < 500
    if isinstance(exc, websocket.WebSocketAddressException):
        inner = exc.args[0] if exc.args else exc
        reason = inner.strerror if isinstance(inner, OSError) and inner.strerror else str(inner)
        return f"DNS lookup of {source.url.host!r} failed ({reason})", False
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = exc.verify_message or exc.reason or str(exc)
        return (
            f"TLS certificate verification failed ({reason}); "
            "trust the server's CA with --cacert FILE, or skip the check with --insecure",
            True,
        )
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake failed ({exc.reason or exc})", False
    if isinstance(exc, websocket.WebSocketProxyException):
        return f"HTTP proxy failed: {exc}", False
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the server running?)", False
    if isinstance(exc, TimeoutError | websocket.WebSocketTimeoutException):
        return f"timed out after {timeout:g} s connecting to {host} (host unreachable or not answering)", False
    if isinstance(exc, OSError) and exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return f"{host} is unreachable ({_os_cause(exc)})", False
    if isinstance(exc, OSError):
        return f"cannot connect to {host}: {_os_cause(exc)}", False
    if isinstance(exc, websocket.WebSocketConnectionClosedException):
        hint = ""
        if source.url.secure and not source.options.client_cert:
            hint = " (if it wants a TLS client certificate, give it with --cert/--key)"
        return f"the server closed the connection during the WebSocket upgrade{hint}", False
    if isinstance(exc, websocket.WebSocketException):
        message = str(exc)
        if "Invalid WebSocket Header" in message:
            if source.options.subprotocols:
                return (
                    "the server refused the WebSocket upgrade or none of the subprotocols "
                    f"{', '.join(source.options.subprotocols)}",
                    True,
                )
            return "the server's answer is not a valid WebSocket upgrade", True
        return f"WebSocket handshake failed: {message}", False
    return None, False
