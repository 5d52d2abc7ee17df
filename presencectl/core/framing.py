"""Transport framings wrapped around payloads, undone before dialects see them.

NDJSON files and pipes: one payload per line, except a pretty-printed
document, which :func:`ndjson_payloads` keeps whole.

Navixy's WebSocket speaks Atmosphere: the first frame is a handshake
``uuid|interval|X|``, ``X`` frames are heart-beats, and a message may carry a
``len|`` prefix (several such messages may share one frame). None of those
shapes is JSON, so :func:`unwrap_atmosphere` is tried only on frames that do
not parse, and plain streams never pay for it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

__all__ = ["Atmosphere", "unwrap_atmosphere", "ndjson_payloads", "OverlongLine", "HEARTBEAT", "HANDSHAKE"]

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
    first = _LENGTH.match(stripped)
    if not first:
        return None
    payloads: list[str] = []
    pos = 0
    while pos < len(stripped):
        m = _LENGTH.match(stripped, pos)
        length = int(m.group(1)) if m else -1
        chunk = stripped[m.end() : m.end() + length] if m else ""
        if not m or len(chunk) != length:
            # The lengths do not add up (a server counting bytes, not
            # characters, say): the frame is one message after its prefix.
            rest = stripped[first.end() :]
            return Atmosphere(None, [rest]) if rest.strip() else None
        if chunk.strip() != "X":
            payloads.append(chunk)
        pos = m.end() + length
        while pos < len(stripped) and stripped[pos] in "\r\n ":
            pos += 1
    return Atmosphere(None, payloads)


class OverlongLine(bytes):
    """The start of a line longer than a reader's limit; the rest was skipped unread.

    Readers yield it in place of the line (``transports.files``), so memory
    stays bounded whatever the input (a 500 MB line unpacked from a 510 KB
    ``.gz``); the decoder turns it into an ``unparsed`` event that says so.
    ``strip``/``rstrip`` return it unchanged, so it keeps its type through the
    line handling on the way (at no cost to ordinary lines).
    """

    size: int
    limit: int

    def __new__(cls, head: bytes, size: int, limit: int) -> OverlongLine:  # noqa: D102
        line = super().__new__(cls, head)
        line.size = size
        line.limit = limit
        return line

    def __reduce__(self) -> tuple:  # to worker processes and back
        return (OverlongLine, (bytes(self), self.size, self.limit))

    def strip(self, chars: bytes | None = None) -> OverlongLine:  # type: ignore[override]  # noqa: ARG002, D102
        return self

    rstrip = strip  # type: ignore[assignment]

    @property
    def what(self) -> str:
        """``a line of N bytes or more, over the --max-line limit of L bytes``."""
        return f"a line of {self.size:,} bytes or more, over the --max-line limit of {self.limit:,} bytes"

    @property
    def reason(self) -> str:
        """What the unparsed event says."""
        return f"{self.what}: not read (the start is shown)"


#: A pretty-printed document spanning lines is gathered up to this many lines.
_MAX_DOC_LINES = 10_000


def ndjson_payloads(lines: Iterable[bytes]) -> Iterator[bytes]:
    """NDJSON payloads: one per line, except a pretty-printed document, kept whole.

    A line that is just ``{`` or ``[`` opens a multi-line document: it is
    joined with the lines after it until the brackets balance, so
    pretty-printed JSON (and the vendor sample that is pretty-printed *and*
    malformed) is one payload, not twenty bad lines. A line starting a new
    document at column 0 ends the gathering, so one broken line never
    swallows the records after it.
    """
    pending: bytes | None = None
    it = iter(lines)
    while True:
        if pending is not None:
            line, pending = pending, None
        else:
            line = next(it, None)
            if line is None:
                return
        stripped = line.strip()
        if not stripped:
            continue
        if stripped == b"{" or stripped == b"[":
            parts = [stripped]
            depth = 1
            for more in it:
                if more[:1] in (b"{", b"["):
                    pending = more
                    break
                parts.append(more.rstrip(b"\r\n"))
                depth += _depth(more)
                if depth <= 0 or len(parts) >= _MAX_DOC_LINES:
                    break
            yield b"\n".join(parts).strip()
            continue
        yield stripped


def _depth(line: bytes) -> int:
    """Net bracket depth of one line, ignoring brackets inside strings."""
    depth = 0
    in_string = escaped = False
    for char in line:
        if in_string:
            if escaped:
                escaped = False
            elif char == 0x5C:  # backslash
                escaped = True
            elif char == 0x22:  # quote
                in_string = False
        elif char == 0x22:
            in_string = True
        elif char in (0x7B, 0x5B):
            depth += 1
        elif char in (0x7D, 0x5D):
            depth -= 1
    return depth
