"""MQTT: a live :class:`~presencectl.transports.base.Source` and a replay target, on paho-mqtt 2.

:class:`MqttSource` subscribes to topic filters on a broker (MQTT 3.1.1 or 5,
plain or TLS) and hands each message over as a
:class:`~presencectl.core.events.Frame` carrying its topic. What every
(re)connect needs is done in :meth:`MqttSource.connect`, because paho forgets
subscriptions with the connection: CONNECT (Aliyun device signing included),
waiting for CONNACK, SUBSCRIBE and waiting for SUBACK (a refused filter is
reported by name), then the ``--publish`` message (an Aliyun account bind).

paho-mqtt does the parts with the edge cases (TCP, TLS, CONNECT, SUBSCRIBE,
``--publish``); once subscribed, the socket is read by :class:`PacketReader`,
the sans-I/O parser of :mod:`presencectl.core.protocols.mqtt`, in the caller's thread inside :meth:`MqttSource.receive`:
one ``recv()`` takes every message the kernel holds, where paho makes three
system calls and several objects per message, caps a busy subscriber near
25,000 messages/s here and then leaves little time for decoding and
rendering. No second thread and no queue that grows when the output is
slower than the broker: TCP pushes back instead. A QoS 1/2 message is
acknowledged after the session recorded and showed it (:meth:`MqttSource.done`).
Payload bytes are kept exact: a Frame holds ``str`` when the payload is
valid UTF-8, ``bytes`` otherwise (recorded as base64, shown as unparsed).

Retained messages (the broker's stored last value, sent when a subscription
is made, not a live event) arrive as :class:`RetainedFrame`, a Frame with
``retained = True``; the first one after each connect is also announced with
one notice line, and ``skip_retained`` drops them.

``replay --to mqtt://…`` is :class:`~presencectl.transports.mqtt_target.MqttTarget`;
the options, CONNACK and connect-error texts shared with it are in
:mod:`presencectl.transports.mqtt_connect`.

Example::

    source = MqttSource(MqttOptions("mqtt://broker:1883", topics=["devices/+/presence"], qos=1))
    source.connect()
    frame = source.receive(5.0)    # Frame(data='{"...": ...}', t=1718000000.5, topic='devices/d1/presence')
"""

from __future__ import annotations

import os
import secrets
import select
import ssl
import time
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any

from presencectl.core.capture import redact_url
from presencectl.core.events import DupFrame, Frame, RetainedDupFrame, RetainedFrame
from presencectl.core.protocols.mqtt import (
    DISCONNECT,
    PINGREQ,
    PacketReader,
    ProtocolError,
)
from presencectl.transports import paho_internals
from presencectl.transports.base import CannotConnect, ConnectionLost, client_certificate_hint
from presencectl.transports.mqtt_connect import (
    DEFAULT_KEEPALIVE,
    FATAL_CONNACK,
    AliyunDevice,
    MqttOptions,
    credentials,
    explain_connack,
    explain_connect_error,
    lost_cause,
    os_cause,
    paho_meta,
    plural,
    quoted,
    rc_text,
    reason_text,
    refusal_text,
    subscriptions,
)
from presencectl.transports.urls import parse_mqtt_url

__all__ = ["DEFAULT_KEEPALIVE", "AliyunDevice", "MqttOptions", "MqttSource"]

#: Bytes asked of the socket per read.
_RECV_SIZE = 1 << 18
#: MQTT 5 session expiry for ``clean_session=False``: never (like ``mosquitto_sub -c``).
SESSION_NEVER_EXPIRES = 0xFFFFFFFF


# ------------------------------------------------------------------ the source



class MqttSource:
    """An MQTT subscriber as a :class:`~presencectl.transports.base.Source`.

    Attributes:
        topics: the filters as subscribed (``$share/…`` included), for the capture header.
    """

    transport = "mqtt"
    markers = True
    confirms = True  # done() acknowledges QoS 1/2: the message must be on disk first

    def __init__(self, options: MqttOptions) -> None:
        self.options = options
        self.url = parse_mqtt_url(options.url)
        self.endpoint = redact_url(options.url)
        self.topics = subscriptions(options)
        if options.aliyun is not None:
            device = options.aliyun
            self.client_id = device.client_id or f"{device.device_name}&{device.product_key}"
        else:
            self.client_id = options.client_id or f"presencectl-{os.getpid():x}-{secrets.token_hex(3)}"
        self._client: Any = None
        self._pending: deque[Frame] = deque()
        #: QoS 1/2 messages paho read (before the takeover, or on its own loop),
        #: acknowledged in done(): (frame, packet id, QoS), in order.
        self._paho_due: deque[tuple[Frame, int, int]] = deque()
        self._lost: str | None = None
        self._lost_clean = False
        self._connack: Any = None
        self._session_present = False
        self._suback: dict[int, list[Any]] = {}
        self._puback: dict[int, Any] = {}
        self._retained_seen = False
        self._notice_due: str | None = None
        self._reads = 0
        self._sock: Any = None  # the socket, once read by _pump
        self._reader: PacketReader | None = None
        self._last_sent = 0.0
        self._ping_sent: float | None = None

    # Connecting.

    def connect(self) -> str:
        """CONNECT, SUBSCRIBE, then ``publishes``; see :meth:`Source.connect`.

        Returns:
            ``MQTT 3.1.1, subscribed to 2 topics (QoS 1), published to /sys/…/bind``.
        """
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        self.close()
        opts = self.options
        v5 = opts.version == 5
        client_id, username, password = credentials(self.options, self.client_id, self.url.secure)
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=None if v5 else opts.clean_session,
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
            reconnect_on_failure=False,
            # A message is acknowledged once recorded (done()), never on arrival:
            # paho reads the messages a persistent session queued before the
            # subscription is confirmed, and all of them on its own loop.
            manual_ack=True,
        )
        client.connect_timeout = opts.connect_timeout
        if username is not None or password is not None:
            client.username_pw_set(username, password)
        if self.url.secure:
            client.tls_set_context(opts.ssl_context or ssl.create_default_context())
            if opts.insecure:
                client.tls_insecure_set(True)
        client.on_connect = self._handle_connect
        client.on_disconnect = self._handle_disconnect
        client.on_subscribe = self._handle_subscribe
        client.on_publish = self._handle_publish
        client.on_message = self._message_callback()
        self._pending.clear()
        self._paho_due.clear()
        self._lost = None
        self._lost_clean = False
        self._connack = None
        self._suback = {}
        self._puback = {}
        self._retained_seen = False
        properties = None
        extra: dict[str, Any] = {}
        if v5:
            extra["clean_start"] = opts.clean_session
            if not opts.clean_session:
                properties = Properties(PacketTypes.CONNECT)
                properties.SessionExpiryInterval = SESSION_NEVER_EXPIRES
        try:
            client.connect(
                self.url.host, self.url.port, opts.keepalive, properties=properties, **extra
            )
        except Exception as exc:  # classified below; anything else is a bug worth a trace
            cause, fatal = explain_connect_error(exc, self.url, opts.connect_timeout)
            if cause is None:
                raise
            raise CannotConnect(self.endpoint, cause, fatal=fatal) from None
        self._client = client
        try:
            detail = self._handshake(client, mqtt)
        except CannotConnect:
            self._drop()
            raise
        self._take_over(client)
        return detail

    def _handshake(self, client: Any, mqtt: Any) -> str:
        opts = self.options
        host = f"{self.url.host}:{self.url.port}"
        why = self._wait(client, lambda: self._connack is not None)
        if why == "lost":
            if not self.url.secure:
                hint = " (a TLS port? use mqtts://)"
            else:
                hint = client_certificate_hint(bool(opts.client_cert), "broker")
            raise CannotConnect(self.endpoint, f"{host} closed the connection before answering CONNECT{hint}")
        if why == "timeout":
            raise CannotConnect(
                self.endpoint, f"no CONNACK from {host} within {opts.connect_timeout:g} s (is it an MQTT broker?)"
            )
        reason = self._connack
        if reason.is_failure:
            raise CannotConnect(
                self.endpoint,
                explain_connack(reason, opts.version, aliyun=opts.aliyun is not None, username=opts.username),
                fatal=reason.value in FATAL_CONNACK,
            )
        detail = ["MQTT 5" if opts.version == 5 else "MQTT 3.1.1"]
        if self._session_present:
            detail.append("session resumed")

        # SUBSCRIBE: one packet for all filters; paho forgets them with the connection.
        if opts.version == 5:
            from paho.mqtt.subscribeoptions import SubscribeOptions

            wanted: list[Any] = [(t, SubscribeOptions(qos=opts.qos)) for t in self.topics]
        else:
            wanted = [(t, opts.qos) for t in self.topics]
        result, mid = client.subscribe(wanted)
        if result != mqtt.MQTT_ERR_SUCCESS or mid is None:
            raise CannotConnect(self.endpoint, f"subscribing failed: {mqtt.error_string(result)}")
        why = self._wait(client, lambda: mid in self._suback)
        if why == "lost":
            raise CannotConnect(
                self.endpoint,
                f"{self._lost} on SUBSCRIBE to {quoted(self.topics)} (a topic filter it does not accept?)",
            )
        if why == "timeout":
            raise CannotConnect(self.endpoint, f"no SUBACK within {opts.connect_timeout:g} s")
        codes = self._suback.pop(mid)
        refused = [(t, c) for t, c in zip(self.topics, codes, strict=False) if c.is_failure]
        granted = [c.value for c in codes if not c.is_failure]
        if refused and len(refused) == len(self.topics):
            raise CannotConnect(self.endpoint, refusal_text(opts.version, refused), fatal=True)
        if refused and opts.notice is not None:
            opts.notice(f"{self.endpoint}: {refusal_text(opts.version, refused)}")
        shown = quoted(self.topics) if len(self.topics) <= 3 else plural(len(self.topics), "topic")
        text = f"subscribed to {shown}"
        if granted and max(granted) < opts.qos:
            text += f" (QoS {opts.qos} asked, {max(granted)} granted)"
        elif opts.qos:
            text += f" (QoS {opts.qos})"
        if refused:
            text += f", {len(refused)} refused"
        detail.append(text)

        # --publish: after the subscriptions, so a reply to it is not missed.
        for topic, payload in opts.publishes:
            info = client.publish(topic, payload, qos=opts.qos)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                raise CannotConnect(self.endpoint, f"publishing to {topic!r} failed: {mqtt.error_string(info.rc)}")
            why = self._wait(client, lambda info=info: not opts.qos or info.mid in self._puback)
            if why == "lost":
                raise CannotConnect(
                    self.endpoint,
                    f"{self._lost} after the publish to {topic!r} (not allowed to publish there?)",
                )
            if why == "timeout":
                raise CannotConnect(
                    self.endpoint,
                    f"no acknowledgement of the publish to {topic!r} within {opts.connect_timeout:g} s",
                )
            ack = self._puback.pop(info.mid, None)
            if ack is not None and ack.is_failure:
                raise CannotConnect(
                    self.endpoint, f"the broker refused the publish to {topic!r}: {reason_text(ack)}", fatal=True
                )
            detail.append(f"published to {topic}")
        return ", ".join(detail)

    def _wait(self, client: Any, done: Callable[[], bool]) -> str | None:
        """Run the network loop until ``done()``: None, or ``"lost"`` / ``"timeout"``.

        The timeout counts from the last sign of life: a resumed session can
        deliver thousands of queued messages before the broker answers.
        """
        timeout = self.options.connect_timeout
        deadline = time.monotonic() + timeout
        seen = len(self._pending)
        while not done():
            if self._lost is not None:
                return "lost"
            left = deadline - time.monotonic()
            if left <= 0:
                return "timeout"
            self._step(client, min(left, 0.5))
            if len(self._pending) != seen:
                seen = len(self._pending)
                deadline = time.monotonic() + timeout
        return None

    # paho callbacks (called from inside loop_read(), in our thread).

    def _handle_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        self._connack = reason
        self._session_present = bool(getattr(flags, "session_present", False))

    def _handle_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if self._lost is not None:
            return
        if getattr(flags, "is_disconnect_packet_from_server", False):
            text = f"the broker disconnected us: {reason_text(reason)}"
            if reason.value == 0x8E:
                text += f" (another client connected with client id {self.client_id!r})"
            self._lost = text
            self._lost_clean = reason.value == 0
        else:  # paho's own reason: the words presencectl's reader uses for the same loss
            name = getattr(reason, "getName", lambda: "")()
            if name == "Keep alive timeout":
                self._lost = f"no answer to a keep-alive ping within {self.options.keepalive} s"
            elif name == "Protocol error":
                self._lost = "protocol error: a packet paho-mqtt could not read"
            else:
                self._lost = "the broker closed the connection"

    def _handle_subscribe(self, client: Any, userdata: Any, mid: int, codes: list[Any], properties: Any) -> None:
        self._suback[mid] = list(codes)

    def _handle_publish(self, client: Any, userdata: Any, mid: int, reason: Any, properties: Any) -> None:
        self._puback[mid] = reason

    def _message_callback(self) -> Callable[..., None]:
        """paho's per-message callback (until the takeover): as little work as possible."""
        append = self._pending.append
        now = time.time
        skip = self.options.skip_retained

        due = self._paho_due.append

        def on_message(client: Any, userdata: Any, msg: Any) -> None:
            qos = msg.qos
            payload = msg.payload
            try:
                data: str | bytes = payload.decode()
            except UnicodeDecodeError:
                data = payload  # kept byte for byte, shown as unparsed
            try:
                topic = msg.topic
            except UnicodeDecodeError:  # brokers should refuse such topics; show it anyway
                topic = msg._topic.decode("utf-8", "backslashreplace")
            meta = paho_meta(msg)
            dup = bool(msg.dup) and qos > 0
            if msg.retain:
                if skip:
                    if qos:
                        client.ack(msg.mid, qos)  # dropped on purpose: nothing to wait for
                    return
                self._retained(topic)
                frame = (RetainedDupFrame if dup else RetainedFrame)(data, now(), topic, meta)
            else:
                frame = (DupFrame if dup else Frame)(data, now(), topic, meta)
            append(frame)
            if qos:
                due((frame, msg.mid, qos))

        return on_message

    def _retained(self, topic: str) -> None:
        """A retained message arrived: say so once per connection, before it is handed out."""
        if not self._retained_seen:
            self._retained_seen = True
            if self.options.notice is not None:
                self._notice_due = (
                    f"{self.endpoint}: retained messages follow (the broker's stored last value "
                    f"per topic, e.g. {topic!r}; not live events; --skip-retained drops them)"
                )

    # Receiving.
    #
    # Once connected, the socket is read here with PacketReader: one recv()
    # takes every message the kernel holds (paho reads three times per packet
    # and builds several objects per message), acknowledgements go out in one
    # send per read, and a QoS 1/2 message is acknowledged only after the
    # session has recorded and shown it (done()), so a persistent session
    # loses nothing when presencectl is killed. paho still does the parts with
    # the edge cases: TCP/TLS, CONNECT, SUBSCRIBE, --publish. If this paho has
    # no packet-boundary state to hand over (see _take_over), its own loop
    # keeps reading (slower, same results).

    def receive(self, timeout: float | None) -> Frame | None:
        """The next message; see :meth:`Source.receive`.

        Raises:
            ConnectionLost: after the messages that arrived before the loss.
        """
        if self._notice_due is not None and self.options.notice is not None:
            self.options.notice(self._notice_due)
            self._notice_due = None
        pending = self._pending
        if pending:
            return pending.popleft()
        pump: Callable[[float], None]
        if self._sock is not None:
            pump = self._pump
        elif self._client is not None:  # paho's loop: not taken over (or lost while taking over)
            pump = partial(self._step, self._client)
        else:
            raise ConnectionLost(self.endpoint, self._lost or "not connected", clean=self._lost_clean)
        if timeout is None:
            while not pending and self._lost is None:
                pump(1.0)
        else:
            deadline = time.monotonic() + timeout
            left = timeout
            while True:
                pump(left if left < 1.0 else 1.0)
                if pending or self._lost is not None:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
        if pending:
            if self._notice_due is not None and self.options.notice is not None:
                self.options.notice(self._notice_due)
                self._notice_due = None
            return pending.popleft()
        self._drop()
        raise ConnectionLost(self.endpoint, self._lost or "the broker closed the connection", clean=self._lost_clean)

    def pending(self) -> bool:
        """True when a message is ready; see :meth:`Source.pending`."""
        if self._pending:
            return True
        if self._sock is None and self._client is not None and self._lost is None:
            self._read(self._client)  # paho's loop: read the next packet if it is there
            return bool(self._pending)
        return False

    def done(self, frame: Frame, problem: str | None) -> None:
        """``frame`` is recorded and shown: acknowledge it if its QoS asks for that."""
        reader = self._reader
        if reader is not None:
            due = reader.due
            if due and due[0][0] is frame:
                _frame, pid, qos = due.popleft()
                reader.ack(pid, qos)
                return
        due = self._paho_due
        if due and due[0][0] is frame:
            _frame, pid, qos = due.popleft()
            if reader is not None:  # read by paho, acknowledged after the takeover: by us
                reader.ack_delivered(pid, qos)
            elif self._client is not None:
                self._client.ack(pid, qos)

    # The steady state: our own reader.

    def _take_over(self, client: Any) -> None:
        """Read the socket ourselves from the next packet boundary on.

        paho reads a packet in pieces and keeps QoS 2 messages until PUBREL;
        wait (briefly) until it holds neither, and has written all it queued.
        """
        deadline = time.monotonic() + self.options.connect_timeout
        while True:
            state = paho_internals.idle(client)
            if state is None:
                return  # a paho we do not know inside: keep its loop
            if state:
                break
            if self._lost is not None or time.monotonic() > deadline:
                return
            self._step(client, 0.05)
        sock = client.socket()
        if sock is None:
            return
        self._reader = PacketReader(
            self.options.version == 5,
            self._pending,
            skip_retained=self.options.skip_retained,
            on_retained=self._retained,
        )
        self._sock = sock
        self._last_sent = time.monotonic()
        self._ping_sent = None

    def _pump(self, timeout: float) -> None:
        """Send what is due (acknowledgements, a keep-alive ping), then wait up
        to ``timeout`` s for data and parse all of it."""
        sock = self._sock
        reader = self._reader
        assert sock is not None and reader is not None
        now = time.monotonic()
        keepalive = self.options.keepalive
        if self._ping_sent is not None:
            if now - self._ping_sent >= keepalive:
                self._lost = f"no answer to a keep-alive ping within {keepalive} s"
                return
        elif now - self._last_sent >= keepalive:
            reader.out += PINGREQ
            self._ping_sent = now
        out = reader.out
        if out and not self._send(sock, out):
            return
        pending_tls = getattr(sock, "pending", None)
        if pending_tls is None or not pending_tls():
            try:
                readable, writable, _ = select.select([sock], [sock] if out else [], [], timeout)
            except (OSError, ValueError) as exc:
                self._lost = f"the connection failed: {os_cause(exc)}"
                return
            if writable and not self._send(sock, out):
                return
            if not readable:
                return
        try:
            data = sock.recv(_RECV_SIZE)
        except (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return
        except OSError as exc:
            self._lost = lost_cause(exc)
            return
        if not data:
            self._lost = "the broker closed the connection"
            return
        self._ping_sent = None  # the broker is alive
        try:
            reader.feed(data, time.time())
        except ProtocolError as exc:
            self._lost = f"protocol error: {exc}"
            return
        if reader.disconnect is not None:
            self._lost = self._disconnect_text(reader.disconnect)
            self._lost_clean = reader.disconnect == 0

    def _send(self, sock: Any, out: bytearray) -> bool:
        """Send as much of ``out`` as the socket takes now; False when the connection failed."""
        try:
            sent = sock.send(out)
        except (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return True
        except OSError as exc:
            self._lost = lost_cause(exc)
            return False
        del out[:sent]
        self._last_sent = time.monotonic()
        return True

    def _disconnect_text(self, code: int) -> str:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.reasoncodes import ReasonCode

        try:
            reason: Any = ReasonCode(PacketTypes.DISCONNECT, identifier=code)
        except Exception:  # noqa: BLE001 - a code paho does not know
            return f"the broker disconnected us (reason 0x{code:02X})"
        text = f"the broker disconnected us: {reason_text(reason)}"
        if code == 0x8E:
            text += f" (another client connected with client id {self.client_id!r})"
        return text

    # Before the takeover (and with a paho we cannot take over from): paho's
    # "external event loop" API with our own select, not Client.loop(), which
    # selects before every packet and then writes a wake-up byte to a socket
    # pair for every packet sent.

    def _read(self, client: Any) -> None:
        """Read what the socket holds, without waiting; every 64 reads run the keep-alive chores."""
        rc = client.loop_read()
        if rc and self._lost is None:
            self._lost = rc_text(rc)
        self._reads += 1
        if not self._reads & 63:
            rc = client.loop_misc()
            if rc and self._lost is None:
                self._lost = rc_text(rc)

    def _step(self, client: Any, timeout: float) -> None:
        """One turn of paho's network loop: read, or wait up to ``timeout`` s for the socket."""
        self._read(client)
        if self._pending or self._lost is not None:
            return
        rc = client.loop_misc()  # PINGREQ when due; a loss when PINGRESP is overdue
        if rc:
            if self._lost is None:
                self._lost = rc_text(rc)
            return
        sock = client.socket()
        if sock is None:
            if self._lost is None:
                self._lost = "the broker closed the connection"
            return
        if client.want_write():
            client.loop_write()
        pending_tls = getattr(sock, "pending", None)
        if pending_tls is not None and pending_tls():
            return  # decrypted bytes wait inside the TLS layer: read them now
        try:
            readable, writable, _ = select.select(
                [sock], [sock] if client.want_write() else [], [], max(timeout, 0.0)
            )
        except (OSError, ValueError) as exc:  # the socket was closed under us
            if self._lost is None:
                self._lost = f"the connection failed: {os_cause(exc)}"
            return
        if writable:
            rc = client.loop_write()
            if rc and self._lost is None:
                self._lost = rc_text(rc)
        if readable:
            self._read(client)

    def close(self) -> None:
        """Send the acknowledgements that are due and DISCONNECT (best effort),
        then drop the socket; safe to call twice."""
        sock, reader = self._sock, self._reader
        if sock is not None and reader is not None and self._lost is None:
            try:
                sock.settimeout(1.0)
                sock.sendall(bytes(reader.out) + DISCONNECT)
                # Wait for the broker to close its side: closing ours while
                # messages it sent are still unread makes the kernel send a
                # reset, and the broker then drops what it had not read yet,
                # the acknowledgements included (they would be redelivered).
                deadline = time.monotonic() + 1.0
                while time.monotonic() < deadline and sock.recv(_RECV_SIZE):
                    pass
            except (OSError, ValueError):
                pass
        elif self._client is not None and self._lost is None:
            try:
                self._client.disconnect()
            except Exception:  # noqa: BLE001 - the connection is going away anyway
                pass
            self._lost = None  # paho reported our own DISCONNECT as a loss: it is not the broker's doing
        self._drop()

    def _drop(self) -> None:
        client, self._client = self._client, None
        sock, self._sock = self._sock, None
        self._reader = None
        if sock is None and client is not None:
            try:
                sock = client.socket()
            except Exception:  # noqa: BLE001
                sock = None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass
