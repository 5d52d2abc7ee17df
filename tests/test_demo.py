"""``presencectl demo``: the main job end to end, no outside server."""

from __future__ import annotations

import json

from tests.conftest import assert_no_traceback, run_cli


def test_demo_tails_the_bundled_capture_through_the_real_websocket_path():
    result = run_cli("demo", "--speed", "1000", "-f", "json", timeout=120)
    assert_no_traceback(result)
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert {"cloudconnect", "aliyun", "span", "spaces", "navixy"} <= {e["dialect"] for e in events}
    assert all(e["received"] for e in events)  # received live, not read from a file
    assert b"ws://127.0.0.1:" in result.stderr and b"replay finished" in result.stderr
    types = {e["type"] for e in events}
    assert {"firmwareStateChange", "ota.device.forward", "clientDisconnected", "failed_connect"} <= types


def test_demo_filters_apply():
    result = run_cli("demo", "--speed", "1000", "-f", "compact", "-t", "firmware*", "--time", "none", timeout=120)
    assert result.returncode == 0
    lines = result.stdout.decode().splitlines()
    assert lines and all(" firmware" in line for line in lines)


def test_demo_live_needs_a_terminal():
    result = run_cli("demo", "--live")
    assert result.returncode == 2 and b"terminal" in result.stderr
