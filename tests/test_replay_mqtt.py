"""replay --to mqtt:// into a real mosquitto, read back by mosquitto_sub (the Debian client)."""

from __future__ import annotations

import json

import pytest

from presencectl.core.events import Frame
from tests.conftest import assert_no_traceback, fixture, run_cli
from tests.mqtt_support import Brokers
from tests.replay_support import capture_frames


@pytest.fixture
def broker(tmp_path):
    with Brokers(tmp_path) as make:
        yield make()


def test_replay_republishes_on_recorded_topics_with_a_prefix(broker):
    capture = fixture("aliyun.capture.ndjson")
    frames = [f for f in capture_frames(capture) if isinstance(f, Frame)]
    watcher = broker.subscriber("test/#", len(frames))
    result = run_cli("replay", str(capture), "--to", broker.url, "--topic-prefix", "test/", "--speed", "max", "--qos", "1")
    assert_no_traceback(result)
    assert result.returncode == 0, result.stderr
    out, _ = watcher.communicate(timeout=30)
    got = [line.split(" ", 1) for line in out.decode().splitlines()]
    assert [topic for topic, _ in got] == ["test/" + f.topic for f in frames]
    assert [payload for _, payload in got] == [f.data for f in frames]  # byte for byte
    assert f"replayed {len(frames)} frames" in result.stderr.decode()


def test_replay_to_mqtt_needs_a_topic_for_websocket_frames(broker):
    watcher = broker.subscriber("span/#", 3)
    result = run_cli(
        "replay", str(fixture("span-activity.capture.ndjson")), "--to", broker.url,
        "--topic", "span/activity", "--speed", "max", "-n", "3",
    )
    assert result.returncode == 0, result.stderr
    out, _ = watcher.communicate(timeout=30)
    lines = out.decode().splitlines()
    assert len(lines) == 3 and all(line.startswith("span/activity {") for line in lines)
    json.loads(lines[0].split(" ", 1)[1])


def test_replay_to_an_unreachable_broker_is_one_line():
    from tests.conftest import free_port

    result = run_cli("replay", str(fixture("aliyun.capture.ndjson")), "--to", f"mqtt://127.0.0.1:{free_port()}", "--speed", "max")
    assert_no_traceback(result)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1


def test_retained_messages_are_marked_on_screen_and_in_the_capture(broker, tmp_path):
    broker.publish("devices/d1/status", '{"event":"deviceOnline","device":"d1"}', retain=True)
    capture = tmp_path / "r.capture.ndjson"
    result = run_cli("tail", broker.url, "-T", "devices/#", "-f", "json", "-n", "1", "--record", str(capture), timeout=60)
    assert result.returncode == 0, result.stderr
    (event,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert event["summary"].startswith("(retained)") and event["topic"] == "devices/d1/status"
    records = [json.loads(line) for line in capture.read_text().splitlines()[1:]]
    assert [r.get("retained") for r in records if "text" in r] == [True]
    again = run_cli("cat", str(capture), "-f", "compact", "--time", "none")
    assert b"(retained)" in again.stdout
