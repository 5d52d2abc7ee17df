"""The live session driver: one loop for every network source.

:class:`Session` takes a :class:`~presencectl.transports.base.Source` (WebSocket,
webhook; MQTT and Socket.IO plug in the same way) and a
:class:`~presencectl.engine.runner.Pipeline`, and owns everything that is policy
rather than protocol:

- connecting, and reconnecting after a loss with exponential backoff and
  jitter (:class:`Backoff`, capped at 30 s), a notice on stderr each time and
  ``connected``/``disconnected``/``reconnecting`` markers in the capture;
  ``--no-reconnect`` turns a loss into exit status 1;
- ``--timeout``: stop (exit 0) after that long without a message (an idle
  timeout: only frames count, keep-alive frames do not; reconnecting does not);
- ``--deadline``: stop after that long in all (:attr:`Session.deadline_at`,
  which ``expect`` moves as its steps pass); exit 3 unless the session got
  what it waited for (:func:`~presencectl.engine.deadline.deadline_ending`);
- an event its dialect declares session-ending (Navixy ``logout``), or a
  server that says it finished (a WebSocket 1000 close whose reason says so,
  like ``replay --serve``'s "replay finished"), ends the session instead of
  reconnecting;
- the live counter on a terminal's stderr (``record``) and the summary line;
- telling the source when a frame is safely recorded (the webhook answers then);
- flushing rendered output whenever the source has nothing more buffered, so
  events show up at once yet a burst costs one write, not one per event.

The clock, sleep and random number source are injected, so the reconnect
policy is tested with a fake clock and a scripted source.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from presencectl.core.dialects import ends_session, session_enders
from presencectl.core.events import Event, Frame, Marker
from presencectl.engine.deadline import deadline_ending
from presencectl.engine.runner import LimitReached, Pipeline
from presencectl.engine.signals import Terminated
from presencectl.status import ExitStatus
from presencectl.transports.base import CannotConnect, ConnectionLost, Source
from presencectl.ui.console import Environment

__all__ = ["Backoff", "Session", "Ending", "Terminated"]

#: A connection that stayed up this long resets the backoff to its first step.
STABLE_AFTER = 30.0
#: With a SignalGate, the longest wait before looking for Ctrl-C/SIGTERM.
POLL = 0.1
#: At most this many already-buffered frames are taken in after a signal.
DRAIN_MAX = 100_000


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with jitter: ``base * factor**attempt``, capped, then
    scaled by a random factor in [1 - jitter, 1].

    >>> Backoff(jitter=0).delay(3, lambda: 0.5)
    4.0
    >>> Backoff().delay(20, lambda: 1.0)
    30.0
    """

    base: float = 0.5
    factor: float = 2.0
    cap: float = 30.0
    jitter: float = 0.5

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait before reconnect attempt number ``attempt`` (0 first)."""
        raw = self.cap if attempt >= 64 else min(self.cap, self.base * self.factor**attempt)
        return raw * (1.0 - self.jitter * rand())


@dataclass(frozen=True, slots=True)
class Ending:
    """Why a session ended without an error."""

    reason: str  # "timeout", "limit", "logout", "closed", "finished", "deadline"
    message: str
    status: ExitStatus = ExitStatus.OK


def problem_with(events: list[Event]) -> str | None:
    """Why a frame's payload could not be read: the reason when nothing in it parsed."""
    if not events or events[0].dialect is not None:
        return None
    for event in events:
        if event.dialect is not None:
            return None
    return events[0].summary


class Session:
    """Drives one source into one pipeline until it ends.

    Args:
        source: the transport.
        pipeline: records, decodes, filters and renders frames.
        env: where notices go (``note``/``warn``) and the terminal facts.
        reconnect: reconnect after a loss (else a loss raises ConnectionLost).
        idle_timeout: end after this many seconds without a message (None: never).
        deadline: end after this many seconds in all (None: never); see
            :attr:`deadline_at`.
        counter: draw a live counter on this stream (a terminal), or None.
        capture: the capture path, for the counter and summary.
        backoff, clock, wall, sleep, rand: policy and time, injectable for tests.

    Call :meth:`run` once; it returns an :class:`Ending` or raises
    ``CannotConnect``/``ConnectionLost`` (exit 1), ``KeyboardInterrupt`` or
    :class:`Terminated`. The source is closed on the way out; closing the
    pipeline (and the capture) is the caller's job.
    """

    def __init__(
        self,
        source: Source,
        pipeline: Pipeline,
        env: Environment,
        *,
        reconnect: bool = True,
        idle_timeout: float | None = None,
        deadline: float | None = None,
        counter: TextIO | None = None,
        capture: str | None = None,
        backoff: Backoff = Backoff(),  # noqa: B008 - frozen, shared safely
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.source = source
        self.pipeline = pipeline
        self.env = env
        self.reconnect = reconnect
        self.idle_timeout = idle_timeout
        self.counter = counter
        self.capture = capture
        self.backoff = backoff
        self.clock = clock
        self.wall = wall
        self.sleep = sleep
        self.rand = rand
        self.reconnects = 0
        self.state = "connecting"
        self._started = clock()
        self.deadline = deadline
        #: When the session ends on ``clock``'s time (None: never); a caller
        #: may move it while the session runs (``expect``: the current step's limit).
        self.deadline_at: float | None = None if deadline is None else self._started + deadline
        self._last_message = self._started
        self._connected_at = self._started
        self._attempt = 0
        self._next_draw = 0.0
        self._drawn = False
        self._stderr_lock = threading.RLock()

    # The loop.

    def run(self) -> Ending:
        """Connect, then receive until the session ends; see the class docstring."""
        try:
            self._connect_first()
            return self._loop()
        except LimitReached:
            return Ending("limit", f"{self.pipeline.limit} matching events shown (-n)")
        finally:
            try:
                self.source.close()
            finally:
                self._erase()

    def _connect_first(self) -> None:
        detail = self.source.connect()
        self._connected(detail, again=False)

    def _loop(self) -> Ending:
        source = self.source
        receive = source.receive
        pending = source.pending
        pipeline = self.pipeline
        take = pipeline.frame
        judged = self._judged if getattr(source, "confirms", True) else None
        take_ready = getattr(source, "take_ready", None)
        enders = session_enders()
        idle_flush = pipeline.idle
        gate = pipeline.gate
        clock = self.clock
        idle = self.idle_timeout
        drawing = self.counter is not None
        tick = 0.25 if drawing else None
        if gate is not None:
            # Signals are only noted while we wait for the network; we look
            # at them between short waits, so a frame the source already
            # holds is never dropped by a Ctrl-C raised inside receive().
            tick = POLL if tick is None else min(tick, POLL)
            gate.poll(True)
        while True:
            if gate is not None and gate.pending is not None:
                self._drain()
                gate.poll(False)  # raises KeyboardInterrupt / Terminated
            wait = None
            if idle is not None:
                wait = max(0.0, self._last_message + idle - clock())
            deadline_at = self.deadline_at
            if deadline_at is not None:
                left = max(0.0, deadline_at - clock())
                wait = left if wait is None else min(wait, left)
            if tick is not None:
                wait = tick if wait is None else min(wait, tick)
            try:
                frame = receive(wait)
            except ConnectionLost as lost:
                if gate is not None:
                    gate.poll(False)
                ending = self._lost(lost)
                if ending is not None:
                    return ending
                if gate is not None:
                    gate.poll(True)
                continue
            if frame is None:
                now = clock()
                if self.deadline_at is not None and now >= self.deadline_at:
                    return self._deadline_ending()
                if idle is not None and now - self._last_message >= idle:
                    return Ending("timeout", f"no message for {idle:g} s")
                self._draw(now)
                continue
            # With the frames the source already holds (one read's worth): the
            # loop's chores above run once per read, not once per frame. A
            # signal noted meanwhile waits for the end of the batch.
            batch = (frame, *take_ready()) if take_ready is not None else (frame,)
            last = batch[-1]
            for each in batch:
                events = take(each, None, judged)  # LimitReached at -n
                if each is last and not pending():
                    idle_flush()
                for event in events:
                    if not event.keepalive:
                        if idle is not None:
                            self._last_message = clock()
                        if event.type in enders:
                            ender = ends_session(event)  # declared by the dialect (Navixy logout)
                            if ender is not None:
                                return Ending("logout", f"the server ended the session ({ender.vendor} {event.type})")
                if self.deadline_at is not None and clock() >= self.deadline_at:
                    return self._deadline_ending()
            if drawing:
                self._draw(clock())

    def _deadline_ending(self) -> Ending:
        counts = self.pipeline.counts
        message, status = deadline_ending(self.deadline, self.pipeline.limit, counts.shown)
        return Ending("deadline", message, status)

    def _judged(self, frame: Frame, events: list[Event]) -> None:
        # Between recording+decoding and rendering: a webhook client gets its
        # answer as soon as the body is on disk and judged, not after the
        # events are drawn.
        self.source.done(frame, None if events and events[0].dialect is not None else problem_with(events))

    def _drain(self) -> None:
        """A signal arrived: put every frame the source already holds through the pipeline."""
        source = self.source
        for _ in range(DRAIN_MAX):
            if not source.pending():
                return
            try:
                frame = source.receive(0)
            except ConnectionLost:
                return
            if frame is None:
                return
            self.pipeline.frame(frame, None, self._judged if getattr(source, "confirms", True) else None)

    # Connection state.

    def _connected(self, detail: str, again: bool) -> None:
        now = self.clock()
        self._connected_at = now
        self.state = "listening" if not self.source.markers else "connected"
        if self.source.markers:
            self.pipeline.marker(Marker("connected", self.wall(), detail))
        endpoint = self.source.endpoint
        if again:
            self.reconnects += 1
            self._say(self.env.note, f"reconnected to {endpoint} ({detail})")
        elif self.source.markers:
            self._say(self.env.note, f"connected to {endpoint} ({detail})")
        else:
            self._say(self.env.note, f"{endpoint}: {detail}")

    def _lost(self, lost: ConnectionLost) -> Ending | None:
        """Handle a loss: reconnect (None), or end the session."""
        source = self.source
        now = self.clock()
        self.state = "disconnected"
        if source.markers:
            self.pipeline.marker(Marker("disconnected", self.wall(), lost.cause))
        if lost.finished:
            return Ending("finished", f"{source.endpoint}: {lost.cause}; the server is done: not reconnecting")
        if not self.reconnect:
            if lost.clean:
                return Ending("closed", f"{lost.cause}")
            raise lost
        attempt = 0 if now - self._connected_at >= STABLE_AFTER else self._attempt
        why = f"connection lost: {lost.cause}"
        while True:
            delay = self.backoff.delay(attempt, self.rand)
            idle = self.idle_timeout
            if idle is not None:
                left = self._last_message + idle - self.clock()
                if left <= delay:
                    self._say(self.env.warn, f"{source.endpoint}: {why}")
                    self.sleep(max(0.0, left))
                    return Ending("timeout", f"no message for {idle:g} s")
            if self.deadline_at is not None:
                left = self.deadline_at - self.clock()
                if left <= delay:
                    self._say(self.env.warn, f"{source.endpoint}: {why}")
                    self.sleep(max(0.0, left))
                    return self._deadline_ending()
            self.state = f"reconnecting in {delay:.1f} s"
            if source.markers:
                self.pipeline.marker(
                    Marker("reconnecting", self.wall(), f"attempt {attempt + 1} in {delay:.1f} s")
                )
            self._say(
                self.env.warn,
                f"{source.endpoint}: {why}; reconnecting in {delay:.1f} s (attempt {attempt + 1})",
            )
            self.sleep(delay)
            try:
                detail = source.connect()
            except CannotConnect as exc:
                if exc.fatal:
                    raise
                why = f"reconnect failed: {exc.cause}"
                attempt += 1
                continue
            self._attempt = attempt + 1
            self._connected(detail, again=True)
            return None

    # stderr: notices, the live counter, the summary.

    def warn(self, message: str) -> None:
        """A warning from the transport (from any thread), kept off the counter line."""
        self._say(self.env.warn, message)

    def _say(self, emit: Callable[[str], None], message: str) -> None:
        with self._stderr_lock:
            self._erase()
            emit(message)
            self._next_draw = 0.0
        self._draw(self.clock())

    def _draw(self, now: float) -> None:
        stream = self.counter
        if stream is None or now < self._next_draw:
            return
        with self._stderr_lock:
            self._draw_locked(now, stream)

    def _draw_locked(self, now: float, stream: TextIO) -> None:
        self._next_draw = now + 0.25
        counts = self.pipeline.counts
        parts = [
            f"\r\x1b[K● {self.state}",
            f"{counts.frames} frames",
            f"{counts.events} events",
        ]
        if counts.unparsed:
            parts.append(f"{counts.unparsed} unparsed")
        if self.reconnects:
            parts.append(f"{self.reconnects} reconnects")
        parts.append(_clock_text(now - self._started))
        if self.capture:
            parts.append(f"→ {self.capture}")
        try:
            stream.write("  ".join(parts))
            stream.flush()
            self._drawn = True
        except (OSError, ValueError):
            self.counter = None

    def _erase(self) -> None:
        # Callers hold _stderr_lock, or run when no other thread can draw.
        if self._drawn and self.counter is not None:
            try:
                self.counter.write("\r\x1b[K")
                self.counter.flush()
            except (OSError, ValueError):
                self.counter = None
            self._drawn = False

    def summary(self) -> str:
        """One line for the end: what was received, and where it went."""
        return summarize(self.pipeline, self.clock() - self._started, self.reconnects, self.capture)


def summarize(pipeline: Pipeline, elapsed: float | None, reconnects: int = 0, capture: str | None = None) -> str:
    """``1200 frames, 1210 events (3 unparsed), 2 reconnects in 0:01:23 → s.capture.ndjson``."""
    counts = pipeline.counts
    text = f"{counts.frames} frame{'s' if counts.frames != 1 else ''}, {counts.events} event{'s' if counts.events != 1 else ''}"
    if counts.unparsed:
        text += f" ({counts.unparsed} unparsed)"
    if pipeline.render is not None and counts.shown != counts.events:
        text += f", {counts.shown} shown"
    if reconnects:
        text += f", {reconnects} reconnect{'s' if reconnects != 1 else ''}"
    if elapsed is not None:
        text += f" in {_clock_text(elapsed)}"
    if capture:
        text += f"; recorded to {capture}"
    return text


def _clock_text(seconds: float) -> str:
    seconds = int(max(0.0, seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
