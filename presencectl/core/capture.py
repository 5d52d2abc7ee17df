"""The capture file format (SPEC §4), as pure encode/decode functions.

NDJSON, one record per line. Line 1 is a header::

    {"presencectl": 1, "source": …, "transport": …, "started": …, "topics": …}

with credentials removed from the source. Each later line is a frame,
``{"t": <epoch seconds>, "topic": …, "text": <payload exactly as received>}``
(``"b64"`` instead of ``"text"`` for binary data or invalid UTF-8), with
optional keys for MQTT messages: ``"retained": true``, ``"dup": true`` for
a redelivery, ``"qos": 1|2``, ``"content_type": …``, ``"user_properties":
[[name, value], …]`` (absent: not retained, not resent, QoS 0, none; older
readers ignore them), or a
marker ``{"t": …, "mark": "connected"|"disconnected"|"reconnecting",
"detail": …}``. Reading and writing files lives in ``transports/files.py``.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, unquote_plus, urlsplit, urlunsplit

import orjson

from presencectl.core.events import Frame, Marker, frame_type
from presencectl.core.times import epoch_seconds
from presencectl.errors import CaptureFormatError

__all__ = [
    "FORMAT_VERSION",
    "Header",
    "redact_url",
    "make_header",
    "encode_header",
    "encode_frame",
    "encode_marker",
    "decode_record",
    "meta_of",
    "parse_header",
    "MARKS",
]

FORMAT_VERSION = 1
MARKS = ("connected", "disconnected", "reconnecting")

#: A query parameter (or JSON field) whose name contains one of these,
#: in any case, carries a secret: ``accesstoken``, ``clientSecret``,
#: ``X-API-Key``, ``passwd``, ``authCode``, ``sig``, ``sessionid``... Some
#: harmless names match too (``tokenType``): hiding them costs nothing.
SECRET_WORDS = ("token", "secret", "key", "pass", "auth", "sig", "session", "hash", "jwt", "credential", "pwd")


def is_secret_name(name: str) -> bool:
    """Whether a query parameter (or header, or field) name carries a secret value."""
    low = name.lower()
    return any(word in low for word in SECRET_WORDS)


REDACTED = "REDACTED"


@dataclass(slots=True)
class Header:
    """A capture's first line."""

    version: int = FORMAT_VERSION
    source: str | None = None
    transport: str | None = None
    started: float | None = None
    topics: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def redact_url(url: str, mask: str = REDACTED, keep: Callable[[str], bool] | None = None) -> str:
    """Remove credentials from a URL: user name and password, secret query values.

    The one function for every place a URL is shown or stored (capture
    headers, stderr notices, profile listings). Other query parameters are
    kept byte for byte.

    Args:
        url: the URL as given.
        mask: what replaces each secret.
        keep: a secret for which this is true is shown as is (profiles show
            ``${VAR}`` references: names, not secrets).

    >>> redact_url("mqtt://bob:s3cret@broker:1883?accessToken=abc&x=1")
    'mqtt://REDACTED:REDACTED@broker:1883?accessToken=REDACTED&x=1'
    """

    def hide(text: str) -> str:
        return text if keep is not None and keep(unquote(text)) else mask

    try:
        parts = urlsplit(url)
    except ValueError:  # "ws://[bad": still say what it was, minus anything secret
        shown = re.sub(r"//[^/?#]*@", f"//{mask}@", url.partition("?")[0])
        return shown + (f"?{mask}" if "?" in url else "")
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, sep, password = userinfo.partition(":")
        netloc = f"{hide(user) if user else ''}{':' + hide(password) if sep else ''}@{hostport}"
    query = parts.query
    if query:
        pieces = []
        for piece in query.split("&"):
            name, sep, value = piece.partition("=")
            if sep and is_secret_name(unquote_plus(name)):
                piece = f"{name}={hide(value)}"
            pieces.append(piece)
        query = "&".join(pieces)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def make_header(
    source: str | None,
    transport: str | None,
    started: float | None,
    topics: Iterable[str] | None = None,
    headers: Iterable[str] | None = None,
    **extra: Any,
) -> Header:
    """A header with credentials removed: header values are dropped, only names kept."""
    if headers:
        extra["headers"] = [h.split(":", 1)[0].strip() for h in headers]
    return Header(
        FORMAT_VERSION,
        redact_url(source) if source else source,
        transport,
        started,
        list(topics) if topics is not None else None,
        extra,
    )


def encode_header(header: Header) -> bytes:
    """The header line, newline included."""
    obj = {
        "presencectl": header.version,
        "source": header.source,
        "transport": header.transport,
        "started": header.started,
        "topics": header.topics,
    }
    obj.update(header.extra)
    return orjson.dumps(obj) + b"\n"


def encode_frame(frame: Frame) -> bytes:
    """One frame record, newline included. The payload is kept byte for byte."""
    data = frame.data
    if isinstance(data, bytes):
        # Binary frames and text that is not valid UTF-8 alike.
        obj = {"t": frame.t, "topic": frame.topic, "b64": base64.b64encode(data).decode()}
    else:
        obj = {"t": frame.t, "topic": frame.topic, "text": data}
    if frame.retained:
        obj["retained"] = True
    if frame.dup:  # an MQTT redelivery (DUP flag)
        obj["dup"] = True
    if frame.meta:  # MQTT message properties
        obj.update(frame.meta)
    try:
        return orjson.dumps(obj) + b"\n"
    except TypeError:  # lone surrogates: keep them as escapes
        import json

        return json.dumps(obj).encode() + b"\n"


def meta_of(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The message properties of a record (or any dict with the same optional
    keys), checked: wrong types are dropped, never trusted."""
    meta: dict[str, Any] = {}
    qos = obj.get("qos")
    if qos in (1, 2) and type(qos) is int:
        meta["qos"] = qos
    content_type = obj.get("content_type")
    if isinstance(content_type, str):
        meta["content_type"] = content_type
    props = obj.get("user_properties")
    if isinstance(props, list):
        pairs = [
            [p[0], p[1]]
            for p in props
            if isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) and isinstance(p[1], str)
        ]
        if pairs:
            meta["user_properties"] = pairs
    return meta or None


def encode_marker(marker: Marker) -> bytes:
    """One marker record, newline included."""
    return orjson.dumps({"t": marker.t, "mark": marker.mark, "detail": marker.detail}) + b"\n"


def parse_header(obj: Any) -> Header | None:
    """The Header if ``obj`` (a parsed first line) is one, else None.

    Raises:
        CaptureFormatError: a header of a version this program cannot read.
    """
    if not isinstance(obj, dict) or "presencectl" not in obj:
        return None
    version = obj.get("presencectl")
    if type(version) is not int:
        # "1", 1.0, true: not a version number at all, whatever it looks like.
        raise CaptureFormatError(
            f"capture header: \"presencectl\" must be the format version as a number "
            f"(like {FORMAT_VERSION}), not {_short_json(version)}; the file is damaged or was "
            "not written by presencectl"
        )
    if version != FORMAT_VERSION:
        raise CaptureFormatError(
            f"capture format version {version!r} is not supported (this presencectl reads "
            f"version {FORMAT_VERSION}); upgrade presencectl"
        )
    extra = {
        k: v
        for k, v in obj.items()
        if k not in ("presencectl", "source", "transport", "started", "topics")
    }
    source, transport, topics = obj.get("source"), obj.get("transport"), obj.get("topics")
    return Header(
        version,
        source if isinstance(source, str) else None,
        transport if isinstance(transport, str) else None,
        epoch_seconds(obj.get("started")),
        [t for t in topics if isinstance(t, str)] if isinstance(topics, list) else None,
        extra,
    )


def _short_json(value: Any) -> str:
    try:
        text = orjson.dumps(value).decode()
    except TypeError:
        text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def decode_record(line: bytes | str) -> Frame | Marker:
    """One capture record line → Frame or Marker.

    Raises:
        ValueError: the line is not a capture record (the caller decides
            whether that is a corrupt line or a truncated last line).
    """
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        # orjson refuses the escaped lone surrogates encode_frame writes for
        # such text; the standard parser reads them (and fails like orjson else).
        import json

        obj = json.loads(line)
    if type(obj) is not dict:
        raise ValueError("not a capture record")
    t = obj.get("t")
    if t is not None:
        t = epoch_seconds(t)  # a t no clock can show is an unknown receive time
    topic = obj.get("topic")
    if topic is not None and type(topic) is not str:
        topic = None
    text = obj.get("text")
    if text is not None:
        if type(text) is not str:
            raise ValueError("capture record 'text' is not a string")
        if len(obj) > 3:  # optional keys: retained, dup, MQTT message properties
            return frame_type(obj.get("retained") is True, obj.get("dup") is True)(text, t, topic, meta_of(obj))
        return Frame(text, t, topic)
    b64 = obj.get("b64")
    if b64 is not None:
        try:
            data = base64.b64decode(b64, validate=True)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"bad base64 in capture record: {exc}") from None
        meta = meta_of(obj) if len(obj) > 3 else None
        return frame_type(obj.get("retained") is True, obj.get("dup") is True)(data, t, topic, meta)
    mark = obj.get("mark")
    if isinstance(mark, str):
        detail = obj.get("detail")
        return Marker(mark, t, detail if isinstance(detail, str) or detail is None else str(detail))
    raise ValueError("capture record has neither 'text', 'b64' nor 'mark'")
