"""``presencectl replay`` end to end: the real CLI against real peers on loopback.

No timed assertions: order, content and counts only (speed and accuracy are
measured in benchmarks/bench_replay.py).
"""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest

from presencectl.core.events import Frame, Marker
from tests.conftest import assert_no_traceback, fixture, run_cli
from tests.replay_support import (
    AWKWARD,
    T0,
    CliProcess,
    HttpSink,
    WsSink,
    capture_payloads,
    collect_websocket_client,
    collect_websockets,
    in_threads,
    json_lines,
    spaced,
    write_capture,
)

SPAN = str(fixture("span-activity.capture.ndjson"))
MIXED = str(fixture("mixed.capture.ndjson.gz"))


@pytest.fixture
def awkward(tmp_path):
    """A capture of payloads that must survive byte for byte, 10 ms apart."""
    return write_capture(tmp_path / "awkward.capture.ndjson", spaced(AWKWARD))


def ok(result):
    assert_no_traceback(result)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result


# -- stdout ------------------------------------------------------------------


@pytest.mark.parametrize("path", [SPAN, MIXED, str(fixture("malformed.capture.ndjson"))])
def test_replay_to_stdout_shows_what_cat_shows(path):
    replayed = ok(run_cli("replay", path, "--speed", "max", "-f", "json"))
    cat = ok(run_cli("cat", path, "-f", "json"))
    assert replayed.stdout == cat.stdout
    assert replayed.stdout  # not vacuous


def test_replay_on_the_real_clock_keeps_order_and_content():
    # --speed 2000 with the gaps capped: the sleeping path, quickly.
    replayed = ok(run_cli("replay", MIXED, "--speed", "2000", "--max-gap", "1", "-f", "raw"))
    cat = ok(run_cli("cat", MIXED, "-f", "raw"))
    assert replayed.stdout == cat.stdout
    summary = replayed.stderr.decode().strip().splitlines()[-1]
    import gzip

    frames = len(gzip.decompress(fixture("mixed.capture.ndjson.gz").read_bytes()).splitlines()) - 1
    assert f"replayed {frames} frames to stdout" in summary
    assert "timing error p50" in summary


def test_filters_pick_the_frames(tmp_path):
    replayed = ok(run_cli("replay", SPAN, "--speed", "max", "-f", "json", "-t", "client*", "-s", "!17kl14hm46h4c2"))
    cat = ok(run_cli("cat", SPAN, "-f", "json", "-t", "client*", "-s", "!17kl14hm46h4c2"))
    assert replayed.stdout == cat.stdout
    events = json_lines(replayed.stdout)
    assert events and all(e["type"].startswith("client") for e in events)
    assert b"left out by filters" in replayed.stderr


def test_limit_stops_after_n_events():
    result = ok(run_cli("replay", SPAN, "--speed", "max", "-f", "json", "-n", "3"))
    assert len(json_lines(result.stdout)) == 3
    assert b"replayed 3 frames" in result.stderr


def test_from_and_until_pick_a_window():
    everything = json_lines(ok(run_cli("cat", SPAN, "-f", "json", "--time", "received")).stdout)
    result = ok(run_cli("replay", SPAN, "--speed", "max", "-f", "json", "--from", "10s", "--until", "60s"))
    window = json_lines(result.stdout)
    assert window
    assert window == [e for e in everything if T0 + 10 <= _epoch(e["received"]) <= T0 + 60]
    absolute = ok(
        run_cli("replay", SPAN, "--speed", "max", "-f", "json", "--utc", "--from", "2026-03-12 08:00:10", "--until", "2026-03-12 08:01:00")
    )
    assert json_lines(absolute.stdout) == window


def _epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()


def test_loop_plays_it_again():
    once = ok(run_cli("replay", SPAN, "--speed", "max", "-f", "raw")).stdout
    thrice = ok(run_cli("replay", SPAN, "--speed", "max", "-f", "raw", "--loop", "3"))
    assert thrice.stdout == once * 3
    assert b"(3 loops)" in thrice.stderr


def test_plain_ndjson_replays_by_event_time_or_rate(tmp_path):
    lines = [
        '{"collectionId":"c","deviceId":"d1","event":"clientConnected","time":"2024-04-25 20:23:36"}',
        '{"collectionId":"c","deviceId":"d1","event":"upstreamMessage","time":"2024-04-25 20:23:36.02"}',
        '{"collectionId":"c","deviceId":"d1","event":"clientDisconnected","time":"2024-04-25 20:23:36.05"}',
    ]
    path = tmp_path / "events.ndjson"
    path.write_text("\n".join(lines) + "\n")
    by_time = ok(run_cli("replay", str(path), "-f", "raw"))
    assert by_time.stdout.decode().splitlines() == lines
    assert b"replaying by the events' own times" in by_time.stderr
    by_rate = ok(run_cli("replay", str(path), "--rate", "500", "-f", "raw"))
    assert by_rate.stdout == by_time.stdout


def test_plain_ndjson_without_times_asks_for_rate(tmp_path):
    path = tmp_path / "untimed.ndjson"
    path.write_text('{"a": 1}\n{"b": 2}\n')
    result = run_cli("replay", str(path))
    assert_no_traceback(result)
    assert result.returncode == 2
    assert b"--rate" in result.stderr
    assert result.stdout == b""


def test_stdin_replays_too():
    data = fixture("span-activity.capture.ndjson").read_bytes()
    result = ok(run_cli("replay", "-", "--speed", "max", "-f", "raw", "--loop", "2", input=data))
    assert result.stdout == ok(run_cli("cat", SPAN, "-f", "raw")).stdout * 2


def test_backwards_times_replay_in_file_order_with_a_warning(tmp_path):
    frames = [Frame(f'{{"event":"e{i}","deviceId":"d","collectionId":"c"}}', T0 + t) for i, t in enumerate([1, 2, 0.5, 3, 2.5])]
    path = write_capture(tmp_path / "backwards.capture.ndjson", frames)
    result = ok(run_cli("replay", str(path), "--speed", "100", "-f", "raw"))
    assert [json.loads(line)["event"] for line in result.stdout.splitlines()] == ["e0", "e1", "e2", "e3", "e4"]
    stderr = result.stderr.decode()
    assert stderr.count("times go backwards") == 1
    assert "2 records out of time order" in stderr


def test_markers_and_corrupt_lines_in_a_capture(tmp_path):
    path = write_capture(
        tmp_path / "c.capture.ndjson",
        [Frame('{"event":"a","deviceId":"d","collectionId":"c"}', T0 + 0.01), Marker("disconnected", T0 + 0.02, "lost")],
    )
    with path.open("a") as f:
        f.write("this line is not a record\n")
        f.write('{"t": %r, "topic": null, "text": "{\\"event\\":\\"b\\"}"}\n' % (T0 + 0.03))
    result = ok(run_cli("replay", str(path), "--speed", "10", "-f", "raw"))
    assert result.stdout.splitlines() == [b'{"event":"a","deviceId":"d","collectionId":"c"}', b'{"event":"b"}']
    assert b"not capture records" in result.stderr


def test_ctrl_c_stops_cleanly_with_130(tmp_path):
    frames = [Frame(f'{{"event":"e{i}","deviceId":"d","collectionId":"c"}}', T0 + i * 30) for i in range(5)]
    path = write_capture(tmp_path / "slow.capture.ndjson", frames, started=T0)
    with CliProcess("replay", str(path), "-f", "raw", "--speed", "1") as proc:
        proc.wait_for_stdout(1)  # the first frame is due at once, the next in 30 s
        rc, out, err = proc.stop()
    assert rc == 130
    assert out.splitlines() == [b'{"event":"e0","deviceId":"d","collectionId":"c"}']
    assert "interrupted after 1 frame to stdout" in err
    assert "Traceback" not in err


# -- --serve -----------------------------------------------------------------


def test_serve_gives_every_client_the_whole_replay_byte_exact(awkward):
    with CliProcess("replay", str(awkward), "--serve", "127.0.0.1:0", "--speed", "5") as server:
        url = server.url()
        a, b = in_threads(lambda: collect_websocket_client(url), lambda: collect_websockets(url))
        rc, out, err = server.stop()
    assert a.messages == AWKWARD
    assert b.messages == AWKWARD
    assert [type(m) for m in a.messages] == [type(m) for m in AWKWARD]  # binary stays binary
    assert (a.close_code, a.close_reason) == (1000, "replay finished")
    assert b.close_code == 1000
    assert rc == 130
    assert out == b""  # stdout holds only events; serving prints none
    assert f"served {2 * len(AWKWARD)} frames to 2 clients" in err


def test_serve_a_client_that_comes_later_starts_from_the_start(awkward):
    with CliProcess("replay", str(awkward), "--serve", "127.0.0.1:0", "--speed", "max") as server:
        url = server.url()
        first = collect_websocket_client(url)
        second = collect_websocket_client(url)
        server.stop()
    assert first.messages == second.messages == AWKWARD


def test_serve_shared_timeline_waits_for_a_client_and_ends(awkward):
    with CliProcess("replay", str(awkward), "--serve", "127.0.0.1:0", "--shared", "--wait-for-client", "--speed", "5") as server:
        got = collect_websockets(server.url())
        rc, out, err = server.wait()
    assert got.messages == AWKWARD
    assert got.close_code == 1000
    assert rc == 0
    assert f"served {len(AWKWARD)} frames to 1 client ({len(AWKWARD)} deliveries)" in err


def test_serve_on_a_path_refuses_other_paths(awkward):
    import websocket

    with CliProcess("replay", str(awkward), "--serve", "ws://127.0.0.1:0/span/collections/c1/activity", "--speed", "max") as server:
        url = server.url()
        assert url.endswith("/span/collections/c1/activity")
        with pytest.raises(websocket.WebSocketBadStatusException) as info:
            websocket.create_connection(url.rsplit("/", 1)[0] + "/other", timeout=10)
        assert info.value.status_code == 404
        assert collect_websocket_client(url + "?token=x").messages == AWKWARD
        server.stop()


def test_serve_replays_disconnects_and_reconnecting_clients_continue(tmp_path):
    records = [
        Marker("connected", T0),
        Frame("a", T0 + 0.01),
        Frame("b", T0 + 0.02),
        Marker("disconnected", T0 + 0.03, "ping timeout"),
        Marker("reconnecting", T0 + 0.04),
        Marker("connected", T0 + 0.05),
        Frame("c", T0 + 0.06),
        Frame("d", T0 + 0.07),
    ]
    path = write_capture(tmp_path / "flap.capture.ndjson", records)
    with CliProcess("replay", str(path), "--serve", "127.0.0.1:0", "--replay-disconnects", "--speed", "2") as server:
        url = server.url()
        before = collect_websocket_client(url)
        after = collect_websocket_client(url)  # the "reconnect"
        fresh = collect_websockets(url)  # a new client after that timeline ended
        server.stop()
    assert before.messages == ["a", "b"]
    assert (before.close_code, before.close_reason) == (1001, "replayed disconnect")
    assert after.messages == ["c", "d"]
    assert after.close_code == 1000
    assert fresh.messages == ["a", "b"]
    assert fresh.close_code == 1001


def test_serve_limit_is_per_client(awkward):
    with CliProcess("replay", str(awkward), "--serve", "127.0.0.1:0", "--speed", "max", "-n", "3") as server:
        url = server.url()
        assert collect_websocket_client(url).messages == AWKWARD[:3]
        assert collect_websockets(url).messages == AWKWARD[:3]
        server.stop()


def test_serve_port_in_use_is_a_clear_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("replay", SPAN, "--serve", f"127.0.0.1:{port}")
    assert_no_traceback(result)
    assert result.returncode == 1
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1
    assert f"127.0.0.1:{port}" in lines[0] and "already in use" in lines[0]


@pytest.mark.parametrize("address", ["0.0.0.0:0", "ws://10.1.2.3:8765", "[::]:0"])
def test_serve_refuses_a_non_loopback_bind_without_allow_remote(address):
    result = run_cli("replay", SPAN, "--serve", address)
    assert_no_traceback(result)
    assert result.returncode == 2
    assert b"--allow-remote" in result.stderr


# -- --to ws:// --------------------------------------------------------------


def test_to_ws_sends_every_frame_as_recorded(awkward):
    with WsSink() as sink:
        result = ok(run_cli("replay", str(awkward), "--to", sink.url, "--speed", "10", "-H", "X-API-Token: s3cret"))
    assert sink.messages == AWKWARD
    assert sink.headers[0]["X-API-Token"] == "s3cret"
    assert result.stdout == b""
    assert f"replayed {len(AWKWARD)} frames to {sink.url}".encode() in result.stderr


def test_to_ws_replays_disconnects_by_reconnecting(tmp_path):
    records = [Frame("a", T0), Frame("b", T0 + 0.01), Marker("disconnected", T0 + 0.02), Marker("connected", T0 + 0.03), Frame("c", T0 + 0.04)]
    path = write_capture(tmp_path / "flap.capture.ndjson", records)
    with WsSink() as sink:
        result = ok(run_cli("replay", str(path), "--to", sink.url, "--speed", "max", "--replay-disconnects"))
        assert sink.connections == [["a", "b"], ["c"]]
    assert b"reconnected 1 times" in result.stderr


def test_to_ws_refused_is_exit_1():
    from tests.conftest import free_port

    result = run_cli("replay", SPAN, "--to", f"ws://127.0.0.1:{free_port()}/x")
    assert_no_traceback(result)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert b"refused" in result.stderr


# -- --to http:// ------------------------------------------------------------


def test_to_http_posts_each_frame_and_counts_non_2xx(awkward):
    failing = {2, 5}
    with HttpSink(status=lambda n: 500 if n in failing else (204 if n == 3 else 200)) as sink:
        result = run_cli("replay", str(awkward), "--to", sink.url, "--speed", "max", "-H", "X-Signature: abc")
    assert_no_traceback(result)
    assert result.returncode == 1  # any refused frame (issue 12)
    bodies = [p.body for p in sink.posts]
    assert bodies == [m.encode() if isinstance(m, str) else m for m in AWKWARD]
    post = sink.posts[0]
    assert post.path == "/webhooks/munic?tenant=t1"
    assert post.headers["Content-Type"] == "application/json"
    assert post.headers["X-Signature"] == "abc"
    assert sink.posts[4].headers["Content-Type"] == "application/octet-stream"  # the binary frame
    assert len({p.client_port for p in sink.posts}) == 1  # one keep-alive connection
    stderr = result.stderr.decode()
    assert stderr.count("HTTP 500") == 2
    assert "\x1b" not in stderr  # the hostile answer body is shown escaped
    assert "\\x1b[31mboom" in stderr
    assert f"2 of {len(AWKWARD)} POSTs answered non-2xx (500: 2)" in stderr.splitlines()[-2]
    assert stderr.splitlines()[-1].startswith("presencectl: error: ") and "2 of" in stderr.splitlines()[-1]
    assert f"replayed {len(AWKWARD)} frames" in stderr
    assert result.stdout == b""


def test_to_http_refused_is_exit_1():
    from tests.conftest import free_port

    result = run_cli("replay", SPAN, "--to", f"http://127.0.0.1:{free_port()}/hook")
    assert_no_traceback(result)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1


# -- bad command lines -------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--speed", "0"], b"--speed"),
        (["--speed", "-2"], b"--speed"),
        (["--speed", "fast"], b"--speed"),
        (["--rate", "0"], b"--rate"),
        (["--loop", "-1"], b"--loop"),
        (["--max-gap", "-1"], b"--max-gap"),
        (["--from", "whenever"], b"--from"),
        (["--from", "5m", "--until", "1m"], b"before --from"),
        (["--to", "ws://127.0.0.1:1/x", "--topic-prefix", "t/"], b"--topic-prefix only applies with --to mqtt"),
        (["--to", "ftp://127.0.0.1/x"], b"not a replay target"),
        (["--to", "127.0.0.1:9000"], b"--to"),
        (["--to", "ws://127.0.0.1:1/x", "--serve", "127.0.0.1:0"], b"give one"),
        (["--shared"], b"--serve"),
        (["--serve", "127.0.0.1:0", "--wait-for-client"], b"--shared"),
        (["--serve", "wss://127.0.0.1:0"], b"ws://"),
        (["--serve", "127.0.0.1"], b"port"),
        (["--to", "http://127.0.0.1:1/x", "-f", "json"], b"-f/--format"),
        (["--to", "http://127.0.0.1:1/x", "--replay-disconnects"], b"--replay-disconnects"),
        (["-H", "X: y"], b"--to"),
        (["--to", "http://127.0.0.1:1/x", "-H", "no colon"], b"Name: value"),
        (["-w", "nope"], b"--where"),
    ],
)
def test_bad_command_lines_are_usage_errors(args, message):
    result = run_cli("replay", SPAN, *args)
    assert_no_traceback(result)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert result.stdout == b""


def test_missing_file_is_exit_2():
    result = run_cli("replay", "no/such.capture.ndjson")
    assert_no_traceback(result)
    assert result.returncode == 2
    assert b"no such file" in result.stderr


def test_capture_payloads_helper_reads_what_write_capture_wrote(awkward):
    assert capture_payloads(awkward) == AWKWARD


# -- TLS ---------------------------------------------------------------------


@pytest.fixture
def tls(tmp_path):
    from tests import live_support

    cert, key = live_support.make_cert(tmp_path)
    return cert, live_support.server_tls(cert, key)


def test_to_https_verifies_the_certificate(tls, awkward):
    cert, context = tls
    with HttpSink() as sink:
        sink.server.socket = context.wrap_socket(sink.server.socket, server_side=True)
        url = sink.url.replace("http://", "https://")
        untrusted = run_cli("replay", str(awkward), "--to", url, "--speed", "max")
        trusted = run_cli("replay", str(awkward), "--to", url, "--speed", "max", "--cacert", str(cert))
        insecure = run_cli("replay", str(awkward), "--to", url, "--speed", "max", "--insecure")
    assert_no_traceback(untrusted)
    assert untrusted.returncode == 1
    assert b"TLS certificate verification failed" in untrusted.stderr and b"--cacert" in untrusted.stderr
    ok(trusted)
    ok(insecure)
    assert [p.body for p in sink.posts] == [m.encode() if isinstance(m, str) else m for m in AWKWARD] * 2


def test_to_wss_verifies_the_certificate(tls, awkward):
    from websockets.sync.server import serve

    cert, context = tls
    got: list = []

    def handler(connection):
        for message in connection:
            got.append(message)

    server = serve(handler, "127.0.0.1", 0, ssl=context, compression=None, max_size=None)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"wss://127.0.0.1:{server.socket.getsockname()[1]}/ingest"
    try:
        untrusted = run_cli("replay", str(awkward), "--to", url, "--speed", "max")
        trusted = run_cli("replay", str(awkward), "--to", url, "--speed", "max", "--cacert", str(cert))
    finally:
        server.shutdown()
        thread.join(5)
    assert_no_traceback(untrusted)
    assert untrusted.returncode == 1
    assert b"TLS certificate verification failed" in untrusted.stderr and b"--cacert" in untrusted.stderr
    ok(trusted)
    assert got == AWKWARD


# -- shared timeline with replayed disconnects -------------------------------


def test_shared_timeline_replays_disconnects(tmp_path):
    records = [
        Frame("a", T0 + 0.01),
        Frame("b", T0 + 0.02),
        Marker("disconnected", T0 + 0.03),
        Marker("connected", T0 + 0.04),
        Frame("c", T0 + 0.05),
        Frame("d", T0 + 0.06),
    ]
    path = write_capture(tmp_path / "flap.capture.ndjson", records)
    args = ("replay", str(path), "--serve", "127.0.0.1:0", "--shared", "--wait-for-client", "--replay-disconnects", "--speed", "2")
    with CliProcess(*args) as server:
        url = server.url()
        before = collect_websocket_client(url)
        after = collect_websockets(url)  # the timeline waited for a client to come back
        rc, out, err = server.wait()
    assert before.messages == ["a", "b"]
    assert before.close_code == 1001
    assert after.messages == ["c", "d"]
    assert after.close_code == 1000
    assert rc == 0, err
    assert "served 4 frames to 2 clients (4 deliveries)" in err


# -- the Python API (used by `presencectl demo`) -----------------------------


def test_serve_capture_api_start_port_stop():
    from presencectl.engine.replay_server import serve_capture

    with serve_capture(MIXED, port=0, speed=None, loops=2) as server:
        assert server.port > 0
        assert server.url == f"ws://127.0.0.1:{server.port}/"
        got = collect_websocket_client(server.url)
        assert server.clients_served == 1
    texts = [m if isinstance(m, str) else m.decode("utf-8", "replace") for m in got.messages]
    frames = len(capture_payloads(Path(MIXED)))
    assert len(texts) == 2 * frames
    assert texts[:frames] == texts[frames:]
    assert got.close_code == 1000


def test_serve_capture_api_port_in_use():
    from presencectl.engine.replay_server import serve_capture
    from presencectl.errors import TransportError

    with serve_capture(SPAN, port=0) as first, pytest.raises(TransportError, match="already in use"):
        serve_capture(SPAN, port=first.port)


def test_a_closed_pipe_ends_quietly():
    import subprocess
    import sys

    from tests.conftest import ROOT, cli_env

    proc = subprocess.Popen(
        [sys.executable, "-m", "presencectl", "replay", SPAN, "--speed", "100", "-f", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env(),
        cwd=ROOT,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # like `| head -1`
    err = proc.stderr.read()
    assert proc.wait(60) == 0
    assert json.loads(first)["type"] == "clientConnected"
    assert b"Traceback" not in err and b"error" not in err
