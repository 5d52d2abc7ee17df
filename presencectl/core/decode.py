"""Payload text → Events: JSON parsing, batches, several payloads in one frame.

The rules (SPEC §3.1, §5): a payload that parses as one JSON document is one
payload, pretty-printed or not; otherwise it is split into newline-delimited
payloads. A JSON array is a batch: each object in it is one event. Anything
that is not a JSON object becomes an *unparsed* event (``dialect`` None) with
the reason in ``summary`` and the received text in ``text``: shown, counted,
never dropped.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

from presencectl.core import dialects
from presencectl.core.dialects import Dialect, Unwrapped
from presencectl.core.events import Event, Frame
from presencectl.core.framing import OverlongLine
from presencectl.core.times import TimeParser

__all__ = ["Decoder", "loads", "unparsed", "too_deep", "MAX_DEPTH"]

_JSONDecodeError = orjson.JSONDecodeError
_RETAINED = {"retained": True}

#: JSON nested deeper than this is not read (an ``unparsed`` event says so):
#: every later step (orjson writes at most 255 levels, the stdlib recurses)
#: can then handle whatever was read.
MAX_DEPTH = 200
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[][{}]")
_DEEP = f"JSON nested deeper than {MAX_DEPTH} levels"
_DEEP_MIN = 2 * MAX_DEPTH


def too_deep(data: str | bytes) -> bool:
    """Whether ``data`` nests arrays/objects deeper than :data:`MAX_DEPTH`.

    Costs two ``count`` calls unless the text holds that many brackets at all.
    """
    if isinstance(data, str):
        if data.count("{") + data.count("[") <= MAX_DEPTH:
            return False
        data = data.encode("utf-8", "surrogatepass")
    elif data.count(b"{") + data.count(b"[") <= MAX_DEPTH:
        return False
    depth = 0
    for bracket in _BRACKET.findall(_STRING.sub(b"", data)):
        if bracket in b"[{":
            depth += 1
            if depth > MAX_DEPTH:
                return True
        else:
            depth -= 1
    return False


def loads(data: str | bytes) -> Any:
    """Parse JSON; integers beyond 64 bits and NaN fall back to the stdlib.

    Raises:
        ValueError: not JSON (``json.JSONDecodeError`` or ``UnicodeDecodeError``).
    """
    if too_deep(data):
        raise ValueError(_DEEP)
    try:
        return orjson.loads(data)
    except _JSONDecodeError:
        # orjson refuses integers over 64 bits and NaN/Infinity; json takes both
        # (and keeps big ints exact).
        if isinstance(data, bytes):
            data = data.decode("utf-8")
        return json.loads(data)


def unparsed(
    reason: str, text: str | bytes, topic: str | None = None, received: float | None = None
) -> Event:
    """An event for a payload that is not a JSON object."""
    return Event(None, None, None, None, None, reason, None, None, text, topic, received)


def _type_name(value: Any) -> str:
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return "a number"
    return "an array"


class Decoder:
    """Decodes payload texts into Events.

    Args:
        times: the timestamp parser (holds the zone for naive times).
        dialect: force this dialect instead of detecting one per payload.

    Example::

        decoder = Decoder(TimeParser())
        events = decoder.decode('{"event": "clientConnected", "deviceId": "d1", "collectionId": "c"}')
    """

    __slots__ = ("times", "forced", "_order", "_generic", "_sniffers", "_unwrappers", "_shapes")

    def __init__(self, times: TimeParser | None = None, dialect: Dialect | None = None) -> None:
        self.times = times or TimeParser()
        self.forced = dialect
        self._order = dialects.registry()
        self._generic = dialects.get("generic")
        # (sniff, dialect) pairs: one attribute lookup less per try on the hot path.
        self._sniffers = tuple((d.sniff, d) for d in self._order)
        # Framings dialects declare (Navixy's Atmosphere), tried on text that is not JSON.
        self._unwrappers = dialects.unwrappers()
        # Set of keys (as a tuple, in payload order) → the (sniff, dialect)
        # pairs that may accept an object with those keys and no topic: a
        # stream repeats a few shapes, so most lines ask one or two sniffs.
        self._shapes: dict[tuple[str, ...], tuple] = {}

    def decode(
        self, data: str | bytes, topic: str | None = None, received: float | None = None
    ) -> list[Event]:
        """All events in one payload (empty for a blank payload)."""
        try:
            obj = orjson.loads(data)
        except _JSONDecodeError:
            return self._slow(data, topic, received)
        # Nesting deeper than MAX_DEPTH takes at least 2 * MAX_DEPTH bytes.
        if len(data) > _DEEP_MIN and too_deep(data):
            return [unparsed(_DEEP, data, topic, received)]
        if type(obj) is dict:
            # _normalize inlined: this is the per-line hot path of `cat`.
            dialect = self.forced
            if dialect is None:
                if topic is None:
                    shape = tuple(obj)
                    sniffers = self._shapes.get(shape)
                    if sniffers is None:
                        sniffers = self._shape(shape)
                else:
                    sniffers = self._sniffers
                for sniff, dialect in sniffers:  # noqa: B007
                    if sniff(obj, topic):
                        break
            try:
                event = dialect.normalize(obj, topic, self.times)
            except Exception:  # a dialect must never take the stream down
                event = self._fallback(obj, topic)
            if type(event) is list:  # a dialect-level batch (Navixy state_batch)
                for item in event:
                    item.topic, item.received = topic, received
                return event
            event.text = data
            if topic is not None or received is not None:  # both None in files: skip two stores
                event.topic = topic
                event.received = received
            return [event]
        return self._value(obj, data, topic, received)

    def _shape(self, shape: tuple[str, ...]) -> tuple:
        """The sniffers that may accept an object with these keys and no topic (cached)."""
        keys = set(shape)
        found = tuple(
            (sniff, dialect)
            for sniff, dialect in self._sniffers
            if dialect.sniff_keys is None or not keys.isdisjoint(dialect.sniff_keys)
        )
        if not found or found[-1][1] is not self._generic:
            found = self._sniffers  # (a registry without generic last: ask everyone)
        if len(self._shapes) >= 1024:  # hostile input: a new set of keys on every line
            self._shapes.clear()
        self._shapes[shape] = found
        return found

    def decode_frame(self, frame: Frame) -> list[Event]:
        """The events of one Frame; a retained MQTT message says so in each summary.

        The frame's message properties (and the retain flag) go to every event's ``meta``.
        """
        events = self.decode(frame.data, frame.topic, frame.t)
        meta = frame.meta
        if frame.retained:
            meta = {"retained": True, **meta} if meta else _RETAINED
            for event in events:
                event.summary = f"(retained) {event.summary}".rstrip()
        if meta is not None:
            for event in events:
                event.meta = meta
        return events

    def _normalize(self, obj: dict, topic: str | None) -> Event | list[Event]:
        dialect = self.forced
        if dialect is None:
            for sniff, dialect in self._sniffers:  # noqa: B007
                if sniff(obj, topic):
                    break
        try:
            return dialect.normalize(obj, topic, self.times)
        except Exception:  # a dialect must never take the stream down
            return self._fallback(obj, topic)

    def _fallback(self, obj: dict, topic: str | None) -> Event:
        """The generic reading of an object a dialect choked on; it keeps the payload."""
        try:
            return self._generic.normalize(obj, topic, self.times)
        except Exception as exc:  # noqa: BLE001 - hostile values: a field that cannot be read
            return Event("generic", None, "other", None, None, f"(cannot read this payload: {type(exc).__name__})", obj)

    def _value(self, obj: Any, data: str | bytes, topic: str | None, received: float | None) -> list[Event]:
        if type(obj) is dict:
            result = self._normalize(obj, topic)
            if type(result) is list:
                for item in result:
                    item.topic, item.received = topic, received
                return result
            result.text, result.topic, result.received = data, topic, received
            return [result]
        if type(obj) is list:
            out: list[Event] = []
            for index, item in enumerate(obj):
                if type(item) is dict:
                    result = self._normalize(item, topic)
                    for event in result if type(result) is list else [result]:
                        event.topic, event.received = topic, received
                        out.append(event)
                else:
                    reason = f"batch element {index} is {_type_name(item)}, not an object"
                    out.append(unparsed(reason, orjson_dumps(item), topic, received))
            if not obj:
                out.append(unparsed("an empty JSON array", data, topic, received))
            return out
        return [unparsed(f"JSON value is {_type_name(obj)}, not an object", data, topic, received)]

    def _slow(self, data: str | bytes, topic: str | None, received: float | None) -> list[Event]:
        if type(data) is OverlongLine:  # orjson takes no bytes subclass: it always lands here
            return [unparsed(data.reason, bytes(data), topic, received)]
        if too_deep(data):
            return [unparsed(_DEEP, data, topic, received)]
        if isinstance(data, bytes):
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                return [unparsed(f"invalid UTF-8 at byte {exc.start}", data, topic, received)]
        else:
            text = data
        if not text.strip():
            return []
        try:
            obj = json.loads(text)
        except ValueError as exc:
            first = exc
        except RecursionError:
            return [unparsed(_DEEP, data, topic, received)]
        else:
            return self._value(obj, data, topic, received)
        for unwrap in self._unwrappers:
            framed = unwrap(text)
            if framed is not None:
                return self._unwrapped(framed, data, topic, received)
        if "\n" in text.strip():
            lines = [line for line in text.splitlines() if line.strip()]
            results = [self.decode(line, topic, received) for line in lines]
            if any(ev.parsed for evs in results for ev in evs):
                return [ev for evs in results for ev in evs]
        return [unparsed(f"invalid JSON: {_reason(first)}", data, topic, received)]


    def _unwrapped(
        self, framed: Unwrapped, data: str | bytes, topic: str | None, received: float | None
    ) -> list[Event]:
        if framed.events:
            # The framing's own frames (a handshake, a heart-beat) are the frame as received.
            for event in framed.events:
                event.text, event.topic, event.received = data, topic, received
            events = list(framed.events)
            for payload in framed.payloads:
                events.extend(self.decode(payload, topic, received))
            return events
        events = [e for payload in framed.payloads for e in self.decode(payload, topic, received)]
        if not any(e.parsed for e in events):
            # Nothing in it was JSON: show the frame as received, prefix and all.
            return [unparsed("invalid JSON (a length-prefixed frame holding no JSON object)", data, topic, received)]
        return events


def _reason(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    return str(exc)


def orjson_dumps(value: Any) -> bytes:
    """Compact JSON bytes, exact for integers of any size."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode(
            "utf-8", "backslashreplace"
        )
