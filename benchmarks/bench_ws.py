"""WebSocket receive speed: ``presencectl tail``/``record`` against bare client loops.

Run by hand::

    python benchmarks/bench_ws.py [--frames 100000] [--rounds 3]

A loopback ``websockets`` server (a subprocess) sends N small JSON text
frames (the Span samples) to each client as fast as it can, then closes. The
server times each connection from accept to the end of the close handshake,
so client start-up costs are left out and every client is measured the same
way. Clients, each a subprocess, in the same run:

- ``websockets`` sync client, a bare ``recv()`` loop (the baseline);
- websocket-client ``recv_data()`` loop (for reference);
- ``presencectl tail ws://… -f json -n N > /dev/null``;
- ``presencectl record ws://… -o FILE``;
- ``presencectl tail ws://… -f json --record FILE > /dev/null``.

Targets (issue 3): tail ≥ 40,000 frames/s and ≥ 50 % of the baseline; record
at least as fast as tail; RSS flat over the run (sampled from /proc).
Issue 16: tail ≥ 1.0× the baseline. Each client's rate is printed as the
median and the best of the rounds, with the CPU time (user + sys) per frame
of both sides: the client's whole process (start-up included) and the
server's, for that connection only.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "fixtures" / "samples" / "span-activity.ndjson"

SERVER = r"""
import asyncio, sys, time
from websockets.asyncio.server import serve
n = int(sys.argv[1]); limit = int(sys.argv[2])
lines = [l for l in open(sys.argv[3], encoding="utf-8").read().splitlines() if l.strip()]
served = 0
async def handler(ws):
    global served
    start = time.perf_counter()
    cpu = time.process_time()
    send = ws.send
    for i in range(n):
        await send(lines[i % len(lines)])
    await ws.close()
    print(f"{time.perf_counter() - start:.6f} {time.process_time() - cpu:.6f}", flush=True)
    served += 1
    if served >= limit:
        stop.set_result(None)
async def main():
    global stop
    stop = asyncio.get_running_loop().create_future()
    async with serve(handler, "127.0.0.1", 0, compression=None, max_queue=None, ping_interval=None) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        try:
            await asyncio.wait_for(stop, 600)
        except TimeoutError:
            pass
asyncio.run(main())
"""

WEBSOCKETS_CLIENT = r"""
import sys
from websockets.sync.client import connect
from websockets.exceptions import ConnectionClosed
n = 0
with connect(sys.argv[1], compression=None, max_size=None) as ws:
    try:
        while True:
            ws.recv()
            n += 1
    except ConnectionClosed:
        pass
print(n)
"""

WSCLIENT_CLIENT = r"""
import sys, websocket
ws = websocket.WebSocket(skip_utf8_validation=True, enable_multithread=False)
ws.connect(sys.argv[1])
n = 0
while True:
    opcode, data = ws.recv_data()
    if opcode == 8:
        break
    n += 1
print(n)
"""


def _rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def run_client(name: str, argv: list[str], server: subprocess.Popen[str], frames: int) -> dict:
    """Run one client against the server; returns its rate and RSS samples."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(os.devnull, "wb") as devnull:
        proc = subprocess.Popen(argv, stdout=devnull, stderr=subprocess.PIPE, cwd=ROOT)
        samples: list[int] = []
        deadline = time.monotonic() + 300
        while proc.poll() is None and time.monotonic() < deadline:
            rss = _rss_kib(proc.pid)
            if rss:
                samples.append(rss)
            time.sleep(0.1)
        if proc.poll() is None:
            proc.kill()
        _, err = proc.communicate()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the client is the only child reaped meanwhile
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    if proc.returncode != 0:
        # It may never have connected: the server has no time to report.
        raise SystemExit(f"{name}: exit {proc.returncode}: {err.decode(errors='replace').strip()[-300:]}")
    line = server.stdout.readline() if server.stdout else ""
    seconds, server_cpu = (float(x) for x in (line.split() or ["nan", "nan"]))
    return {
        "name": name, "seconds": seconds, "rate": frames / seconds, "rss": samples, "cpu": cpu, "server_cpu": server_cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of all clients (medians and bests are shown)")
    opts = parser.parse_args()
    frames = opts.frames
    with tempfile.TemporaryDirectory() as tmp:
        capture = os.path.join(tmp, "bench.capture.ndjson")
        clients = 5 * opts.rounds
        server = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(frames), str(clients), str(SAMPLES)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            port = int(server.stdout.readline())  # type: ignore[union-attr]
            url = f"ws://127.0.0.1:{port}/"
            cli = [sys.executable, "-m", "presencectl"]
            plan = [
                ("websockets recv() loop", [sys.executable, "-c", WEBSOCKETS_CLIENT, url]),
                ("websocket-client recv_data()", [sys.executable, "-c", WSCLIENT_CLIENT, url]),
                ("presencectl tail -f json", [*cli, "tail", url, "-f", "json", "-n", str(frames), "--no-reconnect"]),
                # --force: each round writes the same capture file again.
                ("presencectl record -o FILE", [*cli, "record", url, "-o", capture, "--force", "--no-reconnect"]),
                ("presencectl tail -f json --record", [*cli, "tail", url, "-f", "json", "--no-reconnect", "--record", capture, "--force"]),
            ]
            best: dict[str, dict] = {}
            runs: dict[str, list[dict]] = {}
            for round_no in range(opts.rounds):
                print(f"round {round_no + 1}: {frames} frames per client")
                for name, argv in plan:
                    result = run_client(name, argv, server, frames)
                    rss = result["rss"]
                    # a quarter into the run (imports done) and at the end: flat means no growth
                    rss_text = (
                        f"RSS {rss[len(rss) // 4] / 1024:.1f}→{rss[-1] / 1024:.1f} MiB (max {max(rss) / 1024:.1f})"
                        if rss
                        else ""
                    )
                    print(
                        f"  {name:36s} {result['rate']:9,.0f} frames/s  {result['seconds']:6.2f} s"
                        f"  CPU {result['cpu'] / frames * 1e6:5.1f} µs/frame (whole process),"
                        f" server {result['server_cpu'] / frames * 1e6:5.1f}  {rss_text}"
                    )
                    runs.setdefault(name, []).append(result)
                    least_cpu = min(result["cpu"], best.get(name, result)["cpu"])
                    if name not in best or result["rate"] > best[name]["rate"]:
                        best[name] = result
                    best[name]["cpu"] = least_cpu
        finally:
            server.kill()
            server.wait()
    base = best["websockets recv() loop"]["rate"]
    tail = best["presencectl tail -f json"]["rate"]
    record = best["presencectl record -o FILE"]["rate"]
    print("\nbest of rounds:")
    for name, result in best.items():
        print(f"  {name:36s} {result['rate']:9,.0f} frames/s  {result['rate'] / base:6.1%} of the baseline")
    med = {name: median(r["rate"] for r in results) for name, results in runs.items()}
    print(f"\nmedian of {opts.rounds} rounds (rate, ratio to the baseline's median, CPU µs/frame client | server):")
    for name, results in runs.items():
        print(
            f"  {name:36s} {med[name]:9,.0f} frames/s  {med[name] / med['websockets recv() loop']:5.2f}×"
            f"  {median(r['cpu'] for r in results) / frames * 1e6:5.1f} | "
            f"{median(r['server_cpu'] for r in results) / frames * 1e6:5.1f}"
        )
    bases = runs["websockets recv() loop"]
    ratios = [t["rate"] / b["rate"] for t, b in zip(runs["presencectl tail -f json"], bases, strict=True)]
    print(
        f"\ntail -f json / bare loop, round by round: {', '.join(f'{r:.2f}×' for r in ratios)}"
        f" (median {median(ratios):.2f}×, target ≥ 1.0×)"
    )
    cpu_ratio = best["websockets recv() loop"]["cpu"] / best["presencectl tail -f json"]["cpu"]
    print(f"\nCPU per frame, bare loop / tail -f json (whole processes, start-up included): {cpu_ratio:.2f}×")
    print(
        f"\ntail: {tail:,.0f}/s (target 40,000: {'ok' if tail >= 40_000 else 'MISSED'}), "
        f"{tail / base:.0%} of the bare loop (target 50%: {'ok' if tail >= base / 2 else 'MISSED'}); "
        f"record/tail = {record / tail:.2f} (target ≥ 1: {'ok' if record >= tail * 0.97 else 'MISSED'})"
    )


if __name__ == "__main__":
    main()
