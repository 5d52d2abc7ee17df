"""Munic CloudConnect presence notifications.

Delivered by HTTP webhook as a JSON array of ``{"meta": {"event":
"presence", "account": …}, "payload": {…}}`` envelopes, and also seen bare.
Ids are 64-bit integers (``id``, ``connection_id``) with ``*_str`` twins.
"""

from __future__ import annotations

from presencectl.core.dialects import Dialect, TypeInfo, register, short, text_or_none
from presencectl.core.events import Event, Kind
from presencectl.core.times import TimeParser

NAME = "cloudconnect"

TYPES = {
    "connect": TypeInfo(Kind.CONNECT, "online", "the device opened a connection"),
    "disconnect": TypeInfo(Kind.DISCONNECT, "offline", "the device's connection closed"),
    "failed_connect": TypeInfo(Kind.ERROR, None, "a connection attempt was refused"),
    "declare_asset": TypeInfo(Kind.LIFECYCLE, None, "an asset was declared on the platform"),
    # Other webhook channels come in the same envelope.
    "track": TypeInfo(Kind.MESSAGE, None, "tracking data (webhook channel)"),
    "message": TypeInfo(Kind.MESSAGE, None, "a message (webhook channel)"),
}
PRESENCE_TYPES = frozenset(("connect", "disconnect", "failed_connect", "declare_asset"))
_OTHER = TypeInfo(Kind.OTHER)


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
    info = TYPES.get(etype, _OTHER)
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


#: Where identifiers are, for ``anonymise`` (see ``Dialect.identifiers``).
IDENTIFIERS = ("asset", "account", "id", "id_str", "connection_id", "connection_id_str", "imei", "imsi", "iccid")

DIALECT = register(
    Dialect(NAME, "Munic CloudConnect presence webhooks", "bright_blue", sniff, normalize, TYPES, IDENTIFIERS)
)
