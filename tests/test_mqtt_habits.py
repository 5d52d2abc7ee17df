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
    out = run_cli("tail", "--help-all", env=None).stdout.decode()  # -T is in the MQTT group
    assert "-t filters event types; a -t with / # + and no -T is refused" in " ".join(out.split())


# ------------------------------------------------------------------ item 3: topic and message properties

V5_PUB = ["-V", "5", "-D", "publish", "user-property", "origin", "gw-7", "-D", "publish", "user-property", "origin", "gw-8",
          "-D", "publish", "content-type", "application/json"]
DOOR = '{"type":"door/open","device":"d1"}'


def mosquitto_pub(broker: Broker, *args: str, payload: str) -> None:
    import subprocess

    from tests.conftest import require_binary

    subprocess.run([require_binary("mosquitto_pub"), *broker.client_args(), *args, "-m", payload],
                   check=True, capture_output=True, timeout=15)


@pytest.mark.broker
@pytest.mark.parametrize("version", ["3", "5"])
def test_mqtt5_properties_qos_and_retain_reach_json_and_the_capture(broker, tmp_path, version):
    capture = tmp_path / "p.capture.ndjson"
    mosquitto_pub(broker, "-t", "devices/d1/door", "-q", "1", "-r", *V5_PUB, payload=DOOR)
    with Cli("tail", broker.url, "-T", "devices/#", "--qos", "2", "--mqtt-version", version, "-f", "json",
             "-n", "3", "--record", str(capture)) as tail:
        tail.wait_stderr("connected to")
        mosquitto_pub(broker, "-t", "devices/d2/door", "-q", "2", *V5_PUB, payload=DOOR)
        mosquitto_pub(broker, "-t", "devices/d3/door", "-q", "0", payload=DOOR)
        assert tail.finish() == 0, tail.stderr
    events = [json.loads(line) for line in tail.stdout.splitlines()]
    props = [["origin", "gw-7"], ["origin", "gw-8"]]
    if version == "5":
        expected = [
            {"retained": True, "qos": 1, "content_type": "application/json", "user_properties": props},
            {"qos": 2, "content_type": "application/json", "user_properties": props},
            {},
        ]
    else:  # MQTT 3.1.1 carries no properties
        expected = [{"retained": True, "qos": 1}, {"qos": 2}, {}]
    extra = [{k: e[k] for k in ("retained", "qos", "content_type", "user_properties") if k in e} for e in events]
    assert extra == expected
    assert [e["topic"] for e in events] == ["devices/d1/door", "devices/d2/door", "devices/d3/door"]
    assert all(list(e)[-1] == "payload" and list(e)[:9] == ["time", "dialect", "type", "kind", "subject", "summary",
               "topic", "received", "presence"] for e in events)
    # The capture keeps them (optional record keys) and cat reads them back.
    records = [json.loads(line) for line in capture.read_text().splitlines()[1:]]
    frames = [r for r in records if "text" in r]
    assert [{k: r[k] for k in r if k not in ("t", "topic", "text")} for r in frames] == expected
    again = run_cli("cat", str(capture), "-f", "json")
    assert [json.loads(line) for line in again.stdout.splitlines()] == events


@pytest.mark.broker
def test_topic_is_shown_in_pretty_and_compact_and_properties_with_v(broker):
    with Cli("tail", broker.url, "-T", "devices/#", "--qos", "1", "--mqtt-version", "5", "-f", "pretty",
             "--color", "always", "-v", "-n", "1") as tail:
        tail.wait_stderr("connected to")
        mosquitto_pub(broker, "-t", "devices/d1/door", "-q", "1", *V5_PUB, payload='{"temp":21}')
        assert tail.finish() == 0, tail.stderr
    out = tail.stdout.decode()
    first, meta = out.splitlines()[:2]
    assert first.endswith("  \x1b[2mdevices/d1/door\x1b[0m")  # dim, after the summary
    assert meta == "    \x1b[2mQoS 1, content type application/json, user properties: origin=gw-7, origin=gw-8\x1b[0m"
    assert '"temp"' in out
    with Cli("tail", broker.url, "-T", "devices/#", "-f", "compact", "-n", "1", "--time", "none") as tail:
        tail.wait_stderr("connected to")
        mosquitto_pub(broker, "-t", "devices/[bold]d1/\u202edoor", payload='{"temp":21}')
        assert tail.finish() == 0, tail.stderr
    assert tail.stdout.decode() == "generic - - temp=21 topic=devices/[bold]d1/\\u202edoor\n"  # escaped, no markup


@pytest.mark.broker
@pytest.mark.parametrize("version", ["3", "5"])
def test_replay_to_mqtt_republishes_properties_and_the_retain_flag(broker, tmp_path, version):
    import subprocess

    from tests.conftest import require_binary

    capture = tmp_path / "p.capture.ndjson"
    mosquitto_pub(broker, "-t", "src/d1", "-q", "1", "-r", *V5_PUB, payload=DOOR)
    with Cli("record", broker.url, "-T", "src/#", "--qos", "1", "--mqtt-version", "5", "-o", str(capture), "-n", "2") as rec:
        rec.wait_stderr("connected to")
        mosquitto_pub(broker, "-t", "src/d2", "-q", "1", "-V", "5", "-D", "publish", "user-property", "k", "v", payload=DOOR)
        assert rec.finish() == 0, rec.stderr
    sub = subprocess.Popen(
        [require_binary("mosquitto_sub"), *broker.client_args(), "-V", "5", "-t", "copy/#", "-C", "2", "-W", "20",
         "--retain-as-published", "-F", "%t|%r|%C|%P|%p"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    import time

    time.sleep(0.5)  # let it subscribe
    for qos in ("0", "1"):  # QoS 0 goes through the fast encoder, 1 through paho
        result = run_cli("replay", str(capture), "--to", broker.url, "--topic-prefix", "src/=copy/", "--speed", "max",
                         "--mqtt-version", version, "--qos", qos)
        assert result.returncode == 0, result.stderr
        err = result.stderr.decode()
        assert "1 retained" in err
        assert ("cannot carry the recorded content types" in err) == (version == "3")
        if qos == "0":
            out, _ = sub.communicate(timeout=30)
            lines = out.decode().splitlines()
            # The retained copy is stored by the broker; the live one is not.
            if version == "5":
                assert lines == [f"copy/d1|1|application/json|origin:gw-7 origin:gw-8|{DOOR}", f"copy/d2|0||k:v|{DOOR}"]
            else:
                assert lines == [f"copy/d1|1|||{DOOR}", f"copy/d2|0|||{DOOR}"]
    stored = subprocess.run(
        [require_binary("mosquitto_sub"), *broker.client_args(), "-V", "5", "-t", "copy/#", "-C", "1", "-W", "5",
         "-F", "%t|%r|%P"], capture_output=True, timeout=30,
    )
    expected = "copy/d1|1|origin:gw-7 origin:gw-8" if version == "5" else "copy/d1|1|"
    assert stored.stdout.decode().strip() == expected


# ------------------------------------------------------------------ sans-I/O: the reader, the capture, the encoder


def test_reader_keeps_content_type_user_properties_and_qos():
    from collections import deque

    from presencectl.core.protocols.mqtt import PacketReader, ProtocolError, encode_properties
    from tests.transports.test_mqtt import publish_packet

    props = (
        b"\x01\x01" + b"\x02\x00\x00\x00\x3c" + b"\x03\x00\x10application/json" + b"\x08\x00\x01r"
        + b"\x09\x00\x02\xff\x00" + b"\x0b\x81\x01" + b"\x23\x00\x05"
        + b"\x26\x00\x01k\x00\x01v" + b"\x26\x00\x01k\x00\x02v2"
    )
    data = publish_packet("a/b", b"{}", qos=1, pid=3, v5=True, properties=props, retain=True)
    data += publish_packet("a/c", b"{}", qos=2, pid=4, v5=True)
    data += publish_packet("a/d", b"{}", v5=True)
    queue: deque = deque()
    reader = PacketReader(True, queue)
    for i in range(len(data)):  # byte by byte: properties are parsed only on whole packets
        reader.feed(data[i : i + 1], 1.0)
    metas = [f.meta for f in queue]
    assert metas == [
        {"qos": 1, "content_type": "application/json", "user_properties": [["k", "v"], ["k", "v2"]]},
        {"qos": 2},
        None,
    ]
    assert queue[0].retained
    # What the replay encoder writes reads back the same.
    encoded = encode_properties(metas[0])
    again: deque = deque()
    PacketReader(True, again).feed(publish_packet("x", b"{}", v5=True, properties=encoded), 1.0)
    assert again[0].meta == {"content_type": "application/json", "user_properties": [["k", "v"], ["k", "v2"]]}
    with pytest.raises(ProtocolError):
        PacketReader(True, deque()).feed(publish_packet("x", b"{}", v5=True, properties=b"\x7f\x00"), 1.0)
    with pytest.raises(ProtocolError):
        PacketReader(True, deque()).feed(publish_packet("x", b"", v5=True, properties=b"\x26\x00\x09k"), 1.0)


def test_capture_records_round_trip_the_properties_and_drop_bad_ones():
    from presencectl.core.capture import decode_record, encode_frame
    from presencectl.core.events import Frame, RetainedFrame

    meta = {"qos": 2, "content_type": "text/plain", "user_properties": [["a", "1"], ["a", "2"]]}
    for frame in (Frame('{"x":1}', 1.5, "t/1", meta), RetainedFrame(b"\xff", 2.0, "t/2", meta), Frame("{}", 3.0, "t/3")):
        back = decode_record(encode_frame(frame))
        assert (type(back), back.data, back.t, back.topic, back.meta, back.retained) == (
            type(frame), frame.data, frame.t, frame.topic, frame.meta, frame.retained,
        )
    assert encode_frame(Frame("{}", 3.0, "t/3")) == b'{"t":3.0,"topic":"t/3","text":"{}"}\n'  # unchanged when absent
    hostile = b'{"t":1,"topic":"x","text":"{}","qos":7,"content_type":5,"user_properties":[["a"],[1,"b"],"c",["ok","1"]]}'
    assert decode_record(hostile).meta == {"user_properties": [["ok", "1"]]}
    assert decode_record(b'{"t":1,"topic":"x","text":"{}","qos":true,"dup":true}').meta is None
