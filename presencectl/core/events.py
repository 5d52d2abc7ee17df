"""The normalised event model shared by every dialect, filter and renderer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

__all__ = ["Kind", "Presence", "Event", "Frame", "RetainedFrame", "Marker", "KINDS", "META_KEYS"]

#: The optional keys of a message's metadata, in output order: they appear in
#: ``-f json`` lines and capture records only when they say something
#: (absent: QoS 0, not retained, no content type, no user properties).
META_KEYS = ("retained", "qos", "content_type", "user_properties")


class Kind(StrEnum):
    """What sort of thing happened; it picks the colour."""

    CONNECT = "connect"
    DISCONNECT = "disconnect"
    STATE = "state"
    MESSAGE = "message"
    FIRMWARE = "firmware"
    ERROR = "error"
    LIFECYCLE = "lifecycle"
    OTHER = "other"


KINDS: tuple[str, ...] = tuple(k.value for k in Kind)


class Presence(StrEnum):
    """The presence state an event implies for its subject."""

    ONLINE = "online"
    OFFLINE = "offline"


#: The fields of an Event, in order: the constructor's parameters, ``==`` and ``repr``.
_FIELDS = (
    "dialect", "type", "kind", "subject", "time", "summary", "raw",
    "presence", "text", "topic", "received", "keepalive", "meta",
)


class Event:
    """One normalised event.

    ``dialect`` is None for a payload that could not be understood at all
    (malformed JSON, a JSON value that is not an object, invalid UTF-8); its
    ``summary`` then says why and ``text`` holds what was received.

    ``summary`` may be given as a function of ``raw`` instead of a string: it
    is called the first time the summary is read, and its result kept (a
    ``-f raw`` line or an event a filter drops never pays for it). Such a
    function must return a string for any ``raw`` its dialect accepts.

    A plain slotted class, not a frozen dataclass (frozen ones set every
    field through ``object.__setattr__``, ~1 µs per event on the hot path of
    ``cat``). Treat instances as immutable all the same.
    """

    __slots__ = (
        "dialect", "type", "kind", "subject", "time", "_summary", "raw",
        "presence", "text", "topic", "received", "keepalive", "meta",
    )

    def __init__(
        self,
        dialect: str | None,
        type: str | None,  # noqa: A002 - the field's name
        kind: str | None,
        subject: str | None,
        time: datetime | None,
        summary: str | Callable[[Any], str],
        raw: Any,
        presence: str | None = None,
        text: str | bytes | None = None,
        topic: str | None = None,
        received: float | None = None,
        keepalive: bool = False,
        meta: dict[str, Any] | None = None,
    ) -> None:
        self.dialect = dialect
        self.type = type
        self.kind = kind
        self.subject = subject
        self.time = time
        self._summary = summary
        self.raw = raw
        #: "online" / "offline" / None: what this event says about ``subject``.
        self.presence = presence
        #: Payload text exactly as received when this event is the whole frame
        #: (None for one element of a batch).
        self.text = text
        #: MQTT topic or Socket.IO event name the frame came with.
        self.topic = topic
        #: Receive time, seconds since the epoch (None for plain NDJSON input).
        self.received = received
        #: Span keep-alive frames are hidden unless asked for.
        self.keepalive = keepalive
        #: What the transport said about the message besides its topic, as the
        #: optional ``-f json`` keys (see :data:`META_KEYS`); None: nothing.
        self.meta = meta

    @property
    def summary(self) -> str:
        """One short line about the event (computed on first use when given as a function)."""
        summary = self._summary
        if type(summary) is str:
            return summary
        try:
            summary = summary(self.raw)  # type: ignore[operator]
        except Exception as exc:  # noqa: BLE001 - a dialect must never take the stream down
            summary = f"(cannot read this payload: {type(exc).__name__})"
        self._summary = summary
        return summary

    @summary.setter
    def summary(self, value: str) -> None:
        self._summary = value

    @property
    def parsed(self) -> bool:
        """True when the payload was understood as a JSON object."""
        return self.dialect is not None

    def _values(self) -> tuple:
        return tuple(getattr(self, name) for name in _FIELDS)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def __repr__(self) -> str:
        return f"Event({', '.join(f'{name}={getattr(self, name)!r}' for name in _FIELDS)})"

    def __str__(self) -> str:
        # Built for logs: short, and tolerant of anything in the payload.
        subject = self.subject if self.subject is not None else "-"
        text = f"[{self.dialect or 'unparsed'}] {self.type or '-'} {subject} {self.summary}"
        return text if len(text) <= 120 else text[:117] + "..."


@dataclass(slots=True)
class Frame:
    """One payload as a transport delivered it (one capture record).

    ``data`` is ``str`` for text, ``bytes`` for a binary frame or text that is
    not valid UTF-8. ``t`` is the receive time (seconds since the epoch), None
    when unknown (plain NDJSON files). ``meta`` holds MQTT message properties
    when there are any: ``qos`` (1 or 2; absent for 0), ``content_type``,
    ``user_properties`` (a list of ``[name, value]`` pairs, in order,
    repeats allowed); the capture keeps them as optional record keys.
    """

    data: str | bytes
    t: float | None = None
    topic: str | None = None
    meta: dict[str, Any] | None = None


class RetainedFrame(Frame):
    """A Frame an MQTT broker sent from its retained-message store.

    It is the last value stored on that topic, possibly long ago, not a live
    event: its events say so in their summary, and the capture keeps the flag.
    """

    __slots__ = ()
    retained = True


class DupFrame(Frame):
    """A QoS 1/2 MQTT message the broker sent again (its DUP flag is set).

    It may be a copy of a message already received (at-least-once delivery,
    e.g. after a reconnect): the capture keeps the flag (``"dup": true``) so
    replays and ``stats`` can tell copies apart.
    """

    __slots__ = ()
    dup = True


class RetainedDupFrame(RetainedFrame):
    """A retained message sent again (both flags)."""

    __slots__ = ()
    dup = True


#: Frames are not retained unless they are RetainedFrames, not resent unless DupFrames.
Frame.retained = False  # type: ignore[attr-defined]
Frame.dup = False  # type: ignore[attr-defined]


def frame_type(retained: bool, dup: bool) -> type[Frame]:
    """The Frame class for these MQTT flags."""
    if dup:
        return RetainedDupFrame if retained else DupFrame
    return RetainedFrame if retained else Frame


@dataclass(slots=True)
class Marker:
    """A connection-state record in a capture: connected, disconnected, reconnecting."""

    mark: str
    t: float | None = None
    detail: str | None = None
