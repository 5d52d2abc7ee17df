"""`presencectl stats` end to end, as a real subprocess."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT, assert_no_traceback, cli_env, fixture, require_binary, run_cli

SPAN = str(fixture("span-activity.capture.ndjson"))
ANSI = re.compile(rb"\x1b\[")

#: The documented schema (commands/stats.py docstring): changing a key must fail here.
REPORT_KEYS = [
    "schema", "settings", "events", "malformed", "untimed", "out_of_order", "no_subject",
    "failed_connects", "first", "last", "span_s", "rate_per_s", "markers", "presence", "counts",
    "gaps", "gap_count", "gap_total_s", "subjects",
    # added compatibly (issue 15): receive-time clock by default, device clocks judged apart
    "clock_skew",
]
SUBJECT_KEYS = [
    "subject", "dialect", "state", "state_since", "events", "first_seen", "last_seen", "last_type",
    "last_kind", "last_reason", "last_offline", "connects", "disconnects", "failed_connects", "errors",
    "changes", "flaps", "offline_s", "longest_offline_s", "longest_offline_start", "longest_silence_s",
    "skew_median_s", "skew_worst_s",  # added compatibly (issue 15)
]


def stats_json(*args: str, input: bytes | None = None) -> dict:
    result = run_cli("stats", *args, "--json", input=input)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert_no_traceback(result)
    return json.loads(result.stdout)


def by_subject(report: dict) -> dict[str, dict]:
    return {s["subject"]: s for s in report["subjects"]}


def test_json_schema_is_stable():
    report = stats_json(str(fixture("mixed.capture.ndjson.gz")))
    assert list(report) == REPORT_KEYS
    assert report["schema"] == "presencectl.stats/1"
    assert list(report["settings"]) == ["clock", "gap_s", "flap_window_s"]
    assert list(report["presence"]) == ["online", "offline", "unknown"]
    assert list(report["counts"]) == ["dialect", "kind", "type"]
    assert all(list(t) == ["dialect", "type", "kind", "count"] for t in report["counts"]["type"])
    assert all(list(g) == ["start", "end", "seconds"] for g in report["gaps"])
    assert report["subjects"] and all(list(s) == SUBJECT_KEYS for s in report["subjects"])
    assert set(report["counts"]["dialect"]) == {"cloudconnect", "aliyun", "span", "spaces", "navixy"}
    assert list(report["clock_skew"]) == ["events", "median_s", "limit_s", "outliers", "subjects"]


def test_by_schema_is_stable():
    report = stats_json(SPAN, "--by", "type")
    assert list(report) == ["schema", "by", "events", "rows"]
    assert report["schema"] == "presencectl.stats.by/1"
    assert all(list(r) == ["key", "count", "share", "dialect", "kind"] for r in report["rows"])
    for by, extra in (("dialect", []), ("kind", []), ("subject", ["dialect", "state"])):
        rows = stats_json(SPAN, "--by", by)["rows"]
        assert all(list(r) == ["key", "count", "share", *extra] for r in rows)


def test_span_capture_figures():
    report = stats_json(SPAN, "--clock", "event")  # the figures below are on device times
    assert (report["events"], report["malformed"], report["span_s"]) == (109, 0, 903.0)
    subjects = by_subject(report)
    assert report["subjects"][0]["subject"] == "17kl14hm46h5aa"
    assert (subjects["17kl14hm46h5aa"]["flaps"], subjects["17kl14hm46h4c2"]["flaps"]) == (13, 1)
    assert subjects["17kl14hm46h4d9"]["longest_silence_s"] == 220.0


def test_issue_example_jq_select_flappers():
    jq = require_binary("jq")
    command = f"{sys.executable} -m presencectl stats {SPAN} --json | {jq} -c '.subjects[] | select(.flaps > 3) | .subject'"
    result = subprocess.run(["bash", "-c", command], capture_output=True, env=cli_env(), cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().split() == ['"17kl14hm46h5aa"']


def test_issue_example_by_type_from_stdin_is_a_plain_table():
    result = run_cli("stats", "-", "--by", "type", input=fixture("events.ndjson").read_bytes())
    assert result.returncode == 0
    assert not ANSI.search(result.stdout)
    lines = result.stdout.decode().splitlines()
    assert lines[0] == "Events by type"
    assert lines[1].split() == ["type", "dialect", "kind", "events", "share"]
    assert "clientConnected     span     connect          1  16.7%" in lines


def test_piped_report_is_plain_text_tables():
    result = run_cli("stats", SPAN)
    assert result.returncode == 0
    assert_no_traceback(result)
    out = result.stdout.decode()
    assert not ANSI.search(result.stdout)
    assert all(line == line.rstrip() for line in out.splitlines())
    for heading in ("Events by dialect", "Events by type", "Busiest subjects", "Presence by subject, most flaps first"):
        assert heading in out
    row = next(line for line in out.splitlines() if line.startswith("17kl14hm46h5aa") and "offline" in line)
    # On receive times (the default for a capture): 59s offline (56s on device times).
    assert row.split()[:8] == ["17kl14hm46h5aa", "offline", "08:15:05", "8", "8", "0", "13", "59s"]
    assert result.stderr == b""


def test_colour_when_asked_and_never_by_default_when_piped():
    assert ANSI.search(run_cli("stats", SPAN, "--color", "always").stdout)
    assert not ANSI.search(run_cli("stats", SPAN, env=cli_env(FORCE_COLOR="")).stdout)


def test_gaps_table_and_options():
    report = stats_json(str(fixture("spaces.capture.ndjson")))
    assert [g["seconds"] for g in report["gaps"]] == [260.0, 120.0, 120.0]
    assert stats_json(str(fixture("spaces.capture.ndjson")), "--gap", "2m")["gap_count"] == 1
    text = run_cli("stats", str(fixture("spaces.capture.ndjson"))).stdout.decode()
    assert "Gaps longer than 1m" in text and "08:00:40  08:05:00      4m20s" in text


def test_flap_window_option():
    subjects = by_subject(stats_json(SPAN, "--flap-window", "5s", "--clock", "event"))
    assert subjects["17kl14hm46h5aa"]["flaps"] == 5  # changes 3 to 5 s apart: 06:45, 06:50, 07:49, 08:14, 08:19
    assert stats_json(SPAN, "--flap-window", "5s")["settings"]["flap_window_s"] == 5.0


def test_clock_received_uses_capture_times():
    by_event = stats_json(str(fixture("cloudconnect.capture.ndjson")), "--clock", "event")
    by_received = stats_json(str(fixture("cloudconnect.capture.ndjson")), "--clock", "received")
    assert by_event["first"].startswith("2013-06-28")  # the vendor's sample batch at the end
    assert by_received["first"].startswith("2026-03-12") and by_received["out_of_order"] == 0


def test_filters_apply():
    only = stats_json(SPAN, "-s", "17kl14hm46h5aa")
    assert [s["subject"] for s in only["subjects"]] == ["17kl14hm46h5aa"]
    connects = stats_json(SPAN, "-t", "clientConnected")
    assert connects["events"] == 11 and connects["counts"]["kind"] == {"connect": 11}
    assert stats_json(SPAN, "-n", "5")["events"] == 5
    assert stats_json(SPAN, "--keepalive")["events"] == 124
    assert list(stats_json(str(fixture("mixed.capture.ndjson.gz")), "--dialect", "generic")["counts"]["dialect"]) == ["generic"]


def test_top_limits_subjects_and_rows():
    assert len(stats_json(SPAN, "--top", "1")["subjects"]) == 1
    assert len(stats_json(SPAN, "--top", "0")["subjects"]) == 3
    assert len(stats_json(SPAN, "--by", "type", "--top", "2")["rows"]) == 2
    text = run_cli("stats", str(fixture("mixed.capture.ndjson.gz")), "--top", "2").stdout.decode()
    assert "(top 2 of 15; --top 0 for all)" in text


def test_stdin_and_gzip():
    data = fixture("mixed.capture.ndjson.gz").read_bytes()
    assert stats_json("-", input=data)["events"] == stats_json(str(fixture("mixed.capture.ndjson.gz")))["events"]
    assert stats_json(input=fixture("events.ndjson").read_bytes())["events"] == 6


def test_malformed_lines_are_counted_not_fatal():
    report = stats_json(str(fixture("malformed.capture.ndjson")))
    assert report["malformed"] == 8
    text = run_cli("stats", str(fixture("malformed.capture.ndjson"))).stdout.decode()
    assert "13 (8 malformed)" in text


def test_broken_ndjson_lines():
    data = b'{"event":"clientConnected","deviceId":"d1","collectionId":"c"}\n{"event": \nnot json at all\n\xff\xfe\n'
    result = run_cli("stats", "-", "--json", input=data)
    assert result.returncode == 0
    report = json.loads(result.stdout)
    assert (report["events"], report["malformed"]) == (4, 3)


def test_truncated_capture_warns_and_reports():
    result = run_cli("stats", str(fixture("truncated.capture.ndjson")), "--json")
    assert result.returncode == 0
    assert b"cut short" in result.stderr
    assert json.loads(result.stdout)["malformed"] == 8


def test_hostile_subject_is_escaped_in_tables():
    result = run_cli("stats", str(fixture("malformed.capture.ndjson")), "--color", "always")
    assert b"\x1b]0;owned" not in result.stdout
    assert b"d1\\x1b]0;owned\\x07" in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["no-such-file.ndjson"], b"no-such-file.ndjson: no such file"),
        ([SPAN, "--gap", "soon"], b"bad --gap 'soon'"),
        ([SPAN, "--gap", "0"], b"bad --gap '0'"),
        ([SPAN, "--flap-window", "-5m"], b"bad --flap-window"),
        ([SPAN, "-w", "data.bytes>"], b"error:"),
        ([SPAN, "--dialect", "nope"], b"unknown dialect"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args, message):
    result = run_cli("stats", *args)
    assert result.returncode == 2, result.stderr
    assert_no_traceback(result)
    assert message in result.stderr
    assert result.stdout == b""


def test_bad_choice_is_a_usage_error():
    result = run_cli("stats", SPAN, "--by", "colour")
    assert result.returncode == 2
    assert_no_traceback(result)


def test_help_documents_the_schema():
    result = run_cli("stats", "--help", env=cli_env(COLUMNS="200"))
    assert result.returncode == 0
    out = result.stdout.decode()
    for word in ("presencectl.stats/1", "subjects", "flaps", "longest_offline_s", "Examples", "--flap-window", "--by"):
        assert word in out
    assert ".subjects[] | select(.flaps > 3)" in out


@pytest.mark.parametrize("name", ["mixed.capture.ndjson.gz", "truncated.capture.ndjson", "events.ndjson",
                                  "navixy.capture.ndjson"])
def test_parallel_read_gives_the_same_report(name):
    """Big files are decoded by worker processes; the figures must not change."""
    serial = run_cli("stats", str(fixture(name)), "--json", env=cli_env(PRESENCECTL_JOBS="1"))
    parallel = run_cli("stats", str(fixture(name)), "--json", env=cli_env(PRESENCECTL_JOBS="2"))
    assert parallel.returncode == serial.returncode == 0
    assert_no_traceback(parallel)
    assert json.loads(parallel.stdout) == json.loads(serial.stdout)
    assert parallel.stderr == serial.stderr


def test_parallel_read_of_a_file_of_many_blocks(tmp_path):
    # ~3 MB: several 1 MB blocks, so state carried across block boundaries matters.
    lines = fixture("events.ndjson").read_bytes().splitlines()
    path = tmp_path / "big.ndjson"
    with path.open("wb") as out:
        for n in range(5000):
            for line in lines:
                out.write(line.replace(b"17kl14hm46h4c2", b"dev%d" % (n % 7)).replace(b"10284", b"%d" % (n % 5)) + b"\n")
            if n % 1000 == 0:
                out.write(b"not json\n")
    serial = run_cli("stats", str(path), "--json", env=cli_env(PRESENCECTL_JOBS="1"))
    parallel = run_cli("stats", str(path), "--json", env=cli_env(PRESENCECTL_JOBS="2"))
    assert parallel.returncode == serial.returncode == 0
    report = json.loads(parallel.stdout)
    assert report == json.loads(serial.stdout)
    assert (report["events"], report["malformed"]) == (30005, 5)
    assert by_subject(report)["dev0"]["connects"] == 715
