"""The filter's byte test drops only lines the full path drops too.

``-t`` gives the filter a byte test (``Filter.prefilter``): a line that holds
none of its words cannot match and is never parsed. Two implementations apply
it, line by line (``runner._prefiltered``) and over a worker's whole block
(``runner._prefiltered_block``): both are held here to the same lines, and
the output of every fixture line under every filter to the output with no byte
test at all (a wrong drop is a lost event).
"""

from __future__ import annotations

import json
import random

import pytest

from presencectl.core.decode import Decoder
from presencectl.core.filters import parse_filters
from presencectl.core.render import RenderOptions, make_renderer
from presencectl.engine import runner
from presencectl.engine.runner import Pipeline, _prefiltered, _prefiltered_block, feed_lines
from presencectl.transports.files import CaptureReader
from tests.conftest import FIXTURES


def fixture_lines() -> list[bytes]:
    """Every sample payload as one line, plus lines made to trip a byte test."""
    lines: list[bytes] = []
    for path in sorted((FIXTURES / "samples").rglob("*")):
        if path.suffix == ".ndjson":
            lines += [line for line in path.read_bytes().splitlines() if line.strip()]
        elif path.suffix == ".json":
            try:
                value = json.loads(path.read_bytes())
            except ValueError:
                continue
            lines.append(json.dumps(value, separators=(",", ":")).encode())
            if isinstance(value, dict) and isinstance(value.get("payload"), dict):
                lines.append(json.dumps(value["payload"]).encode())
    span = {"collectionId": "c", "deviceId": "d1", "time": "2024-04-25 20:23:36", "data": {"bytes": "4"}}
    lines += [
        # the type spelled with escapes: the byte test cannot see it, the parser can
        json.dumps({**span, "event": "upstreamMessage"}).replace("upstream", "\\u0075pstream").encode(),
        json.dumps({**span, "event": "clientConnected"}).replace("client", "\\u0063lient").encode(),
        json.dumps({**span, "event": "upstreamMessage"}, indent=2).encode(),  # a document over several lines
        json.dumps({**span, "event": "upstreamMessage"}).encode() + b"\r",  # a CR line end
        json.dumps({**span, "event": "firmwareCheck", "data": {"note": "upstreamMessage"}}).encode(),  # word elsewhere
        json.dumps({**span, "event": "upstreamMessageX"}).encode(),
        json.dumps({"type": "keepalive"}).encode(),
        json.dumps({**span, "event": "upstreamMessage", "collectionId": None}).encode(),
        b'{"event": "upstreamMessage", "broken',
        b"[" + json.dumps({**span, "event": "upstreamMessage"}).encode() + b"]",
        b"not json upstreamMessage",
        b"",
        b"   ",
    ]
    return lines


FILTERS = [
    ["upstreamMessage"],
    ["client*"],
    ["*Connected", "thing.status"],
    ["presence"],
    ["!upstreamMessage"],
    ["firmware?heck"],
    ["lifecycle", "connect"],
    ["state_batch"],
    ["nothing-has-this-type"],
]


def blocks(lines: list[bytes], seed: int) -> list[bytes]:
    """The lines shuffled into blocks of whole lines, some of them all plain one-line objects."""
    rng = random.Random(seed)
    plain = [line for line in lines if line[:1] == b"{" and line.endswith(b"}") and b"\\u" not in line and b"\n" not in line]
    out = []
    for size in (1, 2, 5, 40):
        for pool in (plain, lines):
            pick = [rng.choice(pool) for _ in range(size)]
            text = b"".join(p.rstrip(b"\n") + b"\n" for p in pick)
            out.append(text)
            out.append(text[:-1])  # a last line without its newline
    return out


#: Filters a byte test cannot decide (a kind name, an exclusion): every line is decoded.
NO_BYTE_TEST = [["presence"], ["!upstreamMessage"]]


@pytest.mark.parametrize("types", NO_BYTE_TEST, ids=lambda t: ",".join(t))
def test_some_filters_have_no_byte_test(types):
    assert parse_filters(types=types).prefilter is None


@pytest.mark.parametrize("types", [t for t in FILTERS if t not in NO_BYTE_TEST], ids=lambda t: ",".join(t))
def test_block_and_line_byte_tests_keep_the_same_lines(types, monkeypatch):
    tokens = parse_filters(types=types).prefilter
    assert tokens is not None
    lines = fixture_lines()
    slow = []
    monkeypatch.setattr(runner, "_prefiltered", lambda ls, ts: slow.append(1) or _prefiltered(ls, ts))
    tried = 0
    for seed in range(20):
        for block in blocks(lines, seed):
            tried += 1
            assert _prefiltered_block(block, tokens) == list(_prefiltered(block.splitlines(keepends=True), tokens))
    assert 0 < len(slow) < tried  # both ways were taken


def output(lines: list[bytes], types: list[str], fmt: str, *, byte_test: bool, as_block: bool) -> bytes:
    filt = parse_filters(types=types)
    if not byte_test:
        filt.prefilter = None
    out: list[bytes] = []

    class Collect:
        live = False

        def write(self, data: bytes) -> None:
            out.append(data)

        def flush(self) -> None:
            pass

    pipeline = Pipeline(Decoder(), filt, make_renderer(RenderOptions(fmt)), Collect())  # type: ignore[arg-type]
    reader = CaptureReader.__new__(CaptureReader)
    reader.header = None  # plain NDJSON
    data = b"".join(line + b"\n" for line in lines)
    feed_lines(reader, data if as_block else data.splitlines(keepends=True), pipeline)
    return b"".join(out)


@pytest.mark.parametrize("fmt", ["raw", "json", "compact"])
@pytest.mark.parametrize("types", FILTERS, ids=lambda t: ",".join(t))
def test_every_fixture_line_under_every_filter_as_without_the_byte_test(types, fmt):
    lines = fixture_lines()
    full = output(lines, types, fmt, byte_test=False, as_block=False)
    assert output(lines, types, fmt, byte_test=True, as_block=False) == full
    assert output(lines, types, fmt, byte_test=True, as_block=True) == full
    for line in lines:  # and one line at a time
        alone = output([line], types, fmt, byte_test=False, as_block=False)
        assert output([line], types, fmt, byte_test=True, as_block=True) == alone
