"""The WebSocket client source: URL/header parsing without sockets, then
:class:`WsSource` against real loopback servers (the frame parser's own tests
are in tests/core/test_protocols_websocket.py)."""

from __future__ import annotations

import asyncio
import re
import ssl
import time

import pytest

from presencectl.errors import UsageError
from presencectl.transports.base import CannotConnect, ConnectionLost, Source
from presencectl.transports.ws_client import (
    WsOptions,
    WsSource,
    make_ssl_context,
    parse_header,
    parse_ws_url,
)
from tests.conftest import free_port
from tests.live_support import (
    SPAN_FRAMES,
    SPAN_LINES,
    TOKEN,
    ConnectProxy,
    SilentWsServer,
    WsServer,
    delivered,
    hold,
    make_cert,
    recv_into,
    server_tls,
    span_scenario,
)


@pytest.fixture(autouse=True)
def _direct(monkeypatch):
    """Loopback servers are reached directly, whatever proxy the machine has."""
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)


# Headers, URLs, TLS files.


@pytest.mark.parametrize(
    "text, expected",
    [
        ("X-API-Token: abc", ("X-API-Token", "abc")),
        ("X-API-Token:abc:def", ("X-API-Token", "abc:def")),
        ("  Authorization :  Bearer x  ", ("Authorization", "Bearer x")),
        ("X-Empty:", ("X-Empty", "")),
    ],
)
def test_parse_header(text, expected):
    assert parse_header(text) == expected


@pytest.mark.parametrize("text", ["no colon", ": value", "Bad Name: v", "X-A: one\r\nX-B: two", "Ünicode: v"])
def test_bad_headers_are_usage_errors_that_do_not_echo_the_value(text):
    with pytest.raises(UsageError) as info:
        parse_header(text)
    assert "two" not in str(info.value)


def test_parse_ws_url():
    url = parse_ws_url("wss://bob:p%40ss@example.com/span?token=t")
    assert (url.secure, url.host, url.port, url.username, url.password) == (True, "example.com", 443, "bob", "p@ss")
    assert url.url == "wss://example.com/span?token=t"
    assert parse_ws_url("ws://127.0.0.1:9000").url == "ws://127.0.0.1:9000/"
    assert parse_ws_url("WS://h/x").port == 80


@pytest.mark.parametrize("url", ["http://h/x", "ws:///x", "ws://h:99999/x", "ws://h:port/x"])
def test_bad_ws_urls(url):
    with pytest.raises(UsageError, match="bad URL"):
        parse_ws_url(url)


def test_bad_url_message_hides_the_token():
    with pytest.raises(UsageError) as info:
        parse_ws_url("ws://h:99999/x?token=sekrit")
    assert "sekrit" not in str(info.value)


def test_tls_files_are_checked_up_front(tmp_path):
    with pytest.raises(UsageError, match="--cacert .*no such file"):
        make_ssl_context(cacert=str(tmp_path / "missing.pem"))
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    with pytest.raises(UsageError, match="--cacert"):
        make_ssl_context(cacert=str(junk))
    with pytest.raises(UsageError, match="--cert"):
        make_ssl_context(cert=str(junk))
    with pytest.raises(UsageError, match="--key needs --cert"):
        make_ssl_context(key=str(junk))
    assert make_ssl_context(insecure=True).verify_mode == ssl.CERT_NONE
    assert make_ssl_context().verify_mode == ssl.CERT_REQUIRED


def test_url_credentials_become_basic_auth_and_host_origin_are_not_doubled():
    source = WsSource(WsOptions("ws://bob:pw@h/x", headers=["Origin: https://app", "Host: other", "X-A: 1"]))
    assert source._headers == ["X-A: 1", "Authorization: Basic Ym9iOnB3"]
    assert source._extra == {"origin": "https://app", "host": "other"}
    assert source.endpoint == "ws://REDACTED:REDACTED@h/x"
    assert isinstance(source, Source)


# Against real servers.


def collect(source: WsSource, until_lost: bool = True, timeout: float = 10) -> tuple[list, ConnectionLost | None]:
    frames = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            got = source.receive(0.5)
        except ConnectionLost as lost:
            return frames, lost
        if got is not None:
            frames.append(got)
        elif not until_lost:
            break
    return frames, None


def test_every_kind_of_frame_arrives_as_sent():
    with WsServer(span_scenario, token=TOKEN) as server:
        source = WsSource(WsOptions(server.url, headers=[f"X-API-Token: {TOKEN}"]))
        assert source.connect() == "HTTP 101"
        frames, lost = collect(source)
    sent = [payload for payload, _ in SPAN_FRAMES]
    assert [f.data for f in frames] == sent  # binary and invalid UTF-8 stay bytes
    assert all(f.t is not None and f.topic is None for f in frames)
    assert lost is not None and lost.clean and "1000 normal closure: done" in lost.cause
    source.close()


def test_sends_go_out_after_connect_and_pings_are_answered():
    async def handler(ws, server):
        await recv_into(ws, server, 5)
        await recv_into(ws, server, 5)
        pong = await ws.ping(b"are you there")
        await asyncio.wait_for(pong, 5)
        await ws.send("pong seen")
        await ws.close(1001, "bye")

    with WsServer(handler, subprotocols=["presence.v1"]) as server:
        options = WsOptions(server.url, subprotocols=["presence.v1"], sends=['{"action":"subscribe"}', b"\x01\x02"])
        source = WsSource(options)
        assert source.connect() == "HTTP 101, subprotocol presence.v1, sent 2 messages"
        frames, lost = collect(source)
    assert server.received == [['{"action":"subscribe"}', b"\x01\x02"]]
    assert [f.data for f in frames] == ["pong seen"]
    assert lost is not None and not lost.clean and "1001 going away: bye" in lost.cause


def test_fragmented_message_is_one_frame():
    async def handler(ws, server):
        await ws.send(["{\"event\":", "\"x\",", "\"deviceId\":\"d\"}"])
        await ws.send([b"\x00", b"\x01"])
        await hold(ws, 5)

    with WsServer(handler) as server:
        source = WsSource(WsOptions(server.url))
        source.connect()
        first = source.receive(5)
        second = source.receive(5)
        source.close()
    assert first is not None and first.data == '{"event":"x","deviceId":"d"}'
    assert second is not None and second.data == b"\x00\x01"


def test_receive_returns_none_when_nothing_comes():
    with WsServer(lambda ws, server: hold(ws, 5)) as server:
        source = WsSource(WsOptions(server.url, ping_interval=None))
        source.connect()
        started = time.monotonic()
        assert source.receive(0.1) is None
        assert time.monotonic() - started < 5
        source.close()
        source.close()  # twice is fine


def test_an_aborted_connection_is_lost_not_clean():
    async def handler(ws, server):
        await ws.send(SPAN_LINES[0])
        await delivered(ws)
        ws.transport.abort()

    with WsServer(handler) as server:
        source = WsSource(WsOptions(server.url))
        source.connect()
        frames, lost = collect(source)
        assert [f.data for f in frames] == [SPAN_LINES[0]]
        assert lost is not None and not lost.clean
        assert "without a close frame" in lost.cause or "reset" in lost.cause
        # and it can connect again
        source.connect()
        frames, lost = collect(source)
        assert [f.data for f in frames] == [SPAN_LINES[0]]
    assert server.connections == 2


def test_unanswered_keepalive_pings_count_as_a_loss():
    with SilentWsServer() as server:
        source = WsSource(WsOptions(server.url, ping_interval=0.2))
        source.connect()
        with pytest.raises(ConnectionLost, match="no answer to a keep-alive ping within 0.2 s"):
            for _ in range(50):
                source.receive(0.1)


def test_missing_and_wrong_credentials():
    with WsServer(span_scenario, token=TOKEN) as server:
        with pytest.raises(CannotConnect) as info:
            WsSource(WsOptions(server.url)).connect()
        assert info.value.fatal
        assert "HTTP 401" in str(info.value) and server.url in str(info.value)
        with pytest.raises(CannotConnect, match="HTTP 401"):
            WsSource(WsOptions(server.url, headers=["X-API-Token: wrong"])).connect()


def test_refused_connection():
    port = free_port()
    with pytest.raises(CannotConnect) as info:
        WsSource(WsOptions(f"ws://127.0.0.1:{port}/x")).connect()
    assert not info.value.fatal
    assert str(info.value) == f"ws://127.0.0.1:{port}/x: connection refused (is the server running?)"


def test_dns_failure():
    with pytest.raises(CannotConnect, match=r"DNS lookup of 'nohost\.invalid' failed"):
        WsSource(WsOptions("ws://nohost.invalid/x", connect_timeout=5)).connect()


def test_a_server_that_never_answers_the_upgrade_times_out():
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(5)  # accepted by the kernel, never answered
        port = listener.getsockname()[1]
        with pytest.raises(CannotConnect, match="timed out after 0.3 s"):
            WsSource(WsOptions(f"ws://127.0.0.1:{port}/x", connect_timeout=0.3)).connect()


def test_tls_verification(tmp_path):
    cert, key = make_cert(tmp_path)
    with WsServer(span_scenario, ssl_context=server_tls(cert, key)) as server:
        url = server.url.replace("127.0.0.1", "localhost")
        with pytest.raises(CannotConnect) as info:
            WsSource(WsOptions(url, ssl_context=make_ssl_context())).connect()
        assert info.value.fatal
        assert "TLS certificate verification failed" in str(info.value)
        assert "--cacert" in str(info.value)

        trusted = WsSource(WsOptions(server.url, ssl_context=make_ssl_context(cacert=str(cert))))
        trusted.connect()
        frames, _ = collect(trusted)
        assert frames[0].data == SPAN_LINES[0]

        insecure = WsSource(WsOptions(server.url, ssl_context=make_ssl_context(insecure=True)))
        insecure.connect()
        frames, _ = collect(insecure)
        assert len(frames) == len(SPAN_FRAMES)


def test_http_proxy_from_the_environment(monkeypatch):
    with WsServer(span_scenario) as server, ConnectProxy() as proxy:
        monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{proxy.port}")
        source = WsSource(WsOptions(server.url))
        source.connect()
        frames, _ = collect(source)
    assert proxy.targets == [f"127.0.0.1:{server.port}"]
    assert len(frames) == len(SPAN_FRAMES)


def test_client_certificate_for_mutual_tls(tmp_path):
    cert, key = make_cert(tmp_path)
    context = server_tls(cert, key)
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cert)  # the test cert signs itself: trust it as a client too
    with WsServer(span_scenario, ssl_context=context) as server:
        source = WsSource(WsOptions(server.url, ssl_context=make_ssl_context(cacert=str(cert))))
        with pytest.raises(CannotConnect, match=re.escape("(does the server want a client certificate? --cert, --key)")):
            source.connect()
        source = WsSource(
            WsOptions(
                server.url,
                ssl_context=make_ssl_context(cacert=str(cert), cert=str(cert), key=str(key)),
                client_cert=True,
            )
        )
        source.connect()
        frames, _ = collect(source)
    assert len(frames) == len(SPAN_FRAMES)
