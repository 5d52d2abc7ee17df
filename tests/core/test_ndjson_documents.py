"""Multi-line JSON documents in NDJSON files (``core.framing.ndjson_payloads``), directly,
end to end through ``cat``, and as a property: any mix of one-line and pretty-printed
documents comes out as exactly those documents."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from presencectl.core import framing
from presencectl.core.framing import ndjson_payloads
from tests.conftest import cli_env, run_cli


def payloads(text: bytes) -> list[bytes]:
    return list(ndjson_payloads(text.splitlines(keepends=True)))


def test_one_line_documents_and_blank_lines():
    assert payloads(b'{"a":1}\n\n  \n{"b":2}\r\n') == [b'{"a":1}', b'{"b":2}']
    assert payloads(b"") == [] and payloads(b"\n\n") == []


def test_a_pretty_printed_object_is_one_payload():
    doc = json.dumps({"a": {"b": [1, 2]}, "c": "x"}, indent=2).encode()
    assert payloads(doc + b"\n" + b'{"next":1}\n') == [doc, b'{"next":1}']
    assert payloads(b"  {\r\n  \"a\": 1\r\n}\r\n") == [b'{\n  "a": 1\n}']


def test_a_pretty_printed_array_is_one_payload():
    doc = json.dumps([{"a": 1}, {"b": 2}], indent=2).encode()
    assert payloads(doc + b"\n") == [doc]


def test_brackets_inside_strings_and_escapes_do_not_count():
    doc = b'{\n  "s": "}]{[\\"",\n  "t": "\\\\"\n}'
    assert payloads(doc + b"\n" + b"{\"x\":2}\n") == [doc, b'{"x":2}']
    assert json.loads(payloads(doc)[0]) == {"s": '}]{["', "t": "\\"}


def test_a_broken_document_does_not_swallow_the_records_after_it():
    text = b'{\n  "a": 1,\n  "b": \n{"c":3}\n{"d":4}\n'
    assert payloads(text) == [b'{\n  "a": 1,\n  "b":', b'{"c":3}', b'{"d":4}']
    # an unclosed document at the end of the file ends with it
    assert payloads(b'{\n  "a": [1,\n') == [b'{\n  "a": [1,']
    # a nested closing line does not end it early
    assert payloads(b'{\n"a": {\n"b": 1\n}\n}\n{"z":0}\n') == [b'{\n"a": {\n"b": 1\n}\n}', b'{"z":0}']


def test_the_gathering_stops_at_the_line_limit(monkeypatch):
    monkeypatch.setattr(framing, "_MAX_DOC_LINES", 3)
    lines = [b"{\n", b' "a": [\n', b"  1,\n", b"  2\n", b" ]\n", b"}\n"]
    assert list(ndjson_payloads(lines)) == [b'{\n "a": [\n  1,', b"2", b"]", b"}"]


documents = st.lists(
    st.tuples(
        st.dictionaries(st.text(alphabet="ab{}[]\"\\ ", max_size=4),
                        st.recursive(st.one_of(st.integers(), st.text(alphabet="x{}[]\"\\\n", max_size=5), st.none()),
                                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
                                     max_leaves=6),
                        min_size=1, max_size=4),
        st.sampled_from([None, 1, 2, 4]),
    ),
    max_size=8,
)


@given(documents)
def test_any_mix_of_compact_and_pretty_documents_comes_out_as_those_documents(docs):
    text = b"".join(json.dumps(obj, indent=indent).encode() + b"\n" for obj, indent in docs)
    assert [json.loads(p) for p in payloads(text)] == [obj for obj, _ in docs]


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_cat_reads_pretty_printed_files_like_compact_ones(tmp_path, jobs):
    objs = [{"event": "clientConnected", "deviceId": f"d{i}", "collectionId": "c", "data": {"id": "x{]"}} for i in range(40)]
    compact = tmp_path / "compact.ndjson"
    pretty = tmp_path / "pretty.ndjson"
    compact.write_text("".join(json.dumps(o) + "\n" for o in objs))
    pretty.write_text("".join(json.dumps(o, indent=2) + "\n" for o in objs))
    env = cli_env(PRESENCECTL_JOBS=jobs)
    a = run_cli("cat", str(compact), "-f", "compact", env=env)
    b = run_cli("cat", str(pretty), "-f", "compact", env=env)
    assert a.returncode == b.returncode == 0 and b.stderr == b""
    assert b.stdout == a.stdout and a.stdout.count(b"\n") == 40
