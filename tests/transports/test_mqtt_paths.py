"""``tail mqtt(s)://`` on the paths a happy broker never takes, through the real CLI:
TLS that fails in each way a user meets it, a host that does not answer or does
not exist, a broker too old for MQTT 5, a broker that hangs up on SUBSCRIBE or on
``--publish`` or never acknowledges them, a reset, a malformed packet or an MQTT 5
DISCONNECT once subscribed; and the broker-side session (``--no-clean-session``)
that holds QoS 1/2 messages while presencectl is away.

Real mosquitto where it shows the behaviour (``tests/mqtt_support.py``), a scripted
MQTT peer on a real socket where mosquitto never does it (``tests/mqtt_peer.py``).
Every failure ends with one ``presencectl: error:`` line and exit 1, no traceback;
a failure that retrying cannot cure ends even without ``--no-reconnect``."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import socket
import threading
from pathlib import Path

import pytest

from presencectl.core.events import Frame
from presencectl.transports.files import CaptureReader
from tests.conftest import assert_no_traceback, run_cli
from tests.mqtt_peer import (
    CONNECT,
    PUBCOMP,
    PUBLISH,
    PUBREC,
    SUBSCRIBE,
    PeerConnection,
    ScriptedPeer,
    connack,
    disconnect,
    publish,
    pubrel,
    suback,
)
from tests.mqtt_support import Broker, Brokers


@pytest.fixture
def make_broker(tmp_path):
    with Brokers(tmp_path) as make:
        yield make


def error_line(result) -> str:  # type: ignore[no-untyped-def]
    """The one error line a failed run ends with (exit 1, no traceback)."""
    assert_no_traceback(result)
    lines = result.stderr.decode().splitlines()
    assert result.returncode == 1, lines
    assert lines and lines[-1].startswith("presencectl: error: "), lines
    assert sum(line.startswith("presencectl: error: ") for line in lines) == 1, lines
    return lines[-1].removeprefix("presencectl: error: ")


def frames_in(path: Path) -> list[Frame]:
    return [r for r in CaptureReader(str(path), lambda m: None).records() if isinstance(r, Frame)]


# ------------------------------------------------------------------ TLS


TLS12_ONLY = """openssl_conf = default_conf
[default_conf]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
MaxProtocol = TLSv1.2
"""


def test_a_tls12_broker_that_wants_a_client_certificate(make_broker, tmp_path, monkeypatch):
    # A broker that speaks TLS 1.2 at most (OpenSSL configured so for its
    # process only) refuses a client without a certificate inside the handshake.
    conf = tmp_path / "tls12.cnf"
    conf.write_text(TLS12_ONLY)
    monkeypatch.setenv("OPENSSL_CONF", str(conf))
    broker = make_broker(tls=True, require_client_cert=True)
    monkeypatch.delenv("OPENSSL_CONF")
    said = error_line(run_cli("tail", broker.url, "--cacert", str(broker.certs.ca_path), timeout=60))
    assert said.startswith(f"{broker.url}: TLS handshake with 127.0.0.1:{broker.port} failed (")
    assert said.endswith("): the broker wants a client certificate it trusts (--cert, --key)")


def self_signed(directory: Path, cn: str, *, dns: list[str] | None = None) -> tuple[Path, Path]:
    """A self-signed certificate and its key (PEM files); ``dns``: a server's names."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    )
    if dns is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in dns]), critical=False)
    cert = builder.sign(key, hashes.SHA256())
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / f"{cn}.pem", directory / f"{cn}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ))
    return cert_path, key_path


def test_a_client_certificate_the_broker_does_not_trust(make_broker, tmp_path):
    # TLS 1.3: the handshake completes before the broker checks the client's
    # certificate; it then hangs up before CONNACK. The hint names --cert.
    broker = make_broker(tls=True, require_client_cert=True)
    cert, key = self_signed(tmp_path / "stranger", "stranger")
    said = error_line(run_cli("tail", broker.url, "--cacert", str(broker.certs.ca_path), "--cert", str(cert),
                              "--key", str(key), "--no-reconnect", timeout=60))
    assert said == (
        f"{broker.url}: 127.0.0.1:{broker.port} closed the connection before answering CONNECT "
        "(does the broker trust the client certificate --cert?)"
    )


def test_a_certificate_for_another_host_name(tmp_path):
    # The chain is trusted (--cacert) but the name is not the broker's:
    # the verification line, and --insecure skips the name check too.
    broker = Broker(tmp_path / "b", tls=True)
    assert broker.certs is not None
    cert, key = self_signed(tmp_path / "elsewhere", "elsewhere", dns=["elsewhere.example"])
    broker.certs.server_cert.write_bytes(cert.read_bytes())
    broker.certs.server_key.write_bytes(key.read_bytes())
    broker.start()
    try:
        said = error_line(run_cli("tail", broker.url, "--cacert", str(cert), timeout=60))
        assert said.startswith(f"{broker.url}: TLS certificate verification failed (")
        assert "127.0.0.1" in said and "mismatch" in said.lower()
        assert said.endswith("trust the broker's CA with --cacert FILE, or skip the check with --insecure")
        ok = run_cli("tail", broker.url, "--cacert", str(cert), "--insecure", "-T", "a/#", "--timeout", "0.3")
        assert_no_traceback(ok)
        assert ok.returncode == 0, ok.stderr
        assert ok.stderr.decode().startswith(f"presencectl: connected to {broker.url} (MQTT 3.1.1")
    finally:
        broker.stop()


def test_mqtts_to_a_plain_http_port_is_fatal():
    # A web server answers the TLS hello with an HTTP error: not a TLS port.
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    try:
        said = error_line(run_cli("tail", f"mqtts://127.0.0.1:{port}", timeout=60))
    finally:
        server.shutdown()
        server.server_close()
    assert said == (
        f"mqtts://127.0.0.1:{port}: TLS handshake with 127.0.0.1:{port} failed (WRONG_VERSION_NUMBER): "
        "not a TLS port? use mqtt:// for plain MQTT"
    )


def test_mqtts_to_a_port_that_hangs_up_on_the_tls_hello():
    # What mosquitto's plain port does to a TLS hello, as a clean EOF (it was
    # "failed (UNEXPECTED_EOF_WHILE_READING)" with no hint: SSLEOFError fell
    # into the generic TLS branch).
    def script(conn: PeerConnection) -> None:
        conn.sock.recv(65536)  # the ClientHello
        conn.sock.shutdown(socket.SHUT_WR)
        conn.hold()

    with ScriptedPeer(script) as peer:
        said = error_line(run_cli("tail", f"mqtts://127.0.0.1:{peer.port}", "--no-reconnect", timeout=60))
    assert said == (
        f"mqtts://127.0.0.1:{peer.port}: TLS handshake with 127.0.0.1:{peer.port} failed (connection closed): "
        "not a TLS port? use mqtt:// for plain MQTT"
    )


# ------------------------------------------------------------------ connecting


def test_a_host_that_does_not_answer_the_tcp_connect():
    # A listener whose accept queue is full drops the SYN: the connect times out.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    queued = []
    for _ in range(3):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        queued.append(s)
    try:
        said = error_line(run_cli("tail", f"mqtt://127.0.0.1:{port}", "--connect-timeout", "0.5",
                                  "--no-reconnect", timeout=60))
    finally:
        for s in queued:
            s.close()
        listener.close()
    assert said == (
        f"mqtt://127.0.0.1:{port}: timed out after 0.5 s connecting to 127.0.0.1:{port} "
        "(host unreachable or not answering)"
    )


def test_a_host_name_that_does_not_resolve():
    said = error_line(run_cli("tail", "mqtt://no-such-host.invalid", "--no-reconnect", timeout=60))
    assert said.startswith("mqtt://no-such-host.invalid: DNS lookup of 'no-such-host.invalid' failed (")


def test_a_host_name_no_resolver_accepts():
    host = "a" * 64 + ".example"  # a DNS label is at most 63 characters
    said = error_line(run_cli("tail", f"mqtt://{host}", timeout=60))
    assert said.startswith(f"mqtt://{host}: cannot connect to {host}:1883: ")
    assert "label" in said


@pytest.mark.parametrize(
    ("code", "version", "said"),
    [
        (0x84, "5", "Unsupported protocol version (0x84) (try --mqtt-version 3)"),
        (0x85, "3", "Client identifier not valid (0x85) (try another --client-id)"),
        (0x85, "5", "Client identifier not valid (0x85) (try another --client-id)"),
    ],
)
def test_a_refused_reconnect_says_what_to_try_and_ends_the_run(code, version, said):
    # The first connection is dropped; the reconnect is refused with a code
    # retrying cannot cure: the run ends at once (one refusal, no third try).
    # A connection that fails for a passing reason (here: hung up before
    # CONNACK) is retried. 3.1.1 CONNACK codes are 1-5, read as MQTT 5's.
    from tests.live_support import Cli

    code_sent = code if version == "5" else {0x84: 1, 0x85: 2}[code]

    def script(conn: PeerConnection) -> None:
        n = peer.connections
        if n == 1:
            subscribed(conn)
            conn.reset()
        elif n == 2:
            conn.expect(CONNECT)
            conn.reset()
        else:
            conn.expect(CONNECT)
            conn.send(connack(v5=conn.v5, code=code_sent))
            conn.hold()

    with ScriptedPeer(script) as peer, Cli("tail", peer.url, "-T", "a/#", "--mqtt-version", version) as tail:
        status = tail.finish(60)
    assert status == 1 and "Traceback" not in tail.stderr
    lines = tail.stderr.splitlines()
    assert lines[-1] == f"presencectl: error: {peer.url}: the broker refused the connection: {said}"
    assert any("reconnect failed: " in line and "before answering CONNECT" in line for line in lines), lines
    assert peer.connections == 3


# ------------------------------------------------------------------ the handshake


def subscribed(conn: PeerConnection, *, before_suback: bytes = b"") -> None:
    """CONNECT → CONNACK, SUBSCRIBE → (``before_suback``) SUBACK granting QoS 0 or 1."""
    conn.expect(CONNECT)
    conn.send(connack(v5=conn.v5))
    body = conn.expect(SUBSCRIBE)
    conn.send(before_suback + suback(conn.packet_id(body), [body[-1] & 3], v5=conn.v5))


def test_a_broker_that_hangs_up_on_subscribe():
    # AWS IoT does this to a SUBSCRIBE its policy denies (MQTT 3.1.1).
    def script(conn: PeerConnection) -> None:
        conn.expect(CONNECT)
        conn.send(connack(v5=conn.v5))
        conn.expect(SUBSCRIBE)
        conn.reset()

    with ScriptedPeer(script) as peer:
        said = error_line(run_cli("tail", peer.url, "-T", "a/#", "--no-reconnect", timeout=60))
    assert said.startswith(f"{peer.url}: ")
    assert said.endswith(" on SUBSCRIBE to 'a/#' (a topic filter it does not accept?)")


@pytest.mark.parametrize(
    ("code", "why"),
    [(0x87, "Not authorized (0x87)"),
     (0x8E, "Session taken over (0x8E) (another client connected with client id 'twin')")],
)
def test_an_mqtt5_broker_that_disconnects_on_subscribe_says_why(code, why):
    def script(conn: PeerConnection) -> None:
        conn.expect(CONNECT)
        conn.send(connack(v5=conn.v5))
        conn.expect(SUBSCRIBE)
        conn.send(disconnect(code))
        conn.hold()

    with ScriptedPeer(script) as peer:
        said = error_line(run_cli("tail", peer.url, "-T", "a/#", "--mqtt-version", "5", "--client-id", "twin",
                                  "--no-reconnect", timeout=60))
    assert said == (
        f"{peer.url}: the broker disconnected us: {why} on SUBSCRIBE to 'a/#' (a topic filter it does not accept?)"
    )


def test_a_broker_that_never_answers_subscribe():
    def script(conn: PeerConnection) -> None:
        conn.expect(CONNECT)
        conn.send(connack(v5=conn.v5))
        conn.expect(SUBSCRIBE)
        conn.hold()

    with ScriptedPeer(script) as peer:
        said = error_line(run_cli("tail", peer.url, "-T", "a/#", "--connect-timeout", "0.5", "--no-reconnect",
                                  timeout=60))
    assert said == f"{peer.url}: no SUBACK within 0.5 s"


def test_a_broker_that_hangs_up_on_the_publish():
    # AWS IoT again: a PUBLISH the policy denies ends the connection.
    def script(conn: PeerConnection) -> None:
        subscribed(conn)
        conn.expect(PUBLISH)
        conn.reset()

    with ScriptedPeer(script) as peer:
        said = error_line(run_cli("tail", peer.url, "-T", "a/#", "--qos", "1", "--publish", "up/x", "hi",
                                  "--no-reconnect", timeout=60))
    assert said.endswith(" after the publish to 'up/x' (not allowed to publish there?)")


def test_a_broker_that_never_acknowledges_the_publish():
    def script(conn: PeerConnection) -> None:
        subscribed(conn)
        conn.expect(PUBLISH)
        conn.hold()

    with ScriptedPeer(script) as peer:
        said = error_line(run_cli("tail", peer.url, "-T", "a/#", "--qos", "1", "--publish", "up/x", "hi",
                                  "--connect-timeout", "0.5", "--no-reconnect", timeout=60))
    assert said == f"{peer.url}: no acknowledgement of the publish to 'up/x' within 0.5 s"


def test_a_message_before_and_after_the_suback_reads_the_same(tmp_path):
    # Messages that come before SUBACK (a resumed session's queue) are read by
    # paho, the ones once connected by presencectl's own reader: an invalid
    # UTF-8 topic (brokers should refuse it) and payload are shown and
    # recorded alike.
    from tests.live_support import Cli

    odd = publish(b"bad/\xff", b"\xff\x00", v5=False)
    connected = threading.Event()

    def script(conn: PeerConnection) -> None:
        subscribed(conn, before_suback=odd)
        connected.wait(30)
        conn.send(odd)
        conn.hold()

    capture = tmp_path / "odd.capture.ndjson"
    with ScriptedPeer(script) as peer, Cli("tail", peer.url, "-T", "#", "-n", "2", "-f", "json", "--time", "none",
                                           "--record", str(capture)) as tail:
        tail.wait_stderr("connected to")
        connected.set()
        assert tail.finish(60) == 0, tail.stderr
    frames = frames_in(capture)
    assert [(f.topic, f.data) for f in frames] == [("bad/\\xff", b"\xff\x00")] * 2
    first, second = (json.loads(line) for line in tail.stdout.splitlines())
    first.pop("received", None), second.pop("received", None)
    assert first == second and first["topic"] == "bad/\\xff"


# ------------------------------------------------------------------ once subscribed


def test_a_reset_once_subscribed_is_a_lost_connection():
    # A load balancer or a crashed broker resets the connection: what came
    # before it is shown, then one error line.
    from tests.live_support import Cli

    shown = threading.Event()

    def script(conn: PeerConnection) -> None:
        subscribed(conn)
        conn.send(publish(b"a/1", b'{"n": 1}', v5=conn.v5))
        shown.wait(30)
        conn.reset()

    with ScriptedPeer(script) as peer, Cli("tail", peer.url, "-T", "a/#", "-f", "json", "--no-reconnect") as tail:
        tail.wait_stdout_lines(1)
        shown.set()
        status = tail.finish()
    assert status == 1
    assert [json.loads(line)["topic"] for line in tail.stdout.splitlines()] == ["a/1"]
    lines = tail.stderr.splitlines()
    assert "Traceback" not in tail.stderr
    assert lines[-1] == f"presencectl: error: {peer.url}: connection lost: connection reset by the broker"


def test_a_malformed_packet_once_connected_is_a_lost_connection():
    from tests.live_support import Cli

    go = threading.Event()

    def script(conn: PeerConnection) -> None:
        subscribed(conn)
        go.wait(30)
        conn.send(b"\x00\x00")  # packet type 0 does not exist
        conn.hold()

    with ScriptedPeer(script) as peer, Cli("tail", peer.url, "-T", "a/#", "--no-reconnect") as tail:
        tail.wait_stderr("connected to")
        go.set()
        status = tail.finish(60)
    assert status == 1 and "Traceback" not in tail.stderr, tail.stderr
    assert tail.stderr.splitlines()[-1] == (
        f"presencectl: error: {peer.url}: connection lost: protocol error: unexpected packet type 0 from the broker"
    )


def test_a_qos2_message_whose_pubrel_is_late_keeps_paho_reading():
    # presencectl takes the socket over from paho only between packets and
    # with no QoS 2 message waiting for its PUBREL. A broker that holds the
    # PUBREL back past --connect-timeout leaves paho's loop reading: messages
    # still arrive (this path raised a TypeError in receive()), the late
    # PUBREL delivers the QoS 2 message, and a malformed packet is a loss.
    from tests.live_support import Cli

    step = [threading.Event() for _ in range(3)]

    def script(conn: PeerConnection) -> None:
        conn.expect(CONNECT)
        conn.send(connack(v5=conn.v5, session_present=True))
        body = conn.expect(SUBSCRIBE)
        conn.send(publish(b"q/2", b'{"qos": 2}', v5=conn.v5, qos=2, pid=7))
        conn.send(suback(conn.packet_id(body), [2], v5=conn.v5))
        assert conn.expect(PUBREC) == b"\x00\x07"
        step[0].wait(30)
        conn.send(publish(b"q/0", b'{"qos": 0}', v5=conn.v5))
        step[1].wait(30)
        conn.send(pubrel(7))
        assert conn.expect(PUBCOMP) == b"\x00\x07"
        step[2].wait(30)
        conn.send(b"\x00\x00")
        conn.hold()

    with ScriptedPeer(script) as peer, Cli("tail", peer.url, "-T", "q/#", "--qos", "2", "-f", "json",
                                           "--connect-timeout", "0.5", "--no-reconnect") as tail:
        tail.wait_stderr("connected to")
        for n, event in enumerate(step[:2], 1):
            event.set()
            tail.wait_stdout_lines(n)
        step[2].set()
        status = tail.finish(60)
    assert status == 1 and "Traceback" not in tail.stderr, tail.stderr
    assert [json.loads(line)["topic"] for line in tail.stdout.splitlines()] == ["q/0", "q/2"]
    assert tail.stderr.splitlines()[-1] == (
        f"presencectl: error: {peer.url}: connection lost: protocol error: a packet paho-mqtt could not read"
    )


# ------------------------------------------------------------------ with mosquitto


def test_many_topics_are_counted_on_the_connect_line(make_broker):
    broker = make_broker()
    result = run_cli("tail", broker.url, "-T", "a/#", "-T", "b/#", "-T", "c/#", "-T", "d/#", "--qos", "1",
                     "--timeout", "0.3")
    assert_no_traceback(result)
    assert result.returncode == 0, result.stderr
    assert result.stderr.decode().splitlines()[0] == (
        f"presencectl: connected to {broker.url} (MQTT 3.1.1, subscribed to 4 topics (QoS 1))"
    )


def test_an_mqtt5_session_kept_by_the_broker_holds_what_came_while_away(make_broker, tmp_path):
    # --no-clean-session with MQTT 5 asks the broker to keep the session after
    # the disconnect (Session Expiry Interval); without it the QoS 1/2 messages
    # published while presencectl was away are gone. They arrive before the
    # SUBACK (paho reads them), exact to the byte, acknowledged once recorded:
    # a third run gets nothing again.
    broker = make_broker()
    args = ("tail", broker.url, "-T", "s/#", "--qos", "2", "--mqtt-version", "5", "--no-clean-session",
            "--client-id", "keeper", "-f", "json")
    first = run_cli(*args, "--timeout", "0.3")
    assert first.returncode == 0, first.stderr
    assert first.stderr.decode().splitlines()[0] == (
        f"presencectl: connected to {broker.url} (MQTT 5, subscribed to 's/#' (QoS 2))"
    )
    broker.publish("s/1", '{"n": 1}', qos=1, version=5)
    broker.publish("s/2", b"\xff\x00 not utf-8", qos=2, version=5)
    capture = tmp_path / "away.capture.ndjson"
    second = run_cli(*args, "-n", "2", "--record", str(capture), "--timeout", "20")
    assert_no_traceback(second)
    assert second.returncode == 0, second.stderr
    assert second.stderr.decode().splitlines()[0].startswith(
        f"presencectl: connected to {broker.url} (MQTT 5, session resumed, "
    )
    assert [(f.topic, f.data, (f.meta or {}).get("qos")) for f in frames_in(capture)] == [
        ("s/1", '{"n": 1}', 1), ("s/2", b"\xff\x00 not utf-8", 2),
    ]
    third = run_cli(*args, "--timeout", "0.3")
    assert third.returncode == 0, third.stderr
    assert third.stdout == b""


def test_retained_messages_before_the_publish_is_acknowledged_are_skipped(make_broker):
    # The broker sends its retained messages right after the SUBACK, while
    # presencectl still waits for the PUBACK of --publish (paho reads them):
    # --skip-retained drops them there too; without it they are shown first.
    broker = make_broker()
    broker.publish("r/stored", '{"old": true}', retain=True)
    args = ("tail", broker.url, "-T", "r/#", "--qos", "1", "--publish", "r/request", '{"new": true}', "-f", "json",
            "-n", "1")
    skipped = run_cli(*args, "--skip-retained", "--timeout", "20")
    assert skipped.returncode == 0, skipped.stderr
    assert [json.loads(line)["topic"] for line in skipped.stdout.splitlines()] == ["r/request"]
    shown = run_cli(*args, "--timeout", "20")
    assert shown.returncode == 0, shown.stderr
    assert [json.loads(line)["topic"] for line in shown.stdout.splitlines()] == ["r/stored"]
    assert "retained messages follow" in shown.stderr.decode()


@pytest.mark.parametrize(
    ("code", "status", "said"),
    [
        # mosquitto 2.0 only closes the socket on a take-over; MQTT 5 brokers that say why:
        (0x8E, 1, "presencectl: error: {url}: connection lost: the broker disconnected us: Session taken over "
                  "(0x8E) (another client connected with client id 'twin')"),
        (0x00, 0, "presencectl: the broker disconnected us: Normal disconnection (0x00)"),
    ],
)
def test_an_mqtt5_disconnect_once_connected_names_its_reason(code, status, said):
    # A normal disconnection ends a --no-reconnect run cleanly (exit 0); any other is an error.
    from tests.live_support import Cli

    go = threading.Event()

    def script(conn: PeerConnection) -> None:
        subscribed(conn)
        conn.send(publish(b"a/1", b'{"n": 1}', v5=conn.v5))
        go.wait(30)
        conn.send(disconnect(code))
        conn.hold()

    with ScriptedPeer(script) as peer, Cli("tail", peer.url, "-T", "a/#", "--mqtt-version", "5", "--client-id",
                                           "twin", "-f", "json", "--no-reconnect") as tail:
        tail.wait_stdout_lines(1)
        go.set()
        assert tail.finish(60) == status, tail.stderr
    assert "Traceback" not in tail.stderr
    assert said.format(url=peer.url) in tail.stderr.splitlines()
    assert [json.loads(line)["topic"] for line in tail.stdout.splitlines()] == ["a/1"]


def test_a_large_message_over_tls_arrives_whole(make_broker, tmp_path):
    # TLS records arrive in pieces: the socket is readable before a record is
    # complete (the read then waits for the rest instead of failing).
    from tests.live_support import Cli

    broker = make_broker(tls=True)
    payload = '{"big":"' + "0123456789" * 60_000 + '"}'
    capture = tmp_path / "big.capture.ndjson"
    with Cli("record", broker.url, "--cacert", str(broker.certs.ca_path), "-T", "big/#", "-n", "3",
             "-o", str(capture)) as rec:
        rec.wait_stderr("connected to")
        for _ in range(3):
            broker.publish("big/1", payload)
        assert rec.finish(60) == 0, rec.stderr
    assert [f.data for f in frames_in(capture)] == [payload] * 3
