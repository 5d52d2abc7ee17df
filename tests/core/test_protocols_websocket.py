"""WebSocket framing without sockets: the frame parser, close frames, frames to send."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from presencectl.core.protocols.websocket import (
    OP_BINARY,
    OP_PING,
    OP_TEXT,
    FrameParser,
    ProtocolError,
    apply_mask,
    build_frame,
    describe_close,
    parse_close,
)


def frame(opcode: int, payload: bytes, fin: bool = True, mask: bytes | None = None, rsv: int = 0) -> bytes:
    """One encoded WebSocket frame."""
    head = bytes([(0x80 if fin else 0) | rsv | opcode])
    length = len(payload)
    mask_bit = 0x80 if mask else 0
    if length < 126:
        head += bytes([mask_bit | length])
    elif length < 1 << 16:
        head += bytes([mask_bit | 126]) + struct.pack("!H", length)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", length)
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        head += mask
    return head + payload


def drain(parser: FrameParser) -> list[tuple[int, bytes]]:
    out = []
    while (message := parser.next()) is not None:
        out.append(message)
    return out


# The frame parser.


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 70000])
def test_text_frames_of_every_length_encoding(size):
    payload = (b"x" * size)
    parser = FrameParser()
    parser.feed(frame(OP_TEXT, payload) + frame(OP_BINARY, b"\x00\xff"))
    assert drain(parser) == [(OP_TEXT, payload), (OP_BINARY, b"\x00\xff")]


def test_masked_frames_are_unmasked():
    parser = FrameParser()
    parser.feed(frame(OP_TEXT, b"hello, world", mask=b"\x01\x02\x03\x04"))
    assert drain(parser) == [(OP_TEXT, b"hello, world")]


def test_fragments_are_joined_and_control_frames_pass_between_them():
    parser = FrameParser()
    parser.feed(
        frame(OP_TEXT, b"{\"a\":", fin=False)
        + frame(OP_PING, b"p")
        + frame(0, b"1", fin=False)
        + frame(0, b"}")
    )
    assert drain(parser) == [(OP_PING, b"p"), (OP_TEXT, b'{"a":1}')]


def test_nothing_until_the_frame_is_complete():
    data = frame(OP_TEXT, b"abcdef" * 50)
    parser = FrameParser()
    parser.feed(data[:3])
    assert parser.next() is None and not parser.ready()
    parser.feed(data[3:-1])
    assert parser.next() is None and not parser.ready()
    parser.feed(data[-1:])
    assert parser.ready()
    assert parser.next() == (OP_TEXT, b"abcdef" * 50)
    assert parser.buffered() == 0


def test_ready_is_false_for_control_frames_and_fragments():
    parser = FrameParser()
    parser.feed(frame(OP_PING, b"12345"))
    assert not parser.ready()
    parser = FrameParser()
    parser.feed(frame(OP_TEXT, b"12345", fin=False) + frame(0, b"6"))
    assert not parser.ready()
    assert parser.next() == (OP_TEXT, b"123456")


@pytest.mark.parametrize(
    "data, message",
    [
        (frame(OP_TEXT, b"x", rsv=0x40), "reserved bits"),
        (frame(0x3, b"x"), "unknown opcode"),
        (frame(0, b"x"), "continuation frame outside"),
        (frame(OP_TEXT, b"a", fin=False) + frame(OP_TEXT, b"b"), "before the fragmented one ended"),
        (frame(OP_PING, b"x" * 126), "oversized control frame"),
        (frame(OP_PING, b"x", fin=False), "fragmented or oversized control frame"),
    ],
)
def test_protocol_errors(data, message):
    parser = FrameParser()
    parser.feed(data)
    with pytest.raises(ProtocolError, match=message):
        drain(parser)


def test_a_message_over_the_size_limit_is_refused():
    parser = FrameParser(max_size=100)
    parser.feed(frame(OP_TEXT, b"x" * 101))
    with pytest.raises(ProtocolError, match="larger than 100"):
        parser.next()
    parser = FrameParser(max_size=100)
    parser.feed(frame(OP_TEXT, b"x" * 60, fin=False) + frame(0, b"x" * 60))
    with pytest.raises(ProtocolError, match="larger than 100"):
        drain(parser)


messages = st.lists(
    st.tuples(st.sampled_from([OP_TEXT, OP_BINARY]), st.binary(max_size=300), st.integers(1, 3)),
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(messages, st.lists(st.integers(1, 400), max_size=30))
def test_any_split_of_the_stream_gives_the_same_messages(items, cuts):
    stream = b""
    expected = []
    for opcode, payload, parts in items:
        size = max(1, -(-len(payload) // parts))
        pieces = [payload[i : i + size] for i in range(0, len(payload), size)] or [b""]
        for index, piece in enumerate(pieces):
            stream += frame(opcode if index == 0 else 0, piece, fin=index == len(pieces) - 1)
            if index == 0 and len(pieces) > 1:
                stream += frame(OP_PING, b"between fragments")
        expected.append((opcode, payload))
    parser = FrameParser()
    got = []
    pos = 0
    for cut in [*cuts, len(stream)]:
        parser.feed(stream[pos : pos + cut])
        pos += cut
        got.extend(m for m in drain(parser) if m[0] != OP_PING)
    assert got == expected
    assert parser.buffered() == 0


def test_close_payloads():
    assert parse_close(b"") == (1005, "")
    assert parse_close(b"\x03\xe8") == (1000, "")
    assert parse_close(b"\x03\xe9bye \xff") == (1001, "bye \ufffd")
    assert describe_close(1001, "restart") == "closed by the server (1001 going away: restart)"
    assert describe_close(4000, "") == "closed by the server (4000)"


# texts(): every text message of a read in one pass, the same as next() one by one.


@settings(max_examples=150, deadline=None)
@given(messages, st.lists(st.integers(1, 400), max_size=30))
def test_texts_then_next_gives_what_next_alone_gives(items, cuts):
    stream = b"".join(
        frame(opcode, payload[: len(payload) // parts], fin=parts == 1)
        + (frame(0, payload[len(payload) // parts :]) if parts > 1 else b"")
        for opcode, payload, parts in items
    )
    expected = drain(_fed(FrameParser(), stream))
    parser = FrameParser()
    got = []
    pos = 0
    for cut in [*cuts, len(stream)]:
        parser.feed(stream[pos : pos + cut])
        pos += cut
        while True:
            texts = parser.texts()
            got.extend((OP_TEXT, payload) for payload in texts)
            message = parser.next()
            if message is None:
                break
            got.append(message)
    assert got == expected
    assert parser.buffered() == 0


def _fed(parser: FrameParser, data: bytes) -> FrameParser:
    parser.feed(data)
    return parser


def test_texts_stops_at_anything_else_and_leaves_it_to_next():
    parser = FrameParser(max_size=100)
    parser.feed(
        frame(OP_TEXT, b"a") + frame(OP_TEXT, b"b" * 300) + frame(OP_BINARY, b"c")
        + frame(OP_TEXT, b"d", mask=b"\x01\x02\x03\x04") + frame(OP_TEXT, b"e" * 101)
    )
    assert parser.texts() == [b"a"]
    with pytest.raises(ProtocolError, match="larger than 100"):
        parser.next()
    parser = FrameParser()
    parser.feed(frame(OP_TEXT, b"x" * 300) + frame(OP_BINARY, b"c") + frame(OP_TEXT, b"d", mask=b"\x01\x02\x03\x04"))
    assert parser.texts() == [b"x" * 300]
    assert parser.texts() == [] and parser.next() == (OP_BINARY, b"c")
    assert parser.texts() == [] and parser.next() == (OP_TEXT, b"d")
    parser.feed(frame(OP_TEXT, b"12345", fin=False) + frame(OP_TEXT, b"6"))
    assert parser.texts() == []
    with pytest.raises(ProtocolError, match="before the fragmented one ended"):
        parser.next()


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536])
@pytest.mark.parametrize("mask", [None, b"\x00\x00\x00\x00", b"\xde\xad\xbe\xef"])
def test_built_frames_read_back(size, mask):
    payload = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    built = build_frame(OP_BINARY, payload, mask)
    assert built == frame(OP_BINARY, payload, mask=mask)
    parser = FrameParser()
    parser.feed(built + build_frame(OP_PING, b"p", mask))
    assert drain(parser) == [(OP_BINARY, payload), (OP_PING, b"p")]
    assert apply_mask(b"\x01\x02\x03\x04", apply_mask(b"\x01\x02\x03\x04", payload)) == payload


def test_the_module_is_pure():
    from tests.conftest import modules_loaded_by

    loaded = modules_loaded_by("import presencectl.core.protocols.websocket")
    assert not loaded & {"socket", "ssl", "select", "selectors", "websocket", "websockets", "presencectl.transports"}
