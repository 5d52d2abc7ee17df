"""The webhook receiver source: URL and size parsing, then real POSTs over loopback."""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from presencectl.core.events import Frame
from presencectl.core.protocols.http import HttpError, RequestReader
from presencectl.errors import UsageError
from presencectl.transports.base import CannotConnect, Source
from presencectl.transports.webhook import (
    WebhookOptions,
    WebhookSource,
    parse_listen_url,
    parse_size,
)
from tests.conftest import fixture
from tests.live_support import post

CLOUDCONNECT = fixture("samples/cloudconnect-webhook-body.json").read_bytes()


@pytest.mark.parametrize(
    "text, expected",
    [("1048576", 1048576), ("512k", 512 * 1024), ("16M", 16 << 20), ("1g", 1 << 30), (" 2KB ", 2048)],
)
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "0", "-1", "lots", "1T", "1.5M"])
def test_bad_sizes(text):
    with pytest.raises(UsageError, match="--max-body"):
        parse_size(text)


def test_parse_listen_url():
    assert parse_listen_url("http://127.0.0.1:8088/munic/") == parse_listen_url("http://127.0.0.1:8088/munic")
    url = parse_listen_url("http://:8088")
    assert (url.host, url.port, url.path) == ("127.0.0.1", 8088, "/")
    assert parse_listen_url("http://0.0.0.0:80/x").host == "0.0.0.0"
    assert parse_listen_url("http://[::1]:9000/x").host == "::1"


@pytest.mark.parametrize(
    "url, message",
    [
        ("http://127.0.0.1/x", "give the port"),
        ("https://127.0.0.1:8443/x", "plain http"),
        ("ftp://127.0.0.1:21/x", "expected http"),
        ("http://u:p@127.0.0.1:80/x", "--basic-auth"),
        ("http://127.0.0.1:99999/x", "bad --listen URL"),
    ],
)
def test_bad_listen_urls(url, message):
    with pytest.raises(UsageError, match=message):
        parse_listen_url(url)


@contextmanager
def receiver(
    judge: Callable[[Frame], str | None] = lambda frame: None, **options: object
) -> Iterator[tuple[WebhookSource, list[Frame]]]:
    """A listening WebhookSource with a consumer thread standing in for the session."""
    source = WebhookSource(WebhookOptions("http://127.0.0.1:0/munic", **options))  # type: ignore[arg-type]
    assert source.connect() == "listening for POSTs"
    frames: list[Frame] = []
    stop = threading.Event()

    def consume() -> None:
        while not stop.is_set():
            frame = source.receive(0.05)
            if frame is not None:
                frames.append(frame)
                source.done(frame, judge(frame))

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    try:
        yield source, frames
    finally:
        stop.set()
        thread.join(5)
        source.close()


def url_of(source: WebhookSource, path: str = "/munic") -> str:
    return f"http://127.0.0.1:{source.port}{path}"


def test_a_post_is_one_frame_with_the_path_as_topic():
    with receiver() as (source, frames):
        assert isinstance(source, Source)
        assert source.endpoint == f"http://127.0.0.1:{source.port}/munic"
        assert post(url_of(source), CLOUDCONNECT) == (200, "ok\n")
        assert post(url_of(source, "/munic/eu?token=x"), b'{"a":1}\n{"b":2}\n') == (200, "ok\n")
    assert [f.data for f in frames] == [CLOUDCONNECT.decode(), '{"a":1}\n{"b":2}\n']
    assert [f.topic for f in frames] == ["/munic", "/munic/eu"]
    assert all(f.t is not None for f in frames)


def test_unreadable_body_is_recorded_and_answered_400_with_the_reason():
    with receiver(lambda frame: "invalid JSON: Expecting value" if frame.data != "{}" else None) as (source, frames):
        status, text = post(url_of(source), b"garbage{")
        assert status == 400
        assert text == "recorded, but the body cannot be read: invalid JSON: Expecting value\n"
        assert post(url_of(source), b"\xff\xfe not utf-8")[0] == 400
    assert [f.data for f in frames] == ["garbage{", b"\xff\xfe not utf-8"]


def test_oversized_body_is_refused_unread():
    warnings: list[str] = []
    with receiver(max_body=1000, warn=warnings.append) as (source, frames):
        status, text = post(url_of(source), b"[" + b"1," * 600 + b"1]")
        assert status == 413 and "over the limit of 1000 bytes" in text
        assert post(url_of(source), b"[1]")[0] == 200
    assert [f.data for f in frames] == ["[1]"]
    assert "413" in warnings[0]


def test_basic_auth():
    with receiver(basic_auth=("munic", "pa:ss")) as (source, frames):
        status, _ = post(url_of(source), b"{}")
        assert status == 401
        assert post(url_of(source), b"{}", auth=("munic", "wrong"))[0] == 401
        assert post(url_of(source), b"{}", auth=("munic", "pa:ss")) == (200, "ok\n")
    assert [f.data for f in frames] == ["{}"]


def test_other_paths_and_methods():
    with receiver() as (source, frames):
        assert post(url_of(source, "/other"), b"{}")[0] == 404
        assert post(url_of(source, "/municipal"), b"{}")[0] == 404
        conn = http.client.HTTPConnection("127.0.0.1", source.port, timeout=5)
        conn.request("GET", "/munic")
        response = conn.getresponse()
        assert response.status == 405 and response.getheader("Allow") == "POST"
        conn.close()
    assert frames == []


def test_keep_alive_and_chunked_bodies():
    with receiver() as (source, frames):
        conn = http.client.HTTPConnection("127.0.0.1", source.port, timeout=5)
        for i in range(3):
            conn.request("POST", "/munic", body=f'{{"n":{i}}}'.encode())
            response = conn.getresponse()
            assert response.status == 200
            response.read()
        conn.request("POST", "/munic", body=iter([b'{"chunked":', b"true}"]), encode_chunked=True)
        response = conn.getresponse()
        assert response.status == 200
        response.read()
        conn.close()
    assert [f.data for f in frames] == ['{"n":0}', '{"n":1}', '{"n":2}', '{"chunked":true}']


def test_port_in_use():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        source = WebhookSource(WebhookOptions(f"http://127.0.0.1:{port}/munic"))
        with pytest.raises(CannotConnect) as info:
            source.connect()
    assert info.value.fatal
    assert str(info.value) == (
        f"http://127.0.0.1:{port}/munic: cannot listen on 127.0.0.1:{port}: the port is already in use"
    )


def test_posts_waiting_when_the_receiver_stops_get_503():
    source = WebhookSource(WebhookOptions("http://127.0.0.1:0/munic"))
    source.connect()
    result: list[tuple[int, str]] = []
    thread = threading.Thread(target=lambda: result.append(post(url_of(source), b"{}")))
    thread.start()
    frame = source.receive(5)  # taken, but the session stops before recording it
    assert frame is not None
    source.close()
    thread.join(5)
    assert result and result[0][0] == 503


# The sans-I/O request reader.


def read_all(data: bytes, limit: int = 1 << 20) -> list[tuple[str, str, bytes]]:
    reader = RequestReader()
    reader.feed(data)
    out = []
    while (head := reader.head()) is not None:
        body = reader.body(limit)
        assert body is not None
        out.append((head.method, head.target, body))
    return out


PIPELINED = (
    b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
    b"POST /b?q=1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"4;ext=1\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\nX-Trailer: t\r\n\r\n"
    b"\r\nGET /c HTTP/1.0\r\n\r\n"
)


def test_reader_pipelined_chunked_and_bodiless_requests():
    assert read_all(PIPELINED) == [("POST", "/a", b"{}"), ("POST", "/b?q=1", b'{"a":1}'), ("GET", "/c", b"")]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 40), max_size=20))
def test_reader_gives_the_same_requests_however_the_bytes_arrive(cuts):
    reader = RequestReader()
    got = []
    pos = 0
    for cut in [*cuts, len(PIPELINED)]:
        reader.feed(PIPELINED[pos : pos + cut])
        pos += cut
        while (head := reader.head()) is not None:
            body = reader.body(1 << 20)
            if body is None:
                break
            got.append((head.method, head.target, body))
    assert got == [("POST", "/a", b"{}"), ("POST", "/b?q=1", b'{"a":1}'), ("GET", "/c", b"")]


def test_head_properties():
    reader = RequestReader()
    reader.feed(b"POST /munic/x?token=1 HTTP/1.0\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n")
    head = reader.head()
    assert head is not None and head.path == "/munic/x" and head.keep_alive and not head.has_body
    reader = RequestReader()
    reader.feed(b"POST / HTTP/1.1\r\nConnection: close\r\nContent-Length: 5\r\n\r\n")
    head = reader.head()
    assert head is not None and not head.keep_alive and head.has_body and head.length == 5


@pytest.mark.parametrize(
    "data, status",
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"POST / HTTP/2.0\r\n\r\n", 505),
        (b"POST / HTTP/1.1\r\nno colon\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nX-A: 1\r\n folded\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        (b"POST / HTTP/1.1\r\nX: " + b"a" * 70_000, 431),
    ],
)
def test_reader_refuses_bad_heads(data, status):
    reader = RequestReader()
    reader.feed(data)
    with pytest.raises(HttpError) as info:
        reader.head()
    assert info.value.status == status


def test_reader_refuses_bad_or_oversized_chunks():
    reader = RequestReader()
    reader.feed(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
    reader.head()
    with pytest.raises(HttpError, match="chunked"):
        reader.body(100)
    reader = RequestReader()
    reader.feed(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n")
    reader.head()
    with pytest.raises(HttpError) as info:
        reader.body(10)
    assert info.value.status == 413


# Raw sockets: what urllib never sends.


def exchange(port: int, data: bytes, *, wait_for: bytes = b"", timeout: float = 5) -> bytes:
    """Send raw bytes, read until ``wait_for`` shows up or the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        got = b""
        while wait_for not in got or not wait_for:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            got += chunk
        return got


def test_pipelined_requests_on_one_connection_are_answered_in_order():
    with receiver() as (source, frames):
        data = (
            b"POST /munic HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
            b"POST /munic HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\nConnection: close\r\n\r\n{\"b\":2}"
        )
        answer = exchange(source.port, data)
    assert answer.count(b"HTTP/1.1 200 OK") == 2 and answer.endswith(b"ok\n")
    assert b"Connection: close" in answer.split(b"HTTP/1.1 200 OK")[2]
    assert [f.data for f in frames] == ["{}", '{"b":2}']


def test_expect_100_continue():
    with receiver() as (source, frames), socket.create_connection(("127.0.0.1", source.port), timeout=5) as sock:
        sock.sendall(b"POST /munic HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"{}")
        assert sock.recv(1000).startswith(b"HTTP/1.1 200 OK")
    assert [f.data for f in frames] == ["{}"]


def test_bad_requests_get_an_answer_and_a_close():
    with receiver() as (source, frames):
        assert exchange(source.port, b"GARBAGE\r\n\r\n").startswith(b"HTTP/1.1 400 Bad Request")
        answer = exchange(source.port, b"POST /munic HTTP/1.1\r\nHost: x\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 411 Length Required")
        answer = exchange(source.port, b"HEAD /munic HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 405") and answer.endswith(b"\r\n\r\n")  # no body after HEAD
        # the refused body is drained, so the client reads the 401 rather than a reset
        answer = exchange(
            source.port, b"POST /other HTTP/1.1\r\nContent-Length: 100000\r\n\r\n" + b"x" * 100000
        )
        assert answer.startswith(b"HTTP/1.1 404 Not Found")
    assert frames == []


def test_a_slow_client_does_not_hold_up_another():
    with receiver() as (source, frames), socket.create_connection(("127.0.0.1", source.port), timeout=5) as slow:
        slow.sendall(b"POST /munic HTTP/1.1\r\nContent-Length: 12\r\n\r\n{\"a\"")  # and then nothing
        assert post(url_of(source), b'{"fast":1}') == (200, "ok\n")
        slow.sendall(b':123456}')
        assert slow.recv(1000).startswith(b"HTTP/1.1 200 OK")
    assert [f.data for f in frames] == ['{"fast":1}', '{"a":123456}']
