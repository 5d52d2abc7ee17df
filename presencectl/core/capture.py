"""The capture file format (SPEC §4), as pure encode/decode functions.

NDJSON, one record per line. Line 1 is a header::

    {"presencectl": 1, "source": …, "transport": …, "started": …, "topics": …}

with credentials removed from the source. Each later line is a frame,
``{"t": <epoch seconds>, "topic": …, "text": <payload exactly as received>}``
(``"b64"`` instead of ``"text"`` for binary data or invalid UTF-8; MQTT adds
``"retained": true`` and ``"dup": true`` for a redelivery), or a
marker ``{"t": …, "mark": "connected"|"disconnected"|"reconnecting",
"detail": …}``. Reading and writing files lives in ``transports/files.py``.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson

from presencectl.core.events import Frame, Marker, RetainedFrame, frame_type
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
    "parse_header",
    "MARKS",
]

FORMAT_VERSION = 1
MARKS = ("connected", "disconnected", "reconnecting")

#: Query parameter names whose values are secrets: the name itself (``token``,
#: ``hash``), or a name ending in one (``api_token``, ``X-API-Key``, ``apiKey``);
#: not names that merely contain one (``tokenType``).
_SECRET_WORDS = (
    "token|hash|secret|password|passwd|pass|pwd|key|apikey|sig|signature|auth|"
    "authorization|jwt|session|sessionid|credential|credentials|access_token"
)
_SECRET_NAME = re.compile(rf"^(?:{_SECRET_WORDS})$|[_.-](?:{_SECRET_WORDS})$", re.IGNORECASE)
_SECRET_CAMEL = re.compile(r"[a-z](?:Token|Key|Secret|Hash|Password|Signature|Auth|Jwt|Session)$")


def is_secret_name(name: str) -> bool:
    """Whether a query parameter (or header) name carries a secret value."""
    return bool(_SECRET_NAME.search(name) or _SECRET_CAMEL.search(name))


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


def redact_url(url: str) -> str:
    """Remove credentials from a URL: password in the user part, secret query values.

    >>> redact_url("mqtt://bob:s3cret@broker:1883?token=abc&x=1")
    'mqtt://bob:REDACTED@broker:1883?token=REDACTED&x=1'
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, sep, _password = userinfo.partition(":")
        netloc = f"{user}{':' + REDACTED if sep else ''}@{hostport}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, REDACTED if is_secret_name(k) else v) for k, v in pairs], safe="/:,"
        )
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
    try:
        return orjson.dumps(obj) + b"\n"
    except TypeError:  # lone surrogates: keep them as escapes
        import json

        return json.dumps(obj).encode() + b"\n"


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
    started = obj.get("started")
    return Header(
        version,
        obj.get("source"),
        obj.get("transport"),
        float(started) if isinstance(started, (int, float)) else None,
        obj.get("topics"),
        extra,
    )


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
    if t is not None and type(t) is not float:
        t = float(t) if isinstance(t, (int, float)) and not isinstance(t, bool) else None
    text = obj.get("text")
    if text is not None:
        if type(text) is not str:
            raise ValueError("capture record 'text' is not a string")
        if obj.get("retained") is True:
            if obj.get("dup") is True:
                return frame_type(True, True)(text, t, obj.get("topic"))
            return RetainedFrame(text, t, obj.get("topic"))
        if obj.get("dup") is True:
            return frame_type(False, True)(text, t, obj.get("topic"))
        return Frame(text, t, obj.get("topic"))
    b64 = obj.get("b64")
    if b64 is not None:
        try:
            data = base64.b64decode(b64, validate=True)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"bad base64 in capture record: {exc}") from None
        return frame_type(obj.get("retained") is True, obj.get("dup") is True)(data, t, obj.get("topic"))
    mark = obj.get("mark")
    if isinstance(mark, str):
        detail = obj.get("detail")
        return Marker(mark, t, detail if isinstance(detail, str) or detail is None else str(detail))
    raise ValueError("capture record has neither 'text', 'b64' nor 'mark'")
