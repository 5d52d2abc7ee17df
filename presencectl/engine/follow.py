"""``tail FILE --follow``: a file read as it grows, across rotation and truncation.

:class:`Follower` reads a file to its end, then polls it (stdlib only: every
0.1 s while nothing new arrived) and yields each complete line as it is
appended. Like ``tail -F`` it follows the *name*: when the path names a
different file than the one open (log rotation: renamed away and
re-created) it reads what is left in the old file, then opens the new one
and reads it from its start; when the open file shrinks (truncated in
place, ``: > app.log``) it reads again from offset 0. A line still being
written (no newline yet) waits for its newline.

:class:`FollowReader` is a :class:`~presencectl.transports.files.CaptureReader`
over those lines, so :func:`presencectl.engine.runner.feed_lines` treats a followed
capture or NDJSON file exactly as it treats a whole one::

    reader = FollowReader("app.log", env.warn, env.note, idle=30)
    feed_lines(reader, reader.lines(), pipeline, received=time.time)
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from presencectl.core.capture import parse_header
from presencectl.core.decode import loads
from presencectl.errors import InputNotFound, UsageError
from presencectl.transports.files import CaptureReader, cannot_open

if TYPE_CHECKING:
    from presencectl.engine.runner import Pipeline

__all__ = ["Follower", "FollowReader", "follow_file", "POLL_INTERVAL"]

#: Seconds between two looks at an idle file.
POLL_INTERVAL = 0.1
_BLOCK = 1 << 20


class Follower:
    """The lines of a file as they are appended, by name, like ``tail -F``.

    Args:
        path: the file to follow (it must exist when following starts).
        note: where to say "rotated" and "truncated" (a stderr diagnostic).
        idle: stop after this many seconds without a new line (None: never).
        interval: seconds between two looks at an idle file.
        clock, sleep: injected for tests.

    After :meth:`lines` ends, :attr:`idle_ended` says whether ``idle`` ended it.
    :attr:`on_new_file` (if set) is called when a rotated or truncated file
    starts again from its beginning, before its first line is yielded.

    Raises:
        InputNotFound: the file does not exist or cannot be read.
        UsageError: the file is gzip-compressed (it cannot be followed).
    """

    def __init__(
        self,
        path: str,
        note: Callable[[str], None],
        *,
        idle: float | None = None,
        interval: float = POLL_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.path = path
        self.note = note
        self.idle = idle
        self.interval = interval
        self.clock = clock
        self.sleep = sleep
        self.idle_ended = False
        self.on_new_file: Callable[[], None] | None = None
        self._buf = b""
        self._fd, self._ident = self._open()

    def _open(self) -> tuple[int, tuple[int, int]]:
        try:
            if not stat.S_ISREG(os.stat(self.path).st_mode) and not os.path.isdir(self.path):
                # A fifo would block the open; a device never ends: nothing to follow by name.
                raise UsageError(f"--follow reads a regular file; {self.path} is not one")
            fd = os.open(self.path, os.O_RDONLY)
        except OSError as exc:
            raise cannot_open(self.path, exc) from None
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            os.close(fd)
            raise InputNotFound(f"{self.path}: is a directory")
        if os.pread(fd, 2, 0) == b"\x1f\x8b":
            os.close(fd)
            raise UsageError(f"--follow reads a plain file as it grows; {self.path} is gzip-compressed")
        return fd, (st.st_dev, st.st_ino)

    def lines(self) -> Iterator[bytes]:
        """Complete lines (newline included), the file's content first, then as they come."""
        last_line = self.clock()
        try:
            while True:
                got = self._read()
                if got is not None:
                    if got:
                        yield from got
                        last_line = self.clock()
                    continue
                moved = self._switch()
                if moved is not None:
                    yield from moved
                    last_line = self.clock()
                    continue
                if self.idle is not None and self.clock() - last_line >= self.idle:
                    self.idle_ended = True
                    return
                self.sleep(self.interval)
        finally:
            self.close()

    def _read(self) -> list[bytes] | None:
        """The complete lines in the next block of the file (None: nothing more to read now)."""
        data = os.read(self._fd, _BLOCK)
        if not data:
            return None
        if self._buf:
            data = self._buf + data
        cut = data.rfind(b"\n") + 1
        self._buf = data[cut:]
        return data[:cut].splitlines(keepends=True) if cut else []

    def _rest(self) -> list[bytes]:
        """What is left in the open file, a last line without newline included:
        nothing received is lost when the file goes away."""
        lines: list[bytes] = []
        while True:
            got = self._read()
            if got is None:
                break
            lines += got
        if self._buf:
            lines.append(self._buf + b"\n")
            self._buf = b""
        return lines

    def _switch(self) -> list[bytes] | None:
        """After rotation or truncation: the old file's last lines (None: neither happened)."""
        try:
            st = os.stat(self.path)
        except OSError:
            return None  # renamed away and not re-created yet: keep reading the old one
        if (st.st_dev, st.st_ino) != self._ident:
            try:
                fd, ident = self._open()
            except (InputNotFound, UsageError):
                return None  # gone again, or not readable yet: look again later
            rest = self._rest()
            os.close(self._fd)
            self._fd, self._ident = fd, ident
            self.note(f"{self.path}: replaced (rotated); following the new file from its start")
        elif os.fstat(self._fd).st_size < os.lseek(self._fd, 0, os.SEEK_CUR):
            rest = [self._buf + b"\n"] if self._buf else []
            self._buf = b""
            os.lseek(self._fd, 0, os.SEEK_SET)
            self.note(f"{self.path}: truncated; reading it again from the start")
        else:
            return None
        if self.on_new_file is not None:
            self.on_new_file()
        return rest

    def close(self) -> None:
        """Close the file; safe to call twice."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class FollowReader(CaptureReader):
    """A :class:`CaptureReader` over a followed file (see :class:`Follower`).

    The first non-blank line says whether it is a capture or NDJSON (it may
    have to be waited for). A rotated capture starts with a header again:
    that header is skipped, not shown as a bad record.
    """

    def __init__(  # noqa: D107
        self,
        path: str,
        warn: Callable[[str], None],
        note: Callable[[str], None],
        *,
        idle: float | None = None,
        interval: float = POLL_INTERVAL,
    ) -> None:
        self.path = path
        self.name = path
        self.warn = warn
        self.bad_records = 0
        self.follower = Follower(path, note, idle=idle, interval=interval)
        self._lines = self.follower.lines()
        self.header = None
        self._first: bytes | None = None
        self._fresh = False
        self.follower.on_new_file = self._new_file

    def start(self) -> None:
        """Wait for the first line and decide capture or NDJSON.

        Raises:
            CaptureFormatError: a capture header of a version this program cannot read.
        """
        for line in self._lines:
            if not line.strip():
                continue
            self._fresh = False
            header = _header(line)
            if header is None:
                self._first = line
            self.header = header
            break

    def _new_file(self) -> None:
        self._fresh = True

    @property
    def size(self) -> int | None:
        return None  # still growing: never split among workers

    @property
    def idle_ended(self) -> bool:
        """True when ``--timeout`` (no new line for that long) ended the reading."""
        return self.follower.idle_ended

    def lines(self) -> Iterator[bytes]:
        if self._first is not None:
            first, self._first = self._first, None
            yield first
        for line in self._lines:
            if self._fresh and line.strip():
                self._fresh = False
                if self.header is not None and _header(line) is not None:
                    continue
            yield line

    def chunks(self, size: int = 1 << 20) -> Iterator[bytes]:
        raise NotImplementedError("a followed file is read line by line")

    def close(self) -> None:
        self._lines.close()
        self.follower.close()


def _header(line: bytes) -> object:
    try:
        obj = loads(line)
    except ValueError:
        return None
    return parse_header(obj)


def follow_file(reader: FollowReader, pipeline: Pipeline) -> str | None:
    """``tail FILE --follow``: feed the file through ``pipeline`` as it grows.

    Returns the line to say at the end (None when ``-n`` ended it). Ctrl-C
    (KeyboardInterrupt) and SIGTERM pass through to the caller, after the
    frames read so far went through the pipeline.
    """
    from presencectl.engine.runner import LimitReached, feed_lines

    try:
        reader.start()
        feed_lines(reader, reader.lines(), pipeline, received=time.time)
    except LimitReached:
        return None
    finally:
        reader.close()
    if reader.idle_ended:
        return f"{reader.path}: nothing new for {reader.follower.idle:g} s"
    return None
