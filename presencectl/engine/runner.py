"""Wires sources to the core: frame → record → decode → filter → render.

:class:`Pipeline` is the one frame path every source plugs into (WebSocket,
MQTT, Socket.IO and the webhook through ``live.Session``; files and stdin
through :func:`feed_lines`; ``replay`` to stdout): hand it Frames and Markers,
it records them first, then decodes, filters, renders and counts. It owns no
clock and no socket.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from presencectl.core.decode import Decoder
from presencectl.core.events import Event, Frame, Marker
from presencectl.core.filters import Filter
from presencectl.core.framing import OverlongLine, ndjson_payloads
from presencectl.transports.files import (
    DEFAULT_MAX_LINE,
    CaptureReader,
    CaptureWriter,
    FileSpan,
    payload_frames,
    read_span,
)
from presencectl.ui.console import Environment, Output

if TYPE_CHECKING:
    from presencectl.engine.signals import SignalGate

__all__ = ["Counts", "Pipeline", "LimitReached", "run_cat", "feed_lines", "run_blocks", "parallel_workers", "open_pipeline", "FLUSH_EVERY"]

#: A capture of a network source (or a regular file) is flushed when the source is
#: about to wait, and at least this often while a burst goes on (SPEC §5.1); a pipe or
#: stdin is flushed every frame (nobody tells us when it is about to block).
FLUSH_EVERY = 0.1

T = TypeVar("T")


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


class Pipeline:
    """THE frame path: every source hands each frame to :meth:`frame`, which
    records, decodes, filters and renders it, in that order. Nothing else
    calls those steps, so a frame that is counted is a frame that is recorded.

    Args:
        decoder: payload text → events.
        filt: which events to show (None: all but keep-alives).
        render: Event → output bytes (None: render nothing, e.g. ``record``).
        output: where rendered bytes go.
        limit: stop after this many shown events (``-n``).
        recorder: a capture writer; every frame is written before it is rendered.
        on_event: called with every shown event (live tables, stats).
        gate: signals wait while a frame, a marker or the close is under way
            (see :mod:`presencectl.engine.signals`); None leaves them alone.

    Entry points: :meth:`frame` (a live source, replay), :meth:`payloads` and
    :meth:`records` (files and stdin), :meth:`marker`, :meth:`idle` (about to
    wait for input: flush), :meth:`close`.
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
        gate: SignalGate | None = None,
    ) -> None:
        self.decoder = decoder
        self.filter = filt
        self.render = render
        self.output = output
        self.limit = limit
        self.recorder = recorder
        self.on_event = on_event
        self.gate = gate
        self.counts = Counts()

    def frame(
        self,
        frame: Frame,
        events: list[Event] | None = None,
        judged: Callable[[Frame, list[Event]], None] | None = None,
    ) -> list[Event]:
        """Record, decode, filter and render one frame; returns the shown events.

        Args:
            frame: as received.
            events: its events, when the caller had to decode it already
                (replay's filters); else it is decoded here.
            judged: called once the frame is flushed to disk and decoded,
                before anything is rendered (the webhook answers its POST
                there, MQTT acknowledges QoS 1/2).

        Raises:
            LimitReached: the ``-n`` limit was reached with this frame.
        """
        gate = self.gate
        if gate is not None:
            gate.depth += 1  # gate.enter(), inlined: this runs once per frame
        try:
            recorder = self.recorder
            if recorder is not None:
                recorder.frame(frame)
            self.counts.frames += 1
            if events is None:
                events = self.decoder.decode_frame(frame)
            if judged is not None:
                if recorder is not None:
                    recorder.flush()
                judged(frame, events)
            return self._show(events)
        finally:
            if gate is not None:
                gate.leave()

    def payloads(self, payloads: Iterable[bytes]) -> None:
        """Plain NDJSON payloads (a file, stdin), each through :meth:`frame`.

        With nothing to record and no signals to hold, the same steps run
        without building a Frame per payload (``cat``'s hot path).
        """
        if self.recorder is not None or self.gate is not None:
            frame = self.frame
            for record in payload_frames(payloads):
                frame(record)
            return
        output = self.output
        if self.on_event is None and self.limit is None and self.render is not None and output is not None:
            if not output.live:
                self._rendered(payloads, self.render, output)
                return
        counts = self.counts
        show = self._show
        decode = self.decoder.decode
        for payload in payloads:
            counts.frames += 1
            show(decode(payload))

    def _rendered(self, payloads: Iterable[bytes], render: Callable[[Event], bytes], output: Output) -> None:
        """:meth:`payloads` when every shown event is only rendered to a buffered output.

        The steps of :meth:`_show`, in one loop with local counters; rendered
        lines go to ``output`` a few hundred at a time (and whatever is
        rendered when an exception ends the loop, too).
        """
        decode = self.decoder.decode
        filt = self.filter
        parts: list[bytes] = []
        append = parts.append
        frames = events = shown = unparsed = 0
        try:
            for payload in payloads:
                frames += 1
                for event in decode(payload):
                    events += 1
                    if event.dialect is None:
                        unparsed += 1
                    if filt is not None:
                        if not filt(event):
                            continue
                    elif event.keepalive:
                        continue
                    shown += 1
                    append(render(event))
                if len(parts) >= 256:
                    data = b"".join(parts)
                    parts.clear()  # (written once, even if the write fails)
                    output.write(data)
        finally:
            counts = self.counts
            counts.frames += frames
            counts.events += events
            counts.shown += shown
            counts.unparsed += unparsed
            if parts:
                data = b"".join(parts)
                parts.clear()
                output.write(data)

    def records(self, records: Iterable[Frame | Marker]) -> None:
        """Capture records (frames and markers), in order."""
        frame, marker = self.frame, self.marker
        for record in records:
            if type(record) is not Marker:
                frame(record)
            else:
                marker(record)  # type: ignore[arg-type]

    def _show(self, events: list[Event]) -> list[Event]:
        """Filter and render decoded events (the last step of :meth:`frame`)."""
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
        gate = self.gate
        if gate is not None:
            gate.enter()
        try:
            self.counts.markers += 1
            if self.recorder is not None:
                self.recorder.marker(marker)
        finally:
            if gate is not None:
                gate.leave()

    def idle(self) -> None:
        """The source has nothing more buffered: flush the output and the capture."""
        gate = self.gate
        if gate is not None:
            gate.enter()
        try:
            if self.output is not None:
                self.output.flush()
            if self.recorder is not None:
                self.recorder.flush()
        finally:
            if gate is not None:
                gate.leave()

    def close(self, keep_empty: bool = True) -> None:
        """Flush output and close the capture (``keep_empty``: see ``CaptureWriter.close``)."""
        gate = self.gate
        if gate is not None:
            gate.enter()
        try:
            try:
                if self.output is not None:
                    self.output.flush()
            finally:
                if self.recorder is not None:
                    self.recorder.close(keep_empty)
        finally:
            if gate is not None:
                gate.leave()


def run_cat(env: Environment, paths: list[str], pipeline: Pipeline, max_line: int = DEFAULT_MAX_LINE) -> Counts:
    """``cat``: feed files (or stdin) through ``pipeline``; lines over ``max_line`` are not read.

    Lines that the filter's cheap byte test rules out are never parsed. A
    large regular file is decoded and rendered by one worker process per core
    (see :func:`_cat_parallel`); output order is the file's order either way.
    """
    import gc

    # Decoding makes millions of short-lived, acyclic objects: collecting
    # after every 700 allocations (the default) costs a few percent for nothing.
    thresholds = gc.get_threshold()
    gc.set_threshold(100_000, 50, 50)
    try:
        for path in paths:
            reader = CaptureReader(path, env.warn, max_line)
            try:
                workers = 1
                if pipeline.limit is None and pipeline.on_event is None and pipeline.recorder is None:
                    if pipeline.output is not None and not pipeline.output.live:
                        workers = parallel_workers(env, reader.size, reader.path.endswith(".gz"))
                if workers > 1:
                    _cat_parallel(env, reader, pipeline, workers)
                else:
                    feed_lines(reader, reader.lines(), pipeline)
            finally:
                reader.close()
    except LimitReached:
        pass
    finally:
        gc.set_threshold(*thresholds)
    return pipeline.counts


def feed_lines(
    reader: CaptureReader, lines: Iterable[bytes], pipeline: Pipeline, received: Callable[[], float] | None = None
) -> None:
    """Feed raw lines of ``reader``'s kind (capture records or NDJSON) through ``pipeline``.

    ``lines`` may also be one block of whole lines as bytes (a worker's
    block): the filter's byte test then runs over the whole block.

    ``received`` stamps NDJSON payloads with a receive time (a followed file,
    read as it grows). With a recorder (or ``received``) no line is skipped
    by the filter's byte test: every line is recorded and counted.
    """
    filt = pipeline.filter
    if filt is not None and filt.prefilter is not None and pipeline.recorder is None and received is None:
        # (a recorder keeps every line; a followed file counts every line in its summary)
        if type(lines) is bytes:
            lines = _prefiltered_block(lines, filt.prefilter)
        else:
            lines = _prefiltered(lines, filt.prefilter)
    elif type(lines) is bytes:
        lines = lines.splitlines(keepends=True)
    if reader.is_capture:
        pipeline.records(reader.records_from(lines))
    elif received is not None:
        frame = pipeline.frame
        for record in payload_frames(ndjson_payloads(lines)):
            record.t = received()
            frame(record)
    else:
        pipeline.payloads(ndjson_payloads(lines))


def _prefiltered(lines: Iterable[bytes], tokens: tuple[bytes, ...]) -> Iterator[bytes]:
    """Drop complete one-line JSON objects that contain none of ``tokens``.

    Anything else (parts of a multi-line document, a cut last line, lines with
    ``\\u`` escapes that could spell a token) goes through to be parsed.
    """
    for line in lines:
        if line[:1] == b"{" and line.endswith(b"}\n"):
            for token in tokens:
                if token in line:
                    break
            else:
                if b"\\u" not in line:
                    continue
        yield line


def _prefiltered_block(block: bytes, tokens: tuple[bytes, ...]) -> list[bytes]:
    """``list(_prefiltered(block.splitlines(keepends=True), tokens))``, found faster.

    When every line of the block is a complete one-line object (``{`` first,
    ``}`` and a newline last) and the block holds no ``\\r`` and no ``\\u``, a
    line is kept exactly when it holds a token: the tokens are searched in the
    whole block (``bytes.find``) and only the lines around the hits are cut
    out, instead of testing every line. Otherwise line by line.
    """
    # (Searches for one byte run at memchr speed, longer ones at a third of it:
    # a backslash is looked for before a \\u, one "}\\n{" count checks every line end.)
    if (
        block[:1] == b"{"
        and block.endswith(b"}\n")
        and b"\r" not in block
        and (b"\\" not in block or b"\\u" not in block)
        and block.count(b"}\n{") == block.count(b"\n") - 1
    ):
        starts: dict[int, int] = {}
        find, rfind = block.find, block.rfind
        for token in tokens:
            hit = find(token)
            while hit >= 0:
                start = rfind(b"\n", 0, hit) + 1
                end = find(b"\n", hit) + 1  # (every line ends with one)
                starts[start] = end
                hit = find(token, end)
        return [block[start : starts[start]] for start in sorted(starts)]
    return list(_prefiltered(block.splitlines(keepends=True), tokens))


# ------------------------------------------------------------------ parallel

#: Files smaller than this are not worth worker processes.
PARALLEL_MIN_BYTES = 8 << 20


def parallel_workers(env: Environment, size: int | None, gzipped: bool = False) -> int:
    """How many worker processes to decode ``size`` bytes of file with (1: none).

    One per core (``PRESENCECTL_JOBS`` overrides, 1 turns it off) for regular
    files of 8 MB and more (2 MB gzipped); None for a pipe or stdin.
    """
    wanted = env.environ.get("PRESENCECTL_JOBS")
    try:
        jobs = int(wanted) if wanted else (os.cpu_count() or 1)
    except ValueError:
        jobs = 1
    if jobs < 2 or size is None:
        return 1
    threshold = PARALLEL_MIN_BYTES // 4 if gzipped else PARALLEL_MIN_BYTES
    if size < threshold and not wanted:
        return 1
    return jobs if hasattr(os, "fork") and hasattr(os, "memfd_create") else 1


def run_blocks(
    env: Environment,
    reader: CaptureReader,
    workers: int,
    work: Callable[[CaptureReader, bytes | list[bytes]], tuple[T, bytes]],
    collect: Callable[[T, bytes], None],
) -> None:
    """Process a file's blocks of lines in forked workers; results come back in file order.

    ``work(reader, lines)`` runs in a worker on one block (hand ``lines``, the
    block as bytes or a list of lines, to :func:`feed_lines`) and returns
    ``(value, data)``: something picklable and bytes (output, or b"");
    ``collect(value, data)`` runs here, block after block; the warnings of a
    block are given here just before it. See :mod:`presencectl.engine.workers`.
    """
    from presencectl.engine.workers import run_blocks as run

    is_capture, name = reader.is_capture, reader.name
    # Workers read an uncompressed file's blocks themselves (FileSpan), from the fd they inherit.
    fd = reader.stream.fileno() if reader.path != "-" else -1

    def block_work(block: bytes | FileSpan) -> tuple[tuple[T, list[str]], bytes]:
        warnings: list[str] = []
        if type(block) is FileSpan:
            block = read_span(fd, block)
        # (an OverlongLine is one line; any other block is split by feed_lines)
        lines = [block] if type(block) is OverlongLine else block
        value, data = work(_BlockReader(is_capture, name, warnings.append), lines)
        return (value, warnings), data

    def block_collect(result: tuple[T, list[str]], data: bytes) -> None:
        value, warnings = result
        for message in warnings:
            env.warn(message)
        collect(value, data)

    run(reader.chunks(spans=True), workers, block_work, block_collect)


def _cat_parallel(env: Environment, reader: CaptureReader, pipeline: Pipeline, workers: int) -> None:
    """Decode and render in workers; write the rendered blocks here in order."""
    decoder, filt, render = pipeline.decoder, pipeline.filter, pipeline.render
    counts = pipeline.counts
    output = pipeline.output
    assert output is not None

    def work(block_reader: CaptureReader, lines: bytes | list[bytes]) -> tuple[tuple, bytes]:
        parts: list[bytes] = []
        local = Pipeline(decoder, filt, render, _Collect(parts))  # type: ignore[arg-type]
        feed_lines(block_reader, lines, local)
        c = local.counts
        return (c.frames, c.events, c.shown, c.unparsed, c.markers), b"".join(parts)

    def collect(result: tuple, data: bytes) -> None:
        frames, events, shown, unparsed, markers = result
        counts.frames += frames
        counts.events += events
        counts.shown += shown
        counts.unparsed += unparsed
        counts.markers += markers
        if data:
            output.write(data)

    run_blocks(env, reader, workers, work, collect)


class _Collect:
    """An Output stand-in that keeps what is written."""

    __slots__ = ("parts", "live")

    def __init__(self, parts: list[bytes]) -> None:
        self.parts = parts
        self.live = False

    def write(self, data: bytes) -> None:
        self.parts.append(data)

    def flush(self) -> None:
        pass


class _BlockReader(CaptureReader):
    """A CaptureReader over lines handed to a worker (no file of its own)."""

    def __init__(self, is_capture: bool, name: str, warn: Callable[[str], None]) -> None:  # noqa: D107
        self.name = name
        self.warn = warn
        self.bad_records = 0
        self.header = True if is_capture else None  # type: ignore[assignment]


def open_pipeline(
    make: Callable[[CaptureWriter | None, SignalGate], Pipeline],
    record: str | None,
    *,
    endpoint: str,
    transport: str,
    started_wall: float,
    network: bool,
    topics: list[str] | None = None,
    headers: list[str] | None = None,
    force: bool = False,
    inputs: Iterable[str] = (),
) -> tuple[Pipeline, SignalGate]:
    """The set-up every recording command shares (``tail``/``record``, ``expect``):
    enter the signal gate first (a signal during set-up waits), open the capture
    (``record``: its path, or None) with its header, then ``make(recorder, gate)``
    the pipeline. If anything fails on the way, a capture just begun is removed
    (the old file, with ``--force``, stays) and the gate is left.

    ``network``: the source is a live connection (flushes every
    :data:`FLUSH_EVERY` during bursts); else ``inputs[0]`` decides: a regular
    file the same, stdin or a pipe every frame. The caller calls
    ``gate.leave()`` when it is ready for a pending signal.
    """
    from presencectl.core.capture import make_header
    from presencectl.engine.signals import SignalGate

    inputs = list(inputs)
    gate = SignalGate().__enter__()
    gate.enter()
    recorder: CaptureWriter | None = None
    pipeline: Pipeline | None = None
    try:
        if record is not None:
            header = make_header(endpoint, transport, started_wall, topics=topics, headers=headers or None)
            regular = network or any(path != "-" and os.path.isfile(path) for path in inputs[:1])
            recorder = CaptureWriter(record, header, force=force, inputs=inputs, flush_every=FLUSH_EVERY if regular else 0.0)
        pipeline = make(recorder, gate)
    finally:
        if pipeline is None:
            if recorder is not None:
                recorder.close(keep_empty=False)
            gate.__exit__()
    return pipeline, gate
