"""Transport framings wrapped around payloads, undone before dialects see them.

Navixy's WebSocket speaks Atmosphere: the first frame is a handshake
``uuid|interval|X|``, ``X`` frames are heart-beats, and a message may carry a
``len|`` prefix (several such messages may share one frame). None of those
shapes is JSON, so :func:`unwrap_atmosphere` is tried only on frames that do
not parse, and plain streams never pay for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Atmosphere", "unwrap_atmosphere", "HEARTBEAT", "HANDSHAKE"]

HEARTBEAT = "heartbeat"
HANDSHAKE = "handshake"

_HANDSHAKE = re.compile(r"^\s*([0-9A-Za-z-]{8,64})\|(\d+)\|([^|]*)\|(.*)$", re.DOTALL)
_LENGTH = re.compile(r"(\d+)\|")


@dataclass(slots=True)
class Atmosphere:
    """What one Atmosphere frame held."""

    #: "handshake", "heartbeat" or None for a data frame.
    control: str | None
    #: JSON payload texts carried by the frame.
    payloads: list[str]
    #: Handshake details: uuid, heart-beat interval in ms.
    uuid: str | None = None
    interval_ms: int | None = None


def unwrap_atmosphere(text: str) -> Atmosphere | None:
    """Undo Atmosphere framing; None when ``text`` is not Atmosphere-framed.

    >>> unwrap_atmosphere("X").control
    'heartbeat'
    >>> unwrap_atmosphere('12|{"type":"x"}').payloads
    ['{"type":"x"}']
    """
    stripped = text.strip()
    if stripped == "X":
        return Atmosphere(HEARTBEAT, [])
    m = _HANDSHAKE.match(stripped)
    if m and "-" in m.group(1):
        rest = m.group(4)
        inner = unwrap_atmosphere(rest) if rest.strip() else None
        return Atmosphere(
            HANDSHAKE,
            inner.payloads if inner else ([rest] if rest.strip() else []),
            m.group(1),
            int(m.group(2)),
        )
    if not _LENGTH.match(stripped):
        return None
    payloads: list[str] = []
    pos = 0
    while pos < len(stripped):
        m = _LENGTH.match(stripped, pos)
        if not m:
            return None if not payloads else Atmosphere(None, payloads + [stripped[pos:]])
        length = int(m.group(1))
        start = m.end()
        chunk = stripped[start : start + length]
        if len(chunk) != length:
            return None
        if chunk.strip() != "X":
            payloads.append(chunk)
        pos = start + length
        while pos < len(stripped) and stripped[pos] in "\r\n ":
            pos += 1
    return Atmosphere(None, payloads)
