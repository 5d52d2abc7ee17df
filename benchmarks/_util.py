"""Small helpers shared by the benchmarks: timing a command, peak RSS, tables."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

# Run from a script in the background (`nohup bench.py &`), SIGINT arrives ignored and
# the CLI keeps it so (SignalGate): the benchmarks that stop a server with SIGINT would
# wait for it forever. Their children get the default back.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / "data"


def run_timed(cmd: list[str] | str, stdout=subprocess.DEVNULL, shell: bool = False, env=None) -> tuple[float, int]:
    """Run a command to completion; (wall seconds, peak RSS in KiB of the child)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.DEVNULL, shell=shell, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"benchmark command failed ({proc.returncode}): {cmd}")
    return elapsed, usage.ru_maxrss


def run_usage(cmd: list[str], env=None, cwd=None) -> tuple[float, float, int]:
    """Run a command to completion; (wall seconds, CPU seconds user+system, peak RSS KiB)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=cwd)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"benchmark command failed: {cmd}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def interleaved(runs: int, jobs: dict[str, tuple[list[str], dict | None]]) -> dict[str, tuple[float, float, int]]:
    """Run every job once per round, ``runs`` rounds: on a shared machine whose
    load drifts, each command meets the same conditions as its baseline.
    Best wall, best CPU and largest peak RSS per job."""
    best: dict[str, tuple[float, float, int]] = {}
    for _ in range(runs):
        for label, (cmd, env) in jobs.items():
            wall, cpu, rss = run_usage(cmd, env)
            old = best.get(label, (wall, cpu, rss))
            best[label] = (min(old[0], wall), min(old[1], cpu), max(old[2], rss))
    return best


def best_of(n: int, cmd, **kw) -> tuple[float, int]:
    """Best wall time of n runs (and the largest peak RSS seen)."""
    results = [run_timed(cmd, **kw) for _ in range(n)]
    return min(r[0] for r in results), max(r[1] for r in results)


def have(name: str) -> bool:
    return shutil.which(name) is not None


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"
