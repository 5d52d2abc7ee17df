"""Files and stdin as sources; capture files as a sink.

A capture's first line is its header; a file without one is plain NDJSON,
read as frames with no receive time. ``.gz`` (detected by its magic bytes,
so gzipped stdin works too) is read and written transparently.
"""

from __future__ import annotations

import gzip
import os
import sys
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import IO, BinaryIO

from presencectl.core.capture import (
    Header,
    decode_record,
    encode_frame,
    encode_header,
    encode_marker,
    parse_header,
)
from presencectl.core.decode import loads
from presencectl.core.events import Frame, Marker
from presencectl.core.framing import OverlongLine
from presencectl.errors import CaptureFormatError, InputNotFound, PresenceError

__all__ = ["open_input", "iter_lines", "bounded_lines", "CaptureReader", "CaptureWriter", "DEFAULT_MAX_LINE"]

_GZIP_MAGIC = b"\x1f\x8b"
_BOM = b"\xef\xbb\xbf"
_CHUNK = 1 << 20
#: A line (one payload or capture record) longer than this is not read (--max-line).
DEFAULT_MAX_LINE = 16 * 1024 * 1024
#: How much of an over-long line is kept, to show what it was.
_HEAD = 200


def open_input(path: str) -> BinaryIO:
    """Open a file (or ``-`` for stdin) for reading bytes, un-gzipping if needed.

    Raises:
        InputNotFound: the file does not exist or cannot be read.
    """
    if path == "-":
        raw: BinaryIO = sys.stdin.buffer
    else:
        try:
            raw = open(path, "rb", buffering=_CHUNK)  # noqa: SIM115
        except FileNotFoundError:
            raise InputNotFound(f"{path}: no such file") from None
        except IsADirectoryError:
            raise InputNotFound(f"{path}: is a directory") from None
        except OSError as exc:
            raise InputNotFound(f"{path}: cannot open: {exc.strerror or exc}") from None
    peek = getattr(raw, "peek", None)
    head = peek(2)[:2] if peek else b""
    if head == _GZIP_MAGIC:
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return raw


def bounded_lines(stream: BinaryIO, max_line: int = DEFAULT_MAX_LINE) -> Iterator[bytes]:
    """Lines (with their newline), none longer than ``max_line``.

    A longer line is read in pieces of at most ``max_line`` bytes and thrown
    away; an :class:`~presencectl.core.framing.OverlongLine` holding its start
    and size takes its place. So memory stays bounded by ``max_line`` whatever
    the input, gzip bombs included.
    """
    readline = stream.readline
    while True:
        line = readline(max_line)
        if len(line) < max_line or line[-1] == 0x0A:  # the common case: one compare
            if not line:
                return
            yield line
            continue
        head, size = line[:_HEAD], len(line)
        line = b""
        while True:
            more = readline(max_line)
            size += len(more)
            if not more or more[-1] == 0x0A:
                break
        yield OverlongLine(head, size, max_line)


def iter_lines(
    stream: BinaryIO, warn: Callable[[str], None], name: str, max_line: int = DEFAULT_MAX_LINE
) -> Iterator[bytes]:
    """Lines (with their newline) of a stream (see :func:`bounded_lines`); a cut-short gzip ends with a warning.

    Raises:
        CaptureFormatError: gzip data of which not one byte can be unpacked.
        PresenceError: the file cannot be read.
    """
    read = False
    try:
        for line in bounded_lines(stream, max_line):
            read = True
            yield line
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        _gzip_trouble(exc, read, warn, name)
    except OSError as exc:
        raise PresenceError(f"{name}: read error: {exc.strerror or exc}") from None


def _gzip_trouble(exc: Exception, read: bool, warn: Callable[[str], None], name: str) -> None:
    """A cut-short gzip after some data is a warning; one with no data at all is an error."""
    if not read:
        raise CaptureFormatError(f"{name}: not readable gzip data ({exc})") from None
    warn(f"{name}: compressed data ends early or is corrupt ({exc}); read what was there")


class CaptureReader:
    """Reads a capture file or a plain NDJSON file as Frames and Markers.

    Args:
        path: a file path or ``-``.
        warn: where to report recoverable trouble (a truncated last line).
        max_line: a longer line is not read (``--max-line``): an
            :class:`~presencectl.core.framing.OverlongLine` stands in for it.

    After construction ``header`` is the capture header, or None for plain
    NDJSON. ``records()`` yields Frames and Markers; a line that is not a
    capture record becomes a Frame of its own text, so it is shown, not lost.
    """

    def __init__(self, path: str, warn: Callable[[str], None], max_line: int = DEFAULT_MAX_LINE) -> None:
        self.path = path
        self.name = "stdin" if path == "-" else path
        self.warn = warn
        self.max_line = max_line
        self.stream = open_input(path)
        self._lines = iter_lines(self.stream, warn, self.name, max_line)
        self.header: Header | None = None
        self._first: bytes | None = None
        self.bad_records = 0
        for line in self._lines:
            if line.startswith(_BOM):
                line = line[len(_BOM):]  # an editor's byte order mark, not data
            if not line.strip():
                continue
            try:
                obj = loads(line)
            except ValueError:
                obj = None
            header = parse_header(obj)
            if header is None:
                self._first = line
            self.header = header
            break

    @property
    def size(self) -> int | None:
        """Size in bytes of a regular file (None for stdin and pipes)."""
        if self.path == "-":
            return None
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        import stat

        return st.st_size if stat.S_ISREG(st.st_mode) else None

    @property
    def is_capture(self) -> bool:
        """True when the file starts with a capture header."""
        return self.header is not None

    def lines(self) -> Iterator[bytes]:
        """Raw lines after the header (the NDJSON fast path uses these)."""
        if self._first is not None:
            first, self._first = self._first, None
            yield first
        yield from self._lines

    def records(self) -> Iterator[Frame | Marker]:
        """Frames and markers, in file order."""
        return self.records_from(self.lines())

    def records_from(self, lines: Iterable[bytes]) -> Iterator[Frame | Marker]:
        """Frames and markers from these raw lines (a pre-filtered or partial stream)."""
        if not self.is_capture:
            for line in lines:
                yield Frame(line.rstrip(b"\r\n"))  # an OverlongLine stays one (its rstrip)
            return
        pending: bytes | None = None
        for line in lines:
            if pending is not None:
                yield self._bad(pending)
                pending = None
            try:
                yield decode_record(line)
            except ValueError:
                if type(line) is OverlongLine:
                    yield Frame(line)  # decoded as "over the --max-line limit"
                    continue
                if not line.strip():
                    continue
                if not line.endswith(b"\n"):
                    pending = line  # maybe the truncated last line
                    continue
                yield self._bad(line)
        if pending is not None:
            self.warn(
                f"{self.name}: the last line is cut short ({len(pending)} bytes): "
                "the recording was interrupted; skipped it"
            )

    def chunks(self, size: int = 1 << 20) -> Iterator[bytes]:
        """The rest of the file as blocks of whole lines, for parallel decoding.

        Blocks are cut just before a line that starts a JSON document, so a
        pretty-printed document is never split (see ``core.framing.ndjson_payloads``).
        """
        carry = self._first or b""
        self._first = None
        stream = self.stream
        limit = self.max_line
        head, skipped = b"", 0  # skipped > 0: inside an over-long line, this much of it seen
        while True:
            try:
                block = stream.read(size)
            except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
                _gzip_trouble(exc, True, self.warn, self.name)  # the header line was read
                block = b""
            except OSError as exc:
                raise PresenceError(f"{self.name}: read error: {exc.strerror or exc}") from None
            if skipped:
                end = block.find(b"\n")
                if block and end < 0:
                    skipped += len(block)
                    continue
                skipped += end + 1 if block else 0
                yield OverlongLine(head, skipped, limit)  # a block of its own
                head, skipped = b"", 0
                block = block[end + 1 :]
                if not block:
                    continue
            if not block:
                if carry:
                    yield carry
                return
            data = carry + block
            cut = max(data.rfind(b"\n{"), data.rfind(b"\n["))
            if cut < 0:
                cut = data.rfind(b"\n")
            if cut < 0:
                if len(data) > limit:  # one line, and no end in sight: skip the rest of it
                    head, skipped, carry = data[:_HEAD], len(data), b""
                else:
                    carry = data
                continue
            yield data[: cut + 1]
            carry = data[cut + 1 :]

    def _bad(self, line: bytes) -> Frame:
        self.bad_records += 1
        return Frame(line.rstrip(b"\r\n"))

    def close(self) -> None:
        """Close the file (never stdin)."""
        if self.path != "-":
            self.stream.close()


class CaptureWriter:
    """Writes a capture: the header, then one flushed line per frame or marker.

    A ``.gz`` path is gzip-compressed with a sync flush after every line, so a
    killed recorder leaves a file whose every complete line can be read back.
    """

    def __init__(self, path: str, header: Header) -> None:
        self.path = path
        try:
            self._file: IO[bytes] = open(path, "wb")  # noqa: SIM115
        except OSError as exc:
            raise PresenceError(f"{path}: cannot write: {exc.strerror or exc}") from None
        self._gz: gzip.GzipFile | None = None
        if path.endswith(".gz"):
            self._gz = gzip.GzipFile(fileobj=self._file, mode="wb", mtime=0)
        self.frames = 0
        self._write(encode_header(header))

    def _write(self, data: bytes) -> None:
        if self._gz is not None:
            self._gz.write(data)
            self._gz.flush()  # Z_SYNC_FLUSH: readable up to here even if we die
        else:
            self._file.write(data)
        self._file.flush()

    def frame(self, frame: Frame) -> None:
        """Record one frame (written and flushed before this returns)."""
        self._write(encode_frame(frame))
        self.frames += 1

    def marker(self, marker: Marker) -> None:
        """Record a connection marker."""
        self._write(encode_marker(marker))

    def close(self) -> None:
        """Finish the file (gzip trailer included) and close it."""
        if self._gz is not None:
            self._gz.close()
            self._gz = None
        if not self._file.closed:
            self._file.flush()
            self._file.close()
