"""A small threaded WebSocket server (the ``websockets`` library's sync server).

A thin adapter: it accepts clients, hands each one to a callback as a
:class:`ServedClient` (send text or binary, close, know when it went away),
and stops cleanly. What to send is the caller's business (``replay --serve``,
``demo``).

Example::

    def greet(client: ServedClient) -> None:
        client.send('{"event": "hello"}')

    with WebSocketServer(greet, "127.0.0.1", 0).start() as server:
        print(server.url)          # ws://127.0.0.1:41234/
        ...
"""

from __future__ import annotations

import errno
import logging
import socket
import threading
from collections.abc import Callable

from presencectl.errors import TransportError

__all__ = ["ServedClient", "WebSocketServer", "GOING_AWAY", "NORMAL"]

NORMAL = 1000
GOING_AWAY = 1001

_log = logging.getLogger("presencectl.ws_server")
# websockets logs failed handshakes (a browser, a port scanner) at ERROR; the
# CLI must not print them raw to stderr through logging's last-resort handler.
_log.addHandler(logging.NullHandler())
_log.propagate = False


class ServedClient:
    """One connected client.

    ``send`` and ``close`` may be called from any thread. ``closed`` is set
    once the connection is gone, whoever closed it.
    """

    __slots__ = ("_connection", "remote", "path", "closed", "received", "_send")

    def __init__(self, connection: object) -> None:
        self._connection = connection
        address = getattr(connection, "remote_address", None)
        if isinstance(address, tuple) and len(address) >= 2:
            host = address[0]
            self.remote = f"[{host}]:{address[1]}" if ":" in str(host) else f"{host}:{address[1]}"
        else:
            self.remote = str(address)
        request = getattr(connection, "request", None)
        self.path: str = getattr(request, "path", "/") or "/"
        #: Set when the connection has closed.
        self.closed = threading.Event()
        #: Messages the client sent us (read and dropped: a test server has no use for them).
        self.received = 0
        self._send = connection.send  # type: ignore[attr-defined]

    def send(self, data: str | bytes) -> bool:
        """Send one message: ``str`` as a text frame, ``bytes`` as a binary frame.

        Returns:
            False when the connection is closed (the message was not sent).
        """
        try:
            self._send(data)
        except Exception:  # ConnectionClosed, or a socket error under it
            self.closed.set()
            return False
        return True

    def close(self, code: int = NORMAL, reason: str = "") -> None:
        """Close the connection with a close frame (returns once closed or timed out)."""
        try:
            self._connection.close(code, reason)  # type: ignore[attr-defined]
        except Exception:
            pass
        self.closed.set()

    def _drain(self) -> None:
        # Read whatever the client sends (subscribe requests, pings are
        # answered by websockets itself) so that its buffer never fills.
        try:
            for _message in self._connection:  # type: ignore[attr-defined]
                self.received += 1
        except Exception:
            pass
        finally:
            self.closed.set()


class WebSocketServer:
    """Accepts WebSocket clients and runs ``on_client`` for each, in its own thread.

    Args:
        on_client: called with each :class:`ServedClient` once its handshake is
            done; the connection is closed (code 1000) when it returns.
        host: address to bind (the caller decides whether a non-loopback
            address is allowed).
        port: port to bind; 0 picks a free one (see :attr:`port`).
        path: serve only this path (others get HTTP 404); None serves any path.

    Call :meth:`start`, then :meth:`stop` (or use ``with``).
    """

    def __init__(
        self,
        on_client: Callable[[ServedClient], None],
        host: str = "127.0.0.1",
        port: int = 0,
        path: str | None = None,
    ) -> None:
        self.on_client = on_client
        self.host = host
        self.port = port
        self.path = path if path not in (None, "", "/") else None
        self._server = None
        self._thread: threading.Thread | None = None
        self._clients: set[ServedClient] = set()
        self._lock = threading.Lock()
        self.accepted = 0

    @property
    def url(self) -> str:
        """``ws://HOST:PORT/path`` of the bound server."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ws://{host}:{self.port}{self.path or '/'}"

    @property
    def clients(self) -> list[ServedClient]:
        """The clients connected now."""
        with self._lock:
            return [c for c in self._clients if not c.closed.is_set()]

    def start(self) -> WebSocketServer:
        """Bind and start accepting in a background thread.

        Raises:
            TransportError: the address is in use, not available, or not allowed.
        """
        from websockets.sync.server import serve

        try:
            family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            sock = socket.create_server((self.host, self.port), family=family)
        except OSError as exc:
            raise TransportError(_bind_error(self.host, self.port, exc)) from None
        self.port = sock.getsockname()[1]
        self._server = serve(
            self._handle,
            sock=sock,
            compression=None,  # loopback test server: frames byte for byte, no CPU on zlib
            process_request=self._check_path,
            server_header="presencectl",
            max_size=1 << 20,
            # A client that never finishes the closing handshake holds a
            # handler (and the shutdown) this long at most.
            close_timeout=2,
            logger=_log,
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="ws-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, code: int = GOING_AWAY, reason: str = "server stopping") -> None:
        """Stop accepting, close every client with ``code``, wait for the handlers."""
        server, self._server = self._server, None
        if server is None:
            return
        # Close the clients first, all at once (a slow one holds up only
        # itself): that also wakes handlers waiting on ``closed``, which the
        # shutdown below waits for.
        closers = [
            threading.Thread(target=client.close, args=(code, reason), daemon=True)
            for client in self.clients
        ]
        for closer in closers:
            closer.start()
        for closer in closers:
            closer.join(timeout=5)
        try:
            server.shutdown(code=code, reason=reason)
        except TypeError:  # websockets < 15: no close code to choose
            server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> WebSocketServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _check_path(self, connection: object, request: object) -> object:
        if self.path is None:
            return None
        path = getattr(request, "path", "/").split("?", 1)[0]
        if path == self.path:
            return None
        return connection.respond(404, f"nothing served at {path}; try {self.path}\n")  # type: ignore[attr-defined]

    def _handle(self, connection: object) -> None:
        client = ServedClient(connection)
        with self._lock:
            self._clients.add(client)
            self.accepted += 1
        drain = threading.Thread(target=client._drain, name="ws-drain", daemon=True)
        drain.start()
        try:
            self.on_client(client)
        except Exception:  # a bug in the callback must not kill the server
            _log.exception("client handler failed")
        finally:
            with self._lock:
                self._clients.discard(client)


def _bind_error(host: str, port: int, exc: OSError) -> str:
    where = f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return f"cannot listen on {where}: the port is already in use (pick another, or 0 for any free port)"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on {where}: no such address on this machine"
    if exc.errno == errno.EACCES:
        return f"cannot listen on {where}: permission denied (ports below 1024 need privileges)"
    if isinstance(exc, socket.gaierror) or exc.errno in _LOOKUP_FAILED:  # create_server re-raises it as OSError
        return f"cannot listen on {where}: unknown host"
    return f"cannot listen on {where}: {exc.strerror or exc}"


#: EAI_* errnos of a failed name lookup, which socket.create_server re-raises as a plain OSError.
_LOOKUP_FAILED = {socket.EAI_NONAME, socket.EAI_AGAIN, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)}
