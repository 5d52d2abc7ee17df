#!/usr/bin/env python3
"""Mutation testing of ``presencectl/core/`` with mutmut, driven by the fast core tests.

    python tools/mutation.py                      # every module of presencectl/core/
    python tools/mutation.py filters decode       # only these modules (names under core/)
    python tools/mutation.py --max-children 1 capture

Each module is mutated in its own scratch copy of the tree (under
``$TMPDIR/presencectl-mutation/<module>``), so the checkout is never touched
and runs for different modules do not share state. Only the tests that need
no sockets, subprocesses or clocks run against each mutant: ``tests/core/``
and ``tests/test_framing.py``. mutmut runs under ``nice -n 19`` (the machine
is shared). At the end it prints, per module, the mutants killed, survived,
timed out and the surviving rate; ``--list`` also prints the survivors' names
(``mutmut show NAME`` in the scratch copy shows the diff).

mutmut is dev tooling: this script installs it (pinned) into a virtual
environment of its own (``$TMPDIR/presencectl-tools``, reusing the project's
installed dependencies) when it is missing; nothing is added to the project's
runtime dependencies.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "presencectl" / "core"
#: The fast, pure tests: no sockets, subprocesses or real clocks.
TESTS = ["tests/core", "tests/test_framing.py"]
MUTMUT = "mutmut==3.8.1"
#: Checks what importing core loads; mutmut's trampolines import more, so it cannot pass there.
PURITY_TEST = "tests/core/test_socketio.py::test_the_core_module_stays_pure"
SCRATCH = Path(tempfile.gettempdir()) / "presencectl-mutation"
VENV = Path(tempfile.gettempdir()) / "presencectl-tools"


def tool_python() -> Path:
    """A Python with mutmut, in a venv that sees the project's installed dependencies."""
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(VENV)], check=True)
    probe = subprocess.run([str(python), "-c", "import mutmut"], capture_output=True)
    if probe.returncode != 0:
        subprocess.run([str(python), "-m", "pip", "install", "-q", MUTMUT], check=True)
    return python


def modules() -> list[str]:
    """Module names relative to core/, e.g. ``filters`` or ``dialects/navixy``."""
    names = []
    for path in sorted(CORE.rglob("*.py")):
        if path.name == "__init__.py" and path.stat().st_size < 200:
            continue
        names.append(str(path.relative_to(CORE).with_suffix("")))
    return names


def prepare(module: str) -> Path:
    """A scratch copy of the package, the fast tests and the fixtures, configured for one module."""
    work = SCRATCH / module.replace("/", "_")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "node_modules")
    shutil.copytree(ROOT / "presencectl", work / "presencectl", ignore=ignore)
    shutil.copytree(ROOT / "fixtures", work / "fixtures", ignore=ignore)
    (work / "tests").mkdir()
    for name in ("__init__.py", "conftest.py"):
        shutil.copy(ROOT / "tests" / name, work / "tests" / name)
    for test in TESTS:
        source = ROOT / test
        if source.is_dir():
            shutil.copytree(source, work / test, ignore=ignore)
        else:
            shutil.copy(source, work / test)
    selection = ", ".join(f'"{t}"' for t in TESTS)
    (work / "pyproject.toml").write_text(
        "[tool.mutmut]\n"
        'source_paths = ["presencectl"]\n'
        'also_copy = ["fixtures"]\n'
        f'only_mutate = ["presencectl/core/{module}.py"]\n'
        f"pytest_add_cli_args_test_selection = [{selection}]\n"
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-q", "--deselect", '
        f'"{PURITY_TEST}"]\n'
        "use_git_change_detection = false\n"
        "\n[tool.pytest.ini_options]\n"
        "xfail_strict = true\n"
    )
    return work


def run(module: str, python: Path, children: int) -> dict[str, int]:
    work = prepare(module)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    command = ["nice", "-n", "19", str(python), "-m", "mutmut", "run", "--max-children", str(children)]
    subprocess.run(command, cwd=work, env=env, stdout=subprocess.DEVNULL, check=False)
    results = subprocess.run(
        [str(python), "-m", "mutmut", "results", "--all", "true"], cwd=work, env=env, capture_output=True, text=True
    )
    counts: dict[str, int] = {}
    survivors = []
    for line in results.stdout.splitlines():
        name, _, status = line.strip().rpartition(": ")
        if not name:
            continue
        counts[status] = counts.get(status, 0) + 1
        if status == "survived":
            survivors.append(name)
    counts["_survivors"] = survivors  # type: ignore[assignment]
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help="modules under presencectl/core/ (default: all)")
    parser.add_argument("--max-children", type=int, default=2, help="parallel test processes (default 2)")
    parser.add_argument("--list", action="store_true", help="print the surviving mutants' names")
    args = parser.parse_args()
    chosen = args.modules or modules()
    unknown = [m for m in chosen if not (CORE / f"{m}.py").exists()]
    if unknown:
        parser.error(f"no such module under presencectl/core/: {', '.join(unknown)}")
    python = tool_python()
    rows = []
    for module in chosen:
        counts = run(module, python, args.max_children)
        survivors = counts.pop("_survivors")
        killed, survived = counts.get("killed", 0), counts.get("survived", 0)
        timeout = counts.get("timeout", 0)
        # a mutant that never finishes is caught (by the timeout), so it counts as killed
        judged = killed + survived + timeout
        rate = 100.0 * survived / judged if judged else 0.0
        other = {k: v for k, v in counts.items() if k not in ("killed", "survived", "timeout")}
        rows.append((module, killed, survived, timeout, rate, other))
        print(f"{module:24} killed {killed:4}  survived {survived:4}  timeout {timeout:3}  survivors {rate:5.1f}%"
              + (f"  other {other}" if other else ""), flush=True)
        if args.list:
            for name in survivors:
                print(f"    survived: {name}")
    total_judged = sum(r[1] + r[2] + r[3] for r in rows)
    total_survived = sum(r[2] for r in rows)
    if total_judged:
        print(f"{'all':24} {total_survived} of {total_judged} survived ({100.0 * total_survived / total_judged:.1f}%)")
    print(f"scratch copies: {SCRATCH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
