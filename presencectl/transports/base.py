"""The seam between live transports and the session driver (``presencectl/engine/session.py``).

A live *source* (WebSocket client, webhook receiver; MQTT and Socket.IO plug in
the same way) is a thin adapter: it connects, hands over payloads as
:class:`~presencectl.core.events.Frame` objects, and reports trouble with the
two exceptions below. It knows nothing about dialects, filters, captures,
reconnect policy or the terminal: :class:`presencectl.engine.session.Session` owns those.

The life of a source, as the driver uses it::

    detail = source.connect()          # CannotConnect: give up or retry later
    while ...:
        frame = source.receive(1.0)    # None: nothing arrived within 1 s
        ...record, decode, render...   # ConnectionLost: reconnect or stop
        source.done(frame, problem)    # webhook: answer the POST now
        if not source.pending():       # about to wait: flush what was rendered
            ...
    source.close()

Errors form a small tree under :class:`~presencectl.errors.TransportError`::

    TransportError
    ├── CannotConnect     connect() failed: refused, DNS, TLS, HTTP 401, port in use
    └── ConnectionLost    an established connection went away
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from presencectl.core.events import Frame
from presencectl.errors import TransportError

__all__ = ["Source", "CannotConnect", "ConnectionLost", "os_cause", "tls_verify_failed", "client_certificate_hint", "tls_refusal_hint"]


class CannotConnect(TransportError):
    """:meth:`Source.connect` failed; the message names the endpoint and the cause.

    Args:
        endpoint: what we tried to reach, credentials removed.
        cause: why it failed, in a few words ("connection refused").
        fatal: retrying cannot help (bad credentials, TLS verification, port in
            use): the driver stops instead of reconnecting.
    """

    def __init__(self, endpoint: str, cause: str, *, fatal: bool = False) -> None:
        super().__init__(f"{endpoint}: {cause}")
        self.endpoint = endpoint
        self.cause = cause
        self.fatal = fatal


class ConnectionLost(TransportError):
    """An established connection ended.

    Args:
        endpoint: the source, credentials removed.
        cause: what happened ("connection reset by peer", "closed by the server (1001 going away)").
        clean: the peer closed it on purpose with a normal closure; a session
            that does not reconnect then ends with exit status 0, not 1.
        finished: the peer said the stream is over (a WebSocket 1000 close
            whose reason says so, e.g. ``replay --serve``'s "replay finished";
            a Socket.IO namespace disconnect): the session ends (exit 0)
            instead of reconnecting. Implies ``clean``.
    """

    def __init__(self, endpoint: str, cause: str, *, clean: bool = False, finished: bool = False) -> None:
        super().__init__(f"{endpoint}: connection lost: {cause}")
        self.endpoint = endpoint
        self.cause = cause
        self.clean = clean or finished
        self.finished = finished


@runtime_checkable
class Source(Protocol):
    """A live source of frames, driven by :class:`presencectl.engine.session.Session`.

    Attributes:
        endpoint: the source for messages and the capture header, credentials
            removed (``wss://host/path?token=REDACTED``).
        transport: the capture header's ``transport`` (``"websocket"``, ``"webhook"``).
        markers: write ``connected``/``disconnected``/``reconnecting`` markers
            to the capture (False for a listening webhook: it has no connection).
        confirms: (optional, default True) :meth:`done` tells the peer the
            frame is safe (webhook answer, MQTT acknowledgement), so the
            capture is flushed to disk before it is called; a source whose
            ``done`` does nothing sets it False and is not called.
        take_ready: (optional) a method returning, as a list in order, every
            frame :meth:`receive` would return at once (already read and
            parsed), and forgetting them: the driver puts a whole read
            through the pipeline in one go (WebSocket: hundreds of frames a
            read in a burst). A source that acknowledges frames one by one
            leaves it out.
    """

    endpoint: str
    transport: str
    markers: bool

    def connect(self) -> str:
        """Connect (or bind), then do what every (re)connect needs: ``--send``
        messages, subscriptions, emits. Safe to call again after a loss.

        Returns:
            A short detail for the ``connected`` marker and notice.

        Raises:
            CannotConnect: with ``fatal`` set when retrying cannot help.
        """
        ...

    def receive(self, timeout: float | None) -> Frame | None:
        """The next frame, waiting at most ``timeout`` seconds (None: forever).

        Transport chores (answering pings, sending keep-alive pings) happen in
        here. Returns None when nothing arrived in time.

        Raises:
            ConnectionLost: the connection ended; call :meth:`connect` to resume.
        """
        ...

    def pending(self) -> bool:
        """True when :meth:`receive` would return a frame at once, from data
        already buffered. The driver flushes rendered output only when this is
        False, so nothing shown waits in a buffer while the process waits for
        the network, and a burst costs one write. Return False when unsure.
        """
        ...

    def done(self, frame: Frame, problem: str | None) -> None:
        """``frame`` was recorded and shown; ``problem`` says why its payload
        could not be read (None: it was fine). The webhook answers its POST
        here (200, or 400 with ``problem``); other sources do nothing.
        """
        ...

    def close(self) -> None:
        """Release everything; safe to call twice and after a loss."""
        ...


def os_cause(exc: BaseException) -> str:
    """The cause of a failed socket call in a few lower-case words (every transport says it alike)."""
    import ssl

    if isinstance(exc, ConnectionResetError):
        return "connection reset by peer"
    if isinstance(exc, BrokenPipeError):
        return "connection closed by peer (broken pipe)"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:]
    return str(exc) or type(exc).__name__


def tls_verify_failed(exc: BaseException, peer: str) -> str:
    """The line for a certificate the system does not trust (``peer``: "server", "broker")."""
    reason = getattr(exc, "verify_message", None) or getattr(exc, "reason", None) or str(exc)
    return (
        f"TLS certificate verification failed ({reason}); "
        f"trust the {peer}'s CA with --cacert FILE, or skip the check with --insecure"
    )


def client_certificate_hint(has_cert: bool, peer: str = "server") -> str:
    """The hint for a TLS peer that hung up on us or refused the handshake
    (``peer``: "server", "broker"), the same words for every source and target."""
    if has_cert:
        return f" (does the {peer} trust the client certificate --cert?)"
    return f" (does the {peer} want a client certificate? --cert, --key)"


def tls_refusal_hint(exc: BaseException, has_cert: bool, peer: str = "server") -> str:
    """:func:`client_certificate_hint` when a TLS error looks like the peer refusing our
    certificate (or its absence): one of the alerts it sends about it, or a hang-up
    during the handshake; else ""."""
    import ssl  # (loaded already: the error came from it)

    if isinstance(exc, ssl.SSLEOFError) or getattr(exc, "reason", None) in _CLIENT_CERTIFICATE_ALERTS:
        return client_certificate_hint(has_cert, peer)
    return ""


#: TLS alerts a server sends about our certificate (or the lack of one).
_CLIENT_CERTIFICATE_ALERTS = frozenset({
    "TLSV13_ALERT_CERTIFICATE_REQUIRED", "SSLV3_ALERT_HANDSHAKE_FAILURE", "SSLV3_ALERT_BAD_CERTIFICATE",
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN", "TLSV1_ALERT_UNKNOWN_CA",
})
