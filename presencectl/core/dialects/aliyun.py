"""Aliyun IoT Living Link app channel, delivered over MQTT.

Follows the vendor's 长连接服务 (long-connection service) page (vendor-docs/
aliyun-living-link-app-channel.txt). Messages arrive on
``/sys/{productKey}/{deviceName}/app/down/...`` with a ``method`` naming the
event (sometimes empty: then the topic suffix does); the client sends the
account bind/unbind requests on ``.../app/up/account/...``.
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
TOPO_WORDS = {0: "added", 1: "already bound to another gateway", 2: "registration failed"}

#: The page's topics, in its order (the topic suffix, dots for slashes, is the type).
TYPES = {
    "account.bind": TypeInfo(Kind.LIFECYCLE, None, "the app binds its MQTT channel to the iotToken's user (up)"),
    "account.bind_reply": TypeInfo(Kind.LIFECYCLE, None, "reply to an account bind request (code 200 = success)"),
    "account.unbind": TypeInfo(Kind.LIFECYCLE, None, "the app unbinds its MQTT channel from the user (up)"),
    "account.unbind_reply": TypeInfo(Kind.LIFECYCLE, None, "reply to an account unbind request (code 200 = success)"),
    "thing.properties": TypeInfo(Kind.MESSAGE, None, "device property values pushed (items: time and value)"),
    "thing.events": TypeInfo(Kind.MESSAGE, None, "a device event pushed (type info, error, …)"),
    "thing.status": TypeInfo(Kind.STATE, None, "connection state: 0 inactive, 1 online, 3 offline, 8 disabled"),
    "thing.topo.add.status": TypeInfo(Kind.LIFECYCLE, None, "result of adding a sub-device: 0 added, 1 bound elsewhere, 2 failed"),
    "ota.device.forward": TypeInfo(Kind.FIRMWARE, None, "OTA progress: 0 pending, 1 upgrading, 2 error, 3 failed, 4 done"),
}
#: Not on the page: named by SPEC §2.
EXTRA_TYPES = {
    "_thing.event.notify": TypeInfo(Kind.LIFECYCLE, None, "a notification about a thing (bind, unbind, share) (SPEC §2)"),
}
KNOWN = {**EXTRA_TYPES, **TYPES}
#: Fields the page names.
FIELDS = {
    "id": "message id",
    "version": "protocol version (1.0)",
    "method": "the event (empty for property pushes: the topic says)",
    "request.clientId": "account bind/unbind: the MQTT channel's client id",
    "params.iotToken": "account bind: the user's token (a credential: never shown)",
    "code": "bind/unbind reply: 200 = success",
    "message": "bind/unbind reply: success or what went wrong",
    "params.iotId": "the device (the subject)",
    "params.productKey": "the device's product key",
    "params.deviceName": "the device's name",
    "params.items": "thing.properties: {identifier: {time, value}} per property",
    "params.identifier": "thing.events: the event's identifier",
    "params.name": "thing.events: the event's name",
    "params.type": "thing.events: info, error, …",
    "params.value": "thing.events: the event's parameters",
    "params.time": "thing.events: when, epoch milliseconds",
    "params.status.value": "thing.status: 0 inactive, 1 online, 3 offline, 8 disabled",
    "params.status.time": "thing.status: when this state began, epoch milliseconds",
    "param.status": "thing.topo.add.status: 0 added, 1 bound to another gateway, 2 failed",
    "param.subIotId": "thing.topo.add.status: the sub-device (the subject)",
    "param.subProductKey": "thing.topo.add.status: the sub-device's product key",
    "param.subDeviceName": "thing.topo.add.status: the sub-device's name",
    "param.oldGwIotId": "thing.topo.add.status: the gateway it was bound to",
    "param.oldGwProductKey": "thing.topo.add.status: that gateway's product key",
    "param.oldGwDeviceName": "thing.topo.add.status: that gateway's name",
    "param.newGwIotId": "thing.topo.add.status: the gateway it is bound to now",
    "param.newGwProductKey": "thing.topo.add.status: that gateway's product key",
    "param.newGwDeviceName": "thing.topo.add.status: that gateway's name",
    "params.srcVersion": "ota.device.forward: the upgrade's source version",
    "params.destVersion": "ota.device.forward: the upgrade's target version",
    "params.step": "ota.device.forward: progress percent, or an error code",
    "params.desc": "ota.device.forward: what the step or error code means",
    "params.upgradeStatus": "ota.device.forward: 0 pending, 1 upgrading, 2 error, 3 failed, 4 done",
}
CODES = {
    "params.status.value": {str(k): v for k, v in STATUS_WORDS.items()},
    "params.upgradeStatus": {
        "0": "pending (waiting to upgrade or to be confirmed)",
        "1": "upgrading",
        "2": "error (the upgrade hit a problem)",
        "3": "failed",
        "4": "done",
    },
    "param.status": {
        "0": "the sub-device was added to the topology",
        "1": "sub-device registration: already bound to another gateway",
        "2": "sub-device registration failed",
    },
    "params.type": {
        "info": "information",
        "error": "an error (kind error)",
        "block": "as the page lists it (kind message)",
        "alert": "an alert (TSL event type; kind error)",
    },
    "code": {"200": "success"},
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
    except (TypeError, ValueError, OverflowError):  # NaN, ±Infinity
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
    info = KNOWN.get(etype)
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
        step = _int(params.get("step"))
        if step is not None:
            # The page: "progress percent and error code": below 0 it is an error code.
            parts.append(f"{step}%" if step >= 0 else f"step={step}")
            if step < 0:
                kind = Kind.ERROR
        elif params.get("step") is not None:
            parts.append(f"step={short(params['step'], 20)}")
        desc = params.get("desc")
        if desc and desc != OTA_WORDS.get(code):
            parts.append(short(desc))
    elif etype == "thing.events":
        ident = params.get("identifier")
        if ident:
            parts.append(short(ident))
        if params.get("name"):
            parts.append(f"({short(params['name'], 30)})")
        etype_word = params.get("type")
        if etype_word in ("alert", "error"):
            kind = Kind.ERROR
        if etype_word is not None and etype_word != "info":
            parts.append(short(etype_word, 20))
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
    elif etype in ("account.bind", "account.unbind"):
        request = obj.get("request")
        if isinstance(request, dict) and request.get("clientId") is not None:
            parts.append(f"clientId={short(request['clientId'], 40)}")
    elif etype.startswith("account."):
        code = obj.get("code")
        if code is not None:
            parts.append(f"code={code}")
            if _int(code) != 200:
                kind = Kind.ERROR
        if obj.get("message"):
            parts.append(short(obj["message"]))
    elif etype.startswith("thing.topo."):
        if params.get("subDeviceName"):
            parts.append(f"sub={short(params.get('subProductKey'))}/{short(params['subDeviceName'])}")
        old, new = params.get("oldGwDeviceName"), params.get("newGwDeviceName")
        if new:
            parts.append(f"gateway={short(old)} → {short(new)}" if old and old != new else f"gateway={short(new)}")
        code = _int(params.get("status"))
        if code is not None:
            parts.append(f"status={TOPO_WORDS.get(code, code)}" if etype == "thing.topo.add.status" else f"status={code}")
            if etype == "thing.topo.add.status" and code == 2:
                kind = Kind.ERROR
        elif params.get("status") is not None:
            parts.append(f"status={short(params['status'], 20)}")
    else:
        for key in ("identifier", "status", "value"):
            if params.get(key) is not None:
                parts.append(f"{key}={short(params[key], 40)}")
    return Event(NAME, etype, kind, subject, times(when), " ".join(parts), obj, presence)


def reason(event: Event) -> str | None:
    """The ``thing.status`` word (``online``, ``disabled``); else the type."""
    raw = event.raw if isinstance(event.raw, dict) else {}
    params = raw.get("params") if isinstance(raw.get("params"), dict) else {}
    status = params.get("status")
    if isinstance(status, dict):
        status = status.get("value")
    code = _int(status)
    if code is None:
        return event.type
    return STATUS_WORDS.get(code, f"status={code}")


#: Where identifiers are, for ``anonymise`` (see ``Dialect.identifiers``).
IDENTIFIERS = (
    "/sys/{}/{}/", "iotId", "productKey", "deviceName", "subIotId", "subProductKey", "subDeviceName",
    "newGwIotId", "newGwProductKey", "newGwDeviceName", "oldGwIotId", "oldGwProductKey", "oldGwDeviceName",
    "gwIotId", "gwProductKey", "gwDeviceName", "iotToken", "clientId", "identityId", "ownedBy",
)

DIALECT = register(
    Dialect(
        NAME,
        "Aliyun IoT app channel (MQTT)",
        "bright_yellow",
        sniff,
        normalize,
        TYPES,
        identifiers=IDENTIFIERS,
        vendor="Aliyun",
        transport="MQTT(S) with a signed device login; topics /sys/{productKey}/{deviceName}/app/down/...",
        example=(
            "presencectl tail mqtts://$PK.iot-as-mqtt.cn-shanghai.aliyuncs.com:8883"
            ' --aliyun-device $PK/$DN --device-secret "$SECRET" -T "/sys/$PK/$DN/app/down/#"'
            " --publish /sys/$PK/$DN/app/up/account/bind @bind.json"
        ),
        order=20,
        extra_types=EXTRA_TYPES,
        fields=FIELDS,
        codes=CODES,
        reason=reason,
        source="aliyun-living-link-app-channel.txt",
        sniff_keys=frozenset({"method", "params"}),  # what sniff looks for first (see Dialect.sniff_keys)
    )
)
