"""Anything else that parses as a JSON object: best-effort field picking."""

from __future__ import annotations

from presencectl.core.dialects import Dialect, register, short, text_or_none
from presencectl.core.events import Event, Kind
from presencectl.core.times import TimeParser

NAME = "generic"

TYPE_KEYS = ("event", "type", "category", "method")
SUBJECT_KEYS = ("deviceId", "device", "asset", "id")
TIME_KEYS = ("time", "timestamp", "ts", "date", "datetime", "created_at")


def guess_kind(etype: str) -> tuple[Kind, str | None]:
    """A kind (and presence) from words in an unknown event name."""
    low = etype.lower()
    # Failure words first: "connection_failed" is an error, not a connect.
    if "fail" in low or "error" in low or "refus" in low or "reject" in low:
        return Kind.ERROR, None
    if "disconnect" in low or "offline" in low:
        return Kind.DISCONNECT, "offline"
    if "connect" in low or "online" in low:
        return Kind.CONNECT, "online"
    if "firmware" in low or "ota" in low:
        return Kind.FIRMWARE, None
    if "message" in low or "upstream" in low or "uplink" in low or "data" in low:
        return Kind.MESSAGE, None
    if "state" in low or "status" in low:
        return Kind.STATE, None
    return Kind.OTHER, None


def sniff(obj: dict, topic: str | None) -> bool:
    return True


def normalize(obj: dict, topic: str | None, times: TimeParser) -> Event:
    etype = None
    for key in TYPE_KEYS:
        value = obj.get(key)
        if isinstance(value, str) and value:
            etype = value
            break
    subject = None
    for key in SUBJECT_KEYS:
        subject = text_or_none(obj.get(key))
        if subject is not None:
            break
    when = None
    for key in TIME_KEYS:
        if key in obj:
            when = times(obj[key])
            if when is not None:
                break
    kind, presence = guess_kind(etype) if etype else (Kind.OTHER, None)
    keys = [k for k in obj if k not in TYPE_KEYS and k not in SUBJECT_KEYS and k not in TIME_KEYS]
    summary = " ".join(
        f"{k}={short(obj[k], 30)}" for k in keys[:4] if not isinstance(obj[k], (dict, list))
    )
    return Event(NAME, etype, kind, subject, when, summary, obj, presence)


#: Where identifiers are, for ``anonymise`` (see ``Dialect.identifiers``): the subject keys.
IDENTIFIERS = SUBJECT_KEYS

DIALECT = register(
    Dialect(
        NAME,
        "any other JSON object",
        "white",
        sniff,
        normalize,
        {},
        identifiers=IDENTIFIERS,
        transport="any source: WebSocket, MQTT, Socket.IO, webhook, files, stdin",
        example="presencectl cat events.ndjson --dialect generic",
        order=1_000_000,  # accepts anything: always tried last
        fields={
            "|".join(TYPE_KEYS): "the type: the first of these that is a non-empty string",
            "|".join(SUBJECT_KEYS): "the subject: the first of these present",
            "|".join(TIME_KEYS): "the time: the first of these that reads as one",
            "reason": "why presence changed, when present",
        },
    )
)
