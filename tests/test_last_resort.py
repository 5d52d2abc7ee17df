"""How the process ends when something unexpected escapes a command (SPEC §5).

A bug cannot be provoked from outside by definition, so these tests add one:
a child process imports the real app, registers a test-only command that
raises what it is told to, and hands control to the real
:func:`presencectl.cli.main.run` (the function ``presencectl`` itself ends
in). Everything else is the shipped code path: one line on stderr and the
right exit code, or the trace with ``--traceback``, or a quiet 0 when
stdout's reader has gone.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT, cli_env

CHILD = r"""
import sys
import typer
from presencectl.cli import main, pipes
from presencectl.cli.app import app

def boom(kind: str, path: str = "") -> None:
    if kind in ("term-after-create", "int-after-create"):
        # A signal that lands right after the command made its output, before
        # any clean-up of its own could be set up: held pending, then let go.
        import os, signal
        from presencectl.cli.app import guarded
        from presencectl.engine.captools import CaptureOutput
        from presencectl.ui.console import Environment
        signum = signal.SIGTERM if kind == "term-after-create" else signal.SIGINT

        def body():
            signal.pthread_sigmask(signal.SIG_BLOCK, {signum})
            os.kill(os.getpid(), signum)
            CaptureOutput(path, force=True, inputs=[]).write(b"new\n")
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signum})
            raise AssertionError("the signal did not end the command")

        guarded(Environment(), body)
    if kind == "runtime":
        raise RuntimeError("the bug")
    if kind == "click":
        from typer._click.exceptions import ClickException
        raise ClickException("a click failure")
    if kind == "abort":
        raise typer.Abort()
    if kind == "interrupt":
        raise KeyboardInterrupt
    if kind == "exit-text":
        sys.exit("a message as exit code")
    if kind == "exit-none":
        sys.exit(None)
    if kind == "brokenpipe":
        raise BrokenPipeError
    if kind == "write-then-runtime":
        for _ in range(10_000):
            sys.stdout.write("x" * 100 + "\n")
        sys.stdout.flush()
        raise RuntimeError("after the reader left")
    raise AssertionError(kind)

app.command("boom")(boom)
main.run(pipes.stdout_probe())
"""


def run_child(*args: str, stdout=subprocess.PIPE) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", CHILD, *args],
        stdout=stdout,
        stderr=subprocess.PIPE,
        env=cli_env(),
        cwd=ROOT,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("kind", "code", "stderr"),
    [
        ("runtime", 1, "presencectl: error: internal error: RuntimeError: the bug (run with --traceback for details)\n"),
        ("click", 1, "presencectl: error: a click failure\n"),
        ("abort", 1, ""),
        ("interrupt", 130, ""),
        ("exit-text", 1, "a message as exit code\n"),
        ("exit-none", 0, ""),
        ("brokenpipe", 0, ""),
    ],
)
def test_an_unexpected_exception_is_one_line_and_an_exit_code(kind, code, stderr):
    result = run_child("boom", kind)
    assert (result.returncode, result.stderr.decode()) == (code, stderr)
    assert result.stdout == b""


def test_traceback_asks_for_the_trace():
    result = run_child("--traceback", "boom", "runtime")
    text = result.stderr.decode()
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in text and text.rstrip().endswith("RuntimeError: the bug")
    assert "internal error" not in text


def test_a_bug_after_the_reader_left_is_a_quiet_exit_0():
    """``presencectl … | head -1``: whatever fails after the reader went, the pipeline succeeded."""
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, "boom", "write-then-runtime"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env(),
        cwd=ROOT,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline() == b"x" * 100 + b"\n"
    proc.stdout.close()  # the reader goes (like `head -1`)
    stderr = proc.stderr.read()
    assert proc.wait(60) == 0
    assert stderr == b""


def test_a_usage_error_without_a_context_names_the_command_path():
    """Click raises some usage errors before a context exists; the hint still names the command typed."""
    import typer
    from typer._click.exceptions import UsageError

    from presencectl.cli.main import app, usage_message

    command = typer.main.get_command(app)
    argv = sys.argv
    try:
        sys.argv = ["presencectl", "profiles", "show", "x", "-n"]
        assert usage_message(UsageError("Got unexpected extra argument"), command) == (
            "got unexpected extra argument; see 'presencectl profiles show --help'"
        )
        sys.argv = ["presencectl", "no-such-command"]
        assert usage_message(UsageError("Nope"), command) == "nope; see 'presencectl --help'"
    finally:
        sys.argv = argv


@pytest.mark.parametrize(("kind", "code"), [("term-after-create", 143), ("int-after-create", 130)])
@pytest.mark.parametrize("existing", [True, False], ids=["replacing", "new"])
def test_a_signal_right_after_an_output_is_made_leaves_nothing_behind(tmp_path, kind, code, existing):
    """SPEC §5.1: the old file untouched, no temporary file, no half-made new file."""
    out = tmp_path / "out.capture.ndjson"
    if existing:
        out.write_bytes(b"old\n")
    result = run_child("boom", kind, "--path", str(out))
    assert result.returncode == code, result.stderr
    assert b"Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == (["out.capture.ndjson"] if existing else [])
    if existing:
        assert out.read_bytes() == b"old\n"
