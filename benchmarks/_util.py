"""Small helpers shared by the benchmarks: timing a command, peak RSS, tables."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

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


def best_of(n: int, cmd, **kw) -> tuple[float, int]:
    """Best wall time of n runs (and the largest peak RSS seen)."""
    results = [run_timed(cmd, **kw) for _ in range(n)]
    return min(r[0] for r in results), max(r[1] for r in results)


def have(name: str) -> bool:
    return shutil.which(name) is not None


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"
