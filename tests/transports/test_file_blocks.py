"""``CaptureReader.chunks``: the blocks worker processes decode.

With ``spans=True`` a block of a plain file travels as a ``FileSpan`` (its
offset and length; the worker reads it with ``read_span``). Whatever the
file holds (a byte order mark, blank lines, pretty-printed documents across
block boundaries, lines over ``--max-line``, a last line with no newline),
the spans must read back as exactly the blocks sent as bytes, and ``.gz``
files keep sending bytes.
"""

from __future__ import annotations

import gzip
import json
import random

import pytest

from presencectl.core.framing import OverlongLine
from presencectl.transports.files import CaptureReader, FileSpan, _last_document_start, read_span


def _content(seed: int, bom: bool, tail_newline: bool) -> bytes:
    rng = random.Random(seed)
    parts: list[bytes] = [b"\xef\xbb\xbf" if bom else b"", b"\n\n"]
    for i in range(400):
        pick = rng.random()
        if pick < 0.1:
            parts.append(json.dumps({"event": "x", "deviceId": str(i), "n": list(range(5))}, indent=2).encode() + b"\n")
        elif pick < 0.13:
            parts.append(b"{" + b"a" * rng.randrange(300, 900) + b"}\n")  # over the max-line used below
        elif pick < 0.16:
            parts.append(b"[1,2]\n\n  \n")
        else:
            parts.append(json.dumps({"event": "upstreamMessage", "deviceId": f"d{i}", "pad": "p" * rng.randrange(80)}).encode() + b"\n")
    data = b"".join(parts)
    return data if tail_newline else data + b'{"event":"cut'


def _blocks(reader: CaptureReader, spans: bool) -> list[bytes]:
    out = []
    for block in reader.chunks(size=256, spans=spans):
        if type(block) is FileSpan:
            block = read_span(reader.stream.fileno(), block)
        elif type(block) is OverlongLine:
            block = (block.size, block.limit, bytes(block))  # type: ignore[assignment]
        out.append(block)
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("bom", [False, True])
@pytest.mark.parametrize("tail_newline", [False, True])
def test_spans_read_back_as_the_byte_blocks(tmp_path, seed, bom, tail_newline):
    path = tmp_path / "in.ndjson"
    path.write_bytes(_content(seed, bom, tail_newline))
    warnings: list[str] = []
    plain = CaptureReader(str(path), warnings.append, max_line=600)
    spanned = CaptureReader(str(path), warnings.append, max_line=600)
    try:
        expected = _blocks(plain, spans=False)
        kinds = [type(b) for b in spanned.chunks(size=256, spans=True)]
        assert FileSpan in kinds  # the spans path is what is tested here
    finally:
        plain.close()
        spanned.close()
    spanned = CaptureReader(str(path), warnings.append, max_line=600)
    try:
        assert _blocks(spanned, spans=True) == expected
    finally:
        spanned.close()


def test_gzip_blocks_are_bytes(tmp_path):
    path = tmp_path / "in.ndjson.gz"
    path.write_bytes(gzip.compress(_content(4, False, True)))
    reader = CaptureReader(str(path), lambda _: None, max_line=600)
    try:
        assert not any(type(b) is FileSpan for b in reader.chunks(size=256, spans=True))
    finally:
        reader.close()


def test_last_document_start_is_the_last_newline_before_a_bracket():
    rng = random.Random(5)
    for _ in range(20000):
        data = bytes(rng.choice(b"\n{[a ") for _ in range(rng.randrange(0, 120)))
        assert _last_document_start(data) == max(data.rfind(b"\n{"), data.rfind(b"\n["))
    many = b"x\n" * 500 + b"{a}\n" + b"zz\n" * 200  # more non-document lines than it steps over
    assert _last_document_start(many) == many.rfind(b"\n{")
