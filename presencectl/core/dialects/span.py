"""Lab5e Span activity stream (``wss://…/span/collections/{id}/activity``).

Follows the vendor's "Activity events" page (vendor-docs/
lab5e-span-activity-events.txt). Each frame is ``{"collectionId",
"deviceId", "event", "time", "data"}``; ``time`` carries no zone and
``data`` varies with the event. Frames with no ``collectionId`` are
keep-alives (their shape is not documented).
"""

from __future__ import annotations

from presencectl.core.dialects import Dialect, TypeInfo, register, short, text_or_none
from presencectl.core.events import Event, Kind
from presencectl.core.times import TimeParser

NAME = "span"

#: The vendor's "Activity events" table, in its order.
TYPES = {
    "imeiMismatch": TypeInfo(Kind.ERROR, None, "a connecting device's IMEI does not match its configuration"),
    "imsiMismatch": TypeInfo(Kind.ERROR, None, "a connecting device's IMSI does not match (SIM card moved?)"),
    "ciotConnect": TypeInfo(Kind.CONNECT, "online", "a device authenticated on the mobile network (not yet on Span)"),
    "clientConnected": TypeInfo(Kind.CONNECT, "online", "a device connected to Span (UDP, CoAP or DTLS)"),
    "clientDisconnected": TypeInfo(Kind.DISCONNECT, "offline", "a device disconnected from Span"),
    "upstreamMessage": TypeInfo(Kind.MESSAGE, None, "a device sent a message to Span"),
    "downstreamMessage": TypeInfo(Kind.MESSAGE, None, "a message was sent to a device"),
    "firmwareRequested": TypeInfo(Kind.FIRMWARE, None, "a device requested to download a firmware image"),
    "firmwareCheck": TypeInfo(Kind.FIRMWARE, None, "a device reported its firmware version"),
    "firmwareUpdateRequired": TypeInfo(Kind.FIRMWARE, None, "Span detected that the device needs new firmware"),
    "firmwareCurrent": TypeInfo(Kind.FIRMWARE, None, "the device reported its version and it is up to date"),
    "firmwareStateChange": TypeInfo(Kind.FIRMWARE, None, "the firmware state changed (repeats while updating)"),
    "blobUpload": TypeInfo(Kind.MESSAGE, None, "a device uploaded a new blob"),
    "deviceCreated": TypeInfo(Kind.LIFECYCLE, None, "a device was created via the API"),
    "deviceUpdated": TypeInfo(Kind.LIFECYCLE, None, "a device was updated via the API"),
    "deviceRemoved": TypeInfo(Kind.LIFECYCLE, None, "a device was removed via the API"),
    "deviceMoved": TypeInfo(Kind.LIFECYCLE, None, "a device moved from one collection to another"),
    "gatewayConnected": TypeInfo(Kind.CONNECT, "online", "a gateway connected to the gateway API endpoint"),
    "gatewayDisconnected": TypeInfo(Kind.DISCONNECT, "offline", "a gateway disconnected from the gateway API endpoint"),
    "gatewayDeviceUpdate": TypeInfo(Kind.LIFECYCLE, None, "a gateway received device updates"),
    "gatewayUpstreamMessage": TypeInfo(Kind.MESSAGE, None, "a message was sent from a device via a gateway"),
    "gatewayDownstreamMessage": TypeInfo(Kind.MESSAGE, None, "a message was sent to a device via a gateway"),
    "gatewayConfigUpdate": TypeInfo(Kind.LIFECYCLE, None, "a gateway received a configuration update"),
    "gatewayCommError": TypeInfo(Kind.ERROR, None, "communicating with a gateway failed (abrupt disconnect, network error)"),
}
EXTRA_TYPES = {
    "keepalive": TypeInfo(Kind.OTHER, None, "a frame with no collectionId (shape undocumented); hidden unless --keepalive"),
}
#: The vendor's "Event structure" section (data fields from its example session).
FIELDS = {
    "collectionId": "the collection the device belongs to (absent on keep-alives)",
    "deviceId": "the device (the subject)",
    "event": "the event type",
    "time": "when, YYYY-MM-DD HH:MM:SS with no zone (--assume-tz)",
    "data": "metadata that varies with the event type",
    "data.id": "how the device authenticated (clientConnected: certificate)",
    "data.bytes": "message size in bytes (upstreamMessage)",
    "data.transport": "how the message travelled (upstreamMessage)",
}


def _guess(etype: str) -> TypeInfo:
    """A kind for an event name the vendor's list does not have (it may grow)."""
    if etype.startswith("firmware"):
        return TypeInfo(Kind.FIRMWARE)
    if etype.endswith("Mismatch") or "rror" in etype:
        return TypeInfo(Kind.ERROR)
    if etype.endswith("Message"):
        return TypeInfo(Kind.MESSAGE)
    if etype.startswith(("device", "gateway")):
        return TypeInfo(Kind.LIFECYCLE)
    return TypeInfo(Kind.OTHER)


def sniff(obj: dict, topic: str | None) -> bool:
    if "event" in obj:
        return "collectionId" in obj or "deviceId" in obj
    # The keep-alive seen on the activity socket.
    return obj.get("type") == "keepalive" and len(obj) == 1


def summary(obj: dict) -> str:
    """The first five scalars of ``data``, ``key=value``: enough to tell messages apart on one line."""
    data = obj.get("data")
    if type(data) is not dict:
        return ""
    # Per line of a busy stream: short strings (nearly every value) skip short(),
    # and a loop of plain concatenations beats a comprehension of f-strings.
    items = data.items() if len(data) <= 5 else list(data.items())[:5]
    parts = []
    for k, v in items:
        kind = type(v)
        if kind is str and len(v) <= 40:
            parts.append(k + "=" + v)
        elif kind is not dict and kind is not list:
            parts.append(k + "=" + short(v, 40))
    return " ".join(parts)


def normalize(obj: dict, topic: str | None, times: TimeParser) -> Event:
    etype = obj.get("event")
    info = TYPES.get(etype)  # type: ignore[arg-type]
    if info is None:
        if type(etype) is not str or not etype:
            etype = "keepalive"
        info = EXTRA_TYPES.get(etype) or _guess(etype)
    subject = obj.get("deviceId")
    event = Event(
        NAME,
        etype,
        info.kind,
        subject if type(subject) is str and subject else text_or_none(subject),
        times(obj.get("time")),
        summary,  # made when first read: a -f raw line never needs it
        obj,
        info.presence,
    )
    if "collectionId" not in obj:
        event.keepalive = True
    return event


def reason(event: Event) -> str | None:
    """Span's word for a presence change is the event name (``clientDisconnected``)."""
    return event.type


#: Where identifiers are, for ``anonymise`` (see ``Dialect.identifiers``).
IDENTIFIERS = ("deviceId", "collectionId", "gatewayId", "imei", "imsi", "iccid", "msisdn")

DIALECT = register(
    Dialect(
        NAME,
        "Lab5e Span activity events",
        "bright_magenta",
        sniff,
        normalize,
        TYPES,
        identifiers=IDENTIFIERS,
        vendor="Span",
        transport="WebSocket wss://…/span/collections/{id}/activity, one JSON object per line",
        example='presencectl tail wss://api.lab5e.com/span/collections/$COLLECTION/activity -H "X-API-Token: $SPAN_TOKEN"',
        order=30,
        extra_types=EXTRA_TYPES,
        fields=FIELDS,
        reason=reason,
        source="lab5e-span-activity-events.txt",
        sniff_keys=frozenset({"event", "type"}),  # what sniff looks for first (see Dialect.sniff_keys)
    )
)
