"""``replay --to mqtt://`` when the broker is not a happy one, through the real CLI:
bad options, a password from the environment, a broker that stops acknowledging
QoS 1 (the replay holds at most ``MqttTarget.MAX_BACKLOG`` messages unacknowledged
and says so when the broker then goes away), a broker that stops reading at QoS 0
(the replay holds a few blocks, not the whole capture), acknowledgements that never
come before the end, a loss between two frames, an MQTT 5 DISCONNECT with a
reason. Every failure is one ``presencectl: error:`` line and exit 1 (2 for usage)."""

from __future__ import annotations

import socket
import threading

import pytest

from presencectl.core.events import Frame
from presencectl.transports.mqtt_target import MqttTarget
from tests.conftest import assert_no_traceback, cli_env, run_cli, wait_until
from tests.mqtt_peer import CONNECT, PUBLISH, PeerConnection, ScriptedPeer, connack, disconnect
from tests.mqtt_support import Brokers
from tests.replay_support import T0, write_capture


@pytest.fixture
def make_broker(tmp_path):
    with Brokers(tmp_path) as make:
        yield make


def error_line(result, status: int = 1) -> str:  # type: ignore[no-untyped-def]
    assert_no_traceback(result)
    lines = result.stderr.decode().splitlines()
    assert result.returncode == status, lines
    assert lines and lines[-1].startswith("presencectl: error: "), lines
    assert sum(line.startswith("presencectl: error: ") for line in lines) == 1, lines
    return lines[-1].removeprefix("presencectl: error: ")


def mqtt_capture(path, count: int, *, size: int = 20, gap: float = 0.001):  # type: ignore[no-untyped-def]
    pad = "x" * size
    frames = [Frame(f'{{"n":{i},"pad":"{pad}"}}', T0 + 0.01 + i * gap, f"t/{i % 7}") for i in range(count)]
    return write_capture(path, frames, source="mqtt://127.0.0.1:1")


@pytest.mark.parametrize(
    ("flag", "value"), [("--qos", "3"), ("--qos", "-1"), ("--mqtt-version", "4")],
)
def test_bad_mqtt_options_are_usage_errors(tmp_path, flag, value):
    path = mqtt_capture(tmp_path / "c.capture.ndjson", 1)
    result = run_cli("replay", str(path), "--to", "mqtt://127.0.0.1:1", flag, value)
    said = error_line(result, status=2)
    assert said.startswith(f"bad {flag}"), said


def test_the_password_of_a_user_in_the_url_comes_from_the_environment(make_broker, tmp_path):
    broker = make_broker(users={"bob": "s3cret"})
    path = mqtt_capture(tmp_path / "c.capture.ndjson", 3)
    url = f"mqtt://bob@127.0.0.1:{broker.port}"
    watcher = broker.subscriber("t/#", 3)
    ok = run_cli("replay", str(path), "--to", url, "--speed", "max", env=cli_env(PRESENCECTL_PASSWORD="s3cret"))
    assert ok.returncode == 0, ok.stderr
    assert len(watcher.communicate(timeout=30)[0].splitlines()) == 3
    wrong = run_cli("replay", str(path), "--to", url, "--speed", "max", env=cli_env(PRESENCECTL_PASSWORD="nope"))
    assert error_line(wrong).endswith("(check the user name and password)")
    assert "nope" not in wrong.stderr.decode()


class Silent:
    """A broker that answers CONNECT, then counts PUBLISH packets and acknowledges nothing."""

    def __init__(self) -> None:
        self.published = 0
        self.reset = threading.Event()
        self.peer = ScriptedPeer(self._script)

    def _script(self, conn: PeerConnection) -> None:
        conn.expect(CONNECT)
        conn.send(connack(v5=conn.v5))
        conn.sock.settimeout(0.05)
        while not self.reset.is_set():
            try:
                kind, _flags, _body = conn.packet()
            except TimeoutError:
                continue
            if kind == PUBLISH:
                self.published += 1
        conn.reset()


def test_a_broker_that_stops_acknowledging_qos1_then_goes_away(tmp_path):
    # paho sends 20 QoS 1 publishes unacknowledged (its in-flight window); the
    # replay queues up to MAX_BACKLOG + 1 and then waits for acknowledgements.
    # When the broker goes away it says how far it got: never the whole
    # capture, never a success.
    total = MqttTarget.MAX_BACKLOG * 3
    path = mqtt_capture(tmp_path / "c.capture.ndjson", total)
    silent = Silent()
    with silent.peer:
        from tests.live_support import Cli

        with Cli("replay", str(path), "--to", silent.peer.url, "--qos", "1", "--speed", "max") as replay:
            wait_until(lambda: silent.published >= 20, "paho's in-flight window to fill", timeout=60)
            silent.reset.set()
            status = replay.finish(60)
    assert status == 1 and "Traceback" not in replay.stderr, replay.stderr
    last = replay.stderr.splitlines()[-1]
    assert last.startswith(f"presencectl: error: {silent.peer.url}: the broker closed the connection after "), last
    sent = int(last.rsplit(" after ", 1)[1].removesuffix(" frames"))
    assert 20 <= sent <= MqttTarget.MAX_BACKLOG + 1
    assert silent.published == 20


def test_acknowledgements_that_never_come_are_counted_at_the_end(tmp_path):
    path = mqtt_capture(tmp_path / "c.capture.ndjson", 5)
    silent = Silent()
    with silent.peer:
        result = run_cli("replay", str(path), "--to", silent.peer.url, "--qos", "1", "--speed", "max",
                         "--connect-timeout", "0.5", timeout=60)
        silent.reset.set()
    assert_no_traceback(result)
    err = result.stderr.decode().splitlines()
    # a warning, not a failure: every frame went out (exit 0, as for QoS 0)
    assert result.returncode == 0, err
    assert err[0] == f"presencectl: warning: {silent.peer.url}: 5 publishes not acknowledged within 0.5 s", err
    assert err[-1].startswith(f"presencectl: replayed 5 frames to {silent.peer.url}"), err
    assert silent.published == 5


def test_a_broker_that_stops_reading_at_qos0_then_goes_away(tmp_path):
    # A broker that reads nothing more after CONNACK, then resets: the replay
    # ends with one line saying how far it got, not with the whole capture.
    count = 20_000
    path = mqtt_capture(tmp_path / "big.capture.ndjson", count, size=1000, gap=0.0001)
    stalled = threading.Event()
    gone = threading.Event()

    def script(conn: PeerConnection) -> None:
        conn.expect(CONNECT)
        conn.send(connack(v5=conn.v5))
        wait_until(lambda: _unread(conn.sock) > 64 << 10, "the replay to send", timeout=60)
        stalled.set()
        gone.wait(60)
        conn.reset()

    with ScriptedPeer(script) as peer:
        from tests.live_support import Cli

        with Cli("replay", str(path), "--to", peer.url, "--speed", "max") as replay:
            assert stalled.wait(60)
            gone.set()
            status = replay.finish(60)
    assert status == 1 and "Traceback" not in replay.stderr, replay.stderr
    last = replay.stderr.splitlines()[-1]
    assert last.startswith(f"presencectl: error: {peer.url}: the broker closed the connection after ")
    sent = int(last.rsplit(" after ", 1)[1].removesuffix(" frames"))
    assert 0 < sent < count


@pytest.mark.parametrize(("qos", "count", "size"), [("0", 20_000, 1000), ("1", 3_000, 20)])
def test_a_long_replay_at_full_speed_delivers_every_frame_in_order(make_broker, tmp_path, qos, count, size):
    # Faster than the broker: at QoS 0 the replay waits while paho holds a few
    # blocks, and at the end until they are written; at QoS 1 it waits while
    # MAX_BACKLOG publishes are unacknowledged. Nothing is dropped or reordered.
    broker = make_broker(extra=["max_queued_messages 0"])  # the watcher's queue: unlimited (default 1000)
    path = mqtt_capture(tmp_path / "c.capture.ndjson", count, size=size, gap=0.0001)
    watcher = broker.subscriber("t/#", count, "-q", "1", timeout=100)
    result = run_cli("replay", str(path), "--to", broker.url, "--qos", qos, "--speed", "max", timeout=100)
    assert_no_traceback(result)
    assert result.returncode == 0, result.stderr
    out, _ = watcher.communicate(timeout=100)
    lines = out.splitlines()
    assert len(lines) == count
    pad = "x" * size
    assert lines == [f't/{i % 7} {{"n":{i},"pad":"{pad}"}}'.encode() for i in range(count)]


def _unread(sock: socket.socket) -> int:
    import fcntl
    import struct
    import termios

    return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0"))[0]


@pytest.mark.parametrize(
    ("qos", "version", "how", "said"),
    [
        ("0", "3", "reset", "the broker closed the connection"),
        ("1", "3", "reset", "the broker closed the connection"),
        ("1", "5", "disconnect", "the broker disconnected us: Quota exceeded (0x97)"),
    ],
)
def test_a_broker_gone_between_two_frames(tmp_path, qos, version, how, said):
    # The second frame is due 2 s after the first; the broker ends the
    # connection once it has the first (an MQTT 5 broker says why).
    path = write_capture(tmp_path / "c.capture.ndjson",
                         [Frame('{"n":1}', T0 + 0.01, "t/1"), Frame('{"n":2}', T0 + 2.01, "t/2")],
                         source="mqtt://127.0.0.1:1")

    def script(conn: PeerConnection) -> None:
        conn.expect(CONNECT)
        conn.send(connack(v5=conn.v5))
        conn.expect(PUBLISH)
        if how == "reset":
            conn.reset()
        else:
            conn.send(disconnect(0x97))
            conn.hold()

    with ScriptedPeer(script) as peer:
        result = run_cli("replay", str(path), "--to", peer.url, "--qos", qos, "--mqtt-version", version, timeout=60)
    # At QoS 1 paho's network thread writes the first PUBLISH while publish()
    # still runs: when the loss is noticed before publish() returns, paho
    # reports that publish failed and the count is 0 (nothing acknowledged).
    counts = ("1",) if qos == "0" else ("0", "1")
    assert error_line(result) in [f"{peer.url}: {said} after {n} frames" for n in counts]


def _source_reading(qos, version):  # type: ignore[no-untyped-def]
    from presencectl.cli.sources import mqtt_source_from_args

    source = mqtt_source_from_args("mqtt://127.0.0.1:1", topics=["a/#"], qos=qos, mqtt_version=version)
    return source.options.qos, source.options.version


def _target_reading(qos, version):  # type: ignore[no-untyped-def]
    from types import SimpleNamespace

    options = SimpleNamespace(extra={"qos": qos, "mqtt_version": version}, cacert=None, insecure=False)
    target = MqttTarget("mqtt://127.0.0.1:1", options)
    return target.qos, target.version


@pytest.mark.parametrize("read", [_source_reading, _target_reading], ids=["tail source", "replay target"])
@pytest.mark.parametrize(
    ("qos", "version", "expected"),
    [(0, None, (0, 3)), (1, "3", (1, 3)), (2, "3.1.1", (2, 3)), ("1", "5", (1, 5)), (0, "5.0", (0, 5)),
     (3, None, "bad --qos 3"), (-1, None, "bad --qos -1"), (1.5, None, "bad --qos 1.5"), (0, "4.5", "bad --mqtt-version '4.5'")],
)
def test_qos_and_version_are_read_alike_by_source_and_target(read, qos, version, expected):
    """One reading of --qos and --mqtt-version (``mqtt_connect.check_qos``/``mqtt_version``) for both."""
    from presencectl.errors import UsageError

    if isinstance(expected, str):
        with pytest.raises(UsageError, match=f"^{expected}"):
            read(qos, version)
    else:
        assert read(qos, version) == expected
