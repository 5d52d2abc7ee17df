"""Round trip (issue 5, part 4): record from a server, replay --serve, tail --record.

The original "vendor" server is a ``websockets`` server in the test; the
recorder, the replay server and the second recorder are the real CLI. The two
captures must hold the same payloads (text and binary, byte for byte) in the
same order. How closely the gaps match is measured in
benchmarks/bench_replay.py, not asserted here (no timed assertions).
"""

from __future__ import annotations

import threading
import time

from presencectl.core.events import Frame, Marker
from tests.conftest import assert_no_traceback, run_cli
from tests.replay_support import (
    AWKWARD,
    CliProcess,
    capture_frames,
    capture_payloads,
)


class VendorServer:
    """Sends scripted payloads to each connection; ``drop_after`` closes the
    first connection (1011) after that many, and the next connection gets the rest."""

    def __init__(self, payloads: list[str | bytes], gap: float = 0.02, drop_after: int | None = None) -> None:
        from websockets.sync.server import serve

        self.payloads = payloads
        self.gap = gap
        self.drop_after = drop_after
        self.sent = 0
        self.connections = 0
        self._lock = threading.Lock()
        self.server = serve(self._handler, "127.0.0.1", 0, compression=None, max_size=None)
        self.url = f"ws://127.0.0.1:{self.server.socket.getsockname()[1]}/span/collections/c1/activity"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def _handler(self, connection) -> None:  # type: ignore[no-untyped-def]
        with self._lock:
            self.connections += 1
        while self.sent < len(self.payloads):
            time.sleep(self.gap)  # the vendor's own pace, recorded as gaps
            connection.send(self.payloads[self.sent])
            self.sent += 1
            if self.drop_after is not None and self.sent == self.drop_after and self.connections == 1:
                connection.close(1011, "vendor hiccup")
                return
        connection.close(1000, "end of session")

    def close(self) -> None:
        self.server.shutdown()
        self._thread.join(5)

    def __enter__(self) -> VendorServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def wait_for_frames(path, count: int, proc: CliProcess, timeout: float = 60) -> None:
    """Until the capture being written holds ``count`` frames."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            try:
                if len(capture_payloads(path)) >= count:
                    return
            except Exception:  # the header may not be written yet
                pass
        if proc.proc.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError(f"{path} never held {count} frames: {''.join(proc.stderr_lines)}")


def test_record_replay_serve_tail_record_round_trip(tmp_path):
    first = tmp_path / "vendor.capture.ndjson"
    second = tmp_path / "served.capture.ndjson.gz"
    with VendorServer(AWKWARD) as vendor:
        recorded = run_cli("record", vendor.url, "-o", str(first), "--no-reconnect")
    assert_no_traceback(recorded)
    assert recorded.returncode == 0, recorded.stderr
    assert capture_payloads(first) == AWKWARD

    with CliProcess("replay", str(first), "--serve", "ws://127.0.0.1:0/span/collections/c1/activity") as server:
        url = server.url()
        tailed = run_cli("tail", url, "--record", str(second), "--no-reconnect", "-f", "json")
        rc, out, err = server.stop()
    assert_no_traceback(tailed)
    assert tailed.returncode == 0, tailed.stderr
    assert b"replay finished" in tailed.stderr  # the server ended the session normally

    assert capture_payloads(second) == capture_payloads(first) == AWKWARD
    kinds = [type(f.data) for f in capture_frames(second)]
    assert kinds == [type(p) for p in AWKWARD]  # binary stayed binary
    assert rc == 130 and out == b""
    assert f"served {len(AWKWARD)} frames to 1 client" in err


def test_round_trip_with_a_disconnect_replayed(tmp_path):
    # The vendor drops the first connection after 4 payloads; the recorder
    # reconnects and gets the rest: the capture holds disconnected/connected
    # markers. Replayed with --replay-disconnects, the tailing client is
    # dropped at the same point, reconnects, and continues where it stopped.
    first = tmp_path / "vendor.capture.ndjson"
    second = tmp_path / "served.capture.ndjson"
    payloads = [p for p in AWKWARD if isinstance(p, str) and len(p) < 1000]
    with VendorServer(payloads, drop_after=4) as vendor:
        with CliProcess("record", vendor.url, "-o", str(first)) as recorder:
            wait_for_frames(first, len(payloads), recorder)
            rc, _, err = recorder.stop()
        assert vendor.connections == 2
    assert rc in (0, 130), err
    records = _records(first)
    marks = [r.mark for r in records if isinstance(r, Marker)]
    assert "disconnected" in marks
    assert capture_payloads(first) == payloads

    with CliProcess("replay", str(first), "--serve", "127.0.0.1:0", "--replay-disconnects", "--speed", "2") as server:
        url = server.url()
        with CliProcess("tail", url, "--record", str(second), "-f", "raw") as tail:
            wait_for_frames(second, len(payloads), tail)
            tail.stop()
            tail_err = "".join(tail.stderr_lines)
        server.stop()
    assert capture_payloads(second) == payloads  # nothing lost, nothing twice
    assert "replayed disconnect" in tail_err
    assert [r.mark for r in _records(second) if isinstance(r, Marker)].count("disconnected") >= 1


def _records(path) -> list[Frame | Marker]:
    from presencectl.transports.files import CaptureReader

    reader = CaptureReader(str(path), lambda message: None)
    try:
        return list(reader.records())
    finally:
        reader.close()

