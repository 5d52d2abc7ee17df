"""Avaya Spaces presence over Socket.IO (``PRESENCE_EVENT_RESPONSE`` on ``/chat``).

Follows the vendor's PRESENCE_EVENT_RESPONSE page (vendor-docs/
avaya-spaces-presence.txt). Payloads carry a ``category`` and no event time
(the receive time is used). The subject is ``sender._id``, except for
``party.removed``, where the party whose presence changes is the removed
attendee (the sender is who removed it).
"""

from __future__ import annotations

from presencectl.core.dialects import Dialect, TypeInfo, register, short, text_or_none
from presencectl.core.events import Event, Kind
from presencectl.core.times import TimeParser

NAME = "spaces"
P = "app.event.presence."

#: The page's "Presence Event Categories" table.
TYPES = {
    P + "party.leaves": TypeInfo(Kind.DISCONNECT, "offline", "a party (the sender) left the space"),
    P + "party.online": TypeInfo(Kind.CONNECT, "online", "a party (the sender) joined the space, or says it is still there"),
    "media.session.invalid": TypeInfo(Kind.ERROR, None, "error processing SEND_PRESENCE_EVENT"),
    P + "request.parties": TypeInfo(Kind.OTHER, None, "a party asks for everyone's presence (answer: party.online)"),
    "party.removed": TypeInfo(Kind.DISCONNECT, "offline", "a party (the attendee) was removed from the space"),
}
_OTHER = TypeInfo(Kind.STATE)

#: The page's "Payload Parameters" (and fields its examples add).
FIELDS = {
    "category": "the presence event category",
    "topicId": "the space (topic) the event is about",
    "sender._id": "unique id of the sender (the subject)",
    "sender.username": "the sender's user name",
    "sender.displayname": "the sender's display name",
    "sender.picture_url": "URL of the sender's profile picture",
    "sender.type": "user | anonymous | phone",
    "sender.phone_numbers": "phone numbers of the sender",
    "content.desktop": "not used",
    "content.idle": "the user is inactive",
    "content.mediaSession.audio": "the user is sending audio",
    "content.mediaSession.connected": "the user is connected to the media session",
    "content.mediaSession.screenshare": "the user is sharing their screen",
    "content.mediaSession.selfMuted": "the user is muted",
    "content.mediaSession.video": "the user is sending video",
    "content.mediaSession.phone": "the user is on the phone (examples)",
    "content.offline": "the user is disconnected",
    "content.role": "admin | member | guest",
    "content.sessionId": "the socket connection's session id (reference only)",
    "content.attendee.attendeeType": "userId | anonymousId (party.removed)",
    "content.attendee.attendee": "the attendee's id (party.removed: the subject)",
    "content.subscribeTime": "when the party subscribed (examples)",
    "content.emitedby": "who emitted it, e.g. wcs for a dial-in user (examples)",
    "content.data": "request.parties: the parties (examples)",
    "receivers": "who receives it: _id, displayname, picture_url, type (user | anonymous), username",
    "loopbackMetadata": "media.session.invalid: the metadata sent with the failed request",
    "_id": "the message id (dial-in examples)",
}
CODES = {
    "sender.type": {"user": "a signed-in user", "anonymous": "an anonymous guest", "phone": "a dial-in phone user"},
    "content.role": {"admin": "space admin", "member": "space member", "guest": "guest"},
    "content.attendee.attendeeType": {"userId": "a user's id", "anonymousId": "an anonymous attendee's id"},
}
_NOTED_SENDERS = frozenset(("anonymous", "phone"))
_NOTED_ROLES = frozenset(("admin", "guest"))


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
    if sender.get("type") in _NOTED_SENDERS:
        parts.append(f"({sender['type']})")
    if content.get("role") in _NOTED_ROLES:
        parts.append(f"role={content['role']}")
    if category == P + "party.online" and content.get("offline") is True:
        presence, kind = "offline", Kind.DISCONNECT
    if content.get("offline") is True:
        parts.append("offline")
    if content.get("idle") is True:
        parts.append("idle")
    media = content.get("mediaSession")
    if isinstance(media, dict):
        on = [k for k, v in media.items() if v is True]
        if on:
            parts.append("media=" + ",".join(on))
    if category == P + "request.parties":
        parts.append("asks for everyone's presence")
    if category == "media.session.invalid":
        parts.append("SEND_PRESENCE_EVENT failed")
        if obj.get("loopbackMetadata") is not None:
            parts.append(f"loopback={short(obj['loopbackMetadata'], 40)}")
    if obj.get("topicId"):
        parts.append(f"topic={short(obj['topicId'])}")
    return Event(NAME, category, kind, subject, None, " ".join(parts), obj, presence)


def reason(event: Event) -> str | None:
    """The category without ``app.event.presence.``; ``(offline)`` when the content says so."""
    etype = event.type or ""
    if etype.startswith(P):
        etype = etype[len(P) :]
    raw = event.raw if isinstance(event.raw, dict) else {}
    content = raw.get("content") if isinstance(raw.get("content"), dict) else {}
    if content.get("offline") is True and event.presence == "offline":
        return f"{etype} (offline)"
    return etype or None


#: Where identifiers are, for ``anonymise`` (see ``Dialect.identifiers``).
IDENTIFIERS = ("_id", "username", "displayname", "attendee", "topicId", "sessionId", "picture_url", "partyId", "spaceId")

DIALECT = register(
    Dialect(
        NAME,
        "Avaya Spaces presence (Socket.IO)",
        "bright_cyan",
        sniff,
        normalize,
        TYPES,
        identifiers=IDENTIFIERS,
        vendor="Avaya Spaces",
        transport="Socket.IO 2.x (Engine.IO v3), namespace /chat, event PRESENCE_EVENT_RESPONSE",
        example=(
            'presencectl tail "sios://spacesapis-socket.avayacloud.com/socket.io/?token=$JWT&tokenType=jwt"'
            " --namespace /chat --emit SUBSCRIBE_CHANNEL '{\"channel\":{\"_id\":\"'$SPACE'\",\"type\":\"topic\"}}'"
            " --event PRESENCE_EVENT_RESPONSE"
        ),
        order=40,
        fields=FIELDS,
        codes=CODES,
        reason=reason,
        source="avaya-spaces-presence.txt",
        sniff_keys=frozenset({"category"}),  # what sniff looks for first (see Dialect.sniff_keys)
    )
)
