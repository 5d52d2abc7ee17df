#!/usr/bin/env python3
"""TAB completion latency: the fast path (spec, no Typer) against the full app, same run.

    python benchmarks/bench_completion.py [--runs N]

Each figure is the best of N runs of one TAB press as bash asks it
(``_PRESENCECTL_COMPLETE=complete_bash`` with ``COMP_WORDS``/``COMP_CWORD``),
wall time and CPU time (user + system of the child: steadier than wall on a
shared machine). Baselines measured in the same run: the interpreter alone
(``python -c pass``) and the same TAB press answered by the full Typer app
(what every TAB cost before the fast path: ``presencectl.cli.main.run``).
Target: a TAB press under 100 ms of CPU (on an idle machine wall time is
CPU time plus a little; on a shared one wall time is mostly waiting).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import ROOT, load  # noqa: E402

FAST = "import sys; sys.argv[0] = 'presencectl'; from presencectl.__main__ import main; main()"
FULL = "import sys; sys.argv[0] = 'presencectl'; from presencectl.cli.main import run; run()"
PRESSES = [
    ("commands", "presencectl "),
    ("-t fir (dialect registry)", "presencectl cat -t fir"),
    ("tail options", "presencectl tail --"),
    ("@profile (profiles file)", "presencectl tail @sp"),
]


def timed(code: str, line: str, env: dict[str, str]) -> tuple[float, float]:
    """(wall s, CPU s) of one TAB press."""
    words = line.split(" ")
    env = dict(env, _PRESENCECTL_COMPLETE="complete_bash", COMP_WORDS=line, COMP_CWORD=str(len(words) - 1))
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"TAB press failed: {line!r}")
    return wall, usage.ru_utime + usage.ru_stime


def best(runs: int, code: str, line: str, env: dict[str, str]) -> tuple[float, float]:
    results = [timed(code, line, env) for _ in range(runs)]
    return min(r[0] for r in results), min(r[1] for r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    (tmp / "profiles.toml").write_text('[profiles.span-prod]\nurl = "wss://h/x"\n[profiles.spaces]\nurl = "sios://h/"\n')
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPATH=str(ROOT), PRESENCECTL_CONFIG=str(tmp / "profiles.toml"))
    for code in (FAST, FULL):  # warm: bytecode caches written
        timed(code, "presencectl ", env)
    floor_wall, floor_cpu = best(args.runs, "pass", "", env)
    print(f"TAB completion, best of {args.runs} ({load()})")
    print(f"  {'python -c pass (interpreter floor)':<34} {floor_wall * 1000:6.0f} ms wall {floor_cpu * 1000:6.0f} ms CPU")
    print(f"  {'press':<34} {'fast wall':>9} {'fast CPU':>9} {'app wall':>9} {'app CPU':>9}  CPU ratio  < 100 ms")
    for label, line in PRESSES:
        fast_wall, fast_cpu = best(args.runs, FAST, line, env)
        full_wall, full_cpu = best(args.runs, FULL, line, env)
        ok = "yes" if fast_cpu < 0.100 else "NO"
        print(
            f"  {label:<34} {fast_wall * 1000:7.0f}ms {fast_cpu * 1000:7.0f}ms {full_wall * 1000:7.0f}ms {full_cpu * 1000:7.0f}ms"
            f"  {full_cpu / fast_cpu:6.1f}×     {ok}"
        )
    print("  (wall on a loaded machine is mostly waiting for a core; the interpreter floor shows how much)")


if __name__ == "__main__":
    main()
