"""Helpers for the replay tests: capture builders, the CLI as a server, recording peers.

Everything listens on 127.0.0.1 and is a real peer: the ``websockets``
library's server and client, websocket-client, ``http.server``.
"""

from __future__ import annotations

import http.server
import json
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from presencectl.core.capture import make_header
from presencectl.core.events import Frame, Marker
from presencectl.transports.files import CaptureReader, CaptureWriter
from tests.conftest import ROOT, cli_env

T0 = 1_773_302_400.0

#: Payloads that must survive a replay byte for byte.
AWKWARD = [
    '{"collectionId":"c1","deviceId":"d1","event":"clientConnected","time":"2026-03-12 08:00:01"}',
    '{\n  "type": "connect",\n  "asset": "357322041802978",\n  "connection_id": 123456789012345678901234567890\n}',
    '{"deviceId": "d1", "event": "upstreamMessage", oops}',
    '{"method":"thing.status","params":{"iotId":"损坏率上报 ✓ 🚀","status":{"value":1}}}',
    b"\x00\xff\x10 binary frame \x80",
    '{"event":"upstreamMessage","deviceId":"d1\\u001b","note":"\x1b[2J[bold]x[/bold]","collectionId":"c1"}',
    "",
    '{"big":"' + "x" * 70_000 + '"}',
    '[{"type":"disconnect","asset":"1","connection_id":1},{"type":"connect","asset":"2","connection_id":2}]',
]


def write_capture(
    path: Path, records: Iterable[Frame | Marker], started: float | None = T0, source: str = "ws://127.0.0.1:1/x"
) -> Path:
    """Write a capture file with :class:`CaptureWriter` (the real writer)."""
    writer = CaptureWriter(str(path), make_header(source, "websocket", started))
    try:
        for record in records:
            if isinstance(record, Frame):
                writer.frame(record)
            else:
                writer.marker(record)
    finally:
        writer.close()
    return path


def spaced(payloads: Iterable[str | bytes], gap: float = 0.01, start: float = T0 + 0.01) -> list[Frame]:
    """Frames ``gap`` seconds apart."""
    return [Frame(p, start + i * gap) for i, p in enumerate(payloads)]


def capture_payloads(path: Path) -> list[str | bytes]:
    """The frame payloads of a capture, in file order."""
    reader = CaptureReader(str(path), lambda message: None)
    try:
        return [r.data for r in reader.records() if isinstance(r, Frame)]
    finally:
        reader.close()


def capture_frames(path: Path) -> list[Frame]:
    reader = CaptureReader(str(path), lambda message: None)
    try:
        return [r for r in reader.records() if isinstance(r, Frame)]
    finally:
        reader.close()


# -- the CLI as a long-running process ---------------------------------------


class CliProcess:
    """``python -m presencectl ARGS`` in the background, stderr read as it comes.

    :meth:`wait_for` waits for a stderr line matching a pattern (the URL of
    ``--serve``); :meth:`stop` sends SIGINT (Ctrl-C) and collects the rest.
    """

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.args = args
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "presencectl", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env or cli_env(),
            cwd=ROOT,
        )
        self.stderr_lines: list[str] = []
        self._changed = threading.Condition()
        self._stdout = b""
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        self._out_reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._out_reader.start()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            with self._changed:
                self.stderr_lines.append(raw.decode("utf-8", "replace"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        while True:
            chunk = self.proc.stdout.read1(1 << 16)
            with self._changed:
                if not chunk:
                    self._changed.notify_all()
                    return
                self._stdout += chunk
                self._changed.notify_all()

    def wait_for_stdout(self, lines: int, timeout: float = 30) -> bytes:
        """Wait until stdout holds ``lines`` complete lines; returns what is there."""
        with self._changed:
            while self._stdout.count(b"\n") < lines:
                if self.proc.poll() is not None and not self._out_reader.is_alive():
                    raise AssertionError(f"process ended ({self.proc.returncode}): {''.join(self.stderr_lines)}")
                if not self._changed.wait(timeout):
                    raise AssertionError(f"fewer than {lines} lines on stdout: {self._stdout!r}")
            return self._stdout

    def wait_for(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        """The first stderr line matching ``pattern`` (fails if the process ends first)."""
        regex = re.compile(pattern)
        with self._changed:
            while True:
                for line in self.stderr_lines:
                    m = regex.search(line)
                    if m:
                        return m
                if self.proc.poll() is not None and not self._reader.is_alive():
                    raise AssertionError(f"process ended ({self.proc.returncode}): {''.join(self.stderr_lines)}")
                if not self._changed.wait(timeout):
                    raise AssertionError(f"no {pattern!r} on stderr: {''.join(self.stderr_lines)}")

    def url(self) -> str:
        """The ``ws://…`` URL a ``--serve`` process announced."""
        return self.wait_for(r"on (ws://\S+) ").group(1)

    def stop(self, timeout: float = 30) -> tuple[int, bytes, str]:
        """Ctrl-C; returns (exit code, stdout, stderr)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        return self.wait(timeout)

    def wait(self, timeout: float = 30) -> tuple[int, bytes, str]:
        """Wait for the process to end by itself; returns (exit code, stdout, stderr)."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self._reader.join(5)
        self._out_reader.join(5)
        return rc, self._stdout, "".join(self.stderr_lines)

    def __enter__(self) -> CliProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


# -- WebSocket peers --------------------------------------------------------


@dataclass
class Received:
    """What a client got: messages in order, and how the server closed."""

    messages: list[str | bytes] = field(default_factory=list)
    close_code: int | None = None
    close_reason: str = ""


def collect_websocket_client(url: str, limit: int | None = None) -> Received:
    """Read with websocket-client until the server closes (or ``limit`` messages)."""
    import websocket

    got = Received()
    ws = websocket.create_connection(url, timeout=30)
    try:
        while limit is None or len(got.messages) < limit:
            opcode, data = ws.recv_data()
            if opcode == websocket.ABNF.OPCODE_TEXT:
                got.messages.append(data.decode("utf-8"))
            elif opcode == websocket.ABNF.OPCODE_BINARY:
                got.messages.append(bytes(data))
            elif opcode == websocket.ABNF.OPCODE_CLOSE:
                if len(data) >= 2:
                    got.close_code = int.from_bytes(data[:2], "big")
                    got.close_reason = data[2:].decode("utf-8", "replace")
                break
    finally:
        # websocket-client answers the server's close frame but leaves the
        # socket open (a later close() is a no-op): shut it down ourselves.
        ws.close()
        ws.shutdown()
    return got


def collect_websockets(url: str, limit: int | None = None) -> Received:
    """Read with the ``websockets`` sync client until the server closes."""
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    got = Received()
    with connect(url, max_size=None, open_timeout=30) as ws:
        try:
            while limit is None or len(got.messages) < limit:
                got.messages.append(ws.recv(timeout=30))
        except ConnectionClosed as exc:
            if exc.rcvd is not None:
                got.close_code = exc.rcvd.code
                got.close_reason = exc.rcvd.reason
    return got


def in_threads(*calls: Callable[[], object]) -> list[object]:
    """Run the calls concurrently; their results in order (exceptions re-raised)."""
    results: list[object] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int, call: Callable[[], object]) -> None:
        try:
            results[index] = call()
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    if errors:
        raise errors[0]
    return results


class WsSink:
    """A ``websockets`` server that records every message it receives, per connection."""

    def __init__(self) -> None:
        from websockets.sync.server import serve

        self.connections: list[list[str | bytes]] = []
        self.headers: list = []  # websockets Headers: case-insensitive
        self._changed = threading.Condition()
        self.server = serve(self._handler, "127.0.0.1", 0, compression=None, max_size=None)
        self.port = self.server.socket.getsockname()[1]
        self.url = f"ws://127.0.0.1:{self.port}/ingest"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def _handler(self, connection) -> None:  # type: ignore[no-untyped-def]
        messages: list[str | bytes] = []
        with self._changed:
            self.connections.append(messages)
            self.headers.append(connection.request.headers)
        for message in connection:
            with self._changed:
                messages.append(message)
                self._changed.notify_all()

    @property
    def messages(self) -> list[str | bytes]:
        return [m for conn in self.connections for m in conn]

    def close(self) -> None:
        self.server.shutdown()
        self._thread.join(5)

    def __enter__(self) -> WsSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- an HTTP webhook receiver ------------------------------------------------


@dataclass
class Post:
    path: str
    headers: dict[str, str]
    body: bytes
    client_port: int


class HttpSink:
    """An ``http.server`` webhook endpoint that records each POST.

    ``status(n)`` picks the answer to the n-th POST (0-based); non-2xx
    answers carry a body with escape sequences, to check they are shown
    harmlessly.
    """

    HOSTILE = "\x1b[31mboom\x1b]0;owned\x07 [bold]x[/bold]"

    def __init__(self, status: Callable[[int], int] = lambda n: 200) -> None:
        sink = self
        self.posts: list[Post] = []
        self.status = status
        self._lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with sink._lock:
                    index = len(sink.posts)
                    sink.posts.append(Post(self.path, dict(self.headers), body, self.client_address[1]))
                code = sink.status(index)
                answer = b"" if code == 204 else b"ok" if 200 <= code < 300 else sink.HOSTILE.encode()
                self.send_response(code)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/webhooks/munic?tenant=t1"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)

    def __enter__(self) -> HttpSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def json_lines(data: bytes) -> list[dict]:
    return [json.loads(line) for line in data.splitlines() if line.strip()]
