"""Capture tools end to end through the real CLI (SPEC §3.6c): slice, merge, diff, and §5.1 for all of them."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import assert_no_traceback, fixture, run_cli

SPAN = fixture("span-activity.capture.ndjson")
CLOUD = fixture("cloudconnect.capture.ndjson")
ALIYUN = fixture("aliyun.capture.ndjson")
MIXED = fixture("mixed.capture.ndjson.gz")


def lines_of(path: Path) -> list[bytes]:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data.splitlines(keepends=True)


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in lines_of(path)[1:]]


def header(path: Path) -> dict:
    return json.loads(lines_of(path)[0])


def ok(result) -> str:
    assert_no_traceback(result)
    assert result.returncode == 0, result.stderr.decode()
    return result.stderr.decode()


# -------------------------------------------------------------------- slice
def test_slice_window_copies_records_byte_for_byte_and_says_where_it_came_from(tmp_path):
    out = tmp_path / "cut.capture.ndjson"
    err = ok(run_cli("slice", str(SPAN), "--from", "2m", "--until", "5m", "-o", str(out)))
    originals = set(lines_of(SPAN)[1:])
    kept = lines_of(out)[1:]
    assert kept and all(line in originals for line in kept)
    start = header(SPAN)["started"]
    times = [r["t"] for r in records(out)]
    assert min(times) >= start + 120 and max(times) <= start + 300
    expected = [json.loads(line)["t"] for line in lines_of(SPAN)[1:] if start + 120 <= json.loads(line)["t"] <= start + 300]
    assert times == expected
    h = header(out)
    assert h["slice"]["of"] == SPAN.name and h["slice"]["from"] == "2m" and h["slice"]["until"] == "5m"
    assert h["slice"]["window"] == [start + 120, start + 300]
    assert h["started"] == start + 120  # a replay of the slice starts at once
    assert h["source"] == header(SPAN)["source"]
    assert f"sliced {len(kept)} frames" in err


def test_slice_by_absolute_times_matches_the_offsets(tmp_path):
    a, b = tmp_path / "a.capture.ndjson", tmp_path / "b.capture.ndjson"
    ok(run_cli("slice", str(SPAN), "--from", "2m", "--until", "5m", "-o", str(a)))
    ok(run_cli("slice", str(SPAN), "--from", "2026-03-12 08:02:00", "--until", "2026-03-12 08:05:00", "--utc", "-o", str(b)))
    assert lines_of(a)[1:] == lines_of(b)[1:]


def test_slice_keeps_markers_inside_the_window(tmp_path):
    out = tmp_path / "start.capture.ndjson"
    ok(run_cli("slice", str(SPAN), "--until", "30s", "-s", "nobody", "-o", str(out)))
    marks = [r for r in records(out) if "mark" in r]
    assert [m["mark"] for m in marks] == ["connected"]
    assert not [r for r in records(out) if "text" in r]


def test_slice_filters_keep_a_mixed_batch_whole_and_count_it(tmp_path):
    out = tmp_path / "one.capture.ndjson.gz"
    err = ok(run_cli("slice", str(CLOUD), "-s", "357322041802978", "-o", str(out)))
    assert gzip.decompress(out.read_bytes())  # really gzip
    kept = records(out)
    assert kept
    for r in kept:
        assert "357322041802978" in r["text"]
    mixed = [r for r in kept if r["text"].count('"asset"') > 1 and r["text"].count("357322041802978") < r["text"].count('"asset"')]
    assert mixed, "the fixture has a batch mixing subjects"
    assert f"{len(mixed)} batch frames kept whole" in err
    assert header(out)["slice"]["filters"] == ["--subject", "357322041802978"]


@pytest.mark.parametrize("options", [["-t", "clientConnected"], ["--kind", "disconnect"], ["-w", "data.transport=udp"]])
def test_slice_filters_agree_with_cat(tmp_path, options):
    out = tmp_path / "f.capture.ndjson"
    ok(run_cli("slice", str(SPAN), *options, "-o", str(out)))
    sliced = run_cli("cat", str(out), "-f", "json")
    direct = run_cli("cat", str(SPAN), *options, "-f", "json")
    assert sliced.stdout == direct.stdout and sliced.stdout


def test_slice_reads_gzip_and_replays(tmp_path):
    out = tmp_path / "m.capture.ndjson"
    ok(run_cli("slice", str(MIXED), "--from", "10s", "--until", "40s", "-o", str(out)))
    assert all(line in set(lines_of(MIXED)) for line in lines_of(out)[1:])
    replay = run_cli("replay", str(out), "--speed", "max", "-f", "json")
    ok(replay)
    assert len(replay.stdout.splitlines()) >= 1


def test_slice_bad_window_is_a_usage_error(tmp_path):
    result = run_cli("slice", str(SPAN), "--from", "5m", "--until", "2m", "-o", str(tmp_path / "x"))
    assert result.returncode == 2 and b"--until 2m is before --from 5m" in result.stderr
    assert not (tmp_path / "x").exists()
    result = run_cli("slice", str(SPAN), "--from", "soon", "-o", str(tmp_path / "x"))
    assert result.returncode == 2 and b"bad --from 'soon'" in result.stderr


# -------------------------------------------------------------------- merge
def test_merge_orders_by_time_tags_origins_and_replays_interleaved(tmp_path):
    out = tmp_path / "both.capture.ndjson.gz"
    err = ok(run_cli("merge", str(SPAN), str(ALIYUN), "-o", str(out)))
    merged = records(out)
    times = [r["t"] for r in merged]
    assert times == sorted(times)
    by_origin = {0: [], 1: []}
    for r in merged:
        by_origin[r["origin"]].append({k: v for k, v in r.items() if k != "origin"})
    assert by_origin[0] == records(SPAN)
    assert by_origin[1] == records(ALIYUN)
    h = header(out)
    assert [o["name"] for o in h["origins"]] == [SPAN.name, ALIYUN.name]
    assert h["origins"][1]["transport"] == "mqtt"
    assert "124 from span-activity.capture.ndjson, 24 from aliyun.capture.ndjson" in err
    replay = run_cli("replay", str(out), "--speed", "max", "-f", "json")
    ok(replay)
    dialects = [json.loads(line)["dialect"] for line in replay.stdout.splitlines()]
    first_aliyun, last_aliyun = dialects.index("aliyun"), len(dialects) - 1 - dialects[::-1].index("aliyun")
    assert "span" in dialects[first_aliyun:last_aliyun]  # interleaved, not one after the other
    cat_each = sum(len(run_cli("cat", str(p), "-f", "json").stdout.splitlines()) for p in (SPAN, ALIYUN))
    assert len(dialects) == cat_each


def test_merge_needs_two_captures_and_refuses_plain_ndjson(tmp_path):
    result = run_cli("merge", str(SPAN), "-o", str(tmp_path / "x"))
    assert result.returncode == 2 and b"two or more" in result.stderr
    result = run_cli("merge", str(SPAN), str(fixture("events.ndjson")), "-o", str(tmp_path / "x"))
    assert result.returncode == 2 and b"not a capture" in result.stderr
    assert not (tmp_path / "x").exists()
    assert_no_traceback(result)


# --------------------------------------------------------------------- diff
def test_diff_of_a_capture_with_itself_is_silent_and_exits_0():
    result = run_cli("diff", str(SPAN), str(SPAN))
    assert result.returncode == 0 and result.stdout == b""
    assert b"no difference" in result.stderr
    doc = json.loads(run_cli("diff", str(SPAN), str(SPAN), "--json").stdout)
    assert doc["same"] is True and doc["differences"] == 0
    gz = run_cli("diff", str(MIXED), str(MIXED))
    assert gz.returncode == 0 and gz.stdout == b""


def test_diff_shows_what_differs_and_exits_1(tmp_path):
    cut = tmp_path / "cut.capture.ndjson"
    ok(run_cli("slice", str(SPAN), "--until", "5m", "-o", str(cut)))
    result = run_cli("diff", str(SPAN), str(cut))
    assert result.returncode == 1, result.stderr
    text = result.stdout.decode()
    assert text.startswith(f"--- a: {SPAN}\n+++ b: {cut}\n")
    assert "  events" in text and "differences" in text
    doc = json.loads(run_cli("diff", str(SPAN), str(cut), "--json").stdout)
    assert doc["schema"] == "presencectl.diff/1" and doc["same"] is False
    assert set(doc) == {"schema", "a", "b", "same", "stream", "subjects", "only_in_a", "only_in_b", "differences"}
    stats_a = json.loads(run_cli("stats", str(SPAN), "--json").stdout)
    stats_b = json.loads(run_cli("stats", str(cut), "--json").stdout)
    events = next(r for r in doc["stream"] if r["measure"] == "events")
    assert (events["a"], events["b"]) == (stats_a["events"], stats_b["events"])
    by_subject = {s["subject"]: s for s in stats_a["subjects"]}
    for s in doc["subjects"]:
        if s["in"] != "b":
            flaps = next(m for m in s["measures"] if m["measure"] == "flaps")
            assert flaps["a"] == by_subject[s["subject"]]["flaps"]


def test_diff_lists_subjects_only_in_one():
    result = run_cli("diff", str(SPAN), str(ALIYUN), "--json")
    assert result.returncode == 1
    doc = json.loads(result.stdout)
    assert "17kl14hm46h4c2" in doc["only_in_a"]
    assert "0300MSKL03667c544f69342a74Sv4Za4" in doc["only_in_b"]
    text = run_cli("diff", str(SPAN), str(ALIYUN)).stdout.decode()
    assert "subject 17kl14hm46h4c2 (only in a)" in text


def test_diff_same_behaviour_at_another_time_is_the_same(tmp_path):
    # The same session recorded a day later: first/last seen are compared as offsets.
    shifted = tmp_path / "later.capture.ndjson"
    lines = lines_of(SPAN)
    out = [lines[0]]
    for line in lines[1:]:
        r = json.loads(line)
        r["t"] += 86400
        if "text" in r:
            r["text"] = r["text"].replace("2026-03-12", "2026-03-13")
        out.append((json.dumps(r) + "\n").encode())
    shifted.write_bytes(b"".join(out))
    result = run_cli("diff", str(SPAN), str(shifted))
    assert result.returncode == 0, result.stdout.decode()


def test_diff_missing_file_is_a_usage_error():
    result = run_cli("diff", str(SPAN), "nope.capture.ndjson")
    assert result.returncode == 2 and b"no such file" in result.stderr
    assert_no_traceback(result)


# ---------------------------------------------------------- SPEC §5.1 matrix
WRITERS = {
    "slice": lambda src, out, *more: ["slice", src, "-o", out, *more],
    "merge": lambda src, out, *more: ["merge", src, str(ALIYUN), "-o", out, *more],
    "anonymise": lambda src, out, *more: ["anonymise", src, "-o", out, "--key", "k", *more],
}


@pytest.mark.parametrize("tool", sorted(WRITERS))
def test_existing_output_is_refused_without_force_and_replaced_with_it(tmp_path, tool):
    out = tmp_path / "precious.capture.ndjson"
    out.write_bytes(b"precious\n")
    result = run_cli(*WRITERS[tool](str(SPAN), str(out)))
    assert result.returncode == 2
    assert b"already exists" in result.stderr and b"--force" in result.stderr
    assert out.read_bytes() == b"precious\n"
    ok(run_cli(*WRITERS[tool](str(SPAN), str(out), "--force")))
    assert header(out)["presencectl"] == 1


@pytest.mark.parametrize("tool", sorted(WRITERS))
def test_output_that_is_also_an_input_is_refused_even_with_force(tmp_path, tool):
    src = tmp_path / "in.capture.ndjson"
    shutil.copy(SPAN, src)
    before = src.read_bytes()
    for spelling in (str(src), str(tmp_path / "." / "in.capture.ndjson")):
        result = run_cli(*WRITERS[tool](str(src), spelling, "--force"))
        assert result.returncode == 2, result.stderr
        assert b"is also an input" in result.stderr
    assert src.read_bytes() == before


@pytest.mark.parametrize("tool", sorted(WRITERS))
def test_a_failed_run_leaves_no_output_and_no_temporary_file(tmp_path, tool):
    out = tmp_path / "out.capture.ndjson"
    result = run_cli(*WRITERS[tool](str(tmp_path / "missing.capture.ndjson"), str(out)))
    assert result.returncode == 2 and b"no such file" in result.stderr
    assert_no_traceback(result)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("tool", sorted(WRITERS))
def test_gzip_in_and_out(tmp_path, tool):
    out = tmp_path / "out.capture.ndjson.gz"
    ok(run_cli(*WRITERS[tool](str(MIXED), str(out))))
    assert out.read_bytes()[:2] == b"\x1f\x8b"
    assert run_cli("cat", str(out), "-f", "json").stdout


@pytest.mark.parametrize("signum, code", [(15, 143), (2, 130)])
def test_a_signal_mid_run_leaves_the_old_output_untouched_and_no_partial_file(tmp_path, signum, code):
    import subprocess
    import sys
    import time

    from tests.conftest import ROOT, cli_env

    big = tmp_path / "big.capture.ndjson"
    body = b"".join(lines_of(SPAN)[2:])
    with open(big, "wb") as f:
        f.write(lines_of(SPAN)[0])
        for _ in range(300):  # ~12 MB: long enough to be interrupted
            f.write(body)
    out = tmp_path / "out.capture.ndjson"
    out.write_bytes(b"old\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "presencectl", "anonymise", str(big), "-o", str(out), "--key", "k", "--force"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env(), cwd=ROOT,
    )
    # Signal once the new output is being written (the handler is in place by then).
    deadline = time.monotonic() + 30
    while not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "finished before the signal: make the input bigger"
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert b"Traceback" not in err
    assert out.read_bytes() == b"old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.capture.ndjson", "out.capture.ndjson"]
