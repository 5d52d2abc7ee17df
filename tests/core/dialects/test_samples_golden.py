"""Golden output for every vendor sample: dialect, type, kind, subject, presence, summary.

``samples.golden`` beside this file holds what each sample in
``fixtures/samples/`` (the vendors' documented payloads) decodes to, one line
per event. A change in any summary shows up here as a diff to review; after
a deliberate change, rewrite the file with::

    PRESENCECTL_UPDATE_GOLDEN=1 python -m pytest tests/core/dialects/test_samples_golden.py
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from presencectl.core.decode import Decoder
from presencectl.core.framing import ndjson_payloads

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "fixtures" / "samples"
GOLDEN = Path(__file__).resolve().parent / "samples.golden"


_SOCKETIO_EVENT = re.compile(r"^42(?:/[^,\[]*,)?(\[.*\])$", re.DOTALL)
_SOCKETIO_CONTROL = re.compile(r"0\{.*\}|40(?:/[^,]*,)?|[23]")


def _payloads(path: Path) -> list[tuple[str, str | None]]:
    """(payload text, topic) pairs, by the shape of the sample file (not its vendor).

    A ``.json`` file is one payload, or ``{"topic", "payload"}`` (an MQTT
    message), or ``{"request_topic", "request", "reply_topic", "reply"}``;
    anything else is NDJSON-like lines (pretty-printed documents kept whole),
    where a Socket.IO event frame ``42/ns,["EVENT", body]`` gives its body.
    """
    text = path.read_text()
    if path.suffix == ".json":
        obj = json.loads(text)
        if isinstance(obj, dict) and {"topic", "payload"} <= obj.keys():
            return [(json.dumps(obj["payload"], ensure_ascii=False), obj["topic"])]
        if isinstance(obj, dict) and {"request_topic", "reply_topic"} <= obj.keys():
            return [
                (json.dumps(obj["request"], ensure_ascii=False), obj["request_topic"]),
                (json.dumps(obj["reply"], ensure_ascii=False), obj["reply_topic"]),
            ]
        return [(text, None)]
    out: list[tuple[str, str | None]] = []
    for raw in ndjson_payloads(text.encode().splitlines()):
        line = raw.decode()
        m = _SOCKETIO_EVENT.match(line)
        if m:
            name, *body = json.loads(m.group(1))
            out.extend((json.dumps(b, ensure_ascii=False), name) for b in body[:1])
        elif _SOCKETIO_CONTROL.fullmatch(line):
            continue  # Engine.IO open/ping/pong, Socket.IO connect: not payloads
        else:
            out.append((line, None))
    return out


def render_samples() -> str:
    decoder = Decoder()
    lines = []
    for path in sorted(p for p in SAMPLES.rglob("*") if p.is_file() and p.name != "README.md"):
        name = path.relative_to(SAMPLES).as_posix()
        for payload, topic in _payloads(path):
            for e in decoder.decode(payload, topic):
                if e.dialect is None:
                    lines.append(f"{name} | unparsed | {e.summary}")
                    continue
                flags = " keepalive" if e.keepalive else ""
                lines.append(
                    f"{name} | {e.dialect} {e.type} {e.kind} subject={e.subject} presence={e.presence}{flags}"
                    f" | {e.summary}"
                )
    return "\n".join(lines) + "\n"


def test_samples_render_as_the_golden_file_says():
    got = render_samples()
    if os.environ.get("PRESENCECTL_UPDATE_GOLDEN"):
        GOLDEN.write_text(got)
    assert got == GOLDEN.read_text()
