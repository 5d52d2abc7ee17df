"""Webhook receiver source: an HTTP/1.1 server that turns each POST body into one frame.

Vendors such as Munic CloudConnect push events by POSTing JSON (an object, an
array of envelopes, or NDJSON) to a URL you give them. ``WebhookSource``
listens on ``http://HOST:PORT/path`` (127.0.0.1 unless told otherwise).

The server runs inside :meth:`WebhookSource.receive`, single-threaded on a
``selectors`` loop: it accepts connections, reads requests with
:class:`~presencectl.core.protocols.http.RequestReader` (a small sans-I/O
HTTP/1.1 parser), and returns each
POST body as one :class:`~presencectl.core.events.Frame` (topic: the request
path). The answer goes out when the session calls :meth:`WebhookSource.done`,
after the frame is recorded: a 200 means "it is on disk". 400 carries the
reason a body could not be read (it is recorded all the same), 413 refuses a
body over ``max_body`` before reading it, 401 asks for ``--basic-auth``
credentials. No threads: nothing to hand over between them per request (the
standard library's threaded server spent more CPU on that than on HTTP),
keep-alive clients and slow clients are served side by side, and Ctrl-C
leaves nothing behind.

Example::

    source = WebhookSource(WebhookOptions("http://127.0.0.1:8088/munic"))
    source.connect()                  # binds; CannotConnect if the port is taken
    frame = source.receive(1.0)       # one POST body
    source.done(frame, None)          # the client gets its 200
"""

from __future__ import annotations

import base64
import errno
import hmac
import selectors
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from presencectl.core.capture import redact_url
from presencectl.core.events import Frame
from presencectl.core.protocols.http import HttpError, RequestHead, RequestReader, response
from presencectl.core.sizes import parse_size
from presencectl.errors import UsageError
from presencectl.transports.base import CannotConnect

__all__ = [
    "WebhookOptions",
    "WebhookSource",
    "parse_listen_url",
    "parse_size",
    "DEFAULT_MAX_BODY",
]

DEFAULT_MAX_BODY = 16 * 1024 * 1024
#: Open connections at most. A new one beyond this takes the place of the
#: longest-idle connection, or gets 503 with Retry-After when none is idle.
MAX_CONNECTIONS = 256
#: Refused connections (503) drained at once beyond MAX_CONNECTIONS; more are closed.
OVERFLOW = 64
#: A keep-alive connection idle this long is closed...
IDLE_TIMEOUT = 300.0
#: ... or this long once more than half the connections are taken.
BUSY_IDLE_TIMEOUT = 5.0
#: A request's head must be complete this long after its first byte (or after
#: the connection opened); a body must not stall longer than this between
#: reads. Slow clients get 408 and are closed: they cannot hold a slot.
READ_TIMEOUT = 5.0
#: Retry-After (seconds) of a 503 at capacity.
RETRY_AFTER = 1
#: After refusing a request whose body we will not read, keep draining the
#: connection this long before closing, so the client sees our answer rather
#: than a reset.
LINGER = 2.0


@dataclass(slots=True)
class ListenUrl:
    """Where to listen: ``http://HOST:PORT/path``."""

    host: str
    port: int
    path: str


def parse_listen_url(url: str) -> ListenUrl:
    """Take ``http://HOST:PORT[/path]`` apart; the host defaults to 127.0.0.1.

    >>> parse_listen_url("http://:8088/munic")
    ListenUrl(host='127.0.0.1', port=8088, path='/munic')

    Raises:
        UsageError: not http://, no port, or a bad port.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"bad --listen URL {url!r}: {exc}") from None
    if parts.scheme.lower() == "https":
        raise UsageError(
            f"bad --listen URL {url!r}: the receiver speaks plain http://; "
            "put a TLS proxy in front of it for https"
        )
    if parts.scheme.lower() != "http":
        raise UsageError(f"bad --listen URL {url!r}: expected http://HOST:PORT/path")
    if port is None:
        raise UsageError(f"bad --listen URL {url!r}: give the port to listen on (http://HOST:PORT/path)")
    if parts.username is not None:
        raise UsageError(f"bad --listen URL {redact_url(url)!r}: use --basic-auth USER:PASS for credentials")
    path = parts.path.rstrip("/") or "/"
    return ListenUrl(parts.hostname or "127.0.0.1", port, path)


@dataclass(slots=True)
class WebhookOptions:
    """How to listen.

    Args:
        url: ``http://HOST:PORT/path``; POSTs to the path (or below it) are taken.
        max_body: larger bodies are refused with 413.
        basic_auth: ``(user, password)`` every request must carry, or None.
        warn: called with a line about each refused request.
    """

    url: str
    max_body: int = DEFAULT_MAX_BODY
    basic_auth: tuple[str, str] | None = None
    warn: Callable[[str], None] | None = None


_OK = response(200, "ok")
_OK_CLOSE = response(200, "ok", close=True)
_BUSY = response(
    503, "too many connections; retry shortly", close=True, headers={"Retry-After": str(RETRY_AFTER)}
)


class _Conn:
    """One client connection's state."""

    __slots__ = (
        "sock", "peer", "reader", "out", "busy", "head", "close_after", "lingering", "last", "writing", "started"
    )

    def __init__(self, sock: socket.socket, peer: str, now: float) -> None:
        self.sock = sock
        self.peer = peer
        self.reader = RequestReader()
        self.out = b""
        self.busy = False  # a frame from it awaits done()
        self.head: RequestHead | None = None  # accepted head whose body is being read
        self.close_after = False
        self.lingering = 0.0  # > 0: draining until then before closing
        self.last = now
        self.writing = False  # registered for EVENT_WRITE
        #: When the request being read began (the connection opening counts);
        #: None between keep-alive requests.
        self.started: float | None = now

    @property
    def idle(self) -> bool:
        """Between requests (or not started one), nothing owed either way: safe to close."""
        return (
            not self.busy
            and self.head is None
            and not self.out
            and not self.lingering
            and not self.reader.buffered()
        )


class WebhookSource:
    """An HTTP webhook receiver as a :class:`~presencectl.transports.base.Source`."""

    transport = "webhook"
    markers = False
    confirms = True  # done() answers the POST: the body must be on disk first

    def __init__(self, options: WebhookOptions) -> None:
        self.options = options
        self.url = parse_listen_url(options.url)
        self.endpoint = f"http://{_host_text(self.url.host)}:{self.url.port}{self.url.path}"
        self._listener: socket.socket | None = None
        self._selector: selectors.BaseSelector | None = None
        self._conns: dict[int, _Conn] = {}
        self._ready: deque[tuple[_Conn, Frame, bool]] = deque()
        self._current: tuple[_Conn, bool] | None = None
        self._next_sweep = 0.0
        user_pass = options.basic_auth
        self._expected_auth = (
            base64.b64encode(f"{user_pass[0]}:{user_pass[1]}".encode())
            if user_pass is not None
            else None
        )

    @property
    def port(self) -> int:
        """The port listened on (the real one when the URL said 0)."""
        return self._listener.getsockname()[1] if self._listener is not None else self.url.port

    def connect(self) -> str:
        """Bind and listen; see :meth:`Source.connect`."""
        if self._listener is not None:
            return "listening for POSTs"
        where = f"{_host_text(self.url.host)}:{self.url.port}"
        try:
            infos = socket.getaddrinfo(self.url.host, self.url.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        except socket.gaierror as exc:
            raise CannotConnect(self.endpoint, f"cannot listen on {where}: DNS lookup failed ({exc.strerror})", fatal=True) from None
        family, _, _, _, address = infos[0]
        listener = socket.socket(family, socket.SOCK_STREAM)
        try:
            # Lets a restarted receiver reuse the port its last connections
            # left in TIME_WAIT; binding a port another program listens on
            # still fails on Linux and macOS.
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(address)
            listener.listen(128)
        except OSError as exc:
            listener.close()
            if exc.errno == errno.EADDRINUSE:
                cause = f"cannot listen on {where}: the port is already in use"
            elif exc.errno == errno.EACCES:
                cause = f"cannot listen on {where}: permission denied (ports below 1024 need privileges)"
            elif exc.errno == errno.EADDRNOTAVAIL:
                cause = f"cannot listen on {where}: this machine has no such address"
            else:
                cause = f"cannot listen on {where}: {exc.strerror or exc}"
            raise CannotConnect(self.endpoint, cause, fatal=True) from None
        listener.setblocking(False)
        self._listener = listener
        self._selector = selectors.DefaultSelector()
        self._selector.register(listener, selectors.EVENT_READ, None)
        self.endpoint = f"http://{_host_text(self.url.host)}:{self.port}{self.url.path}"
        return "listening for POSTs"

    # The Source protocol.

    def receive(self, timeout: float | None) -> Frame | None:
        """Serve HTTP until a POST body is complete; see :meth:`Source.receive`."""
        if self._current is not None:
            self._answer(200, None)  # the session did not call done(): it was recorded
        deadline = None if timeout is None else time.monotonic() + timeout
        selector = self._selector
        if selector is None:
            raise RuntimeError("receive() before connect()")
        while True:
            if self._ready:
                conn, frame, keep = self._ready.popleft()
                self._current = (conn, keep)
                return frame
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            now = time.monotonic()
            if self._conns:
                wait = READ_TIMEOUT if wait is None else wait
                wait = min(wait, max(0.0, self._next_sweep - now)) if self._next_sweep else wait
            for key, mask in selector.select(wait):
                if key.data is None:
                    self._accept()
                else:
                    conn = key.data
                    if mask & selectors.EVENT_WRITE:
                        self._flush(conn)
                    if mask & selectors.EVENT_READ and conn.sock.fileno() >= 0:
                        self._read(conn)
            now = time.monotonic()
            if now >= self._next_sweep:
                self._sweep(now)
            if not self._ready and deadline is not None and now >= deadline:
                return None

    def pending(self) -> bool:
        """Another body is complete already; see :meth:`Source.pending`."""
        return bool(self._ready)

    def done(self, frame: Frame, problem: str | None) -> None:
        """Answer the POST that carried ``frame``: 200, or 400 with ``problem``."""
        self._answer(400 if problem else 200, problem)

    def close(self) -> None:
        """Stop listening; bodies taken but not confirmed get 503."""
        if self._current is not None:
            self._answer(503, "the receiver stopped before recording this body")
        while self._ready:
            conn, _, _ = self._ready.popleft()
            self._send(conn, response(503, "the receiver stopped before recording this body", close=True))
        for conn in list(self._conns.values()):
            self._drop(conn)
        if self._selector is not None:
            self._selector.close()
            self._selector = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    # Connections.

    def _accept(self) -> None:
        assert self._listener is not None and self._selector is not None
        for _ in range(64):
            try:
                sock, address = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return  # out of descriptors, aborted handshake: try again later
            now = time.monotonic()
            full = len(self._conns) >= MAX_CONNECTIONS and not self._evict_idle()
            if full and len(self._conns) >= MAX_CONNECTIONS + OVERFLOW:
                sock.close()  # flooded even past the overflow: nothing more to spend
                continue
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Conn(sock, str(address[0]), now)
            self._conns[sock.fileno()] = conn
            self._selector.register(sock, selectors.EVENT_READ, conn)
            if full:
                self._warn(f"from {conn.peer}: 503 at capacity ({MAX_CONNECTIONS} connections busy)")
                conn.close_after = True
                self._send(conn, _BUSY)
            else:
                self._next_sweep = min(self._next_sweep or now + READ_TIMEOUT, now + READ_TIMEOUT)

    def _evict_idle(self) -> bool:
        """Close the longest-idle connection to make room; False when none is idle."""
        oldest: _Conn | None = None
        for conn in self._conns.values():
            if conn.idle and (oldest is None or conn.last < oldest.last):
                oldest = conn
        if oldest is None:
            return False
        self._drop(oldest)
        return True

    def _read(self, conn: _Conn) -> None:
        try:
            data = conn.sock.recv(1 << 16)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._drop(conn)
            return
        if not data:
            self._drop(conn)
            return
        conn.last = time.monotonic()
        if conn.lingering:
            return  # draining a refused request: the bytes go nowhere
        if conn.started is None:
            conn.started = conn.last
        conn.reader.feed(data)
        if not conn.busy:
            self._parse(conn)

    def _parse(self, conn: _Conn) -> None:
        """Take complete requests off ``conn``; queue a POST body as a frame."""
        reader = conn.reader
        while not conn.busy and not conn.close_after:
            try:
                if conn.head is None:
                    head = reader.head()
                    if head is None:
                        return
                    self._admit(conn, head)
                    conn.head = head
                    if head.headers.get("expect", "").lower() == "100-continue" and not reader.buffered():
                        self._send(conn, b"HTTP/1.1 100 Continue\r\n\r\n")
                body = reader.body(self.options.max_body)
            except HttpError as exc:
                self._refuse(conn, exc)
                return
            if body is None:
                return
            head, conn.head = conn.head, None
            conn.started = time.monotonic() if reader.buffered() else None
            frame = Frame(_text_or_bytes(body), time.time(), head.path)
            conn.busy = True
            self._ready.append((conn, frame, head.keep_alive))

    def _admit(self, conn: _Conn, head: RequestHead) -> None:
        """Check a request before its body is read.

        Raises:
            HttpError: the answer for a request we do not take.
        """
        keep = not head.has_body and head.keep_alive
        if head.method != "POST":
            raise HttpError(
                405, "this is a webhook receiver: POST JSON here", keep=keep, headers={"Allow": "POST"}
            )
        if not self._accepts(head.path):
            raise HttpError(404, f"not found: this receiver takes POSTs to {self.url.path}", keep=keep)
        if not self._authorized(head.headers.get("authorization")):
            raise HttpError(
                401, "authorization required", keep=keep, headers={"WWW-Authenticate": 'Basic realm="presencectl"'}
            )
        if not head.chunked and head.length is None:
            raise HttpError(411, "Content-Length required")
        limit = self.options.max_body
        if head.length is not None and head.length > limit:
            raise HttpError(
                413, f"body of {head.length} bytes is over the limit of {limit} bytes (--max-body)"
            )

    def _refuse(self, conn: _Conn, error: HttpError) -> None:
        head = conn.reader.current
        what = f"{head.method} {_safe(head.target)} " if head is not None else ""
        self._warn(f"{what}from {conn.peer}: {error.status} {error.text}")
        conn.head = None
        conn.reader.abandon()
        data = response(error.status, error.text, close=not error.keep, headers=error.headers)
        if head is not None and head.method == "HEAD":
            data = data[: data.index(b"\r\n\r\n") + 4]  # the headers only
        if not error.keep:
            conn.close_after = True
        self._send(conn, data)

    def _answer(self, status: int, problem: str | None) -> None:
        current, self._current = self._current, None
        if current is None:
            return
        conn, keep = current
        if conn.sock.fileno() < 0:
            return  # the client went away meanwhile
        conn.busy = False
        if status == 200:
            data = _OK if keep else _OK_CLOSE
        elif status == 400:
            data = response(400, f"recorded, but the body cannot be read: {problem}", close=not keep)
        else:
            data = response(status, problem or "not recorded", close=True)
            keep = False
        if not keep:
            conn.close_after = True
        self._send(conn, data)
        if conn.sock.fileno() >= 0 and not conn.close_after and conn.reader.buffered():
            self._parse(conn)  # a pipelined request is waiting

    def _send(self, conn: _Conn, data: bytes) -> None:
        conn.out += data
        self._flush(conn)

    def _flush(self, conn: _Conn) -> None:
        if conn.out:
            try:
                sent = conn.sock.send(conn.out)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                self._drop(conn)
                return
            conn.out = conn.out[sent:]
        if self._selector is None:
            return
        if bool(conn.out) != conn.writing:  # only when it changes: a system call each
            conn.writing = bool(conn.out)
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if conn.writing else 0)
            self._selector.modify(conn.sock, events, conn)
        if conn.out:
            return
        if conn.close_after and not conn.lingering:
            # Half-close and drain for a moment: closing with unread request
            # bytes would send a reset that can wipe out our answer.
            try:
                conn.sock.shutdown(socket.SHUT_WR)
            except OSError:
                self._drop(conn)
                return
            conn.lingering = time.monotonic() + LINGER
            self._next_sweep = min(self._next_sweep or conn.lingering, conn.lingering)

    def _sweep(self, now: float) -> None:
        """Close lingering connections whose time is up, slow requests and idle keep-alive ones."""
        next_sweep = now + 60.0
        idle_timeout = BUSY_IDLE_TIMEOUT if len(self._conns) > MAX_CONNECTIONS // 2 else IDLE_TIMEOUT
        for conn in list(self._conns.values()):
            if conn.busy:
                continue  # its frame awaits done(): the answer is due
            if conn.close_after and not conn.lingering:
                # The last answer is still being sent: a client that does not
                # read it is given as long as a slow request.
                due = conn.last + 2 * READ_TIMEOUT
                if now >= due:
                    self._drop(conn)
                else:
                    next_sweep = min(next_sweep, due)
                continue
            if conn.lingering:
                due = conn.lingering
            elif conn.head is not None:
                due = conn.last + READ_TIMEOUT  # a stalled body
            elif conn.started is not None:
                due = conn.started + READ_TIMEOUT  # a head that does not come
            else:
                due = conn.last + idle_timeout
            if now < due:
                next_sweep = min(next_sweep, due)
            elif conn.lingering or conn.idle:
                self._drop(conn)
            else:
                self._refuse(conn, HttpError(408, f"request not received within {READ_TIMEOUT:g} s"))
                next_sweep = min(next_sweep, now + LINGER)
        self._next_sweep = next_sweep

    def _drop(self, conn: _Conn) -> None:
        fileno = conn.sock.fileno()
        if fileno < 0:
            return
        self._conns.pop(fileno, None)
        if self._selector is not None:
            try:
                self._selector.unregister(conn.sock)
            except (KeyError, ValueError):
                pass
        conn.sock.close()
        if self._current is not None and self._current[0] is conn:
            self._current = None
        if conn.busy:
            self._ready = deque(item for item in self._ready if item[0] is not conn)

    def _accepts(self, path: str) -> bool:
        base = self.url.path
        return base == "/" or path == base or path.startswith(base + "/")

    def _authorized(self, header: str | None) -> bool:
        expected = self._expected_auth
        if expected is None:
            return True
        if header is None:
            return False
        # RFC 9110 §11.1: the scheme name is case-insensitive ("basic" too).
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "basic":
            return False
        given = token.strip().encode("latin-1", "replace")
        return hmac.compare_digest(given, expected)

    def _warn(self, message: str) -> None:
        if self.options.warn is not None:
            self.options.warn(message)


def _text_or_bytes(body: bytes) -> str | bytes:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body  # recorded byte for byte; the decoder says what is wrong


def _safe(text: str) -> str:
    return text if len(text) <= 100 else text[:100] + "…"


def _host_text(host: str) -> str:
    return f"[{host}]" if ":" in host else host
