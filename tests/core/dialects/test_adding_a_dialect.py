"""Adding a dialect is one module: a throwaway one is detected, coloured, listed and reasoned about.

CONTRIBUTING.md ("Adding a dialect") promises that a new vendor needs its
dialect module, its fixtures and its tests, and nothing else. This proves it
for the generic parts: a dialect module written here, registered by being
imported, is picked by detection, coloured by the pretty renderer from its
declared colour, listed by ``presencectl dialects``, its reasons used by
``stats``, its session-ending event and its framing honoured, all through
code that names no vendor.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from presencectl.core import dialects
from presencectl.core.decode import Decoder
from presencectl.core.presence import PresenceTracker
from presencectl.core.render import RenderOptions, make_renderer
from tests.conftest import ROOT, cli_env

#: A complete dialect module, as a contributor would write it.
MODULE = textwrap.dedent(
    '''
    """Acme Beacons: {"beacon": "up"|"down"|"bye", "unit": ..., "why": ...}."""

    from presencectl.core.dialects import Dialect, TypeInfo, Unwrapped, register, short, text_or_none
    from presencectl.core.events import Event, Kind

    TYPES = {
        "up": TypeInfo(Kind.CONNECT, "online", "a unit came up"),
        "down": TypeInfo(Kind.DISCONNECT, "offline", "a unit went down"),
        "bye": TypeInfo(Kind.LIFECYCLE, None, "the server ends the session", ends_session=True),
    }


    def sniff(obj, topic):
        return "beacon" in obj and "unit" in obj


    def normalize(obj, topic, times):
        info = TYPES.get(obj["beacon"], TypeInfo(Kind.OTHER))
        why = short(obj.get("why", ""))
        return Event("acme", str(obj["beacon"]), info.kind, text_or_none(obj["unit"]), times(obj.get("at")),
                     f"why={why}", obj, info.presence)


    def reason(event):
        return "acme:" + str(event.raw.get("why"))


    def unwrap(text):
        # Acme wraps payloads as ACME<...>.
        if text.startswith("ACME<") and text.endswith(">"):
            return Unwrapped([], [text[5:-1]])
        return None


    DIALECT = register(Dialect(
        "acme", "Acme beacons", "bright_red", sniff, normalize, TYPES,
        vendor="Acme", transport="WebSocket", example="presencectl tail wss://acme.example/beacons",
        order=5, reason=reason, unwrap=unwrap,
    ))
    '''
)
LINES = [
    {"beacon": "up", "unit": "u1", "why": "power", "at": "2026-03-12T08:00:00Z"},
    {"beacon": "down", "unit": "u1", "why": "brownout", "at": "2026-03-12T08:00:10Z"},
    {"beacon": "up", "unit": "u1", "why": "watchdog", "at": "2026-03-12T08:00:20Z"},
]


@pytest.fixture
def acme(tmp_path, monkeypatch):
    (tmp_path / "acme_dialect.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("acme_dialect", None)
    import acme_dialect  # noqa: F401  (registers it)

    yield tmp_path
    dialects.unregister("acme")
    sys.modules.pop("acme_dialect", None)


def test_in_process_detected_coloured_reasoned_and_ending(acme):
    decoder = Decoder()
    events = [e for line in LINES for e in decoder.decode(json.dumps(line))]
    assert [(e.dialect, e.type, e.kind, e.presence) for e in events] == [
        ("acme", "up", "connect", "online"),
        ("acme", "down", "disconnect", "offline"),
        ("acme", "up", "connect", "online"),
    ]
    line = make_renderer(RenderOptions(color=True))(events[0])
    assert b"\x1b[91m[acme]" in line  # bright_red, from Dialect.colour
    tracker = PresenceTracker()
    for event in events:
        tracker.add(event)
    assert tracker.subjects["u1"].last_reason == "acme:watchdog"
    (bye,) = decoder.decode('{"beacon":"bye","unit":"u1"}')
    assert dialects.ends_session(bye) is dialects.get("acme")
    (wrapped,) = decoder.decode('ACME<{"beacon":"down","unit":"u2"}>')
    assert (wrapped.dialect, wrapped.subject) == ("acme", "u2")


def _cli(tmp_path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """The real CLI in a process that imported the contributor's module first."""
    entry = "import acme_dialect, sys; sys.argv[0] = 'presencectl'; from presencectl.__main__ import main; main()"
    env = cli_env(PYTHONPATH=f"{ROOT}:{tmp_path}", PRESENCECTL_JOBS="1")
    return subprocess.run([sys.executable, "-c", entry, *args], capture_output=True, env=env, cwd=ROOT, timeout=60)


def test_the_cli_lists_colours_and_uses_its_reasons(acme):
    events = acme / "acme.ndjson"
    events.write_text("".join(json.dumps(line) + "\n" for line in LINES))

    listed = _cli(acme, "dialects")
    assert listed.returncode == 0, listed.stderr
    assert b"acme" in listed.stdout and b"a unit came up" in listed.stdout
    full = json.loads(_cli(acme, "dialects", "acme", "--json").stdout)
    assert (full["colour"], full["example"], full["ends_session"]) == (
        "bright_red", "presencectl tail wss://acme.example/beacons", ["bye"],
    )

    pretty = _cli(acme, "cat", str(events), "-f", "pretty", "--color", "always", "--utc")
    assert pretty.returncode == 0, pretty.stderr
    assert pretty.stdout.count(b"\x1b[91m[acme]") == 3

    stats = _cli(acme, "stats", str(events), "--json")
    assert stats.returncode == 0, stats.stderr
    (subject,) = json.loads(stats.stdout)["subjects"]
    assert (subject["subject"], subject["last_reason"], subject["flaps"]) == ("u1", "acme:watchdog", 1)


def test_every_module_in_the_package_is_a_registered_dialect():
    import pkgutil

    modules = {m.name for m in pkgutil.iter_modules(dialects.__path__) if not m.name.startswith("_")}
    assert modules <= {d.name for d in dialects.registry()}
    assert dialects.registry()[-1].name == "generic"
