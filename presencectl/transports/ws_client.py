"""WebSocket client source: websocket-client for the handshake, a lean frame reader after it.

websocket-client opens the connection (TCP, HTTP proxy from ``http_proxy`` /
``https_proxy`` / ``no_proxy``, TLS, the upgrade with headers and
subprotocols). After that the socket is ours: what arrives is read in large
``recv()`` calls and parsed by the sans-I/O
:class:`~presencectl.core.protocols.websocket.FrameParser`, every text
message of a read in one pass (websocket-client's own reader makes two or
three system calls per frame and validates UTF-8 in pure Python); what we send
is framed and masked by :func:`~presencectl.core.protocols.websocket.build_frame`.
Text is decoded with the C codec; a text frame that is not valid UTF-8 is
handed on as bytes, so it is recorded byte for byte and shown as unparsed
instead of killing the connection. Every message of one read carries that
read's time as its receive time.

Example::

    source = WsSource(WsOptions("wss://example.com/events", headers=["X-API-Token: t"]))
    source.connect()
    frame = source.receive(5.0)
"""

from __future__ import annotations

import base64
import errno
import os
import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlunsplit

from presencectl.core.capture import redact_url
from presencectl.core.events import Frame
from presencectl.core.protocols.websocket import (
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    FrameParser,
    ProtocolError,
    build_frame,
    describe_close,
    parse_close,
    says_finished,
)
from presencectl.errors import UsageError
from presencectl.transports.base import (
    CannotConnect,
    ConnectionLost,
    client_certificate_hint,
    os_cause,
    tls_refusal_hint,
    tls_verify_failed,
)
from presencectl.transports.urls import split_url

__all__ = ["WsOptions", "WsSource", "parse_header", "parse_ws_url", "make_ssl_context"]

_RECV_SIZE = 1 << 16
_wall = time.time


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
        self._ready: list[Frame] = []  # parsed, not yet returned; the next one last
        self._rx_time = 0.0  # when the last read returned (wall clock)
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
            cause, fatal = explain_connect_error(
                exc, self.url, timeout=self.options.connect_timeout,
                client_cert=bool(self.options.client_cert), subprotocols=self.options.subprotocols or (),
            )
            if cause is None:
                raise
            ws.shutdown()
            raise CannotConnect(self.endpoint, cause, fatal=fatal) from None
        self._ws = ws
        self._sock = ws.sock
        self._parser = FrameParser()
        self._ready = []
        self._timeout = False
        self._rx_time = _wall()
        self._last_rx = time.monotonic()
        self._ping_sent = None
        try:
            for message in opts.sends:
                if isinstance(message, bytes):
                    self._write(OP_BINARY, message)
                else:
                    self._write(OP_TEXT, message.encode("utf-8", "surrogatepass"))
        except OSError as exc:
            self.close()
            raise CannotConnect(self.endpoint, f"connected, but sending failed: {os_cause(exc)}") from None
        detail = f"HTTP {ws.status}"
        if ws.subprotocol:
            detail += f", subprotocol {ws.subprotocol}"
        if opts.sends:
            detail += f", sent {len(opts.sends)} message{'s' if len(opts.sends) != 1 else ''}"
        return detail

    def receive(self, timeout: float | None) -> Frame | None:
        """The next text or binary message; see :meth:`Source.receive`."""
        # The hot path, once per frame of a busy stream: the messages of the
        # last read are already parsed and decoded, in reverse order.
        ready = self._ready
        if ready:
            return ready.pop()
        return self._receive(timeout)

    def take_ready(self) -> list[Frame]:
        """Every frame already read, parsed and decoded, in order; see :meth:`Source.take_ready`."""
        ready = self._ready
        if not ready:
            return ready
        self._ready = []
        ready.reverse()
        return ready

    def _receive(self, timeout: float | None) -> Frame | None:
        parser = self._parser
        deadline = None if timeout is None else time.monotonic() + timeout
        read = False
        while True:
            try:
                texts = parser.texts()
                message = None if texts else parser.next()
            except ProtocolError as exc:
                self._fail(1002)
                raise ConnectionLost(self.endpoint, f"protocol error: {exc}") from None
            if texts:
                t = self._rx_time
                try:
                    ready = [Frame(payload.decode("utf-8"), t) for payload in texts]
                except UnicodeDecodeError:
                    ready = [_text_frame(payload, t) for payload in texts]
                ready.reverse()
                self._ready = ready
                return ready.pop()
            if message is not None:
                opcode, payload = message
                if opcode == OP_TEXT:
                    return _text_frame(payload, self._rx_time)
                if opcode == OP_BINARY:
                    return Frame(payload, self._rx_time)
                self._control(opcode, payload)
            else:
                if read and deadline is not None and time.monotonic() >= deadline:
                    return None  # a message cut in two stays in the parser for the next call
                self._read(deadline)
                read = True

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
            raise ConnectionLost(self.endpoint, os_cause(exc)) from None
        if not data:
            self._drop()
            raise ConnectionLost(self.endpoint, "the server closed the connection without a close frame")
        self._rx_time = _wall()
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
        try:
            self._write(opcode, payload)
        except OSError as exc:
            self._drop()
            raise ConnectionLost(self.endpoint, f"sending failed: {os_cause(exc)}") from None

    def _write(self, opcode: int, payload: bytes) -> None:
        """Send one masked frame (a client masks every frame, RFC 6455 §5.3)."""
        sock = self._sock
        if sock is not None:
            sock.sendall(build_frame(opcode, payload, os.urandom(4)))

    def _fail(self, code: int) -> None:
        """Send a close frame (best effort) and drop the socket."""
        ws = self._ws
        if ws is not None:
            try:
                if self._sock is not None:
                    self._sock.settimeout(1.0)
                self._write(OP_CLOSE, code.to_bytes(2, "big"))
            except OSError:  # the connection is going away anyway
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
        return bool(self._ready) or self._parser.ready()

    def done(self, frame: Frame, problem: str | None) -> None:
        """Nothing to acknowledge on a WebSocket."""


def _text_frame(payload: bytes, t: float) -> Frame:
    try:
        return Frame(payload.decode("utf-8"), t)
    except UnicodeDecodeError:
        return Frame(payload, t)  # kept byte-exact, shown as unparsed


def explain_connect_error(
    exc: BaseException, url: WsUrl, *, timeout: float, client_cert: bool = False, subprotocols: Sequence[str] = ()
) -> tuple[str | None, bool]:
    """(cause, fatal) for a failed WebSocket connect (``tail`` and ``replay --to``
    alike); cause None for errors we do not know. ``client_cert``: one was given."""
    import websocket

    host = f"{url.host}:{url.port}"
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
        return f"DNS lookup of {url.host!r} failed ({reason})", False
    if isinstance(exc, ssl.SSLCertVerificationError):
        return tls_verify_failed(exc, "server"), True
    if isinstance(exc, ssl.SSLError):
        hint = tls_refusal_hint(exc, client_cert)
        return f"TLS handshake failed ({exc.reason or 'the server closed the connection'}){hint}", False
    if isinstance(exc, websocket.WebSocketProxyException):
        return f"HTTP proxy failed: {exc}", False
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the server running?)", False
    if isinstance(exc, TimeoutError | websocket.WebSocketTimeoutException):
        return f"timed out after {timeout:g} s connecting to {host} (host unreachable or not answering)", False
    if isinstance(exc, OSError) and exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return f"{host} is unreachable ({os_cause(exc)})", False
    if isinstance(exc, OSError):
        return f"cannot connect to {host}: {os_cause(exc)}", False
    if isinstance(exc, websocket.WebSocketConnectionClosedException):
        hint = client_certificate_hint(client_cert) if url.secure else ""
        return f"the server closed the connection during the WebSocket upgrade{hint}", False
    if isinstance(exc, websocket.WebSocketException):
        message = str(exc)
        if "Invalid WebSocket Header" in message:
            if subprotocols:
                return (
                    "the server refused the WebSocket upgrade or none of the subprotocols "
                    f"{', '.join(subprotocols)}",
                    True,
                )
            return "the server's answer is not a valid WebSocket upgrade", True
        return f"WebSocket handshake failed: {message}", False
    return None, False
