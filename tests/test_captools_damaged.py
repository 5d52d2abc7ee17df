"""The capture tools on damaged input and a full disk: every tool says it alike (SPEC §5, §5.1).

A capture that went through a crash or an editor: a line that is no record,
a record earlier than the capture's start, one with no receive time, a last
line cut short. slice, merge and anonymise each keep every record there is,
say what they left out in the same words, and on a disk that is full end
with the one ``write error`` line ``record`` uses, leaving no file behind.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import assert_no_traceback, run_cli
from tests.test_captools import ALIYUN, SPAN, WRITERS, records

LINES = SPAN.read_bytes().splitlines(keepends=True)
HEAD = LINES[0]
FRAMES = [line for line in LINES[1:] if b'"text"' in line]


def damaged(tmp_path: Path) -> tuple[Path, list[str]]:
    """A damaged Span capture, and the payload texts of the records it still holds."""
    early = json.loads(FRAMES[2])
    early["t"] = json.loads(HEAD)["started"] - 5  # before the capture's own start
    timeless = json.loads(FRAMES[3])
    timeless["t"] = None
    kept = [FRAMES[0], FRAMES[1], json.dumps(early).encode() + b"\n", json.dumps(timeless).encode() + b"\n", FRAMES[4]]
    data = HEAD + kept[0] + b"garbage that is no record\n" + b"".join(kept[1:]) + FRAMES[5][:40]
    path = tmp_path / "damaged.capture.ndjson"
    path.write_bytes(data)
    return path, [json.loads(line)["text"] for line in kept]


@pytest.mark.parametrize("tool", sorted(WRITERS))
def test_every_tool_keeps_every_record_of_a_damaged_capture_and_says_what_it_left_out(tmp_path, tool):
    src, texts = damaged(tmp_path)
    out = tmp_path / "out.capture.ndjson"
    result = run_cli(*WRITERS[tool](str(src), str(out)))
    assert_no_traceback(result)
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.decode().splitlines() if line.startswith("presencectl: warning:")]
    where = "the inputs" if tool == "merge" else str(src)
    assert f"presencectl: warning: {where}: left out 1 line that is not a capture record" in warnings
    assert f"presencectl: warning: {src}: the last line is cut short (40 bytes): skipped it" in warnings
    got = records(out)
    if tool == "merge":
        mine = [r for r in got if r["origin"] == 0]  # (the first input; merge orders by time)
        assert len(got) - len(mine) == len(records(ALIYUN))
        assert sorted(r["text"] for r in mine) == sorted(texts)
        return
    if tool == "anonymise":
        assert len(got) == len(texts)  # (the texts are pseudonymised)
    else:
        assert [r["text"] for r in got] == texts


@pytest.mark.parametrize("tool", sorted(WRITERS))
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_a_full_disk_is_one_write_error_line_and_exit_1(tool, suffix, tmp_path):
    if suffix:
        (tmp_path / "full.gz").symlink_to("/dev/full")  # (a .gz name that is /dev/full)
        target = str(tmp_path / "full.gz")
    else:
        target = "/dev/full"
    result = run_cli(*WRITERS[tool](str(SPAN), target, "--force"))
    assert_no_traceback(result)
    assert result.returncode == 1
    assert result.stderr.decode().splitlines()[-1] == f"presencectl: error: {target}: write error: No space left on device"


def overlong(tmp_path: Path) -> tuple[Path, bytes]:
    """A Span capture with one 5 kB frame in the middle, and that frame's line."""
    big = json.loads(FRAMES[1])
    big["text"] = json.dumps({"event": "upstreamMessage", "deviceId": "d1", "collectionId": "c", "data": {"payload": "A" * 5000}})
    line = json.dumps(big).encode() + b"\n"
    path = tmp_path / "overlong.capture.ndjson"
    path.write_bytes(HEAD + FRAMES[0] + line + FRAMES[2])
    return path, line


@pytest.mark.parametrize("tool", sorted(WRITERS))
def test_a_line_over_max_line_is_left_out_in_so_many_words_and_a_larger_limit_keeps_it(tmp_path, tool):
    """Every tool takes --max-line as cat does. A line over it was never read: it is
    left out with a warning that names the limit (not "the last line is cut short",
    and never written cut to its first bytes); a larger --max-line copies it."""
    src, line = overlong(tmp_path)
    out = tmp_path / "out.capture.ndjson"
    result = run_cli(*WRITERS[tool](str(src), str(out), "--max-line", "2k"))
    assert_no_traceback(result)
    assert result.returncode == 0, result.stderr
    warnings = [w for w in result.stderr.decode().splitlines() if w.startswith("presencectl: warning:")]
    assert warnings == [
        f"presencectl: warning: {src}: left out a line of {len(line):,} bytes or more, "
        "over the --max-line limit of 2,048 bytes (a larger --max-line keeps it)"
    ]
    mine = [r for r in records(out) if r.get("origin", 0) == 0]
    assert len(mine) == 2
    kept = run_cli(*WRITERS[tool](str(src), str(tmp_path / "all.capture.ndjson"), "--max-line", "1M"))
    assert kept.returncode == 0 and b"warning" not in kept.stderr, kept.stderr
    mine = [r for r in records(tmp_path / "all.capture.ndjson") if r.get("origin", 0) == 0]
    assert len(mine) == 3
    if tool == "slice":
        assert line in (tmp_path / "all.capture.ndjson").read_bytes()  # byte for byte


def test_anonymise_keeps_no_cut_line_of_ndjson_even_with_keep_unparsed(tmp_path):
    src = tmp_path / "plain.ndjson"
    src.write_bytes(b'{"event":"clientConnected","deviceId":"d1","collectionId":"c"}\n' + b"x" * 5000 + b"\n")
    out = tmp_path / "out.ndjson"
    result = run_cli("anonymise", str(src), "-o", str(out), "--key", "k", "--keep-unparsed", "--max-line", "2k")
    assert result.returncode == 0, result.stderr
    assert b"over the --max-line limit of 2,048 bytes" in result.stderr
    assert out.read_bytes().count(b"\n") == 1 and b"xxx" not in out.read_bytes()


def test_diff_takes_max_line_as_cat_does(tmp_path):
    src, _line = overlong(tmp_path)
    result = run_cli("diff", str(src), str(src), "--max-line", "2k", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["same"] is True
