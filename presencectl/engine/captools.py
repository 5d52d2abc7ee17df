"""The capture tools' loops: slice, merge, anonymise (SPEC §3.6c).

Each reads its input(s) line by line and writes the output as it goes, so
memory stays flat whatever the size; ``.gz`` is read (by its magic bytes) and
written (by the ``.gz`` suffix of the output). Output files are opened with
:class:`~presencectl.transports.files.OutputFile` (SPEC §5.1): an existing
file is refused unless ``force``, an output that is also an input is refused,
and an old file is replaced only when the new one is complete; a run that
fails or is interrupted leaves no half-written output behind.

The decisions live in the core: the ``--from``/``--until`` window in
:mod:`presencectl.core.replay`, filters in :mod:`presencectl.core.filters`,
pseudonyms in :mod:`presencectl.core.anonymise`.
"""

from __future__ import annotations

import gzip
import heapq
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from presencectl.core.capture import FORMAT_VERSION, Header, decode_record, encode_header
from presencectl.core.events import Marker
from presencectl.core.framing import OverlongLine
from presencectl.errors import UsageError
from presencectl.transports.files import DEFAULT_MAX_LINE, CaptureReader, OutputFile, write_error

__all__ = ["CaptureOutput", "SliceResult", "slice_capture", "MergeResult", "merge_captures", "AnonymiseResult", "anonymise_capture", "open_capture"]

Warn = Callable[[str], None]


class CaptureOutput:
    """A capture (or NDJSON) file being written: buffered, gzip for ``.gz``, safe (SPEC §5.1).

    Call :meth:`write` with whole lines, then :meth:`finish` to put the file
    in place, or :meth:`abort` to leave nothing behind (an old file stays).
    """

    def __init__(self, path: str, *, force: bool, inputs: list[str]) -> None:
        self.path = path
        self._out = OutputFile(path, force=force, inputs=inputs)
        self._gz: gzip.GzipFile | None = None
        self._file: Any = self._out.file
        if path.endswith(".gz"):
            self._gz = gzip.GzipFile(fileobj=self._out.file, mode="wb", mtime=0, compresslevel=6)
            self._file = self._gz
        self.lines = 0

    def write(self, line: bytes) -> None:
        """One record line (a newline is added if it lacks one)."""
        if not line.endswith(b"\n"):
            line += b"\n"
        try:
            self._file.write(line)
        except OSError as exc:
            raise write_error(self.path, exc) from None
        self.lines += 1

    def finish(self) -> None:
        """Complete the file (gzip trailer included) and put it in place."""
        try:
            if self._gz is not None:
                self._gz.close()
            self._out.file.flush()
        except OSError as exc:
            self.abort()
            raise write_error(self.path, exc) from None
        self._out.close(keep=True)

    def abort(self) -> None:
        """Throw the new output away; any old file is left as it was."""
        try:
            if self._gz is not None:
                self._gz.close()
        except OSError:
            pass
        try:
            self._out.close(keep=False)
        except OSError:
            pass  # (the buffered rest cannot be written either: it is thrown away with the file)

    def __enter__(self) -> CaptureOutput:
        return self

    def __exit__(self, kind: object, value: object, tb: object) -> None:
        if kind is None:
            self.finish()
        else:
            self.abort()


def open_capture(path: str, warn: Warn, what: str, max_line: int = DEFAULT_MAX_LINE) -> CaptureReader:
    """A reader for a capture file (lines over ``max_line`` are not read); plain
    NDJSON is refused with a hint.

    Raises:
        UsageError: the file has no capture header.
    """
    reader = CaptureReader(path, warn, max_line)
    if not reader.is_capture:
        reader.close()
        raise UsageError(
            f"{reader.name} is not a capture (no presencectl header line): {what} needs the receive "
            "times a capture records; for plain NDJSON use `presencectl cat FILE -f raw` with filters"
        )
    return reader


def header_dict(header: Header) -> dict[str, Any]:
    """A capture header as the JSON object its first line holds."""
    return orjson.loads(encode_header(header))


def _parse(line: bytes) -> Any:
    """The capture record of a line, or None for a blank or bad line."""
    try:
        return decode_record(line)
    except ValueError:
        return None


def _left_out(bad: int, where: str, warn: Warn) -> None:
    """The one warning for lines that are not capture records (every tool says it alike)."""
    if bad:
        what = "line that is not a capture record" if bad == 1 else "lines that are not capture records"
        warn(f"{where}: left out {bad:,} {what}")


def _overlong(line: OverlongLine, name: str, warn: Warn) -> None:
    """The warning for a line over ``--max-line``: it was not read, so no tool can copy it."""
    warn(f"{name}: left out {line.what} (a larger --max-line keeps it)")


def _unreadable(line: bytes, name: str, result: Any, warn: Warn) -> None:
    """A line that is no capture record: counted as bad, or (a cut last line, one
    over ``--max-line``) warned about."""
    if type(line) is OverlongLine:
        _overlong(line, name, warn)
    elif line.strip():
        if line.endswith(b"\n"):
            result.bad += 1
        else:
            warn(f"{name}: the last line is cut short ({len(line)} bytes): skipped it")


# -------------------------------------------------------------------- slice
@dataclass(slots=True)
class SliceResult:
    frames: int = 0
    markers: int = 0
    #: Kept frames holding several events of which only some matched (batches).
    mixed: int = 0
    filtered: int = 0
    outside: int = 0
    bad: int = 0
    window: tuple[float | None, float | None] = (None, None)


def slice_capture(
    path: str,
    out_path: str,
    *,
    start: Any,
    end: Any,
    filt: Any,
    decoder: Any,
    force: bool,
    warn: Warn,
    describe: dict[str, Any],
    max_line: int = DEFAULT_MAX_LINE,
) -> SliceResult:
    """Copy the records of ``path`` inside the window that pass ``filt`` to ``out_path``, byte for byte.

    Args:
        start, end: ``--from``/``--until`` as :class:`~presencectl.core.replay.Point` (or None).
        filt: a core Filter: a frame is kept when any of its events matches
            (a batch is kept whole); None keeps every frame. Markers inside the
            window are always kept.
        decoder: decodes frames for the filter.
        describe: what the header's ``slice`` entry records (file, options).

    The window is the one ``replay --from/--until`` plays: offsets count from
    the header's ``started`` (or the first record, if earlier); reading stops
    at the first record after ``--until``.
    """
    from presencectl.core.replay import window_bounds

    reader = open_capture(path, warn, "slice", max_line)
    result = SliceResult()
    try:
        assert reader.header is not None
        header = reader.header
        out = CaptureOutput(out_path, force=force, inputs=[path])
        try:
            held: list[bytes] = []  # records before the first one with a time
            lo: float | None = None
            hi: float | None = None
            prev: float | None = None
            decode = decoder.decode_frame

            def start_output(first: float | None) -> None:
                nonlocal lo, hi
                lo, hi = window_bounds(header.started, first, start, end)
                result.window = (lo, hi)
                info = dict(describe)
                info["window"] = [lo, hi]
                info["started"] = header.started
                new = Header(header.version, header.source, header.transport,
                             lo if start is not None else header.started, header.topics,
                             {**header.extra, "slice": info})
                out.write(encode_header(new))

            def keep(line: bytes, record: Any) -> None:
                if type(record) is Marker:
                    result.markers += 1
                    out.write(line)
                    return
                if filt is not None:
                    events = decode(record)
                    matched = [filt(e) for e in events]
                    if not any(matched):
                        result.filtered += 1
                        return
                    if not all(matched):
                        result.mixed += 1
                result.frames += 1
                out.write(line)

            for line in reader.lines():
                record = _parse(line)
                if record is None:
                    _unreadable(line, reader.name, result, warn)
                    continue
                t = record.t
                if lo is None:
                    if t is None:
                        held.append(line)
                        if len(held) < 10_000:
                            continue
                    start_output(t)
                    for early in held:
                        early_record = _parse(early)
                        if start is None or t is None:
                            keep(early, early_record)
                        else:
                            result.outside += 1
                    held.clear()
                if t is None:
                    t = prev
                if t is not None:
                    assert lo is not None
                    if start is not None and t < lo:  # (no --from: nothing is before the window)
                        result.outside += 1
                        continue
                    if hi is not None and t > hi:
                        result.outside += 1
                        break
                    prev = t if prev is None or t > prev else prev
                keep(line, record)
            if lo is None:
                start_output(None)
                for early in held:
                    keep(early, _parse(early))
        except BaseException:
            out.abort()
            raise
        out.finish()
    finally:
        reader.close()
    _left_out(result.bad, reader.name, warn)
    return result


# -------------------------------------------------------------------- merge
@dataclass(slots=True)
class MergeResult:
    frames: int = 0
    markers: int = 0
    per_input: list[int] = field(default_factory=list)
    backwards: int = 0
    bad: int = 0


def _timed(reader: CaptureReader, index: int, result: MergeResult, warn: Warn) -> Iterator[tuple[float, int, bytes, bool]]:
    """(t, input index, line, is marker) for each record; a record without a time follows its predecessor."""
    prev = float("-inf")
    for line in reader.lines():
        record = _parse(line)
        if record is None:
            _unreadable(line, reader.name, result, warn)
            continue
        t = record.t
        if t is None:
            t = prev
        elif t < prev:
            result.backwards += 1
        else:
            prev = t
        yield t, index, line, type(record) is Marker


def _tag(line: bytes, origin: int) -> bytes:
    """The record with ``"origin": N`` added; the rest of the line byte for byte."""
    body = line.rstrip(b"\r\n")
    if body.endswith(b"}") and b'"origin"' not in body:
        return body[:-1] + b',"origin":' + str(origin).encode() + b"}\n"
    obj = orjson.loads(body)
    obj["origin"] = origin
    return orjson.dumps(obj) + b"\n"


def merge_captures(
    paths: list[str], out_path: str, *, force: bool, warn: Warn, max_line: int = DEFAULT_MAX_LINE
) -> MergeResult:
    """One capture of all ``paths``, ordered by receive time (a streaming k-way merge).

    Each record gains ``"origin": N`` (its input's index); the header lists
    the inputs in ``origins`` (name, source, transport, started, topics).
    Records with equal times keep the inputs' order.
    """
    readers: list[CaptureReader] = []
    result = MergeResult(per_input=[0] * len(paths))
    try:
        for path in paths:
            readers.append(open_capture(path, warn, "merge", max_line))
        headers = [r.header for r in readers]
        assert all(h is not None for h in headers)
        origins = []
        for i, (path, h) in enumerate(zip(paths, headers, strict=True)):
            assert h is not None
            entry: dict[str, Any] = {"origin": i, "name": os.path.basename(path) if path != "-" else "stdin"}
            entry.update({k: v for k, v in header_dict(h).items() if k != "presencectl"})
            origins.append(entry)

        def common(values: list[Any]) -> Any:
            return values[0] if all(v == values[0] for v in values) else None

        starts = [h.started for h in headers if h is not None and h.started is not None]
        topics: list[str] | None = None
        for h in headers:
            if h is not None and h.topics:
                topics = (topics or []) + [t for t in h.topics if t not in (topics or [])]
        header = Header(
            FORMAT_VERSION,
            common([h.source for h in headers if h is not None]),
            common([h.transport for h in headers if h is not None]),
            min(starts) if starts else None,
            topics,
            {"origins": origins},
        )
        out = CaptureOutput(out_path, force=force, inputs=paths)
        try:
            out.write(encode_header(header))
            streams = [_timed(r, i, result, warn) for i, r in enumerate(readers)]
            for _t, index, line, is_marker in heapq.merge(*streams, key=lambda item: item[0]):
                out.write(_tag(line, index))
                if is_marker:
                    result.markers += 1
                else:
                    result.frames += 1
                    result.per_input[index] += 1
        except BaseException:
            out.abort()
            raise
        out.finish()
    finally:
        for r in readers:
            r.close()
    if result.backwards:
        which = "record is" if result.backwards == 1 else "records are"
        warn(f"{result.backwards:,} {which} earlier than the record before them in their own file: "
             "the merged capture is in time order only as far as its inputs are")
    _left_out(result.bad, "the inputs", warn)
    return result


# ---------------------------------------------------------------- anonymise
@dataclass(slots=True)
class AnonymiseResult:
    frames: int = 0
    markers: int = 0
    unparsed: int = 0
    kept_unparsed: int = 0
    bad: int = 0
    dropped_header_keys: list[str] = field(default_factory=list)
    is_capture: bool = True


def anonymise_capture(
    path: str, out_path: str, anonymiser: Any, *, keep_unparsed: bool, force: bool, warn: Warn,
    max_line: int = DEFAULT_MAX_LINE,
) -> AnonymiseResult:
    """Write ``path`` with every identifier replaced by ``anonymiser`` (a core Anonymiser).

    A capture stays a capture (header, frames, markers, record keys kept);
    plain NDJSON stays NDJSON, one document per line. A payload that is not
    JSON (nor Atmosphere-framed JSON) is left out unless ``keep_unparsed``,
    since it may hold identifiers nobody can find.
    """
    reader = CaptureReader(path, warn, max_line)
    result = AnonymiseResult(is_capture=reader.is_capture)
    try:
        out = CaptureOutput(out_path, force=force, inputs=[path])
        try:
            if reader.is_capture:
                assert reader.header is not None
                header, result.dropped_header_keys = anonymiser.header(header_dict(reader.header))
                out.write(orjson.dumps(header))
                _anonymise_records(reader, out, anonymiser, keep_unparsed, result, warn)
            else:
                from presencectl.core.framing import ndjson_payloads

                for payload in ndjson_payloads(reader.lines()):
                    if type(payload) is OverlongLine:  # (not read: not even --keep-unparsed can keep it)
                        _overlong(payload, reader.name, warn)
                        continue
                    text = payload.decode("utf-8", "replace")
                    new = anonymiser.payload(text, None)
                    if new is None:
                        result.unparsed += 1
                        if keep_unparsed:
                            result.kept_unparsed += 1
                            out.write(payload)
                        continue
                    result.frames += 1
                    out.write(new.encode())
        except BaseException:
            out.abort()
            raise
        out.finish()
    finally:
        reader.close()
    _left_out(result.bad, reader.name, warn)
    return result


#: Record keys kept as they are (SPEC §4 and the optional MQTT/merge keys); any
#: other key may carry anything, so it is dropped.
_RECORD_KEYS = frozenset({"t", "topic", "text", "b64", "mark", "detail", "retained", "dup", "qos", "content_type", "user_properties", "origin"})


def _anonymise_properties(obj: dict, anonymiser: Any) -> None:
    """MQTT 5 user property values are pseudonymised (names kept); unknown record keys dropped."""
    for key in [k for k in obj if k not in _RECORD_KEYS]:
        del obj[key]
    props = obj.get("user_properties")
    if isinstance(props, list):
        obj["user_properties"] = [
            [p[0], anonymiser.identifier(p[1], "user_properties")] if isinstance(p, list) and len(p) == 2 else None
            for p in props
        ]
        obj["user_properties"] = [p for p in obj["user_properties"] if p is not None]
    elif "user_properties" in obj:
        del obj["user_properties"]


def _anonymise_records(reader: CaptureReader, out: CaptureOutput, anonymiser: Any, keep_unparsed: bool, result: AnonymiseResult, warn: Warn) -> None:
    from presencectl.core.decode import loads

    for line in reader.lines():
        try:
            obj = loads(line)
        except ValueError:
            obj = None
        if type(obj) is not dict:
            _unreadable(line, reader.name, result, warn)
            continue
        if isinstance(obj.get("mark"), str) and "text" not in obj and "b64" not in obj:
            detail = obj.get("detail")
            obj["detail"] = anonymiser.marker_detail(detail if isinstance(detail, str) else None if detail is None else str(detail))
            result.markers += 1
            out.write(orjson.dumps(obj))
            continue
        topic = obj.get("topic")
        text = obj.get("text")
        new = anonymiser.payload(text, topic if isinstance(topic, str) else None) if isinstance(text, str) else None
        if new is None:
            result.unparsed += 1
            if not keep_unparsed:
                continue
            result.kept_unparsed += 1
        else:
            obj["text"] = new
            result.frames += 1
        if isinstance(topic, str):
            obj["topic"] = anonymiser.topic(topic)
        _anonymise_properties(obj, anonymiser)
        try:
            out.write(orjson.dumps(obj))
        except TypeError:  # lone surrogates kept from the original
            import json

            out.write(json.dumps(obj).encode())
