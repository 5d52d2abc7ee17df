"""Each dialect knows everything its vendor documents (issue 13).

The lists are data beside this file, one per dialect
(``<dialect>_documented.json``), copied from the vendor's own document in
``vendor-docs/`` with the section each entry comes from: event types (kind,
presence effect), fields, codes, and behaviour the document states. A type
the vendor names that the dialect does not know, or a type the dialect lists
that the vendor does not name, fails here. Each type is also decoded from a
payload shaped like the vendor's, so the table and the decoder agree.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from presencectl.core import dialects
from presencectl.core.decode import Decoder
from presencectl.core.events import KINDS

HERE = Path(__file__).resolve().parent
DOCUMENTED = {p.name.removesuffix("_documented.json"): json.loads(p.read_text()) for p in sorted(HERE.glob("*_documented.json"))}


def _entries(part: str) -> list:
    return [
        pytest.param(doc, entry, id=f"{name}:{entry.get('name') or entry.get('field', '') + '=' + str(entry.get('value', entry.get('what')))}")
        for name, doc in DOCUMENTED.items()
        for entry in doc[part]
    ]


def _decode(doc: dict, entry: dict):
    """The one event decoded from the entry's payload (or the dialect's template)."""
    if "payload" in entry:
        text = json.dumps(entry["payload"], ensure_ascii=False)
    else:
        text = json.dumps(doc["template"], ensure_ascii=False).replace("{type}", entry["name"])
    events = Decoder().decode(text, entry.get("topic"))
    assert len(events) == 1, events
    return events[0]


def _check(event, expect: dict) -> None:
    for key, want in expect.items():
        if key == "time":
            got = event.time.isoformat() if event.time is not None else None
        elif key == "ends_session":
            got = dialects.ends_session(event) is not None
        else:
            got = getattr(event, key)
        assert got == want, f"{key}: {got!r} != {want!r}"


def test_every_vendor_dialect_has_its_documented_list():
    vendors = {d.name for d in dialects.registry() if d.source}
    assert vendors == set(DOCUMENTED), "a dialect without <name>_documented.json (or a stray list)"
    for name, doc in DOCUMENTED.items():
        assert doc["dialect"] == name
        assert dialects.get(name).source in doc["document"]


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_known_types_are_exactly_the_documented_ones(name):
    documented = [entry["name"] for entry in DOCUMENTED[name]["types"]]
    known = list(dialects.get(name).types)
    assert sorted(known) == sorted(documented), (
        f"missing: {sorted(set(documented) - set(known))}, not documented: {sorted(set(known) - set(documented))}"
    )


@pytest.mark.parametrize("doc, entry", _entries("types"))
def test_documented_type(doc, entry):
    dialect = dialects.get(doc["dialect"])
    info = dialect.types.get(entry["name"])
    assert info is not None, f"{entry['name']} ({entry['section']}) is not known"
    assert (str(info.kind), info.presence) == (entry["kind"], entry["presence"]), entry["section"]
    assert info.kind in KINDS and info.description, "a documented type needs a one-line description"
    event = _decode(doc, entry)
    assert (event.dialect, event.type) == (doc["dialect"], entry["name"])
    _check(event, {"kind": entry["kind"], "presence": entry["presence"], **entry.get("expect", {})})


@pytest.mark.parametrize("doc, entry", _entries("fields"))
def test_documented_field(doc, entry):
    fields = dialects.get(doc["dialect"]).fields
    assert entry["name"] in fields and fields[entry["name"]], f"{entry['name']} ({entry['section']})"


@pytest.mark.parametrize("doc, entry", _entries("codes"))
def test_documented_code(doc, entry):
    codes = dialects.get(doc["dialect"]).codes
    assert entry["value"] in codes.get(entry["field"], {}), f"{entry['field']}={entry['value']} ({entry['section']})"
    if "payload" in entry:
        event = _decode(doc, entry)
        assert event.dialect == doc["dialect"]
        _check(event, entry["expect"])


@pytest.mark.parametrize("doc, entry", _entries("behaviour"))
def test_documented_behaviour(doc, entry):
    event = _decode(doc, entry)
    assert event.dialect == doc["dialect"], entry["section"]
    _check(event, entry["expect"])


def test_undocumented_types_still_render_but_are_not_listed():
    for payload, topic, dialect, kind in [
        ('{"collectionId":"c","deviceId":"d","event":"gatewayCreated"}', None, "span", "lifecycle"),
        ('{"collectionId":"c","deviceId":"d","event":"firmwareRolledBack"}', None, "span", "firmware"),
        ('{"type":"event","event":"geofence","data":{"source_id":1}}', None, "navixy", "other"),
        ('{"category":"app.event.presence.party.idle","sender":{"_id":"u"}}', None, "spaces", "state"),
        ('{"params":{"iotId":"i"},"method":"thing.deviceinfo"}', None, "aliyun", "message"),
        ('{"type":"reboot","connection_id":1,"asset":"a"}', None, "generic", "other"),
    ]:
        (event,) = Decoder().decode(payload, topic)
        assert (event.dialect, event.kind) == (dialect, kind), payload
        assert event.type not in dialects.get(dialect).types


def test_navixy_corrupt_is_not_delete():
    navixy = dialects.get("navixy")
    assert "corrupt" in navixy.codes["data.lifecycle_event"]
    assert "delete" not in navixy.codes["data.lifecycle_event"]
