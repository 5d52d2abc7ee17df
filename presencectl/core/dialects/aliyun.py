"""Aliyun IoT Living Link app channel, delivered over MQTT.

Messages arrive on ``/sys/{productKey}/{deviceName}/app/down/...`` with a
``method`` naming the event (sometimes empty: then the topic suffix does).
``thing.status`` values: 0 inactive, 1 online, 3 offline, 8 disabled.
OTA ``upgradeStatus``: 0 pending, 1 upgrading, 2 error, 3 failed, 4 done.
"""

from __future__ import annotations

from presencectl.core.dialects import Dialect, TypeInfo, register, short, text_or_none
from presencectl.core.events import Event, Kind
from presencectl.core.times import TimeParser

NAME = "aliyun"

STATUS_WORDS = {0: "inactive", 1: "online", 3: "offline", 8: "disabled"}
STATUS_PRESENCE = {0: "offline", 1: "online", 3: "offline", 8: "offline"}
OTA_WORDS = {0: "pending", 1: "upgrading", 2: "error", 3: "failed", 4: "done"}

TYPES = {
    "thing.properties": TypeInfo(Kind.MESSAGE, None, "property values reported"),
    "thing.events": TypeInfo(Kind.MESSAGE, None, "a device event (info/alert/error)"),
    "thing.status": TypeInfo(Kind.STATE, None, "online state: 0 inactive, 1 online, 3 offline, 8 disabled"),
    "thing.topo.add.status": TypeInfo(Kind.LIFECYCLE, None, "a sub-device joined a gateway"),
    "thing.topo.delete.status": TypeInfo(Kind.LIFECYCLE, None, "a sub-device left a gateway"),
    "thing.deviceinfo": TypeInfo(Kind.LIFECYCLE, None, "device tags changed"),
    "thing.service": TypeInfo(Kind.MESSAGE, None, "a service call reply"),
    "thing.list.found": TypeInfo(Kind.LIFECYCLE, None, "a gateway discovered sub-devices"),
    "ota.device.forward": TypeInfo(Kind.FIRMWARE, None, "OTA progress: 0 pending, 1 upgrading, 2 error, 3 failed, 4 done"),
    "account.bind_reply": TypeInfo(Kind.LIFECYCLE, None, "reply to an account bind request (code 200 = ok)"),
    "account.unbind_reply": TypeInfo(Kind.LIFECYCLE, None, "reply to an account unbind request"),
    "_thing.event.notify": TypeInfo(Kind.LIFECYCLE, None, "a notification about a thing (bind, unbind, share)"),
}
_PREFIX_KINDS = (("ota.", Kind.FIRMWARE), ("thing.topo", Kind.LIFECYCLE), ("account.", Kind.LIFECYCLE))
_METHOD_PREFIXES = ("thing.", "ota.", "account.", "_thing.")


def _topic_parts(topic: str | None) -> tuple[str, str, str] | None:
    """(productKey, deviceName, suffix after /app/[down|up]/) for an app-channel topic."""
    if not topic or not topic.startswith("/sys/"):
        return None
    parts = topic.split("/", 5)  # '', 'sys', pk, dn, 'app', rest
    if len(parts) < 6 or parts[4] != "app":
        return None
    rest = parts[5]
    for head in ("down/", "up/"):
        if rest.startswith(head):
            rest = rest[len(head) :]
            break
    return parts[2], parts[3], rest


def sniff(obj: dict, topic: str | None) -> bool:
    # Cheapest tests first: this runs for every payload that is not CloudConnect.
    if topic is not None and topic.startswith("/sys/") and _topic_parts(topic) is not None:
        return True
    method = obj.get("method")
    if method is not None and type(method) is str and method.startswith(_METHOD_PREFIXES):
        return True
    params = obj.get("params")
    return params is not None and type(params) is dict and "iotId" in params and "version" in obj


def _infer(obj: dict) -> str:
    """The method of a message seen without topic and with an empty method."""
    params = obj.get("params")
    if isinstance(params, dict):
        if "items" in params:
            return "thing.properties"
        if "status" in params and "iotId" in params:
            return "thing.status"
        if "upgradeStatus" in params:
            return "ota.device.forward"
        if "identifier" in params:
            return "thing.events"
    if "code" in obj and "message" in obj:
        return "account.bind_reply"
    return "unknown"


def _int(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def normalize(obj: dict, topic: str | None, times: TimeParser) -> Event:
    tparts = _topic_parts(topic)
    method = obj.get("method")
    if isinstance(method, str) and method:
        etype = method
    elif tparts is not None and tparts[2]:
        etype = tparts[2].replace("/", ".")
    else:
        etype = _infer(obj)
    info = TYPES.get(etype)
    kind = info.kind if info else next(
        (k for p, k in _PREFIX_KINDS if etype.startswith(p)), Kind.MESSAGE if etype.startswith("thing.") else Kind.OTHER
    )
    params = obj.get("params")
    if not isinstance(params, dict):
        params = obj.get("param") if isinstance(obj.get("param"), dict) else {}
    subject = text_or_none(params.get("iotId")) or text_or_none(params.get("subIotId"))
    if subject is None:
        pk = params.get("productKey") or (tparts[0] if tparts else None)
        dn = params.get("deviceName") or (tparts[1] if tparts else None)
        if pk and dn:
            subject = f"{pk}/{dn}"
    presence = None
    when = params.get("time")
    parts: list[str] = []

    if etype == "thing.status":
        status = params.get("status")
        if isinstance(status, dict):
            when = status.get("time", when)
            status = status.get("value")
        code = _int(status)
        if code is not None:
            presence = STATUS_PRESENCE.get(code)
            kind = Kind.CONNECT if presence == "online" else Kind.DISCONNECT if presence else kind
            parts.append(f"status={STATUS_WORDS.get(code, code)}")
    elif etype == "ota.device.forward":
        code = _int(params.get("upgradeStatus"))
        src, dst = params.get("srcVersion"), params.get("destVersion")
        if src is not None or dst is not None:
            parts.append(f"{short(src)} → {short(dst)}")
        if code is not None:
            parts.append(OTA_WORDS.get(code, str(code)))
            if code in (2, 3):
                kind = Kind.ERROR
        if params.get("step") is not None:
            parts.append(f"{params['step']}%")
        desc = params.get("desc")
        if desc and desc != OTA_WORDS.get(code):
            parts.append(short(desc))
    elif etype == "thing.events":
        ident = params.get("identifier")
        if ident:
            parts.append(short(ident))
        if params.get("type") in ("alert", "error"):
            kind = Kind.ERROR
            parts.append(str(params["type"]))
        value = params.get("value")
        if isinstance(value, dict) and value:
            parts.append(" ".join(f"{k}={short(v, 24)}" for k, v in list(value.items())[:4]))
    elif etype == "thing.properties":
        items = params.get("items")
        if isinstance(items, dict):
            shown = []
            for key, item in list(items.items())[:6]:
                value = item.get("value") if isinstance(item, dict) else item
                if when is None and isinstance(item, dict):
                    when = item.get("time")
                shown.append(f"{key}={short(value, 24)}")
            parts.append(" ".join(shown))
    elif etype.startswith("account."):
        code = obj.get("code")
        if code is not None:
            parts.append(f"code={code}")
            if _int(code) != 200:
                kind = Kind.ERROR
        if obj.get("message"):
            parts.append(short(obj["message"]))
    elif etype == "thing.topo.add.status" or etype == "thing.topo.delete.status":
        if params.get("subDeviceName"):
            parts.append(f"sub={short(params.get('subProductKey'))}/{short(params['subDeviceName'])}")
        if params.get("newGwDeviceName"):
            parts.append(f"gateway={short(params['newGwDeviceName'])}")
        if params.get("status") is not None:
            parts.append(f"status={params['status']}")
    else:
        for key in ("identifier", "status", "value"):
            if params.get(key) is not None:
                parts.append(f"{key}={short(params[key], 40)}")
    return Event(NAME, etype, kind, subject, times(when), " ".join(parts), obj, presence)


#: Where identifiers are, for ``anonymise`` (see ``Dialect.identifiers``).
IDENTIFIERS = (
    "/sys/{}/{}/", "iotId", "productKey", "deviceName", "subIotId", "subProductKey", "subDeviceName",
    "newGwIotId", "newGwProductKey", "newGwDeviceName", "oldGwIotId", "oldGwProductKey", "oldGwDeviceName",
    "gwIotId", "gwProductKey", "gwDeviceName", "iotToken", "clientId", "identityId", "ownedBy",
)

DIALECT = register(
    Dialect(NAME, "Aliyun IoT app channel (MQTT)", "bright_yellow", sniff, normalize, TYPES, IDENTIFIERS)
)
