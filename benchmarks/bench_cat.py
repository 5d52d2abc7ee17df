#!/usr/bin/env python3
"""Throughput of `presencectl cat` against jq on the same 1,000,000-line file.

    python benchmarks/bench_cat.py [--lines N] [--runs R]

Generates a mixed NDJSON file (all five dialects) under benchmarks/data/,
then measures in one run, best of R:

- `jq -c .` (baseline) vs `presencectl cat FILE --format json`          target ≥ 2×
- `jq -c .` vs `presencectl cat FILE --format pretty --color always`   target ≥ 1.5×
- `jq -c 'select(.event=="upstreamMessage")'` vs
  `presencectl cat FILE -t upstreamMessage --format raw`                target ≥ 3×
- peak RSS of each presencectl run                                      target < 80 MB
- `presencectl --version` (target < 150 ms) and `--help` (< 300 ms) wall,
  with `python -c pass` as the interpreter's own floor.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import DATA, ROOT, best_of, have, load, run_timed  # noqa: E402

FIX = ROOT / "fixtures" / "samples"


def templates() -> list[tuple[str, dict]]:
    """(dialect, payload) templates from the vendor samples."""
    out = []
    for line in (FIX / "span-activity.ndjson").read_text().splitlines():
        out.append(("span", json.loads(line)))
    out.append(("cloudconnect", json.loads((FIX / "cloudconnect-presence.json").read_text())))
    for line in (FIX / "spaces-presence.ndjson").read_text().splitlines()[:2]:
        out.append(("spaces", json.loads(line)))
    for line in (FIX / "navixy-events.ndjson").read_text().splitlines()[:2]:
        out.append(("navixy", json.loads(line)))
    for name in ("status", "ota-forward", "events"):
        out.append(("aliyun", json.loads((FIX / "aliyun" / f"{name}.json").read_text())["payload"]))
    return out


def generate(path: Path, lines: int) -> None:
    rng = random.Random(7)
    tmpl = templates()
    t0 = datetime(2026, 3, 12, tzinfo=UTC)
    with path.open("w") as f:
        for i in range(lines):
            dialect, obj = tmpl[rng.randrange(len(tmpl))]
            obj = json.loads(json.dumps(obj))
            when = t0 + timedelta(milliseconds=i * 37)
            if dialect == "span":
                obj["deviceId"] = f"17kl{rng.randrange(5000):06d}"
                obj["time"] = when.strftime("%Y-%m-%d %H:%M:%S")
            elif dialect == "cloudconnect":
                obj["id"] = 461799503595297635 + i
                obj["asset"] = str(357322041800000 + rng.randrange(5000))
                obj["time"] = when.isoformat()
            elif dialect == "navixy" and isinstance(obj.get("data"), dict):
                obj["data"]["source_id"] = rng.randrange(10000)
            elif dialect == "aliyun":
                obj["params"]["iotId"] = f"iot{rng.randrange(5000):08d}"
            f.write(json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"mixed-{args.lines}.ndjson"
    if not path.exists():
        print(f"generating {path} ...", flush=True)
        generate(path, args.lines)
    size = path.stat().st_size / 1e6
    print(f"{args.lines:,} lines, {size:.0f} MB; {load()}")
    if not have("jq"):
        raise SystemExit("jq is needed for the baseline (apt-get install jq)")

    pc = [sys.executable, "-m", "presencectl", "cat", str(path)]
    n = args.lines
    rows = []

    def measure(label, cmd, **kw):
        secs, rss = best_of(args.runs, cmd, **kw)
        rows.append((label, secs, n / secs, rss / 1024))
        print(f"  {label:<48} {secs:7.2f} s {n / secs:>11,.0f} lines/s  peak RSS {rss / 1024:6.1f} MB", flush=True)
        return n / secs, rss / 1024

    jq_all, _ = measure("jq -c .", ["jq", "-c", ".", str(path)])
    jq_sel, _ = measure("jq -c select(.event==upstreamMessage)", ["jq", "-c", 'select(.event=="upstreamMessage")', str(path)])
    js, rss1 = measure("presencectl cat -f json", pc + ["--format", "json"])
    pretty, rss2 = measure("presencectl cat -f pretty --color always", pc + ["--format", "pretty", "--color", "always"])
    raw, rss3 = measure("presencectl cat -t upstreamMessage -f raw", pc + ["-t", "upstreamMessage", "--format", "raw"])

    # Start-up is measured as users see it: with bytecode caches written (this
    # workplace sets PYTHONDONTWRITEBYTECODE, which would recompile every run).
    import os

    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    run_timed([sys.executable, "-m", "presencectl", "--help"])  # warm: write __pycache__
    floor, _ = best_of(10, [sys.executable, "-c", "pass"])
    version, _ = best_of(10, [sys.executable, "-m", "presencectl", "--version"])
    script = Path(sys.executable).with_name("presencectl")
    version_script, _ = best_of(10, [str(script), "--version"]) if script.exists() else (float("nan"), 0)
    helptime, _ = best_of(10, [str(script), "--help"] if script.exists() else [sys.executable, "-m", "presencectl", "--help"])

    print()
    print("result                                          figure      target   ok")
    checks = [
        ("json vs jq -c .", js / jq_all, 2.0),
        ("pretty --color always vs jq -c .", pretty / jq_all, 1.5),
        ("-t upstreamMessage raw vs jq select", raw / jq_sel, 3.0),
    ]
    for label, ratio, target in checks:
        print(f"  {label:<44} {ratio:6.2f}×    ≥ {target:.1f}×   {'yes' if ratio >= target else 'NO'}")
    peak = max(rss1, rss2, rss3)
    print(f"  {'peak RSS':<44} {peak:6.1f} MB  < 80 MB   {'yes' if peak < 80 else 'NO'}")
    print(f"  {'python -c pass (interpreter floor)':<44} {floor * 1000:6.0f} ms")
    print(f"  {'presencectl --version (console script)':<44} {version_script * 1000:6.0f} ms  < 150 ms  {'yes' if version_script < 0.150 else 'NO'}")
    print(f"  {'python -m presencectl --version':<44} {version * 1000:6.0f} ms")
    print(f"  {'presencectl --help (console script)':<44} {helptime * 1000:6.0f} ms  < 300 ms  {'yes' if helptime < 0.300 else 'NO'}")


if __name__ == "__main__":
    main()
