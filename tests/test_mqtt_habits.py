"""MQTT users' habits (issue 15): ``-t`` is not ``mosquitto_sub -t``; the topic
and the message properties stay visible. Real mosquitto, real CLI."""

from __future__ import annotations

import json

import pytest

from tests.conftest import assert_no_traceback, run_cli
from tests.live_support import Cli
from tests.mqtt_support import Broker, Brokers


@pytest.fixture
def broker(tmp_path) -> Broker:
    with Brokers(tmp_path) as make:
        yield make()


@pytest.mark.broker
@pytest.mark.parametrize("command", ["tail", "record"])
@pytest.mark.parametrize("value", ["devices/#", "devices/+/presence", "+", "!a/b"])
def test_a_topic_filter_given_to_t_without_T_is_refused(broker, tmp_path, command, value):
    extra = ["-o", str(tmp_path / "x.capture.ndjson")] if command == "record" else []
    result = run_cli(command, broker.url, "-t", value, *extra, "--timeout", "1", timeout=30)
    assert_no_traceback(result)
    err = result.stderr.decode()
    assert result.returncode == 2, err
    assert err.count("\n") == 1 and err.startswith("presencectl: error: ")
    assert "-t filters event types; subscribe with -T/--topic" in err
    assert not (tmp_path / "x.capture.ndjson").exists()
    assert "connected" not in err


@pytest.mark.broker
def test_with_T_a_type_holding_a_slash_is_kept_with_a_warning(broker):
    with Cli("tail", broker.url, "-T", "devices/#", "-t", "door/*", "-f", "json", "-n", "1") as tail:
        tail.wait_stderr("connected to")
        broker.publish("devices/d1", '{"type":"window/open","device":"d1"}')
        broker.publish("devices/d1", '{"type":"door/open","device":"d1"}')
        assert tail.finish() == 0, tail.stderr
    assert "-t filters event types, not topics" in tail.stderr
    assert "warning:" in tail.stderr
    assert [json.loads(line)["type"] for line in tail.stdout.splitlines()] == ["door/open"]


def test_plain_type_globs_on_mqtt_say_nothing():
    # Checked before connecting: a type glob without / # + goes on to connect (and fails: no broker).
    result = run_cli("tail", "mqtt://127.0.0.1:1", "-t", "thing.*", "--no-reconnect", timeout=30)
    assert "event types" not in result.stderr.decode()
    assert result.returncode == 1


def test_the_rule_is_in_help():
    out = run_cli("tail", "--help", env=None).stdout.decode()
    assert "filters event types" in " ".join(out.split())
