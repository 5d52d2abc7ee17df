"""How the process ends, as a user sees it: usage errors name the command whose help to
read and suggest close option names; a closed stdout is a quiet exit 0.

Complements ``test_usage_errors.py`` (every command's error style) with the exact line.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT, assert_no_traceback, cli_env, fixture, run_cli

SPAN = str(fixture("span-activity.capture.ndjson"))


def error_line(*argv: str) -> str:
    result = run_cli(*argv)
    assert_no_traceback(result)
    assert result.returncode == 2, result.stderr
    assert result.stdout == b""
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


# An option given last without its value: Click raises that error without a
# context, and the hint used to point at 'presencectl --help' whatever the command.
@pytest.mark.parametrize(
    ("argv", "option", "command"),
    [
        (("cat", SPAN, "-n"), "-n", "cat"),
        (("stats", SPAN, "--by"), "--by", "stats"),
        (("replay", SPAN, "--speed"), "--speed", "replay"),
        (("tail", "ws://127.0.0.1:9/x", "-t"), "-t", "tail"),
        (("timeline", SPAN, "--flap-window"), "--flap-window", "timeline"),
        (("profiles", "show", "x", "--config"), "--config", "profiles show"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_an_option_without_its_value_points_at_its_commands_help(argv, option, command):
    assert error_line(*argv) == (
        f"presencectl: error: option '{option}' requires an argument; see 'presencectl {command} --help'"
    )


def test_an_unknown_option_before_any_command_points_at_the_top_help():
    assert error_line("-n") == "presencectl: error: no such option -n; see 'presencectl --help'"


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (("cat", SPAN, "--colour", "never"), "no such option --colour (did you mean --color?); see 'presencectl cat --help'"),
        (("replay", SPAN, "--sped", "2"),
         "no such option --sped (did you mean --shared or --speed or --type?); see 'presencectl replay --help'"),
        (("stats", SPAN, "--zzzz"), "no such option --zzzz; see 'presencectl stats --help'"),
    ],
)
def test_a_mistyped_option_suggests_at_most_three_close_names(argv, said):
    assert error_line(*argv) == f"presencectl: error: {said}"


def test_a_bad_value_names_the_option_and_the_rule():
    assert error_line("replay", SPAN, "--loop", "-1") == (
        "presencectl: error: bad --loop: input should be greater than or equal to 0; see 'presencectl replay --help'"
    )


def test_a_reader_that_goes_away_is_a_quiet_exit_0():
    # `presencectl cat BIG | head -1`: the reader closes after one line.
    proc = subprocess.Popen(
        [sys.executable, "-m", "presencectl", "cat", str(fixture("mixed.capture.ndjson.gz")), "-f", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env(), cwd=ROOT,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(60) == 0
    assert first.startswith(b"{")
    assert err == b""


def test_run_called_by_a_script_without_a_stdout_probe_ends_the_same_way():
    # presencectl.cli.main.run() is what the entry point calls; a script embedding the
    # app calls it with no probe of its own and gets the same line and exit code.
    script = "import sys; sys.argv = ['presencectl', 'replay']; from presencectl.cli.main import run; run()"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, env=cli_env(), cwd=ROOT, timeout=60)
    assert_no_traceback(result)
    assert result.returncode == 2
    assert result.stderr.decode() == "presencectl: error: missing argument CAPTURE; see 'presencectl replay --help'\n"
