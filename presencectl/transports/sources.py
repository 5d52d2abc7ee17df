"""Where ``tail``, ``record`` and ``expect`` get SOURCE from: the live sources by URL scheme.

Each kind of source is one :class:`SourceInfo`: its URL schemes, its
:class:`~presencectl.transports.base.Source` class (a lazy ``"module:Class"``
string: nothing heavy is imported to pick one), how messages name it, and
the options it accepts, by their parameter names in
:mod:`presencectl.cli.option_groups`. ``--listen`` and ``--socketio`` choose a kind
as well as the scheme; every other source option given that the chosen
source does not accept is refused by one check
(``option_groups.check_applicable``)::

    register(SourceInfo("sse", "a Server-Sent Events source", ("sse", "sses"),
                        "presencectl.transports.sse:SseSource", CONNECTING | {"header"}))

A file or ``-`` is the ``file`` kind (no scheme). This module imports
nothing but the standard library: ``--help`` and TAB completion use it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CONNECTING",
    "NETWORK",
    "REGISTRY",
    "SOURCES",
    "SourceInfo",
    "register",
    "unregister",
]

#: What every network source takes: reconnecting, the idle timeout, the deadline.
NETWORK = frozenset({"reconnect", "timeout", "deadline"})
#: What a source that connects out takes besides: the connect timeout and TLS.
CONNECTING = NETWORK | {"connect_timeout", "cacert", "cert", "key", "insecure"}


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """One kind of live source.

    Attributes:
        kind: its name (``"mqtt"``), as ``source_kind`` returns it.
        name: how errors name it (``"an MQTT source"``).
        schemes: the URL schemes that pick it (lower case).
        source: its Source class, ``"module:Class"``; ``""`` for files.
        accepts: the options it takes (:class:`~presencectl.cli.option_groups.Opt`
            parameter names); a source option given outside this set is refused.
        listens: SOURCE is an address to listen on (needs ``--listen``).
    """

    kind: str
    name: str
    schemes: tuple[str, ...]
    source: str
    accepts: frozenset[str]
    listens: bool = False

    def load(self) -> Any:
        """The Source class (imports its module)."""
        module, _, name = self.source.partition(":")
        return getattr(importlib.import_module(module), name)

    @property
    def shown_schemes(self) -> str:
        """``ws:// and wss://``."""
        return " and ".join(f"{s}://" for s in self.schemes)


#: kind → SourceInfo, in the order errors list them.
SOURCES: dict[str, SourceInfo] = {}
#: URL scheme → SourceInfo.
REGISTRY: dict[str, SourceInfo] = {}


def register(info: SourceInfo) -> SourceInfo:
    """Add a kind of source (a new kind or scheme may not shadow one)."""
    assert info.kind not in SOURCES, info.kind
    assert not set(info.schemes) & set(REGISTRY), info.schemes
    SOURCES[info.kind] = info
    for scheme in info.schemes:
        REGISTRY[scheme] = info
    return info


def unregister(kind: str) -> None:
    """Remove a kind of source (tests that add a throwaway one)."""
    info = SOURCES.pop(kind)
    for scheme in info.schemes:
        REGISTRY.pop(scheme, None)


register(SourceInfo(
    "websocket", "a WebSocket source", ("ws", "wss"), "presencectl.transports.ws_client:WsSource",
    CONNECTING | {"header", "subprotocol", "send", "send_file", "ping_interval"},
))
register(SourceInfo(
    "socketio", "a Socket.IO source", ("sio", "sios"), "presencectl.transports.socketio_client:SocketIOSource",
    CONNECTING | {"header", "namespace", "emit", "event", "auth", "eio"},
))
register(SourceInfo(
    "mqtt", "an MQTT source", ("mqtt", "mqtts"), "presencectl.transports.mqtt:MqttSource",
    CONNECTING | {
        "topic", "qos", "mqtt_version", "client_id", "username", "password", "share", "publish",
        "clean_session", "skip_retained", "aliyun_device", "password_file", "device_secret_file",
    },
))
register(SourceInfo(
    "webhook", "the webhook receiver", ("http", "https"), "presencectl.transports.webhook:WebhookSource",
    NETWORK | {"listen", "max_body", "basic_auth", "allow_remote"}, listens=True,
))
#: A capture, an NDJSON file or stdin (no scheme, no Source class: read by ``run_cat``).
SOURCES["file"] = SourceInfo("file", "a file source", (), "", frozenset({"deadline", "max_line"}))
