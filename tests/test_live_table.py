"""`--live`: the presence table, driven in a real terminal (tmux) and piece by piece."""

from __future__ import annotations

import io
import json
import os
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from presencectl.core.decode import Decoder
from presencectl.core.events import Frame, Marker
from presencectl.engine.runner import Pipeline
from presencectl.errors import UsageError
from presencectl.ui.console import Environment
from presencectl.ui.live_table import LiveTable, ensure_terminal, fmt_ago
from tests.conftest import ROOT, assert_no_traceback, cli_env, fixture, require_binary, run_cli

PYTHON = shlex.quote(sys.executable)
SPAN = shlex.quote(str(fixture("span-activity.capture.ndjson")))
#: Generous: this bounds a wait for the screen to show something, it is not a speed assertion.
PATIENCE = 60.0


class Tmux:
    """A private tmux server with one 120×40 window running a shell command."""

    def __init__(self) -> None:
        self.binary = require_binary("tmux")
        self.socket = f"presencectl-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.started = False

    def tmux(self, *args: str) -> str:
        result = subprocess.run([self.binary, "-L", self.socket, *args], capture_output=True, text=True,
                                env=cli_env(), timeout=30)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def start(self, command: str) -> None:
        # Keep the pane after the command ends so its last screen can be read.
        self.tmux("new-session", "-d", "-s", "live", "-x", "120", "-y", "40", "-c", str(ROOT),
                  f"{command}; echo EXIT=$?; sleep 600")
        self.started = True

    def screen(self, escapes: bool = False) -> str:
        return self.tmux("capture-pane", "-p", *(["-e"] if escapes else []), "-t", "live")

    def cursor_visible(self) -> bool:
        return self.tmux("display-message", "-p", "-t", "live", "#{cursor_flag}").strip() == "1"

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "live", *keys)

    def wait_for(self, ready: Callable[[str], bool], what: str) -> str:
        deadline = time.monotonic() + PATIENCE
        while True:
            screen = self.screen()
            if ready(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"the screen never showed {what}:\n{screen}")
            time.sleep(0.1)

    def close(self) -> None:
        if self.started:
            subprocess.run([self.binary, "-L", self.socket, "kill-server"], capture_output=True, timeout=30)


@pytest.fixture
def tmux():
    term = Tmux()
    try:
        yield term
    finally:
        term.close()


def table_rows(screen: str) -> dict[str, list[str]]:
    """subject → the other cells of its row in the live table."""
    rows = {}
    for line in screen.splitlines():
        cells = line.split()
        if len(cells) >= 5 and cells[1] in ("online", "offline", "unknown"):
            rows[cells[0]] = cells[1:]
    return rows


def subjects_in_order(screen: str) -> list[str]:
    return [line.split()[0] for line in screen.splitlines()
            if len(line.split()) >= 5 and line.split()[1] in ("online", "offline", "unknown")]


def span_event(device: str, event: str, second: int) -> bytes:
    obj = {"collectionId": "c1", "deviceId": device, "event": event, "time": f"2026-03-12 08:00:{second:02d}"}
    return json.dumps(obj).encode() + b"\n"


# -------------------------------------------------------------- in tmux
def test_live_table_follows_a_stream_event_by_event(tmux, tmp_path):
    fifo = tmp_path / "events"
    os.mkfifo(fifo)
    tmux.start(f"{PYTHON} -m presencectl cat - --live < {shlex.quote(str(fifo))}")
    writer = open_fifo_for_writing(fifo)
    try:
        screen = tmux.wait_for(lambda s: "waiting for events" in s, "an empty table")
        assert not tmux.cursor_visible()

        os.write(writer, span_event("d1", "clientConnected", 1))
        screen = tmux.wait_for(lambda s: "d1" in table_rows(s), "d1")
        assert table_rows(screen)["d1"][:3] == ["online", "clientConnected", "now"]

        os.write(writer, span_event("d2", "clientConnected", 2) + span_event("d1", "upstreamMessage", 3))
        screen = tmux.wait_for(lambda s: "d2" in table_rows(s) and "upstreamMessage" in s, "d2 and d1's message")
        rows = table_rows(screen)
        assert rows["d1"][:3] == ["online", "upstreamMessage", "now"]
        assert rows["d2"][:3] == ["online", "clientConnected", "1s"]  # "1s ago", relative to the stream
        assert subjects_in_order(screen) == ["d2", "d1"]  # most recently changed first

        os.write(writer, span_event("d1", "clientDisconnected", 10) + span_event("d1", "clientConnected", 12))
        screen = tmux.wait_for(lambda s: table_rows(s).get("d1", [""])[1:2] == ["clientConnected"]
                               and "2 online" in s, "d1 back online")
        rows = table_rows(screen)
        assert rows["d1"][0] == "online" and rows["d1"][-2:] == ["1", "clientConnected"]  # one flap
        assert subjects_in_order(screen) == ["d1", "d2"]

        os.write(writer, span_event("d2", "clientDisconnected", 20))
        screen = tmux.wait_for(lambda s: table_rows(s).get("d2", [""])[0] == "offline", "d2 offline")
        assert "6 events  2 subjects: 1 online, 1 offline" in screen
        coloured = tmux.screen(escapes=True)
        assert "\x1b[1m\x1b[31moffline" in coloured or "\x1b[1;31moffline" in coloured
        assert "\x1b[1m\x1b[32monline" in coloured or "\x1b[1;32monline" in coloured
    finally:
        os.close(writer)
    screen = tmux.wait_for(lambda s: "EXIT=" in s, "the end")
    assert "EXIT=0" in screen
    assert "waiting for events" not in screen and "6 events  2 subjects" not in screen  # the live view is gone
    assert "Presence by subject, most flaps first" in screen
    assert tmux.cursor_visible()


def open_fifo_for_writing(path: Path) -> int:
    """Open a FIFO once the program in the pane has opened it for reading."""
    deadline = time.monotonic() + PATIENCE
    while True:
        try:
            return os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # ENXIO: no reader yet
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_live_table_shows_a_capture_and_ctrl_c_restores_the_terminal(tmux):
    tmux.start(f"sh -c 'cat {SPAN}; sleep 600' | {PYTHON} -m presencectl cat - --live")
    screen = tmux.wait_for(lambda s: "109 events" in s, "the whole capture")
    rows = table_rows(screen)
    assert rows["17kl14hm46h5aa"][:2] == ["offline", "clientDisconnected"]
    assert rows["17kl14hm46h5aa"][-2:] == ["13", "clientDisconnected"]
    assert rows["17kl14hm46h4c2"][-2] == "1"
    assert rows["17kl14hm46h4d9"][-2] == "0"
    # All three disconnect at 08:15:05, in this order in the file: the last one is on top.
    assert subjects_in_order(screen) == ["17kl14hm46h4d9", "17kl14hm46h5aa", "17kl14hm46h4c2"]
    assert "3 subjects: 0 online, 3 offline" in screen and "[connected]" in screen
    assert not tmux.cursor_visible()

    tmux.keys("C-c")
    screen = tmux.wait_for(lambda s: "EXIT=" in s, "the end")
    assert "EXIT=130" in screen
    assert "Traceback" not in screen
    assert "Presence by subject, most flaps first" in screen
    summary = {line.split()[0]: line.split() for line in screen.splitlines() if line.startswith("17kl")}
    # subject, state, conn, disc, failed, flaps, … (120 columns: "since" is left out)
    assert summary["17kl14hm46h5aa"][1:6] == ["offline", "8", "8", "0", "13"]
    assert tmux.cursor_visible()


def test_live_on_a_file_ends_with_the_summary(tmux):
    tmux.start(f"{PYTHON} -m presencectl cat {shlex.quote(str(fixture('mixed.capture.ndjson.gz')))} --live")
    screen = tmux.wait_for(lambda s: "EXIT=" in s, "the end")
    assert "EXIT=0" in screen
    assert "15: 4 online, 7 offline, 4 unknown at the end" in screen
    summary = {line.split()[0]: line.split() for line in screen.splitlines() if line and line[0].isalnum()}
    assert summary["10284"][1] == "online"
    assert summary["357322041809902"][1] == "online"
    assert summary["0300MSKL03667c544f69342a74Sv4Za4"][1] == "offline"
    assert tmux.cursor_visible()


def test_live_refuses_line_format_options_on_a_terminal(tmux):
    tmux.start(f"{PYTHON} -m presencectl cat {SPAN} --live -f json")
    screen = tmux.wait_for(lambda s: "EXIT=" in s, "the end")
    assert "EXIT=2" in screen
    assert "--live shows a table, not event lines" in screen


# ------------------------------------------------------------ no terminal
def test_live_is_refused_when_stdout_is_not_a_terminal():
    result = run_cli("cat", str(fixture("span-activity.capture.ndjson")), "--live")
    assert result.returncode == 2
    assert_no_traceback(result)
    assert b"--live draws a table on a terminal, but stdout is not one" in result.stderr
    assert result.stdout == b""


def test_ensure_terminal():
    with pytest.raises(UsageError):
        ensure_terminal(Environment(stdout=io.BytesIO(), stderr=io.StringIO(), stdout_isatty=False, environ={}))


# ------------------------------------------------------------ the pieces
def terminal_env() -> Environment:
    return Environment(stdout=io.BytesIO(), stderr=io.StringIO(), stdout_isatty=True, stderr_isatty=False,
                       environ={"COLUMNS": "120", "LINES": "30"})


def rendered(table: LiveTable) -> str:
    from rich.console import Console

    console = Console(file=io.StringIO(), width=120, color_system=None)
    console.print(table.render())
    return console.file.getvalue()  # type: ignore[attr-defined]


def test_attach_feeds_events_and_markers_and_caps_the_refresh_rate():
    env = terminal_env()
    table = LiveTable(env, color=False, refresh_per_second=30, summary=False)
    assert table.refresh_per_second == 4
    pipeline = Pipeline(Decoder(), None, None, None)
    table.attach(pipeline)
    pipeline.marker(Marker("connected", 1.0))
    pipeline.frame(Frame(span_event("d1", "clientConnected", 1).decode(), 1773302401.0))
    pipeline.frame(Frame(span_event("d2", "clientConnected", 5).decode(), 1773302405.0))
    text = rendered(table)
    assert "2 events  2 subjects: 2 online, 0 offline  [connected]" in text
    assert subjects_in_order(text) == ["d2", "d1"]
    assert table_rows(text)["d1"][:3] == ["online", "clientConnected", "4s"]
    assert pipeline.counts.markers == 1


def test_wall_clock_last_seen_uses_receive_time():
    env = terminal_env()
    table = LiveTable(env, color=False, wall_clock=lambda: 1773302465.0, summary=False)
    for event in Decoder().decode(span_event("d1", "clientConnected", 1), received=1773302405.0):
        table.add(event)
    assert table_rows(rendered(table))["d1"][2:4] == ["1m", "ago"]


def test_hostile_subject_is_escaped():
    env = terminal_env()
    table = LiveTable(env, color=False, summary=False)
    for event in Decoder().decode('{"collectionId":"c","deviceId":"d\\u001b]0;owned\\u0007[red]x","event":"clientConnected"}'):
        table.add(event)
    text = rendered(table)
    assert "\x1b" not in text
    assert "d\\x1b]0;owned\\x07[red]x" in text


def test_rows_are_limited_to_the_terminal_height():
    env = terminal_env()
    table = LiveTable(env, color=False, summary=False)
    table._console = type("C", (), {"size": type("S", (), {"height": 10})()})()  # a 10-line terminal
    for n in range(20):
        for event in Decoder().decode(span_event(f"dev{n:02d}", "clientConnected", n)):
            table.add(event)
    text = rendered(table)
    assert subjects_in_order(text) == ["dev19", "dev18", "dev17", "dev16"]
    assert "… 16 more subjects" in text


@pytest.mark.parametrize("seconds, text", [(None, "-"), (0.2, "now"), (12, "12s ago"), (75, "1m15s ago"), (7200, "2h ago")])
def test_fmt_ago(seconds, text):
    assert fmt_ago(seconds) == text
