"""``-f json`` lines and ``-v`` payloads pinned byte for byte (found by mutation testing:
``tools/mutation.py render``): every key in order, MQTT meta keys, the payload verbatim
(64-bit-plus ids exact) or re-serialised when it spans lines, unparsed payloads as a
JSON string, the slow exact path for lone surrogates, and the indented payload of
``-v`` plain and highlighted.

Equivalent mutants left alive, named: codec names in another case (``"UTF-8"``:
Python's codec lookup ignores case); the isoformat cache by object identity
(``_ISO_CACHE``: every mutation of its lookup, store and size bound only makes it
miss, and a miss recomputes the same text; the entry holds the object, so an id
cannot be reused while cached).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from presencectl.core.events import Event
from presencectl.core.render import (
    RenderOptions,
    event_json,
    json_safe,
    make_renderer,
    payload_bytes,
)

PLUS2 = timezone(timedelta(hours=2))
PARSED = Event(
    "span", "clientConnected", "connect", "d1", datetime(2026, 3, 12, 8, 0, 1, tzinfo=PLUS2), "id=x",
    {"a": 1, "id": 123456789012345678901}, presence="online",
    text=b'{"a": 1, "id": 123456789012345678901}', topic="t/1", received=1773302400.25,
    meta={"qos": 1, "retained": True},
)
UNPARSED = Event(None, None, None, None, None, "not JSON", None, text=b'{"a":1')
#: A payload that spans lines and a summary with a lone surrogate (orjson refuses it).
MULTILINE = Event("generic", "x", "other", None, None, "s\ud800", {"a": 1}, text='{\n "a": 1\n}')
HOSTILE = Event(
    "span", "x", "other", "d", None, "sum", {"n": 123456789012345678901, "s": "\x1b[2J"},
    text='{"n":123456789012345678901,"s":"\\u001b[2J"}', meta={"qos": 1},
)


def test_a_parsed_event_with_meta_keys_and_its_payload_as_received():
    assert event_json(PARSED) == (
        b'{"time":"2026-03-12T08:00:01+02:00","dialect":"span","type":"clientConnected","kind":"connect",'
        b'"subject":"d1","summary":"id=x","topic":"t/1","received":"2026-03-12T08:00:00.250000+00:00",'
        b'"presence":"online","retained":true,"qos":1,"payload":{"a": 1, "id": 123456789012345678901}}'
    )
    # the same time object twice (the cache) prints the same
    assert event_json(PARSED) == event_json(PARSED)
    assert make_renderer(RenderOptions(fmt="json"))(PARSED) == event_json(PARSED) + b"\n"


def test_an_unparsed_payload_is_a_json_string_and_missing_parts_are_null():
    assert event_json(UNPARSED) == (
        b'{"time":null,"dialect":null,"type":null,"kind":null,"subject":null,"summary":"not JSON",'
        b'"topic":null,"received":null,"presence":null,"payload":"{\\"a\\":1"}'
    )


def test_a_multiline_payload_is_reserialised_and_a_lone_surrogate_takes_the_exact_path():
    line = (
        b'{"time":null,"dialect":"generic","type":"x","kind":"other","subject":null,"summary":"s\\ud800",'
        b'"topic":null,"received":null,"presence":null,"payload":{"a":1}}'
    )
    assert event_json(MULTILINE) == line
    assert make_renderer(RenderOptions(fmt="json"))(MULTILINE) == line + b"\n"


def test_verbose_plain_indents_the_exact_payload_after_its_meta_line():
    render = make_renderer(RenderOptions(fmt="pretty", verbose=True, time_source="none"))
    assert render(HOSTILE) == (
        b"[span]         x                        d                  sum\n"
        b"    QoS 1\n"
        b"    {\n"
        b'      "n": 123456789012345678901,\n'
        b'      "s": "\\u001b[2J"\n'
        b"    }\n"
    )
    assert render(UNPARSED) == b'unparsed       not JSON  {"a":1\n'


def test_verbose_highlighted_colours_the_payload_and_escapes_controls():
    render = make_renderer(RenderOptions(fmt="pretty", verbose=True, color=True, width=60, time_source="none"))
    assert render(HOSTILE) == (
        b"\x1b[95m[span]         \x1b[0m\x1b[37mx                       \x1b[0m \x1b[1md                 \x1b[0m sum\n"
        b"    \x1b[2mQoS 1\x1b[0m\n"
        b"    \x1b[1m{\x1b[0m\n"
        b'      \x1b[1;34m"n"\x1b[0m: \x1b[1;36m123456789012345678901\x1b[0m,\n'
        b'      \x1b[1;34m"s"\x1b[0m: \x1b[32m"\\u001b[2J"\x1b[0m\n'
        b"    \x1b[1m}\x1b[0m\n"
    )
    # twice in a row: the shared buffer is emptied between events
    assert render(HOSTILE) == render(HOSTILE)
    assert render(UNPARSED) == b'\x1b[2munparsed       \x1b[0m\x1b[2mnot JSON  {"a":1\x1b[0m\n'


def generic(text, raw=None) -> Event:
    return Event("generic", "x", "other", None, None, "s", raw if raw is not None else {"a": 1}, text=text)


def test_raw_keeps_lone_surrogates_and_falls_back_to_the_decoded_payload():
    raw = make_renderer(RenderOptions(fmt="raw"))
    assert raw(generic("a\ud800b")) == b"a\xed\xa0\x80b\n"
    assert raw(generic(None)) == b'{"a":1}\n'


def test_the_preview_of_an_unparsed_payload_shows_bad_bytes_and_is_cut_after_200_characters():
    compact = make_renderer(RenderOptions(fmt="compact", time_source="none"))
    unparsed = lambda text: Event(None, None, None, None, None, "bad", None, text=text)  # noqa: E731
    assert compact(unparsed(b'\xff{"a"')) == b'unparsed bad \\xff{"a"\n'
    assert compact(unparsed("x" * 200)) == b"unparsed bad " + b"x" * 200 + b"\n"
    assert compact(unparsed("x" * 201)) == b"unparsed bad " + b"x" * 200 + "… (201 chars)".encode() + b"\n"


def test_json_safe_escapes_del_c1_and_line_separators_and_leaves_the_rest():
    assert json_safe(b"a\x7fb") == b"a\\u007fb"
    assert json_safe("x\u2028y\u0085".encode()) == b"x\\u2028y\\u0085"
    assert json_safe(b"plain") == b"plain"
    assert json_safe("é".encode()) == "é".encode()


def test_a_payload_with_a_carriage_return_or_a_bom_is_reserialised_and_a_lone_surrogate_escaped():
    assert payload_bytes(generic('{"a":1,\r"b":2}')) == b'{"a":1}'
    assert payload_bytes(generic(b'\xef\xbb\xbf{"a":1}')) == b'{"a":1}'
    assert payload_bytes(generic(' {"s":"\ud800"} ')) == b'{"s":"\\ud800"}'


def test_verbose_keeps_non_ascii_and_shows_a_lone_surrogate_escaped():
    verbose = make_renderer(RenderOptions(fmt="pretty", verbose=True, time_source="none"))
    assert verbose(generic('{"s":"\\ud800é"}', {"s": "\ud800é"})) == (
        b"[generic]      x                        -                  s\n"
        b"    {\n"
        + '      "s": "\\ud800é"\n'.encode()
        + b"    }\n"
    )
