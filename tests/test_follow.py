"""``tail FILE --follow`` end to end: a real CLI subprocess while this test
appends to, rotates and truncates the file, like a logger and logrotate."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from tests.conftest import assert_no_traceback, fixture, run_cli
from tests.live_support import Cli, capture_lines


def line(device: str, event: str = "upstreamMessage") -> str:
    return json.dumps({"event": event, "deviceId": device, "collectionId": "c"}) + "\n"


def append(path: Path, text: str) -> None:
    with path.open("a") as fh:
        fh.write(text)


def subjects(cli: Cli) -> list[str]:
    return [json.loads(x)["subject"] for x in cli.stdout.splitlines()]


def test_appended_rotated_and_truncated_lines_are_all_shown_and_recorded(tmp_path):
    log = tmp_path / "devices.ndjson"
    rec = tmp_path / "rec.capture.ndjson"
    log.write_text(line("d1"))
    with Cli("tail", str(log), "--follow", "-f", "json", "--record", str(rec)) as tail:
        tail.wait_stdout_lines(1)
        append(log, line("d2"))
        tail.wait_stdout_lines(2)
        append(log, '{"event":"upstreamMessage","deviceId":"d3",')  # half a line: wait for the rest
        tail.wait_stdout_lines(2)
        append(log, '"collectionId":"c"}\n')
        tail.wait_stdout_lines(3)
        # logrotate: rename away, a last line lands in the old file, a new file appears
        log.rename(tmp_path / "devices.ndjson.1")
        append(tmp_path / "devices.ndjson.1", line("d4"))
        log.write_text(line("d5"))
        tail.wait_stdout_lines(5)
        tail.wait_stderr("rotated")
        # copytruncate / `: > log`: the file shrinks, read again from 0
        log.write_text("")
        tail.wait_stderr("truncated")
        append(log, line("d6"))
        tail.wait_stdout_lines(6)
        tail.interrupt()
        assert tail.finish() == 130, tail.stderr
    assert subjects(tail) == ["d1", "d2", "d3", "d4", "d5", "d6"]
    assert "6 frames, 6 events" in tail.stderr and f"recorded to {rec}" in tail.stderr
    assert "Traceback" not in tail.stderr
    records = capture_lines(rec)
    assert records[0]["presencectl"] == 1 and records[0]["transport"] == "file"
    frames = records[1:]
    assert [json.loads(r["text"])["deviceId"] for r in frames] == ["d1", "d2", "d3", "d4", "d5", "d6"]
    assert all(isinstance(r["t"], float) for r in frames)  # receive times: when each line was read
    # The recorded capture reads back the same.
    again = run_cli("cat", str(rec), "-f", "json")
    assert [json.loads(x)["subject"] for x in again.stdout.splitlines()] == subjects(tail)


def test_filters_and_limit_end_a_wait(tmp_path):
    log = tmp_path / "devices.ndjson"
    log.write_text(line("d1") + line("dev42", "clientConnected"))
    with Cli("tail", str(log), "-F", "-s", "dev42", "-n", "2", "-f", "json") as tail:
        tail.wait_stdout_lines(1)
        for _ in range(3):
            append(log, line("d1"))
        append(log, line("dev42", "clientDisconnected"))
        assert tail.finish() == 0, tail.stderr
    assert [json.loads(x)["type"] for x in tail.stdout.splitlines()] == ["clientConnected", "clientDisconnected"]


def test_timeout_ends_after_no_new_line(tmp_path):
    log = tmp_path / "devices.ndjson"
    log.write_text(line("d1"))
    with Cli("tail", str(log), "-F", "--timeout", "1", "-f", "json") as tail:
        tail.wait_stdout_lines(1)
        append(log, line("d2"))
        assert tail.finish() == 0, tail.stderr
    assert subjects(tail) == ["d1", "d2"]
    assert "nothing new for 1 s" in tail.stderr and "2 frames, 2 events" in tail.stderr


def test_a_growing_capture_keeps_its_times_and_a_rotated_header_is_skipped(tmp_path):
    cap = tmp_path / "live.capture.ndjson"
    records = fixture("span-activity.capture.ndjson").read_text().splitlines(keepends=True)
    header, body = records[0], [r for r in records[1:] if '"text"' in r]
    cap.write_text(header + body[0])
    with Cli("tail", str(cap), "-F", "-f", "json", "--keepalive") as tail:
        tail.wait_stdout_lines(1)
        append(cap, body[1])
        tail.wait_stdout_lines(2)
        cap.rename(tmp_path / "old.capture.ndjson")
        cap.write_text(header + body[2])
        tail.wait_stdout_lines(3)
        tail.interrupt()
        assert tail.finish() == 130, tail.stderr
    got = [json.loads(x) for x in tail.stdout.splitlines()]
    assert len(got) == 3 and all(e["dialect"] is not None for e in got)  # no header shown as a bad line
    assert [e["received"] for e in got] == [
        run_cli("cat", str(fixture("span-activity.capture.ndjson")), "-f", "json", "--keepalive")
        .stdout.splitlines()[i].decode().split('"received":"')[1].split('"')[0]
        for i in range(3)
    ]


def test_live_table_and_quiet_record_follow_too(tmp_path):
    log = tmp_path / "devices.ndjson"
    rec = tmp_path / "r.capture.ndjson.gz"
    log.write_text(line("d1"))
    with Cli("tail", str(log), "-F", "-q", "--record", str(rec), "--timeout", "1") as tail:
        append(log, line("d2"))
        assert tail.finish() == 0, tail.stderr
    assert len(capture_lines(rec)) == 3


@pytest.mark.parametrize(
    "source, words",
    [
        ("ws://127.0.0.1:9/x", "is a live stream already"),
        ("mqtt://127.0.0.1:9", "is a live stream already"),
        ("sio://127.0.0.1:9", "is a live stream already"),
        ("-", "stdin is read as it arrives already"),
    ],
)
def test_follow_with_a_non_file_source_is_a_usage_error(source, words):
    result = run_cli("tail", source, "--follow", timeout=30)
    assert_no_traceback(result)
    err = result.stderr.decode()
    assert result.returncode == 2, err
    assert err.startswith("presencectl: error: --follow/-F is for a file that grows") and words in err
    assert err.count("\n") == 1


def test_follow_errors(tmp_path):
    gz = tmp_path / "x.ndjson.gz"
    gz.write_bytes(gzip.compress(line("d1").encode()))
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for args, words in (
        ([str(gz)], "is gzip-compressed"),
        ([str(tmp_path / "missing.ndjson")], "no such file"),
        ([str(tmp_path), ], "is a directory"),
        ([str(fifo)], "is not one"),
    ):
        result = run_cli("tail", *args, "-F", timeout=30)
        assert_no_traceback(result)
        assert result.returncode == 2, result.stderr
        assert words in result.stderr.decode()
    # --timeout without --follow on a file is still refused.
    plain = tmp_path / "p.ndjson"
    plain.write_text(line("d1"))
    assert run_cli("tail", str(plain), "--timeout", "1").returncode == 2


def test_help_documents_follow():
    out = " ".join(run_cli("tail", "--help").stdout.decode().split())
    assert "-F" in out and "--follow" in out and "tail -F" in out


def test_sigterm_ends_with_143_and_the_summary(tmp_path):
    import signal

    log = tmp_path / "devices.ndjson"
    log.write_text(line("d1"))
    with Cli("tail", str(log), "-F", "-f", "json") as tail:
        tail.wait_stdout_lines(1)
        tail.proc.send_signal(signal.SIGTERM)
        assert tail.finish() == 143, tail.stderr
    assert "1 frame, 1 event" in tail.stderr


def test_follower_by_name_with_a_fake_clock(tmp_path):
    """The follower alone, deterministic: each idle poll runs the next file operation."""
    from presencectl.engine.follow import Follower

    path = tmp_path / "f.ndjson"
    path.write_bytes(b"a\n")
    now = [0.0]

    def rotate() -> None:
        path.rename(tmp_path / "f.ndjson.1")
        with (tmp_path / "f.ndjson.1").open("ab") as fh:
            fh.write(b"last-in-old")  # no newline: still delivered, not lost
        path.write_bytes(b"c\n")

    actions = iter([
        lambda: append(path, "b\npart"),
        lambda: append(path, "ial\n"),
        rotate,
        lambda: path.write_bytes(b""),
        lambda: append(path, "d\n"),
    ])

    def sleep(seconds: float) -> None:
        now[0] += seconds
        next(actions, lambda: None)()

    notes: list[str] = []
    follower = Follower(str(path), notes.append, idle=1.0, interval=0.25, clock=lambda: now[0], sleep=sleep)
    assert list(follower.lines()) == [b"a\n", b"b\n", b"partial\n", b"last-in-old\n", b"c\n", b"d\n"]
    assert follower.idle_ended
    assert [n.split(": ", 1)[1].split(";")[0] for n in notes] == ["replaced (rotated)", "truncated"]


def test_deadline_ends_a_follow_that_waits_in_vain(tmp_path):
    log = tmp_path / "devices.ndjson"
    log.write_text(line("d1"))
    result = run_cli("tail", str(log), "-F", "-s", "dev42", "-n", "1", "--deadline", "1", "-f", "json", timeout=30)
    assert_no_traceback(result)
    assert result.returncode == 3, result.stderr
    assert b"deadline of 1 s passed before -n 1 was reached (0 shown)" in result.stderr
