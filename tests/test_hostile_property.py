"""Issue 12 item 2: one hostile value is a field that cannot be read, never fatal.

A property test: every dialect's real payloads (the bundled fixtures and
vendor samples) with fields replaced by arbitrary JSON values (NaN,
±Infinity, numbers past 1e308, 100-digit integers, "²" and other non-ASCII
digits, times at the edges of the calendar, deep nesting) are decoded,
filtered, rendered in every format and fed to ``stats`` (its JSON and its
tables), and nothing raises. The seed is fixed and the examples bounded, so
CI runs it the same way every time in a few seconds.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from presencectl.core.capture import decode_record, parse_header
from presencectl.core.decode import Decoder
from presencectl.core.events import Frame
from presencectl.core.filters import parse_filters
from presencectl.core.presence import PresenceTracker, compact
from presencectl.core.render import FORMATS, RenderOptions, make_renderer
from presencectl.core.times import TimeParser, parse_zone
from tests.conftest import FIXTURES

SHARED_SAMPLES = Path("/work/shared/samples")


def _objects(text: str) -> list[Any]:
    """JSON documents in a sample file: one per line, or the whole file."""
    try:
        return [json.loads(text)]
    except ValueError:
        pass
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith(("{", "[")):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def _payloads() -> list[tuple[Any, str | None]]:
    """(payload, topic) from every capture fixture and sample file."""
    found: list[tuple[Any, str | None]] = []
    for path in sorted(FIXTURES.glob("*.capture.ndjson")):
        for line in path.read_text("utf-8").splitlines()[1:]:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and isinstance(record.get("text"), str):
                for obj in _objects(record["text"]):
                    found.append((obj, record.get("topic")))
    for folder in (FIXTURES / "samples", SHARED_SAMPLES):
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.suffix in (".json", ".ndjson", ".txt"):
                for obj in _objects(path.read_text("utf-8", "replace")):
                    found.append((obj, None))
    for line in (FIXTURES / "events.ndjson").read_text("utf-8").splitlines():
        found.extend((obj, None) for obj in _objects(line))
    # Unique, stable order.
    seen: dict[str, tuple[Any, str | None]] = {}
    for obj, topic in found:
        seen.setdefault(json.dumps([obj, topic], sort_keys=True), (obj, topic))
    return list(seen.values())


PAYLOADS = _payloads()

#: Strings that once ended sessions or sit at the edges of what a clock reads.
NASTY_STRINGS = [
    "²", "١٢٣", "٣", "1²", "9" * 30, "1e400", "NaN", "-Infinity", "",
    "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "9999-12-31 23:59:59",
    "0000-00-00 00:00:00", "2024-02-30T10:00:00", "10000-01-01", "24:00",
    "2024-04-25T20:23:36.123456789+23:59", "\x1b]0;owned\x07", "\u202e\u2066x", "[bold]x[/]",
    "\ud800", "%s%n", "x" * 300,
]
NUMBERS = [
    math.nan, math.inf, -math.inf, 1e308, -1e308, 1e-320, 0.0, -0.0,
    10**30, -(10**30), 10**400, 2**63, -(2**63) - 1, 2**64, 253402300799, 253402300800,
    -62135596800, 1510292697471, 9 * 10**18, -1,
]


def _deep(depth: int) -> str:
    """A placeholder that :func:`_dumps` replaces with JSON ``depth`` levels deep."""
    return f"__DEEP_{depth}__"


def _deep_text(depth: int) -> str:
    opening = "".join('[' if i % 2 else '{"a":' for i in range(depth))
    closing = "".join(']' if i % 2 else '}' for i in reversed(range(depth)))
    return opening + "1" + closing


DEPTHS = (150, 199, 260, 1200)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(NUMBERS),
    st.integers(),
    st.integers(min_value=-(10**120), max_value=10**120),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(NASTY_STRINGS),
    st.text(max_size=20),
)
json_values = st.one_of(
    st.recursive(
        scalars,
        lambda children: st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(["time", "ts", "value", "id", "event", "type", "x"]) | st.text(max_size=5), children, max_size=4),
        max_leaves=10,
    ),
    st.sampled_from([_deep(depth) for depth in DEPTHS]),
)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path into a JSON value (dict keys and list indexes)."""
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            out.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value[:5]):
            out.extend(_paths(item, (*prefix, index)))
    return out


def _replace(value: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict) and head in value:
        return {**value, head: _replace(value[head], rest, new)}
    if isinstance(value, list) and isinstance(head, int) and head < len(value):
        copy = list(value)
        copy[head] = _replace(copy[head], rest, new)
        return copy
    return value


@st.composite
def hostile_payloads(draw: st.DrawFn) -> tuple[str, str | None, Any]:
    """A real payload with one to three fields replaced by arbitrary values."""
    obj, topic = draw(st.sampled_from(PAYLOADS))
    paths = _paths(obj)
    for _ in range(draw(st.integers(1, 3))):
        if paths:
            obj = _replace(obj, draw(st.sampled_from(paths)), draw(json_values))
        elif isinstance(obj, dict):
            obj = {**obj, draw(st.sampled_from(["time", "ts", "timestamp"])): draw(json_values)}
    if draw(st.booleans()) and isinstance(obj, dict):
        # A time field the dialect reads, whatever the sample had.
        key = draw(st.sampled_from(["time", "ts", "timestamp", "user_time", "created_at"]))
        obj = {**obj, key: draw(json_values)}
    text = _dumps(obj, draw(st.booleans()))
    t = draw(st.one_of(st.none(), st.sampled_from(NUMBERS), st.floats(allow_nan=True)))
    return text, topic, t


def _dumps(obj: Any, ascii_only: bool) -> str:
    text = json.dumps(obj, ensure_ascii=ascii_only)
    for depth in DEPTHS:
        text = text.replace(f'"{_deep(depth)}"', _deep_text(depth))
    return text


def _renderers() -> list:
    out = []
    for fmt in FORMATS:
        for color in (False, True):
            for verbose in (False, True):
                out.append(make_renderer(RenderOptions(fmt, color, None, "event", verbose, tty=color)))
    # The clock at both edges of the zone range, by event and by receive time.
    for zone in ("+14:00", "-12:00"):
        for source in ("event", "received"):
            out.append(make_renderer(RenderOptions("compact", False, parse_zone(zone), source)))
    return out


RENDERERS = _renderers()
FILTERS = [
    parse_filters(where=["time>5", "ts<1e400", "params.time?"]),
    parse_filters(where=["data.value~^x", "subject!=a"], types=["*conn*"]),
    parse_filters(since="2020-01-01", until="2030-01-01"),
    parse_filters(grep="\\d"),
]


def _record_line(text: str, topic: str | None, t: Any) -> bytes:
    return json.dumps({"t": t, "topic": topic, "text": text}).encode()


DECODERS = {naive: Decoder(TimeParser(parse_zone(naive))) for naive in ("UTC", "+14:00", "-12:00")}


@settings(derandomize=True, max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(batch=st.lists(hostile_payloads(), min_size=1, max_size=4), naive=st.sampled_from(sorted(DECODERS)))
def test_hostile_values_never_raise(batch: list[tuple[str, str | None, Any]], naive: str) -> None:
    from rich.console import Console

    from presencectl.core.render import dumps_json
    from presencectl.ui.stats import by_table, json_document, print_report

    decoder = DECODERS[naive]
    trackers = [PresenceTracker(clock="event"), PresenceTracker(clock="received")]
    shadow = PresenceTracker()
    for text, topic, t in batch:
        try:
            frame = decode_record(_record_line(text, topic, t))
        except ValueError:
            frame = Frame(text)  # what CaptureReader does with a bad record
        for event in decoder.decode_frame(frame):
            for render in RENDERERS:
                assert isinstance(render(event), bytes)
            for filt in FILTERS:
                filt(event)
            for tracker in trackers:
                tracker.add(event)
            shadow.add_record(compact(event))
    for tracker in (*trackers, shadow):
        dumps_json(json_document(tracker, None, None))
        for by in ("dialect", "kind", "type", "subject"):
            dumps_json(json_document(tracker, by, None))
    # The tables (rich: the slow part) once per example, terminal or not by turns.
    utc = len(batch) % 2 == 0
    console = Console(file=io.StringIO(), width=120, force_terminal=utc, markup=False, highlight=False)
    print_report(console, trackers[0], utc=utc, top=5, title="x")
    console.print(by_table(trackers[1], "type", 5, utc))


@settings(derandomize=True, max_examples=200, deadline=None)
@given(value=json_values)
def test_capture_header_fields_never_raise(value: Any) -> None:
    for key in ("started", "source", "transport", "topics"):
        header = parse_header({"presencectl": 1, "source": "ws://x", key: value})
        assert header is not None
        assert header.started is None or math.isfinite(header.started)
