"""The shortcuts of ``render.escape`` and ``render.json_safe`` give what their regular expressions give.

``escape`` lets printable text through untouched (every character it escapes
is a control or format character); ``json_safe`` jumps between ``\\xc2`` and
``\\xe2`` lead bytes instead of running its regex over every non-ASCII line.
"""

from __future__ import annotations

import random

from presencectl.core.render import _UNSAFE, _UNSAFE_UTF8, _json_escape, _visible, escape, json_safe


def test_escape_matches_its_regex_for_every_code_point():
    for code in range(0x110000):
        char = chr(code)
        text = f"ab{char}c"
        assert escape(text) == _UNSAFE.sub(_visible, text), hex(code)


def test_json_safe_matches_its_regex():
    rng = random.Random(16)
    chars = ["a", "…", "\x7f", "\x85", "\u202e", "\u2028", "\u2066", "\u2069", "é", "中", "\u2000", "\u2030",
             "\u206a", "\u200d", "\u200e", "\u00a0", "\u009f", "\u0080", "😀", '"', "\u0100", "\ud800"]
    for _ in range(50_000):
        text = "".join(rng.choice(chars) for _ in range(rng.randrange(0, 30)))
        data = text.encode("utf-8", "surrogatepass")
        assert json_safe(data) == _UNSAFE_UTF8.sub(_json_escape, data), text
    lead = [0x41, 0xC2, 0xE2, 0x80, 0x81, 0xA6, 0x8E, 0x9F, 0x7F, 0xAA]
    for _ in range(50_000):  # not UTF-8 at all
        data = bytes(rng.choice(lead) for _ in range(rng.randrange(0, 12)))
        assert json_safe(data) == _UNSAFE_UTF8.sub(_json_escape, data), data
    many = "…".join("x" * 3 for _ in range(20)) + "\u202e"  # more lead bytes than it steps over
    assert json_safe(many.encode()) == _UNSAFE_UTF8.sub(_json_escape, many.encode())
