"""Shared test helpers: fixture paths, running the real CLI, free ports, required binaries."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings

# A suite started in the background from a script (`python -m pytest &`) inherits
# SIGINT ignored, and the CLI keeps an inherited SIG_IGN on purpose (SignalGate:
# `cmd &` in a script must not die of the terminal's Ctrl-C). The tests that send
# SIGINT to the CLI would then wait forever: give the children the default.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# Property tests are reproducible and bounded: the same examples on every run
# and machine (a failure found once is found again), no per-example deadline
# (a loaded machine must not turn slowness into a failure).
settings.register_profile("presencectl", derandomize=True, deadline=None, max_examples=100, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "presencectl"))


def fixture(name: str) -> Path:
    """Path of a bundled fixture file."""
    return FIXTURES / name


def cli_env(**extra: str) -> dict[str, str]:
    """A clean environment for the CLI: no colour forcing, fixed width, UTC."""
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "COLUMNS")}
    env.update({"COLUMNS": "120", "TZ": "UTC", "PYTHONIOENCODING": "utf-8"})
    env.update(extra)
    return env


def run_cli(
    *args: str,
    input: bytes | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m presencectl ARGS`` as a real subprocess; bytes in and out."""
    return subprocess.run(
        [sys.executable, "-m", "presencectl", *args],
        input=input,
        capture_output=True,
        env=env or cli_env(),
        timeout=timeout,
        cwd=cwd or ROOT,
    )


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require_binary(name: str) -> str:
    """The path of an external program the test needs.

    In CI (``CI=true``) a missing program fails the test; elsewhere it skips.
    """
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (.ci/run installs it)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


def modules_loaded_by(code: str) -> set[str]:
    """The modules a fresh interpreter loads while it runs ``code``.

    Only what ``code`` pulled in: whatever the interpreter had loaded before
    it (site hooks, e.g. coverage's subprocess start-up in ``tools/coverage.sh``)
    is not counted against the code under test.
    """
    probe = f"import sys\n_before = set(sys.modules)\n{code}\nprint('\\n'.join(set(sys.modules) - _before))"
    return set(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=cli_env()).stdout.split())


def assert_no_traceback(result: subprocess.CompletedProcess[bytes]) -> None:
    """No Python traceback leaked to the user."""
    assert b"Traceback" not in result.stderr, result.stderr.decode(errors="replace")
    assert b"Traceback" not in result.stdout


def wait_until(check: Callable[[], object], what: str, timeout: float = 20.0) -> object:
    """Poll ``check`` until it returns something true, and return that.

    For waiting on a condition (a file holds lines, a port answers, a pipe was
    read) instead of sleeping a fixed time. Fails with ``what`` after
    ``timeout`` seconds, a bound that only a hung test ever reaches.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout:g} s for {what}")
        time.sleep(0.01)


def pipe_unread(fd: int) -> int:
    """Bytes written to a pipe and not read yet (either end's descriptor)."""
    import fcntl
    import struct
    import termios

    return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With ``CI=true`` nothing skips: a skip there is a failure that says why.

    Every peer a test needs is installed by ``.ci/run``; a skip in CI means a
    test silently did not run, which can hide a regression.
    """
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true (nothing may skip in CI): {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    """Likewise for a whole module skipped at import (``pytest.importorskip``, ``allow_module_level``)."""
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true (nothing may skip in CI): {reason}"
