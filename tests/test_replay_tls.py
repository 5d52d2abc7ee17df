"""``replay --to`` over TLS, the same for every target (wss, https, mqtts):
the TLS flags are refused on a plain URL, and a server that wants a client
certificate gets one from ``--cert``/``--key``. Real servers on loopback
(websockets, http.server, mosquitto), the CLI as a subprocess."""

from __future__ import annotations

import ssl
import threading
from contextlib import contextmanager

import pytest

from tests.conftest import assert_no_traceback, fixture, run_cli
from tests.mqtt_support import Brokers, make_certificates
from tests.replay_support import HttpSink

CAPTURE = fixture("span-activity.capture.ndjson")
FRAMES = sum(1 for line in CAPTURE.read_text().splitlines()[1:] if '"text"' in line or '"b64"' in line)


@pytest.mark.parametrize("scheme", ["ws", "http", "mqtt"])
@pytest.mark.parametrize("flag", [["--cacert", "ca.pem"], ["--cert", "c.pem"], ["--key", "k.pem"], ["--insecure"]], ids=lambda f: f[0])
def test_tls_flags_need_a_tls_url(scheme, flag):
    result = run_cli("replay", str(CAPTURE), "--to", f"{scheme}://127.0.0.1:1/x", *flag, "--speed", "max")
    assert_no_traceback(result)
    assert result.returncode == 2
    assert result.stderr.decode() == (
        "presencectl: error: --cacert, --cert, --key and --insecure need a TLS URL (wss://, https://, mqtts://)\n"
    )


def test_tls_flags_need_a_target():
    result = run_cli("replay", str(CAPTURE), "--cert", "c.pem")
    assert result.returncode == 2 and result.stderr.decode() == "presencectl: error: --cert only applies with --to\n"


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certificates(tmp_path_factory.mktemp("certs"))


def wants_client_cert(certs) -> ssl.SSLContext:  # type: ignore[no-untyped-def]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs.server_cert, certs.server_key)
    context.load_verify_locations(certs.ca_path)
    context.verify_mode = ssl.CERT_REQUIRED
    return context


@contextmanager
def wss_server(certs, _directory):  # type: ignore[no-untyped-def]
    from websockets.sync.server import serve

    got: list = []

    def handler(connection):  # type: ignore[no-untyped-def]
        for message in connection:
            got.append(message)

    server = serve(handler, "127.0.0.1", 0, ssl=wants_client_cert(certs), compression=None, max_size=None)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"wss://127.0.0.1:{server.socket.getsockname()[1]}/ingest", lambda: len(got), certs
    finally:
        server.shutdown()
        thread.join(5)


@contextmanager
def https_server(certs, _directory):  # type: ignore[no-untyped-def]
    with HttpSink() as sink:
        sink.server.socket = wants_client_cert(certs).wrap_socket(sink.server.socket, server_side=True)
        yield sink.url.replace("http://", "https://"), lambda: len(sink.posts), certs


@contextmanager
def mqtts_broker(certs, tmp_path):  # type: ignore[no-untyped-def]  # (the broker makes its own)
    with Brokers(tmp_path) as make:
        broker = make(tls=True, require_client_cert=True)
        watcher = broker.subscriber("#", FRAMES)
        seen: list[bytes] = []

        def count() -> int:
            if not seen:
                out, _ = watcher.communicate(timeout=30)
                seen.extend(out.splitlines())
            return len(seen)

        count.log = broker.log_text  # type: ignore[attr-defined]
        yield broker.url, count, broker.certs
        if watcher.poll() is None:
            watcher.kill()


SERVERS = {"wss": wss_server, "https": https_server, "mqtts": mqtts_broker}


@pytest.mark.parametrize("scheme", list(SERVERS))
def test_a_server_that_wants_a_client_certificate(scheme, certs, tmp_path):
    server = SERVERS[scheme]
    # (a WebSocket capture has no topics: an MQTT target needs one; and --client-id is its own)
    mqtt = ["--default-topic", "span/activity", "--client-id", "pctl-replay-tls"] if scheme == "mqtts" else []
    with server(certs, tmp_path / "refused") as (url, _count, pki):
        refused = run_cli("replay", str(CAPTURE), "--to", url, "--cacert", str(pki.ca_path), *mqtt, "--speed", "max", timeout=60)
    assert_no_traceback(refused)
    assert refused.returncode == 1, refused.stderr
    errors = [line for line in refused.stderr.decode().splitlines() if line.startswith("presencectl: error: ")]
    assert len(errors) == 1, refused.stderr
    peer = "broker" if scheme == "mqtts" else "server"  # the same hint as tail's, on every target
    assert errors[0].endswith(f" (does the {peer} want a client certificate? --cert, --key)"), errors
    with server(certs, tmp_path / "sent") as (url, count, pki):
        sent = run_cli(
            "replay", str(CAPTURE), "--to", url, "--cacert", str(pki.ca_path),
            "--cert", str(pki.client_cert), "--key", str(pki.client_key), *mqtt, "--speed", "max", timeout=60,
        )
        assert sent.returncode == 0, sent.stderr
        assert count() == FRAMES
        if mqtt:
            assert " as pctl-replay-tls " in count.log()
