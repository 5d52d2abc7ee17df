#!/usr/bin/env python3
"""Accuracy and throughput of `presencectl replay`.

    python benchmarks/bench_replay.py [--frames N] [--max-frames M] [--runs R]

1. Accuracy at ``--speed 1``: a capture of N (5,000) frames with random
   0–20 ms gaps, replayed by the real CLI into a ``websockets`` server
   (``--to ws://``) and to stdout, each printing its own timing summary
   (p50/p99/max of sent minus due); plus an in-process run of the same
   scheduler, player and real clock that records every frame's error, for
   the last frame's error.                      target: p99 < 2 ms, last < 5 ms
2. Throughput at ``--speed max`` into ``--serve`` with one client: a capture
   of M (200,000) frames served by the real CLI to a raw-socket client that
   only counts bytes; baseline: a bare ``websockets`` sync server send loop
   of the same payloads (already in memory, in its own process) to the same
   client, interleaved in the same run.
                                                target: ≥ 50,000 frames/s
4. ``--speed max`` into ``--to mqtt://`` a local mosquitto, until a
   ``mosquitto_sub`` has received all M frames; baseline: a bare paho-mqtt
   publish loop of the same payloads, interleaved.
                                                target: ≥ 30,000 frames/s
3. Round trip: a server in this script sends 1,000 frames with random
   0–20 ms gaps; ``record`` captures them, ``replay --serve`` serves that
   capture, ``tail --record`` captures it again: same payloads in the same
   order, and how much the gaps differ between the two captures.

The machine's load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _util import ROOT, load  # noqa: E402

from presencectl.core.capture import make_header  # noqa: E402
from presencectl.core.events import Frame  # noqa: E402
from presencectl.transports.files import CaptureWriter  # noqa: E402

T0 = 1_773_302_400.0
PAYLOAD = (
    '{{"collectionId":"17dj5j4ce8bkci","data":{{"bytes":"{n}","transport":"udp"}},'
    '"deviceId":"17kl14hm46h4c2","event":"upstreamMessage","time":"2026-03-12 08:00:03"}}'
)


def make_capture(path: Path, frames: int, max_gap: float, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    writer = CaptureWriter(str(path), make_header("ws://bench/", "websocket", T0))
    payloads = []
    t = T0
    for n in range(frames):
        t += rng.uniform(0.0, max_gap)
        text = PAYLOAD.format(n=n)
        payloads.append(text)
        writer.frame(Frame(text, t))
    writer.close()
    return payloads


def cli(*args: str, **kw) -> subprocess.Popen:
    env = dict(os.environ, COLUMNS="120")
    return subprocess.Popen([sys.executable, "-m", "presencectl", *args], cwd=ROOT, env=env, **kw)


# -- 1. accuracy -------------------------------------------------------------


def sink_server():
    """A websockets server that swallows messages; returns (server, url, counter)."""
    from websockets.sync.server import serve

    count = [0]

    def handler(conn):
        for _ in conn:
            count[0] += 1

    server = serve(handler, "127.0.0.1", 0, compression=None)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"ws://127.0.0.1:{server.socket.getsockname()[1]}/", count


def summary_of(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if "replayed" in line]
    return lines[-1].removeprefix("presencectl: ") if lines else stderr.strip()


def accuracy(capture: Path, frames: int) -> None:
    print(f"\n1. accuracy at --speed 1: {frames:,} frames, random 0-20 ms gaps   ({load()})")
    server, url, count = sink_server()
    try:
        proc = cli("replay", str(capture), "--to", url, "--speed", "1", stderr=subprocess.PIPE, text=True)
        _, err = proc.communicate()
        print(f"   CLI --to ws://   : {summary_of(err)}   [server got {count[0]:,}]")
    finally:
        server.shutdown()
    proc = cli("replay", str(capture), "--speed", "1", "-f", "raw", stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, err = proc.communicate()
    print(f"   CLI to stdout    : {summary_of(err)}")

    # In process: the same schedule, player and clock, every error kept.
    from presencectl.core.decode import Decoder
    from presencectl.core.player import Player, TimingStats
    from presencectl.core.replay import ReplayOptions
    from presencectl.core.times import TimeParser
    from presencectl.engine.replay import RealClock, Replay, ReplaySource

    errors: list[float] = []

    class Keep(TimingStats):
        def add(self, error: float) -> None:
            errors.append(error)
            super().add(error)

    source = ReplaySource(str(capture), print)
    replay = Replay(source, ReplayOptions(speed=1.0), Decoder(TimeParser()))
    player = Player(iter(replay.schedule()), RealClock(), Keep())
    sink = open(os.devnull, "w")  # noqa: SIM115
    player.run(lambda item: sink.write(item.record.data))
    stats = player.stats
    print(
        f"   in process       : {stats.describe()}; last frame {errors[-1] * 1000:.2f} ms late; "
        f"{sum(e > 0.002 for e in errors)} of {len(errors):,} frames over 2 ms"
    )


# -- 2. throughput -------------------------------------------------------------


def expected_bytes(payloads: list[str]) -> int:
    total = 0
    for text in payloads:
        n = len(text.encode())
        total += n + (2 if n < 126 else 4 if n < 65536 else 10)
    return total


def raw_client(port: int, want: int, path: str = "/") -> tuple[float, int]:
    """Handshake by hand, then read until ``want`` bytes of frames arrived; (seconds, bytes)."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise SystemExit("server closed during the handshake")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    if b" 101 " not in head.split(b"\r\n", 1)[0]:
        raise SystemExit(f"handshake refused: {head[:100]!r}")
    start = time.perf_counter()
    got = len(rest)
    while got < want:
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        got += len(chunk)
    elapsed = time.perf_counter() - start
    sock.close()
    return elapsed, got


#: The baseline server: a bare websockets sync server whose handler is a send
#: loop over payloads already in memory. It runs in its own process, like
#: `presencectl replay --serve`, so the client never shares its GIL.
BASELINE = """
import sys, threading
from websockets.sync.server import serve
from presencectl.transports.files import CaptureReader
reader = CaptureReader(sys.argv[1], print)
payloads = [r.data for r in reader.records() if hasattr(r, "data")]

def handler(conn):
    send = conn.send
    for text in payloads:
        send(text)

server = serve(handler, "127.0.0.1", 0, compression=None)
print(server.socket.getsockname()[1], flush=True)
server.serve_forever()
"""


def baseline(capture: Path, payloads: list[str], want: int) -> float:
    proc = subprocess.Popen(
        [sys.executable, "-c", BASELINE, str(capture)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        elapsed, got = raw_client(port, want)
    finally:
        proc.kill()
        proc.wait()
    if got < want:
        raise SystemExit(f"baseline: got {got} of {want} bytes")
    return len(payloads) / elapsed


def served(capture: Path, payloads: list[str], want: int) -> float:
    proc = cli("replay", str(capture), "--serve", "127.0.0.1:0", "--speed", "max", stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        m = re.search(r"ws://127\.0\.0\.1:(\d+)/", line)
        if not m:
            raise SystemExit(f"no URL from replay --serve: {line}")
        elapsed, got = raw_client(int(m.group(1)), want)
        if got < want:
            raise SystemExit(f"replay --serve: got {got} of {want} bytes")
        return len(payloads) / elapsed
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)


def throughput(capture: Path, payloads: list[str], runs: int) -> None:
    print(f"\n2. --speed max into --serve, one client: {len(payloads):,} frames of ~{len(payloads[0])} bytes   ({load()})")
    want = expected_bytes(payloads)
    base: list[float] = []
    ours: list[float] = []
    for _ in range(runs):  # interleaved, so both see the same load
        base.append(baseline(capture, payloads, want))
        ours.append(served(capture, payloads, want))
    print(f"   bare websockets send loop : {max(base):>9,.0f} frames/s (best of {runs}; all: {', '.join(f'{b:,.0f}' for b in base)})")
    print(f"   presencectl replay --serve: {max(ours):>9,.0f} frames/s (best of {runs}; all: {', '.join(f'{o:,.0f}' for o in ours)})")
    print(f"   ratio: {max(ours) / max(base):.2f} of the bare loop; target >= 50,000 frames/s")


# -- 4. --to mqtt -------------------------------------------------------------

_PAHO_LOOP = """
import sys, time
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
port, path = int(sys.argv[1]), sys.argv[2]
payloads = [line.rstrip(b"\\n") for line in open(path, "rb")]
c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-bare")
c.connect("127.0.0.1", port)
c.loop_start()
for p in payloads:
    c.publish("bench/replay", p, qos=0)
c.loop_stop()
c.disconnect()
"""


def mosquitto(tmp: Path) -> tuple[subprocess.Popen, int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    conf = tmp / "mosquitto.conf"
    user = "user root\n" if os.geteuid() == 0 else ""
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n{user}")
    proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), 0.1).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    raise SystemExit("mosquitto did not start")


def delivered(port: int, count: int, start: list[str]) -> float:
    """Frames/s from the sender's start until mosquitto_sub has all ``count``."""
    sub = subprocess.Popen(
        ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-t", "bench/#", "-C", str(count), "-W", "120"],
        stdout=subprocess.DEVNULL,
    )
    time.sleep(0.5)  # let it subscribe
    t0 = time.perf_counter()
    sender = subprocess.Popen(start, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    sub.wait(130)
    elapsed = time.perf_counter() - t0
    sender.wait(30)
    return count / elapsed


def to_mqtt(tmp: Path, capture: Path, payloads: list[str], runs: int) -> None:
    import shutil

    if not shutil.which("mosquitto") or not shutil.which("mosquitto_sub"):
        print("\n4. --to mqtt: skipped (apt-get install mosquitto mosquitto-clients)")
        return
    print(f"\n4. --speed max into --to mqtt (QoS 0), received by mosquitto_sub: {len(payloads):,} frames   ({load()})")
    lines = tmp / "payloads.txt"
    lines.write_text("".join(p + "\n" for p in payloads))
    broker, port = mosquitto(tmp)
    try:
        base, ours = [], []
        for _ in range(runs):
            base.append(delivered(port, len(payloads), [sys.executable, "-c", _PAHO_LOOP, str(port), str(lines)]))
            ours.append(delivered(port, len(payloads), [
                sys.executable, "-m", "presencectl", "replay", str(capture), "--to", f"mqtt://127.0.0.1:{port}",
                "--topic", "bench/replay", "--speed", "max",
            ]))
        print(f"   bare paho publish loop    : {max(base):>9,.0f} frames/s (best of {runs}; all: {', '.join(f'{b:,.0f}' for b in base)})")
        print(f"   presencectl replay --to mqtt: {max(ours):>7,.0f} frames/s (best of {runs}; all: {', '.join(f'{o:,.0f}' for o in ours)})")
        print(f"   ratio: {max(ours) / max(base):.2f} of the bare loop; target >= 30,000 frames/s")
    finally:
        broker.terminate()
        broker.wait(10)


# -- 3. round trip -----------------------------------------------------------


def round_trip(tmp: Path, frames: int) -> None:
    """record from a server → replay --serve → tail --record: how well do the gaps match?"""
    from websockets.sync.server import serve

    from presencectl.transports.files import CaptureReader

    print(f"\n3. round trip record → replay --serve → tail --record: {frames:,} frames, 0-20 ms gaps   ({load()})")
    rng = random.Random(7)
    gaps = [rng.uniform(0.0, 0.020) for _ in range(frames)]

    def vendor(conn):
        start = time.monotonic()
        due = 0.0
        for n, gap in enumerate(gaps):
            due += gap
            delay = start + due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            conn.send(PAYLOAD.format(n=n))
        conn.close(1000, "end")

    server = serve(vendor, "127.0.0.1", 0, compression=None)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    first, second = tmp / "vendor.capture.ndjson", tmp / "served.capture.ndjson"
    try:
        url = f"ws://127.0.0.1:{server.socket.getsockname()[1]}/"
        subprocess.run([sys.executable, "-m", "presencectl", "record", url, "-o", str(first), "--no-reconnect"],
                       cwd=ROOT, check=True, capture_output=True)
    finally:
        server.shutdown()
    proc = cli("replay", str(first), "--serve", "127.0.0.1:0", stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        m = re.search(r"on (ws://\S+) ", proc.stderr.readline())
        if not m:
            raise SystemExit("no URL from replay --serve")
        subprocess.run([sys.executable, "-m", "presencectl", "tail", m.group(1), "--record", str(second),
                        "--no-reconnect", "-f", "raw"], cwd=ROOT, check=True, capture_output=True)
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)

    def frame_times(path: Path) -> tuple[list[str], list[float]]:
        reader = CaptureReader(str(path), print)
        frames_ = [r for r in reader.records() if isinstance(r, Frame)]
        reader.close()
        return [f.data for f in frames_], [f.t for f in frames_]

    texts1, t1 = frame_times(first)
    texts2, t2 = frame_times(second)
    same = texts1 == texts2
    g1 = [b - a for a, b in zip(t1, t1[1:], strict=False)]
    g2 = [b - a for a, b in zip(t2, t2[1:], strict=False)]
    diffs = sorted(abs(b - a) for a, b in zip(g1, g2, strict=False))
    if not diffs:
        raise SystemExit("round trip: no frames")
    p = lambda q: diffs[min(len(diffs) - 1, int(q * len(diffs)))] * 1000  # noqa: E731
    print(f"   payloads identical, same order: {same} ({len(texts1):,} → {len(texts2):,} frames)")
    print(f"   gap difference (served capture vs vendor capture): p50 {p(0.5):.2f} ms, p99 {p(0.99):.2f} ms, max {diffs[-1] * 1000:.2f} ms")
    print(f"   replay server: {summary_of(err.replace('served', 'replayed'))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=5000, help="frames for the accuracy run")
    parser.add_argument("--max-frames", type=int, default=200_000, help="frames for the throughput run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-round-trip", action="store_true")
    parser.add_argument("--skip-mqtt", action="store_true")
    parser.add_argument("--round-trip-frames", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_accuracy:
            capture = Path(tmp) / "gaps.capture.ndjson"
            make_capture(capture, args.frames, 0.020)
            accuracy(capture, args.frames)
        if not args.skip_throughput:
            capture = Path(tmp) / "burst.capture.ndjson"
            payloads = make_capture(capture, args.max_frames, 0.001)
            throughput(capture, payloads, args.runs)
            if not args.skip_mqtt:
                to_mqtt(Path(tmp), capture, payloads, args.runs)
        if not args.skip_round_trip:
            round_trip(Path(tmp), args.round_trip_frames)


if __name__ == "__main__":
    main()
