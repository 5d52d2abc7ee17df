"""``replay``'s progress bar, in a real terminal (tmux): shown on stderr while the events
go to a file, gone when the replay ends, the summary left behind."""

from __future__ import annotations

import json

from tests.conftest import run_cli
from tests.test_live_table import PYTHON, SPAN, tmux  # noqa: F401 - tmux is a fixture

SPAN_FRAMES = 125  # records (frames and markers) after the header of fixtures/span-activity.capture.ndjson


def test_the_progress_bar_while_replaying_to_a_file(tmux, tmp_path):  # noqa: F811
    out = tmp_path / "events.ndjson"
    tmux.start(f"{PYTHON} -m presencectl replay {SPAN} -f json --speed 10 --max-gap 1 --loop 2 > {out}")
    screen = tmux.wait_for(lambda s: "━" in s and "loop 2/2" in s, "the bar in its second loop")
    bar = next(line for line in screen.splitlines() if "━" in line)
    assert bar.startswith("span-activity.capture.ndjson → stdo…")  # the title is cut at 36 columns
    assert " frames · t+" in bar and "×10" in bar and "loop 2/2" in bar
    sent = int(bar.split(" frames")[0].split()[-1].replace(",", ""))
    assert SPAN_FRAMES - 5 < sent <= 2 * SPAN_FRAMES  # the count goes on across loops
    end = tmux.wait_for(lambda s: "EXIT=" in s, "the end")
    assert "EXIT=0" in end
    assert "━" not in end and "loop 2/2" not in end  # the bar is transient
    # the events went to the file, both loops, as cat shows them
    once = run_cli("cat", SPAN.strip("'"), "-f", "json").stdout
    assert out.read_bytes() == once * 2
    assert all(json.loads(line) for line in out.read_bytes().splitlines())
