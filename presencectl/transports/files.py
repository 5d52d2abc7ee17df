"""Files and stdin as sources; capture files as a sink.

A capture's first line is its header; a file without one is plain NDJSON,
read as frames with no receive time. ``.gz`` (detected by its magic bytes,
so gzipped stdin works too) is read and written transparently.
"""

from __future__ import annotations

import gzip
import io
import os
import signal
import sys
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import IO, BinaryIO, NamedTuple

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
from presencectl.core.framing import OverlongLine, ndjson_payloads
from presencectl.errors import CaptureFormatError, InputNotFound, PresenceError, UsageError

__all__ = [
    "open_input", "iter_lines", "bounded_lines", "payload_frames", "CaptureReader", "CaptureWriter", "OutputFile",
    "check_output", "DEFAULT_MAX_LINE", "FileSpan", "read_span",
]

_GZIP_MAGIC = b"\x1f\x8b"
_BOM = b"\xef\xbb\xbf"
_CHUNK = 1 << 20
#: A line (one payload or capture record) longer than this is not read (--max-line).
DEFAULT_MAX_LINE = 16 * 1024 * 1024
#: How much of an over-long line is kept, to show what it was.
_HEAD = 200


def cannot_open(path: str, exc: OSError) -> InputNotFound:
    """The one error line for an input that cannot be opened (exit 2, SPEC §5)."""
    if isinstance(exc, FileNotFoundError):
        return InputNotFound(f"{path}: no such file")
    if isinstance(exc, IsADirectoryError):
        return InputNotFound(f"{path}: is a directory")
    return InputNotFound(f"{path}: cannot open: {exc.strerror or exc}")


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
        except OSError as exc:
            raise cannot_open(path, exc) from None
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


def payload_frames(payloads: Iterable[bytes]) -> Iterator[Frame]:
    """Plain NDJSON payloads (see ``core.framing.ndjson_payloads``) as Frames
    with no receive time: text when it is UTF-8, else bytes; kept verbatim."""
    for payload in payloads:
        if type(payload) is OverlongLine:
            yield Frame(payload)  # decoded as "over the --max-line limit"
            continue
        try:
            yield Frame(payload.decode("utf-8"))
        except UnicodeDecodeError:
            yield Frame(payload)


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
            yield from payload_frames(ndjson_payloads(lines))
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

    def chunks(self, size: int = 1 << 20, spans: bool = False) -> Iterator[bytes | FileSpan]:
        """The rest of the file as blocks of whole lines, for parallel decoding.

        Blocks are cut just before a line that starts a JSON document, so a
        pretty-printed document is never split (see ``core.framing.ndjson_payloads``).
        With ``spans``, a block of an uncompressed regular file is yielded as
        the :class:`FileSpan` it came from (a worker process reads it itself
        with :func:`read_span`, instead of receiving a copy through a pipe).
        """
        carry = self._first or b""
        self._first = None
        stream = self.stream
        limit = self.max_line
        head, skipped = b"", 0  # skipped > 0: inside an over-long line, this much of it seen
        # File offsets: of the next block read, and of carry (None: unknown, yield bytes).
        pos: int | None = None
        if spans and self.path != "-" and type(stream) is io.BufferedReader:
            pos = stream.tell()
        cstart: int | None = None
        if pos is not None and carry and os.pread(stream.fileno(), len(carry), pos - len(carry)) == carry:
            cstart = pos - len(carry)  # (not so when a byte order mark was taken off the first line)
        while True:
            try:
                block = stream.read(size)
            except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
                _gzip_trouble(exc, True, self.warn, self.name)  # the header line was read
                block = b""
            except OSError as exc:
                raise PresenceError(f"{self.name}: read error: {exc.strerror or exc}") from None
            bstart = pos
            if pos is not None:
                pos += len(block)
            if skipped:
                end = block.find(b"\n")
                if block and end < 0:
                    skipped += len(block)
                    continue
                skipped += end + 1 if block else 0
                yield OverlongLine(head, skipped, limit)  # a block of its own
                head, skipped = b"", 0
                block = block[end + 1 :]
                if bstart is not None:
                    bstart += end + 1
                if not block:
                    continue
            if not block:
                if carry:
                    yield FileSpan(cstart, len(carry)) if cstart is not None else carry
                return
            dstart = (cstart if carry else bstart) if pos is not None else None
            data = carry + block
            cut = _last_document_start(data)
            if cut < 0:
                cut = data.rfind(b"\n")
            if cut < 0:
                if len(data) > limit:  # one line, and no end in sight: skip the rest of it
                    head, skipped, carry = data[:_HEAD], len(data), b""
                else:
                    carry, cstart = data, dstart
                continue
            yield FileSpan(dstart, cut + 1) if dstart is not None else data[: cut + 1]
            carry = data[cut + 1 :]
            cstart = dstart + cut + 1 if dstart is not None else None

    def _bad(self, line: bytes) -> Frame:
        self.bad_records += 1
        return Frame(line.rstrip(b"\r\n"))

    def close(self) -> None:
        """Close the file (never stdin)."""
        if self.path != "-":
            self.stream.close()


def write_error(path: str, exc: OSError) -> PresenceError:
    """The one error line for an output file that cannot be written (a full disk, ``-o /dev/full``)."""
    return PresenceError(f"{path}: write error: {exc.strerror or exc}")


class FileSpan(NamedTuple):
    """A block of a file by place: ``length`` bytes at ``offset`` (see ``CaptureReader.chunks``)."""

    offset: int
    length: int


def read_span(fd: int, span: FileSpan) -> bytes:
    """The bytes of ``span`` in the open file ``fd`` (``pread``: no file position is used or moved)."""
    data = os.pread(fd, span.length, span.offset)
    if len(data) == span.length or not data:
        return data
    parts = [data]
    got = len(data)
    while got < span.length:
        more = os.pread(fd, span.length - got, span.offset + got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def _last_document_start(data: bytes) -> int:
    """The last newline followed by ``{`` or ``[`` in ``data``; -1 if none.

    ``max(data.rfind(b"\\n{"), data.rfind(b"\\n["))``, without scanning a whole
    block backwards for a ``[`` that NDJSON lines never start with: step back
    from newline to newline (a few steps for NDJSON), and fall back to the
    full search after a few dozen lines that start otherwise.
    """
    cut = data.rfind(b"\n")
    for _ in range(64):
        if cut < 0:
            return -1
        if data[cut + 1 : cut + 2] in (b"{", b"["):
            return cut
        cut = data.rfind(b"\n", 0, cut)
    return max(data.rfind(b"\n{", 0, cut + 2), data.rfind(b"\n[", 0, cut + 2))


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return a.st_dev == b.st_dev and a.st_ino == b.st_ino


def _input_stat(path: str) -> os.stat_result | None:
    try:
        return os.fstat(0) if path == "-" else os.stat(path)
    except (OSError, ValueError):
        return None


def check_output(path: str, *, force: bool = False, inputs: Iterable[str] = ()) -> bool:
    """Refuse an output path that would destroy data (SPEC §5.1).

    Args:
        path: the output file.
        force: the user said ``--force``: an existing file may be replaced.
        inputs: the command's input paths (``-`` is stdin); the output may be none of them.

    Returns:
        True when ``path`` is an existing regular file that will be replaced.

    Raises:
        UsageError: (exit 2) ``path`` is one of ``inputs`` (same file, by inode,
            whatever the spelling), or exists and ``force`` is False.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise PresenceError(f"{path}: cannot write: {exc.strerror or exc}") from None
    import stat

    for name in inputs:
        other = _input_stat(name)
        if other is not None and _same_file(st, other) and stat.S_ISREG(st.st_mode):
            shown = "stdin" if name == "-" else name
            raise UsageError(f"{path} is also an input ({shown}): write the output to another file")
    if stat.S_ISDIR(st.st_mode):
        raise UsageError(f"{path}: is a directory")
    if not stat.S_ISREG(st.st_mode):
        return False  # a device or a FIFO (/dev/null, a named pipe): written in place
    if not force:
        raise UsageError(f"{path} already exists: add --force to replace it (it is kept until the new output has data)")
    return True


class OutputFile:
    """An output file that never destroys data it did not write (SPEC §5.1).

    The one piece every command that writes a file uses (``record -o``,
    ``tail --record``, the capture tools). A new path is created exclusively;
    an existing file (``force=True``) is left alone while the new content
    goes to a temporary file beside it, renamed over the old one by
    :meth:`commit`. Nothing is put in place until the caller says so.

    Args:
        path: where the output goes.
        force: replace an existing file (else :class:`UsageError`, exit 2).
        inputs: the command's inputs; writing over one of them is refused.

    Raises:
        UsageError: see :func:`check_output`.
        PresenceError: the file cannot be created (exit 1).

    Use :attr:`file` to write. Call :meth:`commit` as soon as the output holds
    something worth more than the old file (``record``: the first frame),
    then :meth:`close`; ``close(keep=False)`` before a commit removes what was
    written and leaves any old file untouched. As a context manager it
    commits on a normal exit and discards on an exception::

        with OutputFile("cut.capture.ndjson", force=force, inputs=[src]) as out:
            out.file.write(data)
    """

    def __init__(self, path: str, *, force: bool = False, inputs: Iterable[str] = ()) -> None:
        self.path = path
        self.replaces = check_output(path, force=force, inputs=inputs)
        self.committed = False
        self._temp: str | None = None
        self._created = False
        # Ctrl-C/SIGTERM wait until the new file is made AND known to
        # discard_unfinished(): else one landing right after the create would
        # leave a stray file that nobody removes.
        held = signal.pthread_sigmask(signal.SIG_BLOCK, _ENDING_SIGNALS)
        try:
            if self.replaces:
                import tempfile

                target = os.path.realpath(path)  # write through a symlink, keep the link
                folder, name = os.path.split(target)
                fd, self._temp = tempfile.mkstemp(prefix=f".{name}.", suffix=".partial", dir=folder or ".")
                os.fchmod(fd, _file_mode())
                self._target = target
            else:
                self._target = path
                try:
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
                    self._created = True
                except FileExistsError:
                    fd = os.open(path, os.O_WRONLY)  # a device or FIFO (check_output allowed it)
            self.file: BinaryIO = open(fd, "wb")  # noqa: SIM115
            _UNFINISHED.add(self)
        except OSError as exc:
            raise PresenceError(f"{path}: cannot write: {exc.strerror or exc}") from None
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)

    def commit(self) -> None:
        """Put the new file in place (replacing the old one); safe to call again."""
        if self.committed:
            return
        self.committed = True
        if self._temp is not None:
            if not self.file.closed:
                self.file.flush()
            try:
                os.replace(self._temp, self._target)
            except OSError as exc:
                raise PresenceError(f"{self.path}: cannot replace: {exc.strerror or exc}") from None
            self._temp = None

    def close(self, keep: bool = True) -> None:
        """Close the file: commit it (``keep``) or, if not committed yet, remove it."""
        _UNFINISHED.discard(self)
        try:
            if not self.file.closed:
                self.file.close()
        finally:
            if keep:
                self.commit()
            elif not self.committed:
                doomed = self._temp if self._temp is not None else (self.path if self._created else None)
                if doomed is not None:
                    try:
                        os.remove(doomed)
                    except OSError:
                        pass
                self._temp = None
                self._created = False

    def __enter__(self) -> OutputFile:
        return self

    def __exit__(self, kind: object, value: object, tb: object) -> None:
        self.close(keep=kind is None)


_ENDING_SIGNALS = {signal.SIGINT, signal.SIGTERM}
#: Outputs made and not closed yet (see :func:`discard_unfinished`).
_UNFINISHED: set[OutputFile] = set()


def discard_unfinished() -> None:
    """Remove every output a command made and never finished (``close(keep=False)``).

    A command that ends by an exception (Ctrl-C, SIGTERM, an error) may not
    have reached its own clean-up, e.g. a signal between creating its output
    and the ``try`` that would discard it; ``cli.app.guarded`` calls this on
    the way out. An old file an output would have replaced stays untouched.
    """
    for output in list(_UNFINISHED):
        try:
            output.close(keep=False)
        except OSError:
            pass


def _file_mode() -> int:
    # mkstemp makes 0600 files; a capture gets the mode open() would give it.
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


class CaptureWriter:
    """Writes a capture: the header, then one line per frame or marker.

    Args:
        path: the capture file; ``.gz`` compresses.
        header: the first line.
        force, inputs: see :class:`OutputFile`: an existing file is refused
            unless ``force``, and then replaced only once the first frame is
            recorded; an input is never overwritten.
        flush_every: seconds a written line may wait in buffers (0: flush every
            line). Whoever is about to wait for input calls :meth:`flush`.
        clock: monotonic seconds (injectable).

    Flushing a ``.gz`` capture is a gzip sync flush, so a killed recorder
    leaves a file whose every flushed line can be read back.
    """

    def __init__(
        self,
        path: str,
        header: Header,
        *,
        force: bool = False,
        inputs: Iterable[str] = (),
        flush_every: float = 0.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        import time

        self.path = path
        self.output = OutputFile(path, force=force, inputs=inputs)
        self._file: IO[bytes] = self.output.file
        self._gz: gzip.GzipFile | None = None
        if path.endswith(".gz"):
            self._gz = gzip.GzipFile(fileobj=self._file, mode="wb", mtime=0)
        self._sink = self._gz if self._gz is not None else self._file
        self.frames = 0
        self.markers = 0
        self.flush_every = flush_every
        self._clock = clock or time.monotonic
        self._flushed_at = self._clock()
        self._dirty = False
        self._write(encode_header(header))

    def _write(self, data: bytes) -> None:
        try:
            self._sink.write(data)
        except OSError as exc:
            raise write_error(self.path, exc) from None
        self._dirty = True
        if not self.flush_every or self._clock() - self._flushed_at >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        """Put everything written so far on disk (readable if we die now)."""
        if self._dirty:
            self._dirty = False
            try:
                if self._gz is not None:
                    self._gz.flush()  # Z_SYNC_FLUSH: readable up to here even if we die
                self._file.flush()
            except OSError as exc:
                raise write_error(self.path, exc) from None
        self._flushed_at = self._clock()

    def frame(self, frame: Frame) -> None:
        """Record one frame; the first one puts the capture in place (see ``force``)."""
        self._write(encode_frame(frame))
        self.frames += 1
        if not self.output.committed:
            self.flush()
            self.output.commit()

    def marker(self, marker: Marker) -> None:
        """Record a connection marker."""
        self._write(encode_marker(marker))
        self.markers += 1

    @property
    def kept(self) -> bool:
        """Whether the capture file is in place (a frame was recorded, or it was closed with keep)."""
        return self.output.committed

    def close(self, keep_empty: bool = True) -> None:
        """Finish the file (gzip trailer included) and close it.

        A capture with no frame is kept only if ``keep_empty`` and it replaces
        no older file; otherwise it is removed and any old file stays.
        """
        keep = self.frames > 0 or (keep_empty and not self.output.replaces)
        try:
            try:
                if self._gz is not None:
                    gz, self._gz = self._gz, None
                    gz.close()  # writes the trailer; the underlying file stays open
                if not self._file.closed:
                    self._file.flush()
            finally:
                self.output.close(keep=keep)
        except OSError as exc:
            raise write_error(self.path, exc) from None
