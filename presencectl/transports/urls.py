"""The one URL check of the sources that connect out: scheme, host, port, credentials.

:func:`split_url` is what ``ws://``, ``wss://``, ``mqtt://`` and ``mqtts://``
URLs have in common (errors name the URL with its secrets redacted);
:func:`parse_mqtt_url` adds MQTT's rules. ``parse_ws_url`` in
:mod:`presencectl.transports.ws_client` adds the WebSocket ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from presencectl.core.capture import redact_url
from presencectl.errors import UsageError

__all__ = ["DEFAULT_PORT", "DEFAULT_TLS_PORT", "MqttUrl", "SplitUrl", "parse_mqtt_url", "split_url"]

DEFAULT_PORT = 1883
DEFAULT_TLS_PORT = 8883


@dataclass(frozen=True, slots=True)
class SplitUrl:
    """A URL checked by :func:`split_url`: the scheme lower-cased, the port
    defaulted, the credentials %-decoded (None when absent)."""

    scheme: str
    host: str
    port: int
    username: str | None
    password: str | None
    netloc: str
    path: str
    query: str
    fragment: str


def split_url(url: str, ports: Mapping[str, int]) -> SplitUrl:
    """Take ``url`` apart; ``ports`` maps each scheme allowed to its default port.

    >>> split_url("wss://bob:s%40cret@example.com/x?y=1", {"ws": 80, "wss": 443})
    SplitUrl(scheme='wss', host='example.com', port=443, username='bob', password='s@cret', netloc='bob:s%40cret@example.com', path='/x', query='y=1', fragment='')

    Raises:
        UsageError: ``bad URL '…': expected ws:// or wss://`` (another scheme),
            no host name, or a bad port.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"bad URL {redact_url(url)!r}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ports:
        raise UsageError(f"bad URL {redact_url(url)!r}: expected {' or '.join(f'{s}://' for s in ports)}")
    if not parts.hostname:
        raise UsageError(f"bad URL {redact_url(url)!r}: no host name")
    return SplitUrl(
        scheme,
        parts.hostname,
        port if port is not None else ports[scheme],
        unquote(parts.username) if parts.username is not None else None,
        unquote(parts.password) if parts.password is not None else None,
        parts.netloc,
        parts.path,
        parts.query,
        parts.fragment,
    )


@dataclass(frozen=True, slots=True)
class MqttUrl:
    """A parsed ``mqtt://`` / ``mqtts://`` URL."""

    secure: bool
    host: str
    port: int
    username: str | None
    password: str | None


def parse_mqtt_url(url: str) -> MqttUrl:
    """``mqtt://[user[:pass]@]host[:port]`` or ``mqtts://…`` (TLS, port 8883 by default).

    >>> parse_mqtt_url("mqtts://bob:s%40cret@broker")
    MqttUrl(secure=True, host='broker', port=8883, username='bob', password='s@cret')

    Raises:
        UsageError: another scheme, no host, a bad port, or a path/query (topics
            are given with ``-T``, not in the URL).
    """
    parts = split_url(url, {"mqtt": DEFAULT_PORT, "mqtts": DEFAULT_TLS_PORT})
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise UsageError(
            f"bad URL {redact_url(url)!r}: an MQTT URL is only mqtt[s]://[user[:pass]@]host[:port]; "
            "give topics with -T/--topic"
        )
    return MqttUrl(parts.scheme == "mqtts", parts.host, parts.port, parts.username or None, parts.password)
