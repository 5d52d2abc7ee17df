"""``presencectl cat`` and friends end to end: the real CLI as a subprocess."""

from __future__ import annotations

import gzip
import json

import pytest

from tests.conftest import (
    FIXTURES,
    assert_no_traceback,
    cli_env,
    fixture,
    pipe_unread,
    run_cli,
    wait_until,
)


def lines(result) -> list[dict]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_version_and_help():
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.startswith(b"presencectl ")
    result = run_cli("--help")
    assert result.returncode == 0
    for command in (b"cat", b"dialects"):
        assert command in result.stdout


def test_dialects_lists_every_dialect_and_kind():
    result = run_cli("dialects")
    assert result.returncode == 0
    for name in ("cloudconnect", "aliyun", "span", "spaces", "navixy", "generic", "firmwareStateChange"):
        assert name.encode() in result.stdout
    objs = lines(run_cli("dialects", "--json"))
    assert [o["name"] for o in objs] == ["cloudconnect", "aliyun", "span", "spaces", "navixy", "generic"]


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.capture.ndjson*")))
def test_every_fixture_renders_in_every_format(name):
    for fmt in ("pretty", "json", "raw", "compact"):
        result = run_cli("cat", str(fixture(name)), "-f", fmt, "--color", "always", "-v")
        assert result.returncode == 0, result.stderr
        assert_no_traceback(result)
        assert result.stdout


def test_json_is_the_default_when_piped_and_every_dialect_shows_up():
    events = lines(run_cli("cat", str(fixture("mixed.capture.ndjson.gz"))))
    assert {e["dialect"] for e in events} == {"cloudconnect", "aliyun", "span", "spaces", "navixy"}
    aliyun = [e for e in events if e["dialect"] == "aliyun"]
    assert all(e["topic"].startswith("/sys/X5eCzh6fEH7/") for e in aliyun)
    assert all(e["received"] for e in events)


def test_issue_examples():
    result = run_cli("cat", "-", "--type", "client*", "--format", "json", input=fixture("events.ndjson").read_bytes())
    assert [e["subject"] for e in lines(result)] == ["17kl14hm46h4c2", "17kl14hm46h4c2"]
    result = run_cli("cat", str(fixture("mixed.capture.ndjson.gz")), "-w", "data.transport=udp", "-s", "17kl*", "-v", "-f", "pretty")
    assert result.returncode == 0
    assert b"upstreamMessage" in result.stdout and b'"transport": "udp"' in result.stdout
    assert b"coap" not in result.stdout


def test_limit_stops_early_with_exit_0():
    result = run_cli("cat", str(fixture("span-activity.capture.ndjson")), "-n", "3")
    assert result.returncode == 0 and len(result.stdout.splitlines()) == 3


def test_keepalive_flag():
    base = lines(run_cli("cat", str(fixture("span-activity.capture.ndjson")), "-t", "keepalive"))
    shown = lines(run_cli("cat", str(fixture("span-activity.capture.ndjson")), "-t", "keepalive", "--keepalive"))
    assert base == [] and len(shown) == 15


def test_colour_rules():
    path = str(fixture("span-activity.capture.ndjson"))
    plain = run_cli("cat", path, "-f", "pretty", "-n", "1")
    assert b"\x1b[" not in plain.stdout
    forced = run_cli("cat", path, "-f", "pretty", "-n", "1", env=cli_env(FORCE_COLOR="1"))
    assert b"\x1b[" in forced.stdout
    nocolor = run_cli("cat", path, "-f", "pretty", "-n", "1", "--color", "auto", env=cli_env(NO_COLOR="1", FORCE_COLOR="1"))
    assert b"\x1b[" not in nocolor.stdout
    always = run_cli("cat", path, "-f", "pretty", "-n", "1", "--color", "always", env=cli_env(NO_COLOR="1"))
    assert b"\x1b[" in always.stdout


def test_utc_and_local_times():
    path = str(fixture("span-activity.capture.ndjson"))
    utc = run_cli("cat", path, "-f", "compact", "-n", "1", "--utc", env=cli_env(TZ="Asia/Tokyo"))
    local = run_cli("cat", path, "-f", "compact", "-n", "1", "--local", env=cli_env(TZ="Asia/Tokyo"))
    assert utc.stdout.startswith(b"2026-03-12 08:00:02")
    assert local.stdout.startswith(b"2026-03-12 17:00:02")


def test_raw_round_trips_payload_bytes(tmp_path):
    result = run_cli("cat", str(fixture("malformed.capture.ndjson")), "-f", "raw")
    assert b"123456789012345678901234567890" in result.stdout
    assert b"\xff\xfe not utf-8 \x80" in result.stdout


def test_gzipped_stdin():
    data = gzip.compress(fixture("events.ndjson").read_bytes())
    result = run_cli("cat", "-", "-f", "compact", "--time", "none", input=data)
    assert result.stdout.splitlines()[0] == b"span clientConnected 17kl14hm46h4c2 id=certificate"


def test_closed_pipe_ends_quietly():
    import subprocess
    import sys

    cmd = f"{sys.executable} -m presencectl cat {fixture('navixy.capture.ndjson')} {fixture('span-activity.capture.ndjson')} -f json | head -c 10"
    result = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, env=cli_env(), timeout=60)
    assert b"Traceback" not in result.stderr and b"Broken pipe" not in result.stderr, result.stderr


# ---------------------------------------------------------------- bad input


def cat_stdin(data: bytes, *args: str):
    result = run_cli("cat", "-", *args, input=data)
    assert_no_traceback(result)
    return result


def test_malformed_json_line_is_shown_and_counted():
    result = cat_stdin(b'{"event":"x",\n{"deviceId":"d","collectionId":"c","event":"clientConnected"}\n')
    out = lines(result)
    assert result.returncode == 0
    assert out[0]["dialect"] is None and out[0]["summary"].startswith("invalid JSON")
    assert out[1]["type"] == "clientConnected"
    assert b"1 of 2 payloads could not be parsed" in result.stderr


def test_scalars_and_arrays_of_non_objects():
    out = lines(cat_stdin(b'"a string"\n12\n[1, {"type":"connect","asset":"a","connection_id":1}]\n'))
    assert [e["summary"] for e in out] == [
        "JSON value is a string, not an object",
        "JSON value is a number, not an object",
        "batch element 0 is a number, not an object",
        "connection=1",
    ]


def test_invalid_utf8_line():
    out = lines(cat_stdin(b'{"deviceId":"\xff"}\n'))
    assert out[0]["summary"] == "invalid UTF-8 at byte 13" and out[0]["payload"] == '{"deviceId":"\\xff"}'
    pretty = cat_stdin(b'{"deviceId":"\xff"}\n', "-f", "pretty")
    assert b"\\xff" in pretty.stdout


def test_empty_lines_are_skipped():
    result = cat_stdin(b'\n\n   \n{"event":"a","deviceId":"d","collectionId":"c"}\n\n')
    assert len(lines(result)) == 1 and result.stderr == b""


def test_a_5_mb_line():
    big = b'{"event":"upstreamMessage","deviceId":"d","collectionId":"c","data":{"blob":"' + b"x" * 5_000_000 + b'"}}\n'
    result = cat_stdin(big, "-f", "pretty")
    assert result.returncode == 0 and len(result.stdout) < 2000
    out = lines(cat_stdin(big))
    assert len(out[0]["payload"]["data"]["blob"]) == 5_000_000


def test_terminal_escapes_and_markup_in_fields():
    line = b'{"event":"upstreamMessage","deviceId":"d\\u001b]0;owned\\u0007","collectionId":"c","data":{"m":"[red]x[/red]"}}\n'
    for fmt in ("pretty", "compact"):
        result = cat_stdin(line, "-f", fmt, "--color", "always", "-v")
        assert b"\x1b]0;owned\x07" not in result.stdout
        assert b"\\x1b]0;owned\\x07" in result.stdout
        assert b"[red]x[/red]" in result.stdout


def test_capture_with_truncated_last_line():
    result = run_cli("cat", str(fixture("truncated.capture.ndjson")), "-f", "compact")
    assert result.returncode == 0
    assert b"last line is cut short" in result.stderr
    assert len(result.stdout.splitlines()) == 12  # all 13 events but the cut one
    assert_no_traceback(result)


def test_gzip_file_cut_short(tmp_path):
    data = fixture("mixed.capture.ndjson.gz").read_bytes()
    cut = tmp_path / "cut.capture.ndjson.gz"
    cut.write_bytes(data[: len(data) // 2])
    result = run_cli("cat", str(cut), "-f", "compact")
    assert_no_traceback(result)
    assert result.returncode == 0
    assert b"ends early or is corrupt" in result.stderr
    assert len(result.stdout.splitlines()) > 10


def test_missing_file_is_a_usage_error():
    result = run_cli("cat", "/nonexistent/capture.ndjson")
    assert result.returncode == 2
    assert result.stderr.strip() == b"presencectl: error: /nonexistent/capture.ndjson: no such file"


@pytest.mark.parametrize(
    "args, message",
    [
        (["-w", "data.transport"], b"bad --where 'data.transport': no operator"),
        (["-w", "x~[a"], b"bad --where 'x~[a': bad regex"),
        (["--kind", "purple"], b"bad --kind 'purple'"),
        (["--since", "last tuesday-ish"], b"bad --since"),
        (["--dialect", "nope"], b"unknown dialect 'nope'"),
        (["--assume-tz", "Mars/Base"], b"bad --assume-tz"),
        (["-t", "!"], b"bad --type '!'"),
    ],
)
def test_bad_filters_exit_2_with_one_line(args, message):
    result = run_cli("cat", str(fixture("events.ndjson")), *args)
    assert result.returncode == 2
    assert_no_traceback(result)
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == b""


def test_capture_of_an_unknown_version(tmp_path):
    path = tmp_path / "future.capture.ndjson"
    path.write_text('{"presencectl": 9, "source": null}\n')
    result = run_cli("cat", str(path))
    assert result.returncode == 1
    assert b"capture format version 9 is not supported" in result.stderr


def test_interrupt_exits_130():
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "presencectl", "cat", "-"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env(),
    )
    proc.stdin.write(b'{"event":"a","deviceId":"d","collectionId":"c"}\n')
    proc.stdin.flush()
    # The line was read: the CLI is running (Python's SIGINT handler is in
    # place long before) and blocks on stdin for more.
    wait_until(lambda: pipe_unread(proc.stdin.fileno()) == 0, "cat to read its stdin")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130
    assert b"Traceback" not in err
