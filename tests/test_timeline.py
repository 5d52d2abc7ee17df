"""``presencectl timeline``: the pure model, the terminal picture, SVG, and the page in a real browser."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from presencectl.core.decode import Decoder
from presencectl.core.events import Event, Frame
from presencectl.core.timeline import Timeline, bin_row
from presencectl.core.times import TimeParser
from tests.conftest import assert_no_traceback, cli_env, fixture, require_binary, run_cli

MIXED = fixture("mixed.capture.ndjson.gz")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def event(subject: str | None, t: float | None, kind: str = "message", presence: str | None = None, type_: str = "x") -> Event:
    from datetime import UTC, datetime

    return Event(
        dialect="generic", type=type_, kind=kind, subject=subject,
        time=datetime.fromtimestamp(t, UTC) if t is not None else None,
        summary=f"{type_} at {t}", raw={}, presence=presence,
    )


# ------------------------------------------------------------------ the model
def test_bin_row_states_cover_most_of_each_cell_and_ticks_rank_by_kind():
    tl = Timeline(clock="event")
    tl.add(event("a", 0, "connect", "online", "up"))
    tl.add(event("a", 30, "message"))
    tl.add(event("a", 31, "error"))
    tl.add(event("a", 60, "disconnect", "offline", "down"))
    tl.add(event("a", 100, "message"))
    (row,) = tl.rows()
    states, ticks = bin_row(row, 0, 100, 10)
    assert states == ["online"] * 6 + ["offline"] * 4
    assert ticks[0] == "connect"
    assert ticks[3] == "error"  # error beats the message in the same cell
    assert ticks[6] == "disconnect"
    assert ticks[9] == "message"
    assert ticks[1] is None and ticks[8] is None


def test_unknown_until_first_state_and_out_of_order_events_are_sorted():
    tl = Timeline(clock="event")
    tl.add(event("a", 50, "message"))
    tl.add(event("a", 10, "message"))  # late arrival
    tl.add(event("a", 60, "connect", "online"))
    tl.add(event("a", 100, "message"))
    (row,) = tl.rows()
    assert list(row.times) == [10, 50, 60, 100]
    states, _ = bin_row(row, 10, 100, 9)
    assert states[:5] == [None] * 5
    assert states[-1] == "online"


def test_events_without_subject_or_time_are_counted_not_drawn():
    tl = Timeline(clock="event")
    tl.add(event(None, 5))
    tl.add(event("a", None))
    tl.add(event("a", 7))
    assert (tl.events, tl.no_subject, tl.untimed, len(tl)) == (3, 1, 1, 1)
    assert tl.span() == (7, 8)  # a single instant is widened to one second


def test_top_keeps_the_busiest_in_first_seen_order():
    tl = Timeline(clock="event")
    for i, (name, n) in enumerate([("quiet", 1), ("busy", 5), ("mid", 3), ("busier", 9)]):
        for j in range(n):
            tl.add(event(name, i * 100 + j))
    assert [r.subject for r in tl.rows(top=2)] == ["busy", "busier"]


def test_rows_follow_the_presence_tracker_figures():
    """Flaps and offline totals at the rows' ends are the tracker's (the same as stats)."""
    decoder = Decoder(TimeParser())
    tl = Timeline(clock="received")
    from presencectl.transports.files import CaptureReader

    reader = CaptureReader(str(MIXED), lambda m: None)
    for record in reader.records_from(reader.lines()):
        if isinstance(record, Frame):
            for e in decoder.decode_frame(record):
                tl.add(e)
    reader.close()
    stats = json.loads(run_cli("stats", str(MIXED), "--json", "--clock", "received").stdout)
    flaps = {s["subject"]: s["flaps"] for s in stats["subjects"]}
    for row in tl.rows():
        assert tl.stats(row).flaps == flaps[row.subject]


# --------------------------------------------------------------- the terminal
@pytest.mark.parametrize("columns", [80, 200])
def test_terminal_picture_fits_the_width(columns):
    result = run_cli("timeline", str(MIXED), "--utc", "--color", "never", env=cli_env(COLUMNS=str(columns)))
    assert result.returncode == 0, result.stderr
    assert_no_traceback(result)
    lines = result.stdout.decode().splitlines()
    assert all(len(line) <= columns for line in lines), [len(x) for x in lines]
    what = "2026-03-12 08:00:00 → 08:15:05 UTC (15m05s)  15 subjects, 223 events"
    if columns >= 200:
        assert lines.pop(0) == f"{MIXED}  {what}"
    else:  # the source on a line of its own
        assert lines.pop(0) == str(MIXED) and lines.pop(0) == what
    assert "08:00:00" in lines[0] and lines[0].rstrip().endswith("flaps  offline")
    legend = [i for i, line in enumerate(lines) if line.startswith("legend:")][0]
    rows = lines[1:legend]
    assert len(rows) == 15
    flapper = next(r for r in rows if r.startswith("17kl14hm46h5aa"))
    assert re.search(r"\s13\s+59s$", flapper), flapper
    assert "D" in flapper and "C" in flapper and "=" in flapper
    assert lines[legend].startswith("legend: = online  _ offline")


def test_terminal_colour_uses_half_blocks_and_resets():
    result = run_cli("timeline", str(MIXED), "--utc", "--color", "always", "--top", "3")
    text = result.stdout.decode()
    assert result.returncode == 0
    assert "\x1b[0;32m▄" in text  # online, lower half
    assert "\x1b[0;31m▄" in text or "\x1b[0;31;" in text  # offline
    for line in text.splitlines():
        plain = ANSI.sub("", line)
        assert "\x1b" not in plain
    assert len([x for x in text.splitlines() if "▄" in x and "legend" not in x]) == 3


@pytest.mark.parametrize("columns", [80, 200])
def test_terminal_picture_in_tmux(tmp_path, columns):
    tmux = require_binary("tmux")
    socket = f"pctl-tl-{columns}-{time.monotonic_ns()}"
    done = tmp_path / "done"
    cmd = (
        f"cd {Path(__file__).resolve().parent.parent} && {shutil.which('python3') or 'python3'} -m presencectl timeline "
        f"{MIXED} --utc; touch {done}; sleep 30"
    )
    env = cli_env(TERM="xterm-256color")
    env.pop("COLUMNS")
    subprocess.run([tmux, "-L", socket, "new-session", "-d", "-x", str(columns), "-y", "40", cmd], check=True, env=env)
    try:
        deadline = time.monotonic() + 30
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert done.exists(), "timeline did not finish in tmux"
        screen = subprocess.run([tmux, "-L", socket, "capture-pane", "-p", "-e"], capture_output=True, check=True).stdout.decode()
    finally:
        subprocess.run([tmux, "-L", socket, "kill-server"], capture_output=True)
    lines = [ANSI.sub("", line) for line in screen.splitlines() if line.strip()]
    assert "15 subjects, 223 events" in lines[0] or "15 subjects, 223 events" in lines[0] + lines[1]
    assert all(len(line) <= columns for line in lines)
    axis = next(i for i, line in enumerate(lines) if line.rstrip().endswith("flaps  offline"))
    legend = next(i for i, line in enumerate(lines) if line.startswith("legend:"))
    assert legend - axis - 1 == 15
    assert all("▄" in line or "▀" in line for line in lines[axis + 1:legend])
    assert "\x1b[" in screen  # colour on a terminal


def test_hostile_subject_never_drives_the_terminal(tmp_path):
    capture = tmp_path / "evil.ndjson"
    capture.write_text(
        json.dumps({"event": "clientConnected", "deviceId": "\x1b]0;owned\x07[bold]x</script><script>alert(1)</script>",
                    "collectionId": "c", "time": "2026-01-01T00:00:00Z"}) + "\n"
    )
    result = run_cli("timeline", str(capture), "--color", "always")
    assert result.returncode == 0, result.stderr
    assert b"\x1b]0;" not in result.stdout and b"\x07" not in result.stdout
    assert b"\\x1b]0;owned" in result.stdout


# --------------------------------------------------------------- output files
def test_output_is_refused_when_it_exists_or_is_an_input(tmp_path):
    out = tmp_path / "s.html"
    out.write_text("precious")
    result = run_cli("timeline", str(MIXED), "-o", str(out))
    assert result.returncode == 2 and out.read_text() == "precious"
    assert b"--force" in result.stderr and result.stderr.count(b"\n") == 1
    copy = tmp_path / "c.capture.ndjson"
    shutil.copy(fixture("span-activity.capture.ndjson"), copy)
    link = tmp_path / "same.svg"
    link.hardlink_to(copy)
    result = run_cli("timeline", str(copy), "-o", str(link), "--force")
    assert result.returncode == 2 and b"also an input" in result.stderr
    assert copy.read_bytes() == fixture("span-activity.capture.ndjson").read_bytes()
    result = run_cli("timeline", str(MIXED), "-o", str(tmp_path / "s.png"))
    assert result.returncode == 2 and b"FILE.html or FILE.svg" in result.stderr
    result = run_cli("timeline", str(MIXED), "-o", str(out), "--force")
    assert result.returncode == 0 and out.read_text().startswith("<!DOCTYPE html>")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".presencectl-")]


def test_svg_is_well_formed_and_draws_every_row(tmp_path):
    out = tmp_path / "s.svg"
    result = run_cli("timeline", str(MIXED), "--utc", "-o", str(out))
    assert result.returncode == 0, result.stderr
    root = ET.parse(out).getroot()
    ns = {"s": "http://www.w3.org/2000/svg"}
    names = [t.text for t in root.findall("s:g/s:text", ns)]
    assert len(names) == 15 and "17kl14hm46h5aa" in names
    fills = {r.get("fill") for r in root.findall("s:rect", ns)}
    assert "#2e7d32" in fills and "#b71c1c" in fills  # online and offline blocks


def test_stdin_and_filters(tmp_path):
    data = fixture("span-activity.capture.ndjson").read_bytes()
    result = run_cli("timeline", "-", "-s", "17kl14hm46h4c2", "--color", "never", input=data)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    assert lines[0].startswith("stdin  ") and "1 subjects" in lines[0]


# ------------------------------------------------------------ the page (browser)
@pytest.fixture(scope="module")
def browser():
    require_binary("chromium")
    driver_path = require_binary("chromedriver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1300,900", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    yield driver
    driver.quit()


def _page(tmp_path, *args):
    out = tmp_path / "session.html"
    result = run_cli("timeline", *args, "-o", str(out))
    assert result.returncode == 0, result.stderr
    return out


def test_page_draws_rows_blocks_and_a_hover_tooltip(browser, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    page = _page(tmp_path, str(MIXED), "--utc")
    text = page.read_text()
    assert "http://" not in text.replace("http://www.w3.org", "") and "https://" not in text  # nothing fetched
    browser.get(page.as_uri())
    assert str(MIXED) in browser.title and "15m05s" in browser.title
    canvas = browser.find_element(By.ID, "lanes")
    assert canvas.get_attribute("data-rows") == "15"
    assert len(browser.find_elements(By.CSS_SELECTOR, "#stats tbody tr")) == 15
    legend = browser.find_element(By.ID, "legend").text
    assert "online" in legend and "disconnect" in legend
    # A block: the pixel in the middle of the online run of the first always-online row is green.
    rows = browser.execute_script("return window.presencectl.data.rows.map(r => r.s)")
    n = rows.index("5f04251caa4a347af9945f06")
    colour = browser.execute_script(
        """const c = document.getElementById('lanes'), p = window.presencectl, dpr = window.devicePixelRatio || 1;
           const x = Math.round(p.xOf((p.view()[0] + p.view()[1]) / 2)), y = Math.round(p.rowY(arguments[0]) + 3);
           return Array.from(c.getContext('2d').getImageData(x * dpr, y * dpr, 1, 1).data);""",
        n,
    )
    assert colour[:3] == [0x2E, 0x7D, 0x32], colour
    # Hover on a tick: the tooltip names the event.
    n = rows.index("17kl14hm46h5aa")
    first_tick = browser.execute_script("return window.presencectl.data.rows[arguments[0]].T[0]", n)
    x, y = browser.execute_script(
        "const p = window.presencectl; return [p.xOf(arguments[0]), p.rowY(arguments[1]) - 5]", first_tick, n
    )
    rect = canvas.rect
    ActionChains(browser).move_to_element_with_offset(canvas, int(x - rect["width"] / 2), int(y - rect["height"] / 2)).perform()
    tip = browser.find_element(By.ID, "tip")
    assert tip.is_displayed()
    assert tip.get_attribute("data-kind") == "tick"
    assert "17kl14hm46h5aa" in tip.text and "clientConnected" in tip.text and "span" in tip.text
    # Zoom in with the wheel over the lanes, then pan by dragging.
    before = browser.execute_script("return window.presencectl.view()")
    ActionChains(browser).scroll_from_origin(
        __import__("selenium.webdriver.common.actions.wheel_input", fromlist=["ScrollOrigin"]).ScrollOrigin.from_element(canvas), 0, -300
    ).perform()
    zoomed = browser.execute_script("return window.presencectl.view()")
    assert zoomed[1] - zoomed[0] < before[1] - before[0]
    ActionChains(browser).move_to_element(canvas).click_and_hold().move_by_offset(200, 0).release().perform()
    panned = browser.execute_script("return window.presencectl.view()")
    assert panned[0] < zoomed[0]
    assert abs((panned[1] - panned[0]) - (zoomed[1] - zoomed[0])) < 1


def test_page_keeps_hostile_text_as_text(browser, tmp_path):
    from selenium.webdriver.common.by import By

    capture = tmp_path / "evil.ndjson"
    name = "</script><img src=x onerror=alert(1)><b>x</b>"
    capture.write_text(
        json.dumps({"event": "clientConnected", "deviceId": name, "collectionId": "c", "time": "2026-01-01T00:00:00Z"}) + "\n"
    )
    page = _page(tmp_path, str(capture))
    browser.get(page.as_uri())
    cells = [c.text for c in browser.find_elements(By.CSS_SELECTOR, "#stats tbody td:first-child")]
    assert cells == [name]
    assert browser.find_elements(By.CSS_SELECTOR, "#stats img, #stats b") == []


# ------------------------------------------------------------ a live source
def test_live_source_redraws_in_place_and_leaves_the_picture(tmp_path):
    """`timeline ws://…` in a real terminal: rows appear as frames arrive; Ctrl-C leaves the whole picture."""
    import asyncio
    import shlex
    import sys

    from tests.live_support import WsServer, hold
    from tests.test_live_table import Tmux

    release = asyncio.Event()

    async def handler(ws, server):  # two devices now, a third once the test has seen the first two
        for line in (
            {"event": "clientConnected", "deviceId": "devA", "collectionId": "c", "time": "2026-03-12 08:00:00"},
            {"event": "clientConnected", "deviceId": "devB", "collectionId": "c", "time": "2026-03-12 08:00:01"},
            {"event": "clientDisconnected", "deviceId": "devA", "collectionId": "c", "time": "2026-03-12 08:00:02"},
        ):
            await ws.send(json.dumps(line))
        server.done.set()
        while not release.is_set():
            await asyncio.sleep(0.05)
        await ws.send(json.dumps({"event": "clientConnected", "deviceId": "devC", "collectionId": "c", "time": "2026-03-12 08:00:03"}))
        await hold(ws, 60)

    term = Tmux()
    with WsServer(handler) as server:
        try:
            term.start(f"{shlex.quote(sys.executable)} -m presencectl timeline {server.url} --utc")
            screen = term.wait_for(lambda s: "devA" in s and "devB" in s, "devA and devB")
            assert "devC" not in screen
            assert not term.cursor_visible()
            server._loop.call_soon_threadsafe(release.set)  # type: ignore[union-attr]
            term.wait_for(lambda s: "devC" in s, "devC")
            term.keys("C-c")
            screen = term.wait_for(lambda s: "EXIT=" in s, "the end")
        finally:
            term.close()
    assert "EXIT=130" in screen
    lines = screen.splitlines()
    title = next(i for i, line in enumerate(lines) if "3 subjects, 4 events" in line)
    picture = lines[title:]
    rows = {line.split()[0]: line for line in picture if line.split() and line.split()[0].startswith("dev")}
    assert set(rows) == {"devA", "devB", "devC"}
    for row in rows.values():
        flaps, offline = row.split()[-2:]
        assert flaps == "0", row  # one change each at most: never a flap
        assert re.fullmatch(r"\d+s|\d+m\d\ds", offline), row
        assert "▄" in row, row  # a known state drawn for each
