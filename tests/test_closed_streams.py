"""A closed stdin, stdout or stderr (``<&-``, ``>&-``, ``2>&-``) is an input like any other.

Before this, ``presencectl --version >&-`` and every command printed a
traceback, and a closed stderr turned each one-line error into exit 1. A
closed descriptor is also a trap for captures: the next file opened gets
the lowest free descriptor, so a recorder started with ``2>&-`` would have
written its warnings into its own capture. The shell does the closing here,
as a user's would.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys

import pytest

from tests.conftest import ROOT, cli_env, fixture

SPAN = str(fixture("span-activity.capture.ndjson"))
CLOSED = "presencectl: error: standard output is closed; use >/dev/null to discard the output\n"


def shell(command: str, redirect: str, stdin: bytes = b"", cwd=ROOT) -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m presencectl COMMAND REDIRECT`` through sh, as typed."""
    cli = f"{shlex.quote(sys.executable)} -m presencectl {command} {redirect}"
    return subprocess.run(["sh", "-c", cli], input=stdin, capture_output=True, env=cli_env(), cwd=cwd, timeout=60)


@pytest.mark.parametrize(
    "command",
    ["--version", "--help", f"cat {SPAN}", "dialects", f"stats {SPAN}", f"replay {SPAN} --speed max", "record - -o out.capture.ndjson"],
)
@pytest.mark.parametrize("redirect", [">&-", "1</dev/null"], ids=["closed", "read-only"])
def test_a_closed_stdout_is_one_line_and_exit_2(command, redirect, tmp_path):
    result = shell(command, redirect, cwd=tmp_path)
    assert (result.returncode, result.stderr.decode()) == (2, CLOSED)
    assert list(tmp_path.iterdir()) == []  # nothing was started: no capture either


@pytest.mark.parametrize(
    ("command", "code"),
    [(f"cat {SPAN} -f raw", 0), ("cat /no/such/file", 2), ("tail ws://127.0.0.1:1/ --no-reconnect", 1), ("--version", 0)],
)
@pytest.mark.parametrize("redirect", ["2>&-", "2</dev/null"], ids=["closed", "read-only"])
def test_a_closed_stderr_keeps_the_exit_code_and_the_output(command, code, redirect):
    result = shell(command, redirect)
    assert result.returncode == code
    if command.startswith("cat ") and code == 0:
        assert result.stdout == shell(command, "").stdout != b""


def test_a_recorder_with_a_closed_stderr_writes_only_frames_into_its_capture(tmp_path):
    """The capture must not land on fd 2: the summary line (and any warning) would be written into it."""
    lines = b'{"a":1}\nnot json\n{"b":2}\n'
    result = shell("record - -o out.capture.ndjson", "2>&-", stdin=lines, cwd=tmp_path)
    assert result.returncode == 0
    records = [json.loads(line) for line in (tmp_path / "out.capture.ndjson").read_bytes().splitlines()]
    assert records[0]["presencectl"] == 1
    assert [r["text"] for r in records[1:]] == ['{"a":1}', "not json", '{"b":2}']


@pytest.mark.parametrize("command", ["cat - -f raw", "tail - -f raw", "stats -"])
def test_a_closed_stdin_reads_as_empty(command):
    result = shell(command, "<&-")
    assert result.returncode == 0, result.stderr
    assert b"Traceback" not in result.stderr
