#!/usr/bin/env python3
"""What one message costs, step by step, for each vendor's sample (in-process, no sockets).

    python benchmarks/bench_message.py [--number 100000] [--budget-us 5.0]

For the first sample payload of each dialect (and its MQTT topic, if it has
one), timeit (best of 3) of:

- ``orjson.loads`` + ``orjson.dumps`` of the payload: the baseline, the
  floor of any JSON tool in this interpreter;
- ``Decoder.decode_frame`` (parse, sniff, normalise, time), with a fresh
  Frame each time, as live frames come;
- the ``-f json`` line of an already decoded event (summary made);
- both together, what ``tail -f json`` does per message besides the
  transport;
- for MQTT: ``PacketReader.feed`` of 1,000 QoS 1 PUBLISH packets in one read,
  and their PUBACKs, per message.

Ratios are to the baseline in the same run. ``--budget-us`` prints how each
dialect's decode + render compares with a per-message budget: issue 16's MQTT
target (0.5x ``mosquitto_sub -c -q 1``, which drains ~400,000 msg/s here) is
5.0 us per message for everything, transport included.
"""

from __future__ import annotations

import argparse
import json
import sys
import timeit
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SAMPLES = ROOT / "fixtures" / "samples"


def samples() -> list[tuple[str, str, str | None]]:
    """(name, payload text, topic) for each dialect's first sample."""
    out: list[tuple[str, str, str | None]] = []
    out.append(("span", (SAMPLES / "span-activity.ndjson").read_text().splitlines()[0], None))
    body = json.loads((SAMPLES / "cloudconnect-presence.json").read_text())
    out.append(("cloudconnect", json.dumps(body, separators=(",", ":")), None))
    out.append(("spaces", (SAMPLES / "spaces-presence.ndjson").read_text().splitlines()[0], None))
    out.append(("navixy", (SAMPLES / "navixy-events.ndjson").read_text().splitlines()[0], None))
    for name in ("status", "events"):
        sample = json.loads((SAMPLES / "aliyun" / f"{name}.json").read_text())
        out.append((f"aliyun {name}", json.dumps(sample["payload"], separators=(",", ":")), sample["topic"]))
    return out


def publish(topic: bytes, payload: bytes, pid: int) -> bytes:
    """One MQTT 3.1.1 QoS 1 PUBLISH packet."""
    body = len(topic).to_bytes(2, "big") + topic + pid.to_bytes(2, "big") + payload
    size, length = len(body), bytearray()
    while True:
        byte, size = size % 128, size // 128
        length.append(byte | (0x80 if size else 0))
        if not size:
            break
    return bytes((0x32,)) + bytes(length) + body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--number", type=int, default=100_000, help="calls per timing")
    parser.add_argument("--budget-us", type=float, default=5.0, help="per-message budget to compare with")
    args = parser.parse_args()

    import orjson

    from presencectl.core.decode import Decoder
    from presencectl.core.events import Frame
    from presencectl.core.protocols.mqtt import PacketReader
    from presencectl.core.render import RenderOptions, make_renderer
    from presencectl.core.times import TimeParser

    n = args.number

    def best(call, number: int = n) -> float:  # µs per call
        return min(timeit.repeat(call, number=number, repeat=3)) / number * 1e6

    render = make_renderer(RenderOptions(fmt="json"))
    print(f"{'dialect':<16}{'baseline':>10}{'decode':>10}{'render':>10}{'both':>10}{'both/base':>11}{'mqtt read':>11}  vs budget {args.budget_us:g} µs")
    for name, text, topic in samples():
        decoder = Decoder(TimeParser())
        data = text.encode()
        base = best(lambda data=data: orjson.dumps(orjson.loads(data)))
        decode = best(lambda decoder=decoder, text=text, topic=topic: decoder.decode_frame(Frame(text, 1.7e9, topic)))
        events = decoder.decode_frame(Frame(text, 1.7e9, topic))
        for event in events:
            event.summary  # noqa: B018 - made once, as a shown event has it
        render_us = best(lambda events=events: [render(e) for e in events])

        def both(decoder=decoder, text=text, topic=topic) -> None:
            for event in decoder.decode_frame(Frame(text, 1.7e9, topic)):
                render(event)

        both_us = best(both)
        read = ""
        if topic is not None:
            block = b"".join(publish(topic.encode(), data, i % 65535 + 1) for i in range(1000))
            frames: deque = deque()
            reader = PacketReader(False, frames)

            def feed(reader=reader, frames=frames, block=block) -> None:
                reader.feed(block, 1.0)
                frames.clear()
                due = reader.due
                while due:
                    _frame, pid, qos = due.popleft()
                    reader.ack(pid, qos)
                reader.out.clear()

            read = f"{best(feed, max(1, n // 1000)) / 1000:>10.2f}"
        verdict = "over" if both_us > args.budget_us else "within"
        print(f"{name:<16}{base:>10.2f}{decode:>10.2f}{render_us:>10.2f}{both_us:>10.2f}{both_us / base:>10.1f}×{read:>11}  {verdict} ({both_us / args.budget_us:.2f} of it)")
    print("µs per message; 'both' = decode + -f json render; 'mqtt read' = packet parse + PUBACK")


if __name__ == "__main__":
    main()
