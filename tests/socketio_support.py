"""Real Socket.IO peers for the tests, all on 127.0.0.1.

- :class:`NodeServer`: a Socket.IO 2.x server (Engine.IO v3), ``tests/node/sio2_server.js``;
  :class:`Node4Server`: the same script on Socket.IO 4.x (Engine.IO v4).
- :class:`PySioServer`: a python-socketio server (Engine.IO v4) in a thread,
  written here with the library directly (not with presencectl's own
  server), so the client is tested against an independent implementation.
- :func:`node_client`: ``tests/node/sio2_client.js``, a Socket.IO 2.x client
  (``lib="socket.io-client-v4"``: 4.x).

Both servers behave like Avaya Spaces: namespace ``/chat``; a
``SUBSCRIBE_CHANNEL`` emit is answered with ``CHANNEL_SUBSCRIBED`` (its own
argument) and then the ``PRESENCE_EVENT_RESPONSE`` payloads of
``fixtures/samples/spaces-presence.ndjson``, ``gap`` seconds apart. With a
1 s ping interval and 1 s ping timeout, five payloads 0.8 s apart span four
ping intervals: a client without a heartbeat is dropped before the last one.
Each server keeps a log of what happened (``{"connection": …}``,
``{"received": …}``, ``{"disconnect": …, "reason": …}``) to assert on.
"""

from __future__ import annotations

import json
import logging
import queue
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_CI, ROOT, fixture, require_binary

NODE_DIR = ROOT / "tests" / "node"
PAYLOADS = fixture("samples/spaces-presence.ndjson")
PRESENCE = [json.loads(line) for line in PAYLOADS.read_text().splitlines() if line.strip()]
SUBSCRIBE = '{"channel":{"_id":"5eecfda30da7fa05033f15ef","type":"topic"}}'

_quiet = logging.getLogger("tests.socketio_peer")
_quiet.addHandler(logging.NullHandler())
_quiet.propagate = False


def require_node() -> str:
    """``node`` with the packages of ``tests/node`` installed; fails in CI, skips elsewhere."""
    node = require_binary("node")
    modules = NODE_DIR / "node_modules"
    packages = ("socket.io", "socket.io-client", "socket.io-v4", "socket.io-client-v4")
    if not all((modules / name).is_dir() for name in packages):
        message = "tests/node has no node_modules: run npm ci in tests/node"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return node


class PeerLog:
    """What a server saw, one dict per happening; waitable."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []
        self._cond = threading.Condition()

    def add(self, entry: dict[str, Any]) -> None:
        with self._cond:
            self.entries.append(entry)
            self._cond.notify_all()

    def wait_for(self, key: str, timeout: float = 15.0) -> dict[str, Any]:
        """The first entry with ``key``, waiting for it to appear."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for entry in self.entries:
                    if key in entry:
                        return entry
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {key!r} in {self.entries}")
                self._cond.wait(left)

    def having(self, key: str) -> list[dict[str, Any]]:
        with self._cond:
            return [e for e in self.entries if key in e]


class NodeServer:
    """``node tests/node/sio2_server.js`` on a free port (Socket.IO 2.5, Engine.IO v3)."""

    LIB = "socket.io"
    VERSION = 3

    def __init__(self, *, gap: float = 0.8, token: str | None = None, end: str = "none",
                 ping_interval: float = 1.0, ping_timeout: float = 1.0, namespace: str = "/chat") -> None:
        node = require_node()
        args = [
            node, str(NODE_DIR / "sio2_server.js"), "--payloads", str(PAYLOADS),
            "--gap", str(int(gap * 1000)), "--end", end, "--namespace", namespace,
            "--ping-interval", str(int(ping_interval * 1000)),
            "--ping-timeout", str(int(ping_timeout * 1000)), "--lib", self.LIB,
        ]
        if token is not None:
            args += ["--token", token]
        self.log = PeerLog()
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=NODE_DIR)
        first = self.proc.stdout.readline()  # type: ignore[union-attr]
        if not first:
            raise RuntimeError(f"sio2_server.js did not start: {self.proc.stderr.read()}")  # type: ignore[union-attr]
        self.port = json.loads(first)["listening"]
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:  # type: ignore[union-attr]
            try:
                self.log.add(json.loads(line))
            except ValueError:
                self.log.add({"junk": line})

    @property
    def url(self) -> str:
        return f"sio://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> NodeServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Node4Server(NodeServer):
    """``sio2_server.js`` on Socket.IO 4.8 (Engine.IO v4 only, ``allowEIO3`` off)."""

    LIB = "socket.io-v4"
    VERSION = 4


class PySioServer:
    """A python-socketio 5 server (Engine.IO v4) in Werkzeug, in a thread.

    Args:
        token: when set, the namespace wants ``auth={"token": token}`` and
            refuses anything else with a connect error.
        end: after the last payload: ``none``, ``disconnect`` (``41``) or
            ``close`` (the Engine.IO session).
    """

    VERSION = 4

    def __init__(self, *, gap: float = 0.8, token: str | None = None, end: str = "none",
                 ping_interval: float = 1.0, ping_timeout: float = 1.0, namespace: str = "/chat") -> None:
        import socketio
        from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

        self.log = PeerLog()
        self.gap = gap
        self.end = end
        self.namespace = namespace
        self.sio = sio = socketio.Server(
            async_mode="threading", ping_interval=ping_interval, ping_timeout=ping_timeout,
            logger=_quiet, engineio_logger=_quiet,
        )

        def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
            if token is not None and (not isinstance(auth, dict) or auth.get("token") != token):
                self.log.add({"refused": namespace, "auth": auth})
                raise socketio.exceptions.ConnectionRefusedError("not authorized")
            self.log.add({"connection": namespace, "auth": auth, "query": environ.get("QUERY_STRING")})

        def disconnect(sid: str, reason: Any = None) -> None:
            self.log.add({"disconnect": namespace, "reason": str(reason)})

        def subscribe(sid: str, *args: Any) -> None:
            self.log.add({"received": "SUBSCRIBE_CHANNEL", "args": list(args)})
            sio.emit("CHANNEL_SUBSCRIBED", args[0] if args else None, to=sid, namespace=namespace)
            sio.start_background_task(self._play, sid)

        sio.on("connect", connect, namespace=namespace)
        sio.on("disconnect", disconnect, namespace=namespace)
        sio.on("SUBSCRIBE_CHANNEL", subscribe, namespace=namespace)

        class Quiet(WSGIRequestHandler):
            def log(self, *args: Any) -> None:
                pass

        class Server(ThreadedWSGIServer):
            def log(self, *args: Any) -> None:
                pass

        self.http = Server("127.0.0.1", 0, socketio.WSGIApp(sio), handler=Quiet)
        self.port = self.http.server_port
        self._thread = threading.Thread(target=self.http.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()

    def _play(self, sid: str) -> None:
        for i, payload in enumerate(PRESENCE):
            time.sleep(self.gap)
            self.sio.emit("PRESENCE_EVENT_RESPONSE", payload, to=sid, namespace=self.namespace)
            self.log.add({"sent": "PRESENCE_EVENT_RESPONSE", "index": i})
        time.sleep(0.1)
        if self.end == "disconnect":
            self.sio.disconnect(sid, namespace=self.namespace)
        elif self.end == "close":
            eio_sid = self.sio.manager.eio_sid_from_sid(sid, self.namespace)
            if eio_sid is not None:
                self.sio.eio.disconnect(eio_sid)

    @property
    def url(self) -> str:
        return f"sio://127.0.0.1:{self.port}"

    def stop(self) -> None:
        try:
            self.sio.shutdown()
        finally:
            self.http.shutdown()
            self.http.server_close()
            self._thread.join(5)

    def __enter__(self) -> PySioServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def node_client(
    url: str, *, count: int, timeout: float = 20.0, polling: bool = False, lib: str = "socket.io-client"
) -> subprocess.Popen[str]:
    """Start ``sio2_client.js URL --count N`` (Socket.IO 2.x, or 4.x with
    ``lib="socket.io-client-v4"``); read its stdout lines with :func:`lines_of`."""
    node = require_node()
    args = [node, str(NODE_DIR / "sio2_client.js"), url, "--count", str(count), "--timeout", str(int(timeout * 1000))]
    args += ["--lib", lib]
    if polling:
        args.append("--polling")
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=NODE_DIR)


def lines_of(proc: subprocess.Popen[str], timeout: float = 30.0) -> list[dict[str, Any]]:
    """Wait for a node client to end; its JSON lines."""
    out, err = proc.communicate(timeout=timeout)
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert proc.returncode == 0, (lines, err)
    return lines


class PyClient:
    """A python-socketio client (Engine.IO v4) that collects every event it receives."""

    def __init__(self, url: str, namespace: str = "/", *, transports: list[str] | None = None) -> None:
        import socketio

        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.disconnected = threading.Event()
        self.client = socketio.Client(reconnection=False, logger=_quiet, engineio_logger=_quiet)

        def anything(event: str, *args: Any) -> None:
            self.events.put((event, args))

        self.client.on("*", anything, namespace=namespace)
        self.client.on("disconnect", lambda *a: self.disconnected.set(), namespace=namespace)
        self.client.connect(url, namespaces=[namespace], transports=transports, wait_timeout=10)

    def take(self, count: int, timeout: float = 15.0) -> list[tuple[str, Any]]:
        got = []
        deadline = time.monotonic() + timeout
        while len(got) < count:
            got.append(self.events.get(timeout=max(0.01, deadline - time.monotonic())))
        return got

    def close(self) -> None:
        self.client.disconnect()


def read_path(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
