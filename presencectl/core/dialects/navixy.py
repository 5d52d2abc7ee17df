"""Navixy tracking events over WebSocket (Atmosphere framing).

Follows the vendor's "WebSocket Events" page (vendor-docs/
navixy-websocket-events.txt): ``{"type": "event", "event": "state" |
"lifecycle" | "logout", "data": …}``. The samples add the ``response`` and
``error`` frames; SPEC §2 adds ``state_batch``/``readings_batch``.
``user_time`` carries no zone. A ``logout`` event ends the session.

The socket speaks Atmosphere (a ``uuid|interval|X|`` handshake, ``X``
heart-beats, ``len|`` prefixes): :func:`unwrap` undoes it for the decoder,
with the parser in :mod:`presencectl.core.framing`.
"""

from __future__ import annotations

from presencectl.core.dialects import (
    Dialect,
    TypeInfo,
    Unwrapped,
    register,
    short,
    text_or_none,
    word,
)
from presencectl.core.events import Event, Kind
from presencectl.core.framing import HANDSHAKE, unwrap_atmosphere
from presencectl.core.times import TimeParser

NAME = "navixy"

#: The event types of the vendor's page ("event - one of the items").
TYPES = {
    "state": TypeInfo(Kind.STATE, None, "a tracker's state changed (also sent on subscribe and on unblock)"),
    "lifecycle": TypeInfo(
        Kind.LIFECYCLE, None, "a tracker was blocked, unblocked or corrupted (removed)", keeps_reason=True
    ),
    "logout": TypeInfo(
        Kind.LIFECYCLE, None, "the user's session was closed (logout, expiry, password, blocked); ends the session",
        ends_session=True,
    ),
}
#: Handled, not on the vendor's page: frames from the samples, batches from
#: SPEC §2, and the Atmosphere framing's own frames.
EXTRA_TYPES = {
    "response": TypeInfo(Kind.OTHER, None, "the reply to a subscribe/unsubscribe action (samples)"),
    "error": TypeInfo(Kind.ERROR, None, "an error reported by the server, status.code and description (samples)"),
    "state_batch": TypeInfo(Kind.STATE, None, "several trackers' states, one event each (SPEC §2)"),
    "readings_batch": TypeInfo(Kind.MESSAGE, None, "sensor readings (SPEC §2)"),
    "handshake": TypeInfo(Kind.OTHER, None, "Atmosphere handshake frame uuid|interval|X| (hidden unless --keepalive)"),
    "heartbeat": TypeInfo(Kind.OTHER, None, "Atmosphere X heart-beat (hidden unless --keepalive)"),
}
KNOWN = {**EXTRA_TYPES, **TYPES}
_OTHER = TypeInfo(Kind.OTHER)

#: Fields the vendor's page names (``data.*`` of a state: the tracker's state).
FIELDS = {
    "type": '"event" (the samples add "response" and "error")',
    "event": "state | lifecycle | logout",
    "data": "the event's payload (logout: the text \"session closed\")",
    "user_time": "current time in the user's timezone, no zone given (--assume-tz)",
    "data.source_id": "the tracker's source id (the subject; not a tracker_id)",
    "data.lifecycle_event": "block | unblock | corrupt",
    "data.gps.updated": "when the GPS fix was taken",
    "data.gps.signal_level": "GPS signal level, percent",
    "data.gps.location.lat": "latitude",
    "data.gps.location.lng": "longitude",
    "data.gps.heading": "heading, degrees",
    "data.gps.speed": "speed",
    "data.gps.alt": "altitude",
    "data.connection_status": "the tracker's connection (active, …): its presence",
    "data.movement_status": "parked, …",
    "data.gsm": "GSM signal (null when unknown)",
    "data.last_update": "last time the tracker reported",
    "data.battery_level": "battery level (null when unknown)",
    "data.battery_update": "when the battery level was read",
    "data.inputs": "digital input states",
    "data.inputs_update": "when the inputs were read",
    "data.outputs": "digital output states",
    "data.outputs_update": "when the outputs were read",
    "data.actual_track_update": "last track update",
    "action": "response frames: the action answered (subscription/subscribe)",
    "status.code": "error frames: the error code",
    "status.description": "error frames: what went wrong",
}

#: connection_status values and what they say about presence. The page shows
#: ``active``; the others are the API's other states, kept from experience.
CONNECTION_PRESENCE = {
    "active": "online",
    "idle": "online",
    "just_registered": "online",
    "just_replaced": "online",
    "offline": "offline",
    "signal_lost": "offline",
}
#: lifecycle_event values (the page: "block", "unblock", "corrupt").
LIFECYCLE_PRESENCE = {"block": "offline", "unblock": None, "corrupt": "offline"}
CODES = {
    "data.lifecycle_event": {
        "block": "the tracker was blocked: offline",
        "unblock": "the tracker was unblocked (its state follows)",
        "corrupt": "the tracker was corrupted (removed): offline",
    },
    "data.connection_status": {
        "active": "connected and reporting: online",
        "idle": "connected, not reporting: online",
        "just_registered": "just registered: online",
        "just_replaced": "just replaced: online",
        "offline": "not connected: offline",
        "signal_lost": "signal lost: offline",
    },
    "data.movement_status": {"parked": "the tracker is parked"},
}


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
    info = KNOWN.get(etype, _OTHER)
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
                except (TypeError, ValueError, OverflowError):
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
                if type(value) is dict and value and all(type(v) is str for v in value.values()):
                    # {"state": {"10284": "normal", "123456": "blocked"}}: per tracker.
                    shown = " ".join(f"{short(k, 20)}={short(v, 20)}" for k, v in list(value.items())[:6])
                    more = f" (+{len(value) - 6})" if len(value) > 6 else ""
                    parts.append(f"{key}: {shown}{more}")
                else:
                    parts.append(f"{key}={short(value, 60)}")
    elif etype == "error":
        status = obj.get("status")
        if isinstance(status, dict):
            parts.append(f"code={status.get('code')} {short(status.get('description'), 80)}")
    return Event(NAME, etype, kind, subject, times(when), " ".join(parts), obj, presence)


def reason(event: Event) -> str | None:
    """``lifecycle_event`` (``block``), else ``connection_status`` (``signal_lost``), else the type."""
    raw = event.raw if isinstance(event.raw, dict) else {}
    data = raw.get("data") if isinstance(raw.get("data"), dict) else {}
    return word(data.get("lifecycle_event")) or word(data.get("connection_status")) or event.type


def unwrap(text: str) -> Unwrapped | None:
    """Undo Atmosphere framing: handshake and heart-beat events, and the payloads carried.

    None when ``text`` is not Atmosphere-framed.
    """
    framed = unwrap_atmosphere(text)
    if framed is None:
        return None
    if framed.control is None:
        return Unwrapped([], framed.payloads)
    summary = f"uuid={framed.uuid} interval={framed.interval_ms}ms" if framed.control == HANDSHAKE else ""
    control = Event(NAME, framed.control, Kind.OTHER, None, None, summary, None, None, keepalive=True)
    return Unwrapped([control], framed.payloads)


#: Where identifiers are, for ``anonymise`` (see ``Dialect.identifiers``).
IDENTIFIERS = ("source_id", "tracker_id", "trackers", "user_id", "hash", "data.state.{key}", "label", "imei", "phone")

DIALECT = register(
    Dialect(
        NAME,
        "Navixy tracking events (Atmosphere)",
        "bright_green",
        sniff,
        normalize,
        TYPES,
        identifiers=IDENTIFIERS,
        vendor="Navixy",
        transport="WebSocket with Atmosphere framing; send the subscription/subscribe request after connecting",
        example=(
            'presencectl tail "wss://api.eu.navixy.com/v2/event/subscription?X-Atmosphere-Transport=websocket"'
            " --send-file subscribe.json"
        ),
        order=50,
        extra_types=EXTRA_TYPES,
        fields=FIELDS,
        codes=CODES,
        reason=reason,
        unwrap=unwrap,
        source="navixy-websocket-events.txt",
        sniff_keys=frozenset({"type"}),  # what sniff looks for first (see Dialect.sniff_keys)
    )
)
