"""Atmosphere framing (Navixy) against the vendor sample, and through the decoder."""

from __future__ import annotations

import json

import pytest

from presencectl.core.decode import Decoder
from presencectl.core.framing import HANDSHAKE, HEARTBEAT, unwrap_atmosphere
from tests.conftest import fixture

FRAMES = fixture("samples/navixy-atmosphere-frames.txt").read_text().splitlines()
UUID = "5a4c9b8e-1f2d-4e3a-9b7c-0d1e2f3a4b5c"
JSON_FRAMES = [f for f in FRAMES if f.startswith("{")]


def test_the_sample_holds_a_handshake_heartbeats_and_json():
    assert FRAMES[0] == f"{UUID}|30000|X|"
    assert FRAMES.count("X") == 2
    assert len(JSON_FRAMES) == 3


def test_handshake_frame():
    framed = unwrap_atmosphere(FRAMES[0])
    assert framed is not None
    assert framed.control == HANDSHAKE
    assert framed.uuid == UUID
    assert framed.interval_ms == 30000
    assert framed.payloads == []


@pytest.mark.parametrize("text", ["X", " X\n", "X\r\n"])
def test_heartbeat_frame(text):
    framed = unwrap_atmosphere(text)
    assert framed is not None and framed.control == HEARTBEAT and framed.payloads == []


@pytest.mark.parametrize("line", JSON_FRAMES)
def test_plain_json_frames_are_not_atmosphere(line):
    assert unwrap_atmosphere(line) is None


@pytest.mark.parametrize("line", JSON_FRAMES)
def test_a_length_prefix_is_removed(line):
    framed = unwrap_atmosphere(f"{len(line)}|{line}")
    assert framed is not None and framed.control is None
    assert framed.payloads == [line]


def test_several_prefixed_messages_in_one_frame():
    text = "".join(f"{len(line)}|{line}" for line in JSON_FRAMES)
    framed = unwrap_atmosphere(text)
    assert framed is not None and framed.payloads == JSON_FRAMES


def test_prefixed_messages_separated_by_newlines():
    text = "\n".join(f"{len(line)}|{line}" for line in JSON_FRAMES)
    framed = unwrap_atmosphere(text)
    assert framed is not None and framed.payloads == JSON_FRAMES


def test_a_prefixed_heartbeat_carries_no_payload():
    framed = unwrap_atmosphere("1|X")
    assert framed is not None and framed.payloads == []


def test_handshake_with_a_message_in_the_same_frame():
    line = JSON_FRAMES[0]
    framed = unwrap_atmosphere(f"{UUID}|30000|X|{len(line)}|{line}")
    assert framed is not None and framed.control == HANDSHAKE and framed.payloads == [line]


@pytest.mark.parametrize("text", ["12|", "|X|", "abc|def", "1234"])
def test_not_atmosphere(text):
    assert unwrap_atmosphere(text) is None


def test_a_length_that_does_not_fit_still_yields_the_message():
    # A server counting UTF-8 bytes rather than characters, say: the message is
    # everything after the one prefix.
    framed = unwrap_atmosphere("999|" + JSON_FRAMES[0])
    assert framed is not None and framed.payloads == [JSON_FRAMES[0]]


@pytest.mark.parametrize("text", ["5|abc", "3|abcdef"])
def test_a_prefixed_frame_that_holds_no_json_is_shown_whole(text):
    from presencectl.core.decode import Decoder

    (event,) = Decoder().decode(text)
    assert event.dialect is None and event.text == text


def test_a_uuid_like_prefix_without_dashes_is_not_a_handshake():
    assert unwrap_atmosphere("deadbeefcafe|30000|X|") is None


def test_decoder_over_the_sample_frames():
    decoder = Decoder()
    results = [decoder.decode(line) for line in FRAMES]
    kinds = [[(e.dialect, e.type, e.keepalive) for e in events] for events in results]
    assert kinds == [
        [("navixy", "handshake", True)],
        [("navixy", "heartbeat", True)],
        [("navixy", "response", False)],
        [("navixy", "lifecycle", False)],
        [("navixy", "heartbeat", True)],
        [("navixy", "error", False)],
    ]
    assert results[3][0].subject == "123456"


def test_decoder_unwraps_prefixed_events_with_ids_exact():
    big = '{"type":"event","event":"state","data":{"source_id":10284,"id":18446744073709551615}}'
    events = Decoder().decode(f"{len(big)}|{big}")
    assert [e.type for e in events] == ["state"]
    assert events[0].raw["data"]["id"] == 18446744073709551615 == json.loads(big)["data"]["id"]
