"""The MQTT source and replay target: the packet reader on its own, then against a real mosquitto.

Broker tests drive :class:`MqttSource` through :class:`presencectl.engine.session.Session`
(decode → ``-f json`` render → capture), the way ``tail``/``record`` do, or
directly where the transport's own behaviour is the point.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import re
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path

import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from presencectl.cli.mqtt_options import (
    AliyunDeviceOpt,
    CleanSessionOpt,
    MqttArgs,
    MqttCommand,
    MqttVersionOpt,
    PublishOpt,
    QosOpt,
    TopicOpt,
)
from presencectl.core.capture import make_header
from presencectl.core.decode import Decoder
from presencectl.core.events import Frame
from presencectl.core.render import RenderOptions, make_renderer
from presencectl.engine.runner import Pipeline
from presencectl.engine.session import Backoff, Session
from presencectl.errors import TransportError, UsageError
from presencectl.transports.base import CannotConnect, ConnectionLost, Source
from presencectl.transports.files import CaptureReader, CaptureWriter
from presencectl.transports.mqtt import (
    MqttSource,
    MqttTarget,
    PacketReader,
    ProtocolError,
    RetainedFrame,
    check_topic_filter,
    check_topic_name,
    mqtt_source_from_args,
    parse_mqtt_url,
    read_payload,
    rewrite_topic,
)
from presencectl.ui.console import Environment, Output
from tests.conftest import fixture, free_port, require_binary
from tests.mqtt_support import Broker, Brokers, wait_until

ALIYUN = sorted(fixture("samples/aliyun").glob("*.json"))


@pytest.fixture
def make_broker(tmp_path):
    """``make_broker(users=…, tls=…, deny_subscribe=…)`` → a started mosquitto."""
    with Brokers(tmp_path) as make:
        yield make


@pytest.fixture
def broker(make_broker) -> Broker:
    """A plain, anonymous mosquitto on a free loopback port."""
    return make_broker()


# ------------------------------------------------------------------ URLs, topics, options


def test_parse_url_defaults_and_credentials():
    assert parse_mqtt_url("mqtt://broker").port == 1883
    url = parse_mqtt_url("mqtts://bob:p%40ss%3Aw@broker.example:9999/")
    assert (url.secure, url.host, url.port, url.username, url.password) == (
        True, "broker.example", 9999, "bob", "p@ss:w",
    )
    assert parse_mqtt_url("mqtts://[::1]").port == 8883


@pytest.mark.parametrize(
    "url, words",
    [
        ("ws://broker", "mqtt:// or mqtts://"),
        ("mqtt://", "no host"),
        ("mqtt://broker:99999", "bad URL"),
        ("mqtt://broker/devices/#", "-T/--topic"),
        ("mqtt://broker?x=1", "-T/--topic"),
    ],
)
def test_bad_urls_are_usage_errors(url, words):
    with pytest.raises(UsageError, match=re.escape(words)):
        parse_mqtt_url(url)


def test_bad_url_message_hides_the_password():
    with pytest.raises(UsageError) as err:
        parse_mqtt_url("mqtt://bob:hunter2@broker/x")
    assert "hunter2" not in str(err.value)


@pytest.mark.parametrize("topic", ["#", "a/#", "+", "a/+/c", "/sys/+/+/app/down/#", "$share/g/a/#", "a//b"])
def test_good_filters(topic):
    check_topic_filter(topic)


@pytest.mark.parametrize("topic", ["", "a/#/b", "a#", "a/b+", "+a/b", "a\x00b"])
def test_bad_filters(topic):
    with pytest.raises(UsageError, match="--topic"):
        check_topic_filter(topic)


@pytest.mark.parametrize("topic", ["a/+", "#", ""])
def test_publish_topics_take_no_wildcards(topic):
    with pytest.raises(UsageError, match="--publish"):
        check_topic_name(topic)


def test_read_payload(tmp_path):
    path = tmp_path / "bind.json"
    path.write_bytes(b'{"id": "1"}\n')
    assert read_payload(f"@{path}") == b'{"id": "1"}'
    assert read_payload("@@home") == b"@home"
    assert read_payload("plain ✓") == "plain ✓".encode()
    with pytest.raises(UsageError, match="--publish @"):
        read_payload(f"@{tmp_path / 'missing.json'}")


def test_rewrite_topic():
    topic = "/sys/a1pk/dn/app/down/thing/status"
    assert rewrite_topic(topic, None) == topic
    assert rewrite_topic(topic, "lab") == "lab/sys/a1pk/dn/app/down/thing/status"
    assert rewrite_topic(topic, "/sys/a1pk/=/sys/a1lab/") == "/sys/a1lab/dn/app/down/thing/status"
    assert rewrite_topic("other/x", "/sys/a1pk/=/sys/a1lab/") == "other/x"


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"share": "g", "mqtt_version": "3"}, "--share needs MQTT 5"),
        ({"share": "a/b"}, "bad --share"),
        ({"mqtt_version": "4.5"}, "--mqtt-version"),
        ({"qos": 3}, "--qos"),
        ({"device_secret": "s"}, "--device-secret needs --aliyun-device"),
        ({"aliyun_device": "pk/dn"}, "needs --device-secret"),
        ({"aliyun_device": "pk/dn", "device_secret": "s", "username": "u"}, "drop --username"),
        ({"aliyun_device": "pkdn", "device_secret": "s"}, "PRODUCTKEY/DEVICENAME"),
        ({"cacert": "ca.pem"}, "need an mqtts:// URL"),
        ({"insecure": True}, "need an mqtts:// URL"),
        ({"password": "p"}, "needs a user name"),
        ({"clean_session": False}, "--no-clean-session needs --client-id"),
        ({"topics": ["a/#/b"]}, "bad --topic"),
        ({"publish": [("a/+", "x")]}, "no wildcards"),
        ({"publish": ["a/b"]}, "two values"),
    ],
)
def test_option_misuse_is_a_usage_error(kwargs, words):
    with pytest.raises(UsageError, match=re.escape(words)):
        mqtt_source_from_args("mqtt://127.0.0.1:1", **kwargs)


def test_aliyun_credentials_in_the_url_are_refused():
    with pytest.raises(UsageError, match="credentials in the URL"):
        mqtt_source_from_args("mqtts://u:p@h", aliyun_device="pk/dn", device_secret="s")


def test_credentials_flag_then_url_then_environment():
    env = {"PRESENCECTL_PASSWORD": "from-env"}
    source = mqtt_source_from_args("mqtt://bob:from-url@h", password="from-flag", environ=env)
    assert (source.options.username, source.options.password) == ("bob", "from-flag")
    source = mqtt_source_from_args("mqtt://bob:from-url@h", environ=env)
    assert source.options.password == "from-url"
    source = mqtt_source_from_args("mqtt://bob@h", environ=env)
    assert source.options.password == "from-env"
    source = mqtt_source_from_args("mqtt://h", username="ann", environ=env)
    assert (source.options.username, source.options.password) == ("ann", "from-env")
    source = mqtt_source_from_args("mqtt://h", environ=env)  # no user: the env is not used
    assert source.options.password is None


def test_source_shape():
    source = mqtt_source_from_args("mqtt://bob:secret@h:1884", topics=["a/#", "b"], share="rec")
    assert isinstance(source, Source)
    assert source.endpoint == "mqtt://REDACTED:REDACTED@h:1884"
    assert source.transport == "mqtt" and source.markers
    assert source.topics == ["$share/rec/a/#", "$share/rec/b"]
    assert source.options.version == 5  # --share implies MQTT 5


# ------------------------------------------------------------------ the packet reader


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 127, n >> 7
        out.append(byte | (128 if n else 0))
        if not n:
            return bytes(out)


def publish_packet(
    topic: str | bytes, payload: bytes, qos: int = 0, pid: int = 0, *, retain: bool = False,
    dup: bool = False, v5: bool = False, properties: bytes = b"",
) -> bytes:
    raw = topic.encode() if isinstance(topic, str) else topic
    body = len(raw).to_bytes(2, "big") + raw
    if qos:
        body += pid.to_bytes(2, "big")
    if v5:
        body += varint(len(properties)) + properties
    body += payload
    b0 = 0x30 | (qos << 1) | (8 if dup else 0) | (1 if retain else 0)
    return bytes([b0]) + varint(len(body)) + body


def read_all(data: bytes, v5: bool = False, cuts: list[int] | None = None) -> tuple[list[Frame], PacketReader]:
    frames: list[Frame] = []
    queue: deque = deque()
    reader = PacketReader(v5, queue)
    points = [0, *(cuts or []), len(data)]
    for start, end in zip(points, points[1:], strict=False):
        reader.feed(data[start:end], 1.5)
        frames.extend(queue)
        queue.clear()
    return frames, reader


STREAM = b"".join(
    [
        publish_packet("a/b", b'{"event":"x"}'),
        publish_packet("/sys/pk/dn/app/down/thing/status", "déjà ✓".encode(), qos=1, pid=7),
        publish_packet("bin", b"\xff\xfe\x00", qos=2, pid=300),
        publish_packet("r/1", b"stored", retain=True),
        publish_packet("big", b"x" * 70_000),
        b"\xd0\x00",  # PINGRESP
        publish_packet("empty", b""),
    ]
)
EXPECTED = [
    ("a/b", '{"event":"x"}', False),
    ("/sys/pk/dn/app/down/thing/status", "déjà ✓", False),
    ("bin", b"\xff\xfe\x00", False),
    ("r/1", "stored", True),
    ("big", "x" * 70_000, False),
    ("empty", "", False),
]


def shape(frames: list[Frame]) -> list[tuple]:
    return [(f.topic, f.data, isinstance(f, RetainedFrame)) for f in frames]


def test_reader_parses_a_stream_in_one_piece():
    frames, reader = read_all(STREAM)
    assert shape(frames) == EXPECTED
    assert all(f.t == 1.5 for f in frames)
    assert [(pid, qos) for _f, pid, qos in reader.due] == [(7, 1), (300, 2)]
    assert getattr(frames[3], "retained", False) and not getattr(frames[0], "retained", False)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(STREAM) - 1), max_size=12, unique=True))
def test_reader_gives_the_same_frames_however_the_bytes_are_cut(cuts):
    frames, _ = read_all(STREAM, cuts=sorted(cuts))
    assert shape(frames) == EXPECTED


def test_reader_every_single_byte_cut_of_small_packets():
    data = publish_packet("t/1", b"hello", qos=1, pid=1) + publish_packet("t/2", b"{}", v5=False)
    for cut in range(1, len(data)):
        frames, _ = read_all(data, cuts=[cut])
        assert shape(frames) == [("t/1", "hello", False), ("t/2", "{}", False)]


def test_reader_skips_mqtt5_properties():
    props = b"\x01\x01" + b"\x26" + b"\x00\x01k\x00\x01v"  # payload format indicator, user property k=v
    data = publish_packet("v5/t", b'{"a":1}', qos=1, pid=2, v5=True, properties=props)
    data += publish_packet("v5/u", b"plain", v5=True)
    frames, _ = read_all(data, v5=True, cuts=[5])
    assert shape(frames) == [("v5/t", '{"a":1}', False), ("v5/u", "plain", False)]


def test_reader_acks_and_qos2_flow():
    frames, reader = read_all(publish_packet("q", b"2", qos=2, pid=0x0102))
    frame, pid, qos = reader.due.popleft()
    reader.ack(pid, qos)
    assert bytes(reader.out) == b"\x50\x02\x01\x02"  # PUBREC
    reader.out.clear()
    # The broker resends before our PUBREC arrived: a duplicate, answered, not delivered again.
    reader.feed(publish_packet("q", b"2", qos=2, pid=0x0102, dup=True), 2.0)
    assert len(reader.frames) == 0
    assert bytes(reader.out) == b"\x50\x02\x01\x02"
    reader.out.clear()
    reader.feed(b"\x62\x02\x01\x02", 2.0)  # PUBREL
    assert bytes(reader.out) == b"\x70\x02\x01\x02"  # PUBCOMP
    reader.ack(9, 1)
    assert bytes(reader.out).endswith(b"\x40\x02\x00\x09")  # PUBACK


def test_reader_skip_retained_acks_at_once():
    queue: deque = deque()
    reader = PacketReader(False, queue, skip_retained=True)
    reader.feed(publish_packet("r", b"old", qos=1, pid=5, retain=True) + publish_packet("r", b"new"), 0.0)
    assert [f.data for f in queue] == ["new"]
    assert bytes(reader.out) == b"\x40\x02\x00\x05"


def test_reader_invalid_utf8_topic_is_shown_escaped():
    frames, _ = read_all(publish_packet(b"bad\xfftopic", b"x"))
    assert frames[0].topic == "bad\\xfftopic"


def test_reader_disconnect_and_errors():
    _, reader = read_all(publish_packet("a", b"1") + b"\xe0\x02\x8e\x00")
    assert reader.disconnect == 0x8E
    with pytest.raises(ProtocolError, match="unexpected packet type 1"):
        read_all(b"\x10\x00")
    with pytest.raises(ProtocolError, match="remaining length"):
        read_all(b"\x30\xff\xff\xff\xff\x01")
    with pytest.raises(ProtocolError, match="QoS 3"):
        read_all(b"\x36\x05\x00\x01a\x00\x01")
    with pytest.raises(ProtocolError, match="limit"):
        read_all(b"\x30\xff\xff\xff\x7f")


# ------------------------------------------------------------------ driving a session


class Tail:
    """A :class:`Session` over an MQTT source in a thread; ``-f json`` lines into memory.

    ``connected`` is set once the first connect returned (subscriptions made).
    """

    def __init__(
        self,
        source: MqttSource,
        *,
        limit: int | None = None,
        capture: Path | None = None,
        reconnect: bool = False,
        idle: float | None = None,
    ) -> None:
        self.source = source
        self.out = io.BytesIO()
        self.err = io.StringIO()
        env = Environment(stdout=self.out, stderr=self.err, stdout_isatty=False, stderr_isatty=False, environ={})
        recorder = None
        if capture is not None:
            header = make_header(source.endpoint, source.transport, time.time(), topics=source.topics)
            recorder = CaptureWriter(str(capture), header)
        self.pipeline = Pipeline(
            Decoder(), None, make_renderer(RenderOptions("json")), Output(self.out, live=False), limit, recorder
        )
        self.session = Session(
            source, self.pipeline, env, reconnect=reconnect, idle_timeout=idle,
            backoff=Backoff(base=0.1, factor=1.5, cap=0.5, jitter=0),
        )
        self.connected = threading.Event()
        connect = source.connect

        def connect_and_tell() -> str:
            detail = connect()
            self.connected.set()
            return detail

        source.connect = connect_and_tell  # type: ignore[method-assign]
        self.ending = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.ending = self.session.run()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            self.error = exc
        finally:
            self.pipeline.close()
            self.connected.set()

    def __enter__(self) -> Tail:
        self.thread.start()
        assert self.connected.wait(15), "the source did not connect"
        if self.error is not None:
            raise self.error
        return self

    def __exit__(self, *exc: object) -> None:
        self.join()

    def join(self, timeout: float = 20) -> None:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the session did not end"
        if self.error is not None:
            raise self.error

    def events(self) -> list[dict]:
        return [json.loads(line) for line in self.out.getvalue().splitlines()]


def publish_samples(broker: Broker) -> list[dict]:
    """Publish every Aliyun sample on its topic; returns the samples."""
    samples = []
    for path in ALIYUN:
        sample = json.loads(path.read_text())
        if "topic" not in sample:  # bind.json: a request and its reply
            sample = {"topic": sample["reply_topic"], "payload": sample["reply"]}
        broker.publish(sample["topic"], json.dumps(sample["payload"], ensure_ascii=False))
        samples.append(sample)
    return samples


@pytest.mark.broker
def test_aliyun_samples_are_decoded_with_their_topics_and_recorded(broker, tmp_path):
    assert ALIYUN, "no Aliyun samples"
    capture = tmp_path / "aliyun.capture.ndjson"
    source = mqtt_source_from_args(broker.url, topics=["/sys/+/+/app/down/#"], qos=1)
    with Tail(source, limit=len(ALIYUN), capture=capture) as tail:
        samples = publish_samples(broker)
    assert tail.ending is not None and tail.ending.reason == "limit"
    events = tail.events()
    expected_types = {
        "bind.json": "account.bind_reply",
        "events.json": "thing.events",
        "ota-forward.json": "ota.device.forward",
        "properties.json": "thing.properties",
        "status.json": "thing.status",
        "topo-add-status.json": "thing.topo.add.status",
    }
    assert [e["type"] for e in events] == [expected_types[p.name] for p in ALIYUN]
    for event, sample in zip(events, samples, strict=True):
        assert event["dialect"] == "aliyun"
        assert event["topic"] == sample["topic"]
        params = sample["payload"].get("params") or sample["payload"].get("param") or {}
        subject = params.get("iotId") or params.get("subIotId") or "X5eCzh6fEH7/5gJtxDVeGAkaEztpisjX"
        assert event["subject"] == subject
        assert event["payload"] == sample["payload"]
    reader = CaptureReader(str(capture), lambda message: None)
    records = list(reader.records())
    frames = [r for r in records if isinstance(r, Frame)]
    assert [f.topic for f in frames] == [s["topic"] for s in samples]
    assert reader.header is not None and reader.header.transport == "mqtt"
    assert reader.header.topics == ["/sys/+/+/app/down/#"]
    assert [r.mark for r in records if not isinstance(r, Frame)][:1] == ["connected"]


@pytest.mark.broker
def test_a_failed_account_bind_reply_is_an_error_event(broker):
    source = mqtt_source_from_args(broker.url, topics=["/sys/#"])
    with Tail(source, limit=1) as tail:
        broker.publish(
            "/sys/a1pk/app-dn/app/down/account/bind_reply",
            '{"id":"1","code":6813,"message":"iotToken invalid"}',
        )
    (event,) = tail.events()
    assert (event["dialect"], event["type"], event["kind"]) == ("aliyun", "account.bind_reply", "error")
    assert "6813" in event["summary"]


@pytest.mark.broker
def test_payload_bytes_are_kept_exact(broker, tmp_path):
    capture = tmp_path / "bytes.capture.ndjson"
    payloads = [b"\xff\xfe not utf-8", b'{"n": 18446744073709551617}', "\x1b]0;x\x07 [bold]✓".encode(), b"x" * 300_000]
    source = mqtt_source_from_args(broker.url, topics=["p/#"])
    with Tail(source, limit=len(payloads), capture=capture):
        for i, payload in enumerate(payloads):
            broker.publish(f"p/{i}", payload)
    frames = [r for r in CaptureReader(str(capture), lambda m: None).records() if isinstance(r, Frame)]
    got = [f.data if isinstance(f.data, bytes) else f.data.encode() for f in frames]
    assert got == payloads
    assert isinstance(frames[0].data, bytes) and isinstance(frames[1].data, str)


@pytest.mark.broker
def test_qos1_messages_queued_while_away_arrive_and_are_acknowledged(broker):
    options = {"topics": ["q/#"], "qos": 1, "client_id": "pctl-qos1", "clean_session": False}
    source = mqtt_source_from_args(broker.url, **options)
    source.connect()
    source.close()  # the broker keeps the session and queues for it
    broker.publish_many("q/x", [json.dumps({"type": "tick", "device": f"d{i}"}) for i in range(40)], qos=1)
    source = mqtt_source_from_args(broker.url, **options)
    with Tail(source, limit=40) as tail:
        pass
    assert "session resumed" in tail.err.getvalue()
    assert [e["subject"] for e in tail.events()] == [f"d{i}" for i in range(40)]
    # Every one was acknowledged: a third connect gets nothing again.
    source = mqtt_source_from_args(broker.url, **options)
    source.connect()
    assert source.receive(0.5) is None
    source.close()


@pytest.mark.broker
def test_a_message_not_yet_done_is_delivered_again(broker):
    options = {"topics": ["q/#"], "qos": 1, "client_id": "pctl-redeliver", "clean_session": False}
    source = mqtt_source_from_args(broker.url, **options)
    source.connect()
    broker.publish("q/1", "first", qos=1)
    broker.publish("q/2", "second", qos=1)
    first = source.receive(5)
    source.done(first, None)
    second = source.receive(5)  # received, but never done (presencectl killed before recording it)
    assert (first.data, second.data) == ("first", "second")
    source.close()
    source = mqtt_source_from_args(broker.url, **options)
    source.connect()
    again = source.receive(5)
    assert again is not None and again.data == "second"
    assert source.receive(0.3) is None
    source.close()


@pytest.mark.broker
def test_mqtt5_with_user_properties(broker):
    source = mqtt_source_from_args(broker.url, topics=["v5/#"], mqtt_version="5", qos=2)
    source.connect()
    subprocess.run(
        [require_binary("mosquitto_pub"), *broker.client_args(), "-V", "5", "-q", "2", "-t", "v5/a",
         "-D", "publish", "user-property", "k", "v", "-m", '{"event":"x"}'],
        check=True, capture_output=True, timeout=15,
    )
    frame = source.receive(5)
    assert frame is not None and (frame.topic, frame.data) == ("v5/a", '{"event":"x"}')
    source.done(frame, None)
    source.close()


@pytest.mark.broker
def test_broker_restart_resubscribes(broker):
    source = mqtt_source_from_args(broker.url, topics=["r/#"], qos=1)
    with Tail(source, limit=2, reconnect=True) as tail:
        broker.publish("r/1", '{"type":"before","device":"a"}', qos=1)
        assert wait_until(lambda: tail.pipeline.counts.frames == 1)
        broker.restart()
        assert wait_until(lambda: tail.session.reconnects == 1, timeout=15), tail.err.getvalue()
        broker.publish("r/1", '{"type":"after","device":"b"}', qos=1)
    assert [e["type"] for e in tail.events()] == ["before", "after"]
    assert "reconnected to" in tail.err.getvalue()


@pytest.mark.broker
def test_broker_gone_is_a_connection_lost(broker):
    source = mqtt_source_from_args(broker.url, topics=["g/#"])
    source.connect()
    broker.stop()
    with pytest.raises(ConnectionLost) as err:
        source.receive(5)
    assert str(err.value) == f"{broker.url}: connection lost: the broker closed the connection"
    assert not err.value.clean
    with pytest.raises(CannotConnect, match="connection refused"):
        source.connect()


@pytest.mark.broker
def test_two_share_members_hold_every_message_exactly_once(broker):
    a = mqtt_source_from_args(broker.url, topics=["fleet/#"], share="recorders", qos=1, client_id="rec-a")
    b = mqtt_source_from_args(broker.url, topics=["fleet/#"], share="recorders", qos=1, client_id="rec-b")
    a.connect()
    b.connect()
    broker.publish_many("fleet/d", [f'{{"n":{i}}}' for i in range(200)], qos=1)
    got: dict[str, list[int]] = {"a": [], "b": []}
    deadline = time.monotonic() + 20
    while len(got["a"]) + len(got["b"]) < 200 and time.monotonic() < deadline:
        for name, source in (("a", a), ("b", b)):
            frame = source.receive(0.05)
            while frame is not None:
                got[name].append(json.loads(frame.data)["n"])
                source.done(frame, None)
                frame = source.receive(0) if source.pending() else None
    for source in (a, b):
        source.close()
    assert sorted(got["a"] + got["b"]) == list(range(200))
    assert got["a"] and got["b"], "the broker gave one member everything"


@pytest.mark.broker
def test_subscription_refused_by_the_broker_is_reported_by_topic(make_broker):
    b = make_broker(deny_subscribe=["denied/#"])
    notes: list[str] = []
    source = mqtt_source_from_args(b.url, topics=["ok/#", "denied/#"], mqtt_version="5", notice=notes.append)
    detail = source.connect()
    source.close()
    assert "1 refused" in detail
    assert notes == [f"{b.url}: the broker refused the subscription to 'denied/#' (Not authorized (0x87))"]
    source = mqtt_source_from_args(b.url, topics=["denied/#"])
    with pytest.raises(CannotConnect) as err:
        source.connect()
    assert err.value.fatal
    assert str(err.value) == f"{b.url}: the broker refused the subscription to 'denied/#' (0x80)"


@pytest.mark.broker
def test_credentials(make_broker):
    b = make_broker(users={"bob": "s3cret"})
    url = f"mqtt://bob:wrong@127.0.0.1:{b.port}"
    for version in ("3", "5"):
        with pytest.raises(CannotConnect) as err:
            mqtt_source_from_args(url, mqtt_version=version).connect()
        assert err.value.fatal
        message = str(err.value)
        assert message.startswith(f"mqtt://REDACTED:REDACTED@127.0.0.1:{b.port}: the broker refused the connection: ")
        assert "wrong" not in message and "check the user name and password" in message
    source = mqtt_source_from_args(f"mqtt://bob@127.0.0.1:{b.port}", environ={"PRESENCECTL_PASSWORD": "s3cret"})
    assert source.connect().startswith("MQTT 3.1.1")
    source.close()
    with pytest.raises(CannotConnect, match="give credentials"):
        mqtt_source_from_args(f"mqtt://127.0.0.1:{b.port}").connect()


def test_unreachable_broker_is_retryable():
    port = free_port()
    with pytest.raises(CannotConnect) as err:
        mqtt_source_from_args(f"mqtt://127.0.0.1:{port}").connect()
    assert not err.value.fatal
    assert str(err.value) == (
        f"mqtt://127.0.0.1:{port}: connection refused by 127.0.0.1:{port} (is the broker running?)"
    )


@pytest.mark.broker
def test_aliyun_signed_connect(make_broker):
    # The broker knows the password an Aliyun device would compute at this
    # timestamp (hmac by hand here); presencectl must compute the same.
    t = 1_700_000_000.0
    content = f"clientIdapp-dn&a1pkdeviceNameapp-dnproductKeya1pktimestamp{int(t * 1000)}"
    password = hmac.new(b"s3cret", content.encode(), hashlib.sha1).hexdigest()
    b = make_broker(users={"app-dn&a1pk": password})
    source = mqtt_source_from_args(
        b.url, topics=["/sys/a1pk/app-dn/app/down/#"], aliyun_device="a1pk/app-dn", device_secret="s3cret"
    )
    source.options.clock = lambda: t
    source.connect()
    b.publish("/sys/a1pk/app-dn/app/down/thing/status", '{"method":"thing.status","params":{"status":{"value":1}}}')
    frame = source.receive(5)
    assert frame is not None and frame.topic == "/sys/a1pk/app-dn/app/down/thing/status"
    source.close()
    assert "as app-dn&a1pk|securemode=3,signmethod=hmacsha1,timestamp=1700000000000| " in b.log_text()
    wrong = mqtt_source_from_args(b.url, aliyun_device="a1pk/app-dn", device_secret="not-it")
    wrong.options.clock = lambda: t
    with pytest.raises(CannotConnect, match=r"check --aliyun-device and --device-secret") as err:
        wrong.connect()
    assert err.value.fatal and "not-it" not in str(err.value)


@pytest.mark.broker
def test_tls(make_broker):
    b = make_broker(tls=True)
    assert b.certs is not None
    source = mqtt_source_from_args(b.url, topics=["t/#"], cacert=str(b.certs.ca_path))
    source.connect()
    b.publish("t/1", '{"event":"over tls"}')
    frame = source.receive(5)
    assert frame is not None and frame.data == '{"event":"over tls"}'
    source.close()
    with pytest.raises(CannotConnect) as err:
        mqtt_source_from_args(b.url, cacert=str(b.certs.other_ca_path)).connect()
    assert err.value.fatal
    assert "TLS certificate verification failed" in str(err.value) and "--cacert" in str(err.value)
    insecure = mqtt_source_from_args(b.url, cacert=str(b.certs.other_ca_path), insecure=True)
    insecure.connect()
    insecure.close()
    with pytest.raises(CannotConnect, match=r"closed the connection before answering CONNECT \(a TLS port\? use mqtts://\)"):
        mqtt_source_from_args(b.url.replace("mqtts:", "mqtt:")).connect()



@pytest.mark.broker
def test_tls_to_a_plain_port(broker):
    with pytest.raises(CannotConnect, match="not a TLS port"):
        mqtt_source_from_args(broker.url.replace("mqtt:", "mqtts:")).connect()


@pytest.mark.broker
def test_tls_client_certificate(make_broker):
    b = make_broker(tls=True, require_client_cert=True)
    assert b.certs is not None
    with pytest.raises(CannotConnect, match="client certificate"):
        mqtt_source_from_args(b.url, cacert=str(b.certs.ca_path)).connect()
    source = mqtt_source_from_args(
        b.url, cacert=str(b.certs.ca_path), cert=str(b.certs.client_cert), key=str(b.certs.client_key)
    )
    source.connect()
    source.close()


@pytest.mark.broker
def test_publish_goes_out_on_every_connect(broker, tmp_path):
    bind = tmp_path / "bind.json"
    bind.write_text('{"id":"1","version":"1.0","params":{"iotToken":"t"}}\n')
    watcher = broker.subscriber("up/#", 4)
    source = mqtt_source_from_args(
        broker.url, topics=["down/#"], qos=1,
        publish=[("up/account/bind", f"@{bind}"), ("up/hello", "hi")],
    )
    assert "published to up/account/bind, published to up/hello" in source.connect()
    source.close()
    source.connect()
    source.close()
    out, err = watcher.communicate(timeout=20)
    assert out.decode().splitlines() == [
        'up/account/bind {"id":"1","version":"1.0","params":{"iotToken":"t"}}',
        "up/hello hi",
    ] * 2, err


@pytest.mark.broker
def test_retained_messages_are_marked(broker):
    broker.publish("state/d1", '{"event":"stored"}', retain=True)
    notes: list[str] = []
    source = mqtt_source_from_args(broker.url, topics=["state/#"], notice=notes.append)
    source.connect()
    broker.publish("state/d1", '{"event":"live"}')
    stored, live = source.receive(5), source.receive(5)
    source.close()
    assert isinstance(stored, RetainedFrame) and stored.retained and stored.data == '{"event":"stored"}'
    assert type(live) is Frame and not getattr(live, "retained", False)
    assert len(notes) == 1 and "retained messages follow" in notes[0]
    skipping = mqtt_source_from_args(broker.url, topics=["state/#"], skip_retained=True)
    skipping.connect()
    assert skipping.receive(0.5) is None
    skipping.close()


@pytest.mark.broker
def test_keepalive_pings_keep_a_quiet_connection(broker):
    source = mqtt_source_from_args(broker.url, topics=["quiet/#"])
    source.options.keepalive = 1
    source.connect()
    assert source.receive(2.5) is None  # mosquitto drops a client silent for 1.5 keep-alives
    broker.publish("quiet/x", "still here")
    frame = source.receive(5)
    assert frame is not None and frame.data == "still here"
    source.close()


def test_a_broker_disconnect_names_its_reason():
    # mosquitto 2.0 just closes the socket on a take-over; other brokers say why (MQTT 5).
    source = mqtt_source_from_args("mqtt://h", mqtt_version="5", client_id="same-id")
    assert source._disconnect_text(0x8E) == (
        "the broker disconnected us: Session taken over (0x8E) "
        "(another client connected with client id 'same-id')"
    )
    assert source._disconnect_text(0x8B) == "the broker disconnected us: Server shutting down (0x8B)"
    assert source._disconnect_text(0x01) == "the broker disconnected us (reason 0x01)"


@pytest.mark.broker
def test_replay_target_publishes_on_rewritten_topics(broker):
    from presencectl.transports.targets import TargetOptions

    watcher = broker.subscriber("lab/#", 3)
    target = MqttTarget(broker.url, TargetOptions(extra={"qos": 1, "topic_prefix": "lab", "topic": "lab/none"}))
    target.open()
    target.send(Frame('{"a":1}', 1.0, "/sys/pk/dn/app/down/thing/status"))
    target.send(Frame(b"\xff\x00", 2.0, "/sys/pk/dn/x"))
    target.send(Frame("no topic", 3.0, None))
    target.close()
    out, _ = watcher.communicate(timeout=20)
    assert out.split(b"\n")[:3] == [
        b'lab/sys/pk/dn/app/down/thing/status {"a":1}',
        b"lab/sys/pk/dn/x \xff\x00",
        b"lab/none no topic",
    ]
    assert target.report() == ["published at QoS 1", "1 frames without a topic sent to lab/none"]


@pytest.mark.broker
def test_replay_target_errors(broker):
    from presencectl.transports.targets import TargetOptions

    target = MqttTarget(broker.url, TargetOptions())
    target.open()
    with pytest.raises(TransportError, match="has no topic"):
        target.send(Frame("x", 1.0, None))
    target.close()
    port = free_port()
    with pytest.raises(TransportError, match=f"cannot connect to mqtt://127.0.0.1:{port}: connection refused"):
        MqttTarget(f"mqtt://127.0.0.1:{port}", TargetOptions()).open()


def test_no_broker_needed_for_help_imports():
    # The options module stays light: no paho before a source is built.
    code = "import sys, presencectl.cli.mqtt_options; print('paho' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_mqtt_options_on_a_typer_command():
    app = typer.Typer()
    seen: list[MqttArgs] = []

    @app.command(cls=MqttCommand)
    def tail(
        source: str,
        *,
        topic: TopicOpt = None,
        qos: QosOpt = 0,
        mqtt_version: MqttVersionOpt = None,
        publish: PublishOpt = None,
        clean_session: CleanSessionOpt = True,
        aliyun_device: AliyunDeviceOpt = None,
    ) -> None:
        seen.append(
            MqttArgs(topic or [], qos, mqtt_version, publish=list(publish or []),
                     clean_session=clean_session, aliyun_device=aliyun_device)
        )

    result = CliRunner().invoke(
        app,
        ["mqtt://h", "-T", "a/#", "-T", "b", "--qos", "1", "--mqtt-version", "5",
         "--publish", "up/x", "@bind.json", "--publish", "up/y", "hi", "--no-clean-session"],
    )
    assert result.exit_code == 0, result.output
    (args,) = seen
    assert args.topics == ["a/#", "b"] and args.qos == 1 and args.mqtt_version == "5"
    assert [tuple(p) for p in args.publish] == [("up/x", "@bind.json"), ("up/y", "hi")]
    given = args.given()
    assert [flag for flag, on in given.items() if on] == ["-T", "--qos", "--mqtt-version", "--publish", "--no-clean-session"]
    assert CliRunner().invoke(app, ["mqtt://h", "--qos", "3"]).exit_code == 2


# ------------------------------------------------------------------ the CLI: tail/record mqtt://


@pytest.mark.broker
def test_cli_tail_aliyun_samples(broker):
    from tests.live_support import Cli

    with Cli("tail", broker.url, "-T", "/sys/+/+/app/down/#", "--qos", "1", "-f", "json", "-n", str(len(ALIYUN))) as tail:
        tail.wait_stderr("connected to")
        samples = publish_samples(broker)
        assert tail.finish() == 0, tail.stderr
    events = [json.loads(line) for line in tail.stdout.splitlines()]
    assert [(e["dialect"], e["topic"]) for e in events] == [("aliyun", s["topic"]) for s in samples]
    assert "Traceback" not in tail.stderr


@pytest.mark.broker
def test_cli_tail_resubscribes_after_a_broker_restart(broker):
    from tests.live_support import Cli

    with Cli("tail", broker.url, "-T", "r/#", "-f", "json", "-n", "2") as tail:
        tail.wait_stderr("connected to")
        broker.publish("r/1", '{"type":"before","device":"a"}')
        tail.wait_stdout_lines(1)
        broker.restart()
        tail.wait_stderr("reconnected to")
        broker.publish("r/1", '{"type":"after","device":"b"}')
        assert tail.finish() == 0, tail.stderr
    assert [json.loads(line)["type"] for line in tail.stdout.splitlines()] == ["before", "after"]


@pytest.mark.broker
def test_cli_two_share_recorders_hold_every_message_once(broker, tmp_path):
    from tests.live_support import Cli

    parts = [tmp_path / "part1.capture.ndjson", tmp_path / "part2.capture.ndjson"]
    recorders = [
        Cli("record", broker.url, "-T", "fleet/#", "--share", "recorders", "--qos", "1", "-o", str(p), "--timeout", "3")
        for p in parts
    ]
    try:
        for r in recorders:
            r.wait_stderr("connected to")
        broker.publish_many("fleet/d", [f'{{"n":{i}}}' for i in range(200)], qos=1)
        for r in recorders:
            assert r.finish() == 0, r.stderr
    finally:
        for r in recorders:
            r.__exit__(None, None, None)
    held: list[int] = []
    for part in parts:
        reader = CaptureReader(str(part), lambda m: None)
        assert reader.header is not None and reader.header.topics == ["$share/recorders/fleet/#"]
        frames = [r for r in reader.records() if isinstance(r, Frame)]
        assert frames, f"{part.name} holds nothing"
        held += [json.loads(f.data)["n"] for f in frames]
    assert sorted(held) == list(range(200))


@pytest.mark.broker
def test_cli_errors_are_one_line(make_broker):
    from tests.conftest import assert_no_traceback, run_cli

    users = make_broker(users={"bob": "s3cret"})
    tls = make_broker(tls=True)
    assert tls.certs is not None
    cases = [
        (["tail", f"mqtt://bob:wrong@127.0.0.1:{users.port}"], 1, "the broker refused the connection"),
        (["tail", f"mqtt://127.0.0.1:{free_port()}"], 1, "connection refused"),
        (["tail", tls.url, "--cacert", str(tls.certs.other_ca_path)], 1, "TLS certificate verification failed"),
        (["tail", users.url, "--share", "g", "--mqtt-version", "3"], 2, "--share needs MQTT 5"),
        (["record", users.url, "-o", "x.ndjson", "-T", "a/#/b"], 2, "bad --topic"),
    ]
    for args, status, words in cases:
        result = run_cli(*args, timeout=60)
        assert_no_traceback(result)
        err = result.stderr.decode()
        assert result.returncode == status, (args, err)
        assert words in err and len(err.strip().splitlines()) == 1, (args, err)
        assert "wrong" not in err
