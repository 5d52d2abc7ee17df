#!/usr/bin/env python3
"""Throughput of `presencectl stats --json` on 1,000,000 events, with jq as the baseline.

    python benchmarks/bench_stats.py [--events N] [--runs R] [--subjects S] [--no-capture]

Builds a mixed NDJSON file under benchmarks/data/ from the frame texts of the
bundled captures (fixtures/*.capture.ndjson: Span, CloudConnect, Aliyun,
Spaces, Navixy), one event per line, with subject ids drawn from a pool of S
per dialect, times moving forward ~10 ms per event with a 2-minute quiet gap
every 100,000 lines, and 0.1 % malformed lines (JSON values that are not
objects: jq stops at the first syntax error, so the baseline could not read
a truly broken line; the tests cover those). Then measures, best of R, in
one run:

- `jq -c . FILE`                        (the baseline: parse and print every line)
- `presencectl stats FILE --json`       target: under 10 s for 1,000,000 events
  (a file this big is decoded by one worker process per core, like `cat`)
- the same with PRESENCECTL_JOBS=1: all in one process
- the same events as a capture file (header + one frame record per line, so
  every event also has a receive time), unless --no-capture

and checks that the report counted every event, the malformed lines and the gaps.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import DATA, ROOT, best_of, have, load  # noqa: E402

FIXTURES = ROOT / "fixtures"
CAPTURES = ("span-activity", "cloudconnect", "aliyun", "spaces", "navixy")
T0 = datetime(2026, 3, 12, tzinfo=UTC)
PLUS2 = timezone(timedelta(hours=2))
#: A quiet interval this long every GAP_EVERY lines.
GAP_EVERY = 100_000
GAP_SECONDS = 120.0
MALFORMED_EVERY = 1000
MALFORMED = (b'"just a string"', b"42", b"[7]", b"null")


def templates() -> list[tuple[str, dict]]:
    """(capture name, payload object) for every JSON object in the bundled captures' frames."""
    out: list[tuple[str, dict]] = []
    for name in CAPTURES:
        for line in (FIXTURES / f"{name}.capture.ndjson").read_text().splitlines()[1:]:
            record = json.loads(line)
            text = record.get("text")
            if not isinstance(text, str):
                continue
            head, bar, rest = text.partition("|")
            if bar and head.isdigit():
                text = rest  # Atmosphere length prefix
            try:
                value = json.loads(text)
            except ValueError:
                continue  # heart-beats, handshakes: not events
            items = value if isinstance(value, list) else [value]
            # Keep-alives are hidden from stats (no --keepalive): not events.
            out.extend((name, item) for item in items if isinstance(item, dict) and item.get("type") != "keepalive")
    return out


def vary(name: str, obj: dict, rng: random.Random, when: datetime, subjects: int, serial: int) -> dict:
    """A copy of ``obj`` with a new subject id and time."""
    obj = copy.deepcopy(obj)
    n = rng.randrange(subjects)
    if name == "span-activity":
        if "deviceId" in obj:
            obj["deviceId"] = f"17kl{n:010d}"
        if "time" in obj:
            obj["time"] = when.strftime("%Y-%m-%d %H:%M:%S")
    elif name == "cloudconnect":
        body = obj.get("payload", obj)
        body["id"] = 461799503595297635 + serial
        body["id_str"] = str(body["id"])
        if body.get("asset") is not None:
            body["asset"] = str(357322040000000 + n)
        body["time"] = when.astimezone(PLUS2).isoformat()
    elif name == "aliyun":
        params = obj.get("params")
        if isinstance(params, dict):
            if "iotId" in params:
                params["iotId"] = f"0300MSKL{n:024d}"
            ms = int(when.timestamp() * 1000)
            status = params.get("status")
            if isinstance(status, dict):
                status["time"] = ms
            items = params.get("items")
            if isinstance(items, dict):
                for item in items.values():
                    if isinstance(item, dict):
                        item["time"] = ms
            if "time" in params:
                params["time"] = ms
    elif name == "spaces":
        sender = obj.get("sender")
        if isinstance(sender, dict):
            sender["_id"] = f"5f04{n:020x}"
    elif name == "navixy":
        data = obj.get("data")
        if isinstance(data, dict) and "source_id" in data:
            data["source_id"] = 10000 + n
        if "user_time" in obj:
            obj["user_time"] = when.strftime("%Y-%m-%d %H:%M:%S")
    return obj


def generate(plain: Path, capture: Path | None, events: int, subjects: int, seed: int = 7) -> None:
    """Write ``events`` lines of NDJSON (and the same as a capture file)."""
    rng = random.Random(seed)
    tmpl = templates()
    t = T0.timestamp()
    with plain.open("wb") as out, (capture.open("wb") if capture else open("/dev/null", "wb")) as cap:
        cap.write(orjson.dumps({"presencectl": 1, "source": "bench", "transport": "websocket",
                                "started": t, "topics": None}) + b"\n")
        for i in range(events):
            t += rng.uniform(0.0, 0.02)
            if i and i % GAP_EVERY == 0:
                t += GAP_SECONDS
            if i % MALFORMED_EVERY == MALFORMED_EVERY - 1:
                # Valid JSON but not an object: malformed for presencectl (SPEC §5),
                # still parseable by `jq -c .`, which stops at a syntax error.
                line = MALFORMED[(i // MALFORMED_EVERY) % len(MALFORMED)]
            else:
                name, obj = tmpl[rng.randrange(len(tmpl))]
                when = datetime.fromtimestamp(t, UTC)
                line = orjson.dumps(vary(name, obj, rng, when, subjects, i))
            out.write(line + b"\n")
            cap.write(orjson.dumps({"t": round(t + 0.05, 6), "topic": None, "text": line.decode()}) + b"\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--subjects", type=int, default=2000, help="subject ids per dialect")
    parser.add_argument("--no-capture", action="store_true", help="skip the capture-file variant")
    args = parser.parse_args()
    if not have("jq"):
        raise SystemExit("jq is needed for the baseline (apt-get install jq)")
    DATA.mkdir(parents=True, exist_ok=True)
    plain = DATA / f"stats-{args.events}-{args.subjects}.ndjson"
    capture = DATA / f"stats-{args.events}-{args.subjects}.capture.ndjson"
    if not plain.exists() or (not args.no_capture and not capture.exists()):
        print(f"generating {plain.name} (and the capture) ...", flush=True)
        generate(plain, None if args.no_capture else capture, args.events, args.subjects)
    print(f"{args.events:,} events, {plain.stat().st_size / 1e6:.0f} MB; {load()}")

    n = args.events

    def measure(label: str, cmd: list[str]) -> float:
        secs, rss = best_of(args.runs, cmd)
        print(f"  {label:<44} {secs:7.2f} s {n / secs:>11,.0f} events/s  peak RSS {rss / 1024:6.1f} MB", flush=True)
        return secs

    stats = [sys.executable, "-m", "presencectl", "stats"]
    jq = measure("jq -c . (baseline)", ["jq", "-c", ".", str(plain)])
    plain_s = measure("presencectl stats NDJSON --json", [*stats, str(plain), "--json"])
    serial_s = measure("  the same, one process (PRESENCECTL_JOBS=1)", ["env", "PRESENCECTL_JOBS=1", *stats, str(plain), "--json"])
    capture_s = None
    if not args.no_capture:
        capture_s = measure("presencectl stats CAPTURE --json", [*stats, str(capture), "--json"])

    # The report must have seen everything.
    report = json.loads(subprocess.run([*stats, str(plain), "--json"], capture_output=True, check=True).stdout)
    malformed = n // MALFORMED_EVERY
    gaps = (n - 1) // GAP_EVERY
    print(f"  report: {report['events']:,} events, {report['malformed']:,} malformed, "
          f"{len(report['subjects']):,} subjects, {report['gap_count']} gaps")
    assert report["events"] == n, report["events"]
    assert report["malformed"] == malformed, report["malformed"]
    assert report["gap_count"] >= gaps, report["gap_count"]

    print()
    print("result                                        figure     target    ok")
    print(f"  {'stats NDJSON, 1M-event equivalent':<42} {plain_s * 1e6 / n:6.2f} s   < 10 s    "
          f"{'yes' if plain_s * 1e6 / n < 10 else 'NO'}")
    if capture_s is not None:
        print(f"  {'stats capture, 1M-event equivalent':<42} {capture_s * 1e6 / n:6.2f} s   < 10 s    "
              f"{'yes' if capture_s * 1e6 / n < 10 else 'NO'}")
    print(f"  {'stats NDJSON, one process, 1M-equivalent':<42} {serial_s * 1e6 / n:6.2f} s")
    print(f"  {'stats NDJSON vs jq -c . (time ratio)':<42} {plain_s / jq:6.2f}×")


if __name__ == "__main__":
    main()
