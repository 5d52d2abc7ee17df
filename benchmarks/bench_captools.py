#!/usr/bin/env python3
"""Peak memory and time of the capture tools on a big capture: does memory stay flat?

    python benchmarks/bench_captools.py [--mb 1024] [--small-mb 10] [--tools slice,merge,anonymise,diff]

Builds two captures under benchmarks/data/ (git-ignored) from the frame
records of the bundled captures (all five dialects), with 1,000 device ids
per dialect, a new message id in every Aliyun frame and times moving forward
10 ms per record: a big one (default 1 GB) and a small one (default 10 MB).
Then runs each tool once on each through `/usr/bin/time -v` (peak RSS) and
prints peak RSS on the small file (the baseline, same run), on the big one,
and their ratio: flat memory means a ratio near 1 for a file 100 times
bigger. Times are printed for information, never asserted.

- slice  --from at the half-way mark (reads and copies the second half) -s '17kl*'
- merge  big + small → one capture
- anonymise --key bench
- diff   big vs small (two stats passes)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import DATA, ROOT, load  # noqa: E402

CAPTURES = ("span-activity", "cloudconnect", "aliyun", "spaces", "navixy")
#: Ids of the fixtures replaced by a pool of 1,000 variants each.
IDS = (b"17kl14hm46h4c2", b"357322041802978", b"5gJtxDVeGAkaEztpisjX", b"5f0426ccaa4a34aaf9994cdf", b"10284")


def build(path: Path, size: int) -> int:
    """Write a capture of about ``size`` bytes; returns its record count."""
    frames: list[dict] = []
    for name in CAPTURES:
        for line in (ROOT / "fixtures" / f"{name}.capture.ndjson").read_bytes().splitlines()[1:]:
            record = json.loads(line)
            if "text" in record:
                frames.append(record)
    t = 1773302400.0
    count = 0
    written = 0
    tmp = path.with_suffix(".partial")
    with open(tmp, "wb") as out:
        header = {"presencectl": 1, "source": "ws://127.0.0.1:9000/bench", "transport": "websocket", "started": t, "topics": None}
        out.write(json.dumps(header).encode() + b"\n")
        while written < size:
            for record in frames:
                text = record["text"].encode()
                n = count % 1000
                for ident in IDS:
                    if ident in text:
                        variant = ident[: -len(str(n))] + str(n).encode() if len(ident) > 4 else str(10000 + n).encode()
                        text = text.replace(ident, variant)
                text = text.replace(b'"msgid', b'"msg%d-' % count)
                t += 0.01
                line = json.dumps({"t": round(t, 3), "topic": record["topic"], "text": text.decode()}).encode() + b"\n"
                out.write(line)
                written += len(line)
                count += 1
                if written >= size:
                    break
    tmp.rename(path)
    return count


def measure(cmd: list[str]) -> tuple[float, int]:
    """(wall seconds, peak RSS in KiB) of one run under /usr/bin/time -v."""
    start = time.perf_counter()
    result = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode not in (0, 1):
        raise SystemExit(f"failed ({result.returncode}): {' '.join(cmd)}\n{result.stderr[-2000:]}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1))
    return elapsed, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=1024)
    parser.add_argument("--small-mb", type=int, default=10)
    parser.add_argument("--tools", default="slice,merge,anonymise,diff")
    args = parser.parse_args()
    if not Path("/usr/bin/time").exists():
        raise SystemExit("needs /usr/bin/time (apt-get install time)")
    DATA.mkdir(parents=True, exist_ok=True)
    files = {}
    for label, mb in (("small", args.small_mb), ("big", args.mb)):
        path = DATA / f"captools-{mb}mb.capture.ndjson"
        if not path.exists():
            print(f"building {path.name} …", flush=True)
            build(path, mb << 20)
        files[label] = path
    out = DATA / "captools-out.capture.ndjson"
    py = [sys.executable, "-m", "presencectl"]
    half = f"{int(os.path.getsize(files['big']) / 400 * 0.01 / 2)}s"  # about the middle (≈400 bytes a record)

    def command(tool: str, path: Path) -> list[str]:
        if tool == "slice":
            return [*py, "slice", str(path), "--from", half if path == files["big"] else "0s", "-s", "17kl*", "-o", str(out), "--force"]
        if tool == "merge":
            return [*py, "merge", str(path), str(files["small"]), "-o", str(out), "--force"]
        if tool == "anonymise":
            return [*py, "anonymise", str(path), "-o", str(out), "--key", "bench", "--force"]
        return [*py, "diff", str(path), str(files["small"]), "--json"]

    print(f"{load()}; big {os.path.getsize(files['big']) / 2**20:,.0f} MiB, small {os.path.getsize(files['small']) / 2**20:,.0f} MiB")
    print(f"{'tool':<10} {'RSS small':>10} {'RSS big':>10} {'ratio':>6} {'time small':>11} {'time big':>9} {'MB/s big':>8}")
    for tool in args.tools.split(","):
        t_small, rss_small = measure(command(tool, files["small"]))
        t_big, rss_big = measure(command(tool, files["big"]))
        rate = os.path.getsize(files["big"]) / 2**20 / t_big
        print(f"{tool:<10} {rss_small / 1024:>8.1f}MB {rss_big / 1024:>8.1f}MB {rss_big / rss_small:>6.2f} {t_small:>10.1f}s {t_big:>8.1f}s {rate:>8.1f}", flush=True)
    if out.exists():
        out.unlink()
    shutil.rmtree(DATA / "__pycache__", ignore_errors=True)


if __name__ == "__main__":
    main()
