"""WsSource hands out every message of one socket read in order, whatever
mix of frames the read holds: a raw loopback server writes frames byte for
byte after a hand-made upgrade."""

from __future__ import annotations

import base64
import hashlib
import socket
import threading

import pytest

from presencectl.core.protocols.websocket import (
    OP_BINARY,
    OP_CLOSE,
    OP_PONG,
    OP_TEXT,
    FrameParser,
    build_frame,
)
from presencectl.transports.base import ConnectionLost
from presencectl.transports.ws_client import WsOptions, WsSource

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class RawServer:
    """Accepts one client, answers its upgrade and writes ``data`` in the same
    send, then collects what the client sends until it closes."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"ws://127.0.0.1:{self.listener.getsockname()[1]}/"
        self.received = FrameParser()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            request = b""
            while b"\r\n\r\n" not in request:
                request += conn.recv(4096)
            key = next(
                line.split(b":", 1)[1].strip()
                for line in request.split(b"\r\n")
                if line.lower().startswith(b"sec-websocket-key:")
            )
            accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
            conn.sendall(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n" + self.data  # one write: one read for the client
            )
            conn.settimeout(10)
            try:
                while chunk := conn.recv(4096):
                    self.received.feed(chunk)
            except OSError:
                pass

    def sent_by_client(self) -> list[tuple[int, bytes]]:
        self.thread.join(10)
        self.listener.close()
        out = []
        while (message := self.received.next()) is not None:
            out.append(message)
        return out


@pytest.mark.parametrize("batches", [False, True], ids=["receive", "take_ready"])
def test_a_read_of_mixed_frames_comes_out_in_order_then_the_protocol_error(batches):
    """Frame by frame, or (as the session takes them) the first of a read
    and the rest with ``take_ready()``: the same frames in the same order."""
    texts = [b'{"event":"a","n":%d}' % i for i in range(300)]
    data = (
        b"".join(build_frame(OP_TEXT, t) for t in texts[:100])
        + build_frame(OP_TEXT, b'{"bad":"\xff"}')  # not UTF-8: kept as bytes, in its place
        + build_frame(OP_BINARY, b"\x00\x01")
        + b"".join(build_frame(OP_TEXT, t) for t in texts[100:200])
        + build_frame(0x9, b"are you there")  # a ping between messages
        + build_frame(OP_TEXT, b"x" * 70_000)  # a 64-bit length
        + b"".join(build_frame(OP_TEXT, t) for t in texts[200:])
        + bytes([0xC1, 0x01]) + b"z"  # reserved bit set: a protocol error
    )
    server = RawServer(data)
    source = WsSource(WsOptions(server.url, ping_interval=None))
    source.connect()
    got = []
    with pytest.raises(ConnectionLost, match="protocol error: reserved bits"):
        while True:
            frame = source.receive(10)
            assert frame is not None
            got.append(frame)
            if batches:
                got += source.take_ready()
                assert not source.take_ready()
    expected = [
        *(t.decode() for t in texts[:100]),
        b'{"bad":"\xff"}',
        b"\x00\x01",
        *(t.decode() for t in texts[100:200]),
        "x" * 70_000,
        *(t.decode() for t in texts[200:]),
    ]
    assert [f.data for f in got] == expected
    times = [f.t for f in got]
    assert times == sorted(times) and all(isinstance(t, float) for t in times)
    assert not source.pending()
    sent = server.sent_by_client()
    assert (OP_PONG, b"are you there") in sent
    assert sent[-1] == (OP_CLOSE, (1002).to_bytes(2, "big"))


def test_pending_counts_what_the_last_read_parsed():
    data = b"".join(build_frame(OP_TEXT, b'{"n":%d}' % i) for i in range(50)) + build_frame(OP_CLOSE, b"\x03\xe8")
    server = RawServer(data)
    source = WsSource(WsOptions(server.url, ping_interval=None))
    source.connect()
    seen = 0
    with pytest.raises(ConnectionLost) as info:
        while True:
            frame = source.receive(10)
            assert frame is not None and frame.data == f'{{"n":{seen}}}'
            seen += 1
            if seen < 50:
                assert source.pending()  # all 50 came in one read: the rest is ready
    assert seen == 50 and info.value.clean
    server.sent_by_client()
