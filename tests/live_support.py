"""Loopback servers and helpers for the live-source tests (``tail``/``record``).

- :class:`WsServer`: a ``websockets`` server in a thread; scenarios are async
  handlers (:func:`span_scenario`, :class:`NavixyScenario`).
- :class:`SilentWsServer`: completes the WebSocket handshake, then never says
  a word again (keep-alive pings go unanswered).
- :class:`ConnectProxy`: an HTTP CONNECT proxy that records where it tunnelled.
- :func:`make_cert`: a self-signed certificate for 127.0.0.1/localhost.
- :class:`Cli`: the real CLI as a subprocess, with its stderr watched line by line.
- :func:`post`: one HTTP POST with urllib, the status and body back.

All servers bind 127.0.0.1 on a port the OS picks.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from pathlib import Path
from typing import Any

from tests.conftest import ROOT, cli_env, fixture

SPAN_LINES = [
    line for line in fixture("samples/span-activity.ndjson").read_text().splitlines() if line.strip()
]
SPAN_KEEPALIVE = fixture("samples/span-keepalive.json").read_text().strip()
NAVIXY_SUBSCRIBE = json.loads(fixture("samples/navixy-subscribe.json").read_text())
TOKEN = "s3cret-token"

#: What :func:`span_scenario` sends, in order: (payload, is_text).
SPAN_FRAMES: list[tuple[str | bytes, bool]] = [
    (SPAN_LINES[0], True),
    (SPAN_KEEPALIVE, True),
    (SPAN_LINES[1], True),
    ('{"deviceId": "17kl14hm46h4c2", "event": broken', True),  # malformed
    (b"\x00\x01\x02\xffbinary\x80", False),  # a binary frame
    (SPAN_LINES[2] + "\n" + SPAN_LINES[0], True),  # two payloads in one frame
    ('{"event":"upstreamMessage","collectionId":"c1","deviceId":"big","id":18446744073709551615,"n":9007199254740993}', True),
    ('{\n  "event": "firmwareCheck",\n  "collectionId": "c1",\n  "deviceId": "pretty"\n}', True),  # pretty-printed
    (b'{"event":"bad\xff\xfeutf8","collectionId":"c1","deviceId":"x"}', True),  # invalid UTF-8 in a text frame
    ("\x1b]0;owned\x07[bold]not markup[/bold]", True),  # hostile text
]


class WsServer:
    """A ``websockets`` server on 127.0.0.1 in a background thread.

    Args:
        handler: ``async def handler(ws, server)`` run for every connection.
        token: if set, the upgrade must carry ``X-API-Token: <token>`` (else 401).
        refuse: answer every upgrade with this HTTP status instead.
        ssl_context: serve wss:// with this context.
        subprotocols: accepted subprotocols.

    ``connections`` counts accepted connections; ``received`` holds, per
    connection, the messages the client sent; ``headers`` the request headers.
    A handler that fails (an assertion included) fails the test: the error is
    kept in ``errors`` and raised when the ``with`` block ends; only the client
    going away (``ConnectionClosed``) is not an error.
    """

    def __init__(
        self,
        handler: Callable[[Any, WsServer], Awaitable[None]],
        *,
        token: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        subprotocols: list[str] | None = None,
        path: str = "/events",
        refuse: HTTPStatus | None = None,
    ) -> None:
        self.handler = handler
        self.refuse = refuse
        self.token = token
        self.ssl_context = ssl_context
        self.subprotocols = subprotocols
        self.path = path
        self.port = 0
        self.connections = 0
        self.received: list[list[str | bytes]] = []
        self.headers: list[dict[str, str]] = []
        self.done = threading.Event()
        #: Exceptions the handler raised (other than the client going away); re-raised on exit.
        self.errors: list[BaseException] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Future[None] | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._ready = threading.Event()

    @property
    def url(self) -> str:
        scheme = "wss" if self.ssl_context else "ws"
        return f"{scheme}://127.0.0.1:{self.port}{self.path}"

    def __enter__(self) -> WsServer:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the test WebSocket server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(lambda: self._stop.done() or self._stop.set_result(None))  # type: ignore[union-attr]
        self._thread.join(10)
        if self.errors and exc[0] is None:
            raise AssertionError(f"the test server's handler failed: {self.errors!r}") from self.errors[0]

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        from websockets.asyncio.server import serve

        self._loop = asyncio.get_running_loop()
        self._stop = self._loop.create_future()

        def check(connection: Any, request: Any) -> Any:
            self.headers.append(dict(request.headers.raw_items()))
            if self.refuse is not None:
                return connection.respond(self.refuse, f"{self.refuse.phrase}\n")
            if self.token is not None and request.headers.get("X-API-Token") != self.token:
                return connection.respond(HTTPStatus.UNAUTHORIZED, "missing or wrong X-API-Token\n")
            return None

        from websockets.exceptions import ConnectionClosed

        async def wrapped(ws: Any) -> None:
            self.connections += 1
            self.received.append([])
            try:
                await self.handler(ws, self)
            except ConnectionClosed:
                pass  # the client went away: the test judges what it got
            except Exception as exc:  # noqa: BLE001 - re-raised by __exit__
                self.errors.append(exc)

        async with serve(
            wrapped,
            "127.0.0.1",
            0,
            process_request=check,
            ssl=self.ssl_context,
            subprotocols=self.subprotocols,
            compression=None,
            ping_interval=None,
        ) as server:
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()
            await self._stop


async def recv_into(ws: Any, server: WsServer, timeout: float) -> str | bytes:
    """Receive one message from the client and remember it."""
    message = await asyncio.wait_for(ws.recv(), timeout)
    server.received[-1].append(message)
    return message


async def hold(ws: Any, seconds: float) -> None:
    """Keep a connection open up to ``seconds``, ending early when it closes."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(ws.wait_closed(), seconds)


async def delivered(ws: Any, timeout: float = 10.0) -> None:
    """Wait until the peer's TCP stack acknowledged every byte sent so far.

    Before ``ws.transport.abort()``: what the client was sent is then in its
    receive buffer, which a reset does not take away (the client reads it,
    then sees the reset). A condition, not a clock.
    """
    import fcntl
    import struct
    import termios

    sock = ws.transport.get_extra_info("socket")
    deadline = time.monotonic() + timeout

    def unacknowledged() -> int:
        buffered = ws.transport.get_write_buffer_size()
        queued = struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0]
        return buffered + queued

    while unacknowledged():
        if time.monotonic() > deadline:
            raise AssertionError(f"the client did not acknowledge what it was sent within {timeout:g} s")
        await asyncio.sleep(0.005)


async def send_frames(ws: Any, frames: list[tuple[str | bytes, bool]]) -> None:
    for payload, text in frames:
        if isinstance(payload, bytes):
            await ws.send(payload, text=text)
        else:
            await ws.send(payload)


async def span_scenario(ws: Any, server: WsServer) -> None:
    """Span: every kind of frame, then a normal close."""
    await send_frames(ws, SPAN_FRAMES)
    await ws.close(1000, "done")
    server.done.set()


class NavixyScenario:
    """Navixy over Atmosphere: handshake, subscribe required, heart-beats,
    ``len|`` prefixes; the first connection is cut without a close frame
    mid-stream, the second ends with a ``logout`` event.
    """

    UUID = "5a4c9b8e-1f2d-4e3a-9b7c-0d1e2f3a4b5c"
    FIRST = [
        '{"type":"response","action":"subscription/subscribe","data":{"state":{"10284":"normal","123456":"blocked"}}}',
        '{"type":"event","event":"state","data":{"source_id":10284,"connection_status":"active","gps":{"location":{"lat":59.9,"lng":10.7}}}}',
    ]
    SECOND = [
        '{"type":"event","event":"lifecycle","data":{"source_id":123456,"lifecycle_event":"unblock"}}',
        '{"type":"event","event":"state","data":{"source_id":10284,"connection_status":"offline","id":9223372036854775807}}',
    ]
    LOGOUT = '{"type":"event","event":"logout","data":{"reason":"session expired"}}'

    def __init__(self) -> None:
        self.subscribes: list[Any] = []

    async def __call__(self, ws: Any, server: WsServer) -> None:
        number = server.connections
        await ws.send(f"{self.UUID}|30000|X|")
        try:
            message = await recv_into(ws, server, 10)
        except TimeoutError:
            await ws.close(1008, "subscribe first")
            return
        try:
            request = json.loads(message)
        except ValueError:
            request = None
        self.subscribes.append(request)
        if request != NAVIXY_SUBSCRIBE:
            await ws.send('{"type":"error","status":{"code":3,"description":"Wrong request"}}')
            await ws.close(1008, "bad subscribe")
            return
        if number == 1:
            await ws.send(self.FIRST[0])
            await ws.send("X")
            await ws.send(f"{len(self.FIRST[1])}|{self.FIRST[1]}")
            await delivered(ws)
            ws.transport.abort()  # mid-stream, no close frame
            return
        await ws.send(f"{len(self.SECOND[0])}|{self.SECOND[0]}{len(self.SECOND[1])}|{self.SECOND[1]}")
        await ws.send("X")
        await ws.send(self.LOGOUT)
        server.done.set()
        await hold(ws, 10)  # the client ends the session, not us


def stream_scenario(count: int, gap: float = 0.0) -> Callable[[Any, WsServer], Awaitable[None]]:
    """Send ``count`` Span frames (``gap`` seconds apart), then stay open."""

    async def handler(ws: Any, server: WsServer) -> None:
        for i in range(count):
            await ws.send(SPAN_LINES[i % len(SPAN_LINES)])
            if gap:
                await asyncio.sleep(gap)
        server.done.set()
        await hold(ws, 30)

    return handler


class SilentWsServer:
    """Accepts one WebSocket handshake per connection, then says nothing, ever."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen()
        self.port = self._sock.getsockname()[1]
        self.url = f"ws://127.0.0.1:{self.port}/quiet"
        self._clients: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> SilentWsServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._sock.close()
        for client in self._clients:
            client.close()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            self._clients.append(client)
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = client.recv(4096)
                if not chunk:
                    break
                request += chunk
            key = b""
            for line in request.split(b"\r\n"):
                if line.lower().startswith(b"sec-websocket-key:"):
                    key = line.split(b":", 1)[1].strip()
            accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
            client.sendall(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
            )


class ConnectProxy:
    """A minimal HTTP CONNECT proxy on 127.0.0.1; ``targets`` lists what it tunnelled to."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen()
        self.port = self._sock.getsockname()[1]
        self.targets: list[str] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> ConnectProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._sock.close()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _tunnel(self, client: socket.socket) -> None:
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = client.recv(1)
            if not chunk:
                client.close()
                return
            request += chunk
        first = request.split(b"\r\n", 1)[0].decode()
        method, target, _ = first.split(" ", 2)
        if method != "CONNECT":
            client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
            client.close()
            return
        self.targets.append(target)
        host, port = target.rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)))
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")

        def pump(src: socket.socket, dst: socket.socket) -> None:
            try:
                while data := src.recv(65536):
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                with contextlib.suppress(OSError):
                    dst.shutdown(socket.SHUT_WR)

        threading.Thread(target=pump, args=(upstream, client), daemon=True).start()
        pump(client, upstream)


def make_cert(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate and key for 127.0.0.1 and localhost (PEM files)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "presencectl test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "server.pem"
    key_path = directory / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def server_tls(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


def no_proxy_env(**extra: str) -> dict[str, str]:
    """The CLI environment without proxy variables (loopback must be direct)."""
    env = cli_env(**extra)
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"):
        env.pop(name, None)
    env.update(extra)
    return env


class Cli:
    """``python -m presencectl ARGS`` as a running subprocess, stderr watched.

    Use as a context manager; :meth:`wait_stderr` blocks until a line
    containing some text appeared; :meth:`finish` waits for the exit.
    """

    def __init__(self, *args: str, env: dict[str, str] | None = None, stdin: Any = subprocess.DEVNULL) -> None:
        self.args = args
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "presencectl", *args],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env or no_proxy_env(),
            cwd=ROOT,
        )
        self.stderr_lines: list[str] = []
        self._out = bytearray()
        self.stdout_lines = 0
        self._changed = threading.Condition()
        self._err_thread = threading.Thread(target=self._read_stderr, daemon=True)
        self._out_thread = threading.Thread(target=self._read_stdout, daemon=True)
        self._err_thread.start()
        self._out_thread.start()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            with self._changed:
                self.stderr_lines.append(raw.decode("utf-8", "replace"))
                self._changed.notify_all()

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for chunk in iter(lambda: self.proc.stdout.read1(65536), b""):  # type: ignore[union-attr]
            with self._changed:
                self._out += chunk  # (appended, not re-joined: a long stream stays linear)
                self.stdout_lines += chunk.count(b"\n")
                self._changed.notify_all()

    @property
    def stdout(self) -> bytes:
        """What the CLI wrote to stdout so far (all of it after :meth:`finish`)."""
        with self._changed:
            return bytes(self._out)

    @property
    def stderr(self) -> str:
        return "".join(self.stderr_lines)

    def wait_stderr(self, text: str, timeout: float = 20) -> None:
        """Block until stderr holds ``text``; fail with what it holds otherwise."""
        self._wait(lambda: text in self.stderr, timeout, f"stderr to contain {text!r}")

    def wait_stdout_lines(self, count: int, timeout: float = 20) -> None:
        self._wait(lambda: self.stdout_lines >= count, timeout, f"{count} stdout lines")

    def _wait(self, check: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not check():
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not check()):
                    self._changed.wait(0.2)
                    if check():
                        return
                    raise AssertionError(
                        f"waited for {what}; exit={self.proc.poll()} stderr={self.stderr!r} stdout={bytes(self._out[-2000:])!r}"
                    )
                self._changed.wait(min(left, 0.2))

    def interrupt(self) -> None:
        self.proc.send_signal(signal.SIGINT)

    def finish(self, timeout: float = 30) -> int:
        """Wait for the exit; returns the status (stdout/stderr fully read)."""
        try:
            status = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"the CLI did not exit; stderr={self.stderr!r}") from None
        # The readers end at EOF, which the exit brings; a reader still running
        # after that would leave stdout/stderr cut short, so say so (never a
        # silently shorter output that looks like lost lines).
        for name, thread in (("stderr", self._err_thread), ("stdout", self._out_thread)):
            thread.join(60)
            if thread.is_alive():
                raise AssertionError(f"the CLI exited but its {name} did not end within 60 s (a child holds it?)")
        return status

    def __enter__(self) -> Cli:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def post(
    url: str,
    body: bytes,
    *,
    headers: dict[str, str] | None = None,
    auth: tuple[str, str] | None = None,
) -> tuple[int, str]:
    """POST ``body`` with urllib; (status, answer text), 4xx/5xx included."""
    request = urllib.request.Request(url, data=body, method="POST", headers=headers or {})
    request.add_header("Content-Type", "application/json")
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=15) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


def capture_lines(path: Path) -> list[dict[str, Any]]:
    """The records of a capture file (gz too), header first."""
    import gzip

    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return [json.loads(line) for line in data.splitlines() if line.strip()]


def frames_so_far(path: Path) -> int:
    """Frame records in a capture being written (gz too: read up to the last flush).

    For waiting until a running ``record`` wrote something; 0 while the file
    does not exist yet.
    """
    import zlib

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return 0
    if data[:2] == b"\x1f\x8b":
        data = zlib.decompressobj(wbits=31).decompress(data)
    lines = data.split(b"\n")[1:-1]  # after the header; the last piece may be half a line
    return sum(1 for line in lines if line.strip() and ("text" in json.loads(line) or "b64" in json.loads(line)))


def frames_of(records: list[dict[str, Any]]) -> list[str | bytes]:
    """Payloads of a capture's frame records, bytes for ``b64`` ones."""
    out: list[str | bytes] = []
    for record in records[1:]:
        if "text" in record:
            out.append(record["text"])
        elif "b64" in record:
            out.append(base64.b64decode(record["b64"]))
    return out


def marks_of(records: list[dict[str, Any]]) -> list[str]:
    return [r["mark"] for r in records[1:] if "mark" in r]
