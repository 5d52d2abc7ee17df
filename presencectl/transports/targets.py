"""Where ``replay --to URL`` sends frames: the :class:`Target` protocol and its registry.

A target is opened once, gets every due frame through :meth:`Target.send`
(and every capture marker through :meth:`Target.marker`), and is closed at
the end. ``--to`` picks the target class by the URL scheme through
:data:`REGISTRY`; an entry is a class or a lazy ``"module:Class"`` string,
so adding a transport is one small class plus one line here::

    REGISTRY["mqtt"] = "presencectl.transports.mqtt_target:MqttTarget"

Built in: ``ws://``/``wss://`` (:class:`WebSocketTarget`, websocket-client)
and ``http://``/``https://`` (:class:`HttpTarget`, one keep-alive
connection, a POST per frame).
"""

from __future__ import annotations

import base64
import importlib
import socket
import ssl
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from presencectl.core.capture import redact_url
from presencectl.core.events import Frame, Marker
from presencectl.errors import TransportError, UsageError
from presencectl.transports.base import tls_refusal_hint, tls_verify_failed

__all__ = [
    "Target",
    "BaseTarget",
    "TargetOptions",
    "REGISTRY",
    "register_target",
    "make_target",
    "parse_headers",
    "WebSocketTarget",
    "HttpTarget",
]

#: How many non-2xx answers are shown one by one before they are only counted.
SHOW_FAILURES = 10


@dataclass(slots=True)
class TargetOptions:
    """Options every target may use.

    Args:
        headers: ``-H 'Name: value'`` lines (WebSocket handshake, HTTP request).
        insecure: do not verify TLS certificates.
        cacert: a CA bundle to verify TLS certificates with.
        cert, key: a client certificate (PEM) and its key, for mutual TLS.
        timeout: seconds to wait for a connection or an answer.
        replay_disconnects: a ``disconnected`` marker closes the connection;
            the next frame opens a new one.
        warn: where to report trouble that does not stop the replay (one line each).
        extra: options of one transport only (MQTT: topic prefix, QoS, …).
    """

    headers: list[str] = field(default_factory=list)
    insecure: bool = False
    cacert: str | None = None
    cert: str | None = None
    key: str | None = None
    timeout: float = 10.0
    replay_disconnects: bool = False
    warn: Callable[[str], None] = lambda message: None
    extra: dict[str, Any] = field(default_factory=dict)


class Target(Protocol):
    """A place frames are replayed into."""

    #: The destination for messages (credentials removed).
    description: str
    #: True when :meth:`marker` turns a ``disconnected`` marker into a real disconnect.
    honours_disconnects: bool

    def open(self) -> None:
        """Connect. Raises TransportError when that fails."""
        ...

    def send(self, frame: Frame) -> None:
        """Deliver one frame. Raises TransportError when the destination is gone."""
        ...

    def marker(self, marker: Marker) -> None:
        """A capture marker fell due (``connected``, ``disconnected``, ``reconnecting``)."""
        ...

    def close(self) -> None:
        """Finish cleanly (idempotent)."""
        ...

    def report(self) -> list[str]:
        """Extra parts for the closing summary (``3 non-2xx answers``)."""
        ...


class BaseTarget:
    """Defaults for the optional parts of :class:`Target`."""

    description = "?"
    honours_disconnects = False
    #: Frames the destination answered but did not accept (HTTP non-2xx).
    failed = 0

    def marker(self, marker: Marker) -> None:
        pass

    def close(self) -> None:
        pass

    def report(self) -> list[str]:
        return []


TargetFactory = Callable[[str, TargetOptions], Target]


#: URL scheme → target class (or ``"module:Class"``, imported when used).
REGISTRY: dict[str, TargetFactory | str] = {
    "ws": "presencectl.transports.targets:WebSocketTarget",
    "wss": "presencectl.transports.targets:WebSocketTarget",
    "http": "presencectl.transports.targets:HttpTarget",
    "https": "presencectl.transports.targets:HttpTarget",
    "mqtt": "presencectl.transports.mqtt_target:MqttTarget",
    "mqtts": "presencectl.transports.mqtt_target:MqttTarget",
}


def _is_tls(scheme: str) -> bool:
    """Whether ``--to SCHEME://`` speaks TLS (the secure twin of a scheme ends in ``s``)."""
    return scheme.endswith("s") and scheme[:-1] in REGISTRY


def register_target(schemes: Iterable[str], factory: TargetFactory | str) -> None:
    """Make ``--to SCHEME://…`` use ``factory`` (a class, or ``"module:Class"``)."""
    for scheme in schemes:
        REGISTRY[scheme.lower()] = factory


def make_target(url: str, options: TargetOptions) -> Target:
    """The target for ``--to URL``, not yet opened.

    Raises:
        UsageError: no scheme, an unknown scheme, or one not available yet.
    """
    scheme = urlsplit(url).scheme.lower() if "://" in url else ""
    known = ", ".join(f"{s}://" for s in REGISTRY)
    if not scheme:
        raise UsageError(f"bad --to {url!r}: give a URL with one of {known}")
    factory = REGISTRY.get(scheme)
    if factory is None:
        raise UsageError(f"bad --to {url!r}: {scheme}:// is not a replay target; use one of {known}")
    if (options.cacert or options.cert or options.key or options.insecure) and not _is_tls(scheme):
        tls = ", ".join(f"{s}://" for s in REGISTRY if _is_tls(s))
        raise UsageError(f"--cacert, --cert, --key and --insecure need a TLS URL ({tls})")
    if isinstance(factory, str):
        module, _, name = factory.partition(":")
        factory = getattr(importlib.import_module(module), name)
        REGISTRY[scheme] = factory
    return factory(url, options)


def parse_headers(lines: Iterable[str]) -> list[tuple[str, str]]:
    """``-H 'Name: value'`` lines → (name, value) pairs.

    >>> parse_headers(["X-API-Token: abc"])
    [('X-API-Token', 'abc')]

    Raises:
        UsageError: a line without ``:`` or with an empty name.
    """
    pairs = []
    for line in lines:
        name, sep, value = line.partition(":")
        name = name.strip()
        if not sep or not name or any(c in name for c in " \t\r\n"):
            raise UsageError(f"bad -H {line!r}: expected 'Name: value'")
        if any(c in value for c in "\r\n"):
            raise UsageError(f"bad -H {name}: the value contains a line break")
        pairs.append((name, value.strip()))
    return pairs


def _ssl_context(options: TargetOptions) -> ssl.SSLContext:
    from presencectl.transports.ws_client import make_ssl_context

    return make_ssl_context(options.cacert, options.cert, options.key, options.insecure)


def _describe(exc: BaseException, options: TargetOptions | None = None) -> str:
    """A connection failure in a few words (the same as the sources' for the same cause)."""
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the server running?)"
    if isinstance(exc, socket.gaierror):
        return "unknown host"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return tls_verify_failed(exc, "server")
    if isinstance(exc, ssl.SSLError):
        said = "TLS failed: the server closed the connection" if isinstance(exc, ssl.SSLEOFError) else f"TLS failed: {exc.reason or exc}"
        return said + tls_refusal_hint(exc, options is not None and options.cert is not None)
    if isinstance(exc, TimeoutError):
        return "timed out"
    status = getattr(exc, "status_code", None)
    if status is not None:
        return f"the server answered HTTP {status} instead of accepting the WebSocket"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


class WebSocketTarget(BaseTarget):
    """``--to ws://…``: sends each frame as a message over one client connection.

    Text frames go out as text, binary frames as binary. Messages from the
    server are read (so pings are answered) and dropped. With
    ``replay_disconnects`` a ``disconnected`` marker closes the connection
    and the next frame reconnects.
    """

    honours_disconnects = True

    def __init__(self, url: str, options: TargetOptions) -> None:
        self.url = url
        self.description = redact_url(url)
        self.options = options
        self.headers = [f"{k}: {v}" for k, v in parse_headers(options.headers)]
        self.sent = 0
        self.reconnects = 0
        self._ws: Any = None
        self._closed_by_server: str | None = None

    def open(self) -> None:
        self._connect()

    def _connect(self) -> None:
        import websocket

        sslopt: dict[str, Any] = {}
        if self.url.lower().startswith("wss:"):
            sslopt = {"context": _ssl_context(self.options)}
            if self.options.insecure:
                sslopt.update(cert_reqs=ssl.CERT_NONE, check_hostname=False)
        try:
            ws = websocket.create_connection(
                self.url,
                header=self.headers,
                sslopt=sslopt,
                timeout=self.options.timeout,
                enable_multithread=True,
            )
        except Exception as exc:
            from presencectl.transports.ws_client import explain_connect_error, parse_ws_url

            cause, _fatal = explain_connect_error(
                exc, parse_ws_url(self.url), timeout=self.options.timeout, client_cert=self.options.cert is not None
            )
            raise TransportError(f"cannot connect to {self.description}: {cause or _describe(exc, self.options)}") from None
        ws.settimeout(None)
        self._ws = ws
        self._closed_by_server = None
        threading.Thread(target=self._read, args=(ws,), name="ws-target-read", daemon=True).start()

    def _read(self, ws: Any) -> None:
        import websocket

        try:
            while True:
                opcode, frame = ws.recv_data_frame(True)
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    data = getattr(frame, "data", b"") or b""
                    code = int.from_bytes(data[:2], "big") if len(data) >= 2 else None
                    reason = data[2:].decode("utf-8", "replace")
                    self._closed_by_server = f"code {code}" + (f" {reason!r}" if reason else "")
                    return
        except Exception:
            return

    def send(self, frame: Frame) -> None:
        if self._ws is None:
            self.reconnects += 1
            self._connect()
        data = frame.data
        try:
            if isinstance(data, bytes):
                self._ws.send_binary(data)
            else:
                self._ws.send(data)
        except Exception:
            how = f" ({self._closed_by_server})" if self._closed_by_server else ""
            raise TransportError(
                f"{self.description}: the server closed the connection{how} after {self.sent} frames"
            ) from None
        self.sent += 1

    def marker(self, marker: Marker) -> None:
        if self.options.replay_disconnects and marker.mark == "disconnected" and self._ws is not None:
            self._close(1001, "replayed disconnect")

    def _close(self, code: int, reason: str) -> None:
        ws, self._ws = self._ws, None
        if ws is None:
            return
        try:
            ws.close(status=code, reason=reason.encode(), timeout=2)
        except Exception:
            pass

    def close(self) -> None:
        self._close(1000, "replay finished")

    def report(self) -> list[str]:
        return [f"reconnected {self.reconnects} times"] if self.reconnects else []


class HttpTarget(BaseTarget):
    """``--to http(s)://…``: POSTs each frame as the request body, the way webhooks arrive.

    One keep-alive connection; ``Content-Type: application/json`` (binary
    frames: ``application/octet-stream``) unless ``-H`` sets one. Non-2xx
    answers are reported (the first few one by one) and counted.
    """

    def __init__(self, url: str, options: TargetOptions) -> None:
        parts = urlsplit(url)
        if not parts.hostname:
            raise UsageError(f"bad --to {url!r}: no host")
        try:
            self.port = parts.port
        except ValueError:
            raise UsageError(f"bad --to {url!r}: bad port") from None
        self.url = url
        self.description = redact_url(url)
        self.options = options
        self.https = parts.scheme.lower() == "https"
        self.host = parts.hostname
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        from presencectl import __version__

        headers = {"User-Agent": f"presencectl/{__version__}"}
        if parts.username is not None:
            token = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            headers["Authorization"] = "Basic " + base64.b64encode(token.encode()).decode()
        for name, value in parse_headers(options.headers):
            headers[name] = value
        self.headers = headers
        self._user_type = any(k.lower() == "content-type" for k in headers)
        self.sent = 0
        self.failed = 0
        self.statuses: Counter[int] = Counter()
        self._conn: Any = None
        self._used = False

    def _connection(self) -> Any:
        import http.client

        if self.https:
            return http.client.HTTPSConnection(
                self.host, self.port, timeout=self.options.timeout, context=_ssl_context(self.options)
            )
        return http.client.HTTPConnection(self.host, self.port, timeout=self.options.timeout)

    def open(self) -> None:
        conn = self._connection()
        try:
            conn.connect()
        except Exception as exc:
            conn.close()
            raise TransportError(f"cannot connect to {self.description}: {_describe(exc, self.options)}") from None
        self._conn = conn
        self._used = False

    def send(self, frame: Frame) -> None:
        import http.client

        data = frame.data
        body = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
        headers = self.headers
        if not self._user_type:
            kind = "application/json" if isinstance(data, str) else "application/octet-stream"
            headers = {**headers, "Content-Type": kind}
        while True:
            if self._conn is None:
                self.open()
            conn = self._conn
            reused = self._used
            try:
                conn.request("POST", self.path, body, headers)
                response = conn.getresponse()
                answer = response.read()
            except TimeoutError:
                self._drop()
                raise TransportError(
                    f"POST {self.description}: no answer within {self.options.timeout:g} s"
                ) from None
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self._drop()
                if reused:
                    # The server had closed the idle keep-alive connection:
                    # the request was not processed, so sending it again is safe.
                    continue
                raise TransportError(f"POST {self.description}: {_describe(exc, self.options)}") from None
            except (http.client.HTTPException, OSError) as exc:
                self._drop()
                raise TransportError(f"POST {self.description}: {_describe(exc, self.options)}") from None
            break
        self._used = True
        if response.will_close:
            self._drop()
        self.sent += 1
        status = response.status
        self.statuses[status] += 1
        if not 200 <= status < 300:
            self.failed += 1
            if self.failed <= SHOW_FAILURES:
                text = answer[:200].decode("utf-8", "replace").strip()
                self.options.warn(
                    f"POST {self.description}: HTTP {status} {response.reason}"
                    + (f": {text}" if text else "")
                    + (f" (frame {self.sent})")
                )
            if self.failed == SHOW_FAILURES:
                self.options.warn("further non-2xx answers are counted, not shown")

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def close(self) -> None:
        self._drop()

    def report(self) -> list[str]:
        if not self.failed:
            return []
        detail = ", ".join(
            f"{status}: {count}" for status, count in sorted(self.statuses.items()) if not 200 <= status < 300
        )
        return [f"{self.failed} of {self.sent} POSTs answered non-2xx ({detail})"]
