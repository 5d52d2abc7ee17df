"""``stats`` on captures whose device clocks are wrong (issue 15, item 7).

Spans and rates come from receive times where the input has them; device
clocks are reported apart as clock skew; parsed events with no type are not
"unparsed"."""

from __future__ import annotations

import json

from presencectl.core.presence import PresenceTracker, Samples
from tests.conftest import assert_no_traceback, cli_env, fixture, run_cli

MIXED = str(fixture("mixed.capture.ndjson.gz"))
DAY = 86400


def stats_json(*args: str, input: bytes | None = None, env: dict | None = None) -> dict:
    result = run_cli("stats", *args, "--json", input=input, env=env)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert_no_traceback(result)
    return json.loads(result.stdout)


def test_bundled_capture_spans_its_receive_times():
    report = stats_json(MIXED)
    assert report["settings"]["clock"] == "received"
    assert round(report["span_s"]) == 905  # 15m05s, not 4640 days
    assert report["first"].startswith("2026-03-12T08:00") and report["out_of_order"] == 0
    assert round(report["rate_per_s"], 2) == 0.25
    text = run_cli("stats", MIXED).stdout.decode()
    assert "15m05s, 0.25 events/s (receive times)" in text
    assert "4640d" not in text.split("clocks")[0]


def test_device_clocks_are_reported_as_skew():
    report = stats_json(MIXED)
    skew = report["clock_skew"]
    assert skew["limit_s"] == 300.0 and skew["outliers"] == 4
    assert skew["subjects"] == 2  # a count: names are in subjects[] (and anonymised captures compare equal)
    assert abs(skew["median_s"]) < 5
    subjects = {s["subject"]: s for s in report["subjects"]}
    worst = subjects["357322041802978"]
    assert round(worst["skew_worst_s"] / DAY) == -4640 and abs(worst["skew_median_s"]) < 10
    assert subjects["5f0426ccaa4a34aaf9994cdf"]["skew_median_s"] is None  # Spaces: no device time
    text = run_cli("stats", MIXED, "--top", "0", env=cli_env(COLUMNS="200")).stdout.decode()
    assert "clocks    device time − receive time: median -307ms; 4 events more than 5m off, from 2 subjects" in text
    header = next(line for line in text.splitlines() if line.startswith("subject") and "skew" in line)
    assert header.split()[-3:] == ["skew", "worst", "skew"]
    row = next(line for line in text.splitlines() if line.startswith("357322041802978") and "offline" in line)
    assert row.split()[-2:] == ["-3.1s", "-4640d00h"]


def test_clock_event_keeps_device_times():
    report = stats_json(MIXED, "--clock", "event")
    assert report["settings"]["clock"] == "event"
    assert round(report["span_s"] / DAY) == 4640
    assert report["clock_skew"]["outliers"] == 4  # judged the same on either clock


def test_plain_ndjson_has_no_receive_times():
    report = stats_json(input=fixture("events.ndjson").read_bytes())
    assert report["settings"]["clock"] == "event"
    assert report["clock_skew"] == {"events": 0, "median_s": None, "limit_s": 300.0, "outliers": 0, "subjects": 0}
    assert all(s["skew_median_s"] is None and s["skew_worst_s"] is None for s in report["subjects"])
    assert "clocks" not in run_cli("stats", "-", input=fixture("events.ndjson").read_bytes()).stdout.decode()


def test_parallel_read_gives_the_same_report():
    serial = stats_json(MIXED, env=cli_env(PRESENCECTL_JOBS="1"))
    parallel = stats_json(MIXED, env=cli_env(PRESENCECTL_JOBS="2"))
    assert parallel == serial


NO_TYPE = b'{"device":"d1","temp":21}\n{"device":"d2"}\nnot json\n{"type":"hello","device":"d1"}\n'


def test_a_parsed_event_without_a_type_is_not_unparsed():
    text = run_cli("stats", "-", input=NO_TYPE).stdout.decode()
    rows = {line.split()[0]: line.split() for line in text.splitlines() if line and line[0] in "(uh"}
    assert rows["(no"][:4] == ["(no", "type)", "generic", "other"] and rows["(no"][4] == "2"
    assert rows["unparsed"][:3] == ["unparsed", "-", "-"] and rows["unparsed"][3] == "1"
    by_type = run_cli("stats", "-", "--by", "type", input=NO_TYPE).stdout.decode()
    assert any(line.split()[:3] == ["(no", "type)", "generic"] for line in by_type.splitlines())
    assert any(line.split()[:2] == ["unparsed", "unparsed"] for line in by_type.splitlines())
    types = stats_json("-", input=NO_TYPE)["counts"]["type"]
    assert {(t["dialect"], t["type"]): t["count"] for t in types} == {
        ("generic", None): 2, ("unparsed", None): 1, ("generic", "hello"): 1,
    }


def test_samples_keep_an_exact_median_then_bounded_memory():
    samples = Samples(cap=8)
    for v in (5.0, 1.0, 3.0):
        samples.add(v)
    assert samples.median() == 3.0
    big = Samples(cap=64)
    for i in range(10_001):
        big.add(float(i))
    assert len(big.values) < 64
    assert abs((big.median() or 0) - 5000) < 200
    assert Samples().median() is None


def test_tracker_auto_clock_resolves_to_what_the_input_had():
    assert PresenceTracker(clock="auto").report()["settings"]["clock"] == "event"
