"""``replay --to mqtt[s]://…``: :class:`MqttTarget` publishes each frame on its recorded topic."""

from __future__ import annotations

import os
import secrets
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

from presencectl.core.capture import redact_url
from presencectl.core.events import Frame, Marker
from presencectl.core.protocols.mqtt import (
    check_topic_name,
    encode_properties,
    publish_packet,
    rewrite_topic,
    topic_head,
)
from presencectl.errors import TransportError, UsageError
from presencectl.transports import paho_internals
from presencectl.transports.base import client_certificate_hint
from presencectl.transports.mqtt_connect import (
    DEFAULT_KEEPALIVE,
    check_qos,
    close_socket,
    explain_connack,
    explain_connect_error,
    mqtt_version,
    paho_properties,
    reason_text,
)
from presencectl.transports.urls import parse_mqtt_url

__all__ = ["MqttTarget"]


class MqttTarget:
    """``replay --to mqtt[s]://…``: publish each frame on its recorded topic.

    A frame recorded as retained is published retained (the target broker
    then stores it as the source broker had); with MQTT 5 a frame's content
    type and user properties go along (MQTT 3.1.1 cannot carry them: one
    warning says they were dropped). QoS, a default topic for frames recorded
    without one, and the ``--topic-prefix`` rewrite come from ``options.extra``:

    - ``qos`` (0), ``topic_prefix`` (None: as recorded; see :func:`rewrite_topic`),
    - ``topic`` (publish frames that carry no topic here; None: such a frame is an error),
    - ``client_id``, ``username``, ``password``, ``mqtt_version`` (``"3"``/``"5"``);
    the TLS client certificate is ``options.cert``/``options.key``, as for every target.

    paho's network loop runs in a thread (PUBACKs, pings) while :meth:`send`
    publishes from the replay's clock; at most :attr:`MAX_BACKLOG` messages wait
    unsent or unacknowledged, so memory stays flat at ``--speed max``.
    """

    honours_disconnects = False
    #: Unsent (QoS 0) or unacknowledged (QoS 1/2) publishes before send() waits.
    MAX_BACKLOG = 1000
    #: QoS 0: PUBLISH packets are gathered up to this size, then handed to
    #: paho's writer as one block (see :meth:`flush`).
    BATCH_BYTES = 64 << 10

    def __init__(self, url: str, options: Any) -> None:
        self.url = parse_mqtt_url(url)
        self.description = redact_url(url)
        self.options = options
        extra: Mapping[str, Any] = getattr(options, "extra", None) or {}
        self.qos = check_qos(extra.get("qos") or 0)
        self.prefix: str | None = extra.get("topic_prefix")
        self.default_topic: str | None = extra.get("topic")
        if self.default_topic is not None:
            check_topic_name(self.default_topic, "--topic")
        self.version = mqtt_version(extra.get("mqtt_version"), 3)
        self.client_id = extra.get("client_id") or f"presencectl-replay-{secrets.token_hex(3)}"
        self.username = extra.get("username") or self.url.username
        self.password = extra.get("password") or self.url.password
        if self.password is None and self.username is not None:
            self.password = os.environ.get("PRESENCECTL_PASSWORD") or None
        self.cert = getattr(options, "cert", None)
        self.key = getattr(options, "key", None)
        self.sent = 0
        self.no_topic = 0
        self._client: Any = None
        self._backlog: deque[Any] = deque()
        self._lost: str | None = None
        self._batch = bytearray()
        self._topics: dict[str, bytes] = {}
        self._raw = False
        self.retained = 0
        self.dropped_properties = 0

    def open(self) -> None:
        """Connect and wait for CONNACK.

        Raises:
            TransportError: refused, unreachable, TLS failure (one line).
        """
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        v5 = self.version == 5
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
            reconnect_on_failure=False,
        )
        timeout = float(getattr(self.options, "timeout", 10.0) or 10.0)
        client.connect_timeout = timeout
        if self.username is not None or self.password is not None:
            client.username_pw_set(self.username, self.password)
        if self.url.secure:
            from presencectl.transports.ws_client import make_ssl_context

            insecure = bool(self.options.insecure)
            client.tls_set_context(make_ssl_context(self.options.cacert, self.cert, self.key, insecure))
            if insecure:
                client.tls_insecure_set(True)
        connack: list[Any] = []
        client.on_connect = lambda c, u, f, reason, p: connack.append(reason)
        client.on_disconnect = self._handle_disconnect
        try:
            client.connect(self.url.host, self.url.port, DEFAULT_KEEPALIVE)
        except Exception as exc:
            cause, _fatal = explain_connect_error(exc, self.url, timeout)
            if cause is None:
                raise
            raise TransportError(f"cannot connect to {self.description}: {cause}") from None
        deadline = time.monotonic() + timeout
        while not connack:
            left = deadline - time.monotonic()
            if left <= 0 or (client.loop(min(left, 0.5)) and not connack):  # a refusing CONNACK: say why
                close_socket(client)
                raise TransportError(
                    f"cannot connect to {self.description}: no CONNACK within {timeout:g} s"
                    if left <= 0
                    else f"cannot connect to {self.description}: the broker closed the connection before answering CONNECT"
                    + (client_certificate_hint(bool(self.cert), "broker") if self.url.secure else "")
                )
        if connack[0].is_failure:
            close_socket(client)
            raise TransportError(
                f"cannot connect to {self.description}: "
                f"{explain_connack(connack[0], self.version, username=self.username)}"
            )
        self._client = client
        # QoS 0 needs no acknowledgement, so its PUBLISH packets can be encoded
        # here and queued in blocks: paho's publish() costs ~25 µs a message in
        # Python, more than the 30,000 frames/s budget. Needs paho's writer
        # queue; without it (another paho version), publish() is used.
        self._raw = self.qos == 0 and paho_internals.can_queue_raw(client)
        client.loop_start()

    def flush(self) -> None:
        """Hand the gathered QoS 0 packets to paho's network thread (called before each wait)."""
        batch = self._batch
        if not batch:
            return
        client = self._client
        data = bytes(batch)
        batch.clear()
        # command 0: paho writes the bytes as they are (several PUBLISH packets).
        paho_internals.queue_raw(client, data)
        # Keep memory flat: at most a few blocks wait in paho's queue.
        while paho_internals.queued_raw(client) > 8:
            if self._lost is not None:
                raise TransportError(f"{self.description}: {self._lost} after {self.sent} frames")
            time.sleep(0.0005)

    def _publish_packet(self, topic: str, payload: bytes, properties: bytes | None = None, retain: bool = False) -> bytes:
        head = self._topics.get(topic)
        if head is None:
            try:
                head = topic_head(topic, self.version == 5)
            except UsageError as exc:
                raise TransportError(f"{self.description}: cannot publish on {topic!r}: {exc}") from None
            if len(self._topics) < 10_000:
                self._topics[topic] = head
        return publish_packet(head, payload, properties, retain)

    def _handle_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if self._lost is None:
            if getattr(flags, "is_disconnect_packet_from_server", False):
                self._lost = f"the broker disconnected us: {reason_text(reason)}"
            else:
                self._lost = "the broker closed the connection"

    def send(self, frame: Frame) -> None:
        """Publish one frame on its (rewritten) topic.

        Raises:
            TransportError: the connection is gone, or a frame has no topic and no default was given.
        """
        client = self._client
        if client is None:
            self.open()
            client = self._client
        if self._lost is not None:
            raise TransportError(f"{self.description}: {self._lost} after {self.sent} frames")
        topic = frame.topic
        if topic is None:
            topic = self.default_topic
            if topic is None:
                raise TransportError(
                    f"{self.description}: frame {self.sent + 1} has no topic (recorded from a "
                    "non-MQTT source); give a topic to publish such frames on"
                )
            self.no_topic += 1
        else:
            topic = rewrite_topic(topic, self.prefix)
        data = frame.data
        payload = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
        retain = frame.retained
        if retain:
            self.retained += 1
        meta = frame.meta
        carried = None
        if meta is not None and ("content_type" in meta or "user_properties" in meta):
            if self.version == 5:
                carried = meta
            else:
                self._dropped()
        if self._raw:
            props = encode_properties(carried) if carried is not None else None
            self._batch += self._publish_packet(topic, payload, props, retain)
            self.sent += 1
            if len(self._batch) >= self.BATCH_BYTES:
                self.flush()
            return
        try:
            info = client.publish(
                topic, payload, qos=self.qos, retain=retain,
                properties=paho_properties(carried) if carried is not None else None,
            )
        except ValueError as exc:  # a wildcard or empty topic in the capture
            raise TransportError(f"{self.description}: cannot publish on {topic!r}: {exc}") from None
        if info.rc:
            import paho.mqtt.client as mqtt

            if self._lost is not None or info.rc == mqtt.MQTT_ERR_NO_CONN:
                raise TransportError(
                    f"{self.description}: {self._lost or 'not connected'} after {self.sent} frames"
                )
            raise TransportError(f"{self.description}: publishing failed: {mqtt.error_string(info.rc)}")
        self.sent += 1
        backlog = self._backlog
        backlog.append(info)
        while backlog and backlog[0].is_published():
            backlog.popleft()
        if len(backlog) > self.MAX_BACKLOG:
            self._drain(self.MAX_BACKLOG // 2)

    def _dropped(self) -> None:
        self.dropped_properties += 1
        if self.dropped_properties == 1:
            warn = getattr(self.options, "warn", None)
            if warn is not None:
                warn(
                    f"{self.description}: MQTT 3.1.1 cannot carry the recorded content types and "
                    "user properties: published without them (--mqtt-version 5 keeps them)"
                )

    def _drain(self, keep: int) -> None:
        backlog = self._backlog
        while len(backlog) > keep:
            info = backlog[0]
            while not info.is_published():
                if self._lost is not None:
                    raise TransportError(f"{self.description}: {self._lost} after {self.sent} frames")
                info.wait_for_publish(0.5)
            backlog.popleft()

    def marker(self, marker: Marker) -> None:
        """Markers are not replayed into a broker."""

    def close(self) -> None:
        """Wait (up to the timeout) for what is still unsent or unacknowledged, then DISCONNECT."""
        if self._client is None:
            return
        timeout = float(getattr(self.options, "timeout", 10.0) or 10.0)
        deadline = time.monotonic() + timeout
        if self._raw:
            try:
                self.flush()
                while paho_internals.queued_raw(self._client) and self._lost is None and time.monotonic() < deadline:
                    time.sleep(0.002)
            except TransportError:
                pass
        client, self._client = self._client, None
        try:
            for info in self._backlog:
                left = deadline - time.monotonic()
                if left <= 0 or self._lost is not None:
                    break
                if not info.is_published():
                    info.wait_for_publish(left)
            unsent = sum(1 for info in self._backlog if not info.is_published())
            self._backlog.clear()
            if unsent and self._lost is None:
                warn = getattr(self.options, "warn", None)
                if warn is not None:
                    warn(f"{self.description}: {unsent} publishes not acknowledged within {timeout:g} s")
            client.disconnect()
        except Exception:  # noqa: BLE001 - closing: nothing more to do
            pass
        finally:
            client.loop_stop()

    def report(self) -> list[str]:
        """Extra summary parts."""
        parts = [f"published at QoS {self.qos}"] if self.qos else []
        if self.retained:
            parts.append(f"{self.retained} retained")
        if self.no_topic:
            parts.append(f"{self.no_topic} frames without a topic sent to {self.default_topic}")
        return parts
