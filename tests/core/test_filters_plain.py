"""``-t``/``-s`` with plain names only take a one-look-up shortcut: the same answers as the glob path.

A pattern list with a glob in it goes the general way; adding ``[x]`` (a glob
matching only ``x``) to a list that has ``x`` already changes nothing but the
way, so both must agree on every value.
"""

from __future__ import annotations

import pytest

from presencectl.core.events import Event
from presencectl.core.filters import parse_filters

VALUES = [None, "", "a", "b", "ab", "A", "a-b", "a*", "client", "clientConnected", "ü", "x y"]


def event(value):
    return Event("span", value, "other", value, None, "", {})


@pytest.mark.parametrize("names", [["a"], ["a", "b"], ["clientConnected", "ü"], ["x y", "a-b"]])
@pytest.mark.parametrize("field", ["types", "subjects"])
def test_plain_names_answer_as_the_glob_path(names, field):
    plain = parse_filters(**{field: names})
    general = parse_filters(**{field: [*names, f"[{names[0][0]}]{names[0][1:]}"]})
    for value in VALUES:
        e = event(value)
        assert plain(e) == general(e) == (value in names), (names, value)
