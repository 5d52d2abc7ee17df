"""What the MQTT source and the replay target share: how to connect (the
options), paho's properties and reason codes in and out, and one line for
each way a connection fails."""

from __future__ import annotations

import errno
import socket
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from presencectl.errors import UsageError
from presencectl.transports.base import os_cause, tls_verify_failed
from presencectl.transports.urls import MqttUrl

__all__ = [
    "DEFAULT_KEEPALIVE",
    "FATAL_CONNACK",
    "check_qos",
    "mqtt_version",
    "AliyunDevice",
    "MqttOptions",
    "close_socket",
    "credentials",
    "explain_connack",
    "explain_connect_error",
    "lost_cause",
    "os_cause",
    "paho_meta",
    "paho_properties",
    "plural",
    "quoted",
    "rc_text",
    "reason_text",
    "refusal_text",
    "subscriptions",
]

#: Seconds between PINGREQs when nothing else is sent (Aliyun accepts 30–1200).
DEFAULT_KEEPALIVE = 60

#: CONNACK reason codes (MQTT 5 numbering) after which retrying cannot help.
FATAL_CONNACK = {
    0x80,  # unspecified error
    0x81,  # malformed packet
    0x82,  # protocol error
    0x84,  # unsupported protocol version
    0x85,  # client identifier not valid
    0x86,  # bad user name or password
    0x87,  # not authorized
    0x8A,  # banned
    0x8C,  # bad authentication method
    0x90,  # topic name invalid
    0x95,  # packet too large
    0x99,  # payload format invalid
    0x9A,  # retain not supported
    0x9B,  # QoS not supported
}



@dataclass(frozen=True, slots=True)
class AliyunDevice:
    """``--aliyun-device PK/DN --device-secret S``: signed again on every connect."""

    product_key: str
    device_name: str
    device_secret: str = field(repr=False)
    client_id: str | None = None  # the bare id; default DN&PK


@dataclass(slots=True)
class MqttOptions:
    """How to connect and what to subscribe to.

    Args:
        url: ``mqtt://`` or ``mqtts://`` URL (user info: the credentials).
        topics: subscription filters (``$share/GROUP/`` is added with ``share``).
        qos: the maximum QoS asked for on every subscription, and the QoS of ``publishes``.
        version: 3 (MQTT 3.1.1) or 5.
        client_id: the client id (default ``presencectl-<random>``, kept for reconnects).
        username, password: credentials (override the URL's).
        share: MQTT 5 shared-subscription group.
        publishes: (topic, payload) published after every (re)connect, once subscribed.
        ssl_context: for mqtts:// (default: verify against the system store).
        insecure: skip the host name check too (the context already skips the chain).
        client_cert: ``ssl_context`` holds a client certificate (for error hints).
        connect_timeout: seconds for TCP + TLS + CONNACK, and for each of SUBACK and PUBACK.
        keepalive: seconds between keep-alive pings.
        clean_session: False keeps the broker-side session (queued QoS 1/2
            messages, subscriptions) across disconnects; needs a fixed ``client_id``.
        skip_retained: drop retained messages.
        aliyun: sign the CONNECT with an Aliyun device triple.
        notice: where to say things that do not stop the session (a refused
            subscription among several, the first retained message); None: silent.
        clock: the wall clock, for Aliyun's signed timestamp.
    """

    url: str
    topics: list[str] = field(default_factory=lambda: ["#"])
    qos: int = 0
    version: int = 3
    client_id: str | None = None
    username: str | None = None
    password: str | None = None
    share: str | None = None
    publishes: list[tuple[str, bytes]] = field(default_factory=list)
    ssl_context: ssl.SSLContext | None = None
    insecure: bool = False
    client_cert: bool = False
    connect_timeout: float = 10.0
    keepalive: int = DEFAULT_KEEPALIVE
    clean_session: bool = True
    skip_retained: bool = False
    aliyun: AliyunDevice | None = None
    notice: Callable[[str], None] | None = None
    clock: Callable[[], float] = time.time


def mqtt_version(value: object, default: int) -> int:
    """``--mqtt-version`` as 3 or 5, the one reading of it for every MQTT
    source and target: 3 also as ``3.1.1``, ``311`` or ``4`` (the protocol
    level byte), 5 also as ``5.0``; None or empty: ``default``.

    Raises:
        UsageError: anything else.
    """
    if value is None or value == "":
        return default
    text = str(getattr(value, "value", value)).strip().lower()
    if text in ("3", "3.1.1", "311", "4"):
        return 3
    if text in ("5", "5.0"):
        return 5
    raise UsageError(f"bad --mqtt-version {text!r}: 3 (3.1.1) or 5")


def check_qos(qos: object) -> int:
    """``--qos`` as 0, 1 or 2.

    Raises:
        UsageError: anything else.
    """
    text = str(qos).strip()
    if isinstance(qos, float) or text not in ("0", "1", "2"):
        raise UsageError(f"bad --qos {text}: 0, 1 or 2")
    return int(text)


def subscriptions(options: MqttOptions) -> list[str]:
    """The filters to subscribe to: ``options.topics``, each under
    ``$share/GROUP/`` with ``options.share`` (unless it names its own group)."""
    group = options.share
    if group is None:
        return list(options.topics)
    return [t if t.startswith("$share/") else f"$share/{group}/{t}" for t in options.topics]


def paho_properties(meta: Mapping[str, Any]) -> Any:
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    props = Properties(PacketTypes.PUBLISH)
    if "content_type" in meta:
        props.ContentType = meta["content_type"]
    pairs = [(name, value) for name, value in meta.get("user_properties", ())]
    if pairs:
        props.UserProperty = pairs
    return props


def paho_meta(msg: Any) -> dict[str, Any] | None:
    """A paho message's QoS and MQTT 5 properties, as Frame.meta (see :func:`publish_properties`)."""
    meta: dict[str, Any] = {}
    if msg.qos:
        meta["qos"] = msg.qos
    props = getattr(msg, "properties", None)
    if props is not None:
        content_type = getattr(props, "ContentType", None)
        if isinstance(content_type, str):
            meta["content_type"] = content_type
        pairs = getattr(props, "UserProperty", None)
        if pairs:
            meta["user_properties"] = [[str(k), str(v)] for k, v in pairs]
    return meta or None


def close_socket(client: Any) -> None:
    sock = client.socket()
    if sock is not None:
        sock.close()


def lost_cause(exc: BaseException) -> str:
    if isinstance(exc, ConnectionResetError):
        return "connection reset by the broker"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    return f"the connection failed: {os_cause(exc)}"


def reason_text(code: Any) -> str:
    """``Not authorized (0x87)`` for a paho ReasonCode."""
    name = getattr(code, "getName", lambda: str(code))()
    value = getattr(code, "value", None)
    return f"{name} (0x{value:02X})" if isinstance(value, int) else str(name)


def explain_connack(reason: Any, version: int, *, aliyun: bool = False, username: str | None = None) -> str:
    """One line for a CONNACK that refuses the connection, with what to try."""
    value = reason.value
    text = f"the broker refused the connection: {reason_text(reason)}"
    if value in (0x86, 0x87, 0x8C):
        if aliyun:
            text += " (check --aliyun-device and --device-secret)"
        elif username is None:
            text += " (give credentials: mqtt://USER:PASS@host, or --username with --password / PRESENCECTL_PASSWORD)"
        else:
            text += " (check the user name and password)"
    elif value == 0x84 and version == 5:
        text += " (try --mqtt-version 3)"
    elif value == 0x85:
        text += " (try another --client-id)"
    return text


def explain_connect_error(exc: BaseException, url: MqttUrl, timeout: float) -> tuple[str | None, bool]:
    """(cause, fatal) for a failed TCP/TLS connect; cause None for errors we do not know."""
    host = f"{url.host}:{url.port}"
    if isinstance(exc, ssl.SSLCertVerificationError):  # (ssl.CertificateError, the host name check, is this too)
        return tls_verify_failed(exc, "broker"), True
    # Before the generic TLS branch: SSLEOFError is an SSLError too. A plain
    # port hangs up on the TLS hello, with a reset or an EOF depending on timing.
    if url.secure and isinstance(exc, ConnectionResetError | ssl.SSLEOFError):
        return f"TLS handshake with {host} failed (connection closed): not a TLS port? use mqtt:// for plain MQTT", False
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or str(exc)
        if reason == "WRONG_VERSION_NUMBER":
            return f"TLS handshake with {host} failed ({reason}): not a TLS port? use mqtt:// for plain MQTT", True
        if any(word in reason for word in ("CERTIFICATE_REQUIRED", "HANDSHAKE_FAILURE", "UNKNOWN_CA", "BAD_CERTIFICATE")):
            return (
                f"TLS handshake with {host} failed ({reason}): the broker wants a client "
                "certificate it trusts (--cert, --key)",
                True,
            )
        return f"TLS handshake with {host} failed ({reason})", False
    if isinstance(exc, socket.gaierror):
        return f"DNS lookup of {url.host!r} failed ({exc.strerror or exc})", False
    if isinstance(exc, ConnectionRefusedError):
        return f"connection refused by {host} (is the broker running?)", False
    if isinstance(exc, TimeoutError):
        return f"timed out after {timeout:g} s connecting to {host} (host unreachable or not answering)", False
    if isinstance(exc, OSError) and exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return f"{host} is unreachable ({os_cause(exc)})", False
    if isinstance(exc, OSError):
        return f"cannot connect to {host}: {os_cause(exc)}", False
    if isinstance(exc, ValueError):
        return f"cannot connect to {host}: {exc}", True
    return None, False


def credentials(options: MqttOptions, client_id: str, secure: bool) -> tuple[str, str | None, str | None]:
    """(client id, user name, password) for the next CONNECT: an Aliyun
    device is signed again every time (the signature carries the clock)."""
    if options.aliyun is None:
        return client_id, options.username, options.password
    from presencectl.core.aliyun_auth import sign_device

    device = options.aliyun
    creds = sign_device(
        device.product_key,
        device.device_name,
        device.device_secret,
        int(options.clock() * 1000),
        client_id=device.client_id,
        tls=secure,
    )
    return creds.client_id, creds.username, creds.password


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def quoted(topics: Sequence[str]) -> str:
    return ", ".join(repr(t) for t in topics)


def refusal_text(version: int, refused: list[tuple[str, Any]]) -> str:
    """One line for the subscriptions a SUBACK refused."""
    if version == 3:  # 3.1.1 has one failure code and no reasons
        parts = [f"{topic!r} (0x80)" for topic, _code in refused]
    else:
        parts = [f"{topic!r} ({reason_text(code)})" for topic, code in refused]
    return f"the broker refused the subscription to {', '.join(parts)}"


def rc_text(rc: int) -> str:
    """One line for a paho error code."""
    import paho.mqtt.client as mqtt

    if rc == mqtt.MQTT_ERR_CONN_LOST:
        return "the broker closed the connection"
    if rc == mqtt.MQTT_ERR_KEEPALIVE:
        return "no answer to a keep-alive ping"
    return mqtt.error_string(rc).rstrip(".").lower()
