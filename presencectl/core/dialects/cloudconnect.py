"""Munic CloudConnect presence notifications.

Follows the vendor's presence page (vendor-docs/munic-cloudconnect-presence.txt).
Delivered by HTTP webhook as a JSON array of ``{"meta": {"event":
"presence", "account": …}, "payload": {…}}`` envelopes, and also seen bare.
Ids are 64-bit integers (``id``, ``connection_id``) with ``*_str`` twins.
The vendor's reason lists are not exhaustive: any reason renders.
"""

from __future__ import annotations

from presencectl.core.dialects import Dialect, TypeInfo, register, short, text_or_none, word
from presencectl.core.events import Event, Kind
from presencectl.core.times import TimeParser

NAME = "cloudconnect"

#: The presence ``type`` values the vendor documents.
TYPES = {
    "connect": TypeInfo(Kind.CONNECT, "online", "the device connected or reconnected to the server"),
    "disconnect": TypeInfo(Kind.DISCONNECT, "offline", "the server closed the communication socket with the device"),
    "failed_connect": TypeInfo(Kind.ERROR, None, "the device could not connect (asset unknown: null)"),
    "declare_asset": TypeInfo(Kind.LIFECYCLE, None, "the asset was declared for the first time on the platform"),
}
#: Not on the presence page: other webhook channels in the same envelope
#: (``meta.event``), and a presence body without a ``type``.
EXTRA_TYPES = {
    "track": TypeInfo(Kind.MESSAGE, None, "tracking data (another webhook channel)"),
    "message": TypeInfo(Kind.MESSAGE, None, "a message (another webhook channel)"),
    "presence": TypeInfo(Kind.OTHER, None, "a presence with no type"),
}
PRESENCE_TYPES = frozenset(TYPES)
_OTHER = TypeInfo(Kind.OTHER)
#: The presence fields the vendor documents, and the webhook envelope.
FIELDS = {
    "id": "64-bit unique track identifier (kept exact)",
    "id_str": "the id as a string",
    "connection_id": "64-bit unique connection identifier (kept exact)",
    "connection_id_str": "the connection id as a string",
    "type": "connect | disconnect | failed_connect | declare_asset",
    "reason": "why, from the server (disconnect) or the device (connect); not an exhaustive list",
    "asset": "IMEI of the device (the subject); null on failed_connect",
    "time": "when CloudConnect created the event, RFC 3339",
    "meta.event": "webhook envelope: the channel (presence)",
    "meta.account": "webhook envelope: the CloudConnect account",
}
#: Reasons: the page's lists are not reproduced in it; these are the ones
#: SPEC §2 and the samples name. Others render as they come.
CODES = {
    "reason": {
        "cold_boot": "the device started from power-off (connect)",
        "suspend_boot": "the device woke from suspend (connect)",
        "idle_out": "the connection was idle too long",
        "ppp_lost": "the device lost its PPP data link",
        "network_activity_timeout": "no network activity within the timeout (disconnect)",
        "socket_closed": "the communication socket was closed (disconnect)",
        "unknown_device": "the device is not known to the platform (failed_connect)",
    },
}


def _body(obj: dict) -> tuple[dict, str | None]:
    """The presence body and the envelope's event name (None when bare)."""
    meta = obj.get("meta")
    payload = obj.get("payload")
    if isinstance(meta, dict) and isinstance(payload, dict):
        event = meta.get("event")
        return payload, event if isinstance(event, str) else None
    return obj, None


def sniff(obj: dict, topic: str | None) -> bool:
    # Runs first for every payload: a bare notification, else an envelope.
    kind = obj.get("type")
    if kind is not None and type(kind) is str and kind in PRESENCE_TYPES:
        return "connection_id" in obj or "connection_id_str" in obj or "asset" in obj
    if "meta" not in obj:
        return False
    return _body(obj)[1] is not None


def normalize(obj: dict, topic: str | None, times: TimeParser) -> Event:
    body, channel = _body(obj)
    if channel is None or channel == "presence":
        etype = body.get("type")
        etype = etype if isinstance(etype, str) and etype else "presence"
    else:
        etype = channel
    info = TYPES.get(etype) or EXTRA_TYPES.get(etype, _OTHER)
    parts = []
    reason = body.get("reason")
    if reason is not None:
        parts.append(f"reason={short(reason)}")
    conn = body.get("connection_id_str") or body.get("connection_id")
    if conn is not None:
        parts.append(f"connection={conn}")
    if channel is not None and isinstance(obj.get("meta"), dict):
        account = obj["meta"].get("account")
        if account:
            parts.append(f"account={short(account)}")
    return Event(
        NAME,
        etype,
        info.kind,
        text_or_none(body.get("asset")),
        times(body.get("time") or body.get("recorded_at") or body.get("received_at")),
        " ".join(parts),
        obj,
        info.presence,
    )


def reason(event: Event) -> str | None:
    """The ``reason`` of the presence (``cold_boot``, ``socket_closed``…), else the type."""
    body = _body(event.raw)[0] if isinstance(event.raw, dict) else {}
    return word(body.get("reason")) or event.type


#: Where identifiers are, for ``anonymise`` (see ``Dialect.identifiers``).
IDENTIFIERS = ("asset", "account", "id", "id_str", "connection_id", "connection_id_str", "imei", "imsi", "iccid")

DIALECT = register(
    Dialect(
        NAME,
        "Munic CloudConnect presence webhooks",
        "bright_blue",
        sniff,
        normalize,
        TYPES,
        identifiers=IDENTIFIERS,
        vendor="CloudConnect",
        transport="HTTP webhook POST: a JSON array of {meta, payload} envelopes (presencectl listens)",
        example="presencectl tail http://127.0.0.1:8088/munic --listen --record munic.capture.ndjson",
        order=10,
        extra_types=EXTRA_TYPES,
        fields=FIELDS,
        codes=CODES,
        reason=reason,
        source="munic-cloudconnect-presence.txt",
        sniff_keys=frozenset({"type", "meta"}),  # what sniff looks for first (see Dialect.sniff_keys)
    )
)
