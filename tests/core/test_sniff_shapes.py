"""The decoder asks only the dialects whose ``sniff_keys`` an object has (speed only).

``Dialect.sniff_keys`` claims: an object with no topic and none of these
top-level keys is refused by ``sniff``. The decoder caches, per set of keys,
which dialects are worth asking; the dialect it picks must always be the one
asking every dialect in order (``dialects.detect``) picks.
"""

from __future__ import annotations

import json
import random

import pytest

from presencectl.core import dialects
from presencectl.core.decode import Decoder
from presencectl.core.dialects import Dialect, register, unregister
from presencectl.core.events import Event
from tests.conftest import FIXTURES


def sample_objects() -> list[dict]:
    out: list[dict] = []
    for path in sorted((FIXTURES / "samples").rglob("*")):
        if path.suffix not in (".json", ".ndjson"):
            continue
        text = path.read_text()
        try:
            docs = [json.loads(text)]
        except ValueError:
            docs = [json.loads(line) for line in text.splitlines() if line.strip().startswith("{")]
        for doc in docs:
            if isinstance(doc, dict):
                out.append(doc)
                if isinstance(doc.get("payload"), dict):
                    out.append(doc["payload"])  # the Aliyun samples wrap the message
    return out


def mutations(obj: dict, rng: random.Random) -> list[dict]:
    """The object with keys dropped, renamed or given other values, and shuffled."""
    keys = list(obj)
    out = []
    for key in keys:
        out.append({k: v for k, v in obj.items() if k != key})
        out.append({**obj, key: rng.choice([None, "", "keepalive", "event", "x", 1, [], {}])})
    out.append(dict(rng.sample(list(obj.items()), len(obj))))
    out.append({"type": rng.choice(["keepalive", "event", "response", "error", "connect"])})
    return out


def test_no_dialect_accepts_an_object_without_its_sniff_keys():
    rng = random.Random(16)
    for obj in sample_objects():
        for candidate in [obj, *mutations(obj, rng)]:
            for dialect in dialects.registry():
                if dialect.sniff_keys is None or not dialect.sniff_keys.isdisjoint(candidate):
                    continue
                assert not dialect.sniff(candidate, None), (dialect.name, candidate)


def test_the_decoder_picks_the_dialect_detect_picks():
    rng = random.Random(61)
    decoder = Decoder()
    for obj in sample_objects():
        for candidate in [obj, *mutations(obj, rng), obj]:  # the same shape twice: from the cache
            expected = dialects.detect(candidate, None).name
            event = decoder.decode(json.dumps(candidate))[0]
            if event.dialect != "generic" or expected == "generic":
                assert event.dialect == expected, candidate
            else:  # the chosen dialect choked on an odd value and the generic reading took over
                assert dialects.get(expected).sniff(candidate, None)


@pytest.fixture
def catch_all():
    """A test dialect with no sniff_keys, detected before the built-in ones."""
    def sniff(obj: dict, topic: str | None) -> bool:
        return obj.get("probe") == 1 or obj.get("event") == "probe"

    def normalize(obj: dict, topic: str | None, times) -> Event:
        return Event("probe", "probe", "other", None, None, "", obj)

    register(Dialect("probe", "probe", "white", sniff, normalize, order=1))
    yield
    unregister("probe")


def test_a_dialect_without_sniff_keys_is_asked_for_every_shape(catch_all):
    decoder = Decoder()
    line = '{"collectionId":"c","deviceId":"d","event":"probe","time":"2024-04-25 20:23:36"}'
    assert decoder.decode(line)[0].dialect == "probe"
    assert decoder.decode('{"probe":1}')[0].dialect == "probe"
    assert decoder.decode('{"probe":2}')[0].dialect == "generic"
