"""Navixy tracking events over WebSocket (Atmosphere framing).

``{"type": "event", "event": "state"|"state_batch"|"readings_batch"|
"lifecycle"|"logout", "data": …}``, plus ``response`` and ``error`` frames.
``user_time`` carries no zone. A ``logout`` event ends the session.
"""

from __future__ import annotations

from presencectl.core.dialects import Dialect, TypeInfo, register, short, text_or_none
from presencectl.core.events import Event, Kind
from presencectl.core.times import TimeParser

NAME = "navixy"

TYPES = {
    "state": TypeInfo(Kind.STATE, None, "a tracker's state (location, connection_status, …)"),
    "state_batch": TypeInfo(Kind.STATE, None, "several trackers' states"),
    "readings_batch": TypeInfo(Kind.MESSAGE, None, "sensor readings"),
    "lifecycle": TypeInfo(Kind.LIFECYCLE, None, "a tracker was blocked, unblocked, deleted, …"),
    "logout": TypeInfo(Kind.LIFECYCLE, None, "the session was closed by the server"),
    "response": TypeInfo(Kind.OTHER, None, "the reply to a subscribe/unsubscribe action"),
    "error": TypeInfo(Kind.ERROR, None, "an error reported by the server"),
}
_OTHER = TypeInfo(Kind.OTHER)

#: connection_status values and what they say about presence.
CONNECTION_PRESENCE = {
    "active": "online",
    "idle": "online",
    "just_registered": "online",
    "just_replaced": "online",
    "offline": "offline",
    "signal_lost": "offline",
}
LIFECYCLE_PRESENCE = {"block": "offline", "unblock": None, "delete": "offline"}


def sniff(obj: dict, topic: str | None) -> bool:
    kind = obj.get("type")
    if kind == "event":
        return "event" in obj
    if kind == "response":
        return "action" in obj
    if kind == "error":
        return "status" in obj
    return False


def normalize(obj: dict, topic: str | None, times: TimeParser) -> Event | list[Event]:
    if obj.get("event") == "state_batch" and type(obj.get("data")) is list and obj["data"]:
        # One event per tracker, each shaped like a single ``state`` event so
        # that the same -w paths (data.gps.speed) work on both.
        return [
            _state(dict(obj, data=item), "state_batch", times)
            for item in obj["data"]
            if type(item) is dict
        ] or [_state(obj, "state_batch", times)]
    return _state(obj, None, times)


def _state(obj: dict, forced_type: str | None, times: TimeParser) -> Event:
    frame = obj.get("type")
    etype = obj.get("event") if frame == "event" else frame
    if not isinstance(etype, str) or not etype:
        etype = "event"
    info = TYPES.get(etype, _OTHER)
    if forced_type is not None:
        etype = forced_type
    data = obj.get("data")
    subject = None
    presence = None
    kind = info.kind
    when = obj.get("user_time")
    parts: list[str] = []
    if isinstance(data, dict):
        subject = text_or_none(data.get("source_id"))
    if etype in ("state", "state_batch") and isinstance(data, dict):
        status = data.get("connection_status")
        if status is not None:
            presence = CONNECTION_PRESENCE.get(status)
            parts.append(f"connection={short(status)}")
        if data.get("movement_status"):
            parts.append(f"movement={short(data['movement_status'])}")
        gps = data.get("gps")
        if isinstance(gps, dict):
            loc = gps.get("location")
            if isinstance(loc, dict) and "lat" in loc and "lng" in loc:
                try:
                    parts.append(f"at {float(loc['lat']):.5f},{float(loc['lng']):.5f}")
                except (TypeError, ValueError):
                    pass
            if gps.get("speed") is not None:
                parts.append(f"speed={gps['speed']}")
        if when is None:
            when = data.get("last_update")
    elif etype == "lifecycle" and isinstance(data, dict):
        life = data.get("lifecycle_event")
        if life is not None:
            parts.append(short(life))
            presence = LIFECYCLE_PRESENCE.get(life)
    elif etype in ("state_batch", "readings_batch"):
        count = len(data) if isinstance(data, list) else None
        if count is not None:
            parts.append(f"{count} items")
    elif etype == "logout":
        if isinstance(data, str):
            parts.append(short(data))
    elif etype == "response":
        parts.append(short(obj.get("action")))
        if isinstance(data, dict):
            for key, value in list(data.items())[:3]:
                parts.append(f"{key}={short(value, 60)}")
    elif etype == "error":
        status = obj.get("status")
        if isinstance(status, dict):
            parts.append(f"code={status.get('code')} {short(status.get('description'), 80)}")
    return Event(NAME, etype, kind, subject, times(when), " ".join(parts), obj, presence)


#: Where identifiers are, for ``anonymise`` (see ``Dialect.identifiers``).
IDENTIFIERS = ("source_id", "tracker_id", "trackers", "user_id", "hash", "data.state.{key}", "label", "imei", "phone")

DIALECT = register(Dialect(NAME, "Navixy tracking events (Atmosphere)", "bright_green", sniff, normalize, TYPES, IDENTIFIERS))
