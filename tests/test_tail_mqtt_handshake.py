"""``tail mqtt://`` at connect time, as a user sees it: the QoS the broker granted, a
``--publish`` the broker refuses, a peer that never answers CONNECT. Real mosquitto,
the CLI as a subprocess. (A broker that stops answering keep-alive pings is in
``transports/test_mqtt_paho_loop.py``, on both of the source's loops.)"""

from __future__ import annotations

import pytest

from tests.conftest import assert_no_traceback, run_cli
from tests.mqtt_support import Brokers
from tests.test_replay_to_mqtt_errors import Peer


@pytest.fixture
def make_broker(tmp_path):
    with Brokers(tmp_path) as make:
        yield make


@pytest.mark.parametrize(("version", "name"), [("5", "MQTT 5"), ("3", "MQTT 3.1.1")])
def test_the_connect_line_says_when_the_broker_grants_less_qos_than_asked(make_broker, version, name):
    broker = make_broker(extra=["max_qos 1"])
    result = run_cli("tail", broker.url, "-T", "a/#", "--qos", "2", "--mqtt-version", version,
                     "--timeout", "0.5", "--no-reconnect")
    assert_no_traceback(result)
    assert result.returncode == 0, result.stderr
    assert result.stderr.decode().splitlines()[0] == (
        f"presencectl: connected to {broker.url} ({name}, subscribed to 'a/#' (QoS 2 asked, 1 granted))"
    )


def test_a_publish_the_broker_refuses_is_fatal_even_with_reconnect(make_broker):
    # MQTT 5 says why in the PUBACK; reconnecting would only be refused again.
    broker = make_broker(acl=["topic read a/#"])
    result = run_cli("tail", broker.url, "-T", "a/#", "--qos", "1", "--mqtt-version", "5",
                     "--publish", "a/request", '{"q": 1}', timeout=60)
    assert_no_traceback(result)
    assert result.returncode == 1
    assert result.stderr.decode().splitlines() == [
        f"presencectl: error: {broker.url}: the broker refused the publish to 'a/request': Not authorized (0x87)"
    ]


def test_a_peer_that_never_answers_connect_is_named_as_maybe_not_a_broker():
    peer = Peer(hang_up=False)
    try:
        result = run_cli("tail", f"mqtt://127.0.0.1:{peer.port}", "-T", "a/#", "--connect-timeout", "0.5",
                         "--no-reconnect")
    finally:
        peer.close()
    assert_no_traceback(result)
    assert result.returncode == 1
    assert result.stderr.decode().splitlines()[-1] == (
        f"presencectl: error: mqtt://127.0.0.1:{peer.port}: no CONNACK from 127.0.0.1:{peer.port} within 0.5 s (is it an MQTT broker?)"
    )
