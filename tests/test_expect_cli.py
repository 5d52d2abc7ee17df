"""``presencectl expect`` end to end: the real CLI against a WebSocket server and
mosquitto pushing a scripted device session, and against captures and stdin.

Each live scenario is one device flashing new firmware: it connects, is told
to update, reboots (offline, online) and reports the new version. Variants
add an error on the way, or stop before the reboot.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import (
    assert_no_traceback,
    cli_env,
    fixture,
    free_port,
    modules_loaded_by,
    run_cli,
)
from tests.live_support import Cli, WsServer, hold, no_proxy_env
from tests.mqtt_support import Brokers

DEVICE = "17kl14hm46h4c2"


def span(event: str, **data: Any) -> str:
    payload: dict[str, Any] = {"collectionId": "c1", "deviceId": DEVICE, "event": event}
    if data:
        payload["data"] = data
    return json.dumps(payload)


FLASH = [
    span("clientConnected", id="certificate"),
    span("upstreamMessage", bytes="9"),
    span("firmwareUpdateRequired", current="1.4.2", target="1.5.0"),
    span("clientDisconnected"),
    span("clientConnected", id="certificate"),
    span("firmwareCurrent", version="1.5.0"),
]
WITH_ERROR = [*FLASH[:3], span("imeiMismatch", imei="357322041802978"), *FLASH[3:]]
CUT_SHORT = FLASH[:4]
SCRIPTS = {"pass": FLASH, "timeout": FLASH, "never": WITH_ERROR, "ends": CUT_SHORT}
GAP = 0.25

#: The CI check of the issue: online within a time, the new firmware within another, no error.
PLAN = [
    "--presence", f"{DEVICE}=online", "--within", "10",
    "--step", f"subject={DEVICE} type=firmwareUpdateRequired",
    "--presence", f"{DEVICE}=offline",
    "--presence", f"{DEVICE}=online", "--within", "10",
    "--step", "type=firmwareCurrent data.version=1.5.0", "--within", "10",
    "--never", "kind=error",
]
#: The same, waiting for a version that never comes: step 5 times out after 1 s.
PLAN_TIMEOUT = [*PLAN[:-6], "--step", "type=firmwareCurrent data.version=9.9.9", "--within", "1", "--never", "kind=error"]


def plan_for(case: str) -> list[str]:
    return PLAN_TIMEOUT if case == "timeout" else PLAN


@contextmanager
def websocket_device(case: str) -> Iterator[list[str]]:
    async def handler(ws: Any, server: WsServer) -> None:
        for payload in SCRIPTS[case]:
            await ws.send(payload)
            await asyncio.sleep(GAP)
        if case == "ends":
            await ws.close(1000, "session finished")
            return
        await hold(ws, 30)

    with WsServer(handler) as server:
        yield [server.url]


@contextmanager
def mqtt_device(case: str, tmp_path: Path) -> Iterator[tuple[list[str], Any]]:
    with Brokers(tmp_path) as make:
        broker = make()

        def publish() -> None:
            for payload in SCRIPTS[case]:
                broker.publish(f"span/{DEVICE}/activity", payload)
                threading.Event().wait(GAP)

        thread = threading.Thread(target=publish, daemon=True)
        # The stream "ends" as MQTT streams do: it goes quiet (--timeout, an idle timeout).
        yield [broker.url, "-T", "span/#", *(["--timeout", "1.5"] if case == "ends" else [])], thread.start
        thread.join(30)


@contextmanager
def socketio_device(case: str, tmp_path: Path) -> Iterator[list[str]]:
    from presencectl.core.events import Frame
    from tests.replay_support import CliProcess, write_capture

    frames = [Frame(p, 1000.0 + i * GAP) for i, p in enumerate(SCRIPTS[case])]
    capture = write_capture(tmp_path / "device.capture.ndjson", frames, started=1000.0)
    with CliProcess("replay", str(capture), "--serve", "127.0.0.1:0", "--socketio", "--speed", "1") as server:
        port = server.wait_for(r"on sio://127\.0\.0\.1:(\d+)").group(1)
        yield [f"sio://127.0.0.1:{port}"]
        server.stop()


def run_expect_live(kind: str, case: str, tmp_path: Path, *extra: str) -> tuple[int, Cli]:
    junit = tmp_path / "report.xml"
    args = [*plan_for(case), "--junit", str(junit), "--record", str(tmp_path / "evidence.capture.ndjson"), *extra]
    if kind == "websocket":
        with websocket_device(case) as source, Cli("expect", *source, *args, env=no_proxy_env()) as cli:
            return cli.finish(timeout=60), cli
    if kind == "socketio":
        with socketio_device(case, tmp_path) as source, Cli("expect", *source, *args, env=no_proxy_env()) as cli:
            return cli.finish(timeout=60), cli
    if kind == "webhook":
        from tests.live_support import post

        url = f"http://127.0.0.1:{free_port()}/hook"
        with Cli("expect", url, "--listen", *args, env=no_proxy_env()) as cli:
            cli.wait_stderr("listening for POSTs")
            for payload in SCRIPTS[case]:
                if cli.proc.poll() is not None:
                    break
                post(url, payload.encode())
                time.sleep(GAP)
            return cli.finish(timeout=60), cli
    with mqtt_device(case, tmp_path) as (source, start), Cli("expect", *source, *args, env=no_proxy_env()) as cli:
        cli.wait_stderr("connected to")
        start()
        return cli.finish(timeout=60), cli


def junit_of(path: Path) -> ET.Element:
    """Parse the report and check the shape CI systems read (the common JUnit XSD)."""
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    (suite,) = root
    assert suite.tag == "testsuite"
    cases = list(suite)
    assert all(case.tag == "testcase" for case in cases)
    for element in (root, suite):
        assert int(element.get("tests")) == len(cases)  # type: ignore[arg-type]
        assert int(element.get("failures")) == sum(1 for c in cases if c.find("failure") is not None)  # type: ignore[arg-type]
        assert int(element.get("skipped")) == sum(1 for c in cases if c.find("skipped") is not None)  # type: ignore[arg-type]
        assert element.get("errors") == "0"
        float(element.get("time"))  # type: ignore[arg-type]
    for case in cases:
        assert case.get("name") and case.get("classname") == "presencectl.expect"
        float(case.get("time"))  # type: ignore[arg-type]
        failure = case.find("failure")
        if failure is not None:
            assert failure.get("message") and failure.get("type")
    return suite


def lines(cli: Cli) -> list[str]:
    return [line for line in cli.stdout.decode().splitlines() if line.startswith(("PASS ", "FAIL ", "PASSED", "FAILED"))]


LIVE = pytest.mark.parametrize("kind", ["websocket", "mqtt"])


@pytest.mark.parametrize("kind", ["websocket", "mqtt", "socketio", "webhook"])
def test_a_device_that_flashes_and_comes_back_passes(kind, tmp_path):
    status, cli = run_expect_live(kind, "pass", tmp_path)
    assert status == 0, cli.stderr
    assert "Traceback" not in cli.stderr
    got = lines(cli)
    assert [line.split("  ")[0] for line in got[:-1]] == [
        f"PASS step 1: presence {DEVICE}=online",
        f"PASS step 2: subject={DEVICE} type=firmwareUpdateRequired",
        f"PASS step 3: presence {DEVICE}=offline",
        f"PASS step 4: presence {DEVICE}=online",
        "PASS step 5: type=firmwareCurrent data.version=1.5.0",
    ]
    assert f"firmwareCurrent {DEVICE} at " in got[4] and " after " in got[4]
    assert got[-1].startswith("PASSED: 5/5 steps passed in ")
    assert b"firmwareUpdateRequired" in cli.stdout and b'"target": "1.5.0"' in cli.stdout  # events, as tail -v
    suite = junit_of(tmp_path / "report.xml")
    assert [c.get("name") for c in suite] == [
        f"step 1: presence {DEVICE}=online",
        f"step 2: subject={DEVICE} type=firmwareUpdateRequired",
        f"step 3: presence {DEVICE}=offline",
        f"step 4: presence {DEVICE}=online",
        "step 5: type=firmwareCurrent data.version=1.5.0",
        "never: kind=error",
    ]
    assert suite.get("failures") == "0"
    # The evidence: every frame, and the same expectations pass on it again (the capture's own time).
    evidence = tmp_path / "evidence.capture.ndjson"
    recorded = [json.loads(line) for line in evidence.read_text().splitlines()[1:]]
    assert [r["text"] for r in recorded if "text" in r] == FLASH
    again = run_cli("expect", str(evidence), "-q", *PLAN)
    assert again.returncode == 0, again.stderr
    assert b"PASSED: 5/5 steps passed" in again.stdout


@LIVE
def test_a_step_that_times_out_exits_3_on_time(kind, tmp_path):
    status, cli = run_expect_live(kind, "timeout", tmp_path, "-q")
    assert status == 3, cli.stderr
    got = lines(cli)
    assert got[-2] == "FAIL step 5: type=firmwareCurrent data.version=9.9.9  no match within 1.0 s after 1.0 s"
    assert got[-1].startswith("FAILED: 4/5 steps passed; step 5: type=firmwareCurrent data.version=9.9.9: no match within 1.0 s")
    suite = junit_of(tmp_path / "report.xml")
    failed = [c for c in suite if c.find("failure") is not None]
    assert [c.get("name") for c in failed] == ["step 5: type=firmwareCurrent data.version=9.9.9"]
    assert failed[0].find("failure").get("message") == "no match within 1.0 s"  # type: ignore[union-attr]


@LIVE
def test_an_error_event_fails_at_once_through_never(kind, tmp_path):
    status, cli = run_expect_live(kind, "never", tmp_path, "-q")
    assert status == 3, cli.stderr
    got = lines(cli)
    assert got[-2].startswith(f"FAIL never: kind=error  imeiMismatch {DEVICE} at ")
    assert got[-1].startswith("FAILED: 2/5 steps passed; --never 'kind=error' matched")
    suite = junit_of(tmp_path / "report.xml")
    assert suite.get("failures") == "1" and suite.get("skipped") == "3"
    never_case = suite[-1]
    assert never_case.get("name") == "never: kind=error" and never_case.find("failure").get("type") == "NeverMatched"  # type: ignore[union-attr]


@LIVE
def test_the_stream_ending_before_the_steps_exits_3(kind, tmp_path):
    status, cli = run_expect_live(kind, "ends", tmp_path, "-q")
    assert status == 3, cli.stderr
    got = lines(cli)
    assert got[-2].startswith(f"FAIL step 4: presence {DEVICE}=online  the stream ended first after ")
    assert got[-1].startswith("FAILED: 3/5 steps passed")
    junit_of(tmp_path / "report.xml")


def test_json_verdict_on_stdout_instead_of_lines(tmp_path):
    with websocket_device("timeout") as source, Cli("expect", *source, *PLAN_TIMEOUT, "--json", env=no_proxy_env()) as cli:
        status = cli.finish(timeout=60)
    assert status == 3, cli.stderr
    verdict = json.loads(cli.stdout)  # one document, nothing else on stdout
    assert verdict["schema"] == "presencectl.expect/1" and verdict["passed"] is False and verdict["status"] == 3
    assert [s["status"] for s in verdict["steps"]] == ["passed"] * 4 + ["failed"]
    assert verdict["steps"][4]["within_s"] == 1.0 and verdict["steps"][4]["why"] == "no match within 1.0 s"
    assert verdict["steps"][0]["event"]["subject"] == DEVICE and verdict["steps"][0]["kind"] == "presence"
    assert verdict["never"] == [{"expr": "kind=error", "status": "passed", "event": None}]


# -- captures and stdin: the capture's own time, no waiting

CAPTURE = str(fixture("span-activity.capture.ndjson"))
#: In span-activity: 17kl14hm46h4c2 is told to update at +121 s, reboots at
#: +186/+205 s and reports 1.5.0 at +206 s; 17kl14hm46h4d9 has an imsiMismatch at +500 s.
CAPTURE_PLAN = [
    "--presence", f"{DEVICE}=online", "--within", "1m",
    "--step", f"subject={DEVICE} type=firmwareUpdateRequired", "--within", "5m",
    "--presence", f"{DEVICE}=offline",
    "--presence", f"{DEVICE}=online", "--within", "1m",
    "--step", "type=firmwareCurrent data.version=1.5.0", "--within", "10s",
]


@pytest.mark.parametrize(
    ("extra", "status", "last_step"),
    [
        ([], 0, "PASS step 5: type=firmwareCurrent data.version=1.5.0  firmwareCurrent 17kl14hm46h4c2 at 2026-03-12 08:03:26.000 after 0.80 s"),
        (["--step", "type=nosuch", "--within", "30s"], 3, "FAIL step 6: type=nosuch  no match within 30 s after 30 s"),
        (["--step", "type=nosuch"], 3, "FAIL step 6: type=nosuch  the stream ended first after 11m39s"),
        (["--never", "type=firmwareStateChange"], 3, None),
    ],
    ids=["pass", "step-timeout", "capture-ends", "never"],
)
def test_a_capture_is_checked_on_its_own_time_without_waiting(extra, status, last_step):
    result = run_cli("expect", CAPTURE, "-q", *CAPTURE_PLAN, *extra)
    assert_no_traceback(result)
    assert result.returncode == status, result.stderr
    out = result.stdout.decode().splitlines()
    if last_step is not None:
        assert out[-2] == last_step
    else:
        assert out[-2].startswith("FAIL never: type=firmwareStateChange  firmwareStateChange 17kl14hm46h4c2 at 2026-03-12 08:02:05.000")
        assert out[-1].startswith("FAILED: 2/5 steps passed; --never 'type=firmwareStateChange' matched")


def test_stdin_and_a_gzipped_capture_work_like_a_file():
    data = fixture("span-activity.capture.ndjson").read_bytes()
    result = run_cli("expect", "-", "-q", *CAPTURE_PLAN, input=data)
    assert result.returncode == 0, result.stderr
    mixed = run_cli("expect", str(fixture("mixed.capture.ndjson.gz")), "-q", "--presence", "357322041802978=offline", "--never", "type=nosuch")
    assert mixed.returncode == 0, mixed.stderr


def test_plain_ndjson_uses_the_events_own_time():
    result = run_cli("expect", str(fixture("events.ndjson")), "-q", "--step", "type=clientConnected", "--step", "type=clientDisconnected", "--within", "2")
    assert result.returncode == 0, result.stderr
    assert b"PASS step 2: type=clientDisconnected  clientDisconnected 17kl14hm46h4c2 at 2024-04-25 20:23:37.000 after 1.0 s" in result.stdout


def test_nevers_alone_pass_when_the_capture_ends_clean():
    result = run_cli("expect", CAPTURE, "--never", "kind=error", "--never", "type=nosuch", "--json")
    verdict = json.loads(result.stdout)
    assert result.returncode == 3 and verdict["never"][0]["status"] == "failed"  # the imsiMismatch
    result = run_cli("expect", CAPTURE, "--never", "type=nosuch", "--json")
    assert result.returncode == 0 and json.loads(result.stdout)["passed"] is True


def test_expect_on_a_stdin_that_never_ends_stops_at_the_deadline():
    with Cli("expect", "-", "--step", "type=x", "--deadline", "1", stdin=subprocess.PIPE, env=no_proxy_env()) as cli:
        status = cli.finish()
    assert status == 3
    assert "FAIL step 1: type=x  the --deadline of 1 s passed first" in cli.stdout.decode()


def test_payload_text_in_step_lines_and_junit_is_escaped(tmp_path):
    evil = json.dumps({"collectionId": "c", "deviceId": "d\x1b[2J\x07", "event": "client\x1b]0;owned\x07Connected"})
    junit = tmp_path / "r.xml"
    result = run_cli("expect", "-", "--step", "type=client*", "--junit", str(junit), "--color", "always", input=evil.encode() + b"\n")
    assert result.returncode == 0, result.stderr
    assert b"\x07" not in result.stdout and b"\x1b]0" not in result.stdout and b"\x1b[2J" not in result.stdout
    root = junit_of(junit)
    assert "\\x1b" in ET.tostring(root, encoding="unicode")


# -- usage and runtime errors: one line, the right exit status


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "expect needs at least one --step, --presence or --never"),
        (["--within", "5", "--step", "type=a"], "--within must follow the --step or --presence it limits"),
        (["--step", "type=a", "--within", "5", "--within", "6"], "two --within for step 1: type=a"),
        (["--step", "kind=bogus"], "bad expression 'kind=bogus'"),
        (["--step", "data.version"], "bad expression 'data.version'"),
        (["--presence", "dev42=up"], "bad --presence 'dev42=up'"),
        (["--step", "type=a", "--within", "soon"], "bad --within 'soon'"),
        (["--step", "type=a", "--deadline", "0"], "bad --deadline '0'"),
        (["--step", "type=a", "--timeout", "5"], "--timeout cannot be used with a file source"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(args, message):
    result = run_cli("expect", CAPTURE, *args)
    assert_no_traceback(result)
    assert result.returncode == 2, result.stderr
    err = result.stderr.decode()
    assert err.startswith("presencectl: error: ") and message in err and len(err.strip().splitlines()) == 1


def test_an_existing_junit_file_is_refused_before_anything_runs(tmp_path):
    junit = tmp_path / "report.xml"
    junit.write_text("keep me")
    result = run_cli("expect", f"ws://127.0.0.1:{free_port()}/x", "--step", "type=a", "--junit", str(junit))
    assert result.returncode == 2 and b"--force" in result.stderr and junit.read_text() == "keep me"


def test_a_refused_connection_exits_1():
    result = run_cli("expect", f"ws://127.0.0.1:{free_port()}/x", "--step", "type=a", "--no-reconnect")
    assert_no_traceback(result)
    assert result.returncode == 1 and b"refused" in result.stderr


def test_help_lists_the_expectation_options():
    result = run_cli("expect", "--help", env=cli_env(COLUMNS="200"))
    text = result.stdout.decode()
    assert result.returncode == 0
    for flag in ("--step", "--within", "--presence", "--never", "--junit", "--json", "--record", "--deadline"):
        assert flag in text
    # The per-transport options are behind --help-all, as for tail.
    result = run_cli("expect", "--help-all", env=cli_env(COLUMNS="200"))
    assert result.returncode == 0
    for flag in ("--topic", "--header"):
        assert flag in result.stdout.decode()


def test_a_connection_profile_works_and_its_display_filters_are_left_to_tail(tmp_path):
    config = tmp_path / "profiles.toml"
    with websocket_device("pass") as source:
        config.write_text(f'[profiles.bench]\nurl = "{source[0]}"\ntype = ["client*"]\nreconnect = false\n')
        with Cli("expect", "@bench", "--config", str(config), "-q", *PLAN, env=no_proxy_env()) as cli:
            status = cli.finish(timeout=60)
    assert status == 0, cli.stderr
    assert lines(cli)[-1].startswith("PASSED: 5/5 steps passed")


def test_expect_help_loads_no_transport():
    code = (
        "import sys, contextlib, io\n"
        "sys.argv = ['presencectl', 'expect', '--help']\n"
        "from presencectl.__main__ import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n        main()\n    except SystemExit:\n        pass\n"
    )
    modules = modules_loaded_by(code)
    assert not {m for m in modules if m.split(".")[0] in ("paho", "websocket", "websockets", "socketio", "engineio")}
    assert "presencectl.core.expect" not in modules
