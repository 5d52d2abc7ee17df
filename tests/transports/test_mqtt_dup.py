"""MQTT redeliveries (the DUP flag) are marked on the Frame and in the capture."""

from __future__ import annotations

from collections import deque

from presencectl.core.capture import decode_record, encode_frame
from presencectl.core.protocols.mqtt import PacketReader


def publish(topic: str, payload: bytes, *, qos: int, pid: int, dup: bool = False, retain: bool = False) -> bytes:
    body = len(topic).to_bytes(2, "big") + topic.encode() + (pid.to_bytes(2, "big") if qos else b"") + payload
    b0 = 0x30 | (qos << 1) | (0x08 if dup else 0) | (0x01 if retain else 0)
    return bytes((b0, len(body))) + body


def test_a_publish_with_dup_becomes_a_dup_frame_and_is_still_acknowledged():
    frames: deque = deque()
    reader = PacketReader(False, frames)
    reader.feed(publish("a/b", b'{"n":1}', qos=1, pid=7), 1.0)
    reader.feed(publish("a/b", b'{"n":1}', qos=1, pid=7, dup=True), 2.0)
    reader.feed(publish("a/b", b'{"n":2}', qos=1, pid=8, dup=True, retain=True), 3.0)
    first, again, retained = frames
    assert not first.dup and again.dup and retained.dup and retained.retained
    assert [pid for _, pid, _ in reader.due] == [7, 7, 8]
    assert decode_record(encode_frame(again)).dup
    assert b'"dup":true' in encode_frame(again) and b'"dup"' not in encode_frame(first)
