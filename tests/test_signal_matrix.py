"""Ctrl-C and SIGTERM end every command the same way (SPEC §5): 130 / 143,
no traceback, what was read already is rendered, the summary printed.

One matrix over every command that can run for a while (it waits on stdin,
a clock or a client), because that is where the copies drifted apart:
before this test `cat`, `stats`, `timeline` and `replay` were killed where
they stood by SIGTERM (no summary, `cat` lost its buffered lines) and `demo`
printed a traceback.

No fixed sleeps: a signal is sent once the process has its SIGTERM handler
installed (``/proc/PID/status`` ``SigCgt``: the command body is running), has
read its stdin and sleeps waiting for more, and, where the command shows
something, once that is visible. (A line read at the very moment of the
signal is a window ``cat`` still has: it holds no signals while it works.)
"""

from __future__ import annotations

import fcntl
import json
import signal
import subprocess
import sys
import termios
import threading
from pathlib import Path

import pytest

from tests.conftest import ROOT, cli_env, fixture, wait_until

SPAN = fixture("span-activity.capture.ndjson")
HEADER = SPAN.read_bytes().splitlines(keepends=True)[0]
FRAME = next(line for line in SPAN.read_bytes().splitlines(keepends=True) if b'"text"' in line)
PLAIN = Path(ROOT, "fixtures", "samples", "span-activity.ndjson").read_bytes().splitlines(keepends=True)[0]
FIRST = json.loads(FRAME)["text"].encode() + b"\n"  # the capture's first frame, -f raw
SUBJECT = "17kl14hm46h4c2"


def unread(stream) -> int:
    """Bytes written to a pipe and not read yet by the process at the other end."""
    return int.from_bytes(fcntl.ioctl(stream.fileno(), termios.FIONREAD, b"\0\0\0\0"), sys.byteorder)


def asleep(pid: int) -> bool:
    """Whether the process is blocked (``S`` in /proc/PID/stat), e.g. waiting for more input."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] == "S"


def catches_sigterm(pid: int) -> bool:
    """Whether the process has a SIGTERM handler (bit 15 of SigCgt)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    for line in status.splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)))
    return False


# name: (arguments, stdin to write and keep open (the signal waits until it is
#        read), text on stderr to wait for, stdout to expect (None: nothing
#        checked; a live command shows it before the signal, cat at the end),
#        stderr summary text)
COMMANDS = {
    "cat": (["cat", "-", "-f", "raw"], PLAIN, None, PLAIN, None),
    "tail": (["tail", "-", "-f", "raw"], PLAIN, None, PLAIN, None),
    "tail --record": (["tail", "-", "-f", "raw", "--record", "{tmp}/t.capture.ndjson"], PLAIN, None, PLAIN, "recorded to"),
    "record": (["record", "-", "-o", "{tmp}/r.capture.ndjson"], PLAIN, None, None, "recorded to"),
    "expect": (["expect", "-", "--presence", f"{SUBJECT}=offline", "--within", "600"], PLAIN, None, None, None),
    "stats": (["stats", "-"], PLAIN, None, None, None),
    "timeline": (["timeline", "-"], PLAIN, None, None, None),
    "slice": (["slice", "-", "-o", "{tmp}/s.capture.ndjson"], HEADER + FRAME, None, None, None),
    "anonymise": (["anonymise", "-", "-o", "{tmp}/a.capture.ndjson"], HEADER + FRAME, None, None, None),
    "replay": (["replay", str(SPAN), "--rate", "0.001", "-f", "raw"], b"", None, FIRST, "interrupted after 1 frame"),
    "replay --serve": (["replay", str(SPAN), "--serve", "ws://127.0.0.1:0/", "--speed", "0.001"], b"", "serving", None, "served 0 frames"),
    "demo": (["demo", "--speed", "0.01"], b"", "connected to", None, " frames, "),
}


class Running:
    """The CLI as a subprocess with both outputs read in the background."""

    def __init__(self, args: list[str], data: bytes) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "presencectl", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=cli_env(),
            cwd=ROOT,
        )
        self.out = bytearray()
        self.err = bytearray()
        self.readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.out), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.err), daemon=True),
        ]
        for reader in self.readers:
            reader.start()
        assert self.proc.stdin is not None
        if data:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()  # (stdin stays open: the command keeps waiting for more)

    @staticmethod
    def _read(stream, into: bytearray) -> None:
        for chunk in iter(lambda: stream.read1(65536), b""):
            into += chunk

    def end(self, signum: int) -> int:
        self.proc.send_signal(signum)
        try:
            code = self.proc.wait(60)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            assert self.proc.stdin is not None
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
        for reader in self.readers:
            reader.join(60)
        return code


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_ends_a_signal_the_same_way(tmp_path, name, signum):
    args, data, ready, shown, summary = COMMANDS[name]
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    running = Running(args, data)
    try:
        wait_until(lambda: catches_sigterm(running.proc.pid) or running.proc.poll() is not None, f"{name} to install its handlers")
        assert running.proc.poll() is None, bytes(running.err).decode()
        if data:
            # read, and done with: blocked waiting for more (not still working on what it read)
            wait_until(lambda: unread(running.proc.stdin) == 0 and asleep(running.proc.pid), "the command to wait for more input")
        if ready is not None:
            wait_until(lambda: ready.encode() in running.err, f"{ready!r} on stderr", timeout=60)
        if shown is not None and name != "cat":  # (cat buffers its output like jq does on a pipe)
            wait_until(lambda: bytes(running.out) == shown, f"{shown!r} on stdout")
        code = running.end(signum)
    finally:
        if running.proc.poll() is None:
            running.proc.kill()
    err = bytes(running.err).decode()
    assert code == (130 if signum == signal.SIGINT else 143), err
    assert "Traceback" not in err and "Error" not in err.replace("error:", ""), err
    if shown is not None:
        assert bytes(running.out) == shown  # what was read is rendered, once
    if summary is not None:
        assert summary in err, err
    if "-o" in args:  # a tool's output is whole or absent: never a half-written file
        out = Path(args[args.index("-o") + 1])
        if name == "record":
            assert out.read_bytes().count(b"\n") == 2  # header + the one frame, flushed
        else:
            assert not out.exists(), sorted(p.name for p in tmp_path.iterdir())
