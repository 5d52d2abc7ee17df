"""Forked worker processes that turn a file's blocks into results, in file order.

``cat`` and ``stats`` hand big files to :func:`run_blocks`. It replaces
``multiprocessing.Pool``, which cost the parent a sixth of all CPU time:
every rendered block (twice the size of the input for ``-f json``) was
pickled, copied through a pipe, read by a result thread, unpickled and
copied again, and three helper threads woke each other per block. A worker
that died made the pool wait for ever.

Here each worker is forked once (and again after :data:`WORKER_BLOCKS`
blocks, so nothing it accumulates grows with the file) and gets block
``i`` when ``i % workers`` is its place. Bulk data never goes through a
pipe: a block to decode and a result are written to one of two
memory-backed files (``memfd``) per direction, used in turn; the pipes
carry only fixed-size notes of a few bytes, so neither side can block the
other on a full pipe. At most two blocks per worker are in flight, so a
slot is reused only after the other side is done with it, and memory stays
flat. The parent reads results in block order: output order is the file's.

A worker ignores Ctrl-C and dies of SIGTERM: the parent's to handle (it
ends its workers on the way out). A worker that dies anyway is reported,
never waited for.
"""

from __future__ import annotations

import os
import pickle
import signal
import struct
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from presencectl.errors import PresenceError
from presencectl.transports.files import FileSpan, read_span

__all__ = ["run_blocks", "WORKER_BLOCKS"]

T = TypeVar("T")

#: Blocks a worker process handles before a fresh one takes its place.
WORKER_BLOCKS = 64

#: Parent → worker: (slot, size of the pickled block in the slot).
_TASK = struct.Struct("=BQ")
#: Worker → parent: (failed, size of the pickled result, size of the data after it).
_DONE = struct.Struct("=BQQ")

#: Held while a worker is forked and registered, so a Ctrl-C cannot leave one unknown.
_ENDING = {signal.SIGINT, signal.SIGTERM}

#: A slot file this much bigger than what it holds now is cut down (one huge block must not keep its memory).
_SHRINK_ABOVE = 16 << 20


class WorkerDied(PresenceError):
    """A worker process ended before handing back its block."""


class _Slots:
    """Two memory-backed files, used in turn: one holds a message while the other is read."""

    __slots__ = ("fds", "sizes")

    def __init__(self, name: str) -> None:
        self.fds = (os.memfd_create(name, os.MFD_CLOEXEC), os.memfd_create(name, os.MFD_CLOEXEC))
        self.sizes = [0, 0]

    def put(self, slot: int, parts: Iterable[bytes]) -> int:
        fd = self.fds[slot]
        parts = [part for part in parts if part]
        total = sum(len(part) for part in parts)
        if self.sizes[slot] > _SHRINK_ABOVE and self.sizes[slot] > 2 * total:
            os.ftruncate(fd, total)
            self.sizes[slot] = total
        else:
            self.sizes[slot] = max(self.sizes[slot], total)
        if total:
            written = os.pwritev(fd, parts, 0)
            while written < total:  # (a memfd write is not cut short; kept for a signal's sake)
                rest = b"".join(parts)[written:]
                written += os.pwrite(fd, rest, written)
        return total

    def get(self, slot: int, size: int, offset: int = 0) -> bytes:
        data = read_span(self.fds[slot], FileSpan(offset, size))
        if len(data) < size:
            raise WorkerDied("a worker process handed back less than it said")
        return data

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)


def _read_exact(fd: int, size: int) -> bytes:
    """``size`` bytes from a pipe, or b"" at its end."""
    data = os.read(fd, size)
    while data and len(data) < size:
        more = os.read(fd, size - len(data))
        if not more:
            return b""
        data += more
    return data


class _Worker:
    """One forked worker: its pid, the parent's ends of its two pipes, its slots."""

    __slots__ = ("pid", "tasks", "results", "inbox", "outbox", "sent", "taken", "closed")

    def __init__(self, serve: Callable[[_Worker], None], others: Iterable[_Worker]) -> None:
        self.inbox = _Slots("presencectl-block")
        self.outbox = _Slots("presencectl-result")
        task_r, self.tasks = os.pipe()
        self.results, result_w = os.pipe()
        self.sent = self.taken = 0
        self.closed = False
        pid = os.fork()
        if pid == 0:  # the worker: never returns, never runs the parent's clean-ups
            status = 1
            try:
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.set_wakeup_fd(-1)
                signal.pthread_sigmask(signal.SIG_UNBLOCK, _ENDING)  # (held while the parent forked)
                os.close(self.tasks)
                os.close(self.results)
                for other in others:  # its copy of another worker's task pipe would keep that one waiting
                    other.release()
                self.tasks, self.results = task_r, result_w
                serve(self)
                status = 0
            finally:
                os._exit(status)
        self.pid = pid
        os.close(task_r)
        os.close(result_w)

    def close_pipes(self) -> None:
        """The parent's ends of the pipes (the slots stay readable)."""
        self.finish()
        if self.results >= 0:
            os.close(self.results)
            self.results = -1

    def finish(self) -> None:
        """Send no more blocks: the worker ends when it has handed back the last one."""
        if not self.closed:
            self.closed = True
            os.close(self.tasks)

    def send(self, block: Any) -> None:
        slot = self.sent & 1
        size = self.inbox.put(slot, [pickle.dumps(block, pickle.HIGHEST_PROTOCOL)])
        try:
            os.write(self.tasks, _TASK.pack(slot, size))
        except BrokenPipeError:
            # It died. Not raised here (and never as the output's closed pipe, which
            # ends quietly): take() says so at this block's turn, after the blocks
            # before it are handed over, as an exception in a worker would be.
            pass
        self.sent += 1

    def take(self) -> tuple[Any, bytes]:
        """The next result in order: (what ``work`` returned, its data)."""
        slot = self.taken & 1
        note = _read_exact(self.results, _DONE.size)
        if not note:
            raise self.died()
        failed, head, size = _DONE.unpack(note)
        value = pickle.loads(self.outbox.get(slot, head))
        self.taken += 1
        if failed:
            raise value
        data = self.outbox.get(slot, size, head) if size else b""
        return value, data

    def died(self) -> WorkerDied:
        return WorkerDied(f"a worker process ended ({self.reap()}) before it handed back its block; "
                          "PRESENCECTL_JOBS=1 reads in one process")

    def reap(self, kill: bool = False) -> str:
        """Wait for the process to end (SIGTERM it first with ``kill``); how it ended."""
        if self.pid <= 0:
            return "already reaped"
        if kill:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        _, status = os.waitpid(self.pid, 0)
        self.pid = 0
        if os.WIFSIGNALED(status):
            return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
        return f"exit status {os.waitstatus_to_exitcode(status)}"

    def release(self) -> None:
        self.close_pipes()
        self.inbox.close()
        self.outbox.close()


def _serve(me: _Worker, work: Callable[[Any], tuple[T, bytes]]) -> None:
    """A worker's loop: block in, (result, data) out, until the parent sends no more."""
    while True:
        note = _read_exact(me.tasks, _TASK.size)
        if not note:
            return
        slot, size = _TASK.unpack(note)
        try:
            value, data = work(pickle.loads(me.inbox.get(slot, size)))
            failed = 0
        except Exception as exc:  # noqa: BLE001 - the parent raises it
            value, data, failed = exc, b"", 1
        try:
            head = pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - an exception that does not pickle
            head = pickle.dumps(RuntimeError(f"in a worker process: {type(value).__name__}: {value} ({exc})"))
            data, failed = b"", 1
        me.outbox.put(slot, (head, data))
        os.write(me.results, _DONE.pack(failed, len(head), len(data)))


def run_blocks(
    blocks: Iterable[Any],
    workers: int,
    work: Callable[[Any], tuple[T, bytes]],
    collect: Callable[[T, bytes], None],
) -> None:
    """Run ``work(block)`` for every block in ``workers`` forked processes; ``collect`` here, in order.

    ``work`` returns ``(value, data)``: anything picklable, and bytes (rendered
    output, or b"") that travel without pickling. ``collect(value, data)``
    runs in this process, block after block in the order of ``blocks``. An
    exception in ``work`` is raised here; a worker that dies raises
    :class:`WorkerDied`. On any way out, the workers still running are
    ended (SIGTERM) and waited for.
    """
    _reuse_large_buffers()
    places: list[_Worker | None] = [None] * workers
    every: list[_Worker] = []  # started and not yet released
    pending: deque[_Worker] = deque()

    def serve(me: _Worker) -> None:
        _serve(me, work)

    def take() -> None:
        worker = pending.popleft()
        value, data = worker.take()
        if worker.closed and worker.taken == worker.sent:  # retired, and all handed back
            worker.reap()
            worker.release()
            every.remove(worker)
        collect(value, data)

    failed = True
    try:
        for index, block in enumerate(blocks):
            place = index % workers
            worker = places[place]
            if worker is None or worker.closed:
                held = signal.pthread_sigmask(signal.SIG_BLOCK, _ENDING)
                try:
                    worker = places[place] = _Worker(serve, every)
                    every.append(worker)
                finally:
                    signal.pthread_sigmask(signal.SIG_SETMASK, held)
            worker.send(block)
            if worker.sent == WORKER_BLOCKS:
                worker.finish()
            pending.append(worker)
            if len(pending) >= 2 * workers:
                take()
        while pending:
            take()
        failed = False
    finally:
        for worker in every:
            worker.close_pipes()  # (a worker that is done reads the end of its tasks and exits)
        for worker in every:
            if worker.pid > 0:
                worker.reap(kill=failed)
            worker.release()


def _reuse_large_buffers() -> None:
    """Keep megabyte buffers on the heap (glibc), here and in the forked workers.

    Every block travels as a few 1-2 MB bytes objects (read, rendered, joined).
    glibc serves each from a fresh mmap and unmaps it when freed, so every
    page is faulted in again: 10x the page faults of one process, a third
    more CPU time. Raising the mmap threshold lets freed blocks be reused.
    Best effort: other C libraries keep their defaults.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    mallopt(m_mmap_threshold, 64 << 20)
    mallopt(m_trim_threshold, 128 << 20)
