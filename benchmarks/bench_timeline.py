#!/usr/bin/env python3
"""`presencectl timeline -o X.html` at scale: time, file size, and the page in headless Chromium.

    python benchmarks/bench_timeline.py [--shape small|large|both] [--runs R] [--no-browser]

Data shapes (generated under benchmarks/data/, git-ignored): Span-like
capture records (clientConnected / clientDisconnected / upstreamMessage /
firmwareCheck, ~220 bytes a line), subjects drawn at random, times moving
forward ~20 ms an event:

- small: 1,000 subjects × 100,000 events
- large: 10,000 subjects × 1,000,000 events

For each shape, in one run: `presencectl stats FILE --json` (the baseline:
the same read, decode and presence tracking with no picture), `timeline -o
FILE.html` and `timeline -o FILE.svg --top 200` (wall time, peak RSS, file
size); then the page in Chromium: time from navigation to the first full draw,
and the mean time of one redraw while panning and zooming (20 of each).
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import DATA, best_of, load  # noqa: E402

SHAPES = {"small": (1_000, 100_000), "large": (10_000, 1_000_000)}
T0 = 1_773_302_400.0  # 2026-03-12 08:00:00 UTC


def make(path: Path, subjects: int, events: int) -> None:
    if path.exists():
        return
    rng = random.Random(7)
    ids = [f"17kl{n:010x}" for n in range(subjects)]
    online: dict[str, bool] = {}
    t = T0
    with open(path, "wb") as f:
        f.write(orjson.dumps({"presencectl": 1, "format_version": 1, "source": "bench", "transport": "file",
                              "started": "2026-03-12T08:00:00+00:00", "topics": None}) + b"\n")
        for i in range(events):
            t += rng.expovariate(50.0)
            dev = ids[rng.randrange(subjects)]
            r = rng.random()
            if not online.get(dev) and r < 0.5:
                event, online[dev] = "clientConnected", True
            elif online.get(dev) and r < 0.02:
                event, online[dev] = "clientDisconnected", False
            elif r < 0.03:
                event = "firmwareCheck"
            else:
                event = "upstreamMessage"
            payload = {"event": event, "collectionId": "17dh0cf43jfgl8", "deviceId": dev,
                       "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z",
                       "data": {"transport": "udp", "payload": "aGVsbG8=", "id": i}}
            f.write(orjson.dumps({"t": round(t, 6), "topic": None, "text": orjson.dumps(payload).decode()}) + b"\n")


def browser_figures(page: Path) -> tuple[float, float, float]:
    """(seconds to the first full draw, mean ms per pan redraw, mean ms per zoom redraw)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1400,900", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        start = time.perf_counter()
        driver.get(page.as_uri())  # returns after the load event: the script has run and drawn once
        loaded = time.perf_counter() - start
        pan = driver.execute_script(
            """const p = window.presencectl; p.zoom(0.25, 600); const s = performance.now();
               for (let i = 0; i < 20; i++) p.pan(i % 2 ? -150 : 150);
               return (performance.now() - s) / 20;""")
        zoom = driver.execute_script(
            """const p = window.presencectl; const s = performance.now();
               for (let i = 0; i < 20; i++) p.zoom(i % 2 ? 1.25 : 0.8, 600);
               return (performance.now() - s) / 20;""")
        return loaded, pan, zoom
    finally:
        driver.quit()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shape", choices=(*SHAPES, "both"), default="both")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    cli = [sys.executable, "-m", "presencectl"]
    print(load())
    for shape in SHAPES if args.shape == "both" else (args.shape,):
        subjects, events = SHAPES[shape]
        data = DATA / f"timeline-{shape}.capture.ndjson"
        make(data, subjects, events)
        print(f"\n{shape}: {subjects:,} subjects × {events:,} events, {data.stat().st_size / 1e6:.0f} MB")
        base, base_rss = best_of(args.runs, [*cli, "stats", str(data), "--json"])
        print(f"  stats --json (baseline)   {base:7.2f} s  RSS {base_rss / 1024:5.0f} MB")
        for suffix, extra in (("html", []), ("svg", ["--top", "200"])):
            out = DATA / f"timeline-{shape}.{suffix}"
            secs, rss = best_of(args.runs, [*cli, "timeline", str(data), "--utc", "--force", "-o", str(out), *extra])
            print(f"  timeline -o .{suffix:<4} {' '.join(extra):9} {secs:7.2f} s  RSS {rss / 1024:5.0f} MB  "
                  f"{out.stat().st_size / 1e6:6.1f} MB  ({secs / base:.2f}× stats)")
        if not args.no_browser:
            loaded, pan, zoom = browser_figures(DATA / f"timeline-{shape}.html")
            print(f"  chromium: page loaded and drawn in {loaded:.2f} s; a redraw: pan {pan:.1f} ms, zoom {zoom:.1f} ms")


if __name__ == "__main__":
    main()
