"""Captures are never lost (SPEC §5.1, issue 11): the real CLI against real servers."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT, assert_no_traceback, cli_env, fixture, run_cli
from tests.live_support import WsServer, capture_lines, frames_of, no_proxy_env, stream_scenario

PRECIOUS = fixture("span-activity.capture.ndjson")


@pytest.fixture()
def precious(tmp_path):
    path = tmp_path / "precious.capture.ndjson"
    shutil.copy(PRECIOUS, path)
    return path


# Case 1: a session that fails to connect never deletes an existing capture.
@pytest.mark.parametrize("source", ["ws://127.0.0.1:1/", "ws://no-such-host.invalid/"])
@pytest.mark.parametrize("force", [False, True])
def test_a_failed_connection_leaves_an_existing_capture(precious, source, force):
    result = run_cli("record", source, "-o", str(precious), *(["--force"] if force else []), env=no_proxy_env())
    assert_no_traceback(result)
    assert result.returncode == (1 if force else 2), result.stderr
    assert precious.read_bytes() == PRECIOUS.read_bytes()
    assert sorted(p.name for p in precious.parent.iterdir()) == [precious.name]


def test_a_failed_connection_leaves_no_new_file(tmp_path):
    out = tmp_path / "new.capture.ndjson"
    result = run_cli("record", "ws://127.0.0.1:1/", "-o", str(out), env=no_proxy_env())
    assert result.returncode == 1
    assert not out.exists()


# Case 2: an existing output is refused; an input is never an output.
def test_an_existing_output_is_refused_with_a_hint(precious):
    with WsServer(stream_scenario(3)) as server:
        result = run_cli("record", server.url, "-o", str(precious), "--timeout", "1", env=no_proxy_env())
    assert result.returncode == 2
    assert result.stderr.decode().count("\n") == 1
    assert b"--force" in result.stderr and b"error:" in result.stderr
    assert precious.read_bytes() == PRECIOUS.read_bytes()


@pytest.mark.parametrize("command", ["record", "tail"])
def test_recording_a_file_onto_itself_is_refused(precious, command):
    flag = ["-o"] if command == "record" else ["--record"]
    result = run_cli(command, str(precious), *flag, str(precious), "--force")
    assert result.returncode == 2
    assert b"also an input" in result.stderr
    assert precious.read_bytes() == PRECIOUS.read_bytes()
    with precious.open("rb") as stdin:  # the same file as stdin
        proc = subprocess.run(
            [sys.executable, "-m", "presencectl", command, "-", *flag, str(precious), "--force"],
            stdin=stdin, capture_output=True, env=cli_env(), cwd=ROOT, timeout=60,
        )
    assert proc.returncode == 2 and b"also an input (stdin)" in proc.stderr
    assert precious.read_bytes() == PRECIOUS.read_bytes()


def test_force_replaces_once_the_first_frame_is_recorded(precious):
    with WsServer(stream_scenario(3)) as server:
        result = run_cli("record", server.url, "-o", str(precious), "--force", "--timeout", "1", env=no_proxy_env())
    assert result.returncode == 0, result.stderr
    assert len(frames_of(capture_lines(precious))) == 3
    assert sorted(p.name for p in precious.parent.iterdir()) == [precious.name]
