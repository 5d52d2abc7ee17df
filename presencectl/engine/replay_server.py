"""``replay --serve``: the built-in WebSocket (or Socket.IO) test server that replays a capture.

Built on the replay driver in :mod:`presencectl.engine.replay` (its clock, source,
progress bar and summary). Usable on its own (``presencectl demo`` uses it)::

    server = serve_capture("fixtures/mixed.capture.ndjson.gz", port=0, loops=0)
    print(server.url)            # ws://127.0.0.1:41234/
    ...
    server.stop()
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from presencectl.core.decode import Decoder
from presencectl.core.events import Frame, Marker
from presencectl.core.player import Player, TimingStats
from presencectl.core.replay import ReplayOptions, Schedule, Scheduled
from presencectl.engine.replay import (
    Interrupted,
    Progress,
    RealClock,
    Replay,
    ReplaySource,
    Summary,
    limit_frames,
    plural,
)
from presencectl.engine.signals import Terminated
from presencectl.transports.ws_server import GOING_AWAY, NORMAL, ServedClient, WebSocketServer
from presencectl.ui.console import Environment

__all__ = ["ReplayServer", "serve_capture", "run_server"]


class _ClientGone(Exception):
    pass


class _Session:
    """One client's timeline (per-client mode), kept across a replayed disconnect."""

    __slots__ = ("player", "clock", "sent", "offset", "detaching", "schedule")

    def __init__(self, schedule: Schedule, items: Iterator[Scheduled]) -> None:
        self.schedule = schedule
        self.clock = RealClock()
        self.player = Player(items, self.clock)
        self.sent = 0
        self.offset = 0.0
        self.detaching = False


class ReplayServer:
    """The built-in WebSocket test server: replays a capture to the clients that connect.

    Per-client mode (the default): every client gets the replay from the
    start, on its own clock, and is closed (code 1000) when it ends. With
    ``shared``: one timeline, broadcast to whoever is connected, starting at
    :meth:`start` (or at the first client with ``wait_for_client``); the
    server is :attr:`finished` when it ends.

    With ``replay_disconnects``, a ``disconnected`` marker closes the client
    (code 1001, "replayed disconnect"). Its timeline waits: the next client
    that connects takes it over where it stopped (per-client mode), or the
    shared timeline pauses until some client is connected again. The clock
    kept running meanwhile, so the frames that fell due go out at once on
    reconnect; nothing is lost and nothing is replayed twice.

    Args:
        replay: what to play (:class:`Replay`).
        host, port, path: where to listen (port 0: any free port, see :attr:`port`).
        limit: at most this many frames per timeline.

    Call :meth:`start`, read :attr:`url`, and :meth:`stop` when done.
    """

    def __init__(
        self,
        replay: Replay,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        path: str | None = None,
        shared: bool = False,
        wait_for_client: bool = False,
        replay_disconnects: bool = False,
        limit: int | None = None,
        server_factory: Callable[..., Any] | None = None,
    ) -> None:
        self.replay = replay
        self.shared = shared
        self.wait_for_client = wait_for_client
        self.replay_disconnects = replay_disconnects
        self.limit = limit
        make = server_factory or WebSocketServer
        self.server = make(self._shared_client if shared else self._client, host, port, path)
        self.finished = threading.Event()
        #: Timing errors of the timelines that ended (all of them after :meth:`stop`).
        self.stats = TimingStats()
        #: Timelines running or waiting for a reconnect.
        self.sessions: list[_Session] = []
        #: The first timeline's schedule (its counts of filtered, out-of-window,
        #: out-of-order records are the same for every pass).
        self.first_schedule: Schedule | None = None
        self.deliveries = 0
        self._retired_frames = 0
        self._lock = threading.Lock()
        self._detached: deque[_Session] = deque()
        self._stopping = threading.Event()
        self._joined = threading.Event()
        self._thread: threading.Thread | None = None
        self._shared: _Session | None = None
        self.started_at: float | None = None

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def clients(self) -> int:
        """Clients connected now."""
        return len(self.server.clients)

    @property
    def clients_served(self) -> int:
        """Clients accepted so far."""
        return self.server.accepted

    @property
    def frames(self) -> int:
        """Frames sent so far (per-client mode: over all clients)."""
        with self._lock:
            return self._retired_frames + sum(s.sent for s in self.sessions)

    @property
    def offset(self) -> float:
        """Virtual time of the newest timeline."""
        with self._lock:
            return self.sessions[-1].offset if self.sessions else 0.0

    def start(self) -> ReplayServer:
        """Bind and start serving.

        Raises:
            TransportError: the address is in use or cannot be bound.
        """
        self.server.start()
        self.started_at = time.monotonic()
        if self.shared:
            self._thread = threading.Thread(target=self._run_shared, name="replay-shared", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop: close every client (1001), end every timeline, wait for the threads."""
        self._stopping.set()
        self._joined.set()
        if self._shared is not None:
            self._shared.clock.interrupt.set()  # type: ignore[union-attr]
        self.server.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for session in list(self.sessions):
            self._retire(session)

    def __enter__(self) -> ReplayServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the shared timeline ends (never, in per-client mode); True if it did."""
        return self.finished.wait(timeout)

    def _new_session(self) -> _Session:
        schedule = self.replay.schedule()
        session = _Session(schedule, limit_frames(iter(schedule), self.limit))
        with self._lock:
            self.sessions.append(session)
            if self.first_schedule is None:
                self.first_schedule = schedule
        return session

    def _retire(self, session: _Session) -> None:
        """A timeline ended: keep its figures, let go of it."""
        with self._lock:
            if session not in self.sessions:
                return
            self.sessions.remove(session)
            self._retired_frames += session.sent
            self.stats.merge(session.player.stats)

    # per-client mode

    def _client(self, client: ServedClient) -> None:
        session = None
        if self.replay_disconnects:
            with self._lock:
                if self._detached:
                    session = self._detached.popleft()
        if session is None:
            session = self._new_session()
        session.clock.interrupt = client.closed
        send = _frame_sender(client)
        disconnects = self.replay_disconnects

        def deliver(item: Scheduled) -> None:
            record = item.record
            session.offset = item.offset
            if type(record) is not Marker:
                if not send(record):
                    raise _ClientGone
                session.sent += 1
            elif disconnects and record.mark == "disconnected":  # type: ignore[union-attr]
                session.detaching = True
                session.player.pause()

        try:
            finished = session.player.run(deliver)
        except (_ClientGone, Interrupted):
            self._retire(session)
            return
        if finished:
            self._retire(session)
            client.close(NORMAL, "replay finished")
        elif session.detaching:
            # Hand the timeline over before the close: the client may be back
            # before close() returns.
            session.detaching = False
            with self._lock:
                self._detached.append(session)
            client.close(GOING_AWAY, "replayed disconnect")

    # shared mode

    def _shared_client(self, client: ServedClient) -> None:
        self._joined.set()
        while not client.closed.wait(0.5):
            if self._stopping.is_set():
                return

    def _run_shared(self) -> None:
        session = self._new_session()
        interrupt = threading.Event()
        session.clock.interrupt = interrupt
        self._shared = session
        server = self.server

        def deliver(item: Scheduled) -> None:
            record = item.record
            session.offset = item.offset
            if type(record) is not Marker:
                session.sent += 1
                for client in server.clients:
                    if _frame_sender(client)(record):
                        self.deliveries += 1
            elif self.replay_disconnects and record.mark == "disconnected":  # type: ignore[union-attr]
                session.player.pause()

        try:
            if self.wait_for_client:
                self._joined.wait()
            while not self._stopping.is_set():
                if session.player.run(deliver):
                    break
                # A replayed disconnect: close everyone, wait for a client to come back.
                self._joined.clear()
                for client in server.clients:
                    client.close(GOING_AWAY, "replayed disconnect")
                self._joined.wait()
        except Interrupted:
            pass
        finally:
            if not self._stopping.is_set():
                for client in server.clients:
                    client.close(NORMAL, "replay finished")
            self.finished.set()


def _frame_sender(client: Any) -> Callable[[Frame], bool]:
    """``client.send_frame`` (Socket.IO: the frame's topic is the event name), else ``client.send(frame.data)``."""
    send_frame = getattr(client, "send_frame", None)
    if send_frame is not None:
        return send_frame
    send = client.send
    return lambda frame: send(frame.data)


def serve_capture(
    path: str,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    speed: float | None = 1.0,
    loops: int = 0,
    max_gap: float | None = None,
    shared: bool = False,
    warn: Callable[[str], None] | None = None,
) -> ReplayServer:
    """Start a :class:`ReplayServer` for a capture file with plain defaults (``demo``).

    Returns the started server; read :attr:`ReplayServer.url`, call
    :meth:`ReplayServer.stop` when done.

    Raises:
        InputNotFound: no such file.
        TransportError: the port is in use.
    """
    from presencectl.core.times import TimeParser

    warn = warn or (lambda message: None)
    source = ReplaySource(path, warn, passes=None)
    options = ReplayOptions(speed=speed, max_gap=max_gap, loops=loops)
    replay = Replay(source, options, Decoder(TimeParser()), None, source.warn)
    return ReplayServer(replay, host=host, port=port, shared=shared).start()


def run_server(env: Environment, server: ReplayServer, *, progress: bool) -> None:
    """``--serve``: start, announce the URL on stderr, serve until done or Ctrl-C, summarise."""
    replay = server.replay
    server.start()
    view = None
    interrupted: BaseException | None = None
    try:  # (from the announcement on: a signal at any point still gets the summary)
        mode = "one shared timeline" if server.shared else "each client from the start"
        where = getattr(server.server, "description", server.url)
        env.note(f"serving {replay.source.name} on {where} ({mode}; Ctrl-C to stop)")
        if progress:
            view = Progress(env, f"serving {server.url}", replay.options.speed, None)
            view.clients = lambda: server.clients
            view.start()
        while not server.wait(0.1):
            if view is not None:
                view.sent = server.frames
                view.offset = server.offset
    except (KeyboardInterrupt, Terminated) as exc:  # (SIGTERM: cli.app.guarded)
        interrupted = exc
    finally:
        if view is not None:
            view.stop()
        server.stop()
        summary = Summary(
            frames=server.frames,
            elapsed=time.monotonic() - (server.started_at or time.monotonic()),
            timing=server.stats,
            interrupted=interrupted is not None,
        )
        first = server.first_schedule
        if first is not None:
            summary.filtered = first.filtered
            summary.outside = first.outside
            summary.backwards = first.backwards
            if server.shared:
                summary.loops = first.loops_done
        where = plural(server.clients_served, "client")
        if server.shared:
            where += f" ({server.deliveries:,} deliveries)"
        env.note(summary.line(where, replay.options.speed, "served"))
    if interrupted is not None:
        raise interrupted
