"""Wires sources to the core: frame → decode → filter → record/render.

:class:`Pipeline` is the seam every source plugs into (files now; WebSocket,
MQTT, Socket.IO and replay feed it the same way): hand it Frames and Markers,
it records them first, then decodes, filters, renders and counts. It owns no
clock and no socket.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from presencectl.console import Environment, Output
from presencectl.core.decode import Decoder
from presencectl.core.events import Event, Frame, Marker
from presencectl.core.filters import Filter
from presencectl.transports.files import CaptureReader, CaptureWriter

__all__ = ["Counts", "Pipeline", "LimitReached", "run_cat"]


class LimitReached(Exception):
    """``-n/--limit`` events were shown: stop reading (exit 0)."""


@dataclass(slots=True)
class Counts:
    """What went through a pipeline."""

    frames: int = 0
    events: int = 0
    shown: int = 0
    unparsed: int = 0
    markers: int = 0
    by_dialect: dict[str | None, int] = field(default_factory=dict)


class Pipeline:
    """Frames in; rendered, filtered events out.

    Args:
        decoder: payload text → events.
        filt: which events to show (None: all but keep-alives).
        render: Event → output bytes (None: render nothing, e.g. ``record``).
        output: where rendered bytes go.
        limit: stop after this many shown events (``-n``).
        recorder: a capture writer; every frame is written before it is rendered.
        on_event: called with every shown event (live tables, stats).
    """

    def __init__(
        self,
        decoder: Decoder,
        filt: Filter | None,
        render: Callable[[Event], bytes] | None,
        output: Output | None,
        limit: int | None = None,
        recorder: CaptureWriter | None = None,
        on_event: Callable[[Event], None] | None = None,
    ) -> None:
        self.decoder = decoder
        self.filter = filt
        self.render = render
        self.output = output
        self.limit = limit
        self.recorder = recorder
        self.on_event = on_event
        self.counts = Counts()

    def frame(self, frame: Frame) -> list[Event]:
        """Record, decode, filter and render one frame; returns the shown events.

        Raises:
            LimitReached: the ``-n`` limit was reached with this frame.
        """
        if self.recorder is not None:
            self.recorder.frame(frame)
        counts = self.counts
        counts.frames += 1
        events = self.decoder.decode(frame.data, frame.topic, frame.t)
        return self.events(events)

    def events(self, events: list[Event]) -> list[Event]:
        """Filter and render already-decoded events."""
        counts = self.counts
        shown = []
        filt = self.filter
        for event in events:
            counts.events += 1
            if event.dialect is None:
                counts.unparsed += 1
            if filt is not None:
                if not filt(event):
                    continue
            elif event.keepalive:
                continue
            shown.append(event)
            counts.shown += 1
            if self.render is not None and self.output is not None:
                self.output.write(self.render(event))
            if self.on_event is not None:
                self.on_event(event)
            if self.limit is not None and counts.shown >= self.limit:
                raise LimitReached
        return shown

    def marker(self, marker: Marker) -> None:
        """Record a connection marker."""
        self.counts.markers += 1
        if self.recorder is not None:
            self.recorder.marker(marker)

    def close(self) -> None:
        """Flush output and close the capture."""
        try:
            if self.output is not None:
                self.output.flush()
        finally:
            if self.recorder is not None:
                self.recorder.close()


def run_cat(env: Environment, paths: list[str], pipeline: Pipeline) -> Counts:
    """``cat``: feed files (or stdin) through ``pipeline``.

    Plain NDJSON takes a fast path: lines that the filter's cheap byte test
    rules out are never parsed.
    """
    decoder = pipeline.decoder
    filt = pipeline.filter
    may_match = filt.may_match if filt is not None and filt.prefilter is not None else None
    try:
        for path in paths:
            reader = CaptureReader(path, env.warn)
            try:
                if reader.is_capture:
                    for record in reader.records():
                        if type(record) is Frame:
                            if may_match is not None and not _frame_may_match(may_match, record):
                                pipeline.counts.frames += 1
                                continue
                            pipeline.frame(record)
                        else:
                            pipeline.marker(record)
                else:
                    counts = pipeline.counts
                    events = pipeline.events
                    decode = decoder.decode
                    for line in _json_lines(reader.lines()):
                        counts.frames += 1
                        if may_match is not None and not may_match(line):
                            continue
                        events(decode(line))
            finally:
                reader.close()
    except LimitReached:
        pass
    return pipeline.counts


def _frame_may_match(may_match: Callable[[bytes], bool], frame: Frame) -> bool:
    data = frame.data
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    if frame.topic and may_match(frame.topic.encode("utf-8", "surrogatepass")):
        return True
    return may_match(data)


#: A pretty-printed document spanning lines is gathered up to this many lines.
_MAX_DOC_LINES = 10_000


def _json_lines(lines: Iterable[bytes]) -> Iterator[bytes]:
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
