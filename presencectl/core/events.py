"""The normalised event model shared by every dialect, filter and renderer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

__all__ = ["Kind", "Presence", "Event", "Frame", "RetainedFrame", "Marker", "KINDS"]


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


# A plain slotted dataclass, not frozen: frozen dataclasses set every field
# through object.__setattr__, which costs ~1 µs per event on the hot path of
# `cat` (a million events). Treat instances as immutable all the same.
@dataclass(slots=True, eq=True)
class Event:
    """One normalised event.

    ``dialect`` is None for a payload that could not be understood at all
    (malformed JSON, a JSON value that is not an object, invalid UTF-8); its
    ``summary`` then says why and ``text`` holds what was received.
    """

    dialect: str | None
    type: str | None
    kind: str | None
    subject: str | None
    time: datetime | None
    summary: str
    raw: Any
    #: "online" / "offline" / None: what this event says about ``subject``.
    presence: str | None = None
    #: Payload text exactly as received when this event is the whole frame
    #: (None for one element of a batch).
    text: str | bytes | None = None
    #: MQTT topic or Socket.IO event name the frame came with.
    topic: str | None = None
    #: Receive time, seconds since the epoch (None for plain NDJSON input).
    received: float | None = None
    #: Span keep-alive frames are hidden unless asked for.
    keepalive: bool = False

    @property
    def parsed(self) -> bool:
        """True when the payload was understood as a JSON object."""
        return self.dialect is not None

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
    when unknown (plain NDJSON files).
    """

    data: str | bytes
    t: float | None = None
    topic: str | None = None


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
