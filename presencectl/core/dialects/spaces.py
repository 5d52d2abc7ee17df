"""Avaya Spaces presence over Socket.IO (``PRESENCE_EVENT_RESPONSE`` on ``/chat``).

Payloads carry a ``category`` and no event time (the receive time is used).
The subject is ``sender._id``, except for ``party.removed``, where the party
whose presence changes is the removed attendee (the sender is who removed it).
"""

from __future__ import annotations

from presencectl.core.dialects import Dialect, TypeInfo, register, short, text_or_none
from presencectl.core.events import Event, Kind
from presencectl.core.times import TimeParser

NAME = "spaces"
P = "app.event.presence."

TYPES = {
    P + "party.online": TypeInfo(Kind.CONNECT, "online", "a party came online in the space"),
    P + "party.leaves": TypeInfo(Kind.DISCONNECT, "offline", "a party left the space"),
    P + "party.idle": TypeInfo(Kind.STATE, None, "a party went idle"),
    P + "party.offline": TypeInfo(Kind.DISCONNECT, "offline", "a party went offline"),
    P + "request.parties": TypeInfo(Kind.OTHER, None, "the list of parties was requested"),
    "party.removed": TypeInfo(Kind.DISCONNECT, "offline", "a party was removed from the space"),
    "media.session.invalid": TypeInfo(Kind.ERROR, None, "a media session became invalid"),
}
_OTHER = TypeInfo(Kind.STATE)


def sniff(obj: dict, topic: str | None) -> bool:
    category = obj.get("category")
    return isinstance(category, str) and (
        category.startswith(P) or category == "party.removed" or category == "media.session.invalid"
    )


def normalize(obj: dict, topic: str | None, times: TimeParser) -> Event:
    category = obj["category"]
    info = TYPES.get(category, _OTHER)
    sender = obj.get("sender") if isinstance(obj.get("sender"), dict) else {}
    content = obj.get("content") if isinstance(obj.get("content"), dict) else {}
    subject = text_or_none(sender.get("_id"))
    presence = info.presence
    kind = info.kind
    parts: list[str] = []
    name = sender.get("displayname") or sender.get("username")
    if category == "party.removed":
        attendee = content.get("attendee")
        if isinstance(attendee, dict) and text_or_none(attendee.get("attendee")):
            subject = text_or_none(attendee.get("attendee"))
        if name:
            parts.append(f"removed by {short(name, 40)}")
    elif name:
        parts.append(short(name, 40))
    if category == P + "party.online" and content.get("offline") is True:
        presence, kind = "offline", Kind.DISCONNECT
    if content.get("idle") is True:
        parts.append("idle")
    media = content.get("mediaSession")
    if isinstance(media, dict):
        on = [k for k, v in media.items() if v is True]
        if on:
            parts.append("media=" + ",".join(on))
    if obj.get("topicId"):
        parts.append(f"topic={short(obj['topicId'])}")
    return Event(NAME, category, kind, subject, None, " ".join(parts), obj, presence)


#: Where identifiers are, for ``anonymise`` (see ``Dialect.identifiers``).
IDENTIFIERS = ("_id", "username", "displayname", "attendee", "topicId", "sessionId", "picture_url", "partyId", "spaceId")

DIALECT = register(Dialect(NAME, "Avaya Spaces presence (Socket.IO)", "bright_cyan", sniff, normalize, TYPES, IDENTIFIERS))
