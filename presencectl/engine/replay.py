"""``replay``: play a capture back into stdout, a WebSocket test server, or a ``--to`` target.

The driver around the pure scheduler in :mod:`presencectl.core.replay`: it
owns the real clock (``time.monotonic`` and a precise sleep), the input files,
the targets, the progress bar and the closing summary.

The ``--serve`` test server is in :mod:`presencectl.engine.replay_server`.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from presencectl.core.decode import Decoder
from presencectl.core.events import Event, Frame, Marker
from presencectl.core.filters import Filter
from presencectl.core.player import Player, TimingStats
from presencectl.core.replay import ReplayOptions, Schedule, Scheduled, Timing, format_offset
from presencectl.engine.signals import Terminated, exception_for
from presencectl.errors import TransportError
from presencectl.transports.files import DEFAULT_MAX_LINE, CaptureReader
from presencectl.transports.targets import Target
from presencectl.ui.console import Environment

__all__ = [
    "RealClock",
    "Interrupted",
    "ReplaySource",
    "Replay",
    "replay_to_target",
    "replay_to_stdout",
]

Record = Frame | Marker

#: The precise sleep wakes this long before a deadline and yields the CPU in a
#: tight loop for the rest: ``time.sleep`` alone overshoots by 50–100 µs or more.
SPIN = 0.001


class Interrupted(Exception):
    """The clock's interrupt event was set while it slept (client gone, server stopping)."""


class RealClock:
    """``time.monotonic`` and a precise sleep.

    Args:
        interrupt: when set, a sleep in progress raises :class:`Interrupted`.
    """

    __slots__ = ("interrupt",)

    def __init__(self, interrupt: threading.Event | None = None) -> None:
        self.interrupt = interrupt

    @staticmethod
    def now() -> float:
        return time.monotonic()

    def sleep_until(self, deadline: float) -> None:
        monotonic = time.monotonic
        interrupt = self.interrupt
        while True:
            remaining = deadline - monotonic()
            if remaining <= 0:
                return
            if remaining > SPIN:
                if interrupt is None:
                    time.sleep(remaining - SPIN)
                elif interrupt.wait(remaining - SPIN):
                    raise Interrupted
            else:
                if interrupt is not None and interrupt.is_set():
                    raise Interrupted
                time.sleep(0)  # yield, then look again


class ReplaySource:
    """A capture (or plain NDJSON file) that can be read from the start again and again.

    Args:
        path: a file, or ``-`` for stdin.
        warn: where trouble in the file is reported (each message once).
        passes: how many times the records will be read (None: any number,
            e.g. one pass per served client). stdin is held in memory then.
        max_line: a longer line is not read (``--max-line``).

    Raises:
        InputNotFound: the file cannot be opened.
        CaptureFormatError: a capture header of an unknown version.
    """

    def __init__(
        self, path: str, warn: Callable[[str], None], passes: int | None = 1, max_line: int = DEFAULT_MAX_LINE
    ) -> None:
        self.path = path
        self.max_line = max_line
        self.name = "stdin" if path == "-" else path
        seen: set[str] = set()

        def warn_once(message: str) -> None:
            if message not in seen:
                seen.add(message)
                warn(message)

        self.warn = warn_once
        self.bad_records = 0
        self._lock = threading.Lock()
        reader = CaptureReader(path, warn_once, max_line)
        self.header = reader.header
        self.is_capture = reader.is_capture
        self._reader: CaptureReader | None = reader
        self._cache: list[Record] | None = None
        if path == "-" and passes != 1:
            self._cache = list(self._read(reader))

    @property
    def origin(self) -> float | None:
        """When the capture started (its header), if known."""
        return self.header.started if self.header is not None else None

    def records(self) -> Iterator[Record]:
        """The records from the start (a new pass each call)."""
        if self._cache is not None:
            return iter(self._cache)
        with self._lock:
            reader, self._reader = self._reader, None
        if reader is None:
            reader = CaptureReader(self.path, self.warn, self.max_line)
        return self._read(reader)

    def _read(self, reader: CaptureReader) -> Iterator[Record]:
        try:
            # Plain NDJSON comes out as Frames the same way for every reader
            # (``transports.files.payload_frames``).
            bad = reader.bad_records
            for record in reader.records():
                if reader.bad_records != bad:
                    bad = reader.bad_records
                    self._bad_line()
                    continue
                yield record
        finally:
            reader.close()

    def _bad_line(self) -> None:
        with self._lock:
            self.bad_records += 1
        self.warn(f"{self.name}: skipped lines that are not capture records (frames or markers)")


@dataclass(slots=True)
class Replay:
    """What to replay and how: the source, the options, the decoder and filter.

    :meth:`schedule` makes a fresh :class:`~presencectl.core.replay.Schedule`
    (one per timeline: a served client, a loop of the shared timeline).
    """

    source: ReplaySource
    options: ReplayOptions
    decoder: Decoder
    filt: Filter | None = None
    warn: Callable[[str], None] = lambda message: None

    @property
    def timing(self) -> Timing:
        if self.options.rate:
            return "rate"
        return "recorded" if self.source.is_capture else "event"

    def schedule(self) -> Schedule:
        decoder = self.decoder

        def decode(frame: Frame) -> list[Event]:
            return decoder.decode_frame(frame)

        return Schedule(
            self.source.records,
            self.options,
            timing=self.timing,
            origin=self.source.origin,
            decode=decode,
            filt=self.filt,
            warn=self.warn,
        )


def limit_frames(items: Iterator[Scheduled], limit: int | None) -> Iterator[Scheduled]:
    """Stop after ``limit`` frames (markers do not count)."""
    if limit is None:
        return items
    return _limited(items, limit)


def _limited(items: Iterator[Scheduled], limit: int) -> Iterator[Scheduled]:
    left = limit
    for item in items:
        yield item
        if type(item.record) is not Marker:
            left -= 1
            if left <= 0:
                return


# -- progress and summary ----------------------------------------------------


class Progress:
    """What the progress bar shows; the rich ``Live`` refresh thread reads it."""

    def __init__(self, env: Environment, title: str, speed: float | None, total: int | None) -> None:
        self.env = env
        self.title = title
        self.speed = speed
        self.total = total
        self.done = 0
        self.sent = 0
        self.offset = 0.0
        self.loop = 1
        self.loops = 1
        self.clients: Callable[[], int] | None = None
        self._live: Any = None

    def __rich__(self) -> Any:
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        grid = Table.grid(padding=(0, 1))
        grid.add_column(max_width=36, no_wrap=True, overflow="ellipsis")
        if self.total:
            grid.add_column(width=24)
        grid.add_column(no_wrap=True, overflow="ellipsis")
        row: list[Any] = [Text(self.title, style="bold", no_wrap=True, overflow="ellipsis")]
        if self.total:
            row.append(ProgressBar(total=self.total, completed=min(self.done, self.total), width=24))
        facts = [f"{self.sent:,} frames"]
        if self.clients is not None:
            clients = self.clients()
            facts.append(f"{clients} client{'' if clients == 1 else 's'}")
        facts.append(f"t+{format_offset(self.offset)}")
        facts.append("max speed" if self.speed is None else f"×{self.speed:g}")
        if self.loops != 1:
            facts.append(f"loop {self.loop}" + (f"/{self.loops}" if self.loops else ""))
        row.append(Text(" · ".join(facts), style="dim"))
        grid.add_row(*row)
        return grid

    def start(self) -> Progress:
        from rich.console import Console
        from rich.live import Live

        console = Console(file=self.env.stderr, stderr=True)
        self._live = Live(self, console=console, refresh_per_second=8, transient=True)
        self._live.start()
        return self

    def stop(self) -> None:
        live, self._live = self._live, None
        if live is not None:
            live.stop()


def _count_in_background(view: Progress, path: str) -> None:
    """Fill in the bar's total (the records in the file) without delaying the start."""

    def count() -> None:
        lines = _count_lines(path)
        if lines:
            view.total = max(1, lines - 1)  # the header is not a record

    threading.Thread(target=count, name="count-lines", daemon=True).start()


def _count_lines(path: str) -> int | None:
    """Lines in a file (for the progress bar's total); None for stdin."""
    if path == "-":
        return None
    from presencectl.transports.files import open_input

    try:
        stream = open_input(path)
        try:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: stream.read(1 << 20), b""))
        finally:
            stream.close()
    except Exception:
        return None


@dataclass(slots=True)
class Summary:
    """What a replay did, for the one-line report on stderr."""

    frames: int = 0
    elapsed: float = 0.0
    loops: int = 0
    timing: TimingStats | None = None
    filtered: int = 0
    outside: int = 0
    backwards: int = 0
    extra: list[str] | None = None
    interrupted: bool = False

    def line(self, where: str, speed: float | None, verb: str | None = None) -> str:
        """The summary: what was sent where, how fast or how accurately, what was left out."""
        if verb is None:
            verb = "interrupted after" if self.interrupted else "replayed"
        parts = [f"{verb} {plural(self.frames, 'frame')} to {where} in {self.elapsed:.2f} s"]
        if self.loops > 1:
            parts[0] += f" ({self.loops} loops)"
        if speed is None and self.elapsed > 0 and self.frames and verb != "served":
            parts.append(f"{self.frames / self.elapsed:,.0f} frames/s")
        elif self.timing is not None and self.timing.count:
            parts.append(self.timing.describe())
        if self.filtered:
            parts.append(f"{plural(self.filtered, 'frame')} left out by filters")
        if self.outside:
            parts.append(f"{plural(self.outside, 'record')} outside --from/--until")
        if self.backwards:
            parts.append(f"{plural(self.backwards, 'record')} out of time order")
        parts.extend(self.extra or ())
        return "; ".join(parts)


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _summarise(schedule: Schedule, player: Player, elapsed: float) -> Summary:
    return Summary(
        frames=0,
        elapsed=elapsed,
        loops=schedule.loops_done,
        timing=player.stats,
        filtered=schedule.filtered,
        outside=schedule.outside,
        backwards=schedule.backwards,
    )


# -- one timeline into one target ---------------------------------------------


class _CtrlC:
    """Ctrl-C (or SIGTERM) between frames, so the summary counts exactly what went out.

    While installed, SIGINT/SIGTERM interrupts a sleep at once; during a
    delivery it is noted and acted on right after (a second one does not
    wait). It raises KeyboardInterrupt or Terminated
    (:func:`~presencectl.engine.signals.exception_for`): exit 130 or 143.
    """

    def __init__(self) -> None:
        self.pressed = False
        self.sleeping = False
        self.signum = signal.SIGINT
        self._previous: dict[int, Any] = {}

    def _handler(self, signum: int, frame: Any) -> None:
        already = self.pressed
        if not already:
            self.signum = signum
        self.pressed = True
        if self.sleeping or already:
            raise exception_for(self.signum)

    def stop_if_pressed(self) -> None:
        """Raise the noted signal's exception (a delivery just ended)."""
        if self.pressed:
            raise exception_for(self.signum)

    def clock(self, clock: RealClock) -> Any:
        guard = self

        class _Clock:
            now = staticmethod(clock.now)

            @staticmethod
            def sleep_until(deadline: float) -> None:
                guard.sleeping = True
                try:
                    guard.stop_if_pressed()
                    clock.sleep_until(deadline)
                finally:
                    guard.sleeping = False

        return _Clock()

    def __enter__(self) -> _CtrlC:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                if signal.getsignal(signum) is not signal.SIG_IGN:  # (nohup, `cmd &`: stays ignored)
                    self._previous[signum] = signal.signal(signum, self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()


def _play(
    env: Environment,
    replay: Replay,
    deliver: Callable[[Scheduled], bool],
    where: str,
    progress: bool,
    limit: int | None,
    finish: Callable[[], list[str]],
    done: tuple[type[BaseException], ...] = (),
    idle: Callable[[], object] | None = None,
) -> None:
    """Run one timeline through ``deliver`` (True = a frame went out); summary at the end.

    ``done`` lists exceptions from ``deliver`` that mean "stop here, all is well" (``-n``).
    """
    schedule = replay.schedule()
    ctrl_c = _CtrlC()
    player = Player(limit_frames(iter(schedule), limit), ctrl_c.clock(RealClock()))
    player.idle = idle
    view = None
    if progress:
        from pathlib import Path

        title = f"{Path(replay.source.name).name} → {where}"
        view = Progress(env, title, replay.options.speed, None)
        view.loops = replay.options.loops
        view.start()
        _count_in_background(view, replay.source.path)
    sent = 0

    def step(item: Scheduled) -> None:
        nonlocal sent
        try:
            went = deliver(item)
        except done:
            sent += 1  # e.g. -n: this frame was shown, then the limit hit
            raise
        if went:
            sent += 1
        if view is not None:
            view.sent = sent
            view.offset = item.offset
            if item.loop != view.loop:
                view.loop = item.loop
                view.done = 0
            view.done += 1
        ctrl_c.stop_if_pressed()

    started = time.monotonic()
    interrupted: BaseException | None = None
    try:
        with ctrl_c:
            player.run(step)
    except (KeyboardInterrupt, Terminated) as exc:
        interrupted = exc
    except done:
        pass
    except BaseException:
        # A failure (target gone, bad input): its own message says what
        # happened; just let go of the target quietly.
        if view is not None:
            view.stop()
        try:
            finish()
        except Exception:
            pass
        raise
    if view is not None:
        view.stop()
    summary = _summarise(schedule, player, time.monotonic() - started)
    summary.frames = sent
    summary.interrupted = interrupted is not None
    try:
        summary.extra = finish()
    finally:
        env.note(summary.line(where, replay.options.speed))
    if interrupted is not None:
        raise interrupted


def replay_to_target(
    env: Environment, replay: Replay, target: Target, *, progress: bool, limit: int | None = None
) -> Target:
    """``--to URL``: open the target, replay into it, close it, print the summary.

    Raises:
        TransportError: the target cannot be reached or went away, or
            answered any frame with a refusal (HTTP non-2xx): exit 1.
    """
    target.open()
    send = target.send
    marker = target.marker

    def deliver(item: Scheduled) -> bool:
        record = item.record
        if type(record) is not Marker:
            send(record)
            return True
        marker(record)  # type: ignore[arg-type]
        return False

    def finish() -> list[str]:
        target.close()
        return target.report()

    _play(env, replay, deliver, target.description, progress, limit, finish, idle=getattr(target, "flush", None))
    failed = getattr(target, "failed", 0)
    if failed:
        sent = getattr(target, "sent", None)
        of = f" of {sent}" if sent is not None else ""
        raise TransportError(f"{target.description}: {failed}{of} frames were not accepted (see the summary above)")
    return target


def replay_to_stdout(env: Environment, replay: Replay, pipeline: Any, *, progress: bool) -> None:
    """The default target: render the events with ``pipeline`` (``cat``'s renderer and filters)."""
    from presencectl.engine.runner import LimitReached

    counts = pipeline.counts

    def deliver(item: Scheduled) -> bool:
        record = item.record
        if type(record) is not Marker:
            pipeline.frame(record, item.events)  # events: decoded already by the schedule's filter
            return True
        pipeline.marker(record)
        return False

    def finish() -> list[str]:
        pipeline.close()
        if counts.unparsed:
            return [f"{counts.unparsed} of {counts.events} payloads could not be parsed"]
        return []

    _play(env, replay, deliver, "stdout", progress, None, finish, (LimitReached,))
