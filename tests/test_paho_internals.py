"""The paho-mqtt internals presencectl uses (transports/paho_internals.py), on a real broker.

These fail loudly when paho changes inside: presencectl would still work
(it falls back to paho's public API) but several times slower, silently.
When one fails after a paho upgrade, adapt paho_internals.py, then update
TESTED there and the paho-mqtt pin in pyproject.toml.
"""

from __future__ import annotations

import time
from importlib.metadata import version

import pytest

from presencectl.cli.sources import mqtt_source_from_args
from presencectl.transports import paho_internals
from tests.mqtt_support import Brokers, wait_until

PAHO = version("paho-mqtt")


@pytest.fixture
def broker(tmp_path):
    with Brokers(tmp_path) as make:
        yield make()


def _connected_client(broker):  # type: ignore[no-untyped-def]
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="paho-internals-test")
    connack: list[object] = []
    client.on_connect = lambda c, u, f, reason, p: connack.append(reason)
    client.connect("127.0.0.1", broker.port, 30)
    assert wait_until(lambda: client.loop(0.05) == 0 and bool(connack)), "no CONNACK"
    return client


def test_the_installed_paho_is_one_the_internals_were_checked_on():
    assert PAHO in paho_internals.TESTED, (
        f"paho-mqtt {PAHO} is not in paho_internals.TESTED {paho_internals.TESTED}: run this file, "
        "adapt paho_internals.py if it fails, then add the version there and widen the pin in pyproject.toml"
    )


def test_idle_reads_paho_s_packet_state(broker):
    client = _connected_client(broker)
    try:
        state = paho_internals.idle(client)
        assert state is not None, f"paho-mqtt {PAHO}: no _in_packet/_in_messages as paho_internals expects"
        assert wait_until(lambda: client.loop(0.02) == 0 and paho_internals.idle(client) is True)
    finally:
        client.disconnect()


def test_raw_packets_go_out_as_they_are(broker):
    watcher = broker.subscriber("internals/raw", 2)
    client = _connected_client(broker)
    try:
        assert paho_internals.can_queue_raw(client), f"paho-mqtt {PAHO}: no _packet_queue/_out_packet"
        topic = b"internals/raw"

        def publish(payload: bytes) -> bytes:  # QoS 0 PUBLISH, MQTT 3.1.1 (short: one length byte)
            body = len(topic).to_bytes(2, "big") + topic + payload
            return b"\x30" + bytes([len(body)]) + body

        paho_internals.queue_raw(client, publish(b'{"n":1}') + publish(b'{"n":2}'))
        assert wait_until(lambda: client.loop(0.02) == 0 and paho_internals.queued_raw(client) == 0)
    finally:
        client.disconnect()
    out, _ = watcher.communicate(timeout=30)
    assert out.decode().splitlines() == ['internals/raw {"n":1}', 'internals/raw {"n":2}']


def test_the_subscriber_takes_the_socket_over(broker):
    """MqttSource reads with its own PacketReader once subscribed (the fast path), not paho's loop."""
    source = mqtt_source_from_args(broker.url, topics=["internals/#"], qos=1)
    source.connect()
    try:
        broker.publish("internals/a", '{"a":1}', qos=1)
        deadline = time.monotonic() + 15
        frame = None
        while frame is None and time.monotonic() < deadline:
            frame = source.receive(0.5)
        assert frame is not None and frame.data == '{"a":1}'
        assert source._reader is not None, f"paho-mqtt {PAHO}: the takeover did not happen (paho's slow loop kept reading)"
    finally:
        source.close()
