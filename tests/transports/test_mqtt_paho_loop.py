"""The MQTT source on paho's own loop gives the same results as on presencectl's reader.

``MqttSource`` takes the socket over from paho once subscribed (fast path); with
a paho whose insides it does not know (``paho_internals.idle`` returns None) it
keeps paho's loop ("slower, same results"). That promise is checked here against
a real mosquitto, both ways: messages in order, ``pending()`` after a burst, the
loss of the broker, ``receive()`` after the loss, and ``close()``. (The CLI takes
the paho loop too when a QoS 2 PUBREL is late: ``test_mqtt_paths.py``.)

In-process: the CLI cannot be given another paho."""

from __future__ import annotations

import pytest

from presencectl.cli.sources import mqtt_source_from_args
from presencectl.transports import paho_internals
from presencectl.transports.base import ConnectionLost
from tests.conftest import wait_until
from tests.mqtt_support import Brokers


@pytest.fixture
def broker(tmp_path):
    with Brokers(tmp_path) as make:
        yield make()


@pytest.fixture(params=["known paho", "unknown paho"])
def paho(request, monkeypatch) -> str:
    if request.param == "unknown paho":
        monkeypatch.setattr(paho_internals, "idle", lambda client: None)
    return request.param


def test_messages_a_burst_and_a_loss_read_alike(broker, paho):
    source = mqtt_source_from_args(broker.url, topics=["m/#"], qos=1)
    source.connect()
    try:
        assert (source._sock is not None) == (paho == "known paho")  # the path under test is taken
        broker.publish_many("m/x", [f'{{"n":{i}}}' for i in range(5)], qos=1)
        first = wait_until(lambda: source.receive(0.2), "the first message")
        source.done(first, None)
        # the rest arrived in the same burst: pending() says so, receive(0) returns at once
        seen = [first]
        while len(seen) < 5:
            wait_until(source.pending, "the next message to be ready")
            frame = source.receive(0)
            assert frame is not None
            source.done(frame, None)
            seen.append(frame)
        assert [f.data for f in seen] == [f'{{"n":{i}}}' for i in range(5)]
        assert [(f.topic, (f.meta or {}).get("qos")) for f in seen] == [("m/x", 1)] * 5
        assert not source.pending()
        assert source.receive(0.05) is None
        broker.stop()
        with pytest.raises(ConnectionLost) as lost:
            wait_until(lambda: source.receive(0.2), "the loss to be noticed")
        assert str(lost.value) == f"{broker.url}: connection lost: the broker closed the connection"
        assert not lost.value.clean
        with pytest.raises(ConnectionLost, match="the broker closed the connection"):
            source.receive(0)  # after the loss, until connect(): the same cause
    finally:
        source.close()


def test_close_says_goodbye_on_either_loop(broker, paho):
    source = mqtt_source_from_args(broker.url, topics=["m/#"], client_id=f"bye-{paho[:5]}")
    source.connect()
    source.close()
    source.close()  # twice is fine
    assert wait_until(lambda: f"Client bye-{paho[:5]} disconnected." in broker.log_text(), "the DISCONNECT")
    with pytest.raises(ConnectionLost, match="not connected"):
        source.receive(0)


def test_a_broker_that_stops_answering_pings_reads_alike(broker, paho):
    import signal

    source = mqtt_source_from_args(broker.url, topics=["k/#"], keepalive=1)
    source.connect()
    broker.publish("k/1", '{"n": 1}')
    assert wait_until(lambda: source.receive(0.2), "the first message").data == '{"n": 1}'
    assert broker.process is not None
    broker.process.send_signal(signal.SIGSTOP)  # frozen: the socket stays open, nothing answers
    try:
        with pytest.raises(ConnectionLost) as lost:
            wait_until(lambda: source.receive(0.2), "the loss to be noticed", timeout=60)
    finally:
        broker.process.send_signal(signal.SIGCONT)
        source.close()
    assert str(lost.value) == f"{broker.url}: connection lost: no answer to a keep-alive ping within 1 s"
    assert not lost.value.clean


@pytest.mark.parametrize("when", ["queued while away", "live"])
def test_a_qos1_message_is_acknowledged_only_once_done(broker, paho, when):
    """SPEC §5.1 on either loop, for messages the broker had queued (they come
    before the subscription is confirmed, while paho still reads) and live
    ones: a message received but never done() (presencectl killed before it
    was recorded) comes again on the next connect; one done() does not."""
    options = {"topics": ["q/#"], "qos": 1, "client_id": f"pctl-ack-{paho[:3]}-{when[:4]}", "clean_session": False}
    source = mqtt_source_from_args(broker.url, **options)
    source.connect()
    if when == "queued while away":
        source.close()
        broker.publish_many("q/x", [f'{{"n":{i}}}' for i in range(20)], qos=1)
        source = mqtt_source_from_args(broker.url, **options)
        source.connect()
    else:
        broker.publish_many("q/x", [f'{{"n":{i}}}' for i in range(20)], qos=1)
    try:
        got = []
        while len(got) < 20:
            frame = wait_until(lambda: source.receive(0.2), f"message {len(got)}")
            got.append(frame)
            if len(got) <= 5:
                source.done(frame, None)
        assert [f.data for f in got] == [f'{{"n":{i}}}' for i in range(20)]
        # Let anything queued go out before the goodbye (a done() ack must not be lost either).
        source.receive(0.2)
    finally:
        source.close()
    source = mqtt_source_from_args(broker.url, **options)
    source.connect()
    try:
        again = []
        while (frame := source.receive(1.0)) is not None:
            again.append(frame.data)
            source.done(frame, None)
    finally:
        source.close()
    assert again == [f'{{"n":{i}}}' for i in range(5, 20)]
