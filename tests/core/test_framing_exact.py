"""Framing pinned where mutation testing found it loose (``tools/mutation.py framing``):
a pretty-printed document ends where its brackets balance, even when the next line
does not start at column 0; a handshake frame keeps a payload that is not itself
Atmosphere-framed.

Equivalent mutants left alive, named: in :func:`unwrap_atmosphere` the ``-1`` /
``""`` placeholders used only when no length prefix matched (``not m`` decides
first) and unwrapping a whitespace-only handshake tail (it is not framed either:
same empty result); in ``_depth`` ``False`` → ``None`` for the string flags.
"""

from __future__ import annotations

from presencectl.core.framing import (
    HANDSHAKE,
    Atmosphere,
    OverlongLine,
    ndjson_payloads,
    unwrap_atmosphere,
)

UUID = "5a4c9b8e-1f2d-4e3a-9b7c-0d1e2f3a4b5c"


def payloads(text: bytes) -> list[bytes]:
    return list(ndjson_payloads(text.splitlines(keepends=True)))


def test_a_document_ends_where_its_brackets_balance_not_at_the_next_document():
    text = b'{\n  "a": {"b": [1, "}"]}\n}\nnot json\n  {"c": 2}\n'
    assert payloads(text) == [b'{\n  "a": {"b": [1, "}"]}\n}', b"not json", b'{"c": 2}']


def test_a_pretty_printed_array_then_an_indented_line():
    assert payloads(b'[\n  1,\n  [2, 3]\n]\n  tail\n') == [b"[\n  1,\n  [2, 3]\n]", b"tail"]


def test_escaped_quotes_and_backslashes_inside_strings_do_not_end_the_string():
    text = b'{\n  "a": "x\\\\",\n  "b": "\\"}"\n}\nafter\n'
    assert payloads(text) == [b'{\n  "a": "x\\\\",\n  "b": "\\"}"\n}', b"after"]


def test_a_handshake_keeps_an_unframed_payload_after_it():
    frame = f'{UUID}|30000|X|{{"type":"x"}}'
    assert unwrap_atmosphere(frame) == Atmosphere(HANDSHAKE, ['{"type":"x"}'], UUID, 30000)


def test_a_handshake_unwraps_a_framed_payload_and_drops_an_empty_one():
    assert unwrap_atmosphere(f'{UUID}|30000|X|12|{{"type":"x"}}') == Atmosphere(HANDSHAKE, ['{"type":"x"}'], UUID, 30000)
    assert unwrap_atmosphere(f"{UUID}|30000|X|  ") == Atmosphere(HANDSHAKE, [], UUID, 30000)


def test_an_overlong_line_survives_the_trip_to_a_worker_process():
    # parallel cat pickles lines to its workers: the size and limit must come back
    import pickle

    line = OverlongLine(b'{"start": "of a long line', 5_000_000, 1_048_576)
    back = pickle.loads(pickle.dumps(line))
    assert type(back) is OverlongLine
    assert bytes(back) == b'{"start": "of a long line' and back.size == 5_000_000 and back.limit == 1_048_576
    assert back.reason == (
        "a line of 5,000,000 bytes or more, over the --max-line limit of 1,048,576 bytes: not read (the start is shown)"
    )
    assert back.strip() is back and back.rstrip(b"\n") is back
