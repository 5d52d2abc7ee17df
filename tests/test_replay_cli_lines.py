"""``replay``'s command line as a user meets it: every option that belongs to another
target is refused with one exact line and exit 2 before any file or socket is touched;
the deprecated spellings warn and still work; ``--live`` in a real terminal (tmux)."""

from __future__ import annotations

import pytest

from tests.conftest import assert_no_traceback, fixture, free_port, run_cli
from tests.test_live_table import PYTHON, SPAN, tmux  # noqa: F401 - tmux is a fixture

CAPTURE = str(fixture("span-activity.capture.ndjson"))
STDOUT_ONLY = "shapes the output on stdout; it does not apply with --serve/--to"

CASES = [
    # the connect timeout
    (["--to", "ws://127.0.0.1:1/x", "--connect-timeout", "soon"],
     "bad --connect-timeout 'soon': expected a duration of at least 0.1 s, such as 10, 90s, 1m"),
    (["--to", "ws://127.0.0.1:1/x", "--connect-timeout", "0.01"],
     "bad --connect-timeout '0.01': expected a duration of at least 0.1 s, such as 10, 90s, 1m"),
    # --live is this terminal
    (["--live", "--serve", "127.0.0.1:0"], "--live shows the replay on this terminal: it does not go with --serve or --to"),
    (["--live", "--to", "ws://127.0.0.1:1/x"], "--live shows the replay on this terminal: it does not go with --serve or --to"),
    # --serve only
    *[([flag], f"{flag} only applies with --serve") for flag in ("--allow-remote", "--socketio", "--shared")],
    # --serve --socketio only
    *[(args, f"{args[0]} only applies with --serve --socketio")
      for args in (["--namespace", "/x"], ["--eio", "3"], ["--event", "e"])],
    (["--serve", "127.0.0.1:0", "--namespace", "/x"], "--namespace only applies with --serve --socketio"),
    # --to only
    (["--insecure"], "--insecure only applies with --to"),
    (["--cacert", "ca.pem"], "--cacert only applies with --to"),
    (["--cert", "c.pem"], "--cert only applies with --to"),
    (["--key", "k.pem"], "--key only applies with --to"),
    (["--connect-timeout", "5"], "--connect-timeout only applies with --to"),
    # --to mqtt:// only
    *[(args, f"{args[0]} only applies with --to mqtt://…")
      for args in (["--qos", "1"], ["--mqtt-version", "5"], ["--default-topic", "a/b"], ["--topic-prefix", "t/"], ["--client-id", "c"])],
    (["--to", "http://127.0.0.1:1/x", "--qos", "1"], "--qos only applies with --to mqtt://…"),
    # the two targets
    (["--replay-disconnects"], "--replay-disconnects only applies with --serve or --to"),
    (["--to", "mqtt://127.0.0.1:1", "--replay-disconnects"], "--replay-disconnects does not apply to mqtt:// targets"),
    # output options have nothing to shape when the frames go elsewhere
    (["--serve", "127.0.0.1:0", "--color", "always"], f"--color {STDOUT_ONLY}"),
    (["--serve", "127.0.0.1:0", "--utc"], f"--utc {STDOUT_ONLY}"),
    (["--serve", "127.0.0.1:0", "--time", "received"], f"--time {STDOUT_ONLY}"),
    (["--to", "ws://127.0.0.1:1/x", "-v"], f"-v/--verbose {STDOUT_ONLY}"),
    # the server address
    (["--serve", "sio://127.0.0.1:0"], "bad --serve 'sio://127.0.0.1:0': the test server speaks plain ws:// (no TLS)"),
    (["--serve", "ws://127.0.0.1:0", "--socketio"],
     "bad --serve 'ws://127.0.0.1:0': the test server speaks plain sio:// (no TLS)"),
    (["--serve", "ws://[::1"], "bad --serve 'ws://[::1': expected [ws://]HOST:PORT[/path]"),
]


@pytest.mark.parametrize(("args", "said"), CASES, ids=[" ".join(a) for a, _ in CASES])
def test_options_of_another_target_are_one_exact_usage_error(args, said):
    result = run_cli("replay", CAPTURE, *args)
    assert_no_traceback(result)
    assert result.returncode == 2, result.stderr
    assert result.stderr.decode() == f"presencectl: error: {said}\n"
    assert result.stdout == b""


def test_the_old_timeout_spelling_warns_and_is_still_the_connect_timeout():
    port = free_port()
    result = run_cli("replay", CAPTURE, "--to", f"ws://127.0.0.1:{port}/x", "--timeout", "0.5")
    assert_no_traceback(result)
    assert result.returncode == 1
    assert result.stderr.decode().splitlines() == [
        "presencectl: warning: replay --timeout is deprecated and goes in the next release: "
        "use --connect-timeout (tail's --timeout is an idle timeout)",
        f"presencectl: error: cannot connect to ws://127.0.0.1:{port}/x: connection refused (is the server running?)",
    ]


def test_the_old_timeout_spelling_is_checked_like_the_new_one():
    result = run_cli("replay", CAPTURE, "--to", "ws://127.0.0.1:1/x", "--timeout", "never")
    assert result.returncode == 2
    assert result.stderr.decode().splitlines()[-1] == (
        "presencectl: error: bad --connect-timeout 'never': expected a duration of at least 0.1 s, such as 10, 90s, 1m"
    )


def test_replay_live_shows_the_table_and_ends_with_the_summary(tmux):  # noqa: F811
    tmux.start(f"{PYTHON} -m presencectl replay {SPAN} --speed max --live")
    screen = tmux.wait_for(lambda s: "EXIT=" in s, "the end")
    assert "EXIT=0" in screen, screen
    assert "Traceback" not in screen
    assert "presencectl: replayed 124 frames to stdout" in screen
    # the table's summary is left behind: the replayed stream's presence at its end
    assert "3: 0 online, 3 offline, 0 unknown at the end" in screen
    summary = {line.split()[0]: line.split() for line in screen.splitlines() if line.startswith("17kl")}
    assert summary["17kl14hm46h5aa"][1:6] == ["offline", "8", "8", "0", "13"]
    assert tmux.cursor_visible()


def test_replay_live_refuses_line_format_options_on_a_terminal(tmux):  # noqa: F811
    tmux.start(f"{PYTHON} -m presencectl replay {SPAN} --live -f json")
    screen = tmux.wait_for(lambda s: "EXIT=" in s, "the end")
    assert "EXIT=2" in screen
    assert "presencectl: error: --live shows a table, not event lines: drop -f/--format and -v" in screen
