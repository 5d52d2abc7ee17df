"""``str(event)``, the short form for logs, pinned (``tools/mutation.py events`` found it untested)."""

from __future__ import annotations

from presencectl.core.events import Event


def event(**fields) -> Event:
    base = dict(dialect="span", type="presence", kind="presence", subject="dev-1", time=None, summary="online", raw={})
    base.update(fields)
    return Event(**base)


def test_a_parsed_event_reads_dialect_type_subject_summary():
    assert str(event()) == "[span] presence dev-1 online"


def test_missing_parts_read_as_unparsed_and_dashes():
    assert str(event(dialect=None, type=None, subject=None, summary="not JSON")) == "[unparsed] - - not JSON"


def test_it_is_cut_to_120_characters_with_an_ellipsis():
    exact = event(summary="x" * (120 - len("[span] presence dev-1 ")))
    assert str(exact) == "[span] presence dev-1 " + "x" * 98 and len(str(exact)) == 120
    longer = str(event(summary="y" * 200))
    assert len(longer) == 120
    assert longer == ("[span] presence dev-1 " + "y" * 200)[:117] + "..."
