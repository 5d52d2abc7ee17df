"""Webhook receiver speed: POSTs per second from one keep-alive client.

Run by hand::

    python benchmarks/bench_webhook.py [--posts 20000] [--seconds 30]

Each POST carries a JSON array of 10 CloudConnect presence envelopes (the
shape Munic's webhooks send). One ``http.client`` connection, kept alive,
POSTs them one after the other and waits for each answer, against:

- a bare ``http.server`` (HTTP/1.1, reads the body, answers 200): the baseline;
- ``presencectl tail http://127.0.0.1:PORT/hook --listen -f json > /dev/null``;
- ``presencectl record http://127.0.0.1:PORT/hook --listen -o FILE``.

Target (issue 3): at least 2,000 POSTs/s. Every server is a loopback
subprocess bounded by ``--posts`` and ``--seconds``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "fixtures" / "samples" / "cloudconnect-webhook-body.json"

BARE_SERVER = r"""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    def log_message(self, *a): pass
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Type: text/plain\r\n\r\nok\n")
s = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
s.daemon_threads = True
print("ready", flush=True)
s.serve_forever()
"""


def body() -> bytes:
    """A 10-event CloudConnect array."""
    envelopes = json.loads(SAMPLE.read_text())
    out = []
    for i in range(10):
        item = json.loads(json.dumps(envelopes[i % len(envelopes)]))
        item["payload"]["id"] = 461799503595297635 + i
        out.append(item)
    return json.dumps(out, separators=(",", ":")).encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen[bytes], seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited early with status {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("server did not start listening")


def hammer(port: int, payload: bytes, posts: int, seconds: float) -> tuple[int, float]:
    """POST ``payload`` over one keep-alive connection; (POSTs answered 200, seconds)."""
    conn = http.client.HTTPConnection("127.0.0.1", port)
    headers = {"Content-Type": "application/json"}
    ok = 0
    start = time.perf_counter()
    deadline = start + seconds
    for _ in range(posts):
        conn.request("POST", "/hook", payload, headers)
        response = conn.getresponse()
        response.read()
        if response.status == 200:
            ok += 1
        if time.perf_counter() > deadline:
            break
    elapsed = time.perf_counter() - start
    conn.close()
    return ok, elapsed


def run(name: str, argv: list[str], port: int, payload: bytes, opts: argparse.Namespace) -> float:
    with open(os.devnull, "wb") as devnull:
        proc = subprocess.Popen(argv, stdout=devnull, stderr=subprocess.DEVNULL, cwd=ROOT)
        try:
            wait_port(port, proc)
            hammer(port, payload, 200, 5)  # warm-up
            ok, elapsed = hammer(port, payload, opts.posts, opts.seconds)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
    rate = ok / elapsed
    print(f"  {name:34s} {rate:8,.0f} POSTs/s  ({ok} in {elapsed:.2f} s, {rate * 10:,.0f} events/s)")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=30.0)
    opts = parser.parse_args()
    payload = body()
    cli = [sys.executable, "-m", "presencectl"]
    with tempfile.TemporaryDirectory() as tmp:
        capture = os.path.join(tmp, "hook.capture.ndjson")
        results = {}
        print(f"{len(payload)}-byte body of 10 events, one keep-alive client")
        port = free_port()
        results["bare"] = run("bare http.server", [sys.executable, "-c", BARE_SERVER, str(port)], port, payload, opts)
        port = free_port()
        url = f"http://127.0.0.1:{port}/hook"
        results["tail"] = run("presencectl tail --listen -f json", [*cli, "tail", url, "--listen", "-f", "json"], port, payload, opts)
        port = free_port()
        url = f"http://127.0.0.1:{port}/hook"
        results["record"] = run("presencectl record --listen", [*cli, "record", url, "--listen", "-o", capture], port, payload, opts)
    base = results["bare"]
    for key in ("tail", "record"):
        rate = results[key]
        print(f"{key}: {rate:,.0f} POSTs/s, {rate / base:.0%} of the bare server (target 2,000/s: {'ok' if rate >= 2000 else 'MISSED'})")


if __name__ == "__main__":
    main()
