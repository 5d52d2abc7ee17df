"""Lab5e Span activity stream (``wss://…/span/collections/{id}/activity``).

Each frame is ``{"collectionId", "deviceId", "event", "time", "data"}``;
``time`` carries no zone. Frames with no ``collectionId`` are keep-alives.
"""

from __future__ import annotations

from presencectl.core.dialects import Dialect, TypeInfo, register, short, text_or_none
from presencectl.core.events import Event, Kind
from presencectl.core.times import TimeParser

NAME = "span"

TYPES = {
    "clientConnected": TypeInfo(Kind.CONNECT, "online", "a device connected to the service"),
    "clientDisconnected": TypeInfo(Kind.DISCONNECT, "offline", "a device disconnected"),
    "ciotConnect": TypeInfo(Kind.CONNECT, "online", "a CIoT (NB-IoT/LTE-M) session started"),
    "imeiMismatch": TypeInfo(Kind.ERROR, None, "the IMEI did not match the registered device"),
    "imsiMismatch": TypeInfo(Kind.ERROR, None, "the IMSI did not match the registered device"),
    "upstreamMessage": TypeInfo(Kind.MESSAGE, None, "a message from the device"),
    "downstreamMessage": TypeInfo(Kind.MESSAGE, None, "a message to the device"),
    "firmwareRequested": TypeInfo(Kind.FIRMWARE, None, "the device asked for firmware"),
    "firmwareCheck": TypeInfo(Kind.FIRMWARE, None, "the device checked its firmware version"),
    "firmwareUpdateRequired": TypeInfo(Kind.FIRMWARE, None, "the device must update its firmware"),
    "firmwareCurrent": TypeInfo(Kind.FIRMWARE, None, "the device runs the current firmware"),
    "firmwareStateChange": TypeInfo(Kind.FIRMWARE, None, "the firmware update state changed"),
    "blobUpload": TypeInfo(Kind.MESSAGE, None, "the device uploaded a blob"),
    "deviceCreated": TypeInfo(Kind.LIFECYCLE, None, "a device was created"),
    "deviceUpdated": TypeInfo(Kind.LIFECYCLE, None, "a device was updated"),
    "deviceRemoved": TypeInfo(Kind.LIFECYCLE, None, "a device was removed"),
    "deviceMoved": TypeInfo(Kind.LIFECYCLE, None, "a device moved to another collection"),
    "gatewayCreated": TypeInfo(Kind.LIFECYCLE, None, "a gateway was created"),
    "gatewayUpdated": TypeInfo(Kind.LIFECYCLE, None, "a gateway was updated"),
    "gatewayRemoved": TypeInfo(Kind.LIFECYCLE, None, "a gateway was removed"),
    "gatewayConnected": TypeInfo(Kind.CONNECT, None, "a gateway connected"),
    "gatewayDisconnected": TypeInfo(Kind.DISCONNECT, None, "a gateway disconnected"),
}


def _guess(etype: str) -> TypeInfo:
    if etype.startswith("firmware"):
        return TypeInfo(Kind.FIRMWARE)
    if etype.startswith(("device", "gateway")):
        return TypeInfo(Kind.LIFECYCLE)
    if etype.endswith("Mismatch") or "rror" in etype:
        return TypeInfo(Kind.ERROR)
    if etype.endswith("Message"):
        return TypeInfo(Kind.MESSAGE)
    return TypeInfo(Kind.OTHER)


def sniff(obj: dict, topic: str | None) -> bool:
    if "event" in obj:
        return "collectionId" in obj or "deviceId" in obj
    # The keep-alive seen on the activity socket.
    return obj.get("type") == "keepalive" and len(obj) == 1


def normalize(obj: dict, topic: str | None, times: TimeParser) -> Event:
    etype = obj.get("event")
    info = TYPES.get(etype)  # type: ignore[arg-type]
    if info is None:
        if type(etype) is not str or not etype:
            etype = "keepalive"
        info = _guess(etype)
    data = obj.get("data")
    if type(data) is dict:
        # Scalars only, the first five: enough to tell messages apart on one line.
        summary = " ".join(
            [f"{k}={short(v, 40)}" for k, v in list(data.items())[:5] if type(v) is not dict and type(v) is not list]
        )
    else:
        summary = ""
    event = Event(
        NAME,
        etype,
        info.kind,
        text_or_none(obj.get("deviceId")),
        times(obj.get("time")),
        summary,
        obj,
        info.presence,
    )
    if "collectionId" not in obj:
        event.keepalive = True
    return event


#: Where identifiers are, for ``anonymise`` (see ``Dialect.identifiers``).
IDENTIFIERS = ("deviceId", "collectionId", "gatewayId", "imei", "imsi", "iccid", "msisdn")

DIALECT = register(Dialect(NAME, "Lab5e Span activity events", "bright_magenta", sniff, normalize, TYPES, IDENTIFIERS))
