#!/usr/bin/env python3
"""Throughput of `presencectl cat` against jq on the same 1,000,000-line file.

    python benchmarks/bench_cat.py [--mix long|short] [--lines N] [--runs R] [--stat median|best] [--against DIR]

Generates a mixed NDJSON file (all five dialects) under benchmarks/data/:
``--mix long`` (the default) uses the vendor samples as they are (~300 bytes
a line on average); ``--mix short`` is Span-like, every line 200-250 bytes
(most of them Span activity, the others trimmed to that size), where jq's
per-line cost is lowest. Then measures in one run, R interleaved rounds (each
figure is the median of the rounds, or the best with ``--stat best``; each
ratio is taken within a round, against the baseline run beside it):

- `jq -c .` (baseline) vs `presencectl cat FILE --format json`          target ≥ 2×
- `jq -c .` vs `presencectl cat FILE --format pretty --color always`   target ≥ 1.5×
- `jq -c 'select(.event=="upstreamMessage")'` vs
  `presencectl cat FILE -t upstreamMessage --format raw`                target ≥ 3×
- peak RSS of each presencectl run                                      target < 80 MB
- `PRESENCECTL_JOBS=1 presencectl cat FILE --format json` (one process)
  vs `jq -c .`                                                          target ≥ 1×
- `presencectl --version` (target < 150 ms) and `--help` (< 300 ms) wall,
  with `python -c pass` as the interpreter's own floor.

``--against DIR`` (another checkout, e.g. a detached worktree of ``main``) runs
each presencectl command from that tree too, in the same rounds, and prints
old/new ratios of CPU and wall time: a change measured against its own
baseline under the same load.

CPU time (user+system, workers included) is printed beside wall time: on a
loaded machine wall ratios depend on how many cores each side gets, CPU per
line is the cost itself. `presencectl cat /dev/null` is measured too: the
fixed start-up cost inside every presencectl figure.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import DATA, ROOT, best_of, have, load, run_timed, run_usage  # noqa: E402

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


def short_templates() -> list[tuple[str, dict]]:
    """(dialect, payload) templates of 200-250 bytes each, Span activity first.

    Span lines carry the metadata a real activity stream has (message size,
    transport, a short base64 payload); the other dialects are their vendor
    samples cut down to their identifying fields.
    """
    span = {"collectionId": "17dj5j4ce8bkci", "deviceId": "17kl14hm46h4c2", "event": "", "time": "2024-04-25 20:23:36"}
    out = [
        ("span", {**span, "event": "upstreamMessage", "data": {"bytes": "48", "transport": "udp", "payload": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIj", "coapPath": "/v1/d"}}),
        ("span", {**span, "event": "upstreamMessage", "data": {"bytes": "12", "transport": "coap", "payload": "SGVsbG8gd29ybGQh", "rssi": "-87", "cellId": "25614"}}),
        ("span", {**span, "event": "clientConnected", "data": {"id": "certificate", "ip": "10.0.45.112", "imsi": "242016000012345", "imei": "351234567890123"}}),
        ("span", {**span, "event": "clientDisconnected", "data": {"ip": "10.0.45.112", "reason": "timeout", "lastSeen": "2024-04-25 20:23:01"}}),
        ("span", {**span, "event": "firmwareCheck", "data": {"version": "1.4.2", "manufacturer": "Nordic", "model": "nRF9160", "serial": "A1"}}),
    ]
    cc = json.loads((FIX / "cloudconnect-presence.json").read_text())
    out.append(("cloudconnect", cc))
    spaces = json.loads((FIX / "spaces-presence.ndjson").read_text().splitlines()[1])
    spaces["sender"] = {"_id": spaces["sender"]["_id"], "type": "user", "displayname": "Test User 2"}
    spaces["content"] = {"offline": False, "idle": False, "role": "member"}
    del spaces["receivers"]
    out.append(("spaces", spaces))
    out.append(("navixy", {"type": "event", "event": "lifecycle", "user_time": "2018-10-17 12:51:55",
                           "data": {"source_id": 10284, "lifecycle_event": "block", "label": "Truck 12", "reason": "tariff expired"}}))
    for name in ("status", "ota-forward"):
        out.append(("aliyun", json.loads((FIX / "aliyun" / f"{name}.json").read_text())["payload"]))
    return out


def generate_short(path: Path, lines: int) -> None:
    rng = random.Random(11)
    tmpl = short_templates()
    spans = [t for t in tmpl if t[0] == "span"]
    others = [t for t in tmpl if t[0] != "span"]
    t0 = datetime(2026, 3, 12, tzinfo=UTC)
    with path.open("w") as f:
        for i in range(lines):
            # Mostly Span: the activity stream is the busiest of the five.
            dialect, obj = spans[rng.randrange(len(spans))] if rng.random() < 0.7 else others[rng.randrange(len(others))]
            obj = json.loads(json.dumps(obj))
            when = t0 + timedelta(milliseconds=i * 37)
            if dialect == "span":
                obj["deviceId"] = f"17kl{rng.randrange(5000):06d}"
                obj["time"] = when.strftime("%Y-%m-%d %H:%M:%S")
            elif dialect == "cloudconnect":
                obj["id"] = 461799503595297635 + i
                obj["id_str"] = str(obj["id"])
                obj["asset"] = str(357322041800000 + rng.randrange(5000))
                obj["time"] = when.isoformat()
            elif dialect == "navixy":
                obj["data"]["source_id"] = rng.randrange(10000)
                obj["user_time"] = when.strftime("%Y-%m-%d %H:%M:%S")
            elif dialect == "aliyun":
                obj["params"]["iotId"] = f"iot{rng.randrange(5000):08d}"
            elif dialect == "spaces":
                obj["sender"]["_id"] = f"5f0426ccaa4a34aaf{rng.randrange(10_000_000):07d}"
            line = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
            # Pad short lines to the 200-250 byte band with a field the dialects ignore.
            if len(line.encode()) < 200:
                pad = 200 - len(line.encode()) - len(',"seq":""') + rng.randrange(20)
                obj["seq"] = f"{i:0{max(pad, 1)}d}"[-max(pad, 1):]
                line = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
            f.write(line + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--mix", choices=("long", "short"), default="long", help="the data set (see above)")
    parser.add_argument("--stat", choices=("median", "best"), default="median", help="figure over the rounds")
    parser.add_argument("--against", type=Path, help="another checkout: its presencectl runs in the same rounds")
    args = parser.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / (f"mixed-{args.lines}.ndjson" if args.mix == "long" else f"short-{args.lines}.ndjson")
    if not path.exists():
        print(f"generating {path} ...", flush=True)
        partial = path.with_suffix(".partial")  # an interrupted run leaves no short file behind
        (generate if args.mix == "long" else generate_short)(partial, args.lines)
        partial.rename(path)
    size = path.stat().st_size
    print(f"--mix {args.mix}: {args.lines:,} lines, {size / 1e6:.0f} MB, {size / args.lines:.0f} bytes a line; {load()}")
    if not have("jq"):
        raise SystemExit("jq is needed for the baseline (apt-get install jq)")

    # Timed as users run it: with bytecode caches written (this workplace sets
    # PYTHONDONTWRITEBYTECODE, which would recompile every module every run).
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    run_timed([sys.executable, "-m", "presencectl", "--help"])  # warm: write __pycache__
    pc = [sys.executable, "-m", "presencectl", "cat", str(path)]
    n = args.lines

    one_env = {**os.environ, "PRESENCECTL_JOBS": "1"}
    select = 'select(.event=="upstreamMessage")'
    jobs = {
        "jq -c .": (["jq", "-c", ".", str(path)], None),
        f"jq -c '{select}'": (["jq", "-c", select, str(path)], None),
        "presencectl cat -f json": (pc + ["--format", "json"], None),
        "presencectl cat -f pretty --color always": (pc + ["--format", "pretty", "--color", "always"], None),
        "presencectl cat -t upstreamMessage -f raw": (pc + ["-t", "upstreamMessage", "--format", "raw"], None),
        "PRESENCECTL_JOBS=1 presencectl cat -f json": (pc + ["--format", "json"], one_env),
        "presencectl cat /dev/null (start-up)": (pc[:-1] + [os.devnull, "--format", "json"], None),
    }
    if args.against is not None:
        # Both trees run as `python -m presencectl` from their own root (cwd and
        # PYTHONPATH: -m puts cwd first on sys.path), interleaved round by round.
        old_root = args.against.resolve()
        if not (old_root / "presencectl" / "__main__.py").exists():
            raise SystemExit(f"--against {old_root}: no presencectl/__main__.py there")
        for label in [k for k in jobs if "presencectl" in k]:
            cmd, env = jobs[label]
            jobs[label] = (cmd, {**(env or os.environ), "PYTHONPATH": str(ROOT)}, ROOT)
            jobs[f"{label} [old]"] = (cmd, {**(env or os.environ), "PYTHONPATH": str(old_root)}, old_root)
    pick = statistics.median if args.stat == "median" else min
    print(f"  {args.runs} interleaved rounds, {args.stat} of each (wall; CPU = user+system of all processes)")
    rounds: dict[str, list[tuple[float, float, int]]] = {label: [] for label in jobs}
    for _ in range(args.runs):
        for label, (cmd, env, *cwd) in jobs.items():
            rounds[label].append(run_usage(cmd, env, *cwd))
    best = {
        label: (pick([r[0] for r in rs]), pick([r[1] for r in rs]), max(r[2] for r in rs)) for label, rs in rounds.items()
    }
    startup_cpu = best["presencectl cat /dev/null (start-up)"][1]
    for label, (wall, cpu, rss) in best.items():
        empty = "/dev/null" in label
        rate = f"{'-':>11}" if empty else f"{n / wall:>11,.0f}"
        per_line = " " * 17 if empty else f"({cpu / n * 1e6:5.2f} µs/line)"
        print(
            f"  {label:<48} {wall:7.2f} s {rate} lines/s  CPU {cpu:6.2f} s"
            f" {per_line}  peak RSS {rss / 1024:6.1f} MB",
            flush=True,
        )

    def ratio(base: str, label: str, what: int) -> float:
        """``base``'s figure over ``label``'s, round by round (same conditions), then median/best."""
        values = [b[what] / x[what] for b, x in zip(rounds[base], rounds[label], strict=True)]
        return statistics.median(values) if args.stat == "median" else max(values)

    if args.against is not None:
        print(f"\n  against {args.against} (old/new, round by round; above 1: the new tree is faster)")
        for label in [k for k in jobs if k.endswith(" [old]")]:
            new_label = label.removesuffix(" [old]")
            print(f"  {new_label:<48} CPU {ratio(label, new_label, 1):5.2f}×  wall {ratio(label, new_label, 0):5.2f}×")

    jq_all, jq_sel = "jq -c .", f"jq -c '{select}'"
    rss1, rss2, rss3 = (best[k][2] / 1024 for k in list(jobs)[2:5])

    run_timed([sys.executable, "-m", "presencectl", "--help"])  # warm: write __pycache__
    floor, _ = best_of(10, [sys.executable, "-c", "pass"])
    version, _ = best_of(10, [sys.executable, "-m", "presencectl", "--version"])
    script = Path(sys.executable).with_name("presencectl")
    version_script, _ = best_of(10, [str(script), "--version"]) if script.exists() else (float("nan"), 0)
    helptime, _ = best_of(10, [str(script), "--help"] if script.exists() else [sys.executable, "-m", "presencectl", "--help"])

    print()
    print("result                                          figure      target   ok")
    checks = [
        ("json vs jq -c .", jq_all, "presencectl cat -f json", 2.0),
        ("pretty --color always vs jq -c .", jq_all, "presencectl cat -f pretty --color always", 1.5),
        ("-t upstreamMessage raw vs jq select", jq_sel, "presencectl cat -t upstreamMessage -f raw", 3.0),
        ("json, one process (PRESENCECTL_JOBS=1) vs jq", jq_all, "PRESENCECTL_JOBS=1 presencectl cat -f json", 1.0),
    ]
    print("  (wall ratio: the target; CPU ratio: the same with CPU time, all processes)")
    for label, base, job, target in checks:
        wall, cpu = ratio(base, job, 0), ratio(base, job, 1)
        print(f"  {label:<44} {wall:6.2f}×    ≥ {target:.1f}×   {'yes' if wall >= target else 'NO ':<4} CPU {cpu:5.2f}×")
    one_cpu = best["PRESENCECTL_JOBS=1 presencectl cat -f json"][1]
    print(f"  {'start-up CPU (cat /dev/null)':<44} {startup_cpu * 1000:6.0f} ms")
    print(
        f"  {'one-process json CPU less start-up':<44} {(one_cpu - startup_cpu) / n * 1e6:6.2f} µs/line"
        f"  (jq {best[jq_all][1] / n * 1e6:.2f})"
    )
    peak = max(rss1, rss2, rss3)
    print(f"  {'peak RSS':<44} {peak:6.1f} MB  < 80 MB   {'yes' if peak < 80 else 'NO'}")
    print(f"  {'python -c pass (interpreter floor)':<44} {floor * 1000:6.0f} ms")
    print(f"  {'presencectl --version (console script)':<44} {version_script * 1000:6.0f} ms  < 150 ms  {'yes' if version_script < 0.150 else 'NO'}")
    print(f"  {'python -m presencectl --version':<44} {version * 1000:6.0f} ms")
    print(f"  {'presencectl --help (console script)':<44} {helptime * 1000:6.0f} ms  < 300 ms  {'yes' if helptime < 0.300 else 'NO'}")


if __name__ == "__main__":
    main()
