"""Shared test helpers: fixture paths, running the real CLI, free ports, required binaries."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


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


def assert_no_traceback(result: subprocess.CompletedProcess[bytes]) -> None:
    """No Python traceback leaked to the user."""
    assert b"Traceback" not in result.stderr, result.stderr.decode(errors="replace")
    assert b"Traceback" not in result.stdout
