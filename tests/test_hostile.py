"""Issue 12: hostile input never ends a session (the real CLI, every command).

One bad value (NaN, ±Infinity, a number past 1e308, "²" in a time field,
JSON nested 1,200 deep, a huge ``started`` or ``t`` in a capture) is a field
that cannot be read: the frames after it are still recorded and shown.
JSON output escapes the characters a terminal would act on.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import cli_env, fixture, free_port, run_cli
from tests.live_support import Cli, WsServer, hold, post

DEEP = '{"event":"deep","d":' + "[" * 1200 + "]" * 1200 + "}"
#: One hostile payload per line: each once ended the whole command.
HOSTILE = [
    '{"event":"x","time":NaN}',
    '{"event":"x","time":Infinity}',
    '{"event":"x","ts":-Infinity}',
    '{"event":"x","time":1e400}',
    '{"event":"x","time":' + "9" * 400 + "}",
    '{"event":"x","timestamp":"²"}',
    '{"event":"x","ts":"١٢٣"}',
    '{"event":"clientConnected","collectionId":"c","deviceId":"d","time":"²"}',
    '{"event":"clientConnected","collectionId":"c","deviceId":"d","time":NaN}',
    '{"method":"thing.status","params":{"iotId":"i","status":{"value":1,"time":"²"},"time":1e999}}',
    '{"type":"event","event":"state","data":{"source_id":1},"user_time":"²"}',
    '{"type":"connect","connection_id":1,"asset":"a","time":"9999-12-31T23:59:59-14:00"}',
    '{"event":"x","device":"\\ud800"}',
    DEEP,
]
FIXTURE_SPAN = fixture("span-activity.capture.ndjson")
LAST = '{"event":"clientDisconnected","collectionId":"c","deviceId":"survivor"}'
NDJSON = ("\n".join(HOSTILE) + "\n" + LAST + "\n").encode()


def _capture(started: str = "1700000000.0", t: str = "1700000001.0") -> bytes:
    header = '{"presencectl":1,"source":"ws://x","transport":"websocket","started":' + started + ',"topics":null}\n'
    lines = [header]
    for i, payload in enumerate([*HOSTILE, LAST]):
        stamp = t if i == 0 else str(1700000001 + i)
        lines.append(json.dumps({"t": None, "topic": None, "text": payload}).replace("null", stamp, 1) + "\n")
    return "".join(lines).encode()


@pytest.mark.parametrize("fmt", ["json", "compact", "pretty", "raw"])
def test_cat_shows_every_line_after_hostile_values(fmt):
    result = run_cli("cat", "-", "-f", fmt, input=NDJSON)
    assert result.returncode == 0, result.stderr
    assert b"internal error" not in result.stderr
    assert b"survivor" in result.stdout.splitlines()[-1]
    if fmt == "json":
        events = [json.loads(line) for line in result.stdout.splitlines()]
        assert len(events) == len(HOSTILE) + 1
        assert all(e["time"] is None for e in events[:-1])
        assert events[-2]["dialect"] is None and "nested deeper than" in events[-2]["summary"]


@pytest.mark.parametrize(
    ("started", "t"),
    [("1e400", "NaN"), ("99999999999999999999999999999999999", "9000000000000000000"), ("-1e300", "1e300"), ('"x"', "-9000000000000000000")],
)
@pytest.mark.parametrize("command", [["cat", "-f", "json"], ["cat", "-f", "pretty"], ["stats"], ["stats", "--json"], ["replay", "--speed", "max", "-f", "compact"]])
def test_captures_with_hostile_header_and_times(tmp_path, command, started, t):
    path = tmp_path / "hostile.capture.ndjson"
    path.write_bytes(_capture(started, t))
    result = run_cli(*command[:1], str(path), *command[1:])
    assert result.returncode == 0, result.stderr
    assert b"internal error" not in result.stderr and b"Traceback" not in result.stderr
    if command[0] == "stats":
        assert b"survivor" in result.stdout
    else:
        assert b"survivor" in result.stdout.splitlines()[-1]


def test_tail_ws_keeps_recording_after_hostile_frames(tmp_path):
    async def handler(ws, server):
        for payload in [*HOSTILE, LAST]:
            await ws.send(payload)
        server.done.set()
        await hold(ws, 30)

    capture = tmp_path / "ws.capture.ndjson"
    with WsServer(handler) as server, Cli("tail", server.url, "-f", "json", "--record", str(capture)) as cli:
        cli.wait_stdout_lines(len(HOSTILE) + 1)
        cli.interrupt()
        status = cli.finish()
    assert status == 130, cli.stderr
    assert "internal error" not in cli.stderr
    assert b"survivor" in cli.stdout.splitlines()[-1]
    texts = [json.loads(line).get("text") for line in capture.read_text().splitlines()[1:]]
    assert [t for t in texts if t is not None] == [*HOSTILE, LAST]
    assert server.connections == 1  # never dropped and reconnected


def test_webhook_answers_200_to_hostile_bodies_and_keeps_going():
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    with Cli("tail", url, "--listen", "-f", "json") as cli:
        cli.wait_stderr("listening for POSTs")
        for payload in HOSTILE:
            status, _ = post(url, payload.encode())
            assert status in (200, 400), payload
        assert post(url, LAST.encode())[0] == 200
        cli.wait_stdout_lines(len(HOSTILE) + 1)
        assert cli.proc.poll() is None
        cli.interrupt()
        assert cli.finish() == 130
    assert "internal error" not in cli.stderr
    assert b"survivor" in cli.stdout.splitlines()[-1]


# Item 5: JSON output escapes what a terminal would act on.

TERMINAL_BAIT = "a\u009b31mb\u202ec\u2066d\u2069e\u2028f\u2029g\u0085h\u200ei"


@pytest.mark.parametrize("fmt_args", [["cat", "-", "-f", "json"], ["stats", "-", "--json"], ["stats", "-", "--json", "--by", "subject"]])
def test_json_output_escapes_c1_and_bidi(fmt_args):
    payload = json.dumps(
        {"event": TERMINAL_BAIT, "device": TERMINAL_BAIT, "id": 18446744073709551615, "n": 123456789012345678901234567890},
        ensure_ascii=False,
    )
    data = (payload + "\n" + json.dumps({"event": TERMINAL_BAIT, "nested": {"x": TERMINAL_BAIT}}, ensure_ascii=False, indent=1) + "\n").encode()
    assert b"\xc2\x9b" in data and b"\xe2\x80\xae" in data
    result = run_cli(*fmt_args, input=data)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for raw in (b"\xc2\x9b", b"\xc2\x85", b"\xe2\x80\xae", b"\xe2\x81\xa6", b"\xe2\x81\xa9", b"\xe2\x80\xa8", b"\xe2\x80\xa9", b"\xe2\x80\x8e"):
        assert raw not in out
    assert b"\\u009b" in out and b"\\u202e" in out
    docs = [json.loads(line) for line in out.splitlines()]
    if fmt_args[0] == "cat":
        assert docs[0]["type"] == TERMINAL_BAIT and docs[0]["subject"] == TERMINAL_BAIT
        assert docs[0]["payload"]["event"] == TERMINAL_BAIT
        assert docs[0]["payload"]["id"] == 18446744073709551615
        assert docs[0]["payload"]["n"] == 123456789012345678901234567890
        assert docs[1]["payload"]["nested"]["x"] == TERMINAL_BAIT
    else:
        assert TERMINAL_BAIT in json.dumps(docs[0], ensure_ascii=False)


# Item 8: exit codes that tell the truth.


def _corrupt_gzips(tmp_path):
    import gzip

    good = gzip.compress(_capture())
    yield "header only", good[:10]
    yield "deflate data garbled", good[:10] + bytes(b ^ 0x5A for b in good[10:])
    yield "unknown method", b"\x1f\x8b\x09" + good[3:]


@pytest.mark.parametrize("command", [["cat"], ["stats"], ["stats", "--json"], ["replay", "--speed", "max"]])
def test_a_fully_corrupt_gzip_capture_is_exit_1(tmp_path, command):
    for what, data in _corrupt_gzips(tmp_path):
        path = tmp_path / "bad.capture.ndjson.gz"
        path.write_bytes(data)
        result = run_cli(command[0], str(path), *command[1:])
        lines = result.stderr.decode().strip().splitlines()
        assert result.returncode == 1, (what, result.stderr)
        assert len(lines) == 1 and lines[0].startswith("presencectl: error: ") and "gzip" in lines[0], (what, lines)


def test_a_gzip_cut_short_after_data_is_still_a_warning(tmp_path):
    import gzip

    data = gzip.compress(_capture() * 50)
    path = tmp_path / "cut.capture.ndjson.gz"
    path.write_bytes(data[: len(data) // 2])
    result = run_cli("cat", str(path), "-f", "compact")
    assert result.returncode == 0
    assert b"compressed data ends early" in result.stderr and result.stdout


def test_replay_to_http_exits_1_when_posts_are_refused():
    from tests.replay_support import HttpSink

    capture = str(FIXTURE_SPAN)
    with HttpSink(status=lambda n: 401) as sink:
        result = run_cli("replay", capture, "--to", sink.url, "--speed", "max")
    lines = result.stderr.decode().strip().splitlines()
    assert result.returncode == 1
    sent = len(sink.posts)
    assert sent > 0
    assert f"{sent} of {sent} POSTs answered non-2xx (401: {sent})" in lines[-2]
    assert lines[-1].startswith("presencectl: error: ") and f"{sent} of {sent} frames were not accepted" in lines[-1]
    with HttpSink() as sink:
        result = run_cli("replay", capture, "--to", sink.url, "--speed", "max")
    assert result.returncode == 0 and b"non-2xx" not in result.stderr


# Item 9: a BOM, a version that is text.


def test_a_bom_before_the_header_is_skipped(tmp_path):
    path = tmp_path / "bom.capture.ndjson"
    path.write_bytes(b"\xef\xbb\xbf" + _capture())
    result = run_cli("cat", str(path), "-f", "json")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events[-1]["subject"] == "survivor"
    assert events[-1]["received"] is not None  # read as a capture, not as plain NDJSON
    result = run_cli("cat", "-", "-f", "json", input=b"\xef\xbb\xbf" + LAST.encode() + b"\n")
    assert json.loads(result.stdout)["subject"] == "survivor"


@pytest.mark.parametrize(("version", "says"), [('"1"', 'not "1"'), ("1.0", "not 1.0"), ("true", "not true"), ("2", "version 2 is not supported")])
def test_a_header_version_that_is_not_the_number_1(tmp_path, version, says):
    path = tmp_path / "v.capture.ndjson"
    path.write_bytes(_capture().replace(b'{"presencectl":1,', b'{"presencectl":' + version.encode() + b",", 1))
    result = run_cli("cat", str(path))
    lines = result.stderr.decode().strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1
    assert says in lines[0]


# Item 4: a line (or a decompression bomb) over --max-line is not read.


def _bomb(path, line_mb: int, capture: bool = False) -> None:
    import gzip

    before = '{"event":"before","device":"d0"}'
    after = '{"event":"after","device":"d1"}'
    with gzip.open(path, "wb", compresslevel=1) as f:
        if capture:
            f.write(b'{"presencectl":1,"source":"ws://x","transport":"websocket","started":1700000000.0,"topics":null}\n')
            f.write(json.dumps({"t": 1700000001.0, "topic": None, "text": before}).encode() + b"\n")
            f.write(b'{"t":1700000002.0,"topic":null,"text":"')
        else:
            f.write(before.encode() + b"\n")
            f.write(b'{"event":"bomb","data":"')
        chunk = b"A" * (1 << 20)
        for _ in range(line_mb):
            f.write(chunk)
        f.write(b'"}\n' if not capture else b'"}\n')
        if capture:
            f.write(json.dumps({"t": 1700000003.0, "topic": None, "text": after}).encode() + b"\n")
        else:
            f.write(after.encode() + b"\n")


@pytest.mark.parametrize("capture", [False, True])
@pytest.mark.parametrize(
    "command, jobs",
    [
        (["cat", "-f", "json"], "1"),
        (["cat", "-f", "json"], "2"),
        (["stats", "--json"], "1"),
        (["stats", "--json"], "2"),
        # replay and tail read one line at a time: no parallel reader to test.
        (["replay", "--speed", "max", "--rate", "1000", "-f", "json"], "1"),
        (["tail", "-f", "json"], "1"),
    ],
)
def test_a_line_over_max_line_is_an_unparsed_event_and_reading_goes_on(tmp_path, command, jobs, capture):
    path = tmp_path / ("bomb.capture.ndjson.gz" if capture else "bomb.ndjson.gz")
    _bomb(path, 5, capture)
    result = run_cli(command[0], str(path), *command[1:], "--max-line", "1M", env=cli_env(PRESENCECTL_JOBS=jobs))
    assert result.returncode == 0, result.stderr
    assert b"Traceback" not in result.stderr
    if command[0] == "stats":
        doc = json.loads(result.stdout)
        assert doc["events"] == 3 and doc["malformed"] == 1
        return
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["type"] for e in events] == ["before", None, "after"]
    assert "over the --max-line limit of 1,048,576 bytes" in events[1]["summary"]
    assert events[1]["payload"].startswith('{"') and len(events[1]["payload"]) < 1000


def test_max_line_default_and_bad_values(tmp_path):
    path = tmp_path / "bomb.ndjson.gz"
    _bomb(path, 17)  # over the 16 MB default
    result = run_cli("cat", str(path), "-f", "compact")
    assert result.returncode == 0
    assert b"over the --max-line limit of 16,777,216 bytes" in result.stdout
    assert b"after" in result.stdout.splitlines()[-1]
    for bad in ("lots", "0", "²"):
        result = run_cli("cat", str(path), "--max-line", bad)
        assert result.returncode == 2 and b"bad --max-line" in result.stderr
    result = run_cli("tail", "ws://127.0.0.1:9/x", "--max-line", "1M")
    assert result.returncode == 2 and b"--max-line cannot be used with a WebSocket source" in result.stderr
