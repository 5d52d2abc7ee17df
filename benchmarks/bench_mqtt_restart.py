"""MQTT at-least-once across a broker restart (SPEC §5.1, issue 11).

Run by hand::

    python benchmarks/bench_mqtt_restart.py [--messages 10000] [--rate 2000] [--restarts 1]

A local ``mosquitto`` with persistence on (``max_queued_messages 0``: nothing
queued is dropped) is restarted (SIGTERM, which saves its store, then started
again on the same port) while a paho publisher sends N numbered QoS 1
messages at ``--rate``/s. The publisher keeps its own session and resends
what the broker did not acknowledge. The recorder is the real CLI::

    presencectl record mqtt://127.0.0.1:PORT -T 'bench/#' --qos 1 \\
        --client-id bench-recorder --no-clean-session -o FILE

When every message is acknowledged to the publisher, we wait until the
capture holds them all (at most 60 s), stop the recorder with SIGINT and
count: messages sent (the baseline), distinct messages in the capture (goal:
all of them), copies, and copies marked ``"dup": true``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.config = directory / "mosquitto.conf"
        lines = [
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",
            "persistence true",
            f"persistence_location {directory}/",
            "max_queued_messages 0",
            f"log_dest file {directory / 'mosquitto.log'}",
        ]
        if os.geteuid() == 0:
            lines.append("user root")
        self.config.write_text("\n".join(lines) + "\n")
        self.binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen([self.binary, "-c", str(self.config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        raise SystemExit("mosquitto did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def publish(port: int, count: int, rate: float, progress: list[int]) -> tuple[int, float, int]:
    """Publish ``count`` numbered QoS 1 messages, resending any the broker did
    not acknowledge; returns (still unacknowledged, seconds, resent)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    acked: set[int] = set()
    lock = threading.Lock()

    def on_publish(client, userdata, mid, reason, properties):  # type: ignore[no-untyped-def]
        with lock:
            acked.add(mid)

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-publisher", clean_session=False)
    client.on_publish = on_publish
    client.max_inflight_messages_set(200)
    client.max_queued_messages_set(0)
    client.reconnect_delay_set(0.1, 1.0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    start = time.monotonic()
    mids: dict[int, int] = {}  # seq -> mid of its latest publish

    def send(seq: int) -> None:
        payload = json.dumps({"event": "upstreamMessage", "collectionId": "bench", "deviceId": f"d{seq % 16}", "seq": seq})
        mids[seq] = client.publish(f"bench/d{seq % 16}", payload, qos=1).mid

    for seq in range(count):
        due = start + seq / rate
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        send(seq)
        progress[0] = seq + 1
    resent = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(2)
        with lock:
            missing = [seq for seq, mid in mids.items() if mid not in acked]
        if not missing:
            break
        if client.is_connected():
            for seq in missing:  # at least once: publish again what was not acknowledged
                send(seq)
            resent += len(missing)
    elapsed = time.monotonic() - start
    with lock:
        unacked = sum(1 for mid in mids.values() if mid not in acked)
    client.loop_stop()
    client.disconnect()
    return unacked, elapsed, resent


def capture_records(path: Path) -> list[dict]:
    data = path.read_bytes() if path.exists() else b""
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (EOFError, OSError):
            pass
    records = []
    for line in data.splitlines()[1:]:
        try:
            records.append(json.loads(line))
        except ValueError:
            pass
    return records


def seqs_of(records: list[dict]) -> list[int]:
    out = []
    for record in records:
        text = record.get("text")
        if text:
            try:
                out.append(json.loads(text)["seq"])
            except (ValueError, KeyError, TypeError):
                pass
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=2000, help="messages per second")
    parser.add_argument("--restarts", type=int, default=1, help="broker restarts during the run")
    parser.add_argument("--down", type=float, default=1.0, help="seconds the broker stays down each time")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        broker = Broker(tmp)
        broker.start()
        capture = tmp / "restart.capture.ndjson"
        recorder = subprocess.Popen(
            [sys.executable, "-m", "presencectl", "record", f"mqtt://127.0.0.1:{broker.port}", "-T", "bench/#",
             "--qos", "1", "--client-id", "bench-recorder", "--no-clean-session", "-o", str(capture)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT,
        )
        stderr_lines: list[str] = []
        threading.Thread(
            target=lambda: stderr_lines.extend(line.decode(errors="replace") for line in recorder.stderr),  # type: ignore[union-attr]
            daemon=True,
        ).start()
        deadline = time.monotonic() + 20
        while not any("connected to" in line for line in stderr_lines):
            if time.monotonic() > deadline or recorder.poll() is not None:
                raise SystemExit(f"the recorder did not connect: {''.join(stderr_lines)}")
            time.sleep(0.05)
        try:
            progress = [0]
            result: list[tuple[int, float, int]] = []
            publisher = threading.Thread(target=lambda: result.append(publish(broker.port, opts.messages, opts.rate, progress)))
            publisher.start()
            span = opts.messages / opts.rate
            for n in range(opts.restarts):
                time.sleep(span / (opts.restarts + 1) if n == 0 else span / (opts.restarts + 1) - opts.down)
                print(f"restart {n + 1}: after {progress[0]:,} messages published; broker down {opts.down:g} s")
                broker.stop()
                time.sleep(opts.down)
                broker.start()
            publisher.join()
            unacked, elapsed, resent = result[0]
            print(f"publisher: {opts.messages:,} sent in {elapsed:.1f} s ({resent} published again after the restart), "
                  f"{unacked} not acknowledged by the broker")
            wait_until = time.monotonic() + 60
            while time.monotonic() < wait_until and len(set(seqs_of(capture_records(capture)))) < opts.messages:
                time.sleep(0.5)
        finally:
            recorder.send_signal(signal.SIGINT)
            try:
                recorder.wait(30)
            except subprocess.TimeoutExpired:
                recorder.kill()
            broker.stop()
        records = capture_records(capture)
        seqs = seqs_of(records)
        distinct = set(seqs)
        missing = opts.messages - len(distinct & set(range(opts.messages)))
        copies = len(seqs) - len(distinct)
        marked = sum(1 for r in records if r.get("dup") is True and "text" in r)
        marks = [r["mark"] for r in records if "mark" in r]
    print("".join(line for line in stderr_lines if "warning" in line or "reconnect" in line)[-1500:], end="")
    print(f"\nrecorder exit {recorder.returncode}; capture markers: {', '.join(marks)}")
    print(f"sent {opts.messages:,} (baseline); in the capture: {len(distinct):,} distinct, {missing} missing "
          f"(goal 0: {'ok' if missing == 0 else 'MISSED'}); {copies} copies, {marked} records marked \"dup\": true")


if __name__ == "__main__":
    main()
