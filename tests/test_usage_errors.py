"""One error style for every usage error: ``presencectl: error: …`` with a hint, exit 2.

The errors Typer/Click find (unknown option, bad value, missing argument)
used to be a box; the ones the commands find, one line. Both are one line now.
"""

from __future__ import annotations

import pytest

from tests.conftest import assert_no_traceback, run_cli

SPAN = "fixtures/span-activity.capture.ndjson"

# (argv, what the line says after "presencectl: error: ")
CASES = [
    # unknown option, every command
    *[((*cmd.split(), "--bogus"), "no such option --bogus") for cmd in
      ("cat", "completions bash", "demo", "dialects", "man", "profiles", "profiles show x", "record ws://h/x -o x",
       "replay x", "stats", "tail x", "timeline x")],
    (("--bogus",), "no such option --bogus"),
    (("nope",), "no such command 'nope'"),
    # missing argument / option
    (("tail",), "missing argument SOURCE"),
    (("record", "ws://h/x"), "missing option -o/--output"),
    (("replay",), "missing argument CAPTURE"),
    (("profiles", "show"), "missing argument NAME"),
    (("completions",), "missing argument bash|zsh|fish"),
    (("completions", "tcsh"), "bad bash|zsh|fish:"),
    # an option without its value
    (("cat", SPAN, "-n"), "option '-n' requires an argument"),
    # bad values found by Typer...
    (("demo", "--speed", "0"), "bad --speed:"),
    (("cat", SPAN, "--format", "nope"), "bad --format: 'nope' is not one of"),
    (("cat", SPAN, "-n", "0"), "bad --limit:"),
    (("stats", SPAN, "--by", "colour"), "bad --by:"),
    (("tail", "x", "--qos", "5"), "bad --qos:"),
    (("replay", SPAN, "--loop", "x"), "bad --loop:"),
    # ...and by the commands
    (("replay", SPAN, "--speed", "0"), "bad --speed '0'"),
    (("tail", "ws://127.0.0.1:9/x", "--timeout", "soon"), "bad --timeout 'soon'"),
    (("cat", SPAN, "-w", "=="), "bad --where '=='"),
]


@pytest.mark.parametrize(("argv", "said"), CASES, ids=[" ".join(a) for a, _ in CASES])
def test_every_usage_error_is_one_line_and_exit_2(argv, said, tmp_path):
    result = run_cli(*argv)
    assert_no_traceback(result)
    assert result.returncode == 2, result.stderr
    err = result.stderr.decode()
    assert err.count("\n") == 1, err
    assert err.startswith(f"presencectl: error: {said}"), err
    assert "╭" not in err and "Usage:" not in err and result.stdout == b""


@pytest.mark.parametrize(("argv", "command"), [(("demo", "--speed", "0"), "demo"), (("tail", "--bogus", "x"), "tail"),
                                               (("profiles", "show"), "profiles show"), (("--bogus",), "")])
def test_typer_errors_say_where_to_look(argv, command):
    err = run_cli(*argv).stderr.decode().rstrip("\n")
    assert err.endswith(f"; see 'presencectl{' ' + command if command else ''} --help'")


def test_no_command_shows_the_help_as_a_usage_error():
    result = run_cli()
    assert result.returncode == 2
    assert result.stderr.decode().startswith("Usage: presencectl [OPTIONS] COMMAND [ARGS]...")
