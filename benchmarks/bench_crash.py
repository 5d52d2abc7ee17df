"""Crash and signal safety of ``presencectl record`` (SPEC §5.1, issue 11).

Run by hand::

    python benchmarks/bench_crash.py [--kills 20] [--signals 50] [--rate 1000]

A loopback ``websockets`` server (a subprocess) numbers every frame it sends
and, when the connection ends, reports when it sent each one. Two parts, each
for a plain and a ``.gz`` capture:

1. **kill -9**: the server sends ``--rate`` frames/s steadily; the recorder
   is SIGKILLed at a random moment (1-3 s in). ``presencectl cat`` then reads
   the capture; we count the frames sent more than 200 ms before the kill
   that are missing from it (goal: 0; the flush interval is 100 ms), and,
   for reference, how many of the last 200 ms made it.
2. **SIGINT/SIGTERM at full rate**: the server sends as fast as it can; the
   recorder gets SIGINT or SIGTERM (alternately) at a random moment. We check
   the exit status (130/143), ``gzip -t`` on ``.gz`` captures, and that the
   summary's frame count equals the frames in the capture (goal: 0 bad runs).

The baseline in the same run is the frames the server sent: ``missing`` and
``late`` are counted against it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SERVER = r"""
import asyncio, json, sys, time
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed
rate = float(sys.argv[1])
async def handler(ws):
    sent = []
    start = time.time()
    i = 0
    try:
        while True:
            if rate:
                due = start + i / rate
                delay = due - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            payload = '{"event":"upstreamMessage","collectionId":"bench","deviceId":"d%d","seq":%d,"data":{"payload":"aGVsbG8="}}' % (i % 16, i)
            await ws.send(payload)
            sent.append(time.time())
            i += 1
    except ConnectionClosed:
        pass
    print(json.dumps(sent), flush=True)
async def main():
    async with serve(handler, "127.0.0.1", 0, compression=None, ping_interval=None) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Future()
asyncio.run(main())
"""

SEQ = re.compile(rb'"seq":(\d+)')


def start_server(rate: float) -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(rate)], stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    port = int(server.stdout.readline())
    return server, f"ws://127.0.0.1:{port}/"


def recorder(url: str, capture: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "presencectl", "record", url, "-o", str(capture), "--no-reconnect"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        # Started from a script in the background, we may have SIGINT ignored;
        # the recorder must not inherit that (it would ignore our Ctrl-C).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def wait_connected(proc: subprocess.Popen[bytes], capture: Path, timeout: float = 20) -> None:
    """Until the capture holds a first frame (the recorder is connected and recording)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if capture.exists() and capture.stat().st_size > 300:
            return
        if proc.poll() is not None:
            raise SystemExit(f"the recorder ended early: {proc.stderr.read().decode(errors='replace') if proc.stderr else ''}")
        time.sleep(0.02)
    raise SystemExit("the recorder did not start recording")


def captured_seqs(capture: Path) -> tuple[list[int], int]:
    """The seq numbers ``presencectl cat`` reads from the capture, and its exit status."""
    result = subprocess.run(
        [sys.executable, "-m", "presencectl", "cat", str(capture), "-f", "raw"], capture_output=True, cwd=ROOT
    )
    return [int(m) for m in SEQ.findall(result.stdout)], result.returncode


def kill_runs(server: subprocess.Popen[str], url: str, tmp: Path, kills: int, gz: bool, rng: random.Random) -> dict:
    suffix = ".capture.ndjson.gz" if gz else ".capture.ndjson"
    missing_total = late_total = late_kept = sent_total = 0
    worst = 0
    for n in range(kills):
        capture = tmp / f"kill{n}{suffix}"
        proc = recorder(url, capture)
        wait_connected(proc, capture)
        time.sleep(rng.uniform(1.0, 3.0))
        killed_at = time.time()
        proc.kill()
        proc.wait()
        assert server.stdout is not None
        sent = json.loads(server.stdout.readline())
        seqs = set(captured_seqs(capture)[0])
        old = [i for i, t in enumerate(sent) if t < killed_at - 0.2]
        late = [i for i, t in enumerate(sent) if killed_at - 0.2 <= t <= killed_at]
        missing = [i for i in old if i not in seqs]
        missing_total += len(missing)
        late_total += len(late)
        late_kept += sum(1 for i in late if i in seqs)
        sent_total += len(sent)
        worst = max(worst, len(missing))
        print(f"    kill {n + 1:2d}: {len(sent):6d} sent, {len(seqs):6d} in the capture, "
              f"{len(missing)} of those sent > 200 ms before the kill missing")
    return {"missing": missing_total, "worst": worst, "late": late_total, "late_kept": late_kept, "sent": sent_total}


def signal_runs(server: subprocess.Popen[str], url: str, tmp: Path, count: int, gz: bool, rng: random.Random) -> dict:
    suffix = ".capture.ndjson.gz" if gz else ".capture.ndjson"
    bad = corrupt = wrong_status = mismatched = 0
    frames_total = 0
    for n in range(count):
        capture = tmp / f"sig{n}{suffix}"
        proc = recorder(url, capture)
        wait_connected(proc, capture)
        time.sleep(rng.uniform(0.2, 1.5))
        signum = signal.SIGINT if n % 2 == 0 else signal.SIGTERM
        proc.send_signal(signum)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        assert server.stdout is not None
        server.stdout.readline()
        expected = 130 if signum == signal.SIGINT else 143
        problems = []
        if proc.returncode != expected:
            wrong_status += 1
            problems.append(f"exit {proc.returncode}, expected {expected}")
        if gz and subprocess.run(["gzip", "-t", str(capture)], capture_output=True).returncode != 0:
            corrupt += 1
            problems.append("gzip -t fails")
        seqs, status = captured_seqs(capture)
        m = re.search(rb"(\d+) frames?,", err)
        said = int(m.group(1)) if m else -1
        if said != len(seqs) or status != 0 or seqs != list(range(len(seqs))):
            mismatched += 1
            problems.append(f"summary says {said} frames, the capture holds {len(seqs)} (cat exit {status})")
        frames_total += len(seqs)
        if problems:
            bad += 1
            print(f"    signal {n + 1:2d} ({signal.Signals(signum).name}): " + "; ".join(problems)
                  + f"  stderr: {err.decode(errors='replace').strip()[-200:]!r}")
    return {"bad": bad, "corrupt": corrupt, "status": wrong_status, "mismatched": mismatched, "frames": frames_total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=20, help="SIGKILLs per capture kind")
    parser.add_argument("--signals", type=int, default=50, help="SIGINT/SIGTERMs per capture kind")
    parser.add_argument("--rate", type=float, default=1000, help="frames/s for the kill -9 part")
    parser.add_argument("--seed", type=int, default=None)
    opts = parser.parse_args()
    rng = random.Random(opts.seed)
    results = {}
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        if opts.kills:
            server, url = start_server(opts.rate)
            try:
                for gz in (False, True):
                    kind = "gzip" if gz else "plain"
                    print(f"kill -9 at a random moment, {opts.rate:g} frames/s, {kind} capture:")
                    results[("kill", kind)] = kill_runs(server, url, tmp, opts.kills, gz, rng)
            finally:
                server.kill()
        if opts.signals:
            server, url = start_server(0)
            try:
                for gz in (False, True):
                    kind = "gzip" if gz else "plain"
                    print(f"SIGINT/SIGTERM at a random moment, full rate, {kind} capture:")
                    results[("signal", kind)] = signal_runs(server, url, tmp, opts.signals, gz, rng)
            finally:
                server.kill()
        for path in tmp.iterdir():
            os.remove(path)
    print("\nsummary:")
    for kind in ("plain", "gzip"):
        r = results.get(("kill", kind))
        if r:
            print(f"  kill -9 {kind:5s}: {opts.kills} kills, {r['sent']:,} frames sent; "
                  f"{r['missing']} sent > 200 ms before a kill missing (worst kill {r['worst']}; goal 0: "
                  f"{'ok' if r['missing'] == 0 else 'MISSED'}); of the last 200 ms, {r['late_kept']}/{r['late']} kept")
    for kind in ("plain", "gzip"):
        r = results.get(("signal", kind))
        if r:
            print(f"  signals {kind:5s}: {opts.signals} runs, {r['frames']:,} frames recorded; {r['bad']} bad "
                  f"({r['corrupt']} corrupt, {r['status']} wrong exit status, {r['mismatched']} summary ≠ capture; "
                  f"goal 0: {'ok' if r['bad'] == 0 else 'MISSED'})")


if __name__ == "__main__":
    main()
