"""``replay --to mqtt(s)://`` as a user meets it: over TLS, refused by a broker that wants
credentials, a peer that never answers CONNECT or hangs up, a capture topic that
cannot be published. Real mosquitto (``tests/mqtt_support.py``), real sockets, the CLI
as a subprocess; every failure is one ``presencectl: error:`` line and exit 1."""

from __future__ import annotations

import socket
import threading

import pytest

from presencectl.core.events import Frame
from tests.conftest import assert_no_traceback, fixture, run_cli
from tests.mqtt_support import Brokers
from tests.replay_support import T0, capture_frames, write_capture

ALIYUN = fixture("aliyun.capture.ndjson")


@pytest.fixture
def make_broker(tmp_path):
    with Brokers(tmp_path) as make:
        yield make


def frames_of(path) -> list[Frame]:
    return [f for f in capture_frames(path) if isinstance(f, Frame)]


def error(result) -> str:
    """The one error line of a failed run."""
    assert_no_traceback(result)
    lines = result.stderr.decode().strip().splitlines()
    assert lines and lines[-1].startswith("presencectl: error: "), lines
    return lines[-1].removeprefix("presencectl: error: ")


@pytest.mark.parametrize("qos", ["0", "1"])
def test_replay_over_tls_republishes_every_frame(make_broker, qos):
    broker = make_broker(tls=True)
    frames = frames_of(ALIYUN)
    watcher = broker.subscriber("tls/#", len(frames))
    result = run_cli("replay", str(ALIYUN), "--to", broker.url, "--cacert", str(broker.certs.ca_path),
                     "--topic-prefix", "tls/", "--speed", "max", "--qos", qos)
    assert result.returncode == 0, result.stderr
    out, _ = watcher.communicate(timeout=30)
    assert [line.split(" ", 1)[0] for line in out.decode().splitlines()] == ["tls/" + f.topic for f in frames]
    assert f"replayed {len(frames)} frames to {broker.url}".encode() in result.stderr


def test_replay_over_tls_with_an_untrusted_certificate(make_broker):
    broker = make_broker(tls=True)
    result = run_cli("replay", str(ALIYUN), "--to", broker.url, "--cacert", str(broker.certs.other_ca_path),
                     "--speed", "max")
    assert result.returncode == 1
    said = error(result)
    assert said.startswith(f"cannot connect to {broker.url}: TLS certificate verification failed (")
    assert said.endswith("trust the broker's CA with --cacert FILE, or skip the check with --insecure")
    # --insecure: the same broker, nothing verified, every frame sent
    frames = frames_of(ALIYUN)
    watcher = broker.subscriber("#", len(frames))
    ok = run_cli("replay", str(ALIYUN), "--to", broker.url, "--insecure", "--speed", "max")
    assert ok.returncode == 0, ok.stderr
    out, _ = watcher.communicate(timeout=30)
    assert len(out.decode().splitlines()) == len(frames)


def test_a_broker_that_wants_credentials(make_broker):
    broker = make_broker(users={"bob": "s3cret"})
    host = f"127.0.0.1:{broker.port}"
    anonymous = run_cli("replay", str(ALIYUN), "--to", broker.url, "--speed", "max")
    assert anonymous.returncode == 1
    assert error(anonymous) == (
        f"cannot connect to mqtt://{host}: the broker refused the connection: Not authorized (0x87) "
        "(give credentials: mqtt://USER:PASS@host, or --username with --password / PRESENCECTL_PASSWORD)"
    )
    wrong = run_cli("replay", str(ALIYUN), "--to", f"mqtt://bob:wrong@{host}", "--speed", "max")
    assert wrong.returncode == 1
    said = error(wrong)
    assert said.endswith("the broker refused the connection: Not authorized (0x87) (check the user name and password)")
    assert "wrong" not in wrong.stderr.decode()  # the password is never echoed
    frames = frames_of(ALIYUN)
    watcher = broker.subscriber("#", len(frames))
    right = run_cli("replay", str(ALIYUN), "--to", f"mqtt://bob:s3cret@{host}", "--speed", "max")
    assert right.returncode == 0, right.stderr
    assert len(watcher.communicate(timeout=30)[0].decode().splitlines()) == len(frames)


class Peer:
    """A TCP listener on loopback that is not a broker: it accepts and says nothing
    (``hang_up=False``) or accepts and closes at once."""

    def __init__(self, hang_up: bool) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.hang_up = hang_up
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self.hang_up:
                conn.close()
            else:
                self.held.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


def test_a_peer_that_never_answers_connect():
    peer = Peer(hang_up=False)
    try:
        result = run_cli("replay", str(ALIYUN), "--to", f"mqtt://127.0.0.1:{peer.port}",
                         "--connect-timeout", "0.5", "--speed", "max")
    finally:
        peer.close()
    assert result.returncode == 1
    assert error(result) == f"cannot connect to mqtt://127.0.0.1:{peer.port}: no CONNACK within 0.5 s"


def test_a_peer_that_hangs_up_before_answering_connect():
    peer = Peer(hang_up=True)
    try:
        result = run_cli("replay", str(ALIYUN), "--to", f"mqtt://127.0.0.1:{peer.port}", "--speed", "max")
    finally:
        peer.close()
    assert result.returncode == 1
    assert error(result) == (
        f"cannot connect to mqtt://127.0.0.1:{peer.port}: the broker closed the connection before answering CONNECT"
    )


@pytest.mark.parametrize("qos", ["0", "1"])
def test_a_recorded_topic_with_a_wildcard_cannot_be_published(make_broker, tmp_path, qos):
    broker = make_broker()
    path = write_capture(tmp_path / "bad-topic.capture.ndjson",
                         [Frame('{"n":1}', T0 + 0.01, "ok/1"), Frame('{"n":2}', T0 + 0.02, "bad/+")],
                         source="mqtt://127.0.0.1:1")
    watcher = broker.subscriber("ok/#", 1)
    result = run_cli("replay", str(path), "--to", broker.url, "--speed", "max", "--qos", qos)
    assert result.returncode == 1
    said = error(result)
    assert said.startswith(f"{broker.url}: cannot publish on 'bad/+': "), said
    # what came before the bad frame went out
    assert watcher.communicate(timeout=30)[0] == b'ok/1 {"n":1}\n'
